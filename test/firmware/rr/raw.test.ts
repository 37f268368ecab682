// Tests for firmware/rr/raw.ts (RR_RAW) and rrServerWith: the small encoder writes cborEncode's bytes
// for every value it takes and refuses the rest; arguments pass through an echo server unchanged
// (a default-codec client gets back the value it sent); malformed arguments earn the same BAD_ARGS
// reply, byte for byte, as from a server with the default codec; and, on the Espruino interpreter
// (ESPRUINO), the codec minified as a board bundle is gives the bytes and codes it gives under Node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { CBOR_NO_ROOM, CBOR_UNSUPPORTED, cborEncode, cborState } from '../../../firmware/codec/cbor.ts';
import { CborRaw, RR_RAW } from '../../../firmware/rr/raw.ts';
import { RR_DEFAULTS, RR_E_BAD_ARGS, RR_E_HANDLER, RR_OK, rr, rrServer, rrServerWith } from '../../../firmware/rr/rr.ts';
import type { RrServer } from '../../../firmware/rr/rr.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { minify } from 'terser';
import { findEspruino, NO_ESPRUINO } from '../../../host/sim/espruino-linux.ts';
import { terserOptions } from '../../../rollup.config.js';

const hex = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString('hex');

// The values the small encoder takes: integers in [-2^32, 2^32), ASCII text, booleans, null, arrays and plain objects.
const scalar = fc.oneof(
  fc.integer({ min: -0x100000000, max: 0xffffffff }), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, -24, -25, -257, 0xffffffff, -0x100000000),
  fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 30 }), fc.boolean(), fc.constant(null),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string({ unit: 'grapheme-ascii', maxLength: 6 }), tie('v'), { maxKeys: 5 })),
})).v;

test('property: the small encoder writes cborEncode\'s bytes for every value it takes', () => {
  const a = new Uint8Array(4096);
  const b = new Uint8Array(4096);
  fc.assert(fc.property(value, fc.integer({ min: 0, max: 9 }), (v, off) => {
    const n = RR_RAW.encode(v, a, off);
    const m = cborEncode(v, b, off);
    assert.ok(n > 0, `refused ${JSON.stringify(v)}`);
    assert.is(n, m);
    assert.is(hex(a.subarray(off), n - off), hex(b.subarray(off), m - off));
  }), { seed: 3, numRuns: 2000 });
});

test('the small encoder refuses floats, other text, byte strings and class instances; a full buffer is NO_ROOM', () => {
  const out = new Uint8Array(64);
  for (const v of [1.5, 0x100000000, -0x100000001, NaN, 'é', { k: 'ü' }, [0.1], new Uint8Array(2), new Date(0), undefined, () => 1, { a: [new CborRaw(new Uint8Array([1]))] }]) {
    assert.is(RR_RAW.encode(v, out, 0), -CBOR_UNSUPPORTED, String(v));
  }
  assert.is(RR_RAW.encode({ t: 245, mv: 3300, f: 4000 }, new Uint8Array(12), 0), -CBOR_NO_ROOM);
  assert.is(RR_RAW.encode('abcd', new Uint8Array(4), 0), -CBOR_NO_ROOM);
  assert.is(RR_RAW.encode(new CborRaw(new Uint8Array([0x83, 1, 2, 3])), new Uint8Array(5), 2), -CBOR_NO_ROOM);
  assert.is(RR_RAW.encode(new CborRaw(new Uint8Array([0x83, 1, 2, 3])), out, 2), 6);
  assert.is(hex(out.subarray(2), 4), '83010203');
});

test('decode: the item\'s bytes, copied; what cborDecode refuses is refused with its code', () => {
  const st = cborState(8, 64);
  const buf = new Uint8Array([0xff, 0x82, 0x01, 0x61, 0x78, 0xee]);
  const v = RR_RAW.decode(buf, 1, 5, st) as CborRaw;
  assert.ok(v instanceof CborRaw);
  assert.is(hex(v.b, v.b.length), '82016178');
  buf[2] = 9;
  assert.is(v.b[1], 1, 'a copy, not a view');
  assert.is(RR_RAW.decode(new Uint8Array([0x62, 0xc3, 0x28]), 0, 3, st), undefined, 'invalid UTF-8');
  assert.is(st.err, 2);
  assert.is(RR_RAW.decode(new Uint8Array([0x01, 0x02]), 0, 2, st), undefined, 'trailing');
  assert.is(st.err, 6);
});

/** A client with the default codec (address 1), and a server (address 2) made by `make`, serving echo (op 2) and a reading (op 1). */
function pair(make: (o: Parameters<typeof rrServer>[0]) => RrServer) {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64, propagationUs: 1 });
  const rng = xoshiro(5);
  const cm = rawMac(m.station().link, 1, 8);
  const sm = rawMac(m.station().link, 2, 8);
  const client = rr({ mac: cm, clock: s, rng, config: RR_DEFAULTS });
  const server = make({ mac: sm, clock: s, rng, config: RR_DEFAULTS });
  server.register(2, (args, req) => server.reply(req, RR_OK, args));
  server.register(1, (_a, req) => server.reply(req, RR_OK, { t: -12, mv: 3300, f: 70000 }), true);
  server.register(3, (_a, req) => server.reply(req, RR_OK, 2.5));
  return { s, m, client, server };
}

test('an RR_RAW echo server answers a default-codec client with the values it sent, as the CBOR server does', () => {
  const sent: unknown[] = [[7, 'x', 300], { s: 'héllo', n: [1, 2.5, -3], b: new Uint8Array([0, 255]) }, -1e10, true, null, 'ok'];
  const results: unknown[][] = [];
  for (const make of [rrServer, (o: Parameters<typeof rrServer>[0]) => rrServerWith(o, RR_RAW)]) {
    const p = pair(make);
    const got: unknown[] = [];
    sent.forEach((v, i) => p.s.at(i * 10_000, () => p.client.call(2, 2, v, null, (e, r) => got.push([e, r]))));
    p.s.at(100_000, () => p.client.call(2, 1, undefined, null, (e, r) => got.push([e, r])));
    p.s.at(110_000, () => p.client.call(2, 3, undefined, null, (e, r) => got.push([e, r])));
    p.s.runAll();
    results.push(got);
  }
  assert.equal(results[0].slice(0, 7), [...sent.map((v) => [RR_OK, v]), [RR_OK, { t: -12, mv: 3300, f: 70000 }]]);
  assert.equal(results[1].slice(0, 7), results[0].slice(0, 7));
  assert.equal(results[0][7], [RR_OK, 2.5]);
  assert.equal(results[1][7], [RR_E_HANDLER, undefined], 'a float result is outside RR_RAW: a handler failure');
});

test('malformed arguments: the same BAD_ARGS bytes from an RR_RAW server as from a CBOR one', () => {
  const out: string[][] = [];
  for (const make of [rrServer, (o: Parameters<typeof rrServer>[0]) => rrServerWith(o, RR_RAW)]) {
    const p = pair(make);
    const m3 = rawMac(p.m.station().link, 3);
    const replies: string[] = [];
    m3.onReceive((b, len) => replies.push(hex(b, len)));
    const bodies = [[0xa1, 0x61], [0x62, 0xc3, 0x28], [0xc1, 0x00], [0x01, 0x02], [0xa1, 0x01, 0x02], [0x82, 0x01, 0x61, 0x41]];
    bodies.forEach((b, i) => p.s.at(i * 10_000, () => m3.send(2, new Uint8Array([0x24, 0x00, i + 1, 0x02, 0x00, 0x00, 0x00, 0x00, ...b]), 8 + b.length)));
    p.s.runAll();
    out.push(replies);
  }
  assert.is(out[0].length, 6);
  assert.equal(out[0].slice(0, 5).map((r) => r.slice(6)), Array(5).fill('0' + RR_E_BAD_ARGS), 'the first five are malformed');
  assert.is(out[0][5], '250006' + '00' + '82016141', 'the last one is echoed');
  assert.equal(out[1], out[0]);
});

// Items (hex) decoded, each answer re-encoded; then results encoded (JSON: what JSON can say).
const RAW_INPUTS = ['82016178', 'a3617418f4626d761901f46166190fa0', 'f97e00', '6548656c6c6f', 'a1', '62c328', 'c100', '0102', '9f', 'fb3ff8000000000000'];
const RAW_RESULTS = ['{"t":-12,"mv":3300,"f":70000}', '[1,[2,[3]],"x",true,false,null]', '-4294967296', '4294967295', '"é"', '1.5', '{"a":{"b":{"c":1}}}'];
/** On one side: each input's decode error and re-encoded bytes, each result's encoding; one line of JSON. */
function rawRun(codec: typeof RR_RAW, st: ReturnType<typeof cborState>, fromHex: (h: string) => Uint8Array, toHex: (b: Uint8Array, n: number) => string): string {
  const out: unknown[] = [];
  const buf = new Uint8Array(64);
  for (const h of RAW_INPUTS) {
    const b = fromHex(h);
    const v = codec.decode(b, 0, b.length, st);
    const n = v === undefined ? -1 : codec.encode(v, buf, 1);
    out.push([st.err, n < 0 ? n : toHex(buf.subarray(1), n - 1)]);
  }
  for (const j of RAW_RESULTS) {
    const n = codec.encode(JSON.parse(j), buf, 0);
    out.push(n < 0 ? n : toHex(buf, n));
  }
  return JSON.stringify(out);
}
const espruino = findEspruino();
if (!espruino) console.log(`skipping "RR_RAW on Espruino": ${NO_ESPRUINO}`);
(espruino ? test : test.skip)('RR_RAW on the Espruino interpreter, minified as a bundle is: the same codes and bytes as under Node', async () => {
  const hexNode = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString('hex');
  const fromHexNode = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
  const want = rawRun(RR_RAW, cborState(8, 64), fromHexNode, hexNode);
  const here = import.meta.dirname;
  const mod = (m: string): string => JSON.stringify(resolve(here, m));
  const entry = [
    `import { RR_RAW } from ${mod('../../../firmware/rr/raw.ts')};`,
    `import { cborState } from ${mod('../../../firmware/codec/cbor.ts')};`,
    `const RAW_INPUTS = ${JSON.stringify(RAW_INPUTS)};`,
    `const RAW_RESULTS = ${JSON.stringify(RAW_RESULTS)};`,
    `const fromHex = function (h) { const b = new Uint8Array(h.length / 2); for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16); return b; };`,
    `const toHex = function (b, n) { let s = ''; for (let i = 0; i < n; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16); return s; };`,
    `${rawRun.toString()}`,
    `print('RESULT ' + rawRun(RR_RAW, cborState(8, 64), fromHex, toHex));`,
  ].join('\n');
  const b = await build({ stdin: { contents: entry, loader: 'ts', resolveDir: here }, bundle: true, format: 'iife', target: 'es2017', write: false });
  const code = (await minify(b.outputFiles[0].text, terserOptions(true))).code ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'picolink-raw-'));
  try {
    writeFileSync(join(dir, 'raw.js'), code + '\nquit();\n');
    const run = spawnSync(espruino as string, [join(dir, 'raw.js')], { input: '', timeout: 20_000, encoding: 'latin1' });
    const line = run.stdout.split('\n').find((l) => l.includes('RESULT '));
    assert.ok(line, `no result from Espruino:\n${run.stdout.slice(-2000)}\n${run.stderr}`);
    assert.is(line.slice(line.indexOf('RESULT ') + 7).trim(), want);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

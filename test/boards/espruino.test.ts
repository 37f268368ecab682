// Runs the minified simulator-board bundle on a real Espruino interpreter (the Linux build), when one
// is available, and checks that it emits byte for byte the frames Node emits from the same bundle:
// the telemetry header and the CBOR readings (integers, floats, strings, nesting) under Espruino's own
// numbers and strings. Set ESPRUINO (or PICOLINK_ESPRUINO) to the interpreter's path, or put `espruino` on PATH.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { rollup } from 'rollup';
import { findEspruino } from '../../host/sim/espruino-linux.ts';
import { boardConfig } from '../../rollup.config.js';

const root = resolve(import.meta.dirname, '../..');


// Shared by both harnesses (plain JavaScript for Espruino): a virtual clock over a list of timers, a
// frame log with hex, a xorshift32 generator, and the loop that runs timers in (time, order) order.
const prelude = `var frames = [];
var now = 0, seq = 0, timers = [];
var clock = {
  now: function () { return now; },
  at: function (t, fn) { var h = { t: t < now ? now : t, s: seq++, fn: fn }; timers.push(h); return h; },
  cancel: function (h) { if (h) h.fn = null; }
};
function hex(f, len) { var s = ''; for (var i = 0; i < len; i++) s += (f[i] < 16 ? '0' : '') + f[i].toString(16); return s; }
var x = 2463534242;
var rng = { u32: function () { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x = x >>> 0; return x; } };
`;

const runUntil = (limitUs: number): string => `while (timers.length > 0 && now <= ${limitUs}) {
  var best = -1;
  for (var i = 0; i < timers.length; i++) {
    var h = timers[i];
    if (best < 0 || h.t < timers[best].t || (h.t === timers[best].t && h.s < timers[best].s)) best = i;
  }
  var ev = timers.splice(best, 1)[0];
  now = ev.t;
  if (ev.fn) ev.fn();
}
`;

// Plain JavaScript that Espruino runs after the bundle: a virtual clock (a sorted array of timers), a
// link that records frames (and is on the air for a while), a xorshift32 generator, and a sensor
// created from the bundle: telemetry, CBOR and the CSMA/CA MAC (polled carrier sense) all run.
// Floats in the readings come from exact literals or arithmetic: Espruino 2v29 reads some decimal
// literals one ulp away from Node (3.14159 gives 0x400921f9f01b866f there, ...866e in Node), which is
// the interpreter's number parser, not the CBOR encoder.
const harness = `
${prelude}var sentFn = null, onAir = false;
function airDone() { onAir = false; if (sentFn) sentFn(0); }
var link = {
  caps: { mtu: 128, bitrate: 250000, medium: 'radio', carrierSense: true, broadcast: true },
  send: function (f, len) { if (onAir) return false; onAir = true; frames.push(hex(f, len)); clock.at(now + 100 + 32 * len, airDone); return true; },
  onReceive: function () {}, onSent: function (fn) { sentFn = fn; },
  // Busy 300 µs of every millisecond after each fourth frame, so carrier sense defers: a window, not
  // a residue of the time ("now % 3 === 0" lined up with every slot boundary and held the medium busy).
  busy: function () { return onAir || (frames.length % 5 === 4 && now % 1000 < 300); }
};
var k = 0;
var readings = [
  function () { return { t: 21.5, h: 48, mv: 2950 }; },
  function () { return { n: k, neg: -k * 1000, big: 4294967296 + k, f: 0.1 * k, s: 'temp' + k, ok: k % 2 === 0, nil: null }; },
  function () { return { list: [1, [2, 3], { a: 'b' }], bytes: new Uint8Array([0, 255, k & 255]), pi: Math.PI }; },
  function () { return { u: '\\u00e9\\u20ac', e: -0.5, z: 0 }; }
];
var dev = picolink.create({ role: 'sensor', id: 513, radio: link, clock: clock, rng: rng, periodUs: 100000, sink: 0xffff,
  read: function () { var r = readings[k % readings.length](); k++; return r; } });
${runUntil(2000000)}print('FRAMES ' + JSON.stringify(frames));
print('STATS ' + JSON.stringify([dev.telemetry.stats, dev.mac.stats]));
`;

async function simBundle(): Promise<string> {
  const cfg = await boardConfig(resolve(root, 'boards/sim.ts'));
  const b = await rollup({ ...cfg, output: undefined });
  try {
    return (await b.generate(cfg.output)).output[0].code;
  } finally {
    await b.close();
  }
}

function parse(out: string): { frames: string[]; stats: unknown } {
  const f = /FRAMES (.*)/.exec(out);
  const s = /STATS (.*)/.exec(out);
  if (!f || !s) throw new Error(`no result in output:\n${out.slice(-2000)}`);
  return { frames: JSON.parse(f[1]), stats: JSON.parse(s[1]) };
}

/** Run the sim bundle plus `harness` on Espruino and in Node; null (after a skip message) without Espruino. */
async function onBoth(harness: string, what: string): Promise<{ onEspruino: ReturnType<typeof parse>; onNode: ReturnType<typeof parse> } | null> {
  const espruino = findEspruino();
  if (!espruino) {
    console.log(`  skip: no Espruino interpreter (set ESPRUINO=/path/to/espruino, the Linux build); ${what} not run on Espruino`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'picolink-esp-'));
  const file = join(dir, 'run.js');
  writeFileSync(file, (await simBundle()) + '\n' + harness);
  const r = spawnSync(espruino, [file], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `espruino exited ${r.status}: ${r.stdout.slice(-1500)}`);
  assert.not.match(r.stdout, /Uncaught/, r.stdout.slice(-1500));
  const logs: string[] = [];
  new Function('print', readFileSync(file, 'utf8'))((line: string) => logs.push(line));
  return { onEspruino: parse(r.stdout), onNode: parse(logs.join('\n')) };
}

test('the sim bundle emits the same frames on Espruino as on Node', async () => {
  const both = await onBoth(harness, 'the bundle');
  if (!both) return;
  const { onEspruino, onNode } = both;
  assert.ok(onNode.frames.length >= 15, `node sent ${onNode.frames.length} frames`);
  assert.is((onNode.stats as { encodeErrors: number }[])[0].encodeErrors, 0);
  assert.equal(onEspruino.stats, onNode.stats);
  assert.equal(onEspruino.frames, onNode.frames);
});


// A hub (piconet master relaying into CSMA/CA) and a wearable (piconet slave) from the bundle, on a
// two-station medium written here: a frame takes 72 + 8·len µs at 1 Mbit/s and reaches the other side
// at its end. The hub's CSMA/CA side goes to a recording link. Paging, polling, ARQ, the relay and the
// CSMA/CA MAC all run on the interpreter.
const piconetHarness = `
${prelude}function station() {
  return { rx: null, sent: null, txEnd: -1, rxEnd: -1, peer: null, info: { timeUs: 0, rssi: 0 } };
}
function deliver(st, buf, len) {
  return function () { st.peer.rxEnd = -1; if (st.peer.rx) { st.peer.info.timeUs = now; st.peer.rx(buf, len, st.peer.info); } };
}
function doneTx(st) { return function () { st.txEnd = -1; if (st.sent) st.sent(0); }; }
function linkOf(st) {
  return {
    caps: { mtu: 400, bitrate: 1000000, medium: 'radio', carrierSense: true, broadcast: true },
    send: function (f, len) {
      if (st.txEnd > now) return false;
      var d = 72 + 8 * len;
      st.txEnd = now + d;
      st.peer.rxEnd = now + d;
      clock.at(now + d, deliver(st, f.slice(0, len), len));
      clock.at(now + d, doneTx(st));
      return true;
    },
    onReceive: function (fn) { st.rx = fn; }, onSent: function (fn) { st.sent = fn; },
    busy: function () { return st.txEnd > now || st.rxEnd > now; }
  };
}
var a = station(), b = station();
a.peer = b; b.peer = a;
var csmaSent = null, csmaBusy = false;
function csmaDone() { csmaBusy = false; if (csmaSent) csmaSent(0); }
var csmaLink = {
  caps: { mtu: 32, bitrate: 250000, medium: 'radio', carrierSense: true, broadcast: true },
  send: function (f, len) { if (csmaBusy) return false; csmaBusy = true; frames.push(hex(f, len)); clock.at(now + 73 + 32 * len, csmaDone); return true; },
  onReceive: function () {}, onSent: function (fn) { csmaSent = fn; }, busy: function () { return csmaBusy; }
};
var steps = 0;
var hub = picolink.create({ role: 'hub', id: 40, radio: csmaLink, radio2: linkOf(a), peers: [41], clock: clock, rng: rng, sink: 0 });
var wear = picolink.create({ role: 'wearable', id: 41, radio: linkOf(b), clock: clock, rng: rng, periodUs: 50000,
  read: function () { steps += 7; return { hr: 60 + (steps % 30), steps: steps, f: steps / 4 }; } });
${runUntil(600000)}print('FRAMES ' + JSON.stringify(frames));
print('STATS ' + JSON.stringify([hub.piconet.slaves().length, wear.telemetry.stats, wear.piconet.stats, hub.mac.stats]));
`;

test('a piconet hub and wearable from the sim bundle behave the same on Espruino as on Node', async () => {
  const both = await onBoth(piconetHarness, 'the piconet');
  if (!both) return;
  const { onEspruino, onNode } = both;
  const st = onNode.stats as [number, { sent: number }, unknown, unknown];
  assert.is(st[0], 1, 'the wearable was paged in');
  assert.ok(onNode.frames.length >= 10, `the hub relayed ${onNode.frames.length} readings`);
  assert.equal(onEspruino.stats, onNode.stats);
  assert.equal(onEspruino.frames, onNode.frames);
});


test.run();

// `picolink hil` (host/cli/hil.ts, host/hil/hil.ts): the default map (a virtual board on a socat
// pseudo-terminal, flashed with the gateway bundle through its Espruino console, and the simulator) passes,
// group and conversation scenarios included, with its JUnit XML, JSON and
// per-step logs written; a board on a port where no gateway answers fails its connect step with the
// reason, in the reports and in the exit code; a wrong map is a usage error naming the field, and so is
// an --out directory that cannot be created. Without
// socat the virtual board is left out of the map, with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../../host/cli/main.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import { checkMap } from '../../../host/hil/hil.ts';

const root = resolve(import.meta.dirname, '../../..');
const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; the hil test runs the simulator target only (install socat for the virtual board)');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

test('hil on the default map: every step passes or is skipped with its reason; reports written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-hil-'));
  let map = join(root, 'hil/default.json');
  if (!SOCAT) {
    map = join(dir, 'map.json');
    writeFileSync(map, JSON.stringify({ targets: checkMap(JSON.parse(readFileSync(join(root, 'hil/default.json'), 'utf8'))).targets.filter((t) => !t.virtual) }));
  }
  const out = join(dir, 'reports');
  const r = await cli('hil', '--map', map, '--out', out);
  assert.is(r.code, 0, r.out + r.err);
  const j = JSON.parse(readFileSync(join(out, 'hil.json'), 'utf8'));
  const steps = (name: string): Record<string, string> => Object.fromEntries(j.targets.find((t: { target: string }) => t.target === name).steps.map((s: { name: string; status: string }) => [s.name, s.status]));
  assert.equal(steps('simulator'), { build: 'passed', flash: 'skipped', connect: 'passed', ping: 'passed', 'rr-loss': 'passed', group: 'passed', conversation: 'passed', reset: 'skipped' });
  if (SOCAT) {
    assert.equal(steps('virtual-gateway'), { build: 'passed', flash: 'passed', connect: 'passed', ping: 'passed', 'rr-loss': 'passed', group: 'passed', conversation: 'passed', reset: 'passed' });
    const flashed = readFileSync(join(out, 'virtual-gateway.flash.log'), 'utf8');
    assert.match(flashed, /flashed \d+ B to \.bootcde by packet .*verified by crc32/);
    assert.match(readFileSync(join(out, 'virtual-gateway.build.log'), 'utf8'), /sim-gateway\.js[\s\S]*sim-sensor\.js/, 'the gateway\'s bundle and its sensors\'');
    assert.match(flashed, /virtual gateway: address 1/, 'load() started the flashed bundle');
    assert.match(readFileSync(join(out, 'virtual-gateway.reset.log'), 'utf8'), /started \.bootcde from/, 'after the power cycle the board booted what was flashed');
  }
  assert.is(j.failed, 0);
  const xml = readFileSync(join(out, 'hil.junit.xml'), 'utf8');
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="picolink hil" tests="\d+" failures="0" skipped="\d+">/);
  assert.is((xml.match(/<testcase /g) ?? []).length, SOCAT ? 16 : 8);
  assert.is((xml.match(/<skipped message="[^"]+"\/>/g) ?? []).length, j.skipped);
  const group = readFileSync(join(out, 'simulator.group.log'), 'utf8');
  assert.match(group, /sensor 2 \(member\): counter \+2\nsensor 3 \(not a member\): counter \+1\nsensor 4 \(member\): counter \+2/);
  const conv = readFileSync(join(out, 'simulator.conversation.log'), 'utf8');
  const sums = [...conv.matchAll(/checksum of the first (\d+): (-?\d+)/g)].map((m) => m[1] + ':' + m[2]);
  assert.is(sums.length, 4, 'the host and three sensors');
  assert.is(new Set(sums).size, 1, 'one sequence committed everywhere');
  const loss = readFileSync(join(out, 'simulator.rr-loss.log'), 'utf8');
  assert.match(loss, /20 calls to \d+, counter 1\.\.20; [1-9]\d* frames from the gateway dropped/);
  assert.match(r.out, new RegExp(`hil: ${j.passed} passed, 0 failed, ${j.skipped} skipped`));
});

(SOCAT ? test : test.skip)('hil: a board where no gateway answers fails its connect step, with the reason', async () => {
  const pty = await ptyPair();
  const dir = mkdtempSync(join(tmpdir(), 'picolink-hil-'));
  try {
    const map = join(dir, 'lab.json');
    writeFileSync(map, JSON.stringify({ targets: [{ name: 'bench-board', board: 'sim', port: pty.b }] }));
    const r = await cli('hil', '--map', map, '--out', join(dir, 'r'), '--no-flash');
    assert.is(r.code, 1);
    assert.match(r.out, /bench-board connect: failed \(no picolink gateway answered on \/dev\/pts\/\d+ within 5000 ms/);
    assert.match(r.out, /bench-board flash: skipped \(not asked for/);
    assert.match(r.out, /bench-board ping: skipped \(not connected\)/);
    const xml = readFileSync(join(dir, 'r/hil.junit.xml'), 'utf8');
    assert.match(xml, /<testcase classname="hil\.bench-board" name="connect" time="[\d.]+">\n {6}<failure message="no picolink gateway answered/);
    assert.ok(existsSync(join(dir, 'r/bench-board.connect.log')));
  } finally {
    await pty.close();
  }
});

test('hil: a map that is wrong says which field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-hil-'));
  const bad = (v: unknown): string => {
    const f = join(dir, `m${Math.random()}.json`);
    writeFileSync(f, typeof v === 'string' ? v : JSON.stringify(v));
    return f;
  };
  for (const [map, msg] of [
    ['{', /JSON.*hil\/default\.json is one to start from/],
    [{}, /"targets"/],
    [{ targets: [{ name: 'a', board: 'no-such-board', virtual: true }] }, /targets\[0\] \(a\): "board" must be one of [\w, -]*\bpico\b[\w, -]*\bsim\b/],
    [{ targets: [{ name: 'a', board: 'sim' }] }, /give exactly one of "port"/],
    [{ targets: [{ name: 'a', board: 'sim', simulator: true }, { name: 'a', board: 'sim', simulator: true }] }, /the name a is used twice/],
  ] as [unknown, RegExp][]) {
    const r = await cli('hil', '--map', bad(map));
    assert.is(r.code, 2, JSON.stringify(map));
    assert.match(r.err, msg);
  }
  const none = await cli('hil', '--map', join(dir, 'nope.json'));
  assert.is(none.code, 2);
  assert.match(none.err, /ENOENT|no such file/);
  // A report directory that cannot be made (under a file): a usage error before anything runs.
  const file = bad({ targets: [{ name: 'a', board: 'sim', simulator: true }] });
  const out = await cli('hil', '--map', join(root, 'hil/default.json'), '--out', join(file, 'x'));
  assert.is(out.code, 2, out.err);
  assert.match(out.err, /cannot write reports to .*m[\d.]+\.json\/x \(ENOTDIR\): give a directory that exists or can be created/);
  assert.not.match(out.err, /\n\s+at /, 'no stack trace');
  assert.is(out.out, '', 'nothing ran');
});

test.run();

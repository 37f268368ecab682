// The BLE advertising link (hal/espruino/ble.ts) against a fake of the two NRF functions it calls
// (nrf-fake.ts: Espruino's setAdvertising and setScan, with an air that hands each advertising event
// to the other stations' scan callbacks): the advertisement's bytes, written out here from the
// Bluetooth assigned numbers (AD type 0xFF, company 0x0590 little-endian) and the driver's header
// (0xA0 | seq), not taken from the driver's constants; the frame and idle options; the scan filter;
// duplicates of one transmission dropped; onSent once per frame and never inside send; busy() only
// during our own window; frames over 26 bytes refused; foreign advertisements ignored; loss; close().
// Mutation check: the driver's source with its AD type or company id changed is loaded and the golden
// check must fail against it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { build } from 'esbuild';
import fc from 'fast-check';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { checkEspruino } from '../../../host/build/espruino-check.ts';
import { bleLink, findBleFrame } from '../../../hal/espruino/ble.ts';
import type { BleLink, BleOptions } from '../../../hal/espruino/ble.ts';
import { bleAir, FakeNrf } from './nrf-fake.ts';
import type { BleAir } from './nrf-fake.ts';

type BleFactory = (o: BleOptions) => BleLink;

function station(a: BleAir, addr: string, o: Partial<BleOptions> = {}, make: BleFactory = bleLink, rssi = -60): { nrf: FakeNrf; link: BleLink } {
  const nrf = new FakeNrf(a, addr, rssi);
  return { nrf, link: make({ ...o, nrf, clock: a.sched }) };
}

const A_ADDR = 'c0:11:22:33:44:01 random';
const B_ADDR = 'c0:11:22:33:44:02 random';

/** What the golden check finds wrong with a driver, as a list of messages (empty: all as specified). */
function goldenProblems(make: BleFactory): string[] {
  const out: string[] = [];
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR, {}, make);
  const B = station(a, B_ADDR, {}, make);
  const got: number[][] = [];
  B.link.onReceive((f, len) => got.push(Array.from(f.subarray(0, len))));
  if (!A.link.send(Uint8Array.of(0x11, 0x22, 0x33), 3)) out.push('send refused');
  const call = A.nrf.advCalls[A.nrf.advCalls.length - 1];
  // AD length 7 = type + company (2) + header + 3 bytes; 0xFF manufacturer specific data; 0x0590 LE; 0xA0 | seq 0.
  const want = [0x07, 0xff, 0x90, 0x05, 0xa0, 0x11, 0x22, 0x33];
  if (JSON.stringify(call.data) !== JSON.stringify(want)) out.push(`advertised ${JSON.stringify(call.data)}, want ${JSON.stringify(want)}`);
  a.sched.runUntil(2_000_000);
  if (JSON.stringify(got) !== '[[17,34,51]]') out.push(`received ${JSON.stringify(got)}`);
  const f = (B.nrf.scanCalls[0]?.options as { filters?: unknown })?.filters;
  if (JSON.stringify(f) !== JSON.stringify([{ manufacturerData: { 1424: {} } }])) out.push(`scan filter ${JSON.stringify(f)}`);
  return out;
}

test('golden bytes: [len][0xFF][0x90 0x05][0xA0|seq][frame], non-connectable at 100 ms; the idle advertisement before and after', () => {
  assert.equal(goldenProblems(bleLink), []);
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR);
  // At creation: Espruino's default advertisement, with every sticky option put back.
  assert.equal(A.nrf.advCalls[0].data, 'default');
  assert.equal(A.nrf.advCalls[0].options, { interval: 375, connectable: true, scannable: true, whenConnected: false });
  const frame = Array.from({ length: 26 }, (_, i) => 0xf0 - i);
  assert.ok(A.link.send(Uint8Array.from(frame), 26));
  assert.equal(A.nrf.advCalls[1].data, [30, 0xff, 0x90, 0x05, 0xa0, ...frame], 'a full frame fills the 31 bytes');
  assert.equal(A.nrf.advCalls[1].options, { interval: 100, connectable: false, scannable: false, whenConnected: true });
  assert.is(A.nrf.connectable, false);
  a.sched.runUntil(A.link.windowUs - 1);
  assert.is(A.nrf.advCalls.length, 2, 'the frame stays on the air for its whole window');
  assert.ok(A.nrf.events >= 3, `advertising events in the window: ${A.nrf.events}`);
  a.sched.runUntil(A.link.windowUs);
  assert.equal(A.nrf.advCalls[2].data, 'default', 'back to the idle advertisement');
  assert.is(A.nrf.connectable, true);
  assert.is(A.nrf.intervalUnits, 600, '375 ms again');
  // The sequence in the header's low five bits, wrapping after 31.
  const seqs: number[] = [];
  for (let i = 0; i < 33; i++) {
    assert.ok(A.link.send(Uint8Array.of(i), 1));
    const d = A.nrf.advCalls[A.nrf.advCalls.length - 1].data as number[];
    seqs.push(d[4]);
    a.sched.runUntil(a.sched.now() + A.link.windowUs);
  }
  assert.equal(seqs.slice(0, 2), [0xa1, 0xa2]);
  assert.is(seqs[30], 0xbf);
  assert.is(seqs[31], 0xa0, 'wraps to 0');
  assert.equal(A.nrf.violations, []);
  assert.equal(A.link.caps, { mtu: 26, bitrate: Math.floor((26 * 8 * 1e6) / A.link.windowUs), medium: 'radio', carrierSense: false, broadcast: true });
  assert.is(A.link.windowUs, 330_000, '3 events x (100 ms + 10 ms advDelay)');
});

test('the golden check fails against the driver with its AD type or its company id changed (mutants)', async () => {
  const src = readFileSync(resolve(import.meta.dirname, '../../../hal/espruino/ble.ts'), 'utf8');
  const link = resolve(import.meta.dirname, '../../../hal/link.ts');
  const dir = mkdtempSync(join(tmpdir(), 'picolink-ble-mutant-'));
  try {
    const mutants: [string, RegExp, string][] = [
      ['AD type 0xFE', /BLE_AD_MANUFACTURER = 0xff;/, 'BLE_AD_MANUFACTURER = 0xfe;'],
      ['company 0x0591', /BLE_COMPANY_ESPRUINO = 0x0590;/, 'BLE_COMPANY_ESPRUINO = 0x0591;'],
      ['company big-endian', /tx\[2\] = company & 0xff;\n(\s*)tx\[3\] = company >> 8;/, 'tx[2] = company >> 8;\n$1tx[3] = company & 0xff;'],
    ];
    for (const [name, from, to] of mutants) {
      assert.match(src, from, `the mutation site of "${name}" is in the source`);
      const file = join(dir, name.replace(/\W+/g, '-') + '.ts');
      writeFileSync(file, src.replace(from, to).replace(/from '\.\.\/link\.ts'/g, `from ${JSON.stringify(link)}`).replace(/from '\.\.\/clock\.ts'/g, `from ${JSON.stringify(resolve(link, '../clock.ts'))}`));
      const m = (await import(file)) as { bleLink: BleFactory };
      const problems = goldenProblems(m.bleLink);
      assert.ok(problems.length > 0, `mutant "${name}" passes the golden check`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('frames between two stations: each once although heard at every event; onSent once per frame, never inside send', () => {
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR, {}, bleLink, -71);
  const B = station(a, B_ADDR);
  const got: number[][] = [];
  const rssi: number[] = [];
  B.link.onReceive((f, len, info) => { got.push(Array.from(f.subarray(0, len))); rssi.push(info.rssi); });
  let inSend = false;
  const sent: number[] = [];
  A.link.onSent((st) => { assert.not.ok(inSend, 'onSent from inside send'); sent.push(st); });
  const frames = [[7], Array.from({ length: 26 }, (_, i) => i * 9), [1, 2, 3, 0, 0, 9]];
  for (const f of frames) {
    inSend = true;
    assert.ok(A.link.send(Uint8Array.from(f), f.length));
    inSend = false;
    assert.equal(sent.length, frames.indexOf(f), 'not yet reported');
    a.sched.runUntil(a.sched.now() + A.link.windowUs + 1);
  }
  assert.equal(got, frames);
  assert.equal(sent, [0, 0, 0], 'TX_OK once each');
  assert.equal(rssi, [-71, -71, -71], "A's RSSI as B's scan reported it");
  assert.is(A.link.stats.sent, 3);
  assert.is(B.link.stats.received, 3);
  assert.ok(B.link.stats.duplicates >= 2 * 3, `duplicates dropped: ${B.link.stats.duplicates}`);
  assert.ok(B.link.stats.foreign > 0, "A's idle advertisements (0x0590 without data) are not frames");
  assert.is(A.link.stats.received, 0, 'B sent nothing; A never hears itself');
  a.sched.runUntil(a.sched.now() + 5_000_000);
  assert.is(B.link.stats.received, 3, 'nothing more from the idle advertisement');
});

test('busy() only during our own window; a second frame, an empty one and 27 bytes are refused', () => {
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR);
  const B = station(a, B_ADDR);
  assert.not.ok(A.link.busy());
  assert.not.ok(A.link.send(new Uint8Array(27), 27), 'over the mtu');
  assert.not.ok(A.link.send(new Uint8Array(1), 0), 'empty');
  assert.not.ok(A.link.send(new Uint8Array(2), 3), 'len past the buffer');
  assert.is(A.nrf.advCalls.length, 1, 'nothing advertised for a refused frame');
  assert.ok(A.link.send(new Uint8Array(26), 26));
  assert.ok(A.link.busy(), 'our own transmission');
  assert.not.ok(A.link.send(Uint8Array.of(4), 1), 'one at a time');
  a.sched.runUntil(100_000);
  assert.ok(A.link.busy());
  assert.not.ok(B.link.busy(), 'no carrier sense: B does not see A busy');
  a.sched.runUntil(A.link.windowUs);
  assert.not.ok(A.link.busy());
  assert.is(B.link.stats.received, 1);
  assert.equal(A.nrf.violations, []);
  assert.throws(() => station(a, 'c0:11:22:33:44:09 random', { intervalMs: 20 }), /intervalMs must be 100\.\.10240/);
  assert.throws(() => station(a, 'c0:11:22:33:44:0a random', { repeats: 0 }), /repeats/);
});

test('the scan filter is manufacturer 0x0590; a sending-only station never scans; JSON under 0x0590 is foreign', () => {
  const a = bleAir(scheduler());
  const B = station(a, B_ADDR);
  assert.is(B.nrf.scanCalls.length, 1);
  assert.ok(B.nrf.scanCalls[0].on);
  assert.equal(B.nrf.scanCalls[0].options, { filters: [{ manufacturerData: { 1424: {} } }] });
  const S = station(a, 'c0:11:22:33:44:03 random', { scan: false });
  assert.is(S.nrf.scanCalls.length, 0);
  // Another Espruino advertising JSON under 0x0590 (its reference's example), and a beacon of another company.
  const other = new FakeNrf(a, 'c0:11:22:33:44:04 random');
  const json = Array.from('{"a":1}', (c) => c.charCodeAt(0));
  other.setAdvertising([json.length + 3, 0xff, 0x90, 0x05, ...json], { interval: 100, connectable: false, scannable: false });
  const beacon = new FakeNrf(a, 'c0:11:22:33:44:05 random');
  beacon.setAdvertising([7, 0xff, 0x4c, 0x00, 0xa0, 1, 2, 3], { interval: 100, connectable: false, scannable: false });
  const got: number[] = [];
  B.link.onReceive((_f, len) => got.push(len));
  a.sched.runUntil(3_000_000);
  assert.equal(got, []);
  assert.ok(B.link.stats.foreign > 0);
  assert.ok(a.delivered > 0);
  assert.equal(B.nrf.violations, []);
});

test('malformed advertisements are counted, never delivered; findBleFrame never reads past len (random bytes)', () => {
  const a = bleAir(scheduler());
  const B = station(a, B_ADDR);
  const bad = new FakeNrf(a, 'c0:11:22:33:44:06 random');
  // An AD length that runs past the end, and a manufacturer AD too short for its own header.
  bad.setAdvertising([9, 0xff, 0x90, 0x05, 0xa0, 1, 2], { interval: 100, connectable: false, scannable: false });
  const got: number[] = [];
  B.link.onReceive((_f, len) => got.push(len));
  a.sched.runUntil(500_000);
  assert.equal(got, []);
  assert.ok(B.link.stats.malformed > 0);
  assert.is(findBleFrame(Uint8Array.of(4, 0xff, 0x90, 0x05, 0xa0), 5, 0x0590), 4, 'a header and no frame is found...');
  bad.setAdvertising([4, 0xff, 0x90, 0x05, 0xa0], { interval: 100 });
  const before = B.link.stats.malformed;
  a.sched.runUntil(1_000_000);
  assert.ok(B.link.stats.malformed > before, '...and counted malformed: a frame has at least one byte');
  assert.equal(got, []);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(40), (bytes, n) => {
    const len = Math.min(n, bytes.length);
    const r = findBleFrame(bytes, len, 0x0590);
    return r === -1 || r === -2 || (r >= 4 && r < len && bytes[r - 3] === 0xff);
  }), { seed: 7, numRuns: 2000 });
});

test('with loss: every frame at most once, most of them through three repeats; 100 % loss: nothing', () => {
  for (const [lossPct, seed] of [[50, 3], [100, 4]]) {
    const a = bleAir(scheduler(), { lossPct, seed });
    const A = station(a, A_ADDR);
    const B = station(a, B_ADDR);
    const got: number[] = [];
    B.link.onReceive((f, len) => { assert.is(len, 2); got.push((f[0] << 8) | f[1]); });
    let sent = 0;
    A.link.onSent(() => sent++);
    const n = 64;
    for (let i = 0; i < n; i++) {
      assert.ok(A.link.send(Uint8Array.of(i >> 8, i & 0xff), 2));
      a.sched.runUntil(a.sched.now() + A.link.windowUs + 1);
    }
    assert.is(sent, n, 'onSent once per frame whatever the air did');
    assert.equal(got, [...new Set(got)].sort((x, y) => x - y), 'in order, none twice');
    if (lossPct === 100) assert.is(got.length, 0);
    // Each frame gets 3 events (or 4 when the advDelays are short): lost only when all are, 1/8 or less.
    else assert.ok(got.length >= n * 0.75 && got.length < n, `received ${got.length} of ${n} at ${lossPct} % loss per event`);
    assert.ok(a.lost > 0);
  }
});

test('close(): scanning stops, the frame in flight fails once with TX_ERR, the idle advertisement is back, send refuses', () => {
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR);
  const B = station(a, B_ADDR);
  const sent: number[] = [];
  A.link.onSent((st) => sent.push(st));
  assert.ok(A.link.send(Uint8Array.of(1, 2), 2));
  a.sched.runUntil(50_000);
  A.link.close();
  assert.equal(sent, [5], 'TX_ERR');
  assert.not.ok(A.link.busy());
  const sc = A.nrf.scanCalls[A.nrf.scanCalls.length - 1];
  assert.not.ok(sc.on, 'setScan() with no callback');
  assert.not.ok(A.nrf.scanning);
  assert.equal(A.nrf.advCalls[A.nrf.advCalls.length - 1].data, 'default');
  assert.is(A.nrf.connectable, true);
  assert.not.ok(A.link.send(Uint8Array.of(3), 1), 'closed');
  a.sched.runUntil(2_000_000);
  assert.equal(sent, [5], 'no second outcome when the window would have ended');
  // B still hears frames from others, A no longer does.
  assert.ok(B.link.send(Uint8Array.of(9), 1));
  a.sched.runUntil(3_000_000);
  assert.is(A.link.stats.received, 0);
  B.link.close();
  B.link.close();
  assert.is(B.nrf.scanCalls.filter((c) => !c.on).length, 1, 'close twice stops once');
});

test('a setAdvertising that throws fails that frame with TX_ERR, from a timer', () => {
  const a = bleAir(scheduler());
  const A = station(a, A_ADDR);
  const sent: number[] = [];
  A.link.onSent((st) => sent.push(st));
  A.nrf.setAdvertising = () => { throw new Error('Got BLE error 0x8 INVALID_STATE'); };
  assert.ok(A.link.send(Uint8Array.of(1), 1), 'taken: the outcome follows');
  assert.equal(sent, [], 'not from inside send');
  a.sched.runUntil(1);
  assert.equal(sent, [5]);
  assert.is(A.link.stats.errors, 2, 'the frame and the idle advertisement after it');
  assert.not.ok(A.link.busy());
});

test('the driver stays inside the JavaScript Espruino runs (the bundle gate\'s check)', async () => {
  const here = import.meta.dirname;
  const out = await build({
    stdin: { contents: `import { bleLink } from ${JSON.stringify(resolve(here, '../../../hal/espruino/ble.ts'))};\nglobalThis.B = bleLink;`, loader: 'js', resolveDir: here },
    bundle: true, format: 'iife', target: 'es2017', write: false,
  });
  assert.equal(checkEspruino(out.outputFiles[0].text), []);
});

test.run();

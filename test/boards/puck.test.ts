// The Puck.js board's create() against fakes of the Espruino built-ins it touches, in virtual time: its
// timers (getTime, setTimeout, clearTimeout) run on a scheduler, and its NRF is the fake of
// test/hal/espruino/nrf-fake.ts on a shared air. Two Pucks broadcast telemetry; a listening station
// (the advertising link and the raw MAC, as a gateway has them) decodes both Pucks' readings; the
// Pucks never scan and go back to Espruino's default advertisement between frames. With ESPRUINO set,
// the built bundle also runs on Espruino's Linux build against a fake NRF written in JavaScript: it
// advertises a telemetry frame whose bytes are checked here, and its JsVars are printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { rollup } from 'rollup';
import { create, board } from '../../boards/puck.ts';
import type { PuckBuiltins } from '../../boards/puck.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import type { Timer } from '../../hal/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { bleLink } from '../../hal/espruino/ble.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { macPorts, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';
import { findEspruino } from '../../host/sim/espruino-linux.ts';
import { boardConfig } from '../../rollup.config.js';
import { bleAir, FakeNrf } from '../hal/espruino/nrf-fake.ts';
import type { BleAir } from '../hal/espruino/nrf-fake.ts';

/** Espruino's getTime/setTimeout/clearTimeout on the scheduler: seconds, ms, integer ids. */
function virtualTimers(sched: Scheduler): Pick<PuckBuiltins, 'getTime' | 'setTimeout' | 'clearTimeout'> {
  const live = new Map<number, Timer>();
  let next = 1;
  return {
    getTime: () => sched.now() / 1e6,
    setTimeout: (fn, ms) => {
      const id = next++;
      live.set(id, sched.at(sched.now() + Math.max(100, Math.ceil(ms * 1000)), () => { live.delete(id); fn(); }));
      return id;
    },
    clearTimeout: (id) => {
      const t = live.get(id);
      if (t !== undefined) sched.cancel(t);
      live.delete(id);
    },
  };
}

function puck(a: BleAir, address: string, serial: string, tempC: number, volts: number): { nrf: FakeNrf; g: PuckBuiltins } {
  const nrf = new FakeNrf(a, address);
  const rng = xoshiro(serial.length * 31 + address.charCodeAt(16));
  return {
    nrf,
    g: {
      ...virtualTimers(a.sched),
      NRF: { setAdvertising: (d, o) => nrf.setAdvertising(d, o), setScan: (f, o) => nrf.setScan(f, o), getBattery: () => volts },
      E: { hwRand: () => rng.u32() | 0, getTemperature: () => tempC },
      process: { memory: () => ({ free: 1234 }) },
      getSerial: () => serial,
    },
  };
}

/** A station on the air that scans, with the raw MAC: collects decoded telemetry by source. */
function listener(a: BleAir) {
  const nrf = new FakeNrf(a, 'c0:00:00:00:00:99 random');
  const radio = bleLink({ nrf, clock: a.sched });
  const mac = rawMac(radio, 0x0099);
  const got: { src: number; reading: unknown }[] = [];
  macPorts(mac).port(SVC_TELEMETRY).onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    assert.ok(body > 0, 'a telemetry frame');
    got.push({ src: h.src, reading: hostDecode(f.subarray(body, len)) });
  });
  return { nrf, radio, got };
}

test('two Pucks broadcast their readings over advertising; a scanning station decodes both', () => {
  const a = bleAir(scheduler(), { seed: 5 });
  const rx = listener(a);
  const p1 = puck(a, 'e1:11:11:11:11:01 random', 'f1e2d3c4b5a69788', 21.46, 3.012);
  const p2 = puck(a, 'e1:11:11:11:11:02 random', '0011223344556677', -3.2, 2.745);
  const app1 = create(p1.g);
  const app2 = create(p2.g);
  a.sched.runUntil(45_000_000);
  app1.telemetry.stop();
  app2.telemetry.stop();
  a.sched.runUntil(46_000_000);
  const from1 = rx.got.filter((x) => x.src === app1.mac.addr);
  const from2 = rx.got.filter((x) => x.src === app2.mac.addr);
  assert.ok(app1.mac.addr !== app2.mac.addr);
  // One reading every 10 s ± 1 s: 4 in 45 s, each heard once.
  assert.ok(from1.length >= 3 && from1.length <= 5, `readings from Puck 1: ${from1.length}`);
  assert.ok(from2.length >= 3 && from2.length <= 5, `readings from Puck 2: ${from2.length}`);
  assert.is(from1.length, app1.telemetry.stats.sent);
  assert.is(from2.length, app2.telemetry.stats.sent);
  assert.equal(from1[0].reading, { t: 215, v: 3012, f: 1234 });
  assert.equal(from2[0].reading, { t: -32, v: 2745, f: 1234 });
  assert.is(app1.telemetry.stats.encodeErrors, 0);
  assert.ok(rx.radio.stats.duplicates > 0, 'each frame was heard at several advertising events');
  // The Pucks only send: no scanning; the advertising they did, frame and idle in turn.
  assert.equal(p1.nrf.scanCalls, []);
  const kinds = p1.nrf.advCalls.map((c) => (c.data === 'default' ? 'idle' : 'frame'));
  assert.is(kinds[0], 'idle');
  assert.is(kinds[kinds.length - 1], 'idle');
  for (let i = 1; i < kinds.length; i++) assert.ok(kinds[i] !== kinds[i - 1], 'a frame, then the idle advertisement again');
  const frame = p1.nrf.advCalls[1].data as number[];
  assert.equal(frame.slice(1, 4), [0xff, 0x90, 0x05], 'manufacturer data, company 0x0590');
  assert.equal(frame.slice(5, 7), [0xff, 0xff], 'raw MAC: to broadcast');
  assert.equal(frame.slice(7, 9), [app1.mac.addr >> 8, app1.mac.addr & 0xff], 'raw MAC: from the Puck');
  assert.is(frame[9], SVC_TELEMETRY, 'the service byte');
  assert.ok(frame.length <= 31);
  assert.is(app1.radio.caps.mtu, board.mtu);
  assert.equal(p1.nrf.violations, []);
});

test('the built puck bundle runs on Espruino\'s Linux build against a fake NRF and advertises a reading', async () => {
  const bin = findEspruino();
  if (!bin) {
    console.log('  skipped: set ESPRUINO to an Espruino interpreter (its Linux build) to run the bundle on it');
    return;
  }
  const cfg = await boardConfig(resolve(import.meta.dirname, '../../boards/puck.ts'), undefined, { autostart: false });
  const b = await rollup({ ...cfg, output: undefined });
  const code = (await b.generate(cfg.output)).output[0].code;
  await b.close();
  const dir = mkdtempSync(join(tmpdir(), 'picolink-puck-'));
  try {
    const file = join(dir, 'puck.js');
    // Built-ins as the Puck has them, the NRF faked; the interpreter's own getTime and setTimeout, sped up
    // 20 times so the first reading (after 9 to 11 s) comes within a second.
    writeFileSync(file, `var m0 = process.memory().usage;
var load = function () {\n${code}\nreturn picolink;\n};
var p = load();
var m1 = process.memory().usage;
var adv = [];
var g = { getTime: function () { return getTime() * 20; }, setTimeout: function (fn, ms) { return setTimeout(fn, ms / 20); }, clearTimeout: clearTimeout,
  NRF: { setAdvertising: function (d, o) { adv.push(d.length === undefined ? 'idle' : E.toJS(d) + ' ' + o.interval + ' ' + o.connectable); },
         setScan: function () { adv.push('scan'); }, getBattery: function () { return 3.01; } },
  E: { hwRand: E.hwRand, getTemperature: function () { return 21.5; } }, process: process,
  getSerial: function () { return 'f1e2d3c4b5a69788'; } };
var m2 = process.memory().usage;
var app = p.create(g);
print('JSVARS loaded ' + (m1 - m0) + ' created ' + (process.memory().usage - m2 + m1 - m0));
setTimeout(function () { print('ADV ' + adv.join('|')); print('JSVARS running ' + (process.memory().usage - m2 + m1 - m0)); quit(); }, 600);
`);
    const r = spawnSync(bin, [file], { encoding: 'utf8', timeout: 60_000 });
    const advLine = /ADV (.*)/.exec(r.stdout);
    assert.ok(advLine, `the bundle ran: ${r.stdout.slice(-500)} ${r.stderr.slice(-300)}`);
    const calls = advLine[1].split('|');
    assert.is(calls[0], 'idle');
    assert.is(calls[2], 'idle');
    assert.not.ok(calls.includes('scan'));
    const m = /^\[([\d,]+)\] 100 false$/.exec(calls[1]);
    assert.ok(m, `a frame advertised non-connectable at 100 ms: ${calls[1]}`);
    const bytes = m[1].split(',').map(Number);
    assert.is(bytes[0], bytes.length - 1, 'the AD length covers the rest');
    assert.equal(bytes.slice(1, 5), [0xff, 0x90, 0x05, 0xa0]);
    const h = { src: 0, seq: 0 };
    const tm = Uint8Array.from(bytes.slice(10));
    const body = parseTelemetry(tm, tm.length, h);
    assert.ok(body > 0);
    const reading = hostDecode(tm.subarray(body)) as Record<string, number>;
    assert.is(reading.t, 215);
    assert.is(reading.v, 3010);
    assert.ok(reading.f > 0 && reading.f < 1e6);
    console.log('  ' + (r.stdout.match(/JSVARS .*/g) ?? []).join('; ') + ' (Espruino Linux build, code as text in RAM)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

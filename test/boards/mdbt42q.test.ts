// The MDBT42Q board's create() against fakes of the Espruino built-ins it touches, in virtual time (its
// timers on a scheduler, its NRF the fake of test/hal/espruino/nrf-fake.ts on a shared air). As a
// sensor it broadcasts its readings like a Puck and never scans. As the gateway (the mdbt42q-gateway
// bundle's role): the console goes to LoopbackA before Serial1 is set up on D6/D8 at 115200 baud; its
// Serial1 is one end of a simulated serial wire, whose other end is the host's side of the MAC tunnel
// (framed link and tunnelMac, as `picolink bridge --port` runs them): the gateway answers the host's
// hello with its address and MAC mtu, relays an MDBT42Q sensor's and a Puck's readings up, sends a
// message from the host down onto the air, where a listening station hears it, and reports its outcome.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, board } from '../../boards/mdbt42q.ts';
import type { Mdbt42qBuiltins } from '../../boards/mdbt42q.ts';
import { create as createPuck } from '../../boards/puck.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import type { Timer } from '../../hal/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { wire } from '../../hal/sim/wire.ts';
import type { WireEnd } from '../../hal/sim/wire.ts';
import { framedLink } from '../../hal/framing/link.ts';
import { bleLink } from '../../hal/espruino/ble.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { ADDR_BROADCAST } from '../../firmware/mac/mac.ts';
import { tunnelMac } from '../../firmware/mac/tunnel.ts';
import { macPorts, SVC_APP, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';
import { bleAir, FakeNrf } from '../hal/espruino/nrf-fake.ts';
import type { BleAir } from '../hal/espruino/nrf-fake.ts';

/** Espruino's getTime/setTimeout/clearTimeout on the scheduler: seconds, ms, integer ids. */
function virtualTimers(sched: Scheduler): Pick<Mdbt42qBuiltins, 'getTime' | 'setTimeout' | 'clearTimeout'> {
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

/** Built-ins of a module on the air; Serial1 writes go to `line` (a wire end) when given. */
function module(a: BleAir, address: string, serial: string, calls: string[], line?: WireEnd) {
  const nrf = new FakeNrf(a, address, -58, 'MDBT42Q ' + address.slice(12, 17).replace(':', ''));
  const rng = xoshiro(serial.charCodeAt(0) + 17);
  const g: Mdbt42qBuiltins = {
    ...virtualTimers(a.sched),
    NRF: { setAdvertising: (d, o) => nrf.setAdvertising(d, o), setScan: (f, o) => nrf.setScan(f, o), getBattery: () => 3.297 },
    E: { hwRand: () => rng.u32() | 0, getTemperature: () => 25.04 },
    process: { memory: () => ({ free: 1500 }) },
    getSerial: () => serial,
    Serial1: {
      setConsole: (f) => { calls.push(`Serial1.setConsole(${f})`); },
      setup: (baud, o) => { calls.push(`Serial1.setup(${baud},tx=${String(o.tx)},rx=${String(o.rx)})`); },
      on: (_ev, fn) => {
        line?.onData((bytes, len) => fn(String.fromCharCode(...bytes.subarray(0, len))));
      },
      write: (d) => {
        if (!line) return;
        const n = line.write(d, d.length);
        if (n < d.length) calls.push('Serial1.write would block'); // Espruino busy-waits; the driver paces to avoid it
      },
    },
    LoopbackA: { setConsole: (f) => { calls.push(`LoopbackA.setConsole(${f})`); } },
    D6: 'D6',
    D8: 'D8',
  };
  return { nrf, g };
}

test('mdbt42q as a sensor: readings broadcast over advertising, no scanning, the idle advertisement between frames', () => {
  const a = bleAir(scheduler(), { seed: 9 });
  const calls: string[] = [];
  const m = module(a, 'd0:22:22:22:22:01 random', 'a1b2c3d4e5f60718', calls);
  const lnrf = new FakeNrf(a, 'c0:00:00:00:00:98 random');
  const got: unknown[] = [];
  macPorts(rawMac(bleLink({ nrf: lnrf, clock: a.sched }), 0x98)).port(SVC_TELEMETRY).onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    got.push(hostDecode(f.subarray(body, len)));
  });
  const app = create(m.g);
  assert.ok(app.telemetry && !app.gateway);
  a.sched.runUntil(25_000_000);
  app.telemetry!.stop();
  assert.ok(got.length >= 2, `readings heard: ${got.length}`);
  assert.equal(got[0], { t: 250, v: 3297, f: 1500 });
  assert.equal(m.nrf.scanCalls, []);
  assert.equal(calls, [], 'Serial1 and the console untouched');
  assert.is(app.radio.caps.mtu, board.mtu);
  assert.throws(() => create(m.g, 'hub'), /mdbt42q: this bundle has no role "hub"/);
});

test('mdbt42q as the gateway: console off Serial1, hello answered over the wire, readings up, a message down and its outcome', () => {
  const sched = scheduler();
  const a = bleAir(sched, { seed: 11 });
  const line = wire(sched, { baud: 115200 });
  const calls: string[] = [];
  const gw = module(a, 'd0:22:22:22:22:0a random', '9f8e7d6c5b4a3928', calls, line.a);
  const gwApp = create(gw.g, 'gateway');
  assert.ok(gwApp.gateway && !gwApp.telemetry);
  assert.equal(calls, ['LoopbackA.setConsole(true)', 'Serial1.setup(115200,tx=D6,rx=D8)'], 'the console leaves Serial1 before it is set up');
  assert.equal(gw.nrf.scanCalls.map((c) => c.options), [{ filters: [{ manufacturerData: { 1424: {} } }] }], 'the gateway scans for frames');
  // Two sensors: an MDBT42Q and a Puck.
  const s = module(a, 'd0:22:22:22:22:0b random', '1122334455667788', []);
  const sApp = create(s.g);
  const pNrf = new FakeNrf(a, 'e1:11:11:11:11:0c random');
  const pRng = xoshiro(3);
  const pApp = createPuck({
    ...virtualTimers(sched),
    NRF: { setAdvertising: (d, o) => pNrf.setAdvertising(d, o), setScan: (f, o) => pNrf.setScan(f, o), getBattery: () => 2.9 },
    E: { hwRand: () => pRng.u32() | 0, getTemperature: () => 19.96 },
    process: { memory: () => ({ free: 900 }) },
    getSerial: () => 'cafebabe00000001',
  });
  // A plain listening station, to hear what the host sends down.
  const lnrf = new FakeNrf(a, 'c0:00:00:00:00:97 random');
  const heard: number[][] = [];
  macPorts(rawMac(bleLink({ nrf: lnrf, clock: sched }), 0x97)).port(SVC_APP).onReceive((f, len, info) => {
    assert.is(info.src, gwApp.mac.addr, 'sent from the gateway\'s address');
    heard.push(Array.from(f.subarray(0, len)));
  });
  // The host's end, as the bridge opens it.
  const host = tunnelMac(framedLink(line.b, { mtu: 64, clock: sched }));
  const hellos: number[][] = [];
  host.hello((addr, mtu, version) => hellos.push([addr, mtu, version]));
  const readings = new Map<number, unknown[]>();
  macPorts(host).port(SVC_TELEMETRY).onReceive((f, len, info) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    assert.ok(body > 0);
    assert.is(info.src, h.src);
    if (!readings.has(h.src)) readings.set(h.src, []);
    readings.get(h.src)!.push(hostDecode(f.subarray(body, len)));
  });
  sched.runUntil(100_000);
  assert.ok(hellos.length >= 1, 'the gateway answered the host\'s hello');
  assert.equal(hellos[0], [gwApp.mac.addr, 22, 1], 'its address, the raw MAC\'s mtu (26 - 4), version 1');
  assert.ok(host.ready());
  sched.runUntil(25_000_000);
  assert.ok((readings.get(sApp.mac.addr) ?? []).length >= 2, 'the MDBT42Q sensor\'s readings reached the host');
  assert.ok((readings.get(pApp.mac.addr) ?? []).length >= 2, 'the Puck\'s readings reached the host');
  assert.equal(readings.get(sApp.mac.addr)![0], { t: 250, v: 3297, f: 1500 });
  assert.equal(readings.get(pApp.mac.addr)![0], { t: 200, v: 2900, f: 900 });
  // Down: the host broadcasts an application payload through the gateway.
  const outcomes: number[][] = [];
  host.onSent((status, transmissions, dst) => outcomes.push([status, transmissions, dst]));
  assert.is(host.send(ADDR_BROADCAST, Uint8Array.of(SVC_APP, 0xca, 0xfe), 3), 0);
  sched.runUntil(26_000_000);
  assert.equal(heard, [[0xca, 0xfe]], 'the listening station heard it once');
  assert.equal(outcomes, [[0, 1, ADDR_BROADCAST]], 'TX_OK came back up');
  assert.is(gwApp.gateway!.stats.malformed, 0);
  assert.is(gwApp.gateway!.stats.upDropped, 0);
  assert.not.ok(calls.includes('Serial1.write would block'));
  sApp.telemetry!.stop();
  pApp.telemetry.stop();
});

test.run();

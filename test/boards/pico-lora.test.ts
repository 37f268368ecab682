// The Pico-with-SX1276 board's create() against fakes of the Espruino built-ins it touches, its radio a
// register model of the chip (test/hal/espruino/sx127x-model.ts) on a simulated air, in virtual time:
// the board's clock reads getTime and setTimeout, which are pointed at the simulator's scheduler while
// create() runs (the clock keeps the functions it was given), so 60 s of readings take milliseconds.
// Two sensor Picos and a gateway station (the same driver and the CSMA/CA MAC with the LoRa preset, on
// the scheduler) share the air: SPI2 is set up on B13/B14/B15 in mode 0, the driver's pins are
// B10/B1/A8, and both sensors' readings reach the gateway, decoded, except those lost when the two
// sensors' backoffs end in the same slot (broadcasts have no ACK to retry on); no chip saw a datasheet
// violation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, board } from '../../boards/pico-lora.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import type { Timer } from '../../hal/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { sx127x } from '../../hal/espruino/sx127x.ts';
import { csma } from '../../firmware/mac/csma/csma.ts';
import { CSMA_LORA } from '../../firmware/mac/csma/config.ts';
import { macPorts, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';
import { air, Sx127xChip } from '../hal/espruino/sx127x-model.ts';

/** Fake built-ins of a Pico whose SPI2, reset and DIO0 reach `chip`; `calls` records the setup calls. */
function pico(chip: Sx127xChip, serial: string, calls: string[], temp: number) {
  return {
    getSerial: () => serial,
    E: { getTemperature: () => temp, getAnalogVRef: () => 3.301 },
    process: { memory: () => ({ free: 4321 }) },
    SPI2: {
      setup: (o: { sck: unknown; miso: unknown; mosi: unknown; baud: number; mode: number }) => { calls.push(`SPI2.setup(sck=${String(o.sck)},miso=${String(o.miso)},mosi=${String(o.mosi)},baud=${o.baud},mode=${o.mode})`); },
      send: (d: Uint8Array, nss: unknown) => chip.spiSend(d, nss === 'B10' ? 'NSS_' + chip.name : String(nss)),
    },
    digitalWrite: (pin: unknown, v: number) => { calls.push(`digitalWrite(${String(pin)},${v})`); if (pin !== 'B1') chip.violations.push(`digitalWrite ${String(pin)}`); chip.digitalWrite(v); },
    pinMode: (pin: unknown, m: string) => { calls.push(`pinMode(${String(pin)},${m})`); if (pin !== 'B1') chip.violations.push(`pinMode ${String(pin)}`); chip.pinMode(m); },
    setWatch: (fn: () => void, pin: unknown, o: { edge: string }) => { calls.push(`setWatch(${String(pin)},${o.edge})`); chip.setWatch(fn); return 1; },
    B13: 'B13', B14: 'B14', B15: 'B15', B10: 'B10', B1: 'B1', A8: 'A8',
  };
}

/** Runs `fn` with getTime, setTimeout, clearTimeout and E.hwRand on the scheduler (restored after). */
function onScheduler<T>(sched: Scheduler, seed: number, fn: () => T): T {
  const g = globalThis as Record<string, unknown>;
  const saved = { getTime: g.getTime, setTimeout: g.setTimeout, clearTimeout: g.clearTimeout, E: g.E };
  const timers = new Map<number, Timer>();
  let next = 1;
  const rng = xoshiro(seed);
  g.getTime = () => sched.now() / 1e6;
  g.setTimeout = (f: () => void, ms: number) => {
    const id = next++;
    timers.set(id, sched.at(sched.now() + Math.max(Math.ceil(ms * 1000), 100), () => { timers.delete(id); f(); }));
    return id;
  };
  g.clearTimeout = (id: number) => { const t = timers.get(id); if (t !== undefined) sched.cancel(t); timers.delete(id); };
  g.E = { hwRand: () => rng.u32() | 0 };
  try {
    return fn();
  } finally {
    Object.assign(g, saved);
    if (saved.getTime === undefined) delete g.getTime;
    if (saved.E === undefined) delete g.E;
  }
}

test('pico-lora: SPI2 and pins as wired; two sensor Picos\' readings over CSMA/CA and LoRa reach a gateway', () => {
  const sched = scheduler();
  const a = air(sched);
  const gwChip = new Sx127xChip(a, 'G');
  const gwRadio = sx127x({
    spi: { send: (d, nss) => gwChip.spiSend(d, nss) },
    pins: { digitalWrite: (_p, v) => gwChip.digitalWrite(v), pinMode: (_p, m) => gwChip.pinMode(m), setWatch: (fn) => { gwChip.setWatch(fn); return 1; } },
    nss: 'NSS_G', reset: 'RST_G', dio0: 'DIO0_G', clock: sched,
  });
  const gwMac = csma({ link: gwRadio, clock: sched, rng: xoshiro(3), addr: 0, config: CSMA_LORA });
  const readings = new Map<number, unknown[]>();
  const lengths: number[] = [];
  macPorts(gwMac).port(SVC_TELEMETRY).onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    assert.ok(body > 0);
    lengths.push(len);
    if (!readings.has(h.src)) readings.set(h.src, []);
    readings.get(h.src)!.push(hostDecode(f.subarray(body, len)));
  });
  const c1 = new Sx127xChip(a, 'P1');
  const c2 = new Sx127xChip(a, 'P2');
  const calls: string[] = [];
  const s1 = onScheduler(sched, 11, () => create(pico(c1, '33FFD9054D4E383423761743', calls, 24.37)));
  const s2 = onScheduler(sched, 12, () => create(pico(c2, '33FFD9054D4E383423761799', [], 19.04)));
  assert.equal(calls, ['SPI2.setup(sck=B13,miso=B14,mosi=B15,baud=4000000,mode=0)', 'digitalWrite(B1,0)', 'setWatch(A8,rising)']);
  sched.runUntil(1_000);
  assert.equal(calls.slice(3), ['pinMode(B1,input)'], 'the reset line released after 200 µs');
  sched.runUntil(60_000_000);
  s1.telemetry.stop();
  s2.telemetry.stop();
  const r1 = readings.get(s1.mac.addr) ?? [];
  const r2 = readings.get(s2.mac.addr) ?? [];
  // A reading every 10 s ± 1 s for 60 s: 5 or 6 each. Broadcasts are not acknowledged: two sensors
  // whose backoffs end within one slot of each other (before either CAD can see the other's preamble)
  // collide, and the gateway, locked on the first, drops it as a CRC error and misses the second.
  // Every reading is either heard or lost that way.
  const sent = s1.telemetry.stats.sent + s2.telemetry.stats.sent;
  assert.ok(s1.telemetry.stats.sent >= 5 && s2.telemetry.stats.sent >= 5, `readings sent: ${sent}`);
  assert.ok(r1.length >= 4 && r2.length >= 4, `heard: ${r1.length} and ${r2.length}`);
  assert.is(r1.length + r2.length + 2 * gwRadio.stats.crcErrors, sent, 'heard, or lost in a collision the gateway saw');
  assert.is(s1.mac.stats.dataTx + s2.mac.stats.dataTx, sent, 'one transmission a reading');
  assert.equal(r1[0], { t: 244, mv: 3301, f: 4321 });
  assert.equal(r2[0], { t: 190, mv: 3301, f: 4321 });
  assert.ok(s1.radio.stats.cads > 0, 'the MAC sensed the channel through CAD');
  assert.is(s1.radio.caps.mtu, board.mtu);
  assert.is(gwRadio.stats.malformed + gwRadio.stats.noCrc, 0);
  assert.equal(c1.violations, []);
  assert.equal(c2.violations, []);
  assert.equal(gwChip.violations, []);
  // The frame the header comment sizes: MAC header, service byte, telemetry header, CBOR.
  assert.ok(Math.max(...lengths) + 9 <= 30, `reading frames of ${Math.max(...lengths) + 9} bytes`);
});

test.run();

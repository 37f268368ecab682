// The Pico-with-nRF24L01+ board's create() against fakes of the Espruino built-ins it touches, its radio
// a register model of the chip (test/hal/espruino/nrf24-model.ts). As a sensor: SPI2 is set up on
// B13/B14/B15 in mode 0, the driver's pins are B10/B1/A8, and the telemetry it broadcasts through
// CSMA/CA reaches a gateway station on the same modelled air, which decodes the readings. As the
// gateway (the pico-nrf24-gateway bundle's role): the console goes to LoopbackA, USB carries framed
// tunnel messages, hello first, then a sensor Pico's readings as they arrive on the air; a message the
// host sends down goes out on the air and reaches the sensor, and its outcome comes back up. The
// boards run on real timers (their clock reads getTime and setTimeout) and the air on a scheduler kept
// at the wall clock: about 3.5 s.
// As the piconet slave (pico-nrf24-slave's role): a master on the same air pages it and calls its
// operations through request-reply; as the full node (pico-nrf24-node's): two nodes call each other's
// operations and hold a Psync conversation. These run in virtual time: the boards' clocks are made
// while getTime, setTimeout and clearTimeout are the scheduler's (espruinoClock takes them when it is
// made), so the slots of the piconet are kept exactly, however loaded the machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, board, OP_ECHO, OP_READ, PICO_RR, piconetPico } from '../../boards/pico-nrf24.ts';
import type { PicoRadio } from '../../boards/pico-nrf24.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import type { Timer } from '../../hal/clock.ts';
import { piconetMaster, S_ACTIVE } from '../../firmware/mac/piconet/piconet.ts';
import type { PiconetSlave } from '../../firmware/mac/piconet/piconet.ts';
import { RR_E_UNKNOWN_OP, RR_OK, rr } from '../../firmware/rr/rr.ts';
import { midSender } from '../../firmware/psync/psync.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import { xoshiro } from '../../hal/prng.ts';
import { frameDecoder, frameEncode, encodedMax } from '../../hal/framing/cobs.ts';
import { nrf24 } from '../../hal/espruino/nrf24.ts';
import { csma } from '../../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../../firmware/mac/csma/config.ts';
import { macPorts, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { TUN_HELLO, TUN_RX, TUN_SENT, TUN_TX } from '../../firmware/mac/tunnel.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';
import { air, Nrf24Chip } from '../hal/espruino/nrf24-model.ts';
import type { Air } from '../hal/espruino/nrf24-model.ts';

/** Fake built-ins of a Pico whose SPI2, CE and IRQ reach `chip`; `calls` records the setup calls. */
function pico(chip: Nrf24Chip, serial: string, calls: string[]) {
  let usbData: ((d: string) => void) | null = null;
  const usbOut: number[] = [];
  return {
    usbOut,
    toUsb: (bytes: Uint8Array) => usbData?.(String.fromCharCode(...bytes)),
    g: {
      getSerial: () => serial,
      E: { getTemperature: () => 24.37, getAnalogVRef: () => 3.301 },
      process: { memory: () => ({ free: 4321 }) },
      SPI2: {
        setup: (o: { sck: unknown; miso: unknown; mosi: unknown; baud: number; mode: number }) => { calls.push(`SPI2.setup(sck=${String(o.sck)},miso=${String(o.miso)},mosi=${String(o.mosi)},baud=${o.baud},mode=${o.mode})`); },
        send: (d: Uint8Array, nss: unknown) => chip.spiSend(d, nss === 'B10' ? 'CSN_' + chip.name : String(nss)),
      },
      digitalWrite: (pin: unknown, v: number) => { if (pin !== 'B1') chip.violations.push(`digitalWrite ${String(pin)}`); chip.digitalWrite(v); },
      setWatch: (fn: () => void, pin: unknown, o: { edge: string }) => { calls.push(`setWatch(${String(pin)},${o.edge})`); chip.setWatch(fn); return 1; },
      B13: 'B13', B14: 'B14', B15: 'B15', B10: 'B10', B1: 'B1', A8: 'A8',
      USB: {
        setConsole: (f: boolean) => { calls.push(`USB.setConsole(${f})`); },
        setup: (baud: number) => { calls.push(`USB.setup(${baud})`); },
        on: (_ev: string, fn: (d: string) => void) => { usbData = fn; },
        write: (d: Uint8Array) => { for (const x of d) usbOut.push(x); },
      },
      LoopbackA: { setConsole: (f: boolean) => { calls.push(`LoopbackA.setConsole(${f})`); } },
    },
  };
}

/** An air on a scheduler kept at the wall clock, with the globals the boards' drivers read. */
function world(): { a: Air; stop(): void } {
  const sched = scheduler();
  const a = air(sched);
  const t0 = performance.now();
  const sync = setInterval(() => sched.runUntil(Math.floor((performance.now() - t0) * 1000)), 1);
  const g = globalThis as Record<string, unknown>;
  g.getTime = () => performance.now() / 1000;
  g.E = { hwRand: () => (Math.random() * 2 ** 32) | 0 };
  return { a, stop: () => { clearInterval(sync); delete g.getTime; delete g.E; } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('pico-nrf24: SPI2 and pins as wired, readings broadcast over CSMA/CA reach a gateway on the air', async () => {
  const w = world();
  const chip = new Nrf24Chip(w.a, 'P');
  const calls: string[] = [];
  // The gateway: another chip with the driver and the MAC, on the scheduler's clock.
  const gwChip = new Nrf24Chip(w.a, 'G');
  const gwRadio = nrf24({
    spi: { send: (d, nss) => gwChip.spiSend(d, nss) },
    pins: { digitalWrite: (_p, v) => gwChip.digitalWrite(v), setWatch: (fn) => { gwChip.setWatch(fn); return 1; } },
    csn: 'CSN_G', ce: 'CE_G', irq: 'IRQ_G', clock: w.a.sched, channel: 76,
  });
  const gwMac = csma({ link: gwRadio, clock: w.a.sched, rng: xoshiro(3), addr: 0, config: CSMA_NRF24 });
  const readings: unknown[] = [];
  const from: number[] = [];
  macPorts(gwMac).port(SVC_TELEMETRY).onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    assert.ok(body > 0);
    from.push(h.src);
    readings.push(hostDecode(f.subarray(body, len)));
  });
  try {
    const app = create(pico(chip, '33FFD9054D4E383423761743', calls).g);
    await sleep(1600);
    app.telemetry!.stop();
    assert.equal(calls, ['SPI2.setup(sck=B13,miso=B14,mosi=B15,baud=4000000,mode=0)', 'setWatch(A8,falling)']);
    assert.ok(readings.length >= 1, `readings at the gateway: ${readings.length}`);
    assert.equal(readings[0], { t: 244, mv: 3301, f: 4321 });
    assert.is(app.telemetry!.stats.encodeErrors, 0);
    assert.ok(from[0] > 0 && from[0] < 0xff00);
    assert.is(app.radio.caps.mtu, board.mtu);
    assert.equal(chip.violations, []);
    assert.equal(gwChip.violations, []);
  } finally {
    w.stop();
  }
});

test('pico-nrf24 as the gateway: the console off USB, hello, a sensor Pico\'s readings up, a message down', async () => {
  const w = world();
  const gCalls: string[] = [];
  const gw = pico(new Nrf24Chip(w.a, 'G'), 'GATEWAY-0001', gCalls);
  const sensorChip = new Nrf24Chip(w.a, 'S');
  const sensor = pico(sensorChip, 'SENSOR-0002', []);
  const msgs: number[][] = [];
  const dec = frameDecoder(64, (f, len) => msgs.push(Array.from(f.subarray(0, len))));
  let seen = 0;
  const up = (): number[][] => {
    dec.push(Uint8Array.from(gw.usbOut.slice(seen)), gw.usbOut.length - seen);
    seen = gw.usbOut.length;
    return msgs;
  };
  try {
    const g = create(gw.g, 'gateway');
    const s = create(sensor.g);
    assert.ok(g.gateway && !g.telemetry && s.telemetry && !s.gateway);
    assert.equal(gCalls.slice(0, 3), ['SPI2.setup(sck=B13,miso=B14,mosi=B15,baud=4000000,mode=0)', 'setWatch(A8,falling)', 'LoopbackA.setConsole(true)']);
    await sleep(1600);
    up();
    const hello = msgs.find((m) => m[0] === TUN_HELLO);
    assert.ok(hello, 'the gateway says hello when it starts');
    assert.equal(hello!.slice(2, 4), [g.mac.addr >> 8, g.mac.addr & 0xff]);
    const rx = msgs.filter((m) => m[0] === TUN_RX);
    assert.ok(rx.length >= 1, `readings up: ${rx.length}`);
    const r0 = rx[0];
    assert.is((r0[1] << 8) | r0[2], s.mac.addr, 'from the sensor Pico');
    assert.equal([r0[3], r0[4]], [0xff, 0xff], 'to broadcast');
    assert.is(r0[6], SVC_TELEMETRY, 'the payload starts with its service byte');
    const payload = Uint8Array.from(r0.slice(7));
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(payload, payload.length, h);
    assert.equal(hostDecode(payload.subarray(body)), { t: 244, mv: 3301, f: 4321 });
    // Down: the host has the gateway broadcast an application payload (service 0).
    const received = s.radio.stats.received;
    const tx = Uint8Array.of(TUN_TX, 0xff, 0xff, 0, 0xca, 0xfe);
    const framed = new Uint8Array(encodedMax(tx.length));
    gw.toUsb(framed.subarray(0, frameEncode(tx, tx.length, framed)));
    await sleep(300);
    up();
    assert.ok(s.radio.stats.received > received, 'the sensor Pico heard it');
    const sent = msgs.find((m) => m[0] === TUN_SENT);
    assert.ok(sent, 'its outcome came back up');
    assert.is(sent![1], 0, 'TX_OK');
    s.telemetry!.stop();
  } finally {
    w.stop();
  }
});

/**
 * An air on a scheduler that nothing advances but the test, and make(fn): run fn (a create()) with
 * getTime, setTimeout, clearTimeout and E.hwRand the scheduler's and a seeded generator's.
 */
function virtualWorld(seed: number): { a: Air; sched: Scheduler; make<T>(fn: () => T): T } {
  const sched = scheduler();
  const a = air(sched);
  const rnd = xoshiro(seed);
  const timers = new Map<number, Timer>();
  let nextId = 1;
  const fakes: Record<string, unknown> = {
    getTime: () => sched.now() / 1e6,
    setTimeout: (fn: () => void, ms: number) => {
      const id = nextId++;
      timers.set(id, sched.at(sched.now() + Math.ceil(ms * 1000), () => { timers.delete(id); fn(); }));
      return id;
    },
    clearTimeout: (id: number) => {
      const t = timers.get(id);
      if (t !== undefined) sched.cancel(t);
      timers.delete(id);
    },
    E: { hwRand: () => rnd.u32() | 0 },
  };
  return {
    a,
    sched,
    make<T>(fn: () => T): T {
      const g = globalThis as Record<string, unknown>;
      const saved: Record<string, unknown> = {};
      for (const k of Object.keys(fakes)) {
        saved[k] = g[k];
        g[k] = fakes[k];
      }
      try {
        return fn();
      } finally {
        for (const k of Object.keys(fakes)) {
          if (saved[k] === undefined) delete g[k];
          else g[k] = saved[k];
        }
      }
    },
  };
}

test('pico-nrf24 as a piconet slave: a master pages it and its request-reply server answers the calls', () => {
  const w = virtualWorld(11);
  const chip = new Nrf24Chip(w.a, 'S');
  const calls: string[] = [];
  const app = w.make(() => create(pico(chip, '33FFD9054D4E383423761743', calls).g, 'slave'));
  const slave = app.mac as PiconetSlave;
  assert.ok(app.server && !app.rr && !app.psync && !app.telemetry && !app.gateway);
  assert.is((app.server as { call?: unknown }).call, undefined, 'a server alone: no client');
  assert.equal(calls, ['SPI2.setup(sck=B13,miso=B14,mosi=B15,baud=4000000,mode=0)', 'setWatch(A8,falling)']);
  // The master: another chip, the same driver and piconet preset, and a request-reply client.
  const mChip = new Nrf24Chip(w.a, 'M');
  const mRadio = nrf24({
    spi: { send: (d, nss) => mChip.spiSend(d, nss) },
    pins: { digitalWrite: (_p, v) => mChip.digitalWrite(v), setWatch: (fn) => { mChip.setWatch(fn); return 1; } },
    csn: 'CSN_M', ce: 'CE_M', irq: 'IRQ_M', clock: w.sched, channel: 76,
  });
  const master = piconetMaster({ link: mRadio, clock: w.sched, rng: xoshiro(5), addr: 0x0101, config: piconetPico() });
  const client = rr({ mac: master, clock: w.sched, rng: xoshiro(6), config: PICO_RR });
  w.sched.runUntil(10_000); // the radios power up
  let paged: boolean | null = null;
  assert.ok(master.page(slave.addr, (ok) => { paged = ok; }));
  w.sched.runUntil(w.sched.now() + 600_000);
  assert.is(paged, true, 'the slave answered the page');
  assert.is(slave.state(), S_ACTIVE);
  assert.is(slave.master(), 0x0101);
  const results: [string, number, unknown][] = [];
  assert.is(client.call(slave.addr, OP_READ, undefined, null, (err, res) => results.push(['read', err, res])), RR_OK);
  assert.is(client.call(slave.addr, OP_ECHO, [7, 'x', 300], null, (err, res) => results.push(['echo', err, res])), RR_OK);
  w.sched.runUntil(w.sched.now() + 1_000_000);
  assert.equal(results.sort(), [['echo', RR_OK, [7, 'x', 300]], ['read', RR_OK, { t: 244, mv: 3301, f: 4321 }]]);
  // An operation it does not serve comes back as that error, not as a timeout.
  let unknown = -1;
  client.call(slave.addr, 9, undefined, null, (err) => { unknown = err; });
  w.sched.runUntil(w.sched.now() + 1_000_000);
  assert.is(unknown, RR_E_UNKNOWN_OP);
  assert.is(app.server!.stats.executions, 2);
  assert.is(app.server!.stats.requests, 3);
  assert.equal(chip.violations, []);
  assert.equal(mChip.violations, []);
});

test('pico-nrf24 as the full node: two nodes call each other over CSMA/CA and hold a Psync conversation', () => {
  const w = virtualWorld(12);
  const chipA = new Nrf24Chip(w.a, 'A');
  const chipB = new Nrf24Chip(w.a, 'B');
  const a: PicoRadio = w.make(() => create(pico(chipA, 'NODE-A-0001', []).g, 'node'));
  const b: PicoRadio = w.make(() => create(pico(chipB, 'NODE-B-0002', []).g, 'node'));
  assert.ok(a.rr && a.psync && !a.server && !a.telemetry && !a.gateway);
  assert.is.not(a.mac.addr, b.mac.addr);
  w.sched.runUntil(10_000);
  // Request-reply both ways.
  const results: [string, number, unknown][] = [];
  a.rr!.call(b.mac.addr, OP_READ, undefined, null, (err, res) => results.push(['a->b read', err, res]));
  b.rr!.call(a.mac.addr, OP_ECHO, { k: 1 }, null, (err, res) => results.push(['b->a echo', err, res]));
  w.sched.runUntil(w.sched.now() + 1_000_000);
  assert.equal(results.sort(), [['a->b read', RR_OK, { t: 244, mv: 3301, f: 4321 }], ['b->a echo', RR_OK, { k: 1 }]]);
  // A conversation: A opens it, B (waiting since create) joins on its SC and answers in its context.
  const got: Record<string, [number, number[]][]> = { a: [], b: [] };
  let bConv = -1;
  b.psync!.onOpen((conv) => { bConv = conv; });
  a.psync!.onDeliver((_c, sender, _seq, p, len) => got.a.push([sender, Array.from(p.subarray(0, len))]));
  b.psync!.onDeliver((_c, sender, _seq, p, len) => got.b.push([sender, Array.from(p.subarray(0, len))]));
  const conv = a.psync!.activeOpen([a.mac.addr, b.mac.addr], 2);
  assert.ok(conv >= 0, `activeOpen ${conv}`);
  const m1 = a.psync!.send(conv, Uint8Array.of(1, 2, 3), 3);
  assert.ok(m1 >= 0, `send ${m1}`);
  assert.is(midSender(m1), a.mac.addr);
  w.sched.runUntil(w.sched.now() + 500_000);
  assert.ok(bConv >= 0, 'B joined the conversation');
  assert.equal(got.b, [[a.mac.addr, [1, 2, 3]]]);
  const m2 = b.psync!.send(bConv, Uint8Array.of(4, 5), 2);
  assert.ok(m2 >= 0, `send ${m2}`);
  w.sched.runUntil(w.sched.now() + 500_000);
  assert.equal(got.a, [[b.mac.addr, [4, 5]]]);
  const prev: number[] = [];
  assert.is(a.psync!.prev(conv, m2, prev), 1);
  assert.equal(prev, [m1], "B's message was sent in the context of A's");
  assert.ok(a.psync!.stable(conv, m1), "A's first message is stable: both have it, and B sent after it");
  assert.equal(chipA.violations, []);
  assert.equal(chipB.violations, []);
});

test.run();

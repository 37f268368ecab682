// The Pico-with-nRF24L01+ board's create() against fakes of the Espruino built-ins it touches, its radio
// a register model of the chip (test/hal/espruino/nrf24-model.ts): SPI2 is set up on B13/B14/B15 in
// mode 0, the driver's pins are B10/B1/A8, and the telemetry it broadcasts through CSMA/CA reaches a
// gateway station on the same modelled air (another model chip, the driver and the MAC), which
// decodes the readings. The board runs on real timers (its clock reads getTime and setTimeout) and the
// air on a scheduler kept at the wall clock: about 1.6 s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { create, board } from '../../boards/pico-nrf24.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import { xoshiro } from '../../hal/prng.ts';
import { nrf24 } from '../../hal/espruino/nrf24.ts';
import { csma } from '../../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../../firmware/mac/csma/config.ts';
import { macPorts, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode } from '../../host/codec/cbor.ts';
import { air, Nrf24Chip } from '../hal/espruino/nrf24-model.ts';

test('pico-nrf24: SPI2 and pins as wired, readings broadcast over CSMA/CA reach a gateway on the air', async () => {
  const sched = scheduler();
  const a = air(sched);
  const t0 = performance.now();
  const sync = setInterval(() => sched.runUntil(Math.floor((performance.now() - t0) * 1000)), 1);
  // The board's chip: its CSN, CE and IRQ are the board's pins B10, B1 and A8.
  const chip = new Nrf24Chip(a, 'P');
  const calls: string[] = [];
  const g = globalThis as Record<string, unknown>;
  g.getTime = () => performance.now() / 1000;
  g.E = { hwRand: () => (Math.random() * 2 ** 32) | 0 };
  // The gateway: another chip with the driver and the MAC, on the scheduler's clock.
  const gwChip = new Nrf24Chip(a, 'G');
  const gwRadio = nrf24({
    spi: { send: (d, nss) => gwChip.spiSend(d, nss) },
    pins: { digitalWrite: (_p, v) => gwChip.digitalWrite(v), setWatch: (fn) => { gwChip.setWatch(fn); return 1; } },
    csn: 'CSN_G', ce: 'CE_G', irq: 'IRQ_G', clock: sched, channel: 76,
  });
  const gwMac = csma({ link: gwRadio, clock: sched, rng: xoshiro(3), addr: 0, config: CSMA_NRF24 });
  const readings: unknown[] = [];
  const from: number[] = [];
  macPorts(gwMac).port(SVC_TELEMETRY).onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const body = parseTelemetry(f, len, h);
    assert.ok(body > 0);
    from.push(h.src);
    readings.push(hostDecode(f.subarray(body, len)));
  });
  let app: ReturnType<typeof create> | null = null;
  try {
    app = create({
      getSerial: () => '33FFD9054D4E383423761743',
      E: { getTemperature: () => 24.37, getAnalogVRef: () => 3.301 },
      process: { memory: () => ({ free: 4321 }) },
      SPI2: {
        setup: (o) => calls.push(`SPI2.setup(sck=${String(o.sck)},miso=${String(o.miso)},mosi=${String(o.mosi)},baud=${o.baud},mode=${o.mode})`),
        send: (d, nss) => chip.spiSend(d, nss === 'B10' ? 'CSN_P' : nss),
      },
      digitalWrite: (pin, v) => { if (pin !== 'B1') chip.violations.push(`digitalWrite ${String(pin)}`); chip.digitalWrite(v); },
      setWatch: (fn, pin, o) => { calls.push(`setWatch(${String(pin)},${o.edge})`); chip.setWatch(fn); return 1; },
      B13: 'B13', B14: 'B14', B15: 'B15', B10: 'B10', B1: 'B1', A8: 'A8',
    });
    await new Promise((r) => setTimeout(r, 1600));
    app.telemetry.stop();
    assert.equal(calls, ['SPI2.setup(sck=B13,miso=B14,mosi=B15,baud=4000000,mode=0)', 'setWatch(A8,falling)']);
    assert.ok(readings.length >= 1, `readings at the gateway: ${readings.length}`);
    assert.equal(readings[0], { t: 244, mv: 3301, f: 4321 });
    assert.is(app.telemetry.stats.encodeErrors, 0);
    assert.ok(from[0] > 0 && from[0] < 0xff00);
    assert.is(app.radio.caps.mtu, board.mtu);
    assert.equal(chip.violations, []);
    assert.equal(gwChip.violations, []);
  } finally {
    clearInterval(sync);
    delete g.getTime;
    delete g.E;
  }
});

test.run();

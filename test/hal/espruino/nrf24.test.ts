// The nRF24L01+ driver (hal/espruino/nrf24.ts) against a register model of the chip written from its
// product specification (nrf24-model.ts), through exactly the Espruino API the driver calls (SPI.send
// with an nss pin, digitalWrite, setWatch): the set-up's register writes, in order, with the values the
// specification gives for no auto-acknowledgement, 5-byte addresses, 32-byte payloads and the chosen
// channel and data rate; the 1.5 ms before CE rises; frames between two chips, from 1 to 31 bytes, with
// one onSent each; carrier sense from RPD while the other chip transmits; another channel hears
// nothing; the model catching a register write made with CE high (so the tests can fail); and the
// driver, bundled, passing the Espruino language check the board bundles pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { checkEspruino } from '../../../host/build/espruino-check.ts';
import { NRF, NRF_PAYLOAD, nrf24 } from '../../../hal/espruino/nrf24.ts';
import type { Nrf24Link, Nrf24Options } from '../../../hal/espruino/nrf24.ts';
import { air, Nrf24Chip } from './nrf24-model.ts';
import type { Air } from './nrf24-model.ts';

function station(a: Air, name: string, o: Partial<Nrf24Options> = {}): { chip: Nrf24Chip; link: Nrf24Link } {
  const chip = new Nrf24Chip(a, name);
  const link = nrf24({
    spi: { send: (d, nss) => chip.spiSend(d, nss) },
    pins: {
      digitalWrite: (pin, v) => {
        if (pin !== 'CE_' + name) chip.violations.push(`digitalWrite on ${String(pin)}`);
        chip.digitalWrite(v);
      },
      setWatch: (fn, pin, opts) => {
        if (pin !== 'IRQ_' + name || !opts.repeat || opts.edge !== 'falling') chip.violations.push(`setWatch ${String(pin)} ${JSON.stringify(opts)}`);
        chip.setWatch(fn);
        return 1;
      },
    },
    csn: 'CSN_' + name, ce: 'CE_' + name, irq: 'IRQ_' + name, clock: a.sched, recordSetup: true, ...o,
  });
  return { chip, link };
}

test('set-up: the specification\'s registers, in order, with CE low; CE rises 1.5 ms after power-up', () => {
  const a = air(scheduler());
  const { chip, link } = station(a, 'A', { channel: 90, bitrate: 250_000 });
  const addr = [0xe7, 0xe7, 0xe7, 0xe7, 0xe7];
  // Addresses and values from the specification's register map, written out here rather than taken
  // from the driver's table, so a wrong address in the driver fails this test.
  const want = [
    [0x00, 0x0c], [0x01, 0], [0x02, 1], [0x03, 3], [0x04, 0], [0x05, 90],
    [0x06, 0x26], [0x07, 0x70], [0x0a, ...addr], [0x10, ...addr], [0x11, 32],
    [0x1c, 0], [0x1d, 0], [0x00, 0x0f],
  ];
  assert.equal(link.setupWrites, want);
  assert.equal(chip.writes, want, 'what reached the chip');
  // The model's register file, by the specification's addresses.
  assert.is(chip.regs[0x01], 0, 'EN_AA off');
  assert.is(chip.regs[0x04], 0, 'SETUP_RETR off');
  assert.is(chip.regs[0x05], 90);
  assert.is(chip.regs[0x11], NRF_PAYLOAD);
  assert.is(chip.ce, 0);
  a.sched.runUntil(1_499);
  assert.is(chip.ce, 0, 'not before the crystal has started');
  a.sched.runUntil(1_500);
  assert.is(chip.ce, 1);
  assert.equal(chip.violations, []);
  assert.equal(link.caps, { mtu: 31, bitrate: 250_000, medium: 'radio', carrierSense: true, broadcast: true });
  const b = station(air(scheduler()), 'B', { bitrate: 2_000_000 });
  assert.equal(b.link.setupWrites[6], [0x06, 0x0e], '2 Mbit/s: RF_DR_HIGH');
  assert.throws(() => station(air(scheduler()), 'C', { channel: 126 }), /channel must be 0\.\.125/);
  const d = station(air(scheduler()), 'D', { recordSetup: false });
  assert.equal(d.link.setupWrites, [], 'not recorded unless asked');
  assert.equal(d.chip.writes, want.map((w) => (w[0] === 0x05 ? [0x05, 76] : w)), 'the same set-up either way');
});

test('frames of 1 to 31 bytes between two chips, one onSent each; 32 bytes refused', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  const got: number[][] = [];
  B.link.onReceive((f, len) => got.push(Array.from(f.subarray(0, len))));
  let sent = 0;
  A.link.onSent((st) => { assert.is(st, 0); sent++; });
  a.sched.runUntil(2_000);
  const frames = [[7], Array.from({ length: 31 }, (_, i) => 255 - i), [1, 2, 3, 0, 0, 9]];
  let t = 2_000;
  for (const f of frames) {
    a.sched.at(t, () => assert.ok(A.link.send(Uint8Array.from(f), f.length)));
    t += 5_000;
  }
  a.sched.runUntil(t + 5_000);
  assert.equal(got, frames);
  assert.is(sent, 3);
  assert.is(A.link.stats.sent, 3);
  assert.is(B.link.stats.received, 3);
  assert.not.ok(A.link.send(new Uint8Array(32), 32), 'over the mtu');
  assert.not.ok(A.link.send(new Uint8Array(1), 0), 'empty');
  assert.equal(A.chip.violations, []);
  assert.equal(B.chip.violations, []);
});

test('send refuses a second frame while one is on the air; carrier sense sees the other chip (RPD)', () => {
  const a = air(scheduler());
  const A = station(a, 'A');
  const B = station(a, 'B');
  a.sched.runUntil(2_000);
  assert.not.ok(B.link.busy(), 'a quiet channel');
  assert.ok(A.link.send(Uint8Array.of(1, 2, 3), 3));
  assert.not.ok(A.link.send(Uint8Array.of(4), 1), 'one at a time');
  assert.ok(A.link.busy(), 'our own transmission');
  a.sched.runUntil(2_000 + 500);
  assert.ok(B.link.busy(), 'B hears A\'s carrier');
  a.sched.runUntil(10_000);
  assert.not.ok(A.link.busy());
  assert.not.ok(B.link.busy());
  assert.is(B.link.stats.received, 1);
});

test('a chip on another channel hears nothing; a register written with CE high is caught by the model', () => {
  const a = air(scheduler());
  const A = station(a, 'A', { channel: 10 });
  const B = station(a, 'B', { channel: 11 });
  a.sched.runUntil(2_000);
  A.link.send(Uint8Array.of(5), 1);
  a.sched.runUntil(10_000);
  assert.is(B.link.stats.received, 0);
  // The rule the driver keeps, broken on purpose: W_REGISTER while in RX (CE high).
  assert.is(B.chip.ce, 1);
  B.chip.spiSend(Uint8Array.of(NRF.W_REGISTER | NRF.RF_CH, 10), 'CSN_B');
  assert.match(B.chip.violations.join(), /W_REGISTER 0x5 while CE is high/);
});

test('the driver stays inside the JavaScript Espruino runs (the bundle gate\'s check)', async () => {
  const here = import.meta.dirname;
  const out = await build({
    stdin: { contents: `import { nrf24 } from ${JSON.stringify(resolve(here, '../../../hal/espruino/nrf24.ts'))};\nglobalThis.N = nrf24;`, loader: 'js', resolveDir: here },
    bundle: true, format: 'iife', target: 'es2017', write: false,
  });
  assert.equal(checkEspruino(out.outputFiles[0].text), []);
});

test.run();

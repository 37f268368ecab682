// hal/espruino/pins.ts against fakes of Espruino's built-ins that record every call: the scaling of
// analog values, PWM duty and servo pulses, pull-ups for digitalWrite on inputs, I2C through the
// table's bus, and a bus error passed up (the pins service answers it as a handler failure).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CAPS_ANALOG, CAPS_PWM, espruinoPins } from '../../../hal/espruino/pins.ts';
import { MODE_INPUT, MODE_OUTPUT } from '../../../firmware/services/pins.ts';

function fake() {
  const calls: unknown[][] = [];
  const io = {
    pinMode: (p: unknown, m: string) => { calls.push(['pinMode', p, m]); },
    digitalWrite: (p: unknown, v: number) => { calls.push(['digitalWrite', p, v]); },
    digitalRead: (p: unknown) => (p === 'B3' ? 1 : 0),
    analogRead: () => 0.5,
    analogWrite: (p: unknown, v: number, o: { freq: number }) => { calls.push(['analogWrite', p, v, o.freq]); },
  };
  const i2c = {
    setup: (o: unknown) => { calls.push(['setup', o]); },
    writeTo: (a: number, d: Uint8Array) => { calls.push(['writeTo', a, [...d]]); },
    readFrom: (a: number, n: number) => {
      if (a !== 0x48) throw new Error('I2C Error: no ACK');
      return new Uint8Array(n).map((_, i) => i + 1);
    },
  };
  const hal = espruinoPins({ pins: ['B3', 'A5'], caps: [CAPS_PWM, CAPS_ANALOG], io, i2c, scl: 'B6', sda: 'B7' });
  return { hal, calls };
}

test('pins, modes and values map to Espruino\'s built-ins', () => {
  const { hal, calls } = fake();
  assert.is(hal.count, 2);
  assert.is(hal.caps(1), CAPS_ANALOG);
  assert.is(hal.caps(2), 0);
  hal.mode(0, MODE_OUTPUT);
  hal.write(0, 1);
  hal.mode(0, MODE_INPUT);
  hal.write(0, 1);
  hal.pwm(0, 255);
  hal.servo(0, 1500);
  assert.is(hal.read(0), 1);
  assert.is(hal.analogRead(1), 512);
  assert.equal(calls, [
    ['pinMode', 'B3', 'output'], ['digitalWrite', 'B3', 1], ['pinMode', 'B3', 'input'], ['pinMode', 'B3', 'input_pullup'],
    ['analogWrite', 'B3', 1, 1000], ['analogWrite', 'B3', 0.075, 50],
  ]);
});

test('I2C goes through the table\'s bus; a bus error is thrown', () => {
  const { hal, calls } = fake();
  hal.i2cSetup(400000);
  hal.i2cWrite(0x48, new Uint8Array([1, 2, 3]), 2);
  const out = new Uint8Array(4);
  hal.i2cRead(0x48, out, 3);
  assert.equal([...out], [1, 2, 3, 0]);
  assert.equal(calls, [['setup', { scl: 'B6', sda: 'B7', bitrate: 400000 }], ['writeTo', 0x48, [1, 2]]]);
  assert.throws(() => hal.i2cRead(0x50, out, 1), /no ACK/);
});

test.run();

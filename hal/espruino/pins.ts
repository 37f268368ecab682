// The pins service's hardware on an Espruino board (firmware/services/pins.ts, PinsHal): Espruino's
// built-ins, as its reference documents them (src/jswrap_io.c, src/jswrap_spi_i2c.c, Espruino 2v29):
//   pinMode(pin, "input" | "input_pullup" | "input_pulldown" | "output" | "analog"), digitalWrite(pin, 0|1),
//   digitalRead(pin) -> 0|1, analogRead(pin) -> 0..1 (a float), analogWrite(pin, 0..1, { freq }) (PWM;
//   with freq given it is PWM even on a DAC pin), and an I2C object (I2C1...): setup({ scl, sda,
//   bitrate }), writeTo(addr, data), readFrom(addr, n) -> Uint8Array. They throw on a bad pin or a bus
//   error (no acknowledgement), which the service answers as a handler failure.
// The board gives a table: the pins in the order the host numbers them, the modes each supports (bits
// of MODE_*: the board's reference page says which pins have PWM and ADC), and the I2C object and its
// pins. Mapping: 10-bit analog values (analogRead x 1023), 8-bit PWM duty (v / 255, at pwmHz), servo
// pulses as PWM at 50 Hz (us / 20 000 of the period), digitalWrite in INPUT mode chooses the pull-up
// (1) or pull-down (0), as Arduino's pull-up does. Espruino's API comes in as a parameter (tests pass
// fakes), so nothing here reads a global. Board code.

import type { PinsHal } from '../../firmware/services/pins.ts';
import { MODE_ANALOG, MODE_INPUT, MODE_OUTPUT, MODE_PWM, MODE_SERVO } from '../../firmware/services/pins.ts';
import type { EspruinoPin } from './espruino.d.ts';

export interface EspruinoPinIo {
  pinMode(pin: EspruinoPin, mode: string): void;
  digitalWrite(pin: EspruinoPin, v: number): void;
  digitalRead(pin: EspruinoPin): number;
  analogRead(pin: EspruinoPin): number;
  analogWrite(pin: EspruinoPin, v: number, opts: { freq: number }): void;
}

export interface EspruinoI2c {
  setup(o: { scl: EspruinoPin; sda: EspruinoPin; bitrate?: number }): void;
  writeTo(addr: number, data: Uint8Array): void;
  readFrom(addr: number, n: number): Uint8Array;
}

export interface EspruinoPinTable {
  /** The pins, indexed as the host sees them. */
  pins: EspruinoPin[];
  /** Modes of each pin: bit m for MODE_* m. */
  caps: number[];
  io: EspruinoPinIo;
  i2c?: EspruinoI2c;
  scl?: EspruinoPin;
  sda?: EspruinoPin;
  /** PWM frequency for analogWrite, Hz (default 1000). */
  pwmHz?: number;
}

const MODE_NAMES = ['input', 'output', 'analog', 'output', 'output'];

export function espruinoPins(t: EspruinoPinTable): PinsHal {
  const io = t.io;
  const modes = new Uint8Array(t.pins.length);
  const pwmOpts = { freq: t.pwmHz || 1000 };
  const servoOpts = { freq: 50 };
  function i2c(): EspruinoI2c {
    if (!t.i2c) throw new Error('pins: this board has no I2C bus in its pin table');
    return t.i2c;
  }
  return {
    count: t.pins.length,
    caps: function (p: number): number {
      return p >= 0 && p < t.caps.length ? t.caps[p] : 0;
    },
    mode: function (p: number, m: number): void {
      modes[p] = m;
      io.pinMode(t.pins[p], MODE_NAMES[m]);
    },
    write: function (p: number, v: number): void {
      if (modes[p] === MODE_INPUT) io.pinMode(t.pins[p], v ? 'input_pullup' : 'input_pulldown');
      else io.digitalWrite(t.pins[p], v);
    },
    read: function (p: number): number {
      return io.digitalRead(t.pins[p]) ? 1 : 0;
    },
    analogRead: function (p: number): number {
      return Math.round(io.analogRead(t.pins[p]) * 1023);
    },
    pwm: function (p: number, v: number): void {
      io.analogWrite(t.pins[p], v / 255, pwmOpts);
    },
    servo: function (p: number, us: number): void {
      io.analogWrite(t.pins[p], us / 20000, servoOpts);
    },
    i2cSetup: function (bitrate: number): void {
      if (t.scl === undefined || t.sda === undefined) throw new Error('pins: the pin table names no I2C pins (scl, sda)');
      i2c().setup(bitrate > 0 ? { scl: t.scl, sda: t.sda, bitrate: bitrate } : { scl: t.scl, sda: t.sda });
    },
    i2cWrite: function (addr: number, data: Uint8Array, len: number): void {
      i2c().writeTo(addr, len === data.length ? data : data.subarray(0, len));
    },
    i2cRead: function (addr: number, out: Uint8Array, n: number): void {
      const got = i2c().readFrom(addr, n);
      for (let i = 0; i < n; i++) out[i] = i < got.length ? got[i] : 0;
    },
  };
}

/** The modes of a plain digital pin, of one with PWM too, and of an analog input (for pin tables). */
export const CAPS_DIGITAL = (1 << MODE_INPUT) | (1 << MODE_OUTPUT) | (1 << MODE_SERVO);
export const CAPS_PWM = CAPS_DIGITAL | (1 << MODE_PWM);
export const CAPS_ANALOG = (1 << MODE_INPUT) | (1 << MODE_OUTPUT) | (1 << MODE_ANALOG);

// Virtual pins for simulated devices: the PinsHal (firmware/services/pins.ts) a simulated board serves
// its pins service from, laid out like an Arduino Uno so johnny-five programs written for one read
// naturally: pins 0..13 digital (INPUT, OUTPUT, SERVO; PWM on 3, 5, 6, 9, 10, 11; the LED on 13),
// pins 14..19 the analog inputs A0..A5 (INPUT, OUTPUT, ANALOG).
//
// Behaviour, chosen so a test can check both directions:
// - a pin written reads back (an output, or an input's pull-up); a test drives an input from outside
//   with drive(p, v) (a button), which wins over what was written until drive(p, null);
// - an analog input follows a triangle wave of virtual time (0..1023; channel c has period 2 + c/2 s
//   and starts at c * 100), unless a test sets a value or a function of time with setAnalog;
// - an I2C device at I2C_ADDR (0x48) with 256 one-byte registers and a register pointer that
//   auto-increments: a write's first byte sets the pointer and the rest are written from there; a read
//   starts at the pointer. Registers 0 and 1 hold virtual time in ms / 16 (big-endian), changing as a
//   sensor's would. Any other address has no device: the access throws, as Espruino's I2C does.
// Host only (the simulator's side of the board); every change is counted for tests.

import type { Clock } from '../../hal/clock.ts';
import type { PinsHal } from '../../firmware/services/pins.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import { MODE_ANALOG, MODE_INPUT, MODE_OUTPUT, MODE_PWM, MODE_SERVO } from '../../firmware/services/pins.ts';

export const VIRTUAL_PIN_COUNT = 20;
export const VIRTUAL_ANALOG_FIRST = 14;
export const VIRTUAL_PWM_PINS = [3, 5, 6, 9, 10, 11];
export const VIRTUAL_LED = 13;
export const I2C_ADDR = 0x48;

export interface VirtualPinState {
  mode: number;
  /** Last digital value written (output, or pull-up). */
  out: number;
  /** External drive of an input (a button), or null. */
  drive: number | null;
  /** Last PWM duty (0..255) and servo pulse (µs) written; -1 before any. */
  pwm: number;
  servo: number;
  /** Changes of the digital output (0 <-> 1) written, and every write of any kind. */
  toggles: number;
  writes: number;
}

export interface VirtualPins extends PinsHal {
  pin(p: number): VirtualPinState;
  /** Drive input p from outside (0 or 1), or release it (null). */
  drive(p: number, v: number | null): void;
  /** Fix analog input p to a value, a function of virtual time (µs), or back to the wave (null). */
  setAnalog(p: number, v: number | ((tUs: number) => number) | null): void;
  /** What analog input p reads now. */
  analogNow(p: number): number;
  /** The I2C device's registers, and how often the bus was configured. */
  readonly i2cRegs: Uint8Array;
  readonly i2cSetups: number;
}

function capsOf(p: number): number {
  if (p >= VIRTUAL_ANALOG_FIRST) return (1 << MODE_INPUT) | (1 << MODE_OUTPUT) | (1 << MODE_ANALOG);
  let c = (1 << MODE_INPUT) | (1 << MODE_OUTPUT) | (1 << MODE_SERVO);
  if (VIRTUAL_PWM_PINS.includes(p)) c |= 1 << MODE_PWM;
  return c;
}

export function virtualPins(clock: Clock): VirtualPins {
  const pins: VirtualPinState[] = [];
  for (let p = 0; p < VIRTUAL_PIN_COUNT; p++) pins.push({ mode: MODE_INPUT, out: 0, drive: null, pwm: -1, servo: -1, toggles: 0, writes: 0 });
  const analog: (number | ((tUs: number) => number) | null)[] = new Array(VIRTUAL_PIN_COUNT).fill(null);
  const regs = new Uint8Array(256);
  let pointer = 0;
  let setups = 0;

  function check(p: number): VirtualPinState {
    if (!(Number.isInteger(p) && p >= 0 && p < VIRTUAL_PIN_COUNT)) throw new Error(`virtual pins: no pin ${p} (0..${VIRTUAL_PIN_COUNT - 1})`);
    return pins[p];
  }
  function wave(p: number, tUs: number): number {
    const c = p - VIRTUAL_ANALOG_FIRST;
    const period = 2_000_000 + c * 500_000;
    const x = ((tUs + c * 100 * (period / 2046)) % period) / period; // 0..1
    return Math.round(x < 0.5 ? x * 2 * 1023 : (1 - x) * 2 * 1023);
  }
  function analogNow(p: number): number {
    check(p);
    const a = analog[p];
    if (typeof a === 'number') return a;
    if (typeof a === 'function') return Math.max(0, Math.min(1023, Math.round(a(clock.now()))));
    return p >= VIRTUAL_ANALOG_FIRST ? wave(p, clock.now()) : 0;
  }
  function timeRegs(): void {
    const t = Math.floor(clock.now() / 16_000) & 0xffff;
    regs[0] = t >> 8;
    regs[1] = t & 0xff;
  }
  function device(addr: number): void {
    if (addr !== I2C_ADDR) throw new Error(`I2C: no device answers at 0x${addr.toString(16)}`);
  }

  return {
    count: VIRTUAL_PIN_COUNT,
    caps: (p) => (p >= 0 && p < VIRTUAL_PIN_COUNT ? capsOf(p) : 0),
    mode(p, m) {
      check(p).mode = m;
    },
    write(p, v) {
      const s = check(p);
      if (s.out !== v) s.toggles++;
      s.out = v;
      s.writes++;
    },
    read(p) {
      const s = check(p);
      return s.drive ?? s.out;
    },
    analogRead: analogNow,
    pwm(p, v) {
      const s = check(p);
      s.pwm = v;
      s.writes++;
    },
    servo(p, us) {
      const s = check(p);
      s.servo = us;
      s.writes++;
    },
    i2cSetup() {
      setups++;
    },
    i2cWrite(addr, data, len) {
      device(addr);
      if (len < 1) return;
      pointer = data[0];
      for (let i = 1; i < len; i++) {
        if (pointer > 1) regs[pointer] = data[i]; // registers 0 and 1 are the clock's: read-only
        pointer = (pointer + 1) & 0xff;
      }
    },
    i2cRead(addr, out, n) {
      device(addr);
      timeRegs();
      for (let i = 0; i < n; i++) {
        out[i] = regs[pointer];
        pointer = (pointer + 1) & 0xff;
      }
    },
    pin: check,
    drive(p, v) {
      check(p).drive = v;
    },
    setAnalog(p, v) {
      check(p);
      analog[p] = v;
    },
    analogNow,
    i2cRegs: regs,
    get i2cSetups() {
      return setups;
    },
  };
}

/**
 * A sim board create() whose sensors carry virtual pins (and so serve the pins service); other roles
 * as they are. `made` is told each sensor's address and pins.
 */
export function withVirtualPins(create: (env: SimEnv) => SimDevice, made?: (id: number, pins: VirtualPins) => void): (env: SimEnv) => SimDevice {
  return (env) => {
    if (env.role !== 'sensor' || env.pins) return create(env);
    const pins = virtualPins(env.clock);
    made?.(env.id, pins);
    return create({ ...env, pins });
  };
}

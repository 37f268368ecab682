// The pins service: a device's pins, analog inputs, PWM, servos and I2C bus offered over request-reply,
// for a host program to drive them (host/j5/ is a johnny-five IO plugin built on it). The board hands
// in a small PinsHal: on Espruino the built-ins (hal/espruino/pins.ts), on simulated devices virtual
// pins (host/sim/virtual-pins.ts). This file touches no hardware.
//
// Operations (arguments and results in CBOR; pins are indices 0..count-1 of the board's table):
//   OP_PINS_INFO     first                 -> bytes: the modes of pins first.. (PINS_PAGE at most; bit m set:
//                                             mode m supported; a short page is the last)
//   OP_PIN_MODE      [pin, mode]           -> null   (MODE_*: INPUT 0, OUTPUT 1, ANALOG 2, PWM 3, SERVO 4,
//                                             johnny-five's numbers; a mode the pin lacks: bad arguments)
//   OP_DIGITAL_WRITE [pin, 0|1]            -> null   (in INPUT mode: the pull-up, 1, or pull-down, 0)
//   OP_DIGITAL_READ  pin                   -> 0|1
//   OP_ANALOG_WRITE  [pin, 0..255]         -> null   (PWM duty)
//   OP_ANALOG_READ   pin                   -> 0..1023
//   OP_SERVO_WRITE   [pin, µs 400..2600]   -> null   (pulse width, repeated at 50 Hz by the board)
//   OP_I2C_CONFIG    bitrate (0: default)  -> null
//   OP_I2C_WRITE     [addr, bytes]         -> null
//   OP_I2C_READ      [addr, reg, n]        -> bytes  (reg -1: no register write first; n 1..PINS_I2C_MAX)
//   OP_REPORT        [kind, pin|addr, periodMs, reg?, n?] -> null  (periodMs 0 stops that report)
//   OP_REPORT_STOP   null                  -> reports stopped (every report of the caller)
// Writes are at-most-once (not idempotent: a late duplicate of an old write must not undo a newer
// one, so the history filters it); reads and OP_PINS_INFO are idempotent.
//
// Reports: instead of being polled one call at a time, the device samples a pin (or an I2C register)
// every period and sends what it read to the requester as R calls to OP_EVENT (the bridge's event
// operation, firmware/services/directory.ts; a host on the device network serves it itself). The
// event is [kind, pin|addr, seq, value] (I2C: value is the bytes, then the register unless -1):
// REPORT_ANALOG and REPORT_I2C every period; REPORT_DIGITAL when the value changes, sent again on the
// next PINS_REPEATS samples and every refreshUs anyway, so a lost R message (R has no retry) is made
// good soon and a host that missed a change learns the state within refreshUs. seq counts the entry's
// reports (u8), so a host drops a copy or an older report that the network delivered late. R rather
// than RR: a report is superseded by the next one, and an RR retrying for seconds would hold the
// client's 16-id window and stall every other report meanwhile.
// Bounds: `reports` entries (PINS_DEFAULTS), keyed by (requester, kind, pin|addr, reg); one more is
// refused with BUSY. Each entry has a lease (leaseUs) that the requester renews by asking again; an
// entry not renewed is dropped, so a host that went away stops costing radio time. Periods are
// clamped to minPeriodUs.
// Board code: entry tables are typed arrays allocated at creation, one event array reused for every
// report (call() encodes it at once), one timer for every entry, handlers bound once.

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Rr } from '../rr/rr.ts';
import { RR_E_BAD_ARGS, RR_E_BUSY, RR_E_HANDLER, RR_OK } from '../rr/rr.ts';
import { PROTO_R } from '../rr/frame.ts';
import { OP_EVENT } from './directory.ts';

export const MODE_INPUT = 0;
export const MODE_OUTPUT = 1;
export const MODE_ANALOG = 2;
export const MODE_PWM = 3;
export const MODE_SERVO = 4;

export const OP_PINS_INFO = 64;
export const OP_PIN_MODE = 65;
export const OP_DIGITAL_WRITE = 66;
export const OP_DIGITAL_READ = 67;
export const OP_ANALOG_WRITE = 68;
export const OP_ANALOG_READ = 69;
export const OP_SERVO_WRITE = 70;
export const OP_I2C_CONFIG = 71;
export const OP_I2C_WRITE = 72;
export const OP_I2C_READ = 73;
export const OP_REPORT = 74;
export const OP_REPORT_STOP = 75;

export const REPORT_DIGITAL = 0;
export const REPORT_ANALOG = 1;
export const REPORT_I2C = 2;

/** Pins described per OP_PINS_INFO reply (fits a 19-byte reply body with its byte-string head). */
export const PINS_PAGE = 16;
/** Most bytes one I2C read or write carries. */
export const PINS_I2C_MAX = 16;
/** Most bytes an I2C report carries: the event must fit the 32-byte radio's request (15 bytes of CBOR). */
export const PINS_I2C_REPORT_MAX = 6;
/** Digital reports: a change is sent again on this many following samples. */
export const PINS_REPEATS = 2;

/** What the board provides. Every method may throw on a hardware error (the call answers HANDLER). */
export interface PinsHal {
  /** Pins 0..count-1. */
  count: number;
  /** Modes pin p supports: bit m for MODE_* m; 0 for a pin that cannot be used. */
  caps(p: number): number;
  /** Put pin p in mode m (one it supports). */
  mode(p: number, m: number): void;
  /** Digital output; in INPUT mode 1 turns the pull-up on, 0 the pull-down (or off). */
  write(p: number, v: number): void;
  /** Digital input, 0 or 1. */
  read(p: number): number;
  /** Analog input, 0..1023. */
  analogRead(p: number): number;
  /** PWM output, duty 0..255 of 255. */
  pwm(p: number, v: number): void;
  /** Servo pulses of `us` microseconds at 50 Hz. */
  servo(p: number, us: number): void;
  /** Set the I2C bus up (bitrate 0: the board's default). */
  i2cSetup(bitrate: number): void;
  /** Write data[0..len) to the device at 7-bit address addr. */
  i2cWrite(addr: number, data: Uint8Array, len: number): void;
  /** Read n bytes from the device at addr into out[0..n). */
  i2cRead(addr: number, out: Uint8Array, n: number): void;
}

export interface PinsConfig {
  /** Report entries (all requesters together). */
  reports: number;
  /** Shortest report period, µs. */
  minPeriodUs: number;
  /** A report not asked for again within this long is dropped, µs. */
  leaseUs: number;
  /** A digital report is sent at least this often even without a change, µs. */
  refreshUs: number;
}

export const PINS_DEFAULTS: PinsConfig = { reports: 8, minPeriodUs: 10000, leaseUs: 30000000, refreshUs: 1000000 };

export interface PinsStats {
  /** Operations run (every op of this service). */
  ops: number;
  /** Reports sent, and reports that could not go (every call slot busy, or the MAC queue full). */
  reported: number;
  skipped: number;
  /** Entries dropped because their lease ran out. */
  expired: number;
}

export interface PinsService {
  readonly stats: PinsStats;
  /** Report entries in use. */
  active(): number;
  stop(): void;
}

function isInt(x: unknown, lo: number, hi: number): boolean {
  return typeof x === 'number' && x >= lo && x <= hi && Math.floor(x) === x;
}

export function pinsService(r: Rr, clock: Clock, hal: PinsHal, config?: PinsConfig): PinsService {
  const cfg = config || PINS_DEFAULTS;
  const n = cfg.reports;
  // Entry k is free when eKind[k] is 0; else eKind[k] - 1 is its REPORT_* kind.
  const eKind = new Uint8Array(n);
  const eDst = new Uint16Array(n);
  const eId = new Uint16Array(n);
  const eReg = new Int16Array(n);
  const eLen = new Uint8Array(n);
  const eSeq = new Uint8Array(n);
  const eRepeat = new Uint8Array(n);
  const eLast = new Int16Array(n);
  const ePeriod = new Float64Array(n);
  const eNext = new Float64Array(n);
  const eExpire = new Float64Array(n);
  const eRefresh = new Float64Array(n);
  const i2cAll = new Uint8Array(n * PINS_I2C_REPORT_MAX);
  const eView: (Uint8Array | null)[] = [];
  for (let k = 0; k < n; k++) eView.push(null);
  const i2cBuf = new Uint8Array(PINS_I2C_MAX);
  const info = new Uint8Array(PINS_PAGE);
  const ev: unknown[] = [0, 0, 0, 0];
  const evReg: unknown[] = [0, 0, 0, 0, 0];
  const rOpts = { proto: PROTO_R };
  const stats: PinsStats = { ops: 0, reported: 0, skipped: 0, expired: 0 };
  let timer: Timer | null = null;
  let timerAt = Infinity;
  let stopped = false;

  function pinOk(p: unknown, mode: number): boolean {
    return isInt(p, 0, hal.count - 1) && ((hal.caps(p as number) >> mode) & 1) === 1;
  }

  function arm(): void {
    let next = Infinity;
    for (let k = 0; k < n; k++) if (eKind[k] !== 0 && eNext[k] < next) next = eNext[k];
    if (next === timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timer = null;
    timerAt = next;
    if (next !== Infinity && !stopped) timer = clock.at(next, tick);
  }

  function sent(err: number): void {
    if (err !== RR_OK) stats.skipped++;
  }

  /** Send entry k's report of `value`; false when it could not go now. */
  function report(k: number, value: unknown): boolean {
    const kind = eKind[k] - 1;
    const a = kind === REPORT_I2C && eReg[k] >= 0 ? evReg : ev;
    a[0] = kind;
    a[1] = eId[k];
    a[2] = (eSeq[k] + 1) & 0xff;
    a[3] = value;
    if (a === evReg) a[4] = eReg[k];
    if (r.call(eDst[k], OP_EVENT, a, rOpts, sent) !== RR_OK) {
      stats.skipped++;
      return false;
    }
    eSeq[k] = (eSeq[k] + 1) & 0xff;
    stats.reported++;
    return true;
  }

  function sample(k: number, now: number): void {
    const kind = eKind[k] - 1;
    const id = eId[k];
    if (kind === REPORT_DIGITAL) {
      const v = hal.read(id);
      if (v !== eLast[k]) {
        eLast[k] = v;
        eRepeat[k] = PINS_REPEATS + 1;
      }
      if (eRepeat[k] > 0 || now >= eRefresh[k]) {
        if (report(k, v)) {
          if (eRepeat[k] > 0) eRepeat[k]--;
          eRefresh[k] = now + cfg.refreshUs;
        }
      }
    } else if (kind === REPORT_ANALOG) {
      report(k, hal.analogRead(id));
    } else {
      const view = eView[k] as Uint8Array;
      if (eReg[k] >= 0) {
        i2cBuf[0] = eReg[k];
        hal.i2cWrite(id, i2cBuf, 1);
      }
      hal.i2cRead(id, view, eLen[k]);
      report(k, view);
    }
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    const now = clock.now();
    for (let k = 0; k < n; k++) {
      if (eKind[k] === 0 || eNext[k] > now) continue;
      if (eExpire[k] <= now) {
        eKind[k] = 0;
        stats.expired++;
        continue;
      }
      try {
        sample(k, now);
      } catch (e) {
        stats.skipped++; // a hardware error on this sample: the next one tries again
      }
      eNext[k] += ePeriod[k];
      if (eNext[k] <= now) eNext[k] = now + ePeriod[k]; // fell behind: do not send a burst to catch up
    }
    arm();
  }

  function find(src: number, kind: number, id: number, reg: number): number {
    for (let k = 0; k < n; k++) if (eKind[k] === kind + 1 && eDst[k] === src && eId[k] === id && eReg[k] === reg) return k;
    return -1;
  }

  /** [kind, pin|addr, periodMs, reg?, n?] */
  function onReport(args: unknown, req: number, src: number): void {
    const a = args as unknown[];
    if (!Array.isArray(a) || !isInt(a[0], 0, 2) || !isInt(a[2], 0, 3600000)) return r.reply(req, RR_E_BAD_ARGS);
    const kind = a[0] as number;
    const id = a[1] as number;
    let reg = -1;
    let len = 0;
    if (kind === REPORT_I2C) {
      if (!isInt(id, 0, 127) || !isInt(a[4], 1, PINS_I2C_REPORT_MAX) || !(a[3] === undefined || isInt(a[3], -1, 255))) return r.reply(req, RR_E_BAD_ARGS);
      reg = a[3] === undefined ? -1 : a[3] as number;
      len = a[4] as number;
    } else if (!pinOk(id, kind === REPORT_ANALOG ? MODE_ANALOG : MODE_INPUT)) return r.reply(req, RR_E_BAD_ARGS);
    const periodMs = a[2] as number;
    let k = find(src, kind, id, reg);
    if (periodMs === 0) {
      if (k >= 0) eKind[k] = 0;
      arm();
      return r.reply(req, RR_OK, null);
    }
    const now = clock.now();
    const period = Math.max(periodMs * 1000, cfg.minPeriodUs);
    if (k < 0) {
      k = 0;
      while (k < n && eKind[k] !== 0) k++;
      if (k === n) return r.reply(req, RR_E_BUSY);
      eKind[k] = kind + 1;
      eDst[k] = src;
      eId[k] = id;
      eReg[k] = reg;
      eSeq[k] = 0;
      eLast[k] = -1;
      eRepeat[k] = 0;
      eRefresh[k] = now;
      eNext[k] = now;
    }
    if (kind === REPORT_I2C && eLen[k] !== len) {
      eView[k] = i2cAll.subarray(k * PINS_I2C_REPORT_MAX, k * PINS_I2C_REPORT_MAX + len);
    }
    eLen[k] = len;
    ePeriod[k] = period;
    eExpire[k] = now + cfg.leaseUs;
    if (eNext[k] > now + period) eNext[k] = now + period;
    arm();
    r.reply(req, RR_OK, null);
  }

  function onStop(args: unknown, req: number, src: number): void {
    let c = 0;
    for (let k = 0; k < n; k++) {
      if (eKind[k] !== 0 && eDst[k] === src) {
        eKind[k] = 0;
        c++;
      }
    }
    arm();
    r.reply(req, RR_OK, c);
  }

  function onInfo(args: unknown, req: number): void {
    if (!isInt(args, 0, 0xffff)) return r.reply(req, RR_E_BAD_ARGS);
    const first = args as number;
    let c = 0;
    while (c < PINS_PAGE && first + c < hal.count) {
      info[c] = hal.caps(first + c);
      c++;
    }
    r.reply(req, RR_OK, info.subarray(0, c));
  }

  /** The [pin, value] pair of a write, checked: the pin supports `mode`, the value is in lo..hi. */
  function pair(args: unknown, mode: number, lo: number, hi: number): boolean {
    const a = args as unknown[];
    return Array.isArray(a) && a.length === 2 && pinOk(a[0], mode) && isInt(a[1], lo, hi);
  }

  function onMode(args: unknown, req: number): void {
    const a = args as number[];
    if (!(Array.isArray(a) && a.length === 2 && isInt(a[1], 0, 4) && pinOk(a[0], a[1]))) return r.reply(req, RR_E_BAD_ARGS);
    hal.mode(a[0], a[1]);
    r.reply(req, RR_OK, null);
  }

  function onWrite(args: unknown, req: number): void {
    // A digital write goes to an output, or sets an input's pull-up: any pin with INPUT or OUTPUT.
    const a = args as number[];
    if (!(pair(args, MODE_OUTPUT, 0, 1) || pair(args, MODE_INPUT, 0, 1))) return r.reply(req, RR_E_BAD_ARGS);
    hal.write(a[0], a[1]);
    r.reply(req, RR_OK, null);
  }

  function onRead(args: unknown, req: number): void {
    if (!pinOk(args, MODE_INPUT)) return r.reply(req, RR_E_BAD_ARGS);
    r.reply(req, RR_OK, hal.read(args as number));
  }

  function onPwm(args: unknown, req: number): void {
    const a = args as number[];
    if (!pair(args, MODE_PWM, 0, 255)) return r.reply(req, RR_E_BAD_ARGS);
    hal.pwm(a[0], a[1]);
    r.reply(req, RR_OK, null);
  }

  function onAnalogRead(args: unknown, req: number): void {
    if (!pinOk(args, MODE_ANALOG)) return r.reply(req, RR_E_BAD_ARGS);
    r.reply(req, RR_OK, hal.analogRead(args as number));
  }

  function onServo(args: unknown, req: number): void {
    const a = args as number[];
    if (!pair(args, MODE_SERVO, 400, 2600)) return r.reply(req, RR_E_BAD_ARGS);
    hal.servo(a[0], a[1]);
    r.reply(req, RR_OK, null);
  }

  function onI2cConfig(args: unknown, req: number): void {
    if (!(args === null || args === undefined || isInt(args, 0, 3400000))) return r.reply(req, RR_E_BAD_ARGS);
    hal.i2cSetup(args ? args as number : 0);
    r.reply(req, RR_OK, null);
  }

  function onI2cWrite(args: unknown, req: number): void {
    const a = args as unknown[];
    if (!(Array.isArray(a) && a.length === 2 && isInt(a[0], 0, 127) && a[1] instanceof Uint8Array)) return r.reply(req, RR_E_BAD_ARGS);
    const d = a[1] as Uint8Array;
    if (!(d.length >= 1 && d.length <= PINS_I2C_MAX)) return r.reply(req, RR_E_BAD_ARGS);
    hal.i2cWrite(a[0] as number, d, d.length);
    r.reply(req, RR_OK, null);
  }

  function onI2cRead(args: unknown, req: number): void {
    const a = args as number[];
    if (!(Array.isArray(a) && a.length === 3 && isInt(a[0], 0, 127) && isInt(a[1], -1, 255) && isInt(a[2], 1, PINS_I2C_MAX))) return r.reply(req, RR_E_BAD_ARGS);
    if (a[1] >= 0) {
      i2cBuf[0] = a[1];
      hal.i2cWrite(a[0], i2cBuf, 1);
    }
    hal.i2cRead(a[0], i2cBuf, a[2]);
    r.reply(req, RR_OK, i2cBuf.subarray(0, a[2]));
  }

  /** Every handler counts itself; a hardware error thrown inside answers HANDLER (rr does it too). */
  function serve(op: number, fn: (args: unknown, req: number, src: number) => void, idempotent: boolean): void {
    r.register(op, function (args: unknown, req: number, src: number) {
      stats.ops++;
      try {
        fn(args, req, src);
      } catch (e) {
        r.reply(req, RR_E_HANDLER);
      }
    }, idempotent);
  }
  serve(OP_PINS_INFO, onInfo, true);
  serve(OP_PIN_MODE, onMode, false);
  serve(OP_DIGITAL_WRITE, onWrite, false);
  serve(OP_DIGITAL_READ, onRead, true);
  serve(OP_ANALOG_WRITE, onPwm, false);
  serve(OP_ANALOG_READ, onAnalogRead, true);
  serve(OP_SERVO_WRITE, onServo, false);
  serve(OP_I2C_CONFIG, onI2cConfig, false);
  serve(OP_I2C_WRITE, onI2cWrite, false);
  serve(OP_I2C_READ, onI2cRead, true);
  serve(OP_REPORT, onReport, false);
  serve(OP_REPORT_STOP, onStop, false);

  return {
    stats: stats,
    active(): number {
      let c = 0;
      for (let k = 0; k < n; k++) if (eKind[k] !== 0) c++;
      return c;
    },
    stop(): void {
      stopped = true;
      for (let k = 0; k < n; k++) eKind[k] = 0;
      if (timer !== null) clock.cancel(timer);
      timer = null;
      timerAt = Infinity;
    },
  };
}

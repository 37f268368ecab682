// Tests of the Espruino drivers (clock, rng, uart) against fakes of exactly the Espruino API each calls.
// The fakes copy the Espruino behaviours the drivers must cope with: timers run in the order they were set
// when several are overdue, timer ids are reused, getTime() steps with setTime(), E.hwRand() is signed,
// a 'data' handler that throws is removed. Where Espruino would silently clear every timer
// (clearTimeout with no argument) the fake throws, so a misuse fails loudly.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { Clock, Timer } from '../../../hal/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { espruinoClock } from '../../../hal/espruino/clock.ts';
import { espruinoRng } from '../../../hal/espruino/rng.ts';
import { espruinoUart } from '../../../hal/espruino/uart.ts';
import type {
  EspruinoSerial,
  EspruinoSerialOptions,
  EspruinoTimers,
} from '../../../hal/espruino/espruino.d.ts';

// ---------------------------------------------------------------- fake getTime/setTimeout/clearTimeout

interface FakeTimer { id: number; dueUs: number; fn: () => void }

/** Virtual time in µs; timers kept in the order set, run by passes as Espruino's idle loop runs them. */
class FakeTimers {
  us = 0;
  stepSec = 0;
  list: FakeTimer[] = [];
  setMs: number[] = [];
  cleared: number[] = [];
  errors: unknown[] = [];
  api: EspruinoTimers = {
    getTime: () => this.us / 1e6 + this.stepSec,
    setTimeout: (fn: () => void, ms: number): number => {
      assert.type(fn, 'function');
      this.setMs.push(ms);
      const eff = ms >= 0.1 ? ms : 0.1; // TIMER_MIN_INTERVAL, NaN included
      const last = this.list.length > 0 ? this.list[this.list.length - 1].id : 0;
      const id = last + 1; // Espruino: last id in the list plus one, so ids are reused
      this.list.push({ id, dueUs: this.us + Math.floor(eff * 1000), fn });
      return id;
    },
    clearTimeout: (...args: unknown[]): void => {
      if (args.length === 0) throw new Error('clearTimeout() would clear every timer on Espruino');
      if (args[0] === undefined) throw new Error('clearTimeout(undefined) not allowed');
      const id = args[0] as number;
      this.cleared.push(id);
      const i = this.list.findIndex((t) => t.id === id);
      if (i >= 0) this.list.splice(i, 1);
    },
  };

  /** One idle-loop pass: every due timer, in list order (not due order), each removed before it runs. */
  pass(): void {
    for (const t of [...this.list]) {
      if (t.dueUs > this.us || !this.list.includes(t)) continue;
      this.list.splice(this.list.indexOf(t), 1);
      try {
        t.fn();
      } catch (e) {
        this.errors.push(e); // Espruino prints "Uncaught ..." and goes on
      }
    }
  }

  /** Let time run to `us` later, with a pass at each moment a timer falls due. */
  advance(byUs: number): void {
    const end = this.us + byUs;
    for (;;) {
      let next = Infinity;
      for (const t of this.list) next = Math.min(next, t.dueUs);
      if (next > end) break;
      if (next > this.us) this.us = next;
      this.pass();
    }
    this.us = end;
  }

  /** The interpreter is busy for `byUs`: no pass runs, then one pass finds the overdue timers. */
  block(byUs: number): void {
    this.us += byUs;
    this.pass();
  }
}

// ---------------------------------------------------------------- clock

test('clock: now() is integer µs from getTime and starts near 0', () => {
  const f = new FakeTimers();
  f.us = 5_000_000;
  const c = espruinoClock(f.api);
  assert.is(c.now(), 0);
  f.advance(1234);
  assert.is(c.now(), 1234);
  f.us += 0.5; // between µs ticks
  const n = c.now();
  assert.ok(Number.isInteger(n));
  assert.is(n, 1234);
});

test('clock: now() never decreases when getTime steps back (setTime), and goes on counting', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  f.advance(10_000);
  assert.is(c.now(), 10_000);
  f.stepSec -= 3600; // setTime an hour back
  assert.is(c.now(), 10_000);
  f.advance(250);
  assert.is(c.now(), 10_250);
  f.stepSec += 1; // a forward step shows as elapsed time
  assert.is(c.now(), 1_010_250);
});

test('clock: now() is monotonic under random steps of getTime (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: -2000, max: 2000 })), {
        maxLength: 60,
      }),
      (steps) => {
        const f = new FakeTimers();
        f.stepSec = 1.7e9; // a board whose time was set
        const c = espruinoClock(f.api);
        let prev = c.now();
        for (const [dt, stepMs] of steps) {
          f.advance(dt);
          const a = c.now();
          if (a < prev) return false;
          // with no step, the clock moves by the elapsed time (one µs of flooring either way)
          if (Math.abs(a - prev - dt) > 1) return false;
          f.stepSec += stepMs / 1000;
          const b = c.now();
          if (b < a) return false;
          prev = b;
        }
        return true;
      },
    ),
    { seed: 42, numRuns: 200 },
  );
});

test('clock: at() arms setTimeout with the difference in ms, and runs fn at its time, not inside at()', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  f.advance(1000);
  let ranAt = -1;
  c.at(3500, () => { ranAt = c.now(); });
  assert.equal(f.setMs, [2.5]);
  assert.is(ranAt, -1);
  f.advance(2499);
  assert.is(ranAt, -1);
  f.advance(1);
  assert.is(ranAt, 3500);

  // a time already past still waits for a timer: never synchronously
  let past = false;
  c.at(c.now() - 5000, () => { past = true; });
  assert.is(past, false);
  assert.is(f.setMs[f.setMs.length - 1], 0);
  f.advance(100); // Espruino's minimum delay is 0.1 ms
  assert.is(past, true);
});

test('clock: timers overdue together run by due time, then in the order set (Espruino would not)', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  const order: string[] = [];
  c.at(30_000, () => order.push('t30'));
  c.at(10_000, () => order.push('t10a'));
  c.at(20_000, () => order.push('t20'));
  c.at(10_000, () => order.push('t10b'));
  c.at(10_000, () => order.push('t10c'));
  f.block(50_000); // all overdue in one pass
  f.advance(1000);
  assert.equal(order, ['t10a', 't10b', 't10c', 't20', 't30']);
  assert.is(f.list.length, 0);
});

test('clock: cancel stops a pending timer; cancelling again, after firing or an unknown handle does nothing', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  let a = 0, b = 0;
  const ta = c.at(1000, () => { a++; });
  const tb = c.at(2000, () => { b++; });
  c.cancel(ta);
  c.cancel(ta);
  c.cancel(12345 as Timer);
  f.advance(5000);
  assert.is(a, 0);
  assert.is(b, 1);
  c.cancel(tb); // fired already
  assert.is(f.list.length, 0);
  assert.ok(f.cleared.every((id) => typeof id === 'number'));
});

test('clock: cancelling a fired timer does not cancel a newer one, though Espruino reuses the id', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  // Two raw Espruino timers show the hazard the driver avoids: a fired id names the next timer.
  const idA = f.api.setTimeout(() => {}, 1);
  f.advance(1000);
  const idB = f.api.setTimeout(() => {}, 1);
  assert.is(idA, idB);
  f.advance(1000);

  let fired = 0, later = 0;
  const t1 = c.at(c.now() + 1000, () => { fired++; });
  f.advance(1000);
  assert.is(fired, 1);
  c.at(c.now() + 1000, () => { later++; });
  c.cancel(t1); // stale handle
  f.advance(2000);
  assert.is(later, 1);
});

test('clock: a timer set from a callback runs in a later pass; a throwing callback does not stop others', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  const log: string[] = [];
  c.at(1000, () => {
    log.push('a');
    c.at(c.now(), () => log.push('a-child')); // due at once: next pass, not recursion
  });
  c.at(1000, () => { log.push('boom'); throw new Error('boom'); });
  c.at(1000, () => log.push('c'));
  c.at(1500, () => log.push('d'));
  f.advance(1000);
  assert.equal(log, ['a', 'boom']);
  assert.is(f.errors.length, 1);
  f.advance(1000);
  assert.equal(log, ['a', 'boom', 'c', 'a-child', 'd']);
});

test('clock: a re-arming callback cannot starve the loop', () => {
  const f = new FakeTimers();
  const c = espruinoClock(f.api);
  let runs = 0;
  const again = (): void => { runs++; c.at(c.now(), again); };
  c.at(0, again);
  f.block(100); // Espruino's 0.1 ms minimum delay
  assert.is(runs, 1); // one per pass
  f.advance(1000);
  assert.ok(runs >= 5 && runs <= 11, `runs=${runs}`); // one pass every 0.1 ms
});

type Op =
  | { k: 'at'; dt: number }
  | { k: 'cancel'; i: number }
  | { k: 'advance'; us: number }
  | { k: 'block'; us: number }
  | { k: 'step'; ms: number };

test('clock: random timers fire once, never early, by (time, order set) among those pending together', () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      k: fc.constant('at' as const),
      dt: fc.oneof(fc.integer({ min: -3000, max: 20_000 }), fc.constantFrom(0, 500, 1000)),
    }),
    fc.record({ k: fc.constant('cancel' as const), i: fc.nat(40) }),
    fc.record({ k: fc.constant('advance' as const), us: fc.integer({ min: 0, max: 8000 }) }),
    fc.record({ k: fc.constant('block' as const), us: fc.integer({ min: 0, max: 8000 }) }),
    fc.record({ k: fc.constant('step' as const), ms: fc.integer({ min: -5000, max: 0 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 50 }), (ops) => {
      const f = new FakeTimers();
      const c = espruinoClock(f.api);
      interface Rec {
        t: number; seq: number; handle: Timer; cancelled: boolean;
        setEvt: number; setNow: number; // event counter and clock when set
        fired: number; fireEvt: number; fireNow: number; // times run, event counter and clock when run
        blocked: boolean; // pending during a busy spell, so lateness is unbounded
      }
      const recs: Rec[] = [];
      const fireOrder: Rec[] = [];
      let evt = 0;
      for (const o of ops) {
        if (o.k === 'at') {
          const now = c.now();
          const r: Rec = {
            t: now + o.dt, seq: recs.length, handle: 0, cancelled: false,
            setEvt: evt++, setNow: now, fired: 0, fireEvt: -1, fireNow: -1, blocked: false,
          };
          r.handle = c.at(r.t, () => { r.fired++; r.fireEvt = evt++; r.fireNow = c.now(); fireOrder.push(r); });
          recs.push(r);
        } else if (o.k === 'cancel') {
          const r = recs[o.i];
          if (r) {
            if (r.fired === 0) r.cancelled = true;
            c.cancel(r.handle);
          }
        } else if (o.k === 'advance') {
          f.advance(o.us);
        } else if (o.k === 'block') {
          for (const r of recs) if (r.fired === 0) r.blocked = true;
          f.block(o.us);
        } else {
          f.stepSec += o.ms / 1000;
        }
      }
      f.advance(10_000_000);
      for (const r of recs) {
        if (r.cancelled ? r.fired !== 0 : r.fired !== 1) return false;
        if (r.fired && r.fireNow < r.t) return false;
        // without a busy spell, late by at most Espruino's 0.1 ms minimum delay (and a µs of rounding)
        if (r.fired && !r.blocked && r.fireNow > Math.max(r.t, r.setNow) + 101) return false;
      }
      const key = (r: Rec): number => r.t * 1000 + r.seq;
      for (let i = 0; i < fireOrder.length; i++) {
        for (let j = i + 1; j < fireOrder.length; j++) {
          const x = fireOrder[i], y = fireOrder[j];
          if (y.setEvt < x.fireEvt && key(y) < key(x)) return false;
        }
      }
      return f.errors.length === 0 && f.list.length === 0;
    }),
    { seed: 42, numRuns: 300 },
  );
});

// ---------------------------------------------------------------- rng

const TWO32 = 0x100000000;

function checkRange(draw: () => number, n: number): { hi: number; lo: number } {
  let hi = 0, lo = 0;
  for (let i = 0; i < n; i++) {
    const v = draw();
    assert.ok(Number.isInteger(v) && v >= 0 && v < TWO32, `out of range: ${v}`);
    if (v >= 0x80000000) hi++;
    if (v & 1) lo++;
  }
  return { hi, lo };
}

test('rng: signed 32-bit E.hwRand values come out in [0, 2^32), one draw each', () => {
  const src = xoshiro(7);
  let calls = 0;
  const e = { hwRand: (): number => { calls++; return src.u32() | 0; } };
  const rng = espruinoRng(e);
  const probe = calls;
  assert.ok(probe >= 1 && probe <= 16);
  const { hi, lo } = checkRange(() => rng.u32(), 4000);
  assert.is(calls - probe, 4000);
  assert.ok(hi > 1800 && hi < 2200, `top bit set ${hi}/4000`);
  assert.ok(lo > 1800 && lo < 2200, `low bit set ${lo}/4000`);

  // the mapping is exactly v >>> 0
  const fixed = [-1, -2147483648, 0, 2147483647, -123456];
  let k = 0;
  const rng2 = espruinoRng({ hwRand: () => fixed[k++ % fixed.length] });
  k = 0; // the probe stopped at the first negative value; restart the sequence
  assert.equal([rng2.u32(), rng2.u32(), rng2.u32(), rng2.u32(), rng2.u32()], fixed.map((v) => v >>> 0));
});

test('rng: a 31-bit E.hwRand (rand() builds) still fills all 32 bits', () => {
  const src = xoshiro(8);
  const rng = espruinoRng({ hwRand: () => src.u32() >>> 1 });
  const { hi, lo } = checkRange(() => rng.u32(), 4000);
  assert.ok(hi > 1800 && hi < 2200, `top bit set ${hi}/4000`);
  assert.ok(lo > 1800 && lo < 2200, `low bit set ${lo}/4000`);
});

test('rng: without E.hwRand it falls back to Math.random, 32 bits from a 31-bit Math.random', () => {
  const real = Math.random;
  const src = xoshiro(9);
  // Espruino's Math.random is rand()/(RAND_MAX+1): multiples of 2^-31
  Math.random = () => (src.u32() >>> 1) / 0x80000000;
  try {
    for (const e of [{}, { hwRand: undefined }]) {
      const rng = espruinoRng(e);
      const { hi, lo } = checkRange(() => rng.u32(), 4000);
      assert.ok(hi > 1800 && hi < 2200, `top bit set ${hi}/4000`);
      assert.ok(lo > 1800 && lo < 2200, `low bit set ${lo}/4000`);
    }
  } finally {
    Math.random = real;
  }
  // under Node there is no E at all: the default also falls back
  const rng = espruinoRng();
  checkRange(() => rng.u32(), 100);
});

// ---------------------------------------------------------------- uart

/** A fake Espruino Serial object. */
class FakePort implements EspruinoSerial {
  handler: ((s: string) => void) | null = null;
  written: number[] = [];
  writeCalls = 0;
  setupArgs: [number, EspruinoSerialOptions][] = [];
  constructor(public name: string, public log: string[]) {}
  setConsole(force: boolean): void { this.log.push(`${this.name}.setConsole(${force})`); }
  setup(baud: number, options: EspruinoSerialOptions): void {
    this.log.push(`${this.name}.setup`);
    this.setupArgs.push([baud, { ...options }]);
  }
  on(event: 'data', fn: (data: string) => void): void {
    this.log.push(`${this.name}.on(${event})`);
    this.handler = fn;
  }
  write(data: Uint8Array): void {
    this.writeCalls++;
    for (const b of data) this.written.push(b); // Espruino copies into its ring at once
  }
  /** Bytes arrive: Espruino removes a handler that throws. */
  emit(s: string): void {
    const h = this.handler;
    if (!h) return;
    try {
      h(s);
    } catch (e) {
      this.handler = null;
      throw e;
    }
  }
}

function uartRig(opts: { baud?: number; rxBuf?: number; txBuf?: number; rx?: string; tx?: string } = {}) {
  const f = new FakeTimers();
  const clock: Clock = espruinoClock(f.api);
  const log: string[] = [];
  const port = new FakePort('Serial1', log);
  const usb = new FakePort('USB', log);
  const s = espruinoUart(port, {
    baud: opts.baud ?? 9600, rx: opts.rx, tx: opts.tx, rxBuf: opts.rxBuf, txBuf: opts.txBuf, moveConsoleTo: usb, clock,
  });
  return { f, clock, log, port, usb, s };
}

test('uart: sets up the port with the baud and only the pins given, after moving the console away', () => {
  const { port, log, s } = uartRig({ baud: 115200, rx: 'B7', tx: 'B6' });
  assert.is(s.baud, 115200);
  assert.equal(port.setupArgs, [[115200, { rx: 'B7', tx: 'B6' }]]);
  assert.equal(log, ['USB.setConsole(true)', 'Serial1.setup', 'Serial1.on(data)']);

  const r2 = uartRig({ baud: 9600 });
  assert.equal(r2.port.setupArgs, [[9600, {}]]); // default pins; no stale `flow`, so XON/XOFF is off
  const log3: string[] = [];
  const p3 = new FakePort('Serial2', log3);
  espruinoUart(p3, { baud: 9600, clock: r2.clock });
  assert.equal(log3, ['Serial2.setup', 'Serial2.on(data)']); // no console move unless asked
});

test('uart: a data string longer than the receive buffer comes in chunks of at most its size', () => {
  const { port, s } = uartRig({ rxBuf: 8 });
  const got: number[] = [];
  const lens: number[] = [];
  const bufs = new Set<Uint8Array>();
  s.onData((bytes, len) => {
    bufs.add(bytes);
    lens.push(len);
    for (let i = 0; i < len; i++) got.push(bytes[i]);
  });
  const text = 'abcdefghijklmnopqrst';
  port.emit(text);
  assert.equal(lens, [8, 8, 4]);
  assert.is(bufs.size, 1);
  assert.is([...bufs][0].length, 8);
  assert.equal(got, [...text].map((ch) => ch.charCodeAt(0)));
});

test('uart: bytes 0x00-0xFF in the data string come out as the same byte values', () => {
  const { port, s } = uartRig({ rxBuf: 64 });
  const got: number[] = [];
  s.onData((bytes, len) => { for (let i = 0; i < len; i++) got.push(bytes[i]); });
  const all = Array.from({ length: 256 }, (_, i) => i);
  port.emit(String.fromCharCode(...all.slice(0x80)));
  port.emit(String.fromCharCode(...all.slice(0, 0x80)));
  assert.equal(got, [...all.slice(0x80), ...all.slice(0, 0x80)]);
});

test('uart: without a data callback bytes are dropped; a throwing one keeps the port, reports later', () => {
  const { f, port, s } = uartRig({ rxBuf: 4 });
  port.emit('lost');
  const got: number[] = [];
  let throwOnce = true;
  s.onData((bytes, len) => {
    if (throwOnce) { throwOnce = false; throw new Error('parser bug'); }
    for (let i = 0; i < len; i++) got.push(bytes[i]);
  });
  port.emit('abcdefgh'); // first chunk throws, second is delivered
  assert.ok(port.handler !== null, 'Espruino would have removed the handler');
  assert.equal(got, [...'efgh'].map((ch) => ch.charCodeAt(0)));
  assert.is(f.errors.length, 0);
  f.advance(1000);
  assert.is(f.errors.length, 1);
  assert.match(String(f.errors[0]), 'parser bug');
  port.emit('ij');
  assert.is(got.length, 6);
  s.onData(null);
  port.emit('zz');
  assert.is(got.length, 6);
});

test('uart: written bytes reach the port; at most txBuf are in flight by the baud-rate estimate', () => {
  const { f, port, s } = uartRig({ baud: 9600, txBuf: 16 });
  const byteUs = 10e6 / 9600;
  const data = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 0x80) & 0xff);
  assert.is(s.writable(), 16);
  assert.is(s.write(data, 5), 5); // len shorter than the array
  assert.equal(port.written, [...data.subarray(0, 5)]);
  assert.is(s.writable(), 11);
  assert.is(s.write(data.subarray(5), 35), 11); // only what fits
  assert.equal(port.written, [...data.subarray(0, 16)]);
  assert.is(s.writable(), 0);
  assert.is(s.write(data.subarray(16), 24), 0);
  assert.is(port.writeCalls, 2);
  f.advance(Math.ceil(8 * byteUs));
  assert.is(s.writable(), 8);
  assert.is(s.write(data.subarray(16), 24), 8);
  assert.equal(port.written, [...data.subarray(0, 24)]);
  f.advance(Math.ceil(16 * byteUs));
  assert.is(s.writable(), 16);
});

test('uart: onDrain runs once the estimated time of the last byte has passed, once per busy spell', () => {
  const { f, clock, s } = uartRig({ baud: 115200, txBuf: 64 });
  const byteUs = 10e6 / 115200;
  const drains: number[] = [];
  s.onDrain(() => drains.push(clock.now()));
  const t0 = clock.now();
  s.write(new Uint8Array(20), 20);
  f.advance(Math.floor(10 * byteUs));
  s.write(new Uint8Array(10), 10); // extends the spell
  f.advance(Math.floor(15 * byteUs));
  assert.equal(drains, []);
  f.advance(Math.ceil(10 * byteUs));
  assert.is(drains.length, 1);
  assert.ok(drains[0] >= t0 + 30 * byteUs, `drain at ${drains[0]}`);
  assert.ok(drains[0] <= t0 + 30 * byteUs + 102, `drain at ${drains[0]}`);
  assert.is(s.writable(), 64);
  f.advance(100_000);
  assert.is(drains.length, 1); // nothing written, no drain
  s.write(new Uint8Array(1), 1);
  f.advance(1000);
  assert.is(drains.length, 2);

  // a drain callback set while bytes are in flight still hears about it; none set, none called
  s.onDrain(null);
  s.write(new Uint8Array(5), 5);
  s.onDrain(() => drains.push(clock.now()));
  f.advance(1000);
  assert.is(drains.length, 3);
});

test('uart: a write the size of the array passes the array itself; a shorter one a view of it', () => {
  const f = new FakeTimers();
  const seen: Uint8Array[] = [];
  const port: EspruinoSerial = {
    setConsole() {},
    setup() {},
    on() {},
    write(d) { seen.push(d); },
  };
  const s = espruinoUart(port, { baud: 1_000_000, clock: espruinoClock(f.api) });
  const a = new Uint8Array([1, 2, 3]);
  s.write(a, 3);
  s.write(a, 2);
  assert.is(seen[0], a);
  assert.is(seen[1].buffer, a.buffer);
  assert.equal([...seen[1]], [1, 2]);
});

// ---------------------------------------------------------------- on a real Espruino interpreter

/** The Linux build of Espruino, from $ESPRUINO or `espruino` on PATH; null when there is none. */
function findEspruino(): string | null {
  const env = process.env.ESPRUINO;
  if (env) return existsSync(env) ? env : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'espruino');
    if (dir && existsSync(p)) return p;
  }
  return null;
}

// Runs in Espruino itself: the three drivers on the real getTime/setTimeout/E.hwRand and on the
// LoopbackA/LoopbackB pair (bytes written to one arrive as 'data' on the other). Loopback input is fed
// 32 bytes per timer tick: Espruino 2v29's Linux build trips an internal assertion when 64 or more
// loopback bytes wait for one idle-loop pass. setTime() does not move the Linux build's clock
// (jshSetSystemTime in targets/linux/jshardware.c), so the fakes above are what test a step of getTime().
const ESPRUINO_SCRIPT = `
var out = {};
var c = PL.espruinoClock();
var order = [];
var base = c.now();
c.at(base + 30000, function () { order.push("t30"); });
c.at(base + 10000, function () { order.push("t10a"); });
c.at(base + 20000, function () { order.push("t20"); });
c.at(base + 10000, function () { order.push("t10b"); });
var early = 0;
function mk(t) { return function () { if (c.now() < t) early++; }; }
for (var k = 0; k < 20; k++) c.at(base + 1000 + k * 777, mk(base + 1000 + k * 777));
var g0 = getTime(); while (getTime() - g0 < 0.05);
var fired = 0, later = 0;
var h1 = c.at(c.now() + 2000, function () { fired++; });
setTimeout(function () {
  c.at(c.now() + 2000, function () { later++; });
  c.cancel(h1);
  var before = c.now();
  setTime(getTime() - 100);
  out.monotonic = c.now() >= before;
  var r = PL.espruinoRng(); var hi = 0, bad = 0;
  for (var i = 0; i < 2000; i++) {
    var v = r.u32();
    if (!(v >= 0 && v < 4294967296 && v === Math.floor(v))) bad++;
    if (v >= 2147483648) hi++;
  }
  out.rngBad = bad; out.rngHi = hi;
  var got = [], lens = [], peer = [];
  var s = PL.espruinoUart(LoopbackA, { baud: 9600, rxBuf: 8, clock: c });
  s.onData(function (b, len) { lens.push(len); for (var i = 0; i < len; i++) got.push(b[i]); });
  LoopbackB.on('data', function (d) { for (var i = 0; i < d.length; i++) peer.push(d.charCodeAt(i)); });
  var part = 0;
  function feed() {
    var a = new Uint8Array(32);
    for (var i = 0; i < 32; i++) a[i] = part * 32 + i;
    LoopbackB.write(a);
    if (++part < 8) setTimeout(feed, 5);
  }
  feed();
  var tx = new Uint8Array(40); for (var i = 0; i < 40; i++) tx[i] = 0xC0 + i;
  var drained = false;
  s.onDrain(function () { drained = true; });
  out.took = s.write(tx, 30);
  setTimeout(function () {
    out.order = order; out.early = early; out.fired = fired; out.later = later;
    out.rx = got; out.rxMaxChunk = Math.max.apply(null, lens);
    out.peer = peer; out.drained = drained;
    print("RESULT " + JSON.stringify(out));
  }, 300);
}, 100);
`;

const espruino = findEspruino();
if (!espruino) {
  console.log('skipping "drivers on the Espruino interpreter": no espruino binary (set ESPRUINO=path)');
}
(espruino ? test : test.skip)('drivers on the Espruino interpreter: timers, hwRand, loopback UART', async () => {
  const here = import.meta.dirname;
  // No `globalName`: esbuild's export helpers capture a `for (let ...)` variable in closures and read
  // Object.prototype.hasOwnProperty, neither of which works on Espruino.
  const mod = (m: string): string => JSON.stringify(resolve(here, `../../../hal/espruino/${m}.ts`));
  const entry = [
    `import { espruinoClock } from ${mod('clock')};`,
    `import { espruinoRng } from ${mod('rng')};`,
    `import { espruinoUart } from ${mod('uart')};`,
    'globalThis.PL = { espruinoClock: espruinoClock, espruinoRng: espruinoRng, espruinoUart: espruinoUart };',
  ].join('\n');
  const bundle = await build({
    stdin: { contents: entry, loader: 'js', resolveDir: here },
    bundle: true,
    format: 'iife',
    target: 'es2017',
    write: false,
  });
  const dir = mkdtempSync(join(tmpdir(), 'picolink-espruino-'));
  try {
    const file = join(dir, 'drivers.js');
    writeFileSync(file, bundle.outputFiles[0].text + ESPRUINO_SCRIPT);
    const run = spawnSync(espruino as string, [file], { input: '', timeout: 20_000, encoding: 'latin1' });
    const line = run.stdout.split('\n').find((l) => l.includes('RESULT '));
    assert.ok(line, `no result from Espruino:\n${run.stdout.slice(-2000)}\n${run.stderr}`);
    const out = JSON.parse(line.slice(line.indexOf('RESULT ') + 7));
    assert.equal(out.order, ['t10a', 't10b', 't20', 't30']);
    assert.is(out.early, 0);
    assert.is(out.fired, 1);
    assert.is(out.later, 1, 'a stale cancel hit a newer timer');
    assert.is(out.monotonic, true);
    assert.is(out.rngBad, 0);
    assert.ok(out.rngHi > 850 && out.rngHi < 1150, `top bit set ${out.rngHi}/2000`);
    assert.equal(out.rx, Array.from({ length: 256 }, (_, i) => i));
    assert.ok(out.rxMaxChunk <= 8);
    assert.is(out.took, 30);
    assert.equal(out.peer, Array.from({ length: 30 }, (_, i) => 0xc0 + i));
    assert.is(out.drained, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

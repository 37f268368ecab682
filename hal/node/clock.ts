// Real-time Clock for Node (and Deno: it uses only performance.now and setTimeout): the simulator's
// scheduler driven by the wall clock. Timers keep the contract's order (due time, then order set) and
// never run inside at(), which plain setTimeout does not promise for timers set for the same instant
// with different delays; one host timer is armed for the earliest pending timer.

import type { Clock, Timer } from '../clock.ts';
import { scheduler } from '../sim/scheduler.ts';

export interface RealClock extends Clock {
  /** Stop the host timer (pending timers stay pending; at() re-arms). */
  close(): void;
}

// Deno has no global setImmediate: a zero timeout stands in (Deno does not clamp it to 1 ms).
const soon: (fn: () => void) => unknown =
  typeof setImmediate === 'function' ? setImmediate : (fn: () => void) => setTimeout(fn, 0);
const unsoon = (h: unknown): void => {
  if (typeof clearImmediate === 'function' && typeof setImmediate === 'function') clearImmediate(h as ReturnType<typeof setImmediate>);
  else clearTimeout(h as ReturnType<typeof setTimeout>);
};

export function realClock(): RealClock {
  const t0 = performance.now();
  const now = (): number => Math.floor((performance.now() - t0) * 1000);
  const sched = scheduler(0);
  let armed: ReturnType<typeof setTimeout> | null = null;
  let immediate: unknown = null;
  let armedFor = Infinity;

  const fire = (): void => {
    armed = null;
    immediate = null;
    armedFor = Infinity;
    sched.runUntil(now());
    arm();
  };
  function disarm(): void {
    if (armed !== null) clearTimeout(armed);
    if (immediate !== null) unsoon(immediate);
    armed = null;
    immediate = null;
  }
  function arm(): void {
    const next = sched.nextTime();
    if (next === Infinity || next >= armedFor) return;
    disarm();
    armedFor = next;
    // A timer due now runs after pending I/O (setImmediate), not after setTimeout's 1 ms minimum.
    const ms = (next - now()) / 1000;
    if (ms <= 0) immediate = soon(fire);
    else armed = setTimeout(fire, ms);
  }

  return {
    now,
    at(tUs: number, fn: () => void): Timer {
      // The scheduler clamps to its own time, which lags the wall clock between runs: clamp to now().
      const h = sched.at(Math.max(tUs, now()), fn);
      arm();
      return h;
    },
    cancel: (t) => sched.cancel(t),
    close(): void {
      disarm();
      armedFor = Infinity;
    },
  };
}

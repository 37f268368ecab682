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

export function realClock(): RealClock {
  const t0 = performance.now();
  const now = (): number => Math.floor((performance.now() - t0) * 1000);
  const sched = scheduler(0);
  let armed: ReturnType<typeof setTimeout> | null = null;
  let armedFor = Infinity;

  const fire = (): void => {
    armed = null;
    armedFor = Infinity;
    sched.runUntil(now());
    arm();
  };
  function arm(): void {
    const next = sched.nextTime();
    if (next === Infinity || next >= armedFor) return;
    if (armed !== null) clearTimeout(armed);
    armedFor = next;
    armed = setTimeout(fire, Math.max(0, (next - now()) / 1000));
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
      if (armed !== null) clearTimeout(armed);
      armed = null;
      armedFor = Infinity;
    },
  };
}

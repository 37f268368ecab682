// Clock driver for Espruino boards: the hal/clock.ts contract over getTime, setTimeout and clearTimeout.
// The only board code that reads Espruino's clock and timers (design §2). Board code: Espruino's JavaScript.
//
// Espruino facts this relies on (Espruino 2v29 sources; the reference at espruino.com/Reference is
// generated from the same files):
// - getTime() (src/jswrap_interactive.c) returns seconds as a double: since boot, or since 1970 once
//   setTime() was called. Its tick is 2^-20 s (~0.95 µs) on STM32 boards such as the Pico (RTC plus
//   SysTick interpolation, targets/stm32/jshardware.c), 2^-15 s (30.5 µs, the 32768 Hz RTC0) on nRF5x
//   boards (Puck.js, Pixl.js, Bangle.js), 1 µs on ESP32 and Linux. A double holds 1.7e9 s to about
//   0.24 µs, so microseconds survive.
// - setTime(t) steps getTime() by any amount, backwards too, but leaves pending timers alone: they are
//   kept relative to the last idle-loop pass (jswrap_interactive_setTime resets jsiLastIdleTime).
//   Hence now() below counts from the first reading and absorbs backward steps (it never decreases);
//   a forward step cannot be told from a long busy spell and shows up as elapsed time, so a board sets
//   its time before it starts picolink.
// - setTimeout(fn, ms) takes a float ms; NaN and anything below 0.1 ms become 0.1 ms
//   (TIMER_MIN_INTERVAL in src/jsinteractive.h); more than 100 years throws. It returns an integer id.
// - Timers run from the idle loop (jsiIdle in src/jsinteractive.c) in the order they sit in the timer
//   list, which is the order they were set, not the order they fall due: when the loop was busy and
//   several are overdue, one set earlier for a later time runs first (measured on the Linux build).
// - clearTimeout(id) (src/jswrap_interactive.c) ignores an unknown id, throws for undefined, and with no
//   argument clears every timer. Ids are reused: a new timer takes the last id in the list plus one
//   (jsvArrayAddToEnd in src/jsvar.c), so the id of a timer that fired can already name a newer timer,
//   and clearing it cancels that one (measured: clearing a fired id stopped an unrelated timer).
//
// So this driver keeps its own queue, sorted by due time and then by the order timers were set, arms
// one Espruino timeout for the head, and hands out its own integer handles, never reused. Cancelling
// a timer that ran or was cancelled finds nothing and does nothing; the armed Espruino id is forgotten
// the moment it fires, so clearTimeout only ever sees a live id. The queue is three parallel arrays,
// so a timer costs no object of its own.

import type { Clock, Timer } from '../clock.ts';
import type { EspruinoTimers } from './espruino.d.ts';

/** Espruino's own getTime/setTimeout/clearTimeout, read from the built-ins (the one place that does). */
export function espruinoTimers(): EspruinoTimers {
  return {
    getTime: getTime,
    setTimeout: setTimeout as unknown as EspruinoTimers['setTimeout'],
    clearTimeout: clearTimeout as unknown as EspruinoTimers['clearTimeout'],
  };
}

/**
 * A Clock on Espruino's timers. `sys` defaults to the built-ins; tests pass a fake.
 * now() counts integer microseconds from the moment this clock was made.
 */
export function espruinoClock(sys?: EspruinoTimers): Clock {
  const t = sys || espruinoTimers();
  const t0 = t.getTime();
  let last = 0; // the last value now() returned
  let skew = 0; // µs added to readings to absorb backward steps of getTime()

  // Pending timers, sorted by (due time, order set): due times in µs, handles, callbacks.
  const dueUs: number[] = [];
  const ids: number[] = [];
  const fns: (() => void)[] = [];
  let nextId = 1;
  let armed = -1; // id of the one armed Espruino timeout; -1 when none is armed
  let armedUs = 0; // the due time it was armed for
  let running = false; // inside fire(): fire re-arms when it is done

  const now = (): number => {
    let us = Math.floor((t.getTime() - t0) * 1e6) + skew;
    if (us < last) {
      skew += last - us;
      us = last;
    }
    last = us;
    return us;
  };

  const arm = (): void => {
    if (dueUs.length === 0) {
      if (armed !== -1) {
        t.clearTimeout(armed);
        armed = -1;
      }
      return;
    }
    const head = dueUs[0];
    if (armed !== -1) {
      // An earlier wake-up finds nothing due and re-arms; only a later one must be replaced.
      if (armedUs <= head) return;
      t.clearTimeout(armed);
      armed = -1;
    }
    const ms = (head - now()) / 1000;
    armedUs = head;
    const id = t.setTimeout(fire, ms > 0 ? ms : 0);
    armed = typeof id === 'number' ? id : -1;
  };

  // Runs every timer that was due when the pass began, in queue order. A timer set during the pass waits
  // for the next pass even if already due, so a callback that re-arms itself cannot starve the board.
  const fire = (): void => {
    armed = -1; // this id is Espruino's to reuse from now on: never clear it
    const n = now();
    const lastOld = nextId - 1;
    running = true;
    try {
      while (dueUs.length > 0 && dueUs[0] <= n && ids[0] <= lastOld) {
        const fn = fns[0];
        dueUs.shift();
        ids.shift();
        fns.shift();
        fn();
      }
    } finally {
      // Also after a callback threw (Espruino prints it as Uncaught): the rest still run, in a later pass.
      running = false;
      arm();
    }
  };

  const at = (tUs: number, fn: () => void): Timer => {
    const id = nextId++;
    let i = dueUs.length;
    while (i > 0 && dueUs[i - 1] > tUs) i--; // after every timer due at or before tUs
    dueUs.splice(i, 0, tUs);
    ids.splice(i, 0, id);
    fns.splice(i, 0, fn);
    if (i === 0 && !running) arm();
    return id;
  };

  const cancel = (h: Timer): void => {
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === h) {
        dueUs.splice(i, 1);
        ids.splice(i, 1);
        fns.splice(i, 1);
        if (i === 0 && !running) arm();
        return;
      }
    }
  };

  return { now, at, cancel };
}

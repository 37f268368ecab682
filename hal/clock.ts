// Clock contract: time and timers, passed in so firmware runs the same on a board (real time), under
// Node and Deno, and in the simulator (virtual time). Firmware never reads Date.now or setTimeout.
// This file imports nothing.

/** Opaque timer handle returned by `at`; only `cancel` looks inside. */
export type Timer = { readonly __timer: unique symbol } | number;

export interface Clock {
  /** Current time in integer microseconds since an arbitrary origin. Never decreases. */
  now(): number;
  /**
   * Call `fn` once at time `tUs` (integer µs, same origin as `now`), or as soon as possible if `tUs`
   * is not in the future; never synchronously inside `at`. Timers due at the same time run in the
   * order they were set. Bind `fn` once and reuse it: no closure per frame on a board.
   */
  at(tUs: number, fn: () => void): Timer;
  /** Stop a pending timer. Cancelling a timer that already ran or was cancelled does nothing. */
  cancel(t: Timer): void;
}

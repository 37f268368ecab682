// Discrete-event scheduler on integer virtual microseconds: the heart of the simulator.
// A binary min-heap ordered by (time, insertion sequence), so events due at the same time run in the
// order they were scheduled, which makes every run with the same seed and scenario identical.
// Cancel is O(1): the event is marked dead and skipped when it reaches the top; when dead events
// outnumber live ones the heap is rebuilt, so cancelled timers never pile up.
// The scheduler is also a hal/clock.ts Clock, so firmware runs on it unchanged.

import type { Clock, Timer } from '../clock.ts';

export interface SimEvent {
  /** Due time, integer µs. */
  readonly t: number;
  /** Insertion sequence number: the tie-break for equal times. */
  readonly seq: number;
  /** The callback; null once run or cancelled. */
  fn: (() => void) | null;
}

export interface Scheduler extends Clock {
  /** Schedule `fn` at absolute time `tUs` (clamped to now; rounded up to an integer µs). */
  at(tUs: number, fn: () => void): Timer;
  /** Schedule `fn` `dtUs` from now. */
  after(dtUs: number, fn: () => void): Timer;
  /** Run events in order until none is due at or before `untilUs`; then now() = untilUs. Returns events run. */
  runUntil(untilUs: number): number;
  /** Run until no event is left, or `maxEvents` have run. Returns events run. */
  runAll(maxEvents?: number): number;
  /** Run the next event if any; returns false when the queue is empty. */
  step(): boolean;
  /** Number of live (not cancelled, not yet run) events. */
  pending(): number;
  /** Time of the next live event, or Infinity. */
  nextTime(): number;
  /** Total events run since creation. */
  readonly executed: number;
  /** Stop the current runUntil/runAll after the event that is running now. */
  stop(): void;
}

export function scheduler(startUs = 0): Scheduler {
  const heap: SimEvent[] = [];
  let now = startUs;
  let seq = 0;
  let dead = 0;
  let executed = 0;
  let stopping = false;

  const less = (a: SimEvent, b: SimEvent): boolean => a.t < b.t || (a.t === b.t && a.seq < b.seq);

  function push(ev: SimEvent): void {
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = heap[p];
      if (!less(ev, pe)) break;
      heap[i] = pe;
      i = p;
    }
    heap[i] = ev;
  }

  function pop(): SimEvent {
    const top = heap[0];
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(heap[r], heap[l]) ? r : l;
        if (!less(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  function compact(): void {
    const live = heap.filter((e) => e.fn !== null);
    heap.length = 0;
    for (const e of live) push(e);
    dead = 0;
  }

  function skipDead(): void {
    while (heap.length > 0 && heap[0].fn === null) {
      pop();
      dead--;
    }
  }

  function runOne(): void {
    const ev = pop();
    const fn = ev.fn!;
    ev.fn = null;
    now = ev.t;
    executed++;
    fn();
  }

  const at = (tUs: number, fn: () => void): Timer => {
    if (typeof fn !== 'function') throw new TypeError('scheduler.at: fn must be a function');
    if (!(tUs >= now)) {
      if (Number.isNaN(tUs)) throw new TypeError('scheduler.at: time is NaN');
      tUs = now;
    }
    const ev: SimEvent = { t: Math.ceil(tUs), seq: seq++, fn };
    push(ev);
    return ev as unknown as Timer;
  };

  return {
    now: () => now,
    at,
    after: (dtUs, fn) => at(now + dtUs, fn),
    cancel(t: Timer): void {
      const ev = t as unknown as SimEvent;
      if (ev && typeof ev === 'object' && ev.fn !== null) {
        ev.fn = null;
        dead++;
        if (dead > 64 && dead > heap.length >> 1) compact();
      }
    },
    runUntil(untilUs: number): number {
      const start = executed;
      stopping = false;
      for (;;) {
        skipDead();
        if (heap.length === 0 || heap[0].t > untilUs || stopping) break;
        runOne();
      }
      if (!stopping && untilUs > now && untilUs !== Infinity) now = Math.floor(untilUs);
      return executed - start;
    },
    runAll(maxEvents = Infinity): number {
      const start = executed;
      stopping = false;
      while (!stopping && executed - start < maxEvents) {
        skipDead();
        if (heap.length === 0) break;
        runOne();
      }
      return executed - start;
    },
    step(): boolean {
      skipDead();
      if (heap.length === 0) return false;
      runOne();
      return true;
    },
    pending: () => heap.length - dead,
    nextTime(): number {
      skipDead();
      return heap.length === 0 ? Infinity : heap[0].t;
    },
    get executed() {
      return executed;
    },
    stop(): void {
      stopping = true;
    },
  };
}

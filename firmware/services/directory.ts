// The directory's device side (the notes' name service): a device tells the bridge its name, its type
// and the operations it serves, and says it again before its lease runs out, so the bridge forgets a
// device that went away (host/bridge/directory.ts keeps the table). Events go the same way: an R call
// to the bridge that it hands to its subscribers (host/bridge/core.ts).
//
//   OP_DIR_REGISTER args {"n": name (1..32 chars), "t": type (1..32 chars), "o": [op, ...] (at most 16),
//                         "l": lease in seconds (1..3600)}  ->  result: the lease the bridge granted (s)
//   OP_EVENT        args any CBOR value                      (R: nothing comes back)
//
// announce() calls OP_DIR_REGISTER over RR at once and then every lease/3, so two lost announcements
// in a row still leave the entry alive. Board code: one args object, built at creation; one bound
// timer callback.

import type { Clock } from '../../hal/clock.ts';
import type { Rr } from '../rr/rr.ts';
import { PROTO_R } from '../rr/frame.ts';

export const OP_DIR_REGISTER = 240;
export const OP_EVENT = 241;
export const DIR_NAME_MAX = 32;
export const DIR_OPS_MAX = 16;
export const DIR_LEASE_MAX_S = 3600;

export interface DirEntry {
  name: string;
  type: string;
  ops: number[];
  /** Seconds the bridge keeps the entry without hearing again (default 60). */
  leaseS?: number;
}

export interface Announcer {
  /** Registrations the bridge acknowledged, and ones that failed (timeout or error reply). */
  readonly stats: { acked: number; failed: number };
  stop(): void;
}

export function announce(r: Rr, clock: Clock, bridge: number, e: DirEntry): Announcer {
  const lease = e.leaseS || 60;
  const args = { n: e.name, t: e.type, o: e.ops, l: lease };
  const stats = { acked: 0, failed: 0 };
  let timer: ReturnType<Clock['at']> | null = null;
  let stopped = false;
  function done(err: number): void {
    if (err === 0) stats.acked++;
    else stats.failed++;
  }
  function tick(): void {
    timer = null;
    if (stopped) return;
    r.call(bridge, OP_DIR_REGISTER, args, null, done);
    timer = clock.at(clock.now() + lease * 1000000 / 3, tick);
  }
  timer = clock.at(clock.now(), tick);
  return {
    stats: stats,
    stop(): void {
      stopped = true;
      if (timer !== null) clock.cancel(timer);
    },
  };
}

const EVENT_OPTS = { proto: PROTO_R };

/** Send an event to the bridge (R: no reply, no retry); an RR_* status as rr.call returns it. */
export function sendEvent(r: Rr, bridge: number, data: unknown, cb: (err: number) => void): number {
  return r.call(bridge, OP_EVENT, data, EVENT_OPTS, cb);
}

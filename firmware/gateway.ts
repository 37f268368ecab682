// Gateway forwarder: joins the device network (radio link) to the host (uplink, a framed serial link),
// frame for frame in both directions, through a bounded queue each way. A frame that finds its queue
// full is dropped and counted; the link protocols above (request-reply, Psync) recover what matters.
// The bridge (issue 7) grows this into a node of the device network; for now it is a pure relay.
// Board code: two queues allocated at creation, no allocation per frame.

import type { Link } from '../hal/link.ts';
import type { Clock } from '../hal/clock.ts';
import { frameQueue } from './queue.ts';

export interface GatewayStats {
  /** Frames relayed radio -> uplink and uplink -> radio. */
  up: number;
  down: number;
  /** Frames dropped because the queue toward that link was full, or they could not go out on it. */
  upDropped: number;
  downDropped: number;
}

export interface Gateway {
  readonly stats: GatewayStats;
}

/**
 * Relays frames from `from` to `to`; count(ok) is told whether each frame found room. A frame is
 * offered when `to` is idle (for a radio: carrier sense, so the gateway does not talk over a sensor);
 * while it is busy, or refuses, the relay looks again after retryUs.
 */
function relay(from: Link, to: Link, depth: number, clock: Clock, retryUs: number, count: (ok: boolean) => void): void {
  const q = frameQueue(depth, to.caps.mtu);
  let waiting = false; // a frame of ours is in flight on `to`, or a retry is set
  let sending = false; // inside to.send: a synchronous onSent must not re-enter pump
  const retry = (): void => {
    waiting = false;
    pump();
  };

  function pump(): void {
    const len = q.headLen();
    if (waiting || sending || len === 0) return;
    waiting = true;
    if (to.busy()) {
      clock.at(clock.now() + retryUs, retry);
      return;
    }
    sending = true;
    const ok = to.send(q.head(), len);
    sending = false;
    if (ok) q.drop();
    else clock.at(clock.now() + retryUs, retry);
  }

  from.onReceive((frame, len) => {
    const ok = q.put(frame, len); // refuses frames that cannot go out on `to` (empty, over its mtu)
    count(ok);
    if (ok) pump();
  });
  to.onSent(() => {
    waiting = false;
    if (!sending) pump();
  });
}

export interface GatewayOptions {
  radio: Link;
  uplink: Link;
  clock: Clock;
  /** Frames queued each way. */
  depth: number;
  /** Wait before offering a refused frame again, µs. */
  retryUs: number;
}

export function gateway(o: GatewayOptions): Gateway {
  const stats: GatewayStats = { up: 0, down: 0, upDropped: 0, downDropped: 0 };
  relay(o.radio, o.uplink, o.depth, o.clock, o.retryUs, (ok) => { if (ok) stats.up++; else stats.upDropped++; });
  relay(o.uplink, o.radio, o.depth, o.clock, o.retryUs, (ok) => { if (ok) stats.down++; else stats.downDropped++; });
  return { stats };
}

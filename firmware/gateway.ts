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
  /** Frames dropped because the queue toward that link was full. */
  upDropped: number;
  downDropped: number;
}

export interface Gateway {
  readonly stats: GatewayStats;
}

/** Relays frames from `from` to `to`; count(ok) is told whether each frame found room. */
function relay(from: Link, to: Link, depth: number, clock: Clock, retryUs: number, count: (ok: boolean) => void): void {
  const q = frameQueue(depth, to.caps.mtu);
  let waiting = false; // a frame of ours is in flight on `to`, or a retry is set
  const retry = (): void => {
    waiting = false;
    pump();
  };

  function pump(): void {
    const f = q.peek();
    if (waiting || f === null) return;
    waiting = true;
    if (to.send(f, f.length)) q.drop();
    else clock.at(clock.now() + retryUs, retry); // refused (link busy): look again shortly
  }

  from.onReceive((frame, len) => {
    const ok = q.put(frame, len);
    count(ok);
    if (ok) pump();
  });
  to.onSent(() => {
    waiting = false;
    pump();
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

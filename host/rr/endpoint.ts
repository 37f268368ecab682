// Request-reply on the host: the firmware's endpoint (firmware/rr/rr.ts, the same code a board runs)
// with cbor-x values for arguments and results (through host/rr/codec.ts: the firmware CBOR codec
// first, cbor-x for what it refuses), a Promise form of call(), and handlers that return a value
// or a Promise instead of calling reply(). Calls beyond the endpoint's slots wait in a bounded queue
// (queueLimit) rather than failing; past that, the call is refused with RR_E_TOO_MANY.
//
// Errors: a call's Promise rejects with an RrError whose `code` is the endpoint's (firmware/rr/rr.ts:
// 1-4 travelled back from the server as an error reply, 5 TIMEOUT and the others local), so callers
// tell "the server said no" from "no answer". A handler that throws an RrError with code 1-4 answers
// with that code; any other exception is a handler failure (3).
//
// Speed (issue 5: RR's median round trip within 1.15x a raw UDP echo's, `npm run bench -- rr`). Where
// RR's time beyond the echo's went, measured in Node 20 on a shared 2-core machine (load 1.7): CPU per
// round trip with both ends in one process on an in-memory link (versions alternated in batches, so
// load hits all alike: 5.4 µs before, 3.5 µs now, of which about 0.3 µs is the probe's own), and
// timestamps of every send syscall and receive in the two-process benchmark.
//   CBOR through cbor-x     four codec runs per round trip (encode the arguments, decode them, encode
//                           the result, decode it) at 0.2-0.7 and 0.4-1.0 µs each (short batches to
//                           a long loop, where its garbage shows): 1.1 µs of the 5.4. Now the
//                           firmware codec first (host/rr/codec.ts, same bytes, same values): 4.3 µs.
//   sends after a tick      dgram resolves every destination and dns.lookup answers even "127.0.0.1"
//                           on the next tick, so each datagram left only after the rest of its
//                           callback and every microtask (the client's Promise and bookkeeping, the
//                           server's timer work). An echo that sends at once is 1-4 µs faster than
//                           one that does not (bench rows udp and udpnow); hal/node/udp.ts now sends
//                           IPv4 literals at once.
//   timers                  no setTimeout or clearTimeout per call (the real clock arms one host
//                           timer for its earliest event: 5 setTimeout calls in 12 000 calls), but
//                           rr.ts moved its one timer at every call and every reply (an event
//                           object, a heap push, a cancel, a clock read, a scan of the call slots):
//                           0.5-0.8 µs per round trip. Now it only moves earlier: 3.4-3.6 µs.
//   a fresh Buffer per      0.1 µs per datagram; kept: libuv holds the buffer of a send it had to
//   datagram                queue (socket buffer full), so reusing one could corrupt a datagram.
//   Promise machinery       a Promise and one callback closure per call, under 0.1 µs (the echo
//                           pays a Promise too); the record per call is now made only for calls
//                           that wait for a slot.
//   onSent                  a microtask closure per datagram, 0.05 µs: now one per turn.
//   server history lookup   1-2 entries scanned (each request acknowledges the previous reply),
//                           well under 0.1 µs; the three clock reads before the reply went (the
//                           reply now goes first, and clients are ordered by a counter).
// What remains over the echo is the protocol itself: about 0.5 µs of CBOR per round trip, the copies
// the layer contracts ask for (MAC queue, link Buffer, MAC receive buffer), header parse and emit, the
// slot, history and acknowledgement bookkeeping, and one Promise. The kernel part, the same for both,
// dominates: a loopback send syscall takes about 5 µs and wakes the peer, and in about half the calls
// the sender is preempted inside it by the peer on the same core, so work after a send still counts.
import type { Clock } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import type { Mac } from '../../firmware/mac/mac.ts';
import { RR_DEFAULTS, RR_E_HANDLER, RR_E_TOO_MANY, RR_OK, rr } from '../../firmware/rr/rr.ts';
import type { CallOptions, Rr, RrConfig, RrStats } from '../../firmware/rr/rr.ts';
import { RR_ERROR_NAMES } from '../../firmware/rr/names.ts';
import { fastRrCodec } from './codec.ts';

export { RR_ERROR_NAMES };

export class RrError extends Error {
  readonly code: number;
  /** True when the code came back from the server (an error reply), false when it is local. */
  readonly remote: boolean;
  constructor(code: number, message?: string) {
    super(message ?? `request-reply: ${RR_ERROR_NAMES[code] ?? `error ${code}`}`);
    this.name = 'RrError';
    this.code = code;
    this.remote = code >= 1 && code <= 4;
  }
}

export type HostHandler = (args: unknown, src: number) => unknown;

export interface HostRrOptions {
  mac: Mac;
  clock: Clock;
  rng: Rng;
  config?: Partial<RrConfig>;
  /** Calls waiting for a free slot, at most (default 1024). */
  queueLimit?: number;
}

export interface HostRr {
  /** The firmware endpoint underneath (callback form, statistics). */
  readonly endpoint: Rr;
  readonly stats: RrStats;
  call(dst: number, op: number, args?: unknown, opts?: CallOptions): Promise<unknown>;
  register(op: number, handler: HostHandler, idempotent?: boolean): void;
  /** Calls waiting for a slot now. */
  waiting(): number;
}

export function hostRr(o: HostRrOptions): HostRr {
  // A host serves many clients: 16 history entries per client keeps at-most-once exact (see rr.ts).
  const config: RrConfig = { ...RR_DEFAULTS, maxCalls: 16, maxPending: 64, historyEntries: 1024, clients: 64, ...o.config };
  const ep = rr({ mac: o.mac, clock: o.clock, rng: o.rng, config, codec: fastRrCodec });
  const limit = o.queueLimit ?? 1024;
  const queue: { dst: number; op: number; args: unknown; opts: CallOptions | undefined; resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];

  function start(c: (typeof queue)[number]): boolean {
    const st = ep.call(c.dst, c.op, c.args, c.opts ?? null, (err, result) => {
      if (err === RR_OK) c.resolve(result);
      else c.reject(new RrError(err));
      drain();
    });
    if (st === RR_E_TOO_MANY) return false;
    if (st !== RR_OK) c.reject(new RrError(st));
    return true;
  }
  function drain(): void {
    while (queue.length > 0 && start(queue[0])) queue.shift();
  }

  return {
    endpoint: ep,
    stats: ep.stats,
    waiting: () => queue.length,
    call(dst, op, args, opts): Promise<unknown> {
      return new Promise((resolve, reject) => {
        if (queue.length === 0) {
          // The common case, no closure or record beyond the callback: a free slot takes the call now.
          const st = ep.call(dst, op, args, opts ?? null, (err, result) => {
            if (err === RR_OK) resolve(result);
            else reject(new RrError(err));
            if (queue.length > 0) drain();
          });
          if (st === RR_OK) return;
          if (st !== RR_E_TOO_MANY) {
            reject(new RrError(st));
            return;
          }
        }
        const c = { dst, op, args, opts, resolve, reject };
        if (queue.length >= limit) {
          reject(new RrError(RR_E_TOO_MANY, `request-reply: ${limit} calls already waiting; slow down or raise queueLimit`));
          return;
        }
        queue.push(c);
      });
    },
    register(op, handler, idempotent): void {
      ep.register(op, (args, req, src) => {
        let v: unknown;
        try {
          v = handler(args, src);
        } catch (e) {
          ep.reply(req, e instanceof RrError && e.remote ? e.code : RR_E_HANDLER);
          return;
        }
        if (v instanceof Promise) {
          v.then((r) => ep.reply(req, RR_OK, r), (e) => ep.reply(req, e instanceof RrError && e.remote ? e.code : RR_E_HANDLER));
        } else ep.reply(req, RR_OK, v);
      }, idempotent);
    },
  };
}

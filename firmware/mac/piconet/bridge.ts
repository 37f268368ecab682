// Scatternet bridge (textbook 3.5.3): a node that is a slave in two piconets at once, alternating
// between them on its one radio, and forwarding what it receives in one piconet to the master of the
// other. The radio is time-shared: for dwellUs the node listens and answers as a slave of piconet A,
// then for dwellUs as a slave of piconet B. While it is away, its master's polls go unanswered; the
// ARQ resends after it returns, so choose a supervision timeout well above dwellUs. (Bluetooth
// coordinates such absences with hold and sniff modes; this bridge does not negotiate them.)
// Board code: the two views and the relay queues are made once.

import type { Link, ReceiveFn, SentFn } from '../../../hal/link.ts';
import type { Clock } from '../../../hal/clock.ts';
import type { Rng } from '../../../hal/rng.ts';
import { ADDR_BROADCAST } from '../mac.ts';
import type { PiconetConfig } from './config.ts';
import { piconetSlave } from './piconet.ts';
import type { PiconetSlave } from './piconet.ts';

export interface TimeShare {
  readonly a: Link;
  readonly b: Link;
  /** 0 while the radio belongs to view a, 1 for b. */
  side(): number;
}

/** Split one radio into two Links that own it in turns of dwellUs (a first). */
export function timeShare(link: Link, clock: Clock, dwellUs: number): TimeShare {
  let side = 0;
  const rx: (ReceiveFn | null)[] = [null, null];
  const sent: (SentFn | null)[] = [null, null];
  let sender = -1; // which view's transmission is on the air
  function flip(): void {
    side ^= 1;
    clock.at(clock.now() + dwellUs, flip);
  }
  clock.at(clock.now() + dwellUs, flip);
  link.onReceive(function (f, len, info) {
    const fn = rx[side];
    if (fn) fn(f, len, info);
  });
  link.onSent(function (st) {
    const who = sender;
    sender = -1;
    const fn = who >= 0 ? sent[who] : null;
    if (fn) fn(st);
  });
  function view(i: number): Link {
    return {
      caps: link.caps,
      send(f: Uint8Array, len: number): boolean {
        if (side !== i || sender >= 0) return false; // away from this piconet
        if (!link.send(f, len)) return false;
        sender = i;
        return true;
      },
      onReceive(fn) { rx[i] = fn; },
      onSent(fn) { sent[i] = fn; },
      busy: () => link.busy(),
    };
  }
  return { a: view(0), b: view(1), side: () => side };
}

export interface Bridge {
  readonly a: PiconetSlave;
  readonly b: PiconetSlave;
  readonly stats: { forwardedAB: number; forwardedBA: number; dropped: number };
}

export interface BridgeOptions {
  link: Link;
  clock: Clock;
  rng: Rng;
  addr: number;
  config: PiconetConfig;
  dwellUs: number;
}

/** A slave in two piconets that forwards every payload it receives in one to the other's master. */
export function bridge(o: BridgeOptions): Bridge {
  const ts = timeShare(o.link, o.clock, o.dwellUs);
  const a = piconetSlave({ link: ts.a, clock: o.clock, rng: o.rng, addr: o.addr, config: o.config });
  const b = piconetSlave({ link: ts.b, clock: o.clock, rng: o.rng, addr: o.addr, config: o.config });
  const stats = { forwardedAB: 0, forwardedBA: 0, dropped: 0 };
  a.onReceive(function (p, len) {
    if (b.send(ADDR_BROADCAST, p, len) === 0) stats.forwardedAB++;
    else stats.dropped++;
  });
  b.onReceive(function (p, len) {
    if (a.send(ADDR_BROADCAST, p, len) === 0) stats.forwardedBA++;
    else stats.dropped++;
  });
  return { a, b, stats };
}

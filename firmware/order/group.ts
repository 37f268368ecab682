// What the ordered group multicasts (fifo, causal, total) share: their configuration, results,
// statistics and the object they return. A group is closed (textbook 15.4: membership is known):
// every member is given the same list of member addresses, its own among them, and takes its MAC's
// receive callback for itself. Members may crash and restart: each start draws an incarnation (a
// byte, 1..255, from the Rng: no persistent state needed) that every frame carries, so the others
// tell a restarted member from its former self and resynchronise with it (seqcast.ts, total.ts). Two
// starts draw the same incarnation with probability 1/255; `incarnation` in the options lets a board
// that keeps a counter in its Store pass a value that differs from the last one for certain.

import type { Clock } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import type { Mac } from '../mac/mac.ts';
import { MAX_MEMBERS } from './frame.ts';

/** multicast() results. */
export const ORDER_OK = 0;
/** `window` own messages are not yet delivered at every member: try again later (nothing was taken). */
export const ORDER_E_FULL = 1;
/** The message does not fit a frame after the protocol's header. */
export const ORDER_E_TOO_LARGE = 2;

export interface OrderConfig {
  /**
   * Own messages kept for retransmission until every member has delivered them: a power of two,
   * 1..64. Each member also holds back at most `window` messages of each other member, so the
   * hold-back queue has members x window slots and never overflows.
   */
  window: number;
  /** µs before a message (or, in total order, its commit) is sent again to members that have not answered; stretched by a random 0-50 %. */
  timeoutUs: number;
  /**
   * Replies (ACK, NACK, PROPOSE) wait a random 0..replyDelayUs µs and go out together: an ACK then
   * covers every message delivered meanwhile, and the members answering one multicast do not all
   * answer at once (on a MAC without carrier sense their replies would collide, or meet the sender
   * still sending to the next member, every time).
   */
  replyDelayUs: number;
  /** 0: send each multicast frame to every member in turn; else one frame to this group (or broadcast) address. Retransmissions are always unicast. */
  groupAddr: number;
  /**
   * µs without a frame from a member after which it counts as down. FIFO, causal: its acknowledgements
   * no longer hold the window (what it misses beyond the window it is resynchronised past when heard
   * again). Total: the coordinator removes it from the view. Several heartbeats long, so that loss
   * alone does not remove a member that is up (2.5 s at 200 ms: twelve heartbeats or more; all lost at
   * 30 % loss: 5e-7 per pair and window).
   */
  silenceUs: number;
  /** TOTAL: µs between heartbeats (every member to every other) and JOIN requests; 0: a fixed group, no view changes. */
  heartbeatUs: number;
}

export const ORDER_DEFAULTS: OrderConfig = { window: 8, timeoutUs: 100_000, replyDelayUs: 5_000, groupAddr: 0, silenceUs: 2_500_000, heartbeatUs: 200_000 };

export interface OrderStats {
  /** Messages multicast (accepted by multicast()). */
  sent: number;
  /** Messages handed to the application, own ones included. */
  delivered: number;
  /** Messages put in the hold-back queue (FIFO, causal: arrived too soon; total: every message of another member). */
  held: number;
  /** Copies of messages already delivered or already held, discarded (the notes' "reject"). */
  duplicates: number;
  /** Frames sent again: DATA, and in total order COMMIT. */
  retransmissions: number;
  acksSent: number;
  nacksSent: number;
  /** TOTAL: proposals sent. */
  proposals: number;
  /** Frames that did not parse, or spoke another protocol or group size. */
  malformed: number;
  /** Frames from addresses outside the member list. */
  strangers: number;
  /** DATA numbered beyond the window after what was delivered here: no correct sender sends it. */
  outOfWindow: number;
  /** Incarnations of other members learnt after the first (restarts seen). */
  restarts: number;
  /** SYNC frames sent (FIFO, causal): a member told where this one's messages resume for it. */
  syncs: number;
  /** Frames of a former incarnation (or, in total order, of another view) dropped. */
  stale: number;
  /** TOTAL: views installed (the first one included). */
  views: number;
  /** TOTAL: messages of a member leaving the view dropped because no member had their commit. */
  discarded: number;
}

export function orderStats(): OrderStats {
  return {
    sent: 0, delivered: 0, held: 0, duplicates: 0, retransmissions: 0, acksSent: 0, nacksSent: 0, proposals: 0, malformed: 0,
    strangers: 0, outOfWindow: 0, restarts: 0, syncs: 0, stale: 0, views: 0, discarded: 0,
  };
}

/** A fresh incarnation, 1..255. */
export function drawIncarnation(rng: Rng): number {
  return 1 + (rng.u32() % 255);
}

/** The message is buf[off..off+len), valid during the call only; `from` is the sender's address. */
export type DeliverFn = (buf: Uint8Array, off: number, len: number, from: number) => void;

export interface OrderOptions {
  mac: Mac;
  clock: Clock;
  /** For the random part of timeouts. */
  rng: Rng;
  /** Every member's address, this one's included, in the same order at every member; 1..16 of them. */
  members: number[];
  config?: OrderConfig;
  /** This start's incarnation, 1..255 (default: drawn from rng). It must differ from the previous start's. */
  incarnation?: number;
}

/**
 * TOTAL: called when a view is installed, before any message of it is delivered; `mask` has bit i
 * for members[i]. View 0 with mask 0: this member found itself outside the group (excluded, or a
 * restart noticed): it delivers nothing until a view lets it in again.
 */
export type ViewFn = (view: number, mask: number) => void;

export interface OrderGroup {
  /** Multicast payload[0..len) to the group: ORDER_OK (copied), ORDER_E_FULL or ORDER_E_TOO_LARGE. */
  multicast(payload: Uint8Array, len: number): number;
  onDeliver(fn: DeliverFn | null): void;
  readonly stats: OrderStats;
  /** Own messages not yet delivered at every member (multicast() refuses at `window`). */
  pending(): number;
  /** Messages of other members in the hold-back queue now. */
  holding(): number;
  /** Largest payload multicast() takes. */
  readonly maxPayload: number;
  /** This start's incarnation (drawn again if a former self turns out to have had the same). */
  incarnation(): number;
  /** TOTAL: the installed view's number (0 before the first) and members; FIFO, causal: 0 and every member. */
  view(): { id: number; mask: number };
  /** TOTAL: view installations; FIFO and causal never call it. */
  onView(fn: ViewFn | null): void;
}

/** This member's index in the list; throws on a bad list (configuration, not traffic). */
export function memberIndex(members: number[], addr: number, cfg: OrderConfig): number {
  const n = members.length;
  if (!(n >= 1 && n <= MAX_MEMBERS)) throw new Error('order: 1..' + MAX_MEMBERS + ' members');
  const w = cfg.window;
  if (!(w >= 1 && w <= 64 && (w & (w - 1)) === 0)) throw new Error('order: window must be a power of two, 1..64');
  let me = -1;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) if (members[k] === members[i]) throw new Error('order: duplicate member');
    if (members[i] === addr) me = i;
  }
  if (me < 0) throw new Error('order: this station is not in the member list');
  return me;
}

/** The incarnation of this start: o.incarnation if given (checked), else drawn from o.rng. */
export function incarnationOf(o: OrderOptions): number {
  const x = o.incarnation;
  if (x === undefined) return drawIncarnation(o.rng);
  if (!(x >= 1 && x <= 255 && (x | 0) === x)) throw new Error('order: incarnation must be an integer 1..255');
  return x;
}

/** The index of `addr` in the member list, or -1. */
export function indexOf(addrs: Uint16Array, n: number, addr: number): number {
  for (let i = 0; i < n; i++) if (addrs[i] === addr) return i;
  return -1;
}

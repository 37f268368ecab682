// An edge node's stack, shared by the boards that run under a full JavaScript runtime (deno-edge under
// Deno, node-host under Node): link -> raw MAC (firmware/mac/raw.ts) -> service ports -> request-reply
// server and client (firmware/rr/rr.ts) and, when given one, a Psync conversation participant (the
// library's ordered broadcast by waves, firmware/psync/library.ts). The board hands in the link, the
// clock and the Rng (drivers stay in hal/), and a `print` for its JSON lines.
//
// Operations served (the sim board's numbers where they overlap, so the same host code reads both):
//   OP_ECHO 1 (idempotent): returns its arguments.
//   OP_COUNT 2 (not idempotent): adds one to a counter and returns it; called at most once (RRA, or RR
//     with at-most-once semantics) a retransmitted call is answered from the reply history, so a count
//     that skips or repeats shows a call that ran twice or not at all.
//   OP_DIGEST 3 (idempotent): args n returns [committed, checksum of the first n committed messages or
//     -1] (null without a conversation), as boards/sim.ts: participants compare committed sequences.
//   OP_INFO 4 (idempotent): { runtime, addr, count, sent, delivered, committed, digest }.
// The conversation: the first listed participant opens it (its first data message is the SC), the others
// wait for it. Each sends `messages` data messages of 4 bytes: its own message number k (1-based, big-
// endian u16) and 2 random bytes, at most WINDOW of its own uncommitted at a time, every `everyUs` on
// average. With `trace`, each send, delivery and commit is printed as the line `picolink sim
// conversation --trace` writes ({"t","node","ev","mid"[,"from"]}, mid "<addr>:<k>"), a send with "ctx":
// how many messages of each participant (in the list's order) this node had sent or been delivered,
// so a checker (host/sim/conversation.ts checkTrace) can verify context order across processes.
// Sizes: an IP frame carries any participant count Psync allows (8), so the tables are those of the
// conversation scenario (host/sim/conversation.ts), sized for 8 participants under loss.

import type { Link } from '../../hal/link.ts';
import type { Clock } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import { rawMac } from '../mac/raw.ts';
import type { RawMac } from '../mac/raw.ts';
import { ADDR_BROADCAST } from '../mac/mac.ts';
import { macPorts, SVC_PSYNC, SVC_RR } from '../mac/ports.ts';
import { RR_DEFAULTS, RR_OK, rr } from '../rr/rr.ts';
import type { Rr, RrConfig } from '../rr/rr.ts';
import { PROTO_RRA } from '../rr/frame.ts';
import { RR_ERROR_NAMES } from '../rr/names.ts';
import { PSYNC_DEFAULTS, midSender, midSeq, psync } from '../psync/psync.ts';
import type { Psync, PsyncConfig } from '../psync/psync.ts';
import { LIB_DEFAULTS, psyncLib } from '../psync/library.ts';
import type { LibConfig, PsyncLib } from '../psync/library.ts';

export const OP_ECHO = 1;
export const OP_COUNT = 2;
export const OP_DIGEST = 3;
export const OP_INFO = 4;

/** Own data messages uncommitted at once. */
const WINDOW = 2;
/** Checksums of the last DIGESTS committed prefixes kept (a power of two). */
export const EDGE_DIGESTS = 64;
const DATA_LEN = 4;

/** Request-reply for a node several hosts call: 16 history entries per client keeps at-most-once exact (rr.ts). */
export const EDGE_RR: RrConfig = {
  maxCalls: 8, timeoutUs: 200000, maxTimeoutUs: 2000000, retries: 6, historyEntries: 256, historyUs: RR_DEFAULTS.historyUs, maxPending: 16, clients: 16,
};
/** Psync and the library for up to 8 participants under loss (the conversation scenario's sizes). */
export const EDGE_PSYNC: PsyncConfig = {
  conversations: 1, nodes: 96, bufs: 64, reserve: 2, hold: 16, pending: 2, forget: PSYNC_DEFAULTS.forget,
  holdUs: 20000, rtxUs: 40000, rtxTries: 4, rtxAllTries: 4, group: ADDR_BROADCAST,
};
export const EDGE_LIB: LibConfig = {
  records: 80, dataBytes: DATA_LEN, ackUs: 10000, tickUs: 150000, retries: LIB_DEFAULTS.retries, stableSlots: 1, stableUs: 300000, stableTries: 6,
};

export interface EdgeConversationOptions {
  /** Participants (2..8 station addresses), the initiator first. */
  participants: number[];
  /** Data messages this node sends. */
  messages: number;
  /** Mean time between them, µs. */
  everyUs: number;
}

export interface EdgeNodeOptions {
  link: Link;
  clock: Clock;
  rng: Rng;
  addr: number;
  /** Named in OP_INFO's answer, e.g. "deno 2.1.0". */
  runtime: string;
  conversation?: EdgeConversationOptions | null;
  /** Print conversation events (JSON lines) through print. */
  trace?: boolean;
  /** One line of output (JSON, no newline). */
  print?: (line: string) => void;
}

export interface EdgeStats {
  /** OP_COUNT executions. */
  count: number;
  sent: number;
  delivered: number;
  committed: number;
  /** Running checksum of the committed sequence (0 when empty). */
  digest: number;
}

export interface EdgeNode {
  readonly mac: RawMac;
  readonly rr: Rr;
  readonly ps: Psync | null;
  readonly lib: PsyncLib | null;
  readonly stats: EdgeStats;
  /** Checksum of the first n committed messages; -1 when n is above what is committed or too far back. */
  digestAt(n: number): number;
  /** Every participant's messages committed here (false without a conversation). */
  done(): boolean;
  /** Call op on dst, printing {"ev":"call","dst","op","err","result"} (and "why", the error in words, when err is not 0); cb gets the outcome too. */
  call(dst: number, op: number, args: unknown, cb?: (err: number, result: unknown) => void): number;
  /** Stop sending conversation messages and answering timers of this node's own (the link stays the board's). */
  stop(): void;
}

export function edgeNode(o: EdgeNodeOptions): EdgeNode {
  const clock = o.clock;
  const rng = o.rng;
  const addr = o.addr;
  const print = o.print || function () {};
  const mac = rawMac(o.link, addr, 16);
  const ports = macPorts(mac, 32);
  const r = rr({ mac: ports.port(SVC_RR), clock: clock, rng: rng, config: EDGE_RR });
  const st: EdgeStats = { count: 0, sent: 0, delivered: 0, committed: 0, digest: 0 };
  const ring = new Uint32Array(EDGE_DIGESTS);
  const node = String(addr);
  let stopped = false;

  const conv = o.conversation || null;
  let ps: Psync | null = null;
  let lib: PsyncLib | null = null;
  let total = 0;
  if (conv) {
    const list = conv.participants;
    const n = list.length;
    if (list.indexOf(addr) < 0) throw new Error('edge node: ' + addr + ' is not among the participants ' + list.join(','));
    total = n * conv.messages;
    const p = psync({ mac: ports.port(SVC_PSYNC), clock: clock, rng: rng, config: EDGE_PSYNC });
    const l = psyncLib({ ps: p, addr: addr, clock: clock, rng: rng, config: EDGE_LIB });
    ps = p;
    lib = l;
    // View as counts per participant: each sender's messages form a chain, so a view in context order
    // holds a prefix 1..k of each; a message past a gap does not count (a checker then sees the gap).
    const prefix: number[] = [];
    for (let i = 0; i < n; i++) prefix.push(0);
    const me = list.indexOf(addr);
    let h = 0;
    let opened = false;
    let ownCommitted = 0;
    const tx = new Uint8Array(DATA_LEN);
    const appMid = function (mid: number, d: Uint8Array, len: number): string {
      return midSender(mid) + ':' + (len >= 2 ? (d[0] << 8) | d[1] : 0);
    };
    const mix = function (b: number): void {
      h = ((h << 5) - h + b) | 0; // h * 31 + b, modulo 2^32
    };
    l.onDeliver(function (_c, mid, d, len) {
      st.delivered++;
      const i = list.indexOf(midSender(mid));
      const k = len >= 2 ? (d[0] << 8) | d[1] : 0;
      if (i >= 0 && k === prefix[i] + 1) prefix[i] = k;
      if (o.trace) print(JSON.stringify({ t: clock.now(), node: node, ev: 'deliver', mid: appMid(mid, d, len), from: String(midSender(mid)) }));
    });
    l.onCommit(function (_c, mid, d, len) {
      const s = midSender(mid);
      const q = midSeq(mid);
      mix(s >> 8);
      mix(s & 0xff);
      mix(q >> 8);
      mix(q & 0xff);
      for (let i = 0; i < len; i++) mix(d[i]);
      st.committed++;
      st.digest = h >>> 0;
      ring[st.committed & (EDGE_DIGESTS - 1)] = st.digest;
      if (s === addr) ownCommitted++;
      if (o.trace) print(JSON.stringify({ t: clock.now(), node: node, ev: 'commit', mid: appMid(mid, d, len) }));
      if (st.committed === total) print(JSON.stringify({ t: clock.now(), node: node, ev: 'done', committed: st.committed, digest: st.digest }));
    });
    if (list[0] !== addr) {
      p.onOpen(function (c) { l.attach(c); });
      p.passiveOpen();
    }
    const trySend = function (): void {
      if (stopped || st.sent >= conv.messages) return;
      if (!opened && list[0] === addr) {
        const c = p.activeOpen(list, n);
        if (c < 0 || l.attach(c) < 0) throw new Error('edge node: cannot open the conversation (' + c + ')');
      }
      opened = opened || list[0] === addr;
      if (l.conv() >= 0 && st.sent - ownCommitted < WINDOW) {
        const k = st.sent + 1;
        tx[0] = k >> 8;
        tx[1] = k & 0xff;
        tx[2] = rng.u32() & 0xff;
        tx[3] = rng.u32() & 0xff;
        const ctx = prefix.slice();
        if (l.send(tx, DATA_LEN) >= 0) {
          st.sent = k;
          prefix[me] = k;
          if (o.trace) print(JSON.stringify({ t: clock.now(), node: node, ev: 'send', mid: node + ':' + k, ctx: ctx }));
        }
      }
      // Uniform over 0.5..1.5 of the mean, so that the participants' messages cross.
      clock.at(clock.now() + Math.floor(conv.everyUs / 2) + (rng.u32() % (conv.everyUs + 1)), trySend);
    };
    // The initiator's first message is the SC: it goes soon, so the others take part from their first.
    clock.at(clock.now() + (list[0] === addr ? rng.u32() % (Math.floor(conv.everyUs / 8) + 1) : conv.everyUs), trySend);
  }

  r.register(OP_ECHO, function (args, req) {
    r.reply(req, RR_OK, args);
  }, true);
  r.register(OP_COUNT, function (_args, req) {
    r.reply(req, RR_OK, ++st.count);
  });
  const digestAt = function (k: number): number {
    if (k === 0) return 0;
    if (!(k <= st.committed && k > st.committed - EDGE_DIGESTS)) return -1;
    return ring[k & (EDGE_DIGESTS - 1)];
  };
  r.register(OP_DIGEST, function (args, req) {
    r.reply(req, RR_OK, conv ? [st.committed, typeof args === 'number' ? digestAt(args) : -1] : null);
  }, true);
  r.register(OP_INFO, function (_args, req) {
    r.reply(req, RR_OK, { runtime: o.runtime, addr: addr, count: st.count, sent: st.sent, delivered: st.delivered, committed: st.committed, digest: st.digest });
  }, true);

  return {
    mac: mac,
    rr: r,
    ps: ps,
    lib: lib,
    stats: st,
    digestAt: digestAt,
    done: function () { return conv !== null && st.committed >= total; },
    call: function (dst, op, args, cb) {
      // Not idempotent by default: at most once (RRA), which is also right for the idempotent ones.
      const line = function (err: number, result: unknown): void {
        const o: Record<string, unknown> = { t: clock.now(), node: node, ev: 'call', dst: dst, op: op, err: err, result: err === RR_OK ? result : null };
        if (err !== RR_OK) o.why = RR_ERROR_NAMES[err] || 'error ' + err;
        print(JSON.stringify(o));
      };
      const s = r.call(dst, op, args, { proto: PROTO_RRA }, function (err, result) {
        line(err, result);
        if (cb) cb(err, result);
      });
      if (s !== RR_OK) line(s, null); // refused at once (too many calls, arguments too large): no callback follows
      return s;
    },
    stop: function () { stopped = true; },
  };
}

/** Make `calls` one after another (each result printed by node.call), then `done` (if given). */
export function runCalls(node: EdgeNode, calls: { dst: number; op: number; args: unknown }[], done?: () => void): void {
  let i = 0;
  const next = function (): void {
    if (i >= calls.length) {
      if (done) done();
      return;
    }
    const c = calls[i++];
    if (node.call(c.dst, c.op, c.args, next) !== RR_OK) next();
  };
  next();
}

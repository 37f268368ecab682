// Conversational continuity for request-reply over a Psync conversation (the Psync paper, section
// 4.1): a client sends a request, a server replies in its context, the client's next request follows
// that reply, and so on. The context graph does the work a request-reply protocol otherwise does by
// hand:
// - No transaction ids: a reply answers the client's newest request when it follows it in the view
//   (ps.precedes). No acknowledgements: the reply acknowledges the request and the next request the
//   reply, so a call costs two frames on a quiet network (RR's at-most-once costs the same two and a
//   history kept for a time; RRA three).
// - At-most-once for free: Psync delivers each message once, so each handler runs once per request.
//   The reply is the server's newest message; if it is lost, the client's resent request (RESENT, the
//   last-message rule of 3.2.2) meets the duplicate rule at the server, which sends back the request's
//   successors, its reply among them, without running the handler again. The server's "history" is
//   the context graph's unstable part: one reply, freed as soon as the next request arrives.
// - Closing without overhead messages: a call marked final tells the server this is the last; the
//   client closes as soon as the final reply arrives, the server after `lingerUs` (time for the
//   client's resends, as TCP's TIME-WAIT) without any closing exchange.
// - Several servers (the third observation of 4.1): every participant after the client is a server,
//   and every message reaches every participant, so servers see each other's replies. Server k
//   (participant index k >= 1) waits (k - 1) x spreadUs before running its handler and skips the
//   request when another server's reply to it is already in its view (`suppressed`). The client takes
//   the first reply; later ones are counted (`extraReplies`). spreadUs 0: every server answers.
//   A server that stays silent would keep every message from becoming stable (stable means every
//   participant sent in its context), and the client's buffers would fill: after `ackEvery` requests
//   left alone in a row, a server sends an ACK, one message in the context of all it has seen.
// The client is the conversation's initiator (participant 0): its first request is the SC.
// Wire: every message starts with a kind byte; REQ [1][op][args...], REQ marked final [3][op][args...],
// REP [2][status][result...], ACK [4][0]. status 0 is success; the others are the RR_E_ codes of firmware/rr/rr.ts
// (unknown operation, handler failure), so errors read the same across both request-reply paths.
// Board code: buffers allocated at creation; one timer; one call at a time per conversation (the
// pattern of conversational continuity: a stop-and-wait exchange whose graph is a chain).

import type { Clock, Timer } from '../../hal/clock.ts';
import { PS_MAX_PARTICIPANTS } from './frame.ts';
import type { Psync } from './psync.ts';
import { PS_E_ARG, PS_E_TOO_LARGE, PS_E_UNKNOWN, PS_OK, midOf, midSender } from './psync.ts';
import { RR_E_BUSY, RR_E_HANDLER, RR_E_TIMEOUT, RR_E_UNKNOWN_OP } from '../rr/rr.ts';

export const CR_REQ = 1;
export const CR_REP = 2;
export const CR_FINAL = 3;
export const CR_ACK = 4;
/** A handler's answer: the reply will come later, through reply(). */
export const CR_LATER = -100;

export interface RpcConfig {
  /** Largest arguments and results, bytes (messages carry two bytes more). */
  dataBytes: number;
  /** Client: resend the request after this long without a reply, µs; give up after `tries`. */
  retryUs: number;
  tries: number;
  /** Servers: delay per participant index before answering (see the header), µs. */
  spreadUs: number;
  /** Server: how long a conversation stays open after the final reply, µs. */
  lingerUs: number;
  /** Server: requests left to other servers before this one acknowledges them with an ACK. */
  ackEvery: number;
}

export const RPC_DEFAULTS: RpcConfig = { dataBytes: 20, retryUs: 50_000, tries: 8, spreadUs: 0, lingerUs: 1_000_000, ackEvery: 4 };

export interface RpcStats {
  calls: number;
  replies: number;
  resent: number;
  timeouts: number;
  /** Server: requests handled; requests left to another server that had answered. */
  handled: number;
  suppressed: number;
  /** Server: ACKs sent after requests left to others. */
  acks: number;
  /** Client: replies after the first to one request (several servers). */
  extraReplies: number;
}

/** Server handler: write the result into out, return its length, a negative RR_E_ code, or CR_LATER. */
export type RpcHandler = (op: number, args: Uint8Array, len: number, out: Uint8Array) => number;
/** Client callback: status 0 with result[0..len), or an RR_E_ code; from is the answering server. */
export type RpcDone = (status: number, result: Uint8Array, len: number, from: number) => void;

export interface PsyncRpc {
  /** Follow conversation conv: after activeOpen on the client, in onOpen on a server. */
  attach(conv: number): number;
  conv(): number;
  /** Client: call op; final closes the conversation after the reply. Returns PS_OK or an error. */
  call(op: number, args: Uint8Array, len: number, final: boolean, done: RpcDone): number;
  /** Server: handler for op (null removes it). */
  handle(op: number, fn: RpcHandler | null): void;
  /** Server: answer the pending request (after a handler returned CR_LATER); status 0 or RR_E_. */
  reply(status: number, result: Uint8Array, len: number): number;
  /** The conversation ended (final reply received or lingered on). */
  onClosed(fn: ((conv: number) => void) | null): void;
  readonly stats: RpcStats;
}

export interface RpcOptions {
  ps: Psync;
  addr: number;
  clock: Clock;
  config?: RpcConfig;
  /** Most operation codes a server registers (0..ops-1). */
  ops?: number;
}

export function psyncRpc(o: RpcOptions): PsyncRpc {
  const ps = o.ps;
  const clock = o.clock;
  const cfg = o.config || RPC_DEFAULTS;
  const D = cfg.dataBytes;
  const handlers: (RpcHandler | null)[] = [];
  const nOps = o.ops || 16;
  for (let i = 0; i < nOps; i++) handlers.push(null);
  const stats: RpcStats = { calls: 0, replies: 0, resent: 0, timeouts: 0, handled: 0, suppressed: 0, acks: 0, extraReplies: 0 };
  const tx = new Uint8Array(D + 2);
  const rep = new Uint8Array(D + 2);
  const out = new Uint8Array(D);
  const arg = new Uint8Array(D);
  const who = new Float64Array(PS_MAX_PARTICIPANTS);

  let conv = -1;
  let me = -1;
  let client = -1;
  /** Client: the request in progress (mid), its tries, its callback; the newest request answered. */
  let req = -1;
  let answered = -1;
  let tries = 0;
  let final = false;
  let doneFn: RpcDone | null = null;
  /** Server: the request to answer (mid), when to, its op and arguments; the request last answered. */
  let sReq = -1;
  let sAt = 0;
  let sOp = 0;
  let sLen = 0;
  let sFinal = false;
  let sLater = false;
  let sAnswered = -1;
  /** Server: a reply built but not sent yet (Psync had no free buffer): its length, else 0. */
  let repLen = 0;
  let quiet = 0;
  let lingerAt = 0;
  let timer: Timer | null = null;
  let closedFn: ((conv: number) => void) | null = null;

  function arm(at: number): void {
    if (timer !== null) clock.cancel(timer);
    timer = at > 0 ? clock.at(at, onTimer) : null;
  }

  function finish(): void {
    const c = conv;
    arm(0);
    conv = -1;
    req = -1;
    sReq = -1;
    ps.close(c);
    if (closedFn) closedFn(c);
  }

  function complete(status: number, data: Uint8Array, len: number, from: number): void {
    const fn = doneFn;
    answered = req;
    req = -1;
    doneFn = null;
    arm(lingerAt);
    const last = final;
    if (fn) fn(status, data, len, from);
    if (last && conv >= 0) finish();
  }

  /** Server: send the reply in rep[0..repLen); a refusal (no buffer yet) is retried by the timer. */
  function trySendReply(): number {
    const mid = ps.send(conv, rep, repLen);
    if (mid < 0) {
      arm(clock.now() + cfg.retryUs);
      return mid;
    }
    repLen = 0;
    sAnswered = sReq;
    sReq = -1;
    sLater = false;
    quiet = 0;
    if (sFinal) lingerAt = clock.now() + cfg.lingerUs;
    arm(lingerAt);
    return PS_OK;
  }

  function sendReply(status: number, data: Uint8Array, len: number): number {
    if (len > D) return PS_E_TOO_LARGE;
    rep[0] = CR_REP;
    rep[1] = status;
    for (let i = 0; i < len; i++) rep[2 + i] = data[i];
    repLen = len + 2;
    sLater = false;
    trySendReply();
    return PS_OK;
  }

  /** Server: the pending request is left to the server that answered it (or to the client's next one). */
  function leave(): void {
    sReq = -1;
    stats.suppressed++;
    if (++quiet < cfg.ackEvery) return;
    tx[0] = CR_ACK;
    tx[1] = 0;
    if (ps.send(conv, tx, 2) >= 0) {
      stats.acks++;
      quiet = 0;
    }
  }

  /** Server: run the handler of the pending request, unless another server has answered it. */
  function serve(): void {
    if (sReq < 0 || sLater || repLen > 0) return;
    if (sAnswered === sReq) {
      leave();
      return;
    }
    stats.handled++;
    const fn = sOp < nOps ? handlers[sOp] : null;
    if (fn === null) {
      sendReply(RR_E_UNKNOWN_OP, out, 0);
      return;
    }
    let r: number;
    try {
      r = fn(sOp, arg, sLen, out);
    } catch (e) {
      r = -RR_E_HANDLER;
    }
    if (r === CR_LATER) {
      sLater = true;
      return;
    }
    if (r < 0) sendReply(-r, out, 0);
    else sendReply(0, out, r > D ? D : r);
  }

  function onTimer(): void {
    timer = null;
    if (conv < 0) return;
    const now = clock.now();
    if (lingerAt > 0 && lingerAt <= now && req < 0 && sReq < 0) {
      finish();
      return;
    }
    if (repLen > 0 && sReq >= 0) {
      trySendReply();
      return;
    }
    if (sReq >= 0 && !sLater && sAt <= now) serve();
    if (req >= 0) {
      if (tries >= cfg.tries) {
        stats.timeouts++;
        complete(RR_E_TIMEOUT, out, 0, 0);
        return;
      }
      tries++;
      // The request is the newest message: nothing would name it in an RTX if it were lost (3.2.2).
      if (ps.resend(conv, req) === PS_OK) stats.resent++;
      arm(now + cfg.retryUs);
      return;
    }
    if (sReq >= 0 && !sLater) arm(sAt);
    else arm(lingerAt);
  }

  ps.onDeliver(function (c: number, sender: number, seq: number, p: Uint8Array, len: number) {
    if (c !== conv || len < 2) return;
    const mid = midOf(sender, seq);
    const kind = p[0];
    if (kind === CR_REP) {
      // Another server's reply: this server may leave the request alone.
      if (sReq >= 0 && ps.precedes(conv, sReq, mid)) sAnswered = sReq;
      if (me !== client) return;
      if (req >= 0 && ps.precedes(conv, req, mid)) {
        stats.replies++;
        const n = len - 2 > D ? D : len - 2;
        for (let i = 0; i < n; i++) out[i] = p[2 + i];
        complete(p[1], out, n, sender);
      } else if (answered >= 0 && ps.precedes(conv, answered, mid)) {
        stats.extraReplies++;
      }
      return;
    }
    if ((kind !== CR_REQ && kind !== CR_FINAL) || me === client || midSender(mid) !== who[client]) return;
    // The client has moved on: the request still waiting here was answered elsewhere (or given up).
    if (sReq >= 0 && !sLater && repLen === 0) leave();
    repLen = 0;
    sReq = mid;
    sOp = p[1];
    sLen = len - 2 > D ? D : len - 2;
    for (let i = 0; i < sLen; i++) arg[i] = p[2 + i];
    sFinal = kind === CR_FINAL;
    sLater = false;
    sAt = clock.now() + (me - 1) * cfg.spreadUs;
    if (sAt <= clock.now()) serve();
    else arm(sAt);
  });

  return {
    stats,
    attach(c: number): number {
      const n = ps.participants(c, who);
      if (n < 2) return PS_E_UNKNOWN;
      me = -1;
      for (let i = 0; i < n; i++) if (who[i] === o.addr) me = i;
      if (me < 0) return PS_E_ARG;
      conv = c;
      client = 0;
      req = -1;
      answered = -1;
      sReq = -1;
      sAnswered = -1;
      lingerAt = 0;
      arm(0);
      return PS_OK;
    },
    conv: () => conv,
    call(op: number, args: Uint8Array, len: number, isFinal: boolean, done: RpcDone): number {
      if (conv < 0) return PS_E_UNKNOWN;
      if (me !== client || !(op >= 0 && op <= 255)) return PS_E_ARG;
      if (req >= 0) return -RR_E_BUSY;
      if (!(len >= 0 && len <= D)) return PS_E_TOO_LARGE;
      tx[0] = isFinal ? CR_FINAL : CR_REQ;
      tx[1] = op;
      for (let i = 0; i < len; i++) tx[2 + i] = args[i];
      const mid = ps.send(conv, tx, len + 2);
      if (mid < 0) return mid;
      stats.calls++;
      req = mid;
      final = isFinal;
      tries = 0;
      doneFn = done;
      arm(clock.now() + cfg.retryUs);
      return PS_OK;
    },
    handle(op: number, fn: RpcHandler | null): void {
      if (op >= 0 && op < nOps) handlers[op] = fn;
    },
    reply(status: number, result: Uint8Array, len: number): number {
      if (conv < 0 || sReq < 0 || !sLater) return PS_E_UNKNOWN;
      return sendReply(status, result, len);
    },
    onClosed(fn) { closedFn = fn; },
  };
}

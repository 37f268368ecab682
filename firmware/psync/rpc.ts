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
// Crash and restart (section 5; Psync's restart() rebuilds the image from the log and the others):
// the restarted host calls ps.restart(cid, participants, n, mids, k), then rejoin(conv) here instead of
// attach() (before injecting its log, so that the replay passes through), and the conversation goes on.
// - Replay without reexecution (5.2's replay, not its reexecution): the rebuilt view is delivered
//   again, and nothing is run or sent for it. A server runs no handler for a request it finds
//   followed by one of its own messages (its reply, or an ACK that left it to another server): that
//   request was answered before the crash, and a handler with side effects must not repeat them; the
//   reply already sent is not sent again. onReplay(fn) shows the application each such request with
//   its reply, in order, so that a server whose state lives in RAM can rebuild it (the paper's
//   reexecution, with the outputs taken from the view rather than recomputed). Psync frees a message's
//   copies once it is stable, so without a Psync log only the unstable tail comes back with content
//   (usually the last call); stable calls are counted in the view but not shown.
// - A journal for the one window the view cannot cover: the handler ran, and the crash came before
//   any other host had the reply (it was lost on the air, or not sent yet). The view then shows the
//   request unanswered. With `store` (hal/store.ts: a few slots of 11 + dataBytes bytes), a server
//   writes the request's id before its handler runs and the reply after (flash rules: the second
//   write fills bytes the first left unwritten; one slot per handled request, erased when the region
//   is full), and a request found in the journal is answered from it: the stored reply, or
//   CR_E_OUTCOME when the handler had not finished (its effects may or may not have happened; a
//   CR_LATER handler's pending work is gone). Stop-and-wait makes the newest slot the only one that
//   matters: a client request older than it was answered. So with a journal a server's at-most-once
//   does not depend on how much of the view the restart rebuilt (Psync may complete a restart before
//   older messages arrive: those come as ordinary deliveries, and the journal leaves them alone).
//   Without a store the window above runs the handler again (at-least-once for it). A power loss between
//   the erase of a full region and the next slot's write loses the journal (1 in `slots` calls).
// - Client: the replay shows its last request and the replies; once Psync's restart is complete the
//   rejoin callback reports where the conversation stands: the last request (op and arguments, when
//   its content came back) with its reply (status and result) when the reply is in the rebuilt view.
//   When it is not, the call is resumed, not given up: the client waits for that reply, resending
//   the request (when its copy came back), and reports it when it comes, or RR_E_TIMEOUT (outcome
//   unknown) after `tries`. The reply is often just behind: Psync's restart completes on the RS
//   answers, and the messages the others send back follow them. When the request came back without
//   its content (stable at the server, so answered) and its reply is lost on the way, nothing here
//   can fetch it (Psync has no call to ask for a named message) and the report is RR_E_TIMEOUT.
//   call() answers -RR_E_BUSY meanwhile. A request the crash lost before any host had it is not in
//   the view (Psync gives its id to the next message); the report names the one before it.
// - Psync suppresses a restarted host's sends until they pass its own messages in the image (5.2,
//   returning old ids): every send here skips past that, so a new request or reply is always new.
// - A participant's restart (Psync's RS) gives the client's waiting call a fresh set of tries: a
//   request that reached a server just before it crashed, or while it was down, is answered once it
//   is back. rpc takes Psync's onRestart for this; applications use onRestart here.
// Board code: buffers allocated at creation; one timer; one call at a time per conversation (the
// pattern of conversational continuity: a stop-and-wait exchange whose graph is a chain).

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Store } from '../../hal/store.ts';
import { PS_MAX_PARTICIPANTS } from './frame.ts';
import type { Psync } from './psync.ts';
import { PS_E_ARG, PS_E_TOO_LARGE, PS_E_UNKNOWN, PS_OK, midOf, midSender, midSeq } from './psync.ts';
import { RR_E_BUSY, RR_E_HANDLER, RR_E_TIMEOUT, RR_E_UNKNOWN_OP } from '../rr/rr.ts';

export const CR_REQ = 1;
export const CR_REP = 2;
export const CR_FINAL = 3;
export const CR_ACK = 4;
/** A handler's answer: the reply will come later, through reply(). */
export const CR_LATER = -100;
/**
 * Reply status after a server restart: the handler had started before the crash and not finished
 * (its journal slot has no reply), so whether its effects happened is unknown. Also the rejoin
 * report's status when the rebuilt view holds no request of this client at all.
 */
export const CR_E_OUTCOME = 11;

/** Journal slot: [magic][cid u16 u16][request mid u16 u16] written before the handler, [status][len][result] after. */
const J_MAGIC = 0xc5;
const J_HEAD = 9;
/** Status byte of a slot whose reply was never written (unwritten flash). */
const J_NONE = 0xff;

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
  /** After a restart: answered requests the replay delivered (no handler run, nothing sent). */
  replayed: number;
  /** Server: replies sent from the journal, and CR_E_OUTCOME answers (handler started, never finished). */
  journalReplies: number;
  unknownOutcome: number;
  /** Server: requests older than the journal's newest that the replay left unanswered (answered before). */
  journalSkipped: number;
  /** Server: journal writes the store refused even after an erase. */
  journalFailed: number;
  /** Client: calls in flight at a crash that were resumed after the restart. */
  resumed: number;
}

/** Server handler: write the result into out, return its length, a negative RR_E_ code, or CR_LATER. */
export type RpcHandler = (op: number, args: Uint8Array, len: number, out: Uint8Array) => number;
/** Client callback: status 0 with result[0..len), or an RR_E_ code; from is the answering server. */
export type RpcDone = (status: number, result: Uint8Array, len: number, from: number) => void;
/**
 * Client, after rejoin(): where the conversation stands. op and args[0..argsLen) are the last request
 * in the rebuilt view (op -1 when its content did not come back); status, result and from as RpcDone.
 */
export type RpcRejoined = (op: number, args: Uint8Array, argsLen: number, status: number, result: Uint8Array, len: number, from: number) => void;
/** Server, during the replay after rejoin(): a request answered before the crash, with that reply. */
export type RpcReplay = (op: number, args: Uint8Array, argsLen: number, status: number, result: Uint8Array, len: number) => void;

export interface PsyncRpc {
  /** Follow conversation conv: after activeOpen on the client, in onOpen on a server. */
  attach(conv: number): number;
  /**
   * Follow conversation conv after this host restarted it (ps.restart, before the log is injected):
   * replay without running or sending, then go on (see the header). Client: done reports the last
   * request and its outcome once; server: done is not used.
   */
  rejoin(conv: number, done: RpcRejoined | null): number;
  /** Still replaying after rejoin() (until Psync's restart is complete); call() answers -RR_E_BUSY meanwhile. */
  rejoining(): boolean;
  conv(): number;
  /** Client: call op; final closes the conversation after the reply. Returns PS_OK or an error. */
  call(op: number, args: Uint8Array, len: number, final: boolean, done: RpcDone): number;
  /** Server: handler for op (null removes it). */
  handle(op: number, fn: RpcHandler | null): void;
  /** Server: answer the pending request (after a handler returned CR_LATER); status 0 or RR_E_. */
  reply(status: number, result: Uint8Array, len: number): number;
  /** The conversation ended (final reply received or lingered on). */
  onClosed(fn: ((conv: number) => void) | null): void;
  /** Server: requests answered before a crash, as the replay after rejoin() delivers them. */
  onReplay(fn: RpcReplay | null): void;
  /** Psync's restart notice (rpc takes ps.onRestart): addr restarted conv, or this host's restart is complete. */
  onRestart(fn: ((conv: number, addr: number) => void) | null): void;
  readonly stats: RpcStats;
}

export interface RpcOptions {
  ps: Psync;
  addr: number;
  clock: Clock;
  config?: RpcConfig;
  /** Most operation codes a server registers (0..ops-1). */
  ops?: number;
  /** Server: a journal region that survives a crash (see the header); at least 11 + dataBytes bytes. */
  store?: Store;
}

export function psyncRpc(o: RpcOptions): PsyncRpc {
  const ps = o.ps;
  const clock = o.clock;
  const cfg = o.config || RPC_DEFAULTS;
  const D = cfg.dataBytes;
  const store = o.store || null;
  const handlers: (RpcHandler | null)[] = [];
  const nOps = o.ops || 16;
  for (let i = 0; i < nOps; i++) handlers.push(null);
  const stats: RpcStats = {
    calls: 0, replies: 0, resent: 0, timeouts: 0, handled: 0, suppressed: 0, acks: 0, extraReplies: 0,
    replayed: 0, journalReplies: 0, unknownOutcome: 0, journalSkipped: 0, journalFailed: 0, resumed: 0,
  };
  const tx = new Uint8Array(D + 2);
  const rep = new Uint8Array(D + 2);
  const out = new Uint8Array(D);
  const arg = new Uint8Array(D);
  const who = new Float64Array(PS_MAX_PARTICIPANTS);
  const fr = new Float64Array(PS_MAX_PARTICIPANTS);
  // The journal: slots of S bytes; jBuf stages a write, jRes keeps the newest slot's reply.
  const S = J_HEAD + 2 + D;
  const jSlots = store ? Math.floor(store.capacity() / S) : 0;
  if (store && jSlots < 1) throw new Error('psync rpc: the journal store holds ' + store.capacity() + ' bytes, a slot needs ' + S + ' (11 + dataBytes): give it a larger region');
  const jBuf = new Uint8Array(S);
  const jRes = new Uint8Array(D);

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
  let replayFn: RpcReplay | null = null;
  let restartFn: ((conv: number, addr: number) => void) | null = null;
  /** After rejoin(): replaying until Psync's restart is complete. Client: the last own request and reply seen. */
  let replaying = false;
  let rejoinFn: RpcRejoined | null = null;
  let rLast = -1;
  let rOp = -1;
  let rLen = 0;
  let rFinal = false;
  let lastRep = -1;
  let lastSt = 0;
  let lastLen = 0;
  let lastFrom = 0;
  /** Journal: next slot, the slot of the newest request, its mid (-1 none), whether its reply is in. */
  let jNext = 0;
  let jCur = -1;
  let jMid = -1;
  let jDone = false;
  let jStatus = 0;
  let jLen = 0;

  function arm(at: number): void {
    if (timer !== null) clock.cancel(timer);
    timer = at > 0 ? clock.at(at, onTimer) : null;
  }

  /** Send past Psync's suppression of a restarted host's old messages (5.2): always a new message. */
  function psSend(buf: Uint8Array, len: number): number {
    for (;;) {
      const before = ps.stats.suppressed;
      const mid = ps.send(conv, buf, len);
      if (mid < 0 || ps.stats.suppressed === before) return mid;
    }
  }

  // ---- the journal ----------------------------------------------------------------------------

  /** The client's ordinal of a request mid (its messages count from the conversation number). */
  function reqOrd(mid: number): number {
    return (midSeq(mid) - midSeq(ps.cid(conv))) & 0xffff;
  }

  function jHead(mid: number): void {
    const cid = ps.cid(conv);
    const a = midSender(cid);
    const n = midSeq(cid);
    const q = midSender(mid);
    const s = midSeq(mid);
    jBuf[0] = J_MAGIC;
    jBuf[1] = a >> 8;
    jBuf[2] = a & 0xff;
    jBuf[3] = n >> 8;
    jBuf[4] = n & 0xff;
    jBuf[5] = q >> 8;
    jBuf[6] = q & 0xff;
    jBuf[7] = s >> 8;
    jBuf[8] = s & 0xff;
  }

  /** Before a handler runs: the request's id, on the store before any effect of the handler. */
  function jIntent(mid: number): void {
    jMid = mid;
    jDone = false;
    jCur = -1;
    if (store === null) return;
    jHead(mid);
    if (jNext >= jSlots || !store.write(jNext * S, jBuf, J_HEAD)) {
      store.erase();
      jNext = 0;
      if (!store.write(0, jBuf, J_HEAD)) {
        stats.journalFailed++;
        return;
      }
    }
    jCur = jNext++;
  }

  /** The handler's reply, before it is sent. */
  function jReply(status: number, data: Uint8Array, len: number): void {
    if (jMid < 0 || jDone) return;
    jDone = true;
    jStatus = status >= J_NONE ? RR_E_HANDLER : status;
    jLen = len;
    for (let i = 0; i < len; i++) jRes[i] = data[i];
    if (store === null || jCur < 0) return;
    jBuf[0] = jStatus;
    jBuf[1] = len;
    for (let i = 0; i < len; i++) jBuf[2 + i] = data[i];
    if (!store.write(jCur * S + J_HEAD, jBuf, 2 + len)) stats.journalFailed++;
  }

  /** After a restart: the newest slot of this conversation, if any, and where the next one goes. */
  function jLoad(): void {
    jMid = -1;
    jCur = -1;
    jNext = jSlots;
    if (store === null) return;
    let last = -1;
    for (let k = 0; k < jSlots; k++) {
      if (store.read(k * S, jBuf, J_HEAD) < J_HEAD || jBuf[0] !== J_MAGIC) break;
      last = k;
    }
    jNext = last + 1;
    if (last < 0) return;
    store.read(last * S, jBuf, S);
    if (midOf((jBuf[1] << 8) | jBuf[2], (jBuf[3] << 8) | jBuf[4]) !== ps.cid(conv)) return;
    jMid = midOf((jBuf[5] << 8) | jBuf[6], (jBuf[7] << 8) | jBuf[8]);
    jCur = last;
    jDone = jBuf[J_HEAD] !== J_NONE;
    jStatus = jBuf[J_HEAD];
    jLen = jDone && jBuf[J_HEAD + 1] <= D ? jBuf[J_HEAD + 1] : 0;
    for (let i = 0; i < jLen; i++) jRes[i] = jBuf[J_HEAD + 2 + i];
  }

  // ---- calls and replies ----------------------------------------------------------------------

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
    const mid = psSend(rep, repLen);
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
    if (psSend(tx, 2) >= 0) {
      stats.acks++;
      quiet = 0;
    }
  }

  /** Server: run the handler of the pending request, unless another server or the journal has answered it. */
  function serve(): void {
    if (sReq < 0 || sLater || repLen > 0 || replaying) return;
    if (sAnswered === sReq) {
      leave();
      return;
    }
    if (jMid >= 0 && sReq === jMid) {
      // Handled before a crash: the stored reply, or the news that its outcome is unknown.
      if (jDone) {
        stats.journalReplies++;
        sendReply(jStatus, jRes, jLen);
      } else {
        stats.unknownOutcome++;
        sendReply(CR_E_OUTCOME, out, 0);
      }
      return;
    }
    if (jMid >= 0 && midSender(jMid) === midSender(sReq) && reqOrd(sReq) < reqOrd(jMid)) {
      // The client sent a later request before the crash, so this one was answered then.
      sReq = -1;
      stats.journalSkipped++;
      return;
    }
    stats.handled++;
    const fn = sOp < nOps ? handlers[sOp] : null;
    if (fn === null) {
      sendReply(RR_E_UNKNOWN_OP, out, 0);
      return;
    }
    jIntent(sReq);
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
    const st = r < 0 ? -r : 0;
    const n = r < 0 ? 0 : r > D ? D : r;
    jReply(st, out, n);
    sendReply(st, out, n);
  }

  /** Psync's restart is complete: report (client) or answer what is still pending (server). */
  function endReplay(): void {
    if (!replaying || conv < 0) return;
    replaying = false;
    if (me !== client) {
      if (sReq >= 0 && sAnswered !== sReq) {
        sAt = clock.now() + (me - 1) * cfg.spreadUs;
        if (sAt <= clock.now()) serve();
        else arm(sAt);
      } else {
        sReq = -1;
        arm(lingerAt);
      }
      return;
    }
    // Client: the newest own message in the view (its content came back only if rLast is it).
    const n = ps.frontier(conv, fr);
    let own = -1;
    for (let i = 0; i < n; i++) if (midSender(fr[i]) === o.addr) own = fr[i];
    const known = own >= 0 && own === rLast;
    if (!known) rLen = 0;
    const fn = rejoinFn;
    rejoinFn = null;
    if (own >= 0 && lastRep >= 0 && ps.precedes(conv, own, lastRep)) {
      answered = own;
      if (fn) fn(known ? rOp : -1, arg, rLen, lastSt, out, lastLen, lastFrom);
      if (known && rFinal && conv >= 0) finish();
      return;
    }
    if (own >= 0) {
      // Not answered in the view yet: in flight at the crash, or its reply is still on its way (Psync's
      // restart completes on the RS answers, before the messages sent with them have arrived). Wait
      // for it as the call did (resending the request when this host has a copy), and report it then.
      stats.resumed++;
      req = own;
      final = known && rFinal;
      tries = 0;
      doneFn = function (status: number, data: Uint8Array, len: number, from: number) {
        if (fn) fn(known ? rOp : -1, arg, rLen, status, data, len, from);
      };
      arm(clock.now() + cfg.retryUs);
      return;
    }
    if (fn) fn(-1, arg, 0, CR_E_OUTCOME, out, 0, 0);
  }

  function onTimer(): void {
    timer = null;
    if (conv < 0) return;
    const now = clock.now();
    if (replaying) {
      // Psync's onRestart ends the replay; this catches an application that took that callback.
      if (!ps.recovering(conv)) endReplay();
      else arm(now + cfg.retryUs);
      return;
    }
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

  /** A delivery during the replay after rejoin(): remember, run nothing, send nothing. */
  function replayed(mid: number, sender: number, kind: number, p: Uint8Array, len: number): void {
    const n = len - 2 > D ? D : len - 2;
    if (kind === CR_REQ || kind === CR_FINAL) {
      if (sender !== who[client]) return;
      if (me === client) {
        rLast = mid;
        rOp = p[1];
        rLen = n;
        rFinal = kind === CR_FINAL;
        for (let i = 0; i < n; i++) arg[i] = p[2 + i];
        return;
      }
      // A later request: the one pending here was dealt with before the crash.
      sReq = mid;
      sOp = p[1];
      sLen = n;
      sFinal = kind === CR_FINAL;
      sLater = false;
      for (let i = 0; i < n; i++) arg[i] = p[2 + i];
      return;
    }
    if (me === client) {
      if (kind !== CR_REP) return;
      lastRep = mid;
      lastSt = p[1];
      lastLen = n;
      lastFrom = sender;
      for (let i = 0; i < n; i++) out[i] = p[2 + i];
      return;
    }
    // Server: a message after the pending request, ours (a reply or an ACK) or another server's reply.
    if (sReq < 0 || (kind !== CR_REP && kind !== CR_ACK) || !ps.precedes(conv, sReq, mid)) return;
    if (sender === o.addr && kind === CR_REP) {
      stats.replayed++;
      for (let i = 0; i < n; i++) out[i] = p[2 + i];
      if (replayFn) replayFn(sOp, arg, sLen, p[1], out, n);
    }
    if (sender === o.addr || kind === CR_REP) {
      sAnswered = sReq;
      sReq = -1;
      if (sFinal) lingerAt = clock.now() + cfg.lingerUs;
    }
  }

  ps.onDeliver(function (c: number, sender: number, seq: number, p: Uint8Array, len: number) {
    if (c !== conv || len < 2) return;
    const mid = midOf(sender, seq);
    const kind = p[0];
    if (replaying) {
      replayed(mid, sender, kind, p, len);
      return;
    }
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

  ps.onRestart(function (c: number, addr: number) {
    if (c === conv) {
      if (addr === o.addr) endReplay();
      else if (req >= 0) tries = 0; // a participant is back: the waiting call gets its tries again
    }
    if (restartFn) restartFn(c, addr);
  });

  function follow(c: number): number {
    const n = ps.participants(c, who);
    if (n < 2) return PS_E_UNKNOWN;
    me = -1;
    for (let i = 0; i < n; i++) if (who[i] === o.addr) me = i;
    if (me < 0) return PS_E_ARG;
    conv = c;
    client = 0;
    req = -1;
    answered = -1;
    doneFn = null;
    sReq = -1;
    sAnswered = -1;
    sLater = false;
    repLen = 0;
    quiet = 0;
    lingerAt = 0;
    replaying = false;
    rejoinFn = null;
    rLast = -1;
    rLen = 0;
    lastRep = -1;
    arm(0);
    return PS_OK;
  }

  return {
    stats,
    attach(c: number): number {
      const r = follow(c);
      // A new conversation starts a new journal (erased before its first slot is written).
      jMid = -1;
      jCur = -1;
      jNext = jSlots;
      return r;
    },
    rejoin(c: number, done: RpcRejoined | null): number {
      const r = follow(c);
      if (r !== PS_OK) return r;
      jLoad();
      replaying = true;
      rejoinFn = done;
      if (!ps.recovering(c)) endReplay();
      else arm(clock.now() + cfg.retryUs);
      return PS_OK;
    },
    rejoining: () => replaying,
    conv: () => conv,
    call(op: number, args: Uint8Array, len: number, isFinal: boolean, done: RpcDone): number {
      if (conv < 0) return PS_E_UNKNOWN;
      if (me !== client || !(op >= 0 && op <= 255)) return PS_E_ARG;
      if (req >= 0 || replaying) return -RR_E_BUSY;
      if (!(len >= 0 && len <= D)) return PS_E_TOO_LARGE;
      tx[0] = isFinal ? CR_FINAL : CR_REQ;
      tx[1] = op;
      for (let i = 0; i < len; i++) tx[2 + i] = args[i];
      const mid = psSend(tx, len + 2);
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
      if (len > D) return PS_E_TOO_LARGE;
      jReply(status, result, len);
      return sendReply(status, result, len);
    },
    onClosed(fn) { closedFn = fn; },
    onReplay(fn) { replayFn = fn; },
    onRestart(fn) { restartFn = fn; },
  };
}

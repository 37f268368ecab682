// Request-reply (textbook 5.2; lecture notes on RPC): the R, RR and RRA protocols over any MAC
// (firmware/mac/mac.ts), one endpoint per MAC acting as both client (doOperation: call) and server
// (getRequest/sendReply: register and reply).
//
// - Client: call(dst, op, args, options, cb). Request ids start at a random value, so a restarted
//   client does not meet its old ids in a server's history. Request ids are unique per client and wrap at 65536;
//   a reply is matched to its outstanding call by (server, id), and a reply to a call that is no longer
//   outstanding (late, or a duplicate) is ignored. R completes once the MAC took the request; RR when
//   the reply comes; RRA likewise, and then acknowledges it. A lost request or reply is recovered by
//   retransmission after a timeout that doubles each time (up to maxTimeoutUs), `retries` times. Each
//   timeout is stretched by a random 0-50 % (as CoAP's ACK_RANDOM_FACTOR does): calls whose timers
//   ran together would otherwise be resent back to back for ever, and on a half-duplex radio without
//   a MAC the reply to the first would meet the second request every time.
// - Semantics: maybe (no retry: R, or RR with semantics maybe), at-least-once (retries; the server
//   executes every copy it receives), at-most-once (retries; the server filters duplicates and keeps
//   each reply in a history, so a lost reply is sent again without executing the operation again).
//   The request says which: the at-most-once flag in its header.
// - History: bounded in entries (historyEntries) and in time (historyUs). Every request carries the
//   client's acknowledgement of earlier replies from that server: a watermark (every id up to it is
//   answered) and a mask of the 16 ids after it (the RR protocol's "the next call acknowledges the last
//   reply", made safe for several calls in flight); an RRA acknowledgement says the same right after a
//   reply. The server frees exactly those entries, and remembers the watermark and mask per client
//   (for `clients` clients): an at-most-once request they cover is a stale copy (networks duplicate and
//   reorder) and is dropped without running. A client never runs more than 16 ids ahead of its oldest
//   unanswered call to a server (call() returns RR_E_TOO_MANY meanwhile), so a server needs at most 16
//   entries per client: with historyEntries >= 16 x clients at-most-once holds without exception. If
//   the history is full anyway, the oldest finished entry is evicted (counted), and a duplicate of that
//   call would run again. If every entry is a call still executing, a new at-most-once
//   request gets the BUSY error.
// - Errors travel as ERROR replies with a code (unknown operation, malformed arguments, handler failure,
//   busy) and reach the caller as that code, distinct from a local timeout.
// - Handlers: register(op, handler, idempotent); handler(args, req, src) replies at once or later with
//   reply(req, err, result); `req` is a small number (no closure per request on a board). An idempotent
//   operation skips the history even under at-most-once: running it twice is harmless by definition.
// - A server restarted with its history lost may execute a retransmitted at-most-once request a second
//   time: that is the documented limit of at-most-once without stable storage. A client restarted
//   (a bridge started again in front of the same devices) draws new ids at random; when they fall
//   behind the watermark its old self left at a server, the server answers RR_E_STALE instead of
//   dropping them, and the client moves its ids ahead and sends the call again (RR_E_STALE).
// - rr() is client and server; rrServer() the server alone, for a board that only answers: the
//   client half (call slots, retransmission, acknowledgements) is a function of its own that only rr()
//   names, so a bundle without rr() leaves it out. rrServerWith(o, codec) is rrServer() with the codec
//   given: the default CBOR codec is named only by rr() and rrServer(), so a bundle that
//   uses rrServerWith() with firmware/rr/raw.ts carries the encoder but not the decoder.
// Board code: call slots, pending requests and the history are arrays allocated at creation, their
// messages in one buffer each; one timer serves every deadline, and is moved only earlier (a deadline
// that went away leaves it to run once for nothing, which is cheaper than cancelling it per call).

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import { TX_OK } from '../../hal/link.ts';
import type { Mac, MacRxInfo } from '../mac/mac.ts';
import { cborDecode, cborEncode, cborState } from '../codec/cbor.ts';
import type { CborState } from '../codec/cbor.ts';
import type { RrHeader } from './frame.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA, RF_KIND, RR_ACK, RR_ERROR, RR_HDR, RR_REPLY, RR_REQUEST, emitRr, idNotAfter, parseRr } from './frame.ts';
import { RF_ACK, RF_ID, RF_MASK } from './frame.ts';

/** Ids after the watermark a client may have in use with one server (the width of the ack mask). */
const WINDOW = 16;

/** Outcomes given to call callbacks and reply(); 1-4 also travel in ERROR replies. */
export const RR_OK = 0;
export const RR_E_UNKNOWN_OP = 1;
export const RR_E_BAD_ARGS = 2;
export const RR_E_HANDLER = 3;
export const RR_E_BUSY = 4;
/** Local: no reply after every retry. */
export const RR_E_TIMEOUT = 5;
/** Local: the MAC would not take the request (R). */
export const RR_E_SEND = 6;
/** Local, returned by call(): too many calls outstanding. */
export const RR_E_TOO_MANY = 7;
/** Local, returned by call(): the arguments are outside the CBOR subset or do not fit a frame. */
export const RR_E_TOO_LARGE = 8;
/** Local: the reply's body did not decode. */
export const RR_E_BAD_REPLY = 9;
/**
 * Travels, never reaches a caller: "your request's id is behind what this client acknowledged to me".
 * A stale copy earns it harmlessly (its call is over, so the client ignores the error); a client that
 * restarted and drew ids behind its old self's watermark gets it for a call still waiting, moves its
 * ids a quarter of the id space ahead and sends the call again under a new id (at most twice gets
 * ahead of any watermark): at-most-once holds, as the server ran nothing under the refused id.
 */
export const RR_E_STALE = 10;
/** How far a client moves its ids on RR_E_STALE. */
const STALE_JUMP = 0x4000;

export const SEM_MAYBE = 0;
export const SEM_AT_LEAST_ONCE = 1;
export const SEM_AT_MOST_ONCE = 2;

export interface RrConfig {
  /** Calls outstanding at once at this endpoint. */
  maxCalls: number;
  /** Timeout of the first attempt, µs; each retransmission doubles it, up to maxTimeoutUs. */
  timeoutUs: number;
  maxTimeoutUs: number;
  /** Retransmissions after the first attempt (RR and RRA, unless semantics is maybe). */
  retries: number;
  /** Replies kept for at-most-once calls, and for how long, µs. */
  historyEntries: number;
  historyUs: number;
  /** Requests executing at once (handlers that reply later). */
  maxPending: number;
  /** Clients whose acknowledged watermark the server remembers (least recently heard goes first). */
  clients: number;
}

export const RR_DEFAULTS: RrConfig = {
  maxCalls: 4, timeoutUs: 200_000, maxTimeoutUs: 2_000_000, retries: 4, historyEntries: 16, historyUs: 30_000_000, maxPending: 4,
  clients: 8,
};

export interface CallOptions {
  /** PROTO_R, PROTO_RR (default) or PROTO_RRA. */
  proto?: number;
  /** SEM_MAYBE, SEM_AT_LEAST_ONCE or SEM_AT_MOST_ONCE (default for RR and RRA; R is always maybe). */
  semantics?: number;
  timeoutUs?: number;
  retries?: number;
}

export type CallCb = (err: number, result: unknown) => void;
export type Handler = (args: unknown, req: number, src: number) => void;

export interface RrStats {
  calls: number;
  completed: number;
  retries: number;
  timeouts: number;
  /** ERROR replies received by our calls. */
  errors: number;
  lateReplies: number;
  requests: number;
  executions: number;
  /** Executions of a request already executed (at-least-once retries). */
  reexecutions: number;
  duplicatesFiltered: number;
  repliesResent: number;
  historyEvictions: number;
  busyReplies: number;
  acksSent: number;
  acksReceived: number;
  malformed: number;
  /** RR_E_STALE answers to our waiting calls: the calls went again under ids ahead (we had restarted). */
  restarts: number;
}

/** The server side of an endpoint (rrServer: a board that only answers). */
export interface RrServer {
  register(op: number, handler: Handler, idempotent?: boolean): void;
  /** Answer request `req` (given to a handler): err RR_OK with a result, or an error code 1..4. */
  reply(req: number, err: number, result?: unknown): void;
  readonly stats: RrStats;
  /** Entries in the reply history now. */
  historySize(): number;
}

export interface Rr extends RrServer {
  /**
   * Start a call; returns RR_OK (cb follows, never from inside call), RR_E_TOO_MANY (maxCalls calls
   * outstanding, or 16 ids issued since the oldest call to dst still unanswered) or RR_E_TOO_LARGE.
   */
  call(dst: number, op: number, args: unknown, opts: CallOptions | null, cb: CallCb): number;
}

/**
 * How arguments and results are marshalled: the firmware's CBOR subset by default; the host passes
 * cbor-x (host/codec/cbor.ts), which writes the same bytes for the values both can carry.
 */
export interface RrCodec {
  /** Write `value` at out[off..]; the end offset, or a negative number if it cannot be encoded or does not fit. */
  encode(value: unknown, out: Uint8Array, off: number): number;
  /** Read the value in buf[off..end); on failure set st.err to a non-zero code. */
  decode(buf: Uint8Array, off: number, end: number, st: CborState): unknown;
}

export interface RrOptions {
  mac: Mac;
  clock: Clock;
  /** For the random part of timeouts. */
  rng: Rng;
  config?: RrConfig;
  codec?: RrCodec;
}

const FREE = 0;
const WAITING = 1;
const R_DONE = 2; // an R call whose request went out: its callback is due
const H_RUNNING = 1;
const H_DONE = 2;

/** The client half of an endpoint: call slots, their retransmissions and the replies to them. */
interface ClientHalf {
  call: Rr['call'];
  /** A REPLY or ERROR (parsed in the core's hdr) from src. */
  reply(src: number, payload: Uint8Array, len: number): void;
  /** The earliest deadline of a call, or Infinity. */
  next(): number;
  /** Retransmit or end the calls due at `now`. */
  tick(now: number): void;
}

/**
 * What it shares with its endpoint comes as arguments (names the minifier shortens, where an object's
 * property names would stay): hdr is the parsed header of the message being handled, out, scratch
 * and st the endpoint's emit header, buffer and decoder state, arm() sets the one timer.
 */
type ClientFactory = (
  mac: Mac, clock: Clock, rng: Rng, cfg: RrConfig, encode: RrCodec['encode'], decode: RrCodec['decode'], st: CborState,
  hdr: RrHeader, out: RrHeader, scratch: Uint8Array, stats: RrStats, arm: () => void,
) => ClientHalf;

const clientHalf: ClientFactory = function (mac, clock, rng, cfg, encode, decode, st, hdr, out, scratch, stats, arm) {
  const mtu = mac.caps.mtu;
  /** A timeout stretched by a random 0-50 %. */
  const jitter = (us: number): number => us + (rng.u32() % (Math.floor(us / 2) + 1));

  // Client call slots.
  const nC = cfg.maxCalls;
  // Each table one typed array, a column per field (a typed array costs about 5 JsVars besides its
  // data): state, destination, id, retries left, protocol, request length; deadline, timeout (µs).
  const cU = new Uint16Array(6 * nC);
  const cT = new Float64Array(2 * nC);
  const cCb: (CallCb | null)[] = [];
  const cBuf: Uint8Array[] = [];
  const cAll = new Uint8Array(nC * mtu);
  for (let i = 0; i < nC; i++) {
    cCb.push(null);
    cBuf.push(cAll.subarray(i * mtu, (i + 1) * mtu));
  }
  // Ids start at a random value: a client that restarts must not reuse ids a server still remembers.
  let nextId = rng.u32() & 0xffff;

  function finish(i: number, err: number, result: unknown): void {
    const cb = cCb[i];
    cU[i] = FREE;
    cCb[i] = null;
    if (err === RR_OK) stats.completed++;
    if (cb) cb(err, result);
  }

  /** The id below which every reply from `dst` has been received: what an RRA acknowledgement says. */
  function ackUpTo(dst: number, justDone: number): number {
    let low = justDone;
    for (let i = 0; i < nC; i++) {
      if (cU[i] === WAITING && cU[nC + i] === dst && idNotAfter(cU[2 * nC + i], low)) low = (cU[2 * nC + i] - 1) & 0xffff;
    }
    return low;
  }

  /** The done-mask of the 16 ids after watermark `lwm` for `dst`: issued, and not waiting. */
  function ackMask(dst: number, lwm: number): number {
    const issued = (nextId - 1 - lwm) & 0xffff; // ids lwm+1 .. nextId-1
    let m = issued >= WINDOW ? 0xffff : (1 << issued) - 1;
    for (let i = 0; i < nC; i++) {
      if (cU[i] !== WAITING || cU[nC + i] !== dst) continue;
      const d = (cU[2 * nC + i] - lwm - 1) & 0xffff;
      if (d < WINDOW) m &= ~(1 << d);
    }
    return m;
  }

  /** Write the acknowledgement fields of a stored request before it goes out again. */
  function refreshAck(i: number): void {
    const lwm = ackUpTo(cU[nC + i], (nextId - 1) & 0xffff);
    const m = ackMask(cU[nC + i], lwm);
    const b = cBuf[i];
    b[RF_ACK] = (lwm >>> 8) & 0xff;
    b[RF_ACK + 1] = lwm & 0xff;
    b[RF_MASK] = (m >>> 8) & 0xff;
    b[RF_MASK + 1] = m & 0xff;
  }

  function onReplyMsg(src: number, payload: Uint8Array, len: number): void {
    let i = 0;
    while (i < nC && !(cU[i] === WAITING && cU[nC + i] === src && cU[2 * nC + i] === hdr.id)) i++;
    if (i === nC) {
      stats.lateReplies++;
      return;
    }
    const proto = cU[4 * nC + i];
    const id = cU[2 * nC + i];
    let err = RR_OK;
    let result: unknown = undefined;
    if (hdr.type === RR_ERROR && hdr.op === RR_E_STALE) {
      // This client restarted and its ids fell behind the server's watermark for it: resend ahead.
      stats.restarts++;
      nextId = (nextId + STALE_JUMP) & 0xffff;
      const b = cBuf[i];
      const nid = nextId;
      nextId = (nextId + 1) & 0xffff;
      cU[2 * nC + i] = nid;
      b[RF_ID] = (nid >>> 8) & 0xff;
      b[RF_ID + 1] = nid & 0xff;
      refreshAck(i);
      mac.send(src, b, cU[5 * nC + i]);
      return;
    }
    if (hdr.type === RR_ERROR) {
      stats.errors++;
      err = hdr.op >= 1 && hdr.op <= 4 ? hdr.op : RR_E_HANDLER;
    } else if (len > RR_HDR) {
      result = decode(payload, RR_HDR, len, st); // replies: 4-byte header
      if (st.err !== 0) err = RR_E_BAD_REPLY;
    }
    cU[i] = FREE; // before the acknowledgement: this call no longer holds the low-water mark back
    if (proto === PROTO_RRA) {
      out.type = RR_ACK;
      out.proto = PROTO_RRA;
      out.retry = false;
      out.amo = false;
      out.ack = ackUpTo(src, (nextId - 1) & 0xffff);
      out.mask = ackMask(src, out.ack);
      out.id = 0;
      out.op = 0;
      const n = emitRr(scratch, out);
      if (mac.send(src, scratch, n) === TX_OK) stats.acksSent++;
    }
    cU[i] = WAITING;
    finish(i, err, result); // no arm(): a call that ended moves no deadline earlier (see arm)
  }

  function call(dst: number, op: number, args: unknown, opts: CallOptions | null, cb: CallCb): number {
    let i = 0;
    while (i < nC && cU[i] !== FREE) i++;
    if (i === nC) return RR_E_TOO_MANY;
    const proto = opts && opts.proto !== undefined ? opts.proto : PROTO_RR;
    const sem = proto === PROTO_R ? SEM_MAYBE : opts && opts.semantics !== undefined ? opts.semantics : SEM_AT_MOST_ONCE;
    const id = nextId;
    const lwm = ackUpTo(dst, (id - 1) & 0xffff);
    if (((id - lwm - 1) & 0xffff) >= WINDOW) return RR_E_TOO_MANY; // an old call to dst still holds the window
    out.type = RR_REQUEST;
    out.proto = proto;
    out.retry = false;
    out.amo = sem === SEM_AT_MOST_ONCE;
    out.id = id;
    out.op = op;
    out.ack = lwm;
    out.mask = ackMask(dst, lwm);
    const buf = cBuf[i];
    let n = emitRr(buf, out);
    if (args !== undefined) {
      n = encode(args, buf, n);
      if (n < 0) return RR_E_TOO_LARGE;
    }
    nextId = (nextId + 1) & 0xffff;
    stats.calls++;
    const sent = mac.send(dst, buf, n) === TX_OK;
    const now = clock.now();
    cU[nC + i] = dst;
    cU[2 * nC + i] = id;
    cU[5 * nC + i] = n;
    cU[4 * nC + i] = proto;
    cCb[i] = cb;
    if (proto === PROTO_R) {
      if (!sent) {
        cCb[i] = null;
        return RR_E_SEND;
      }
      cU[i] = R_DONE; // maybe semantics: done once the MAC took it; told from the timer, not from here
      cT[i] = now;
    } else {
      cU[i] = WAITING;
      cT[nC + i] = opts && opts.timeoutUs ? opts.timeoutUs : cfg.timeoutUs;
      cT[i] = now + jitter(cT[nC + i]);
      cU[3 * nC + i] = sem === SEM_MAYBE ? 0 : opts && opts.retries !== undefined ? opts.retries : cfg.retries;
    }
    arm();
    return RR_OK;
}

  return {
    call: call,
    reply: onReplyMsg,
    next(): number {
      let next = Infinity;
      for (let i = 0; i < nC; i++) if (cU[i] !== FREE && cT[i] < next) next = cT[i];
      return next;
    },
    tick(now: number): void {
      for (let i = 0; i < nC; i++) {
        if (cU[i] === FREE || cT[i] > now) continue;
        if (cU[i] === R_DONE) {
          finish(i, RR_OK, undefined);
        } else if (cU[3 * nC + i] > 0) {
          cU[3 * nC + i]--;
          stats.retries++;
          cBuf[i][RF_KIND] |= 0x10; // retry bit
          refreshAck(i);
          cT[nC + i] = Math.min(cT[nC + i] * 2, cfg.maxTimeoutUs);
          cT[i] = now + jitter(cT[nC + i]);
          mac.send(cU[nC + i], cBuf[i], cU[5 * nC + i]); // a full MAC queue is one more loss: the timeout covers it
        } else {
          stats.timeouts++;
          finish(i, RR_E_TIMEOUT, undefined);
        }
      }
    },
  };
};

/** A request-reply endpoint: client and server (firmware and host use this one). */
export function rr(o: RrOptions): Rr {
  return endpoint(o, clientHalf, null, cborCodec) as Rr;
}

/**
 * The firmware's CBOR, for an endpoint given no codec: named only by rr() and rrServer(), so a bundle
 * using rrServerWith() alone carries no decoder. (o is passed on once, never read here: terser
 * inlines these factories into a board's create() and would declare a temporary `var` for an
 * argument used twice, after its use, which Espruino, without hoisting, would make a global.)
 */
function cborCodec(): RrCodec {
  return { encode: cborEncode, decode: cborDecode };
}

/**
 * The server alone, for a board that answers calls and makes none (a piconet slave): the same
 * server, messages and history as rr(), without the client's code or call slots. A reply that
 * reaches it is counted in stats.lateReplies.
 */
export function rrServer(o: RrOptions): RrServer {
  return endpoint(o, null, null, cborCodec);
}

/**
 * rrServer() with the codec it must use (o.codec is not read): a bundle that creates its server only
 * this way carries no codec but that one (a piconet slave whose handlers pass arguments through:
 * RR_RAW, firmware/rr/raw.ts, leaves the CBOR decoder out).
 */
export function rrServerWith(o: RrOptions, codec: RrCodec): RrServer {
  return endpoint(o, null, codec, null);
}

/** c: the codec to use; when null, o.codec, or else dflt(). */
function endpoint(o: RrOptions, half: ClientFactory | null, c: RrCodec | null, dflt: (() => RrCodec) | null): RrServer & { call?: Rr['call'] } {
  const mac = o.mac;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || RR_DEFAULTS;
  const codec = c || o.codec || dflt!();
  const encode = codec.encode;
  const decode = codec.decode;
  const mtu = mac.caps.mtu;
  if (mtu < RR_HDR + 1) throw new Error('rr: the MAC mtu ' + mtu + ' is too small for a request');
  const scratch = new Uint8Array(mtu);
  const hdr: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
  const out: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
  const st = cborState(8, mtu);
  st.copy = true; // a handler may keep its arguments past the receive callback (replying later)
  const stats: RrStats = {
    calls: 0, completed: 0, retries: 0, timeouts: 0, errors: 0, lateReplies: 0, requests: 0, executions: 0,
    reexecutions: 0, duplicatesFiltered: 0, repliesResent: 0, historyEvictions: 0, busyReplies: 0,
    acksSent: 0, acksReceived: 0, malformed: 0, restarts: 0,
  };
  // Server: pending requests (handlers that have not replied) and the reply history.
  const nP = cfg.maxPending;
  // Columns (one typed array per table, as the client's): in use, generation, source, id, protocol, history entry.
  const pI = new Int32Array(6 * nP);
  const nH = cfg.historyEntries;
  // Columns: state, source, id, reply length; and the time each reply was sent.
  const hU = new Uint16Array(4 * nH);
  const hTime = new Float64Array(nH);
  const hBuf: Uint8Array[] = [];
  const hAll = new Uint8Array(nH * mtu);
  for (let i = 0; i < nH; i++) hBuf.push(hAll.subarray(i * mtu, (i + 1) * mtu));
  // Entries at hTop and above are all free, and new entries take the lowest free one, so every scan
  // of the history costs the entries in use, not the capacity (a host keeps a thousand).
  let hTop = 0;
  // Per-client acknowledged watermark, least recently heard replaced first.
  const nK = cfg.clients;
  // Columns: address (-1: none), watermark, mask.
  const kI = new Int32Array(3 * nK);
  for (let k = 0; k < nK; k++) kI[k] = -1;
  const kSeen = new Float64Array(nK);
  let heard = 0;
  const handlers: (Handler | null)[] = [];
  const idempotent: boolean[] = [];
  let timer: Timer | null = null;
  let timerAt = Infinity;
  // ---- the one timer ---------------------------------------------------------------------------

  function arm(): void {
    let next = client ? client.next() : Infinity;
    for (let i = 0; i < hTop; i++) if (hU[i] === H_DONE && hTime[i] + cfg.historyUs < next) next = hTime[i] + cfg.historyUs;
    // A timer already set for this time or earlier stays: when it runs, tick() finds nothing due and
    // sets it again for the earliest deadline then. So a call answered in time costs no timer work
    // (no at() per call, no cancel per reply), only a spare tick per timeout period.
    if (next >= timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timerAt = next;
    timer = clock.at(next, tick);
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    const now = clock.now();
    for (let i = 0; i < hTop; i++) if (hU[i] === H_DONE && hTime[i] + cfg.historyUs <= now) hU[i] = FREE;
    shrink();
    if (client) client.tick(now);
    arm();
  }

  // The client half (its ids are the endpoint's first random draw, as they always were).
  const client = half ? half(mac, clock, rng, cfg, encode, decode, st, hdr, out, scratch, stats, arm) : null;

  // ---- server ----------------------------------------------------------------------------------

  function shrink(): void {
    while (hTop > 0 && hU[hTop - 1] === FREE) hTop--;
  }

  function findHist(src: number, id: number): number {
    for (let i = 0; i < hTop; i++) if (hU[i] !== FREE && hU[nH + i] === src && hU[2 * nH + i] === id) return i;
    return -1;
  }

  /** A history entry for a new call, or -1 when every entry holds a call still executing. */
  function newHist(src: number, id: number): number {
    let oldest = -1;
    for (let i = 0; i < nH; i++) {
      if (hU[i] === FREE) {
        oldest = i;
        break;
      }
      if (hU[i] === H_DONE && (oldest < 0 || hTime[i] < hTime[oldest])) oldest = i;
    }
    if (oldest < 0) return -1;
    if (oldest >= hTop) hTop = oldest + 1;
    if (hU[oldest] === H_DONE) stats.historyEvictions++;
    hU[oldest] = H_RUNNING;
    hU[nH + oldest] = src;
    hU[2 * nH + oldest] = id;
    hU[3 * nH + oldest] = 0; // hTime is read for finished entries only: answer() sets it
    return oldest;
  }

  /** Send an ERROR (or a REPLY) for a request, storing it in history entry h when h >= 0. */
  function answer(src: number, id: number, proto: number, err: number, result: unknown, h: number): void {
    const buf = h >= 0 ? hBuf[h] : scratch;
    out.type = err === RR_OK ? RR_REPLY : RR_ERROR;
    out.proto = proto;
    out.retry = false;
    out.amo = h >= 0;
    out.id = id;
    out.op = err === RR_OK ? 0 : err;
    let n = emitRr(buf, out);
    if (err === RR_OK && result !== undefined) {
      const end = encode(result, buf, n);
      if (end < 0) {
        // The handler's result is outside the CBOR subset or too large: that is a handler failure.
        out.type = RR_ERROR;
        out.op = RR_E_HANDLER;
        emitRr(buf, out);
      } else n = end;
    }
    if (h >= 0) {
      hU[h] = H_DONE;
      hU[3 * nH + h] = n;
    }
    mac.send(src, buf, n); // first: the caller is waiting; the bookkeeping below is not urgent
    if (h >= 0) {
      hTime[h] = clock.now();
      arm();
    }
  }

  /** The client's slot in the watermark table, taking the least recently heard one for a newcomer. */
  function clientSlot(src: number, lwm: number, m: number): number {
    let k = 0;
    let old = 0;
    for (; k < nK; k++) {
      if (kI[k] === src) break;
      if (kSeen[k] < kSeen[old]) old = k;
    }
    if (k === nK) {
      k = old;
      kI[k] = src;
      kI[nK + k] = lwm;
      kI[2 * nK + k] = m;
    }
    kSeen[k] = ++heard; // an order, not a time: no clock read on the way to the reply
    return k;
  }

  /** Take in a client's acknowledgement (newer watermarks replace older ones, equal ones add bits). */
  function acknowledge(src: number, lwm: number, m: number, except: number): number {
    const k = clientSlot(src, lwm, m);
    if (lwm === kI[nK + k]) kI[2 * nK + k] |= m;
    else if (idNotAfter(kI[nK + k], lwm)) {
      kI[nK + k] = lwm;
      kI[2 * nK + k] = m;
    }
    dropAcked(src, k, except);
    return k;
  }

  function onRequest(src: number, payload: Uint8Array, len: number): void {
    stats.requests++;
    const k = acknowledge(src, hdr.ack, hdr.mask, hdr.id);
    if (hdr.amo && hdr.proto !== PROTO_R && acked(hdr.id, kI[nK + k], kI[2 * nK + k])) {
      stats.duplicatesFiltered++; // a stale copy of a call this client has seen answered, or a restarted client
      answer(src, hdr.id, hdr.proto, RR_E_STALE, undefined, -1);
      return;
    }
    const proto = hdr.proto;
    const id = hdr.id;
    const op = hdr.op;
    const handler = op < handlers.length ? handlers[op] : null;
    const amo = proto !== PROTO_R && hdr.amo && !(handler && idempotent[op]);
    let h = -1;
    if (amo) {
      const old = findHist(src, id);
      if (old >= 0) {
        stats.duplicatesFiltered++;
        if (hU[old] === H_DONE) {
          stats.repliesResent++;
          mac.send(src, hBuf[old], hU[3 * nH + old]);
        }
        return; // still executing: its reply will come
      }
      h = newHist(src, id);
      if (h < 0) {
        stats.busyReplies++;
        answer(src, id, proto, RR_E_BUSY, undefined, -1);
        return;
      }
    } else if (hdr.retry) {
      stats.reexecutions++;
    }
    if (!handler) {
      if (proto !== PROTO_R) answer(src, id, proto, RR_E_UNKNOWN_OP, undefined, h);
      else if (h >= 0) {
        hU[h] = FREE;
        shrink();
      }
      return;
    }
    const args = len > hdr.off ? decode(payload, hdr.off, len, st) : undefined;
    if (len > hdr.off && st.err !== 0) {
      if (proto !== PROTO_R) answer(src, id, proto, RR_E_BAD_ARGS, undefined, h);
      return;
    }
    let p = 0;
    while (p < nP && pI[p]) p++;
    if (p === nP) {
      stats.busyReplies++;
      if (h >= 0) {
        hU[h] = FREE; // not executed: a retransmission may try again
        shrink();
      }
      if (proto !== PROTO_R) answer(src, id, proto, RR_E_BUSY, undefined, -1);
      return;
    }
    pI[p] = 1;
    pI[nP + p] = (pI[nP + p] + 1) & 0xff;
    pI[2 * nP + p] = src;
    pI[3 * nP + p] = id;
    pI[4 * nP + p] = proto;
    pI[5 * nP + p] = h;
    stats.executions++;
    const req = (pI[nP + p] << 8) | p;
    try {
      handler(args, req, src);
    } catch (e) {
      if (pI[p] && pI[nP + p] === req >>> 8) reply(req, RR_E_HANDLER, undefined);
    }
  }

  function reply(req: number, err: number, result?: unknown): void {
    const p = req & 0xff;
    if (!(p < nP) || !pI[p] || pI[nP + p] !== req >>> 8) return; // answered already, or not ours
    pI[p] = 0;
    if (pI[4 * nP + p] === PROTO_R) {
      if (pI[5 * nP + p] >= 0) {
        hU[pI[5 * nP + p]] = FREE;
        shrink();
      }
      return; // R: no reply travels
    }
    answer(pI[2 * nP + p], pI[3 * nP + p], pI[4 * nP + p], err >= 1 && err <= 4 ? err : RR_OK, err >= 1 && err <= 4 ? undefined : result, pI[5 * nP + p]);
  }

  /** Does watermark lwm with mask m say the reply to id x has arrived? */
  function acked(x: number, lwm: number, m: number): boolean {
    if (idNotAfter(x, lwm)) return true;
    const d = (x - lwm - 1) & 0xffff;
    return d < WINDOW && ((m >>> d) & 1) === 1;
  }

  /** Free src's finished entries its acknowledgement covers (never the entry of the request `except`). */
  function dropAcked(src: number, k: number, except: number): void {
    for (let i = 0; i < hTop; i++) {
      if (hU[i] === H_DONE && hU[nH + i] === src && hU[2 * nH + i] !== except && acked(hU[2 * nH + i], kI[nK + k], kI[2 * nK + k])) hU[i] = FREE;
    }
    shrink();
  }

  function onAck(src: number): void {
    stats.acksReceived++;
    acknowledge(src, hdr.ack, hdr.mask, -1);
  }


  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    if (!parseRr(payload, len, hdr)) {
      stats.malformed++;
      return;
    }
    if (hdr.type === RR_REQUEST) onRequest(info.src, payload, len);
    else if (hdr.type === RR_ACK) onAck(info.src);
    else if (client) client.reply(info.src, payload, len);
    else stats.lateReplies++;
  });
  mac.onSent(null);

  return {
    stats,
    historySize(): number {
      let n = 0;
      for (let i = 0; i < hTop; i++) if (hU[i] !== FREE) n++;
      return n;
    },
    register(op: number, handler: Handler, idem?: boolean): void {
      if (!(op >= 0 && op <= 255)) throw new Error('rr: operation ids are 0..255');
      while (handlers.length <= op) {
        handlers.push(null);
        idempotent.push(false);
      }
      handlers[op] = handler;
      idempotent[op] = idem === true;
    },
    reply,
    call: client ? client.call : undefined,

  };
}

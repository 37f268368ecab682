// Messages of the ordered group multicasts (textbook 15.4.3; lecture notes on FIFO, causal and total
// order): one kind byte names the protocol and the message type, then the sender's incarnation and a
// tag, then fixed fields, big-endian. Members are named by their index in the group's member list,
// which every member holds alike; the sender of a message is the MAC source address, so no frame
// carries it.
//
//   offset  field  size   meaning
//   0       kind   u8     bits 0-3 type (below); bits 4-5 protocol: 1 FIFO, 2 CAUSAL, 3 TOTAL (0
//                         reserved); bits 6-7 zero (version 0).
//   1       inc    u8     the sender's incarnation, 1..255: drawn afresh each time a member starts, so
//                         a member that crashed and restarted is told from its former self (group.ts)
//   2       tag    u8     FIFO, CAUSAL: the addressee's incarnation this frame answers (0 in DATA);
//                         TOTAL: the sender's installed view number (0: none yet)
//   Types (and where they exist):
//   0 DATA     FIFO, TOTAL: 3 seq u16 (the sender's number: its first is 1 per incarnation, TOTAL:
//              per view), 5 data. CAUSAL: 3 n u8 (members, 1..16, equal to the receiver's group
//              size), 4 vector of n entries (inc u8, count u16): messages of member k's incarnation
//              inc delivered at the sender when it sent this one, entry sender = this message's
//              number; then data. (Birman-Schiper-Stephenson, with incarnations.)
//   1 ACK      every protocol, 5 bytes: 3 cum u16, every message of the addressee up to cum has been
//              delivered here. A cum beyond what the addressee sent tells it that its incarnation is
//              taken for a former one (0x4000 beyond, CAUSAL: declared gone); it draws another.
//   2 NACK     5 bytes: 3 cum u16. FIFO, CAUSAL: as ACK, and a later message waits here for cum+1:
//              send it again. TOTAL: messages up to cum have been received in order; cum+1 is missing.
//   3 PROPOSE  TOTAL, 9 bytes: 3 seq u16 of the addressee's message, 5 ts u32 the proposed timestamp.
//   4 COMMIT   TOTAL, 9 bytes: 3 seq u16 of the sender's message, 5 ts u32 the agreed timestamp.
//   5 HAVE     TOTAL, 5 bytes: 3 seq u16, the addressee's COMMIT for its message seq arrived here.
//   6 SYNC     FIFO, CAUSAL, 5 bytes: 3 base u16, the sender's messages up to base will never be sent
//              to the addressee (tag: its incarnation): expect base+1 next.
//   7 ALIVE    TOTAL, 3 bytes: a heartbeat (members to the coordinator, the coordinator to members).
//   8 JOIN     TOTAL, 3 bytes: a member outside the view (a restarted one) asks to be let in.
//   9 VIEW     TOTAL, 8+n bytes: 3 view u8 the proposed view's number, 4 mask u16 its members (bit
//              per index), 6 join u16 those of them joining (new, or a new incarnation), 8 incs n
//              bytes: each member's incarnation in it (0 outside). Starts the flush.
//   10 FLUSHED TOTAL, 4 bytes: 3 view u8, the sender has nothing of the old view left in flight.
//   11 INSTALL TOTAL, as VIEW: every member of the new view flushed; install it.
//   12 QUERY   TOTAL, 6 bytes: 3 origin u8 (index of a member leaving the view), 4 seq u16 of its
//              message: did its COMMIT reach you?
//   13 ANSWER  TOTAL, 10 bytes: 3 origin u8, 4 seq u16, 6 ts u32: the agreed timestamp, 0 if no
//              commit arrived here (and none will be taken now).
//
// Board code: parse fills a caller's object, emit writes a caller's buffer; lengths are checked first.

export const T_DATA = 0;
export const T_ACK = 1;
export const T_NACK = 2;
export const T_PROPOSE = 3;
export const T_COMMIT = 4;
export const T_HAVE = 5;
export const T_SYNC = 6;
export const T_ALIVE = 7;
export const T_JOIN = 8;
export const T_VIEW = 9;
export const T_FLUSHED = 10;
export const T_INSTALL = 11;
export const T_QUERY = 12;
export const T_ANSWER = 13;

export const P_FIFO = 1;
export const P_CAUSAL = 2;
export const P_TOTAL = 3;

/** Largest group: member sets are u16 bit masks, and a causal vector must fit a small frame. */
export const MAX_MEMBERS = 16;

/** The prefix every frame starts with: kind, incarnation, tag. */
export const O_PFX = 3;
/** Header bytes of FIFO and TOTAL DATA; the length of ACK, NACK, HAVE and SYNC. */
export const O_HDR = 5;
/** The length of PROPOSE and COMMIT. */
export const O_HDR_TS = 9;

export interface OrderHeader {
  proto: number;
  type: number;
  /** The sender's incarnation (1..255). */
  inc: number;
  /** FIFO, CAUSAL: the addressee's incarnation answered; TOTAL: the sender's view number. */
  tag: number;
  /** DATA (FIFO, TOTAL), PROPOSE, COMMIT, HAVE, QUERY, ANSWER: sequence number; ACK, NACK: cum; SYNC: base; VIEW, INSTALL: the joiners' mask; else 0. */
  seq: number;
  /** PROPOSE, COMMIT, ANSWER: the timestamp. */
  ts: number;
  /** CAUSAL DATA: the vector's length (the vector starts at offset 4); VIEW, INSTALL: the incarnations' count. */
  n: number;
  /** VIEW, INSTALL, FLUSHED: the new view's number; QUERY, ANSWER: the origin's index. */
  aux: number;
  /** VIEW, INSTALL: the member mask. */
  mask: number;
  /** Offset of the application's data (DATA), of the incarnations (VIEW, INSTALL), else the frame length. */
  off: number;
}

export function orderHeader(): OrderHeader {
  return { proto: 0, type: 0, inc: 0, tag: 0, seq: 0, ts: 0, n: 0, aux: 0, mask: 0, off: 0 };
}

/** The causal header length for a group of n members. */
export function causalHdr(n: number): number {
  return 4 + 3 * n;
}

/** The length of a VIEW or INSTALL frame for a group of n members. */
export function viewLen(n: number): number {
  return 8 + n;
}

/** Write the 3-byte prefix; returns 3, or 0 if buf is too short. */
export function emitPfx(buf: Uint8Array, proto: number, type: number, inc: number, tag: number): number {
  if (buf.length < O_PFX) return 0;
  buf[0] = ((proto & 3) << 4) | (type & 15);
  buf[1] = inc & 0xff;
  buf[2] = tag & 0xff;
  return O_PFX;
}

function put16(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 8) & 0xff;
  buf[o + 1] = v & 0xff;
}

function put32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = (v >>> 24) & 0xff;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}

function get32(buf: Uint8Array, o: number): number {
  // u32 without the sign: (b << 24) is negative for b >= 128.
  return buf[o] * 0x1000000 + ((buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]);
}

/** Write DATA (FIFO, TOTAL), ACK, NACK, HAVE or SYNC with its u16 field; returns 5, or 0 if buf is too short. */
export function emitSeq(buf: Uint8Array, proto: number, type: number, inc: number, tag: number, seq: number): number {
  if (buf.length < O_HDR) return 0;
  emitPfx(buf, proto, type, inc, tag);
  put16(buf, 3, seq);
  return O_HDR;
}

/** Write PROPOSE or COMMIT; returns 9, or 0 if buf is too short. */
export function emitTs(buf: Uint8Array, type: number, inc: number, view: number, seq: number, ts: number): number {
  if (buf.length < O_HDR_TS) return 0;
  emitSeq(buf, P_TOTAL, type, inc, view, seq);
  put32(buf, 5, ts);
  return O_HDR_TS;
}

/**
 * Write the CAUSAL DATA header with counts vec[0..n) of incarnations incs[0..n); returns the data
 * offset, or 0 if buf is too short.
 */
export function emitVec(buf: Uint8Array, inc: number, vec: Uint16Array, incs: Uint8Array, n: number): number {
  const h = causalHdr(n);
  if (buf.length < h || n < 1 || n > MAX_MEMBERS) return 0;
  emitPfx(buf, P_CAUSAL, T_DATA, inc, 0);
  buf[3] = n;
  for (let k = 0; k < n; k++) {
    buf[4 + 3 * k] = incs[k];
    put16(buf, 5 + 3 * k, vec[k]);
  }
  return h;
}

/** Count k of the vector of a CAUSAL DATA frame that parseOrder accepted. */
export function vecAt(buf: Uint8Array, k: number): number {
  return (buf[5 + 3 * k] << 8) | buf[6 + 3 * k];
}

/** Incarnation k of the vector of a CAUSAL DATA frame that parseOrder accepted. */
export function vecInc(buf: Uint8Array, k: number): number {
  return buf[4 + 3 * k];
}

/** Write VIEW or INSTALL: view number, member mask, joiners, incarnations incs[0..n); returns the length or 0. */
export function emitView(buf: Uint8Array, type: number, inc: number, cur: number, view: number, mask: number, join: number, incs: Uint8Array, n: number): number {
  const l = viewLen(n);
  if (buf.length < l) return 0;
  emitPfx(buf, P_TOTAL, type, inc, cur);
  buf[3] = view & 0xff;
  put16(buf, 4, mask);
  put16(buf, 6, join);
  for (let k = 0; k < n; k++) buf[8 + k] = incs[k];
  return l;
}

/** Write QUERY (ts ignored; 6 bytes) or ANSWER (10 bytes) about message seq of member origin. */
export function emitQuery(buf: Uint8Array, type: number, inc: number, view: number, origin: number, seq: number, ts: number): number {
  const l = type === T_ANSWER ? 10 : 6;
  if (buf.length < l) return 0;
  emitPfx(buf, P_TOTAL, type, inc, view);
  buf[3] = origin;
  put16(buf, 4, seq);
  if (type === T_ANSWER) put32(buf, 6, ts);
  return l;
}

/** Types each protocol has (bit per type). */
const SEQ_TYPES = (1 << T_DATA) | (1 << T_ACK) | (1 << T_NACK) | (1 << T_SYNC);
const TOTAL_TYPES = 0x3fff & ~(1 << T_SYNC);

/** Parse buf[0..len); false when it is short or long, has reserved bits, or a type its protocol lacks. */
export function parseOrder(buf: Uint8Array, len: number, h: OrderHeader): boolean {
  if (!(len >= O_PFX && len <= buf.length)) return false;
  const k = buf[0];
  const proto = (k >>> 4) & 3;
  const type = k & 15;
  if ((k & 0xc0) !== 0 || proto === 0 || buf[1] === 0) return false;
  if (!(((proto === P_TOTAL ? TOTAL_TYPES : SEQ_TYPES) >>> type) & 1)) return false;
  h.proto = proto;
  h.type = type;
  h.inc = buf[1];
  h.tag = buf[2];
  h.seq = 0;
  h.ts = 0;
  h.n = 0;
  h.aux = 0;
  h.mask = 0;
  h.off = len;
  if (type === T_DATA && proto === P_CAUSAL) {
    if (len < 4) return false;
    const n = buf[3];
    if (n < 1 || n > MAX_MEMBERS || len < causalHdr(n)) return false;
    h.n = n;
    h.off = causalHdr(n);
    return true;
  }
  if (type === T_ALIVE || type === T_JOIN) return len === O_PFX;
  if (type === T_FLUSHED) {
    if (len !== 4) return false;
    h.aux = buf[3];
    return true;
  }
  if (type === T_VIEW || type === T_INSTALL) {
    if (len < viewLen(1) || len > viewLen(MAX_MEMBERS)) return false;
    h.aux = buf[3];
    h.mask = (buf[4] << 8) | buf[5];
    h.seq = (buf[6] << 8) | buf[7];
    h.n = len - 8;
    h.off = 8;
    return true;
  }
  if (type === T_QUERY || type === T_ANSWER) {
    if (len !== (type === T_ANSWER ? 10 : 6)) return false;
    h.aux = buf[3];
    h.seq = (buf[4] << 8) | buf[5];
    if (type === T_ANSWER) h.ts = get32(buf, 6);
    return true;
  }
  if (len < O_HDR) return false;
  h.seq = (buf[3] << 8) | buf[4];
  if (type === T_DATA) {
    h.off = O_HDR;
    return true;
  }
  if (type === T_PROPOSE || type === T_COMMIT) {
    if (len !== O_HDR_TS) return false;
    h.ts = get32(buf, 5);
    return true;
  }
  return len === O_HDR; // ACK, NACK, HAVE, SYNC
}

/** Serial-number order of 16-bit numbers (RFC 1982): is a at or before b, within half the space? */
export function seqNotAfter(a: number, b: number): boolean {
  return ((b - a) & 0xffff) < 0x8000;
}

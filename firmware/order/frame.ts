// Messages of the ordered group multicasts (textbook 15.4.3; lecture notes on FIFO, causal and total
// order): one kind byte names the protocol and the message type, then fixed fields, big-endian.
// Members are named by their index in the group's member list, which every member holds alike; the
// sender of a message is the MAC source address, so no frame carries it.
//
//   offset  field  size   meaning
//   0       kind   u8     bits 0-2 type: 0 DATA, 1 ACK, 2 NACK, 3 PROPOSE, 4 COMMIT, 5 HAVE (6-7
//                         reserved); bit 3 zero; bits 4-5 protocol: 1 FIFO, 2 CAUSAL, 3 TOTAL (0
//                         reserved); bits 6-7 zero (version 0). Types 3-5 exist in TOTAL only.
//   FIFO and TOTAL DATA:
//   1       seq    u16    the sender's sequence number: its first message is 1, wrapping at 65536
//   3       data   ...    the application's message (may be empty)
//   CAUSAL DATA (the Birman-Schiper-Stephenson vector timestamp):
//   1       n      u8     members, 1..16; must equal the receiver's group size
//   2       vec    2n     V[k]: messages of member k delivered at the sender when it sent this one,
//                         with V[sender] = this message's number (its sequence number), mod 65536
//   2+2n    data   ...    the application's message (may be empty)
//   ACK and NACK (every protocol; exactly 3 bytes):
//   1       cum    u16    ACK: every message of the addressee up to this number has been delivered
//                         here (the addressee may forget them once every member says so).
//                         NACK (FIFO, CAUSAL): the same, and a later message is held here waiting for
//                         message cum+1: send it again. NACK (TOTAL): messages up to cum have been
//                         received in order (proposed for); cum+1 is missing.
//   HAVE (TOTAL; exactly 3 bytes):
//   1       seq    u16    the addressee's COMMIT for its message seq has arrived here (the message
//                         waits for earlier ones; an ACK follows its delivery)
//   PROPOSE and COMMIT (TOTAL; exactly 7 bytes):
//   1       seq    u16    the addressed sender's (PROPOSE) or this sender's (COMMIT) message number
//   3       ts     u32    PROPOSE: the member's proposed logical timestamp; COMMIT: the agreed one,
//                         the largest proposal
//
// Board code: parse fills a caller's object, emit writes a caller's buffer; lengths are checked first.

export const T_DATA = 0;
export const T_ACK = 1;
export const T_NACK = 2;
export const T_PROPOSE = 3;
export const T_COMMIT = 4;
export const T_HAVE = 5;

export const P_FIFO = 1;
export const P_CAUSAL = 2;
export const P_TOTAL = 3;

/** Largest group: member sets are u16 bit masks, and a causal vector must fit a small frame. */
export const MAX_MEMBERS = 16;

/** Header bytes of FIFO and TOTAL DATA, of ACK, NACK and HAVE; PROPOSE and COMMIT are 7. */
export const O_HDR = 3;
export const O_HDR_TS = 7;

export interface OrderHeader {
  proto: number;
  type: number;
  /** DATA (FIFO, TOTAL), PROPOSE, COMMIT, HAVE: sequence number; ACK, NACK: cum; CAUSAL DATA: 0. */
  seq: number;
  /** PROPOSE and COMMIT: the timestamp. */
  ts: number;
  /** CAUSAL DATA: the vector's length (the vector starts at offset 2). */
  n: number;
  /** Offset of the application's data (DATA), else the frame length. */
  off: number;
}

/** The causal header length for a group of n members. */
export function causalHdr(n: number): number {
  return 2 + 2 * n;
}

function kind(proto: number, type: number): number {
  return ((proto & 3) << 4) | (type & 7);
}

/** Write DATA (FIFO, TOTAL), ACK, NACK or HAVE with its u16 field; returns 3, or 0 if buf is too short. */
export function emitSeq(buf: Uint8Array, proto: number, type: number, seq: number): number {
  if (buf.length < O_HDR) return 0;
  buf[0] = kind(proto, type);
  buf[1] = (seq >>> 8) & 0xff;
  buf[2] = seq & 0xff;
  return O_HDR;
}

/** Write PROPOSE or COMMIT; returns 7, or 0 if buf is too short. */
export function emitTs(buf: Uint8Array, type: number, seq: number, ts: number): number {
  if (buf.length < O_HDR_TS) return 0;
  emitSeq(buf, P_TOTAL, type, seq);
  buf[3] = (ts >>> 24) & 0xff;
  buf[4] = (ts >>> 16) & 0xff;
  buf[5] = (ts >>> 8) & 0xff;
  buf[6] = ts & 0xff;
  return O_HDR_TS;
}

/** Write the CAUSAL DATA header with vector vec[0..n); returns the data offset, or 0 if buf is too short. */
export function emitVec(buf: Uint8Array, vec: Uint16Array, n: number): number {
  const h = causalHdr(n);
  if (buf.length < h || n < 1 || n > MAX_MEMBERS) return 0;
  buf[0] = kind(P_CAUSAL, T_DATA);
  buf[1] = n;
  for (let k = 0; k < n; k++) {
    buf[2 + 2 * k] = (vec[k] >>> 8) & 0xff;
    buf[3 + 2 * k] = vec[k] & 0xff;
  }
  return h;
}

/** Entry k of the vector of a CAUSAL DATA frame that parseOrder accepted. */
export function vecAt(buf: Uint8Array, k: number): number {
  return (buf[2 + 2 * k] << 8) | buf[3 + 2 * k];
}

/** Parse buf[0..len); false when it is short, has reserved bits or a type its protocol lacks. */
export function parseOrder(buf: Uint8Array, len: number, h: OrderHeader): boolean {
  if (!(len >= 2 && len <= buf.length)) return false;
  const k = buf[0];
  const proto = (k >>> 4) & 3;
  const type = k & 7;
  if ((k & 0xc8) !== 0 || proto === 0 || type > T_HAVE) return false;
  if (type >= T_PROPOSE && proto !== P_TOTAL) return false;
  h.proto = proto;
  h.type = type;
  h.seq = 0;
  h.ts = 0;
  h.n = 0;
  if (type === T_DATA && proto === P_CAUSAL) {
    const n = buf[1];
    if (n < 1 || n > MAX_MEMBERS || len < causalHdr(n)) return false;
    h.n = n;
    h.off = causalHdr(n);
    return true;
  }
  if (len < O_HDR) return false;
  h.seq = (buf[1] << 8) | buf[2];
  if (type === T_DATA) {
    h.off = O_HDR;
    return true;
  }
  if (type === T_ACK || type === T_NACK || type === T_HAVE) {
    h.off = O_HDR;
    return len === O_HDR;
  }
  if (len !== O_HDR_TS) return false;
  // u32 without the sign: (b << 24) is negative for b >= 128.
  h.ts = buf[3] * 0x1000000 + ((buf[4] << 16) | (buf[5] << 8) | buf[6]);
  h.off = O_HDR_TS;
  return true;
}

/** Serial-number order of 16-bit numbers (RFC 1982): is a at or before b, within half the space? */
export function seqNotAfter(a: number, b: number): boolean {
  return ((b - a) & 0xffff) < 0x8000;
}

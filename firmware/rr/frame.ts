// Request-reply messages (textbook 5.2, figure 5.4: messageType, requestId, operationId, arguments),
// compacted for small radios. Every message carries the client's request id; replies, errors and
// acknowledgements copy it from the request they answer.
//
//   offset  field  size  meaning
//   0       kind   u8    bits 0-1 type: 0 REQUEST, 1 REPLY, 2 ACK (RRA: which replies arrived),
//                        3 ERROR; bits 2-3 protocol: 0 R, 1 RR, 2 RRA; bit 4 retry (a request sent again);
//                        bit 5 at-most-once (the server must filter duplicates and keep the reply);
//                        bits 6-7 zero (version 0)
//   1       id     u16   request id, big-endian, per client, wrapping at 65536 (ACK: 0)
//   3       op     u8    REQUEST: operation id; ERROR: error code; REPLY and ACK: 0
//   4       ack    u16   REQUEST and ACK: every reply to this client's calls with ids up to this one has
//                        arrived or is no longer wanted (the RR protocol's "a subsequent call
//                        acknowledges the previous reply", made safe for several calls in flight)
//   6       mask   u16   REQUEST and ACK: bit j set: the reply to id ack+1+j has arrived too (a
//                        selective acknowledgement of the 16 ids after the watermark)
//   4 or 8  body   ...   REQUEST: CBOR arguments; REPLY: CBOR result; ERROR: optional CBOR detail
//
// Board code: parse fills a caller's object; emit writes a caller's buffer; lengths checked first.

export const RR_REQUEST = 0;
export const RR_REPLY = 1;
export const RR_ACK = 2;
export const RR_ERROR = 3;

export const PROTO_R = 0;
export const PROTO_RR = 1;
export const PROTO_RRA = 2;

export const RF_KIND = 0;
export const RF_ID = 1;
export const RF_OP = 3;
export const RF_ACK = 4;
export const RF_MASK = 6;
/** Header length of replies and errors; requests and acknowledgements add the ack and mask fields. */
export const RR_HDR = 4;
export const RR_HDR_ACKS = 8;

const K_RETRY = 0x10;
const K_AMO = 0x20;

export interface RrHeader {
  type: number;
  proto: number;
  retry: boolean;
  /** At-most-once: the server filters duplicates and keeps the reply in its history. */
  amo: boolean;
  id: number;
  /** Operation id (REQUEST) or error code (ERROR). */
  op: number;
  /** REQUEST and ACK: the client's acknowledgement watermark, and the done-mask of the 16 ids after it. */
  ack: number;
  mask: number;
  /** Offset of the body (set by parse and emit). */
  off: number;
}

/** Write the header into buf; returns the body offset (8 for requests and acks, else 4), or 0 if buf is too short. */
export function emitRr(buf: Uint8Array, h: RrHeader): number {
  const n = h.type === 0 || h.type === 2 ? RR_HDR_ACKS : RR_HDR;
  if (buf.length < n) return 0;
  buf[RF_KIND] = (h.type & 3) | ((h.proto & 3) << 2) | (h.retry ? K_RETRY : 0) | (h.amo ? K_AMO : 0);
  buf[RF_ID] = (h.id >>> 8) & 0xff;
  buf[RF_ID + 1] = h.id & 0xff;
  buf[RF_OP] = h.op & 0xff;
  if (n === RR_HDR_ACKS) {
    buf[RF_ACK] = (h.ack >>> 8) & 0xff;
    buf[RF_ACK + 1] = h.ack & 0xff;
    buf[RF_MASK] = (h.mask >>> 8) & 0xff;
    buf[RF_MASK + 1] = h.mask & 0xff;
  }
  h.off = n;
  return n;
}

/** Parse the header of buf[0..len); false if it is too short, uses reserved bits or protocol 3. */
export function parseRr(buf: Uint8Array, len: number, h: RrHeader): boolean {
  if (!(len >= RR_HDR && len <= buf.length)) return false;
  const k = buf[RF_KIND];
  if ((k & 0xc0) !== 0 || ((k >>> 2) & 3) === 3) return false;
  h.type = k & 3;
  h.proto = (k >>> 2) & 3;
  h.retry = (k & K_RETRY) !== 0;
  h.amo = (k & K_AMO) !== 0;
  h.id = (buf[RF_ID] << 8) | buf[RF_ID + 1];
  h.op = buf[RF_OP];
  h.ack = 0;
  h.mask = 0;
  h.off = RR_HDR;
  if (h.type === 0 || h.type === 2) {
    if (len < RR_HDR_ACKS) return false;
    h.ack = (buf[RF_ACK] << 8) | buf[RF_ACK + 1];
    h.mask = (buf[RF_MASK] << 8) | buf[RF_MASK + 1];
    h.off = RR_HDR_ACKS;
  }
  return true;
}

/** Serial-number order of 16-bit ids (RFC 1982): is a at or before b, within half the id space? */
export function idNotAfter(a: number, b: number): boolean {
  return ((b - a) & 0xffff) < 0x8000;
}

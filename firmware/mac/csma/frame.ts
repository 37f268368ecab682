// CSMA/CA frame formats (802.11 DCF frames, compacted: 16-bit addresses, no FCS because every radio
// under it checks its own CRC). Every frame starts with frame control and duration; the duration
// (in config.aDurationUnitUs units) tells every station that hears the frame how long the rest of the
// exchange occupies the medium, which sets its NAV (virtual carrier sense).
//
//   offset  field     size  frames
//   0       fc        u8    all    bits 0-1 type (0 DATA, 1 ACK, 2 RTS, 3 CTS), bit 2 retry,
//                                   bits 6-7 protocol version (0); other bits 0
//   1       duration  u16   all    big-endian, in aDurationUnitUs (1 µs unless configured)
//   3       ra        u16   all    receiver address (0xFFFF broadcast, 0xFF00.. groups)
//   5       ta        u16   DATA, RTS   transmitter address
//   7       seq       u8    DATA   sequence number (per transmitter, wraps), for duplicate detection
//   8       payload   ...   DATA   (after optional padding up to config.dataHeaderBytes)
//
// Natural lengths: DATA 8 + payload, ACK 5, RTS 7, CTS 5. A config may pad frames on the air to
// 802.11's lengths (DATA header 34, RTS 20, CTS 14, ACK 14 bytes) so that timing matches the standard
// and Bianchi's model; padding bytes are zero and parsers skip them.
// Board code: parse fills a caller's object, emit writes into a caller's buffer; no throw, no allocation.

export const FT_DATA = 0;
export const FT_ACK = 1;
export const FT_RTS = 2;
export const FT_CTS = 3;
export const FC_RETRY = 0x04;
const FC_RESERVED = 0xf8; // version 0 and reserved bits must be zero

export const CF_FC = 0;
export const CF_DUR = 1;
export const CF_RA = 3;
export const CF_TA = 5;
export const CF_SEQ = 7;
/** Natural lengths. */
export const DATA_HDR = 8;
export const ACK_LEN = 5;
export const RTS_LEN = 7;
export const CTS_LEN = 5;

export interface CsmaFrame {
  type: number;
  retry: boolean;
  /** Duration field value (units of aDurationUnitUs). */
  dur: number;
  ra: number;
  /** Transmitter (DATA, RTS); -1 for ACK and CTS. */
  ta: number;
  /** Sequence number (DATA); -1 otherwise. */
  seq: number;
  /** Offset of the payload (DATA), or the frame length. */
  off: number;
}

/**
 * Parse buf[0..len). dataHdr is the DATA header length on the air (>= DATA_HDR). Returns false for
 * anything malformed: too short for its type, reserved bits set, padding longer than the frame.
 */
export function parseCsma(buf: Uint8Array, len: number, dataHdr: number, f: CsmaFrame): boolean {
  if (!(len >= 5 && len <= buf.length) || !(dataHdr >= DATA_HDR) || buf[CF_FC] & FC_RESERVED) return false;
  const fc = buf[CF_FC];
  f.type = fc & 3;
  f.retry = (fc & FC_RETRY) !== 0;
  f.dur = (buf[CF_DUR] << 8) | buf[CF_DUR + 1];
  f.ra = (buf[CF_RA] << 8) | buf[CF_RA + 1];
  f.ta = -1;
  f.seq = -1;
  f.off = len;
  if (f.type === FT_DATA) {
    if (len < dataHdr + 1) return false; // a DATA frame carries at least one payload byte
    f.ta = (buf[CF_TA] << 8) | buf[CF_TA + 1];
    f.seq = buf[CF_SEQ];
    f.off = dataHdr;
  } else if (f.type === FT_RTS) {
    if (len < RTS_LEN) return false;
    f.ta = (buf[CF_TA] << 8) | buf[CF_TA + 1];
  }
  return true;
}

function head(buf: Uint8Array, type: number, retry: boolean, dur: number, ra: number): void {
  buf[CF_FC] = type | (retry ? FC_RETRY : 0);
  buf[CF_DUR] = (dur >>> 8) & 0xff;
  buf[CF_DUR + 1] = dur & 0xff;
  buf[CF_RA] = (ra >>> 8) & 0xff;
  buf[CF_RA + 1] = ra & 0xff;
}

function pad(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) buf[i] = 0;
  return to > from ? to : from;
}

/** DATA header (payload goes at dataHdr); returns dataHdr, or 0 if buf is too short. */
export function emitDataHdr(buf: Uint8Array, retry: boolean, dur: number, ra: number, ta: number, seq: number, dataHdr: number): number {
  if (buf.length < dataHdr || dataHdr < DATA_HDR) return 0;
  head(buf, FT_DATA, retry, dur, ra);
  buf[CF_TA] = (ta >>> 8) & 0xff;
  buf[CF_TA + 1] = ta & 0xff;
  buf[CF_SEQ] = seq & 0xff;
  return pad(buf, DATA_HDR, dataHdr);
}

/** RTS, padded to `onAir` bytes; returns the length, or 0 if buf is too short. */
export function emitRts(buf: Uint8Array, dur: number, ra: number, ta: number, onAir: number): number {
  if (buf.length < RTS_LEN || buf.length < onAir) return 0;
  head(buf, FT_RTS, false, dur, ra);
  buf[CF_TA] = (ta >>> 8) & 0xff;
  buf[CF_TA + 1] = ta & 0xff;
  return pad(buf, RTS_LEN, onAir);
}

/** CTS or ACK (type FT_CTS / FT_ACK), padded to `onAir` bytes; returns the length, or 0. */
export function emitCtl(buf: Uint8Array, type: number, dur: number, ra: number, onAir: number): number {
  if (buf.length < ACK_LEN || buf.length < onAir) return 0;
  head(buf, type, false, dur, ra);
  return pad(buf, ACK_LEN, onAir);
}

/** Set or clear the retry bit and the duration of a DATA frame already in buf. */
export function patchData(buf: Uint8Array, retry: boolean, dur: number): void {
  buf[CF_FC] = (buf[CF_FC] & ~FC_RETRY) | (retry ? FC_RETRY : 0);
  buf[CF_DUR] = (dur >>> 8) & 0xff;
  buf[CF_DUR + 1] = dur & 0xff;
}

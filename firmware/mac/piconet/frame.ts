// Piconet packet format (textbook 3.5.3, Bluetooth BR baseband, compacted to bytes):
//
//   offset  field   size  meaning
//   0       ac      u16   access code, big-endian: the piconet id derived from the master's address
//                         (accessCode()), GIAC (0x9E8B) for inquiry, or the paged device's code (DAC)
//   2       h0      u8    bits 0-2 AM_ADDR (0 = broadcast from the master), bits 3-6 TYPE, bit 7 FLOW
//                         (1 = go, 0 = stop: my receive buffer is full)
//   3       h1      u8    bit 0 ARQN (1 = ACK of the last packet received), bit 1 SEQN, bits 2-3
//                         reply budget (master packets: the slots the addressed slave may use for its
//                         reply: 0 = 1 slot, 1 = 3 slots, 2 = 5 slots), bit 4 flush epoch (toggled by
//                         the sender each time it gives up on a packet), bits 5-7 zero
//   4       hec     u8    header error check: CRC-8 (polynomial 0x07) over h0, h1, seeded with the
//                         access code's low byte (Bluetooth seeds its HEC with the UAP)
//   [5..10  h0 h1 hec twice more when the network sends the header in triplicate; a receiver takes
//           the bitwise majority of the three copies before checking the HEC]
//   5 or 11 payload ...   ACL data (DH1/DH3/DH5), 30 bytes of SCO data (HV3), FHS contents, or an
//                         LMP control message (DM1)
//
// The reply budget is picolink's: Bluetooth slaves learn the reserved SCO slots from LMP and the
// master clock; here the master says in spare header bits how long the reply may be, so slaves need
// no clock state. So is the flush epoch: with one SEQN bit, a receiver cannot tell whether the packet
// after a dropped one is new (it may or may not have seen the dropped one); a changed epoch says so. Board code: parse fills a caller's object; emit writes into a caller's buffer.

import { crc8 } from '../../codec/crc.ts';

export const PT_NULL = 0;
export const PT_POLL = 1;
export const PT_FHS = 2;
export const PT_DM1 = 3; // LMP control messages
export const PT_DH1 = 4;
export const PT_HV3 = 7;
export const PT_DH3 = 11;
export const PT_DH5 = 15;

/** Slots a packet of this type occupies. */
export function typeSlots(type: number): number {
  return type === PT_DH5 ? 5 : type === PT_DH3 ? 3 : 1;
}

export const PF_AC = 0;
export const PF_H0 = 2;
export const PF_H1 = 3;
export const PF_HEC = 4;
/** Header lengths: access code + one or three copies of (h0, h1, hec). */
export const HDR_SINGLE = 5;
export const HDR_TRIPLE = 11;

/** Inquiry access code (Bluetooth's general inquiry access code LAP, 0x9E8B33, shortened). */
export const GIAC = 0x9e8b;

/**
 * The access code of a piconet (from its master's address) or of a paged device (its DAC). Each step
 * is invertible on 16 bits (xor, multiplication by an odd constant, xorshift), so distinct addresses
 * get distinct codes; the two values that would be GIAC or 0 are moved, which leaves at most two
 * pairs of addresses sharing a code. Neighbouring addresses get unrelated codes.
 */
export function accessCode(addr: number): number {
  let x = (addr & 0xffff) ^ 0xa5c3;
  x = (x * 0x6a4d) & 0xffff; // products stay below 2^31: exact, and no Math.imul needed
  x ^= x >>> 7;
  x = (x * 0x2c1b) & 0xffff;
  x ^= x >>> 9;
  return x === GIAC || x === 0 ? x ^ 0x0101 : x;
}

export interface PiconetHeader {
  ac: number;
  am: number;
  type: number;
  flow: boolean;
  arqn: boolean;
  seqn: number;
  /** Flush epoch bit: toggled by the sender whenever it drops a packet unacknowledged. */
  epoch: number;
  /** Reply budget in slots: 1, 3 or 5. */
  budget: number;
  /** Offset of the payload. */
  off: number;
}

const BUDGET_CODE = [0, 0, 0, 1, 1, 2]; // slots -> code
const BUDGET_SLOTS = [1, 3, 5, 1];

/** Write the header; returns the payload offset (5 or 11), or 0 if buf is too short. */
export function emitHeader(buf: Uint8Array, h: PiconetHeader, triple: boolean): number {
  const n = triple ? HDR_TRIPLE : HDR_SINGLE;
  if (buf.length < n) return 0;
  buf[PF_AC] = (h.ac >>> 8) & 0xff;
  buf[PF_AC + 1] = h.ac & 0xff;
  const h0 = (h.am & 7) | ((h.type & 15) << 3) | (h.flow ? 0x80 : 0);
  const h1 = (h.arqn ? 1 : 0) | ((h.seqn & 1) << 1) | (BUDGET_CODE[h.budget > 5 ? 5 : h.budget] << 2) | ((h.epoch & 1) << 4);
  const hec = crc8(h0, h1, h.ac & 0xff);
  for (let c = 0; c < (triple ? 3 : 1); c++) {
    buf[PF_H0 + 3 * c] = h0;
    buf[PF_H1 + 3 * c] = h1;
    buf[PF_HEC + 3 * c] = hec;
  }
  return n;
}

/** Bitwise majority of three bytes. */
function maj(a: number, b: number, c: number): number {
  return (a & b) | (a & c) | (b & c);
}

/**
 * Parse the header of buf[0..len) into h. Returns false if the frame is too short, the HEC fails
 * (after majority decoding when triple) or reserved bits are set. It does not check the access code:
 * the caller knows which codes it listens to.
 */
export function parseHeader(buf: Uint8Array, len: number, triple: boolean, h: PiconetHeader): boolean {
  const n = triple ? HDR_TRIPLE : HDR_SINGLE;
  if (!(len >= n && len <= buf.length)) return false;
  let h0 = buf[PF_H0];
  let h1 = buf[PF_H1];
  let hec = buf[PF_HEC];
  if (triple) {
    h0 = maj(h0, buf[PF_H0 + 3], buf[PF_H0 + 6]);
    h1 = maj(h1, buf[PF_H1 + 3], buf[PF_H1 + 6]);
    hec = maj(hec, buf[PF_HEC + 3], buf[PF_HEC + 6]);
  }
  const ac = (buf[PF_AC] << 8) | buf[PF_AC + 1];
  if ((h1 & 0xe0) !== 0 || (h1 & 0x0c) === 0x0c || crc8(h0, h1, ac & 0xff) !== hec) return false;
  h.ac = ac;
  h.am = h0 & 7;
  h.type = (h0 >>> 3) & 15;
  h.flow = (h0 & 0x80) !== 0;
  h.arqn = (h1 & 1) !== 0;
  h.seqn = (h1 >>> 1) & 1;
  h.epoch = (h1 >>> 4) & 1;
  h.budget = BUDGET_SLOTS[(h1 >>> 2) & 3];
  h.off = n;
  return true;
}

// LMP control messages (payload of a DM1 packet), first byte the opcode.
export const LMP_PARK = 1; // to a slave: [op, pm_addr]: give up your AM_ADDR, listen to broadcasts
export const LMP_UNPARK = 2; // broadcast: [op, pm_addr, am_addr]: the parked slave becomes active
export const LMP_DETACH = 3; // to a slave: [op]: you are no longer in this piconet
export const LMP_SCO = 4; // to a slave: [op, interval slots, offset slots] (0 interval: remove)

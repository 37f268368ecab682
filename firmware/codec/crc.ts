// CRCs for frames. CRC-16/X-25 (the HDLC/PPP frame check sequence, RFC 1662: reflected polynomial
// 0x1021, init 0xFFFF, final xor 0xFFFF, check value 0x906E for "123456789") guards serial frames;
// CRC-32 (IEEE 802.3, check value 0xCBF43926) is there for logs and longer frames.
// Nibble tables (16 entries each) instead of 256-entry tables: two lookups a byte, 96 bytes of tables
// instead of 1.5 KB, which matters on a board with 2 600 JsVars.

const T16 = new Uint16Array(16);
const T32 = new Uint32Array(16);
for (let i = 0; i < 16; i++) {
  let a = i;
  let b = i;
  for (let k = 0; k < 4; k++) {
    a = a & 1 ? (a >>> 1) ^ 0x8408 : a >>> 1;
    b = b & 1 ? (b >>> 1) ^ 0xedb88320 : b >>> 1;
  }
  T16[i] = a;
  T32[i] = b >>> 0;
}

/** Running CRC-16/X-25 state before the final xor; start with 0xFFFF. */
export function crc16Update(crc: number, buf: Uint8Array, off: number, len: number): number {
  for (let i = off; i < off + len; i++) {
    crc ^= buf[i];
    crc = (crc >>> 4) ^ T16[crc & 15];
    crc = (crc >>> 4) ^ T16[crc & 15];
  }
  return crc;
}

/** CRC-16/X-25 of buf[off..off+len). */
export function crc16(buf: Uint8Array, off: number, len: number): number {
  return (crc16Update(0xffff, buf, off, len) ^ 0xffff) & 0xffff;
}

/** CRC-32 (IEEE) of buf[off..off+len), as an unsigned 32-bit number. */
export function crc32(buf: Uint8Array, off: number, len: number): number {
  let crc = 0xffffffff;
  for (let i = off; i < off + len; i++) {
    crc ^= buf[i];
    crc = (crc >>> 4) ^ T32[crc & 15];
    crc = (crc >>> 4) ^ T32[crc & 15];
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * CRC-8 (polynomial 0x07, no reflection) of two bytes, starting from `init`: the piconet header
 * error check. Bitwise: it runs on two bytes per packet, so a table would cost more than it saves.
 */
export function crc8(a: number, b: number, init: number): number {
  let c = init & 0xff;
  for (let k = 0; k < 2; k++) {
    c ^= k === 0 ? a & 0xff : b & 0xff;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

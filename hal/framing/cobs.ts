// Serial framing: frames on a byte stream as 0x00 | COBS(payload | FCS) | 0x00.
// COBS (Cheshire & Baker, IEEE/ACM ToN 1999) removes every 0x00 from the frame for a bounded cost of
// one byte in 254, so 0x00 marks frame boundaries unambiguously and a receiver resynchronises at the
// next 0x00 after any garbage (SLIP could double a frame's size). The FCS is CRC-16/X-25, low byte
// first as in HDLC. A delimiter goes before and after each frame, so line noise before a frame is
// cut off from it instead of corrupting it; an empty frame (two delimiters in a row) is skipped.
// A frame carries at least one payload byte. The decoder works byte by byte into one buffer allocated at creation: nothing is allocated per
// byte or per frame, and a frame longer than maxLen is dropped whole (the decoder skips to the next
// delimiter). Board code: runs on Espruino.

import { crc16, crc16Update } from '../../firmware/codec/crc.ts';

/** Bytes of frame check sequence after the payload. */
export const FCS_LEN = 2;

/**
 * Largest encoded size of a payload of `len` bytes, delimiters included: one COBS code byte per 254
 * data bytes plus one (the encoder ends a run of exactly 254 with a code 0x01), and two delimiters.
 */
export function encodedMax(len: number): number {
  const n = len + FCS_LEN;
  return n + Math.floor(n / 254) + 3;
}

/**
 * Encode payload[0..len) into out (at offset 0). Returns the number of bytes written, or 0 if out is
 * too small (check with encodedMax first).
 */
export function frameEncode(payload: Uint8Array, len: number, out: Uint8Array): number {
  if (out.length < encodedMax(len)) return 0;
  const fcs = crc16(payload, 0, len);
  const total = len + FCS_LEN;
  out[0] = 0;
  let codeAt = 1;
  let o = 2;
  let code = 1;
  for (let i = 0; i < total; i++) {
    const b = i < len ? payload[i] : i === len ? fcs & 0xff : fcs >>> 8;
    if (b === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = o++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  out[o++] = 0;
  return o;
}

export interface DecoderStats {
  frames: number;
  crcErrors: number;
  /** Frames longer than maxLen, dropped. */
  oversized: number;
  /** Frames whose COBS structure was broken (a block cut short by a delimiter), or with no payload byte. */
  malformed: number;
}

export interface FrameDecoder {
  /** Feed received bytes; complete good frames go to onFrame(frame, len) synchronously. */
  push(bytes: Uint8Array, len: number): void;
  readonly stats: DecoderStats;
  /** Forget a partial frame (for example after the line was reopened). */
  reset(): void;
}

/**
 * A streaming decoder for frames of at most maxLen payload bytes. onFrame gets a buffer owned by the
 * decoder, valid during the call only.
 */
export function frameDecoder(maxLen: number, onFrame: (frame: Uint8Array, len: number) => void): FrameDecoder {
  const buf = new Uint8Array(maxLen + FCS_LEN);
  const cap = buf.length;
  let n = 0; // decoded bytes so far
  let left = 0; // data bytes left in the current COBS block; 0 means the next byte is a code byte
  let zero = false; // a 0x00 is owed before the next block
  let started = false; // a code byte has been seen since the last delimiter
  let skip = false; // dropping an oversized frame until the next delimiter
  const stats: DecoderStats = { frames: 0, crcErrors: 0, oversized: 0, malformed: 0 };

  function finish(): void {
    if (skip || !started) return;
    if (left !== 0 || n <= FCS_LEN) {
      // a frame carries at least one byte (send() refuses empty frames); an empty one is line noise
      stats.malformed++;
      return;
    }
    const len = n - FCS_LEN;
    const fcs = buf[len] | (buf[len + 1] << 8);
    if (((crc16Update(0xffff, buf, 0, len) ^ 0xffff) & 0xffff) !== fcs) {
      stats.crcErrors++;
      return;
    }
    stats.frames++;
    onFrame(buf, len);
  }

  function reset(): void {
    n = 0;
    left = 0;
    zero = false;
    started = false;
    skip = false;
  }

  return {
    stats,
    reset,
    push(bytes: Uint8Array, len: number): void {
      for (let i = 0; i < len; i++) {
        const b = bytes[i];
        if (b === 0) {
          finish();
          reset();
          continue;
        }
        if (skip) continue;
        if (left === 0) {
          // a code byte: the block before it, if shorter than 254 data bytes, ended in a 0x00
          if (zero) {
            if (n === cap) {
              stats.oversized++;
              skip = true;
              continue;
            }
            buf[n++] = 0;
          }
          started = true;
          left = b - 1;
          zero = b !== 0xff;
        } else {
          if (n === cap) {
            stats.oversized++;
            skip = true;
            continue;
          }
          buf[n++] = b;
          left--;
        }
      }
    },
  };
}

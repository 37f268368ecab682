// A request-reply codec (firmware/rr/rr.ts RrCodec) for a server whose handlers pass their arguments
// through unread and return fixed-shape results, as a piconet slave's echo and readings do:
// - Arguments arrive as a CborRaw (the item's bytes, copied) after cborSkip checked them against every
//   rule the full decoder applies, so the same bytes earn the same RR_E_BAD_ARGS as with the default
//   codec. A CborRaw given back as a result goes out as those bytes: the caller decodes the value it
//   sent (its encoding kept: a float32 stays a float32, a longer head stays longer).
// - Other results: a small encoder writing the bytes cborEncode (and cbor-x) writes, for integers in
//   [-2^32, 2^32), ASCII text, booleans, null, and arrays and plain objects of these. Floats, other
//   text and byte strings are refused (-CBOR_UNSUPPORTED: the server answers RR_E_HANDLER); a CborRaw
//   inside an array or map too. Handlers that need more use the default codec.
// A bundle that uses this codec and no other carries neither cborDecode nor cborEncode: on the
// pico-nrf24 slave, codec/cbor.ts and this file are 3.1 KB minified against the 4.2 KB of the full
// codec (the bundle 1.1 KB smaller).

import { CBOR_MAX_DEPTH, CBOR_NO_ROOM, CBOR_TOO_DEEP, CBOR_UNSUPPORTED, cborSkip } from '../codec/cbor.ts';
import type { CborState } from '../codec/cbor.ts';
import type { RrCodec } from './rr.ts';

/** One CBOR item, undecoded: `b` holds exactly its bytes. */
export class CborRaw {
  declare b: Uint8Array; // declared only: a field initialiser would bring a defineProperty helper
  constructor(b: Uint8Array) {
    this.b = b;
  }
}

// The head of a major type with argument n < 2^32, shortest form (RFC 8949 §4.2.1), as cborEncode.
function head(out: Uint8Array, p: number, major: number, n: number): number {
  const w = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
  if (!(p >= 0) || p + 1 + w > out.length) return -CBOR_NO_ROOM;
  out[p] = (major << 5) | (w === 0 ? n : w === 1 ? 24 : w === 2 ? 25 : 26);
  for (let i = w; i > 0; i--) {
    out[p + i] = n & 0xff;
    n = n >>> 8;
  }
  return p + 1 + w;
}

// cborEncode's bytes for the values a fixed-shape result holds: integers in [-2^32, 2^32), ASCII text,
// true, false, null, arrays and plain objects (prototype Object.prototype or null) of these (keys ASCII), nested at most CBOR_MAX_DEPTH.
// Anything else is -CBOR_UNSUPPORTED (the server answers RR_E_HANDLER): no floats, no other text.
function enc(v: unknown, out: Uint8Array, p: number, depth: number): number {
  if (p < 0) return p;
  if (typeof v === 'number') {
    if (v >>> 0 === v) return head(out, p, 0, v);
    if (v < 0 && v >= -0x100000000 && Math.floor(v) === v) return head(out, p, 1, -1 - v);
    return -CBOR_UNSUPPORTED;
  }
  if (typeof v === 'string') {
    p = head(out, p, 3, v.length);
    if (p >= 0 && p + v.length > out.length) return -CBOR_NO_ROOM;
    for (let i = 0; i < v.length && p >= 0; i++) {
      const c = v.charCodeAt(i);
      if (c > 0x7f) return -CBOR_UNSUPPORTED;
      out[p + i] = c;
    }
    return p < 0 ? p : p + v.length;
  }
  if (v === true || v === false || v === null) return head(out, p, 7, v === null ? 22 : v ? 21 : 20);
  const proto = typeof v === 'object' ? Object.getPrototypeOf(v) : 0;
  if (proto !== Object.prototype && proto !== null && !Array.isArray(v)) return -CBOR_UNSUPPORTED;
  if (depth >= CBOR_MAX_DEPTH) return -CBOR_TOO_DEEP;
  const o = v as Record<string, unknown>;
  const keys = Array.isArray(v) ? null : Object.keys(o);
  const n = keys ? keys.length : (v as unknown[]).length;
  p = head(out, p, keys ? 5 : 4, n);
  for (let i = 0; i < n; i++) {
    if (keys) p = enc(keys[i], out, p, depth);
    p = enc(keys ? o[keys[i]] : (v as unknown[])[i], out, p, depth + 1);
  }
  return p;
}

function encode(v: unknown, out: Uint8Array, off: number): number {
  if (!(v instanceof CborRaw)) return enc(v, out, off, 0);
  const n = v.b.length;
  if (!(off >= 0) || off + n > out.length) return -CBOR_NO_ROOM;
  out.set(v.b, off);
  return off + n;
}

function decode(buf: Uint8Array, off: number, end: number, st: CborState): unknown {
  const e = cborSkip(buf, off, end, st);
  if (e < 0) return undefined;
  // A copy by set(): a handler may keep its arguments past the frame (and Espruino's slice is an Array).
  const c = new Uint8Array(e - off);
  c.set(buf.subarray(off, e));
  return new CborRaw(c);
}

/** Arguments as CborRaw; results as above (a CborRaw result as its bytes). */
export const RR_RAW: RrCodec = { encode: encode, decode: decode };

// Tiny CBOR codec (RFC 8949) for the board: the subset picolink puts in frames, encoding byte for byte
// what the host's cbor-x produces with host/codec/cbor.ts's configuration, and a decoder that never throws.
//
// Subset (RFC 8949 §3, §3.3):
//   - integers: encoded as cbor-x encodes JS numbers: an integer in [0, 2^32) is major type 0, one in
//     [-2^32, 0) is major type 1, each in the shortest head (§4.2.1). Any other number, integers beyond
//     2^32 included, is a float64 (0xfb), because that is what cbor-x writes: it has no float32 rule on
//     (useFloat32 NEVER) and writes 64-bit integer heads only for BigInt. -0 is written as 0x00 (cbor-x
//     tests `v >>> 0 === v`, which -0 passes); NaN goes through DataView.setFloat64 like any double, as in
//     cbor-x, so a NaN's payload bits survive (the NaN literal is 0xfb 7ff8000000000000).
//     Decoding takes 64-bit heads up to ±2^53, read as two 32-bit words (hi * 0x100000000 + lo); larger
//     magnitudes are CBOR_UNSUPPORTED. Half, single and double floats all decode (§3.3, Appendix D).
//   - byte strings <-> Uint8Array (Node's Buffer too), untagged. Decoded byte strings are views into the
//     input (`subarray`) unless st.copy is set: a caller that keeps one past its frame copies it.
//   - text strings: UTF-8 from JS UTF-16, surrogate pairs as 4-byte sequences (Espruino strings whose
//     charCodeAt gives a code point above 0xFFFF are handled too). A lone surrogate has no UTF-8 form
//     (RFC 3629): the encoder refuses it (CBOR_UNSUPPORTED) rather than substitute U+FFFD, so it never
//     emits bytes that differ from cbor-x (which writes 3-byte surrogates for short strings and U+FFFD for
//     long ones). The decoder checks UTF-8 strictly (overlongs, surrogates, > U+10FFFF, bad continuation
//     bytes are CBOR_MALFORMED) and builds UTF-16 strings, pairs for code points above 0xFFFF.
//   - arrays <-> JS arrays; maps <-> plain objects (prototype Object.prototype or null) with text keys,
//     in Object.keys order (cbor-x's variableMapSize order, so the header is the shortest one).
//     A decoded key "__proto__" becomes "__proto_", as cbor-x does, so that bytes never set a prototype and
//     both sides decode the same bytes to the same object. Duplicate keys: the last one wins, as in cbor-x.
//     A key that is not a text string is CBOR_MALFORMED (cbor-x would stringify integer keys).
//   - false, true, null.
//   Not supported (CBOR_UNSUPPORTED): tags, undefined, other simple values, indefinite lengths (cbor-x
//   never writes them for this subset); on encode also functions, symbols, BigInt, class instances, Map,
//   other typed arrays.
//
// API, exception-free on the frame path:
//   cborEncode(value, out, off): the offset after the item in the caller's buffer, or -(error code).
//     Bytes of `out` past `off` may have been written when it fails. Nesting deeper than CBOR_MAX_DEPTH
//     containers (and so any cycle) is CBOR_TOO_DEEP; a full buffer is CBOR_NO_ROOM.
//   cborDecode(buf, off, end, st): the value, or undefined with st.err set. Reads buf[off..end) only.
//     st.pos is the offset after the item, or where the failing item starts. With st.exact, bytes left
//     after the item are CBOR_TRAILING. st.maxDepth bounds nesting, st.maxLen bounds every declared length
//     (string bytes, array items, map entries); a length beyond the bytes left is CBOR_TOO_LARGE too, so a
//     short input never causes a large allocation. undefined is never a decoded value, so
//     `(st.err === CBOR_OK) === (value !== undefined)` always holds.
//
//   cborSkip(buf, off, end, st): the offset after one item that cborDecode would accept, or -1 with st.err
//     and st.pos set as cborDecode sets them; it builds no value. For a board that passes items through
//     unread (firmware/rr/raw.ts): its bundle then carries no decoder.
//
// At module load this allocates an 8-byte scratch array and a DataView on it (for float conversion),
// the functions, and the exported constants; nothing else is allocated except the values themselves
// (and Object.keys' array per map on encode).

/** Success. */
export const CBOR_OK = 0;
/** The input ends where a head, or the rest of one, was due. (A cut-off input whose last head declares
 *  more string bytes or items than are left is CBOR_TOO_LARGE instead.) */
export const CBOR_TRUNCATED = 1;
/** Not well-formed, or not valid (RFC 8949 §5.3): reserved additional info 28-30, a stray break, a
 *  one-byte simple value below 32, a map key that is not a text string, invalid UTF-8. */
export const CBOR_MALFORMED = 2;
/** More nested arrays/maps than allowed (decoder: st.maxDepth; encoder: CBOR_MAX_DEPTH, cycles too). */
export const CBOR_TOO_DEEP = 3;
/** A declared length beyond the bytes left or beyond st.maxLen. */
export const CBOR_TOO_LARGE = 4;
/** Well-formed CBOR, or a JS value, outside the subset above. */
export const CBOR_UNSUPPORTED = 5;
/** Bytes left after the item when st.exact asked for exactly one. */
export const CBOR_TRAILING = 6;
/** Encoder: the item does not fit in the output buffer. */
export const CBOR_NO_ROOM = 7;

/** Deepest nesting of arrays and maps the encoder writes; a sensible st.maxDepth for the decoder. Each
 *  level is one recursive call, and Espruino's stack is small. */
export const CBOR_MAX_DEPTH = 16;

export interface CborState {
  /** CBOR_OK or the error of the last decode. */
  err: number;
  /** Offset after the decoded item; on error, offset of the item that failed. */
  pos: number;
  /** Deepest nesting of arrays/maps accepted (1 = a container of scalars). */
  maxDepth: number;
  /** Largest declared length accepted: bytes of a string, items of an array, entries of a map. */
  maxLen: number;
  /** Require the item to end exactly at `end` (CBOR_TRAILING otherwise). */
  exact: boolean;
  /** Copy byte strings out of the input instead of returning views into it. */
  copy: boolean;
}

/** A decoder state; allocate one per receiver and reuse it. exact is on and copy off to start with. */
export function cborState(maxDepth: number, maxLen: number): CborState {
  return { err: CBOR_OK, pos: 0, maxDepth: maxDepth, maxLen: maxLen, exact: true, copy: false };
}

const scratch = new Uint8Array(8);
// Pure: a bundle without the float paths (cborSkip alone) drops it.
const scratchView = /* @__PURE__ */ new DataView(scratch.buffer);

// Writes a head (major type, argument < 2^32) in its shortest form (RFC 8949 §4.2.1), as cbor-x does.
function head(out: Uint8Array, p: number, major: number, n: number): number {
  const mt = major << 5;
  const w = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
  if (p + 1 + w > out.length) return -CBOR_NO_ROOM;
  if (w === 0) {
    out[p] = mt | n;
    return p + 1;
  }
  out[p] = mt | (w === 1 ? 24 : w === 2 ? 25 : 26);
  for (let i = w; i > 0; i--) {
    out[p + i] = n & 0xff;
    n = n >>> 8;
  }
  return p + 1 + w;
}

// UTF-8 of a JS string (RFC 3629 §3): with write false it only measures, because the head must come first
// and be the shortest. Returns the offset after the bytes, or -CBOR_UNSUPPORTED for a lone surrogate.
function utf8(s: string, out: Uint8Array, p: number, write: boolean): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xe000) {
      const d = s.charCodeAt(++i);
      if (c >= 0xdc00 || !(d >= 0xdc00 && d < 0xe000)) return -CBOR_UNSUPPORTED;
      c = 0x10000 + ((c - 0xd800) << 10) + d - 0xdc00;
    }
    // n continuation bytes; charCodeAt above 0xFFFF happens on Espruino's UTF-8 strings
    const n = c < 0x80 ? 0 : c < 0x800 ? 1 : c < 0x10000 ? 2 : 3;
    if (write) {
      // lead byte 0xxxxxxx, 110xxxxx, 1110xxxx or 11110xxx, then n bytes 10xxxxxx
      out[p] = n === 0 ? c : ((0xff00 >> (n + 1)) & 0xff) | (c >> (6 * n));
      for (let k = 1; k <= n; k++) out[p + k] = 0x80 | ((c >> (6 * (n - k))) & 0x3f);
    }
    p += n + 1;
  }
  return p;
}

function encText(s: string, out: Uint8Array, p: number): number {
  const n = utf8(s, out, 0, false);
  if (n < 0) return n;
  p = head(out, p, 3, n);
  if (p < 0) return p;
  if (p + n > out.length) return -CBOR_NO_ROOM;
  return utf8(s, out, p, true);
}

function enc(v: unknown, out: Uint8Array, p: number, depth: number): number {
  const t = typeof v;
  if (t === 'number') {
    const x = v as number;
    // The same tests, in the same order, as cbor-x's encoder: they decide the bytes.
    if (x >>> 0 === x) return head(out, p, 0, x);
    if (x < 0 && x >= -0x100000000 && Math.floor(x) === x) return head(out, p, 1, -1 - x);
    if (p + 9 > out.length) return -CBOR_NO_ROOM;
    out[p] = 0xfb;
    scratchView.setFloat64(0, x);
    out.set(scratch, p + 1);
    return p + 9;
  }
  if (t === 'string') return encText(v as string, out, p);
  if (t === 'boolean' || v === null) {
    if (p >= out.length) return -CBOR_NO_ROOM;
    out[p] = v === null ? 0xf6 : v ? 0xf5 : 0xf4;
    return p + 1;
  }
  if (t !== 'object') return -CBOR_UNSUPPORTED;
  if (v instanceof Uint8Array) {
    const n = v.length;
    p = head(out, p, 2, n);
    if (p < 0) return p;
    if (p + n > out.length) return -CBOR_NO_ROOM;
    out.set(v, p);
    return p + n;
  }
  if (depth >= CBOR_MAX_DEPTH) return -CBOR_TOO_DEEP;
  if (Array.isArray(v)) {
    const n = v.length;
    p = head(out, p, 4, n);
    for (let i = 0; i < n && p >= 0; i++) p = enc(v[i], out, p, depth + 1);
    return p;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return -CBOR_UNSUPPORTED;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const n = keys.length;
  p = head(out, p, 5, n);
  for (let i = 0; i < n && p >= 0; i++) {
    p = encText(keys[i], out, p);
    if (p >= 0) p = enc(o[keys[i]], out, p, depth + 1);
  }
  return p;
}

/** Encodes `value` into out[off..]; returns the offset after it, or -(error code). Never throws. */
export function cborEncode(value: unknown, out: Uint8Array, off: number): number {
  if (!(off >= 0)) return -CBOR_NO_ROOM;
  return enc(value, out, off, 0);
}

function fail(st: CborState, err: number, p: number): undefined {
  st.err = err;
  st.pos = p;
  return undefined;
}

/**
 * The argument of the item head at start whose ai says it takes w = 1, 2, 4 or 8 bytes at p (decode
 * and skip share it). Lengths, counts and tags beyond 2^32 - 1 are refused (TOO_LARGE; a tag,
 * UNSUPPORTED); integers beyond ±2^53 have no exact JS number (2^53 itself does, -1 - 2^53 does not):
 * UNSUPPORTED. Returns -1 after fail() then.
 */
function headArg(st: CborState, buf: Uint8Array, p: number, w: number, major: number, start: number): number {
  if (w === 1) return buf[p];
  if (w === 2) return (buf[p] << 8) | buf[p + 1];
  const lo = u32(buf, p + w - 4);
  if (w === 4) return lo;
  const hi = u32(buf, p);
  if (major > 1 ? hi !== 0 : hi > 0x200000 || (hi === 0x200000 && (lo !== 0 || major === 1))) {
    fail(st, major === 6 || major < 2 ? CBOR_UNSUPPORTED : CBOR_TOO_LARGE, start);
    return -1;
  }
  return hi * 0x100000000 + lo;
}

function u32(buf: Uint8Array, p: number): number {
  return buf[p] * 0x1000000 + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]);
}

// Strict UTF-8 (RFC 3629 §3-4) to a JS string; returns undefined if the bytes are not valid UTF-8.
function decText(buf: Uint8Array, p: number, e: number): string | undefined {
  let s = '';
  while (p < e) {
    let c = buf[p++];
    if (c >= 0x80) {
      let need = 0;
      let min = 0;
      if (c >= 0xc2 && c < 0xe0) { need = 1; min = 0x80; c &= 0x1f; }
      else if (c >= 0xe0 && c < 0xf0) { need = 2; min = 0x800; c &= 0x0f; }
      else if (c >= 0xf0 && c < 0xf5) { need = 3; min = 0x10000; c &= 0x07; }
      else return undefined;
      if (e - p < need) return undefined;
      for (; need > 0; need--) {
        const b = buf[p++];
        if ((b & 0xc0) !== 0x80) return undefined;
        c = (c << 6) | (b & 0x3f);
      }
      if (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) return undefined;
      if (c >= 0x10000) {
        c -= 0x10000;
        s += String.fromCharCode(0xd800 + (c >> 10));
        c = 0xdc00 + (c & 0x3ff);
      }
    }
    s += String.fromCharCode(c);
  }
  return s;
}

function dec(buf: Uint8Array, end: number, st: CborState, depth: number): unknown {
  const start = st.pos;
  let p = start;
  if (p >= end) return fail(st, CBOR_TRUNCATED, start);
  const ib = buf[p++];
  const major = ib >> 5;
  const ai = ib & 0x1f;
  let n = ai;
  if (ai >= 24) {
    if (ai >= 28) {
      // 31 is the indefinite-length marker for strings, arrays and maps (not supported here) and the
      // break code in major type 7 (which, with no indefinite items, is always out of place).
      return fail(st, ai === 31 && major >= 2 && major <= 5 ? CBOR_UNSUPPORTED : CBOR_MALFORMED, start);
    }
    const w = 1 << (ai - 24);
    if (end - p < w) return fail(st, CBOR_TRUNCATED, start);
    if (major === 7 && ai > 24) {
      let x: number;
      if (ai === 25) {
        // Half float (RFC 8949 Appendix D): rebuilt as float32 bits, or scaled by 2^-24 when subnormal.
        const h = (buf[p] << 8) | buf[p + 1];
        const e = (h >> 10) & 0x1f;
        if (e === 0) {
          x = (h & 0x3ff) / 0x1000000;
          if (h & 0x8000) x = -x;
        } else {
          scratchView.setUint32(0, (((h & 0x8000) << 16) | ((e === 31 ? 0xff : e + 112) << 23) | ((h & 0x3ff) << 13)) >>> 0);
          x = scratchView.getFloat32(0);
        }
      } else {
        for (let i = 0; i < w; i++) scratch[i] = buf[p + i];
        x = w === 4 ? scratchView.getFloat32(0) : scratchView.getFloat64(0);
      }
      st.pos = p + w;
      return x;
    }
    n = headArg(st, buf, p, w, major, start);
    if (n < 0) return undefined;
    p += w;
  }
  if (major === 0) {
    st.pos = p;
    return n;
  }
  if (major === 1) {
    st.pos = p;
    return -1 - n;
  }
  if (major === 2 || major === 3) {
    if (n > st.maxLen || n > end - p) return fail(st, CBOR_TOO_LARGE, start);
    const e = p + n;
    let v: unknown;
    if (major === 2) {
      // A copy by set(), not slice(): on Espruino 2v29 Uint8Array.prototype.slice returns a plain Array.
      if (st.copy) {
        const c = new Uint8Array(n);
        c.set(buf.subarray(p, e));
        v = c;
      } else v = buf.subarray(p, e);
    }
    else {
      v = decText(buf, p, e);
      if (v === undefined) return fail(st, CBOR_MALFORMED, start);
    }
    st.pos = e;
    return v;
  }
  if (major === 4 || major === 5) {
    if (depth >= st.maxDepth) return fail(st, CBOR_TOO_DEEP, start);
    // Every item takes at least one byte, every map entry two: reject impossible counts before looping.
    if (n > st.maxLen || (major === 4 ? n : n * 2) > end - p) return fail(st, CBOR_TOO_LARGE, start);
    st.pos = p;
    if (major === 4) {
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const v = dec(buf, end, st, depth + 1);
        if (v === undefined) return undefined;
        a.push(v);
      }
      return a;
    }
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const kp = st.pos;
      if (kp >= end) return fail(st, CBOR_TRUNCATED, kp);
      if (buf[kp] >> 5 !== 3) return fail(st, CBOR_MALFORMED, kp);
      let k = dec(buf, end, st, depth + 1) as string | undefined;
      if (k === undefined) return undefined;
      if (k === '__proto__') k = '__proto_';
      const v = dec(buf, end, st, depth + 1);
      if (v === undefined) return undefined;
      o[k] = v;
    }
    return o;
  }
  if (major === 7) {
    if (ai === 24 && n < 32) return fail(st, CBOR_MALFORMED, start);
    if (n === 20 || n === 21 || n === 22) {
      st.pos = p;
      return n === 22 ? null : n === 21;
    }
  }
  return fail(st, CBOR_UNSUPPORTED, start);
}

/** Decodes one item from buf[off..end); see the header for st. Never throws, never reads past end. */
export function cborDecode(buf: Uint8Array, off: number, end: number, st: CborState): unknown {
  st.err = CBOR_OK;
  if (!(end <= buf.length)) end = buf.length;
  if (!(off >= 0 && off <= end)) return fail(st, CBOR_TRUNCATED, off);
  st.pos = off;
  const v = dec(buf, end, st, 0);
  if (v === undefined) return undefined;
  if (st.exact && st.pos !== end) return fail(st, CBOR_TRAILING, st.pos);
  return v;
}

/**
 * Checks one item in buf[off..end) against every rule cborDecode applies (the same errors at the same
 * positions, st.exact and the limits included) without building it: the offset after it, or -1 with
 * st.err set. A bundle that names only this and cborEncode carries no decoder.
 */
export function cborSkip(buf: Uint8Array, off: number, end: number, st: CborState): number {
  st.err = CBOR_OK;
  if (!(end <= buf.length)) end = buf.length;
  if (!(off >= 0 && off <= end)) return fail(st, CBOR_TRUNCATED, off) || -1;
  st.pos = off;
  if (skip(buf, end, st, 0) && !(st.exact && st.pos !== end)) return st.pos;
  if (st.err === CBOR_OK) fail(st, CBOR_TRAILING, st.pos);
  return -1;
}

// decText's checks without the string (smaller than decText, which a bundle with cborSkip alone drops).
function utf8Ok(buf: Uint8Array, p: number, e: number): boolean {
  while (p < e) {
    let c = buf[p++];
    if (c < 0x80) continue;
    const need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    if (c < 0xc2 || c > 0xf4 || e - p < need) return false;
    c &= 0x3f >> need;
    for (let k = 0; k < need; k++) {
      const b = buf[p++];
      if ((b & 0xc0) !== 0x80) return false;
      c = (c << 6) | (b & 0x3f);
    }
    if (c < (need === 2 ? 0x800 : need === 3 ? 0x10000 : 0) || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) return false;
  }
  return true;
}

// dec() without the values: true when the item at st.pos is one dec() accepts (st.pos moved past it).
function skip(buf: Uint8Array, end: number, st: CborState, depth: number): boolean {
  const start = st.pos;
  let p = start;
  if (p >= end) return !!fail(st, CBOR_TRUNCATED, start);
  const ib = buf[p++];
  const major = ib >> 5;
  const ai = ib & 0x1f;
  let n = ai;
  if (ai >= 24) {
    if (ai >= 28) return !!fail(st, ai === 31 && major >= 2 && major <= 5 ? CBOR_UNSUPPORTED : CBOR_MALFORMED, start);
    const w = 1 << (ai - 24);
    if (end - p < w) return !!fail(st, CBOR_TRUNCATED, start);
    if (major === 7 && ai > 24) {
      st.pos = p + w; // a float of any width
      return true;
    }
    n = headArg(st, buf, p, w, major, start);
    if (n < 0) return false;
    p += w;
  }
  if (major < 2) {
    st.pos = p;
    return true;
  }
  if (major < 4) {
    if (n > st.maxLen || n > end - p) return !!fail(st, CBOR_TOO_LARGE, start);
    if (major === 3 && !utf8Ok(buf, p, p + n)) return !!fail(st, CBOR_MALFORMED, start);
    st.pos = p + n;
    return true;
  }
  if (major < 6) {
    if (depth >= st.maxDepth) return !!fail(st, CBOR_TOO_DEEP, start);
    if (n > st.maxLen || (major === 4 ? n : n * 2) > end - p) return !!fail(st, CBOR_TOO_LARGE, start);
    st.pos = p;
    for (let i = 0; i < n; i++) {
      if (major === 5) {
        const kp = st.pos;
        if (kp >= end) return !!fail(st, CBOR_TRUNCATED, kp);
        if (buf[kp] >> 5 !== 3) return !!fail(st, CBOR_MALFORMED, kp);
        if (!skip(buf, end, st, depth + 1)) return false;
      }
      if (!skip(buf, end, st, depth + 1)) return false;
    }
    return true;
  }
  if (major === 7) {
    if (ai === 24 && n < 32) return !!fail(st, CBOR_MALFORMED, start);
    if (n === 20 || n === 21 || n === 22) {
      st.pos = p;
      return true;
    }
  }
  return !!fail(st, CBOR_UNSUPPORTED, start);
}

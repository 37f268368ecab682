// Tests for firmware/codec/cbor.ts against RFC 8949 Appendix A and against cbor-x as configured in
// host/codec/cbor.ts: identical bytes from both encoders, cross decoding, and a decoder that rejects
// every malformed, truncated, too deep, too large or unsupported input with a code instead of throwing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  CBOR_MALFORMED, CBOR_MAX_DEPTH, CBOR_NO_ROOM, CBOR_OK, CBOR_TOO_DEEP, CBOR_TOO_LARGE, CBOR_TRAILING,
  CBOR_TRUNCATED, CBOR_UNSUPPORTED, cborDecode, cborEncode, cborSkip, cborState,
} from '../../../firmware/codec/cbor.ts';
import type { CborState } from '../../../firmware/codec/cbor.ts';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { below, xoshiro } from '../../../hal/prng.ts';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

const out = new Uint8Array(1 << 20);
/** Firmware encoding as a fresh array, or the (positive) error code. */
function fwEncode(v: unknown): Uint8Array | number {
  const e = cborEncode(v, out, 0);
  return e < 0 ? -e : out.slice(0, e);
}
function fwBytes(v: unknown): Uint8Array {
  const r = fwEncode(v);
  if (typeof r === 'number') throw new Error(`firmware encoder failed with ${r} on ${String(v)}`);
  return r;
}
function state(maxDepth = 32, maxLen = 1 << 20): CborState {
  return cborState(maxDepth, maxLen);
}
function decodeErr(h: string, st: CborState = state()): number {
  const b = unhex(h);
  const v = cborDecode(b, 0, b.length, st);
  assert.is(v === undefined, st.err !== CBOR_OK, `value and error disagree for ${h}`);
  return st.err;
}

// RFC 8949 Appendix A, the items inside the subset whose preferred encoding is also what cbor-x writes.
const both: Array<[unknown, string]> = [
  [0, '00'], [1, '01'], [10, '0a'], [23, '17'], [24, '1818'], [25, '1819'], [100, '1864'], [1000, '1903e8'],
  [1000000, '1a000f4240'], [-1, '20'], [-10, '29'], [-100, '3863'], [-1000, '3903e7'],
  [1.1, 'fb3ff199999999999a'], [1.0e300, 'fb7e37e43c8800759c'], [-4.1, 'fbc010666666666666'],
  [Infinity, 'fb7ff0000000000000'], [NaN, 'fb7ff8000000000000'], [-Infinity, 'fbfff0000000000000'],
  [false, 'f4'], [true, 'f5'], [null, 'f6'],
  [new Uint8Array(0), '40'], [new Uint8Array([1, 2, 3, 4]), '4401020304'],
  ['', '60'], ['a', '6161'], ['IETF', '6449455446'], ['"\\', '62225c'], ['\u00fc', '62c3bc'],
  ['\u6c34', '63e6b0b4'], ['\ud800\udd51', '64f0908591'],
  [[], '80'], [[1, 2, 3], '83010203'], [[1, [2, 3], [4, 5]], '8301820203820405'],
  [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  [{}, 'a0'], [{ a: 1, b: [2, 3] }, 'a26161016162820203'], [['a', { b: 'c' }], '826161a161626163'],
  [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
];
// Appendix A items the decoder takes but the encoder writes otherwise (as cbor-x does: float64, ints).
const decodeOnly: Array<[string, number]> = [
  ['1b000000e8d4a51000', 1000000000000], ['f90000', 0], ['f98000', -0], ['f93c00', 1], ['f93e00', 1.5],
  ['f97bff', 65504], ['fa47c35000', 100000], ['fa7f7fffff', 3.4028234663852886e38],
  ['f90001', 5.960464477539063e-8], ['f90400', 0.00006103515625], ['f9c400', -4], ['f97c00', Infinity],
  ['f97e00', NaN], ['f9fc00', -Infinity], ['fa7f800000', Infinity], ['fa7fc00000', NaN], ['faff800000', -Infinity],
];
// Appendix A items outside the subset.
const rejected: Array<[string, number]> = [
  ['1bffffffffffffffff', CBOR_UNSUPPORTED], ['3bffffffffffffffff', CBOR_UNSUPPORTED],
  ['c249010000000000000000', CBOR_UNSUPPORTED], ['c349010000000000000000', CBOR_UNSUPPORTED],
  ['f7', CBOR_UNSUPPORTED], ['f0', CBOR_UNSUPPORTED], ['f8ff', CBOR_UNSUPPORTED],
  ['c074323031332d30332d32315432303a30343a30305a', CBOR_UNSUPPORTED], ['c11a514b67b0', CBOR_UNSUPPORTED],
  ['c1fb41d452d9ec200000', CBOR_UNSUPPORTED], ['d74401020304', CBOR_UNSUPPORTED], ['d818456449455446', CBOR_UNSUPPORTED],
  ['d82076687474703a2f2f7777772e6578616d706c652e636f6d', CBOR_UNSUPPORTED],
  ['a201020304', CBOR_MALFORMED],
  ['5f42010243030405ff', CBOR_UNSUPPORTED], ['7f657374726561646d696e67ff', CBOR_UNSUPPORTED], ['9fff', CBOR_UNSUPPORTED],
  ['9f018202039f0405ffff', CBOR_UNSUPPORTED], ['9f01820203820405ff', CBOR_UNSUPPORTED],
  ['83018202039f0405ff', CBOR_UNSUPPORTED], ['83019f0203ff820405', CBOR_UNSUPPORTED],
  ['9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff', CBOR_UNSUPPORTED],
  ['bf61610161629f0203ffff', CBOR_UNSUPPORTED], ['826161bf61626163ff', CBOR_UNSUPPORTED],
  ['bf6346756ef563416d7421ff', CBOR_UNSUPPORTED],
];

test('RFC 8949 Appendix A: encoded by both encoders, decoded by both decoders', () => {
  for (const [value, h] of both) {
    assert.is(hex(fwBytes(value)), h, `firmware encoding of ${h}`);
    assert.is(hex(hostEncode(value)), h, `cbor-x encoding of ${h}`);
    const st = state();
    const b = unhex(h);
    assert.equal(cborDecode(b, 0, b.length, st), value, `firmware decoding of ${h}`);
    assert.is(st.err, CBOR_OK);
    assert.is(st.pos, b.length);
    assert.equal(hostDecode(b), value, `cbor-x decoding of ${h}`);
  }
});

test('RFC 8949 Appendix A: half, single and 64-bit integer forms decode like cbor-x', () => {
  for (const [h, value] of decodeOnly) {
    const b = unhex(h);
    const st = state();
    const v = cborDecode(b, 0, b.length, st);
    assert.is(st.err, CBOR_OK, h);
    assert.ok(Object.is(v, value), `${h} decoded to ${String(v)}, expected ${value}`);
    assert.ok(Object.is(hostDecode(b), value), `cbor-x disagrees on ${h}`);
  }
});

test('RFC 8949 Appendix A: items outside the subset are rejected with their code', () => {
  for (const [h, code] of rejected) assert.is(decodeErr(h), code, h);
});

test('encoder follows cbor-x where it departs from preferred serialization', () => {
  const cases: Array<[unknown, string]> = [
    [-0, '00'], // cbor-x's `v >>> 0 === v` is true for -0
    [0x100000000, 'fb41f0000000000000'], // no 64-bit integer heads for numbers
    [1000000000000, 'fb426d1a94a2000000'],
    [-0x100000000, '3affffffff'], // the most negative 32-bit-argument integer
    [-0x100000001, 'fbc1f0000000100000'],
    [0.5, 'fb3fe0000000000000'], // float64, never float16/32
    [2 ** 53, 'fb4340000000000000'],
  ];
  for (const [v, h] of cases) {
    assert.is(hex(hostEncode(v)), h, `cbor-x on ${String(v)}`);
    assert.is(hex(fwBytes(v)), h, `firmware on ${String(v)}`);
  }
  // Integer boundaries of every head width, both signs.
  for (const base of [23, 24, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0xffffffff, 0x100000000]) {
    for (const v of [base - 1, base, base + 1, -base - 1, -base, -base + 1]) {
      assert.is(hex(fwBytes(v)), hex(hostEncode(v)), `integer ${v}`);
    }
  }
});

test('non-shortest heads, 64-bit integers up to 2^53 and offsets decode', () => {
  const ok: Array<[string, unknown]> = [
    ['1800', 0], ['190017', 23], ['1a00000017', 23], ['1b0000000000000017', 23], ['3b0000000000000017', -24],
    ['1b001fffffffffffff', 2 ** 53 - 1], ['1b0020000000000000', 2 ** 53], ['3b001fffffffffffff', -(2 ** 53)],
    ['1b00000001ffffffff', 0x1ffffffff], ['5800', new Uint8Array(0)], ['780161', 'a'], ['9800', []], ['b800', {}],
  ];
  for (const [h, value] of ok) {
    const b = unhex(h);
    const st = state();
    assert.equal(cborDecode(b, 0, b.length, st), value, h);
    assert.is(st.err, CBOR_OK, h);
  }
  assert.is(decodeErr('1b0020000000000001'), CBOR_UNSUPPORTED);
  assert.is(decodeErr('3b0020000000000000'), CBOR_UNSUPPORTED);
  assert.is(decodeErr('1b0100000000000000'), CBOR_UNSUPPORTED);
  // An item in the middle of a larger buffer: only [off, end) is read.
  const b = unhex('ff' + '83010203' + '18');
  const st = state();
  assert.equal(cborDecode(b, 1, 5, st), [1, 2, 3]);
  assert.is(st.pos, 5);
});

// Values of the subset: nested arrays and maps of numbers, strings, bytes, booleans and null.
const intEdges = [0, 23, 24, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53];
const numberArb = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.integer(),
  fc.constantFrom(...intEdges.flatMap((v) => [v, -v, v + 1, -v - 1])),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.1, -1.5, 1e300, 5e-324),
);
const stringArb = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // every code point, pairs included, no lone surrogates
  fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }), // cbor-x's other string path (>= 64 units)
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);
const keyArb = stringArb.filter((k) => k !== '__proto__' && k !== '__proto_');
const leafArb = fc.oneof(
  numberArb, stringArb, fc.boolean(), fc.constant(null),
  fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 250, maxLength: 300 }),
);
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 6, depthIdentifier: 'v' }, leafArb, tie('array'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 30, depthIdentifier: 'v' }),
  map: fc.dictionary(keyArb, tie('value'), { maxKeys: 8, noNullPrototype: true, depthIdentifier: 'v' }),
}));

test('property: both encoders write identical bytes; each decoder reads the other encoder', () => {
  const st = state();
  fc.assert(
    fc.property(valueArb, (v) => {
      const fw = fwBytes(v);
      const cx = hostEncode(v);
      assert.is(hex(fw), hex(cx));
      // firmware decodes cbor-x's bytes, cbor-x decodes the firmware's
      assert.equal(cborDecode(cx, 0, cx.length, st), v);
      assert.is(st.err, CBOR_OK);
      assert.is(st.pos, cx.length);
      assert.equal(hostDecode(fw), v);
    }),
    { seed: 42, numRuns: 5000 },
  );
});

test('every truncation of the Appendix A items fails, also when the bytes past end are there', () => {
  const st = state();
  for (const h of [...both.map((x) => x[1]), ...decodeOnly.map((x) => x[0])]) {
    const b = unhex(h);
    for (let k = 0; k < b.length; k++) {
      assert.is(cborDecode(b.slice(0, k), 0, k, st), undefined, `${h} cut to ${k}`);
      assert.ok(st.err === CBOR_TRUNCATED || st.err === CBOR_TOO_LARGE, `${h} cut to ${k}: err ${st.err}`);
      assert.is(cborDecode(b, 0, k, st), undefined, `${h} ended at ${k}`);
      assert.ok(st.err === CBOR_TRUNCATED || st.err === CBOR_TOO_LARGE, `${h} ended at ${k}: err ${st.err}`);
    }
  }
});

test('hostEncode results stay intact across later calls', () => {
  const first = hostEncode({ keep: 'me', n: [1, 2, 3] });
  const copy = hex(first);
  for (let i = 0; i < 5000; i++) hostEncode({ other: 'x'.repeat(i % 300), i });
  assert.is(hex(first), copy);
  assert.is(first.constructor, Uint8Array);
});

test('property: every truncation fails without reading past end', () => {
  const st = state();
  fc.assert(
    fc.property(valueArb, (v) => {
      const b = fwBytes(v);
      // Decode prefixes inside the full buffer: reading past `end` would find the real bytes and succeed.
      // Every prefix of short encodings; every prefix of the first and last 150 bytes, then a stride.
      const step = Math.max(1, Math.floor(b.length / 300));
      for (let k = 0; k < b.length; k += k < 150 || k >= b.length - 150 ? 1 : step) {
        const r = cborDecode(b, 0, k, st);
        const bad = r !== undefined || (st.err !== CBOR_TRUNCATED && st.err !== CBOR_TOO_LARGE) || st.pos < 0 || st.pos > k;
        if (bad) assert.unreachable(`prefix ${k}/${b.length} of ${hex(b)}: err ${st.err}, pos ${st.pos}`);
      }
    }),
    { seed: 7, numRuns: 1500 },
  );
});

test('property: encoder reports NO_ROOM for every buffer too small, and honours off', () => {
  fc.assert(
    fc.property(valueArb, fc.nat(8), (v, off) => {
      const b = fwBytes(v);
      const n = b.length;
      const sizes = n <= 40 ? Array.from({ length: n }, (_, i) => i) : [0, 1, n >> 1, n - 9, n - 2, n - 1];
      for (const s of sizes) {
        const backing = new Uint8Array(off + s + 4).fill(0xee);
        const small = backing.subarray(0, off + s);
        assert.is(cborEncode(v, small, off), -CBOR_NO_ROOM, `size ${s} of ${n}`);
        for (let i = 0; i < off; i++) assert.is(backing[i], 0xee, 'bytes before off untouched');
        for (let i = off + s; i < backing.length; i++) assert.is(backing[i], 0xee, 'bytes past the buffer untouched');
      }
      const exact = new Uint8Array(off + n);
      assert.is(cborEncode(v, exact, off), off + n);
      assert.is(hex(exact.subarray(off)), hex(b));
    }),
    { seed: 11, numRuns: 1000 },
  );
});

test('reserved additional info 28-30, stray breaks and bad simple values are malformed', () => {
  for (let major = 0; major < 8; major++) {
    for (const ai of [28, 29, 30]) {
      const h = ((major << 5) | ai).toString(16).padStart(2, '0');
      assert.is(decodeErr(h + '0000000000000000'), CBOR_MALFORMED, h);
      assert.is(decodeErr('81' + h), CBOR_MALFORMED, `nested ${h}`);
    }
  }
  for (const h of ['ff', '81ff', 'a16161ff', '1f', '3f', 'df']) assert.is(decodeErr(h), CBOR_MALFORMED, h);
  for (const h of ['5f', '7f', '9f', 'bf']) assert.is(decodeErr(h), CBOR_UNSUPPORTED, h);
  for (let s = 0; s < 32; s++) assert.is(decodeErr('f8' + s.toString(16).padStart(2, '0')), CBOR_MALFORMED, `f8 ${s}`);
  assert.is(decodeErr('f820'), CBOR_UNSUPPORTED);
  for (let s = 0; s < 20; s++) assert.is(decodeErr((0xe0 + s).toString(16)), CBOR_UNSUPPORTED, `simple ${s}`);
});

test('map keys must be text strings; text must be valid UTF-8', () => {
  for (const h of ['a10102', 'a1410102', 'a1f601', 'a1800102', 'a1a00102', 'a1fb000000000000000001']) {
    assert.is(decodeErr(h), CBOR_MALFORMED, h);
  }
  // lone continuation, overlong, encoded surrogate, beyond U+10FFFF, cut sequence, bad lead, bad follower
  for (const h of ['6180', '62c0af', '63e08080', '63eda080', '64f4908080', '64f8888080', '61c3', '62e6b0', '62c328', '61ff']) {
    assert.is(decodeErr(h), CBOR_MALFORMED, h);
  }
  // The largest code point, and the last before the surrogates, are fine.
  const st = state();
  const b = unhex('64f48fbfbf63ed9fbf');
  assert.is(cborDecode(b, 0, 5, st), '\u{10ffff}');
  assert.is(cborDecode(b, 5, 9, st), '\ud7ff');
});

test('nesting beyond maxDepth is too deep, on both sides', () => {
  const nest = (d: number): string => '81'.repeat(d) + '00';
  assert.is(decodeErr(nest(4), state(4)), CBOR_OK);
  assert.is(decodeErr(nest(5), state(4)), CBOR_TOO_DEEP);
  assert.is(decodeErr('a16161' + 'a16161'.repeat(3) + '00', state(4)), CBOR_OK);
  assert.is(decodeErr('a16161' + 'a16161'.repeat(4) + '00', state(4)), CBOR_TOO_DEEP);
  assert.is(decodeErr(nest(100000), state(CBOR_MAX_DEPTH)), CBOR_TOO_DEEP); // no stack overflow
  let v: unknown = 0;
  for (let i = 0; i < CBOR_MAX_DEPTH; i++) v = [v];
  assert.ok(typeof fwEncode(v) !== 'number');
  assert.is(fwEncode([v]), CBOR_TOO_DEEP);
  assert.is(fwEncode({ a: v }), CBOR_TOO_DEEP);
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.is(fwEncode(cyclic), CBOR_TOO_DEEP);
  const cyclicObj: Record<string, unknown> = {};
  cyclicObj.self = cyclicObj;
  assert.is(fwEncode(cyclicObj), CBOR_TOO_DEEP);
});

test('declared lengths beyond the input or beyond maxLen are too large', () => {
  // 5 bytes that declare 4 GB: rejected before any allocation
  for (const h of ['5affffffff', '7affffffff', '9affffffff', 'baffffffff',
    '5b0000000100000000', '7bffffffffffffffff', '9b00000000ffffffff', 'bb0000000000001000']) {
    assert.is(decodeErr(h), CBOR_TOO_LARGE, h);
  }
  assert.is(decodeErr('dbffffffffffffffff00'), CBOR_UNSUPPORTED); // a 64-bit tag
  const st = state(8, 4);
  assert.is(decodeErr('440102030401', st), CBOR_TRAILING); // 4 is allowed
  assert.is(decodeErr('450102030405', st), CBOR_TOO_LARGE);
  assert.is(decodeErr('656162636465', st), CBOR_TOO_LARGE);
  assert.is(decodeErr('850102030405', st), CBOR_TOO_LARGE);
  assert.is(decodeErr('a5' + '616100'.repeat(5), st), CBOR_TOO_LARGE);
  assert.is(decodeErr('a36161006162'), CBOR_TOO_LARGE); // 3 entries need at least 6 bytes, 5 are left
});

test('truncated heads are truncated', () => {
  for (const h of ['', '18', '19ff', '1affffff', '1bffffffffffffff', '38', '58', '7900', '9a000000', 'b8', 'f9ff', 'faffffff', 'fbffffffffffffff', 'f8', 'd8']) {
    assert.is(decodeErr(h), CBOR_TRUNCATED, h || '(empty)');
  }
  assert.is(decodeErr('a16161'), CBOR_TRUNCATED); // value missing
  assert.is(decodeErr('a1'), CBOR_TOO_LARGE); // count beyond what is left
  const st = state();
  const b = unhex('01');
  assert.is(cborDecode(b, 2, 1, st), undefined); // off past end
  assert.is(st.err, CBOR_TRUNCATED);
  assert.is(cborDecode(b, 0, 99, st), 1); // end clamped to the buffer
});

test('trailing bytes: an error when exact, the next offset otherwise', () => {
  const st = state();
  assert.is(decodeErr('0000', st), CBOR_TRAILING);
  assert.is(st.pos, 1);
  st.exact = false;
  const b = unhex('01820203f6');
  const items: unknown[] = [];
  let p = 0;
  while (p < b.length) {
    items.push(cborDecode(b, p, b.length, st));
    assert.is(st.err, CBOR_OK);
    p = st.pos;
  }
  assert.equal(items, [1, [2, 3], null]);
});

test('byte strings are views unless copy is set', () => {
  const b = unhex('820142aabb');
  const st = state();
  const view = cborDecode(b, 0, b.length, st) as [number, Uint8Array];
  b[3] = 0x11;
  assert.is(view[1][0], 0x11);
  st.copy = true;
  const copy = cborDecode(b, 0, b.length, st) as [number, Uint8Array];
  b[3] = 0x22;
  assert.is(copy[1][0], 0x11);
  assert.is(copy[1].length, 2);
});

test('the "__proto__" key never changes a prototype, and both sides agree', () => {
  const polluting = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
  assert.ok(Object.keys(polluting).includes('__proto__'));
  const fw = fwBytes(polluting);
  assert.is(hex(fw), hex(hostEncode(polluting)));
  const st = state();
  const d = cborDecode(fw, 0, fw.length, st) as Record<string, unknown>;
  assert.is(st.err, CBOR_OK);
  assert.is(Object.getPrototypeOf(d), Object.prototype);
  assert.is((d as { polluted?: unknown }).polluted, undefined);
  assert.is(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal(Object.keys(d), ['__proto_', 'a']);
  assert.equal(d.__proto_, { polluted: true });
  assert.equal(hostDecode(fw), d);
  // Keys that merely name Object.prototype members are ordinary keys.
  const names = { constructor: 1, hasOwnProperty: 2, toString: [3] };
  const nb = fwBytes(names);
  const back = cborDecode(nb, 0, nb.length, st) as Record<string, unknown>;
  assert.equal(back, names);
  assert.is(hex(fwBytes(back)), hex(nb));
});

test('values outside the subset are refused by the encoder', () => {
  class Point { x = 1; }
  const refused: unknown[] = [
    undefined, () => 1, Symbol('s'), 10n, new Map(), new Set(), new Date(0), new Point(), new Uint16Array(2),
    new Uint8ClampedArray(2), new ArrayBuffer(2), new DataView(new ArrayBuffer(2)), [undefined], [1, , 2],
    { a: undefined }, { a: [1, { b: () => 0 }] },
    '\ud800', '\udc00', 'a\ud800b', 'x\ud800', '\udc00\ud800', { ['\ud800']: 1 },
  ];
  for (const v of refused) assert.is(fwEncode(v), CBOR_UNSUPPORTED, String(typeof v));
  // What is accepted beyond literals: null-prototype objects, Buffers, offset views; same bytes as cbor-x.
  const np = Object.create(null) as Record<string, unknown>;
  np.k = 'v';
  const backing = new Uint8Array([9, 8, 7, 6, 5, 4]);
  for (const v of [np, Buffer.from([1, 2, 3]), backing.subarray(2, 5), { big: new Uint8Array(70000) }, 'é'.repeat(40000)]) {
    assert.is(hex(fwBytes(v)), hex(hostEncode(v)));
  }
});

/**
 * A fuzz input written to buf, its length returned: on odd runs up to 23 random bytes; on even runs a
 * seed with minFlips to minFlips + 2 mutations (a bit flipped, a byte replaced, the input cut short, or
 * a byte from special: head bytes that reach the decoder's rarer rules).
 */
function fuzzInput(rng: ReturnType<typeof xoshiro>, seeds: Uint8Array[], buf: Uint8Array, run: number, minFlips: number, special: number[]): number {
  let n: number;
  if (run & 1) {
    n = below(rng, 24);
    for (let i = 0; i < n; i++) buf[i] = rng.u32() & 0xff;
    return n;
  }
  const s = seeds[below(rng, seeds.length)];
  buf.set(s);
  n = s.length;
  for (let f = 0, flips = minFlips + below(rng, 3); f < flips && n > 0; f++) {
    const what = below(rng, 4);
    const at = below(rng, n);
    if (what === 0) buf[at] ^= 1 << below(rng, 8);
    else if (what === 1) buf[at] = rng.u32() & 0xff;
    else if (what === 2) n = at;
    else buf[at] = special[below(rng, special.length)];
  }
  return n;
}

test('fuzz: 100 000 random and mutated inputs never throw and agree with cbor-x when accepted', () => {
  const rng = xoshiro(2024);
  const seeds = fc.sample(valueArb, { seed: 5, numRuns: 300 }).map((v) => fwBytes(v)).filter((b) => b.length < 400);
  const st = state(CBOR_MAX_DEPTH, 4096);
  const buf = new Uint8Array(512);
  let accepted = 0;
  const counts = new Array<number>(8).fill(0);
  for (let run = 0; run < 100000; run++) {
    const n = fuzzInput(rng, seeds, buf, run, 1, [0x1c, 0x5f, 0xff, 0xf7, 0xc0, 0x1b, 0x9a, 0xa1]);
    const input = buf.slice(0, n);
    const v = cborDecode(input, 0, n, st);
    assert.ok(st.err >= CBOR_OK && st.err <= CBOR_TRAILING, `err ${st.err}`);
    assert.is(v === undefined, st.err !== CBOR_OK);
    assert.ok(st.pos >= 0 && st.pos <= n);
    counts[st.err]++;
    if (st.err === CBOR_OK) {
      accepted++;
      assert.is(st.pos, n);
      // cbor-x accepts everything the firmware accepts, with the same meaning...
      assert.equal(hostDecode(input), v, hex(input));
      // ...and a decoded value always re-encodes, to cbor-x's bytes.
      assert.is(hex(fwBytes(v)), hex(hostEncode(v)), hex(input));
    }
  }
  // The mutations must reach both the accepting paths and every error class (a check on the fuzzer).
  assert.ok(accepted > 1000, `only ${accepted} accepted`);
  for (const code of [CBOR_TRUNCATED, CBOR_MALFORMED, CBOR_TOO_LARGE, CBOR_UNSUPPORTED, CBOR_TRAILING]) {
    assert.ok(counts[code] > 100, `error ${code} seen ${counts[code]} times`);
  }
});

test('fuzz: cborSkip accepts and rejects exactly what cborDecode does, with the same code and offset', () => {
  const rng = xoshiro(77);
  const seeds = fc.sample(valueArb, { seed: 9, numRuns: 300 }).map((v) => fwBytes(v)).filter((b) => b.length < 400);
  const buf = new Uint8Array(512);
  const agreed = new Array<number>(8).fill(0);
  for (let run = 0; run < 40000; run++) {
    // Limits and exactness vary, so that every rule of the decoder is met by the skipper too.
    const a = state(1 + below(rng, CBOR_MAX_DEPTH), run % 3 === 0 ? 1 + below(rng, 8) : 4096);
    const b = state(a.maxDepth, a.maxLen);
    a.exact = b.exact = (run & 2) === 0;
    const n = fuzzInput(rng, seeds, buf, run, 0, [0x1c, 0x5f, 0xff, 0xf7, 0xc0, 0x1b, 0x9a, 0xa1, 0xed, 0xf8, 0x1f]);
    const off = n > 0 && run % 5 === 0 ? below(rng, n) : 0;
    const input = buf.slice(0, n);
    cborDecode(input, off, n, a);
    const end = cborSkip(input, off, n, b);
    assert.is(b.err, a.err, hex(input));
    assert.is(b.pos, a.pos, hex(input));
    assert.is(end, a.err === CBOR_OK ? a.pos : -1, hex(input));
    agreed[a.err]++;
  }
  for (const code of [CBOR_OK, CBOR_TRUNCATED, CBOR_MALFORMED, CBOR_TOO_DEEP, CBOR_TOO_LARGE, CBOR_UNSUPPORTED, CBOR_TRAILING]) {
    assert.ok(agreed[code] > 50, `outcome ${code} met ${agreed[code]} times`);
  }
});

test('cborSkip checks UTF-8 as cborDecode does: every 1- and 2-byte text, and 3- and 4-byte texts at random', () => {
  const a = state();
  const b = state();
  const buf = new Uint8Array(5);
  const rng = xoshiro(11);
  let bad = 0;
  for (let run = 0; run < 65536 + 300000; run++) {
    const n = run < 256 ? 1 : run < 65536 ? 2 : 3 + (run & 1);
    buf[0] = 0x60 | n;
    if (run < 65536) {
      buf[1] = run & 0xff;
      buf[2] = run >> 8;
    } else {
      // Lead bytes of 3- and 4-byte forms, then bytes near the continuation range.
      buf[1] = 0xe0 + below(rng, 0x20);
      for (let i = 2; i <= n; i++) buf[i] = below(rng, 4) === 0 ? rng.u32() & 0xff : 0x80 + below(rng, 0x40);
    }
    cborDecode(buf, 0, n + 1, a);
    assert.is(cborSkip(buf, 0, n + 1, b), a.err === CBOR_OK ? n + 1 : -1, hex(buf.subarray(0, n + 1)));
    assert.is(b.err, a.err);
    if (a.err !== CBOR_OK) bad++;
  }
  assert.ok(bad > 100000 && bad < 300000, `${bad} refused`);
});

test.run();

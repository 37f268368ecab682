// The host endpoint's codec (host/rr/codec.ts: the firmware CBOR codec first, cbor-x for the rest)
// against cbor-x alone (hostRrCodec): the same bytes for every value, the same outcome and the same
// value (prototypes, -0 and NaN included) for every input, inside the firmware subset and outside it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { cborState } from '../../../firmware/codec/cbor.ts';
import { hostEncode, hostRrCodec } from '../../../host/codec/cbor.ts';
import { fastRrCodec } from '../../../host/rr/codec.ts';

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function encodeBoth(v: unknown, size = 1200, off = 8): void {
  const a = new Uint8Array(size);
  const b = new Uint8Array(size);
  const na = fastRrCodec.encode(v, a, off);
  const nb = hostRrCodec.encode(v, b, off);
  assert.is(na < 0, nb < 0, 'both encode, or both refuse');
  if (nb >= 0) {
    assert.is(na, nb);
    assert.is(hex(a.subarray(off, na)), hex(b.subarray(off, nb)));
  }
}

/** Dates as their time values (an invalid Date is not deep-equal to another one); containers kept. */
function dates(v: unknown): unknown {
  if (v instanceof Date) return ['date', v.getTime()];
  if (Array.isArray(v)) return v.map(dates);
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
  const o = Object.create(Object.getPrototypeOf(v)) as Record<string, unknown>;
  for (const k of Object.keys(v)) o[k] = dates((v as Record<string, unknown>)[k]);
  return o;
}

function decodeBoth(bytes: Uint8Array): unknown {
  const buf = new Uint8Array(bytes.length + 6);
  buf.set(bytes, 3); // not at the start of the buffer, and bytes after the end
  buf.fill(0x18, 3 + bytes.length);
  const sa = cborState(8, 1200);
  const sb = cborState(8, 1200);
  sa.err = 99;
  const va = fastRrCodec.decode(buf, 3, 3 + bytes.length, sa);
  const vb = hostRrCodec.decode(buf, 3, 3 + bytes.length, sb);
  assert.is(sa.err === 0, sb.err === 0, `outcome for ${hex(bytes)}`);
  if (sb.err !== 0) assert.ok(sa.err !== 0);
  if (!isDeepStrictEqual(dates(va), dates(vb))) assert.unreachable(`${hex(bytes)}: the value differs from cbor-x's`);
  return va;
}

class Point {
  constructor(public x: number, public y: number) {}
}

// Inside and outside the firmware subset: undefined, Dates, Maps, class instances, sparse arrays,
// lone surrogates, BigInts, other typed arrays, integers past 2^53, deep nesting.
const anyArb = fc.anything({
  maxDepth: 4, withBigInt: true, withBoxedValues: false, withDate: true, withMap: true, withSet: false,
  withNullPrototype: true, withObjectString: true, withTypedArray: true, withSparseArray: true, withUnicodeString: true,
});

test('property: the same bytes as cbor-x for any value, or both refuse it', () => {
  fc.assert(fc.property(anyArb, (v) => encodeBoth(v)), { seed: 5, numRuns: 3000 });
});

test('the same bytes at the edges: out of the subset, too large, lone surrogates, deep nesting', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 20; i++) deep = [deep];
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const values: unknown[] = [
    { t: 215, h: 48, mv: 2950 }, undefined, null, -0, NaN, 2 ** 32, -(2 ** 32) - 1, 2 ** 53 + 2, 0.1, '\ud800x', 'é'.repeat(70),
    new Date(0), new Map([[1, 2]]), new Point(1, 2), [1, , 3], new Uint16Array(2), Buffer.from([1, 2]), deep,
    { [Symbol('s')]: 1, a: 1 }, 'x'.repeat(2000),
  ];
  for (const v of values) encodeBoth(v);
  encodeBoth({ t: 215, h: 48, mv: 2950 }, 20, 8); // the frame has no room: both refuse
  assert.is(fastRrCodec.encode(cyclic, new Uint8Array(100), 0) < 0, true, 'a cycle is refused, not a stack overflow');
});

test('property: the same value as cbor-x from bytes cbor-x wrote, and from those bytes mutated', () => {
  fc.assert(
    fc.property(anyArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
      let bytes: Uint8Array;
      try {
        bytes = hostEncode(v);
      } catch {
        return;
      }
      decodeBoth(bytes);
      if (bytes.length > 0) {
        const m = bytes.slice();
        m[at % m.length] = byte;
        decodeBoth(m);
        decodeBoth(bytes.subarray(0, at % bytes.length)); // truncated
      }
    }),
    { seed: 9, numRuns: 3000 },
  );
});

test('property: the same outcome as cbor-x on arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 24 }), (b) => { decodeBoth(b); }), { seed: 3, numRuns: 20000 });
});

test('decoded values: byte strings are Uint8Array copies, tags and undefined still decode, __proto__ is inert', () => {
  const r = decodeBoth(hostEncode({ b: new Uint8Array([1, 2, 3]), s: 'héllo', l: [1, -2, 3.5, null, true] })) as { b: Uint8Array };
  assert.is(Object.getPrototypeOf(r.b), Uint8Array.prototype);
  assert.equal(decodeBoth(Buffer.from('a1015f', 'hex')), undefined, 'integer key with bad value: both fail'); // both refuse
  assert.equal(decodeBoth(Buffer.from('a10102', 'hex')), { 1: 2 }, "integer keys: cbor-x's string keys");
  assert.is(decodeBoth(Buffer.from('f7', 'hex')), undefined);
  assert.ok(decodeBoth(Buffer.from('c11a514b67b0', 'hex')) instanceof Date, 'tag 1 is a Date, as before');
  const p = decodeBoth(Buffer.from('a1695f5f70726f746f5f5fa0', 'hex')) as object;
  assert.is(Object.getPrototypeOf(p), Object.prototype);
  assert.equal(Object.keys(p), ['__proto_']);
  assert.is(decodeBoth(Buffer.from('0102', 'hex')), undefined, 'trailing bytes fail in both');
});

test.run();

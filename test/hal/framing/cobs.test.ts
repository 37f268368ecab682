import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodedMax, frameDecoder, frameEncode } from '../../../hal/framing/cobs.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function encode(p: Uint8Array): Uint8Array {
  const out = new Uint8Array(encodedMax(p.length));
  const n = frameEncode(p, p.length, out);
  if (n === 0 || n > out.length) throw new Error(`encode wrote ${n} bytes into ${out.length}`);
  return out.slice(0, n);
}

function collect(max: number) {
  const got: string[] = [];
  const dec = frameDecoder(max, (f, len) => got.push(toHex(f.subarray(0, len))));
  return { got, dec };
}

// Golden bytes: 0x00 | COBS(payload | CRC-16/X-25 low byte first) | 0x00 (computed independently).
const golden: [string, string][] = [
  ['11220033', '0003112204335f9600'],
  ['00', '00010378f000'],
  ['010203', '00060102033b9d00'],
];

test('golden bytes: encode', () => {
  for (const [p, e] of golden) assert.is(toHex(encode(hex(p))), e, `payload ${p}`);
});

test('golden bytes: decode', () => {
  for (const [p, e] of golden) {
    const { got, dec } = collect(64);
    dec.push(hex(e), e.length / 2);
    assert.equal(got, [p]);
  }
});

test('a 300-byte run without zeros spans two COBS blocks', () => {
  const p = new Uint8Array(300).fill(1);
  const e = encode(p);
  assert.is(e.length, 306);
  assert.is(e[1], 0xff); // first block: 254 data bytes
  assert.ok(e.length <= encodedMax(300));
  const { got, dec } = collect(300);
  dec.push(e, e.length);
  assert.equal(got, [toHex(p)]);
});

test('an empty frame (valid CRC of nothing) is line noise, not a frame', () => {
  const { got, dec } = collect(16);
  dec.push(hex('0001010100'), 5);
  assert.equal(got, []);
  assert.is(dec.stats.malformed, 1);
});

test('encodedMax is exact where payload + FCS is a multiple of 254 (the encoder ends with code 0x01)', () => {
  for (const len of [251, 252, 253, 505, 506, 507, 760]) {
    const p = new Uint8Array(len).fill(0x41);
    const out = new Uint8Array(encodedMax(len) + 8).fill(0xee);
    const n = frameEncode(p, len, out);
    const fcs = out.subarray(0, n);
    // worst case (no zeros anywhere, FCS included) must fill encodedMax exactly or less
    assert.ok(n <= encodedMax(len), `len ${len}: wrote ${n} > encodedMax ${encodedMax(len)}`);
    assert.is(out[n - 1], 0, 'ends with a delimiter');
    assert.is(out[n], 0xee, 'nothing written past the returned length');
    const { got, dec } = collect(len);
    dec.push(fcs, n);
    assert.equal(got, [toHex(p)], `len ${len}`);
  }
  // 252 bytes + 2 FCS = 254 = one full block, then the closing code 0x01: 1 + 1 + 254 + 1 + 1 = 258
  assert.is(encodedMax(252), 258);
});

test('encode refuses an output buffer that is too small', () => {
  assert.is(frameEncode(new Uint8Array(10), 10, new Uint8Array(12)), 0);
});

test('frames split across every chunk boundary decode the same', () => {
  const frames = [hex('00'), hex('0102030000ff'), new Uint8Array(260).map((_, i) => i & 0xff)];
  const stream = Buffer.concat(frames.map(encode));
  for (let cut = 1; cut < 40; cut++) {
    const { got, dec } = collect(300);
    for (let i = 0; i < stream.length; i += cut) {
      const chunk = stream.subarray(i, i + cut);
      dec.push(chunk, chunk.length);
    }
    assert.equal(got, frames.map(toHex), `chunk size ${cut}`);
  }
});

test('bad CRC is rejected and counted; the next frame still decodes', () => {
  const a = encode(hex('a1a2a3'));
  a[3] ^= 0x10;
  const b = encode(hex('b1b2'));
  const { got, dec } = collect(16);
  dec.push(a, a.length);
  dec.push(b, b.length);
  assert.equal(got, ['b1b2']);
  assert.is(dec.stats.crcErrors, 1);
  assert.is(dec.stats.frames, 1);
});

test('an oversized frame is dropped whole, then decoding resumes', () => {
  const big = encode(new Uint8Array(40).fill(7));
  const ok = encode(hex('0102'));
  const { got, dec } = collect(32);
  dec.push(big, big.length);
  dec.push(ok, ok.length);
  assert.equal(got, ['0102']);
  assert.is(dec.stats.oversized, 1);
});

test('exactly maxLen is accepted, maxLen + 1 is not', () => {
  for (const n of [31, 32, 33]) {
    const { got, dec } = collect(32);
    const e = encode(new Uint8Array(n).fill(0x55));
    dec.push(e, e.length);
    assert.is(got.length, n <= 32 ? 1 : 0, `len ${n}`);
  }
});

test('a block cut short by a delimiter is malformed, not a frame', () => {
  const { got, dec } = collect(32);
  dec.push(hex('0005010200'), 5);
  assert.equal(got, []);
  assert.is(dec.stats.malformed, 1);
});

test('property: random garbage between frames never loses a frame that follows a delimiter', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          garbage: fc.uint8Array({ maxLength: 40 }),
          payload: fc.uint8Array({ minLength: 1, maxLength: 64 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      fc.integer({ min: 1, max: 17 }),
      (items, cut) => {
        const parts: Uint8Array[] = [];
        for (const it of items) parts.push(it.garbage, encode(it.payload));
        const stream = Buffer.concat(parts);
        const { got, dec } = collect(64);
        for (let i = 0; i < stream.length; i += cut) {
          const c = stream.subarray(i, i + cut);
          dec.push(c, c.length);
        }
        // Every real frame arrives, in order; garbage may yield a false frame only if it happens to
        // carry a valid CRC-16 (1 in 65536 per garbage frame): any extra must sit between real ones.
        const want = items.map((it) => toHex(it.payload));
        let k = 0;
        for (const g of got) if (k < want.length && g === want[k]) k++;
        return k === want.length && got.length - want.length <= items.length;
      },
    ),
    { seed: 20261124, numRuns: 3000 },
  );
});

test('property: 200 000 random bytes never throw, are counted as errors, and almost never pass the CRC', () => {
  let x = 12345;
  const garbage = new Uint8Array(200000).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
  const { dec } = collect(64);
  dec.push(garbage, garbage.length);
  const s = dec.stats;
  assert.ok(s.crcErrors + s.malformed + s.oversized > 100);
  assert.ok(s.frames < 5, `too many false frames: ${s.frames}`);
});

test.run();

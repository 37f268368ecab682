// Tests for the CSMA/CA frame formats (firmware/mac/csma/frame.ts): golden bytes for every frame type,
// natural and padded to 802.11's lengths, worked out by hand from the field table in frame.ts; patchData;
// malformed input; and 100 000 random byte arrays through the parser.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CsmaFrame } from '../../../../firmware/mac/csma/frame.ts';
import {
  FT_ACK, FT_CTS, emitCtl, emitDataHdr, emitRts, parseCsma, patchData,
} from '../../../../firmware/mac/csma/frame.ts';

// ---------- helpers written for the test, independent of the code under test ----------

/** `n` zero bytes: the padding the field table prescribes. */
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

function blank(): CsmaFrame {
  return { type: -9, retry: false, dur: -9, ra: -9, ta: -9, seq: -9, off: -9 };
}

/** Shortest acceptable length of a frame whose fc byte is `fc`, read off the field table. */
function minLen(fcByte: number, dataHdr: number): number {
  switch (fcByte & 3) {
    case 0: return dataHdr + 1; // DATA header (padded or not) and at least one payload byte
    case 2: return 7; // RTS: fc, duration, ra, ta
    default: return 5; // ACK, CTS: fc, duration, ra
  }
}

/** Decodes a frame the field table's way: big-endian u16 at 1, 3, 5, u8 seq at 7. */
function decode(b: Uint8Array, len: number, dataHdr: number): CsmaFrame {
  const type = b[0] & 3;
  return {
    type,
    retry: (b[0] & 0x04) !== 0,
    dur: b[1] * 256 + b[2],
    ra: b[3] * 256 + b[4],
    ta: type === 0 || type === 2 ? b[5] * 256 + b[6] : -1,
    seq: type === 0 ? b[7] : -1,
    off: type === 0 ? dataHdr : len,
  };
}

// ---------- golden bytes ----------

interface Case {
  name: string;
  /** DATA header length on the air of the network the frame belongs to. */
  dataHdr: number;
  /** Emits the frame into buf, returning what the emit function returned. */
  emit: (buf: Uint8Array) => number;
  /** Expected return value of emit. */
  ret: number;
  /** DATA payload the test copies in at the returned offset. */
  payload?: number[];
  bytes: number[];
  fields: CsmaFrame;
}

const CASES: Case[] = [
  {
    name: 'DATA, natural 8-byte header, first attempt',
    dataHdr: 8,
    emit: (b) => emitDataHdr(b, false, 312, 7, 3, 12, 8),
    ret: 8,
    payload: [0xaa, 0xbb],
    bytes: [
      0x00, // fc: type DATA (0), retry 0, version 0
      0x01, 0x38, // duration 312
      0x00, 0x07, // ra 7
      0x00, 0x03, // ta 3
      0x0c, // seq 12
      0xaa, 0xbb, // payload
    ],
    fields: { type: 0, retry: false, dur: 312, ra: 7, ta: 3, seq: 12, off: 8 },
  },
  {
    name: 'DATA, natural header, retry, broadcast, every field at its largest',
    dataHdr: 8,
    emit: (b) => emitDataHdr(b, true, 0xffff, 0xffff, 0xfedc, 255, 8),
    ret: 8,
    payload: [0x00],
    bytes: [
      0x04, // fc: DATA, retry (bit 2)
      0xff, 0xff, // duration 65535
      0xff, 0xff, // ra broadcast
      0xfe, 0xdc, // ta 0xfedc: high byte first
      0xff, // seq 255
      0x00, // a one-byte payload, which happens to be zero
    ],
    fields: { type: 0, retry: true, dur: 65535, ra: 0xffff, ta: 0xfedc, seq: 255, off: 8 },
  },
  {
    name: 'DATA, padded to 34 (802.11 MAC header + FCS), first attempt',
    dataHdr: 34,
    emit: (b) => emitDataHdr(b, false, 312, 7, 3, 12, 34),
    ret: 34,
    payload: [0xaa, 0xbb],
    bytes: [0x00, 0x01, 0x38, 0x00, 0x07, 0x00, 0x03, 0x0c, ...zeros(26) /* bytes 8..33 */, 0xaa, 0xbb],
    fields: { type: 0, retry: false, dur: 312, ra: 7, ta: 3, seq: 12, off: 34 },
  },
  {
    name: 'DATA, padded to 34, retry, to a group',
    dataHdr: 34,
    emit: (b) => emitDataHdr(b, true, 0x0102, 0xff01, 0xabcd, 0x80, 34),
    ret: 34,
    payload: [0x11, 0x00, 0x22],
    bytes: [
      0x04, // DATA, retry
      0x01, 0x02, // duration 258
      0xff, 0x01, // ra group 0xff01
      0xab, 0xcd, // ta
      0x80, // seq 128
      ...zeros(26),
      0x11, 0x00, 0x22,
    ],
    fields: { type: 0, retry: true, dur: 0x0102, ra: 0xff01, ta: 0xabcd, seq: 0x80, off: 34 },
  },
  {
    name: 'ACK, natural 5 bytes',
    dataHdr: 8,
    emit: (b) => emitCtl(b, FT_ACK, 0, 3, 5),
    ret: 5,
    bytes: [0x01 /* fc: ACK */, 0x00, 0x00 /* duration 0 */, 0x00, 0x03 /* ra 3 */],
    fields: { type: 1, retry: false, dur: 0, ra: 3, ta: -1, seq: -1, off: 5 },
  },
  {
    name: 'ACK, padded to 14',
    dataHdr: 34,
    emit: (b) => emitCtl(b, FT_ACK, 0x0030, 0x0203, 14),
    ret: 14,
    bytes: [0x01, 0x00, 0x30, 0x02, 0x03, ...zeros(9)],
    fields: { type: 1, retry: false, dur: 48, ra: 0x0203, ta: -1, seq: -1, off: 14 },
  },
  {
    name: 'CTS, natural 5 bytes',
    dataHdr: 8,
    emit: (b) => emitCtl(b, FT_CTS, 1000, 3, 5),
    ret: 5,
    bytes: [0x03 /* fc: CTS */, 0x03, 0xe8 /* duration 1000 */, 0x00, 0x03 /* ra 3 */],
    fields: { type: 3, retry: false, dur: 1000, ra: 3, ta: -1, seq: -1, off: 5 },
  },
  {
    name: 'CTS, padded to 14',
    dataHdr: 34,
    emit: (b) => emitCtl(b, FT_CTS, 0xbeef, 0x1234, 14),
    ret: 14,
    bytes: [0x03, 0xbe, 0xef, 0x12, 0x34, ...zeros(9)],
    fields: { type: 3, retry: false, dur: 0xbeef, ra: 0x1234, ta: -1, seq: -1, off: 14 },
  },
  {
    name: 'RTS, natural 7 bytes',
    dataHdr: 8,
    emit: (b) => emitRts(b, 1234, 7, 3, 7),
    ret: 7,
    bytes: [0x02 /* fc: RTS */, 0x04, 0xd2 /* duration 1234 */, 0x00, 0x07 /* ra 7 */, 0x00, 0x03 /* ta 3 */],
    fields: { type: 2, retry: false, dur: 1234, ra: 7, ta: 3, seq: -1, off: 7 },
  },
  {
    name: 'RTS, padded to 20',
    dataHdr: 34,
    emit: (b) => emitRts(b, 0x8001, 0xfffe, 0x0100, 20),
    ret: 20,
    bytes: [0x02, 0x80, 0x01, 0xff, 0xfe, 0x01, 0x00, ...zeros(13)],
    fields: { type: 2, retry: false, dur: 0x8001, ra: 0xfffe, ta: 0x0100, seq: -1, off: 20 },
  },
];

for (const c of CASES) {
  test(`emit: ${c.name}`, () => {
    // Garbage first, so padding that is not written as zero shows; 3 spare bytes must stay untouched.
    const buf = new Uint8Array(c.bytes.length + 3).fill(0xee);
    assert.is(c.emit(buf), c.ret, 'emit returns the frame (DATA: header) length');
    if (c.payload) buf.set(c.payload, c.ret);
    assert.equal(Array.from(buf.subarray(0, c.bytes.length)), c.bytes);
    assert.equal(Array.from(buf.subarray(c.bytes.length)), [0xee, 0xee, 0xee], 'nothing written past the frame');

    // A buffer of exactly the frame's (DATA: header's) length is enough.
    const exact = new Uint8Array(c.ret);
    assert.is(c.emit(exact), c.ret);
    assert.equal(Array.from(exact), c.bytes.slice(0, c.ret));
  });

  test(`parse: ${c.name}`, () => {
    const f = blank();
    assert.ok(parseCsma(new Uint8Array(c.bytes), c.bytes.length, c.dataHdr, f));
    assert.equal(f, c.fields);
    assert.equal(decode(new Uint8Array(c.bytes), c.bytes.length, c.dataHdr), c.fields, 'the test decoder agrees');

    // In a driver's larger, reused buffer: bytes past len are not the frame's.
    const big = new Uint8Array(c.bytes.length + 40).fill(0x5a);
    big.set(c.bytes);
    const g = blank();
    assert.ok(parseCsma(big, c.bytes.length, c.dataHdr, g));
    assert.equal(g, c.fields);

    if (c.fields.type !== 0) {
      // The DATA header length has no bearing on control frames.
      const h = blank();
      assert.ok(parseCsma(new Uint8Array(c.bytes), c.bytes.length, c.dataHdr === 8 ? 34 : 8, h));
      assert.equal(h, c.fields);
    }
  });
}

test('emit: a pad length below the natural length gives the natural length', () => {
  const b = new Uint8Array(32).fill(0xee);
  assert.is(emitRts(b, 1, 2, 3, 0), 7);
  assert.equal(Array.from(b.subarray(0, 8)), [0x02, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03, 0xee]);
  b.fill(0xee);
  assert.is(emitCtl(b, FT_CTS, 1, 2, 3), 5);
  assert.equal(Array.from(b.subarray(0, 6)), [0x03, 0x00, 0x01, 0x00, 0x02, 0xee]);
});

// ---------- patchData ----------

test('patchData: flips the retry bit and rewrites the duration, nothing else', () => {
  for (const c of CASES.filter((k) => k.fields.type === 0)) {
    const b = new Uint8Array(c.bytes);
    patchData(b, !c.fields.retry, 0x4321);
    const want = c.bytes.slice();
    want[0] ^= 0x04;
    want[1] = 0x43;
    want[2] = 0x21;
    assert.equal(Array.from(b), want, c.name);
    const f = blank();
    assert.ok(parseCsma(b, b.length, c.dataHdr, f));
    assert.equal(f, { ...c.fields, retry: !c.fields.retry, dur: 0x4321 });

    patchData(b, c.fields.retry, c.fields.dur);
    assert.equal(Array.from(b), c.bytes, `${c.name}: patching back restores the frame`);
    patchData(b, c.fields.retry, c.fields.dur);
    assert.equal(Array.from(b), c.bytes, `${c.name}: patching to the same values changes nothing`);
  }
});

test('patchData: property, only bit 2 of byte 0 and bytes 1-2 change', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 3, maxLength: 40 }), fc.boolean(), fc.integer({ min: 0, max: 0xffff }), (bytes, retry, dur) => {
      const b = bytes.slice();
      patchData(b, retry, dur);
      if ((b[0] & ~0x04) !== (bytes[0] & ~0x04)) return false;
      if (((b[0] & 0x04) !== 0) !== retry) return false;
      if (b[1] * 256 + b[2] !== dur) return false;
      for (let i = 3; i < b.length; i++) if (b[i] !== bytes[i]) return false;
      return true;
    }),
    { seed: 42, numRuns: 10_000 },
  );
});

// ---------- malformed input ----------

test('malformed: every length below the minimum of each type is rejected, the minimum accepted', () => {
  for (const c of CASES) {
    const b = new Uint8Array(c.bytes);
    const min = minLen(c.bytes[0], c.dataHdr);
    for (let len = -1; len < min; len++) {
      assert.not.ok(parseCsma(b, len, c.dataHdr, blank()), `${c.name}: len ${len} < ${min}`);
    }
    // Control frames are accepted at their natural length even where the network pads them.
    assert.ok(parseCsma(b, min, c.dataHdr, blank()), `${c.name}: len ${min}`);
  }
});

test('malformed: each reserved fc bit (3-5) and each version bit (6-7) makes a frame invalid', () => {
  for (const c of CASES) {
    for (let bit = 3; bit <= 7; bit++) {
      const b = new Uint8Array(c.bytes);
      b[0] |= 1 << bit;
      assert.not.ok(parseCsma(b, b.length, c.dataHdr, blank()), `${c.name}: fc bit ${bit}`);
    }
  }
});

test('malformed: a DATA frame with no payload byte', () => {
  for (const dataHdr of [8, 34]) {
    const b = new Uint8Array(64);
    assert.is(emitDataHdr(b, false, 1, 2, 3, 4, dataHdr), dataHdr);
    assert.not.ok(parseCsma(b, dataHdr, dataHdr, blank()), `header only, dataHdr ${dataHdr}`);
    assert.ok(parseCsma(b, dataHdr + 1, dataHdr, blank()), `one payload byte, dataHdr ${dataHdr}`);
  }
  // A natural DATA frame read by a network that pads its headers is all padding and no payload.
  const nat = new Uint8Array(CASES[0].bytes);
  assert.not.ok(parseCsma(nat, nat.length, 34, blank()));
});

test('malformed: len beyond the buffer', () => {
  for (const c of CASES) {
    const b = new Uint8Array(c.bytes);
    for (const len of [b.length + 1, b.length + 100, 0x7fffffff, Infinity]) {
      assert.not.ok(parseCsma(b, len, c.dataHdr, blank()), `${c.name}: len ${len}`);
    }
  }
  assert.not.ok(parseCsma(new Uint8Array(0), 0, 8, blank()), 'empty buffer');
});

test('property: 100 000 random byte arrays never throw; accepted frames keep the length rules', () => {
  let accepted = 0, runs = 0;
  const f = blank(), g = blank();
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 48, size: 'max' }),
      // Clearing the reserved bits of byte 0 half of the time lets a fair share of inputs through.
      fc.boolean(),
      // len a little past or short of the array's end, as often as anywhere in it.
      fc.oneof(fc.integer({ min: -2, max: 12 }), fc.integer({ min: -2, max: 50 })),
      fc.constantFrom(8, 34),
      (bytes, clean, cut, dataHdr) => {
        runs++;
        if (clean && bytes.length > 0) bytes[0] &= 0x07;
        const len = bytes.length - cut;
        const ok = parseCsma(bytes, len, dataHdr, f);
        const valid = len >= 5 && len <= bytes.length && (bytes[0] & 0xf8) === 0 && len >= minLen(bytes[0], dataHdr);
        if (ok !== valid) return false;
        if (!ok) return true;
        accepted++;
        if (f.off > len || (f.type === 0 && f.off >= len)) return false;
        assert.equal(f, decode(bytes, len, dataHdr));
        // Bytes past len must not matter: the parser never reads them.
        const other = bytes.map((x, i) => (i < len ? x : x ^ 0xff));
        return parseCsma(other, len, dataHdr, g) && JSON.stringify(g) === JSON.stringify(f);
      },
    ),
    { seed: 42, numRuns: 100_000 },
  );
  assert.is(runs, 100_000);
  assert.ok(accepted > 10_000, `enough inputs were accepted to mean something (${accepted})`);
});

test('property: any emitted frame parses back to its fields', () => {
  const f = blank();
  const buf = new Uint8Array(64);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }),
      fc.boolean(), fc.integer({ min: 1, max: 20 }),
      (type, retry, dur, ra, ta, seq, padded, payloadLen) => {
        const dataHdr = padded ? 34 : 8;
        let len: number;
        if (type === 0) len = emitDataHdr(buf, retry, dur, ra, ta, seq, dataHdr) + payloadLen;
        else if (type === 2) len = emitRts(buf, dur, ra, ta, padded ? 20 : 7);
        else len = emitCtl(buf, type, dur, ra, padded ? 14 : 5);
        if (!parseCsma(buf, len, dataHdr, f)) return false;
        return f.type === type && f.retry === (type === 0 && retry) && f.dur === dur && f.ra === ra &&
          f.ta === (type === 0 || type === 2 ? ta : -1) && f.seq === (type === 0 ? seq : -1) &&
          f.off === (type === 0 ? dataHdr : len);
      },
    ),
    { seed: 42, numRuns: 10_000 },
  );
});

// ---------- emit into a buffer that is too short ----------

test('emit: a buffer too short for the frame gets 0 and is left alone', () => {
  const tries: [string, number, (b: Uint8Array) => number][] = [
    ['DATA header 8', 7, (b) => emitDataHdr(b, false, 1, 2, 3, 4, 8)],
    ['DATA header 34', 33, (b) => emitDataHdr(b, false, 1, 2, 3, 4, 34)],
    ['DATA header below 8', 64, (b) => emitDataHdr(b, false, 1, 2, 3, 4, 7)],
    ['RTS natural', 6, (b) => emitRts(b, 1, 2, 3, 7)],
    ['RTS natural, pad 0', 6, (b) => emitRts(b, 1, 2, 3, 0)],
    ['RTS padded', 19, (b) => emitRts(b, 1, 2, 3, 20)],
    ['ACK natural', 4, (b) => emitCtl(b, FT_ACK, 1, 2, 5)],
    ['ACK padded', 13, (b) => emitCtl(b, FT_ACK, 1, 2, 14)],
    ['CTS natural, pad 0', 4, (b) => emitCtl(b, FT_CTS, 1, 2, 0)],
    ['CTS padded', 13, (b) => emitCtl(b, FT_CTS, 1, 2, 14)],
    ['empty buffer', 0, (b) => emitCtl(b, FT_CTS, 1, 2, 5)],
  ];
  for (const [name, size, emit] of tries) {
    const b = new Uint8Array(size).fill(0xee);
    assert.is(emit(b), 0, name);
    assert.ok(b.every((x) => x === 0xee), `${name}: nothing written`);
  }
});

test.run();

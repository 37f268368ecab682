// Psync wire format (firmware/psync/frame.ts): golden bytes for SC, AN, RTX and RS, round trips, and
// parsing of malformed and random input (never throws, never reads past len).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { K_LOGGED, PS_AN, PS_RS, PS_RTX, PS_SC, emitPs, parsePs, psHeader, psHeaderLen } from '../../../firmware/psync/frame.ts';
import type { PsHeader } from '../../../firmware/psync/frame.ts';

const hex = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'));

function hdr(o: Partial<Omit<PsHeader, 'addrs' | 'seqs'>> & { addrs?: number[]; seqs?: number[] }): PsHeader {
  const h = psHeader();
  Object.assign(h, { ...o, addrs: h.addrs, seqs: h.seqs });
  if (o.addrs) h.addrs.set(o.addrs);
  if (o.seqs) h.seqs.set(o.seqs);
  return h;
}

/** The fields parse is defined to fill for each type, for comparing headers. */
function view(h: PsHeader) {
  const seqs = [...h.seqs].map((s, i) => ((h.mask >>> i) & 1 ? s : 0));
  return {
    type: h.type, resent: h.resent, idx: h.idx, named: h.named, cid: [h.cidAddr, h.cidNum], off: h.off, mask: h.mask, seqs,
    seq: h.type === PS_SC ? h.cidNum : h.seq, addrs: h.type === PS_SC ? [...h.addrs.subarray(0, h.n)] : [],
  };
}

test('golden bytes: SC with three participants and data', () => {
  const b = new Uint8Array(32);
  const h = hdr({ type: PS_SC, cidAddr: 0x0001, cidNum: 0x1234, n: 3, addrs: [1, 0x0102, 3] });
  const off = emitPs(b, h);
  assert.is(off, 10);
  b.set([0x68, 0x69], off);
  // kind SC; cid 0001:1234; n 3; participants 1 and 2 (0 is the initiator, from the cid)
  assert.is(hex(b, 12), '0000011234' + '03' + '0102' + '0003' + '6869');
  const p = psHeader();
  assert.ok(parsePs(b, 12, p));
  assert.equal(view(p), view(h));
  assert.is(p.off, 10);
  assert.is(p.seq, 0x1234, 'the SC message id is the conversation id');
});

test('golden bytes: an SC notice (bit 6): the header alone, named', () => {
  const b = new Uint8Array(32);
  const h = hdr({ type: PS_SC, named: true, cidAddr: 0x0001, cidNum: 0x1234, n: 3, addrs: [1, 0x0102, 3] });
  const n = emitPs(b, h);
  assert.is(n, 10);
  // kind SC | notice 0x40; cid 0001:1234; n 3; participants 1 and 2
  assert.is(hex(b, n), '4000011234' + '03' + '0102' + '0003');
  const p = psHeader();
  assert.ok(parsePs(b, n, p));
  assert.equal(view(p), view(h));
  assert.ok(p.named, 'a notice');
  const plain = bytes('0000011234 03 0102 0003');
  assert.ok(parsePs(plain, plain.length, p));
  assert.not.ok(p.named, 'an ordinary SC is not a notice');
});

test('golden bytes: a RESENT AN from participant 2 with two predecessors', () => {
  const b = new Uint8Array(32);
  const h = hdr({ type: PS_AN, resent: true, idx: 2, cidAddr: 1, cidNum: 0x1234, seq: 5, mask: 0b101, seqs: [0x1236, 0, 4] });
  assert.is(psHeaderLen(h), 12);
  const off = emitPs(b, h);
  assert.is(off, 12);
  // kind = AN 1 | RESENT 4 | index 2 << 3 = 0x15; cid; seq 5; preds of 0 and 2; their sequence numbers
  assert.is(hex(b, 12), '15' + '00011234' + '0005' + '05' + '1236' + '0004');
  const p = psHeader();
  assert.ok(parsePs(b, 12, p));
  assert.equal(view(p), view(h));
  assert.ok(parsePs(b, 15, p), 'data may follow');
  assert.is(p.off, 12);
});

test('golden bytes: RTX naming a message, and RTX naming nothing', () => {
  const b = new Uint8Array(32);
  const h = hdr({ type: PS_RTX, named: true, idx: 1, cidAddr: 1, cidNum: 0x1234, seq: 7, mask: 0b011, seqs: [0x1235, 6] });
  assert.is(emitPs(b, h), 12);
  // kind = RTX 2 | index 1 << 3 | named 0x40 = 0x4a
  assert.is(hex(b, 12), '4a' + '00011234' + '0007' + '03' + '1235' + '0006');
  const p = psHeader();
  assert.ok(parsePs(b, 12, p));
  assert.equal(view(p), view(h));
  assert.not.ok(parsePs(b, 13, p), 'nothing may follow an RTX frontier');
  const e = hdr({ type: PS_RTX, cidAddr: 0xabcd, cidNum: 2, seq: 99, idx: 3 });
  assert.is(emitPs(b, e), 8);
  assert.is(hex(b, 8), '02' + 'abcd0002' + '0000' + '00', 'an unnamed RTX carries neither index nor seq');
});

test('golden bytes: RS announcement and RS answer', () => {
  const b = new Uint8Array(32);
  const h = hdr({ type: PS_RS, idx: 2, cidAddr: 1, cidNum: 0x1234, seq: 9, mask: 0b101, seqs: [0x1236, 0, 4] });
  assert.is(emitPs(b, h), 12);
  // kind = RS 3 | index 2 << 3 = 0x13; an announcement's seq is always 0
  assert.is(hex(b, 12), '13' + '00011234' + '0000' + '05' + '1236' + '0004');
  const p = psHeader();
  assert.ok(parsePs(b, 12, p));
  assert.equal([p.type, p.idx, p.named, p.seq, p.mask], [PS_RS, 2, false, 0, 0b101]);
  assert.not.ok(parsePs(b, 13, p), 'nothing may follow an RS frontier');
  const a = hdr({ type: PS_RS, named: true, idx: 1, cidAddr: 1, cidNum: 0x1234, seq: 7, mask: 0b1, seqs: [0x1240] });
  assert.is(emitPs(b, a), 10);
  // kind = RS 3 | index 1 << 3 | answer 0x40 = 0x4b; seq: the restarted host's newest message here
  assert.is(hex(b, 10), '4b' + '00011234' + '0007' + '01' + '1240');
  assert.ok(parsePs(b, 10, p));
  assert.equal(view(p), view(a));
});

test('the LOGGED bit (0x04) of an RS answer parses (as resent); on an RS announcement or an RTX it is refused', () => {
  const b = new Uint8Array(32);
  const p = psHeader();
  const a = hdr({ type: PS_RS, named: true, idx: 1, cidAddr: 1, cidNum: 0x1234, seq: 7, mask: 0b1, seqs: [0x1240] });
  const n = emitPs(b, a);
  assert.is(b[0] & K_LOGGED, 0, 'emitPs never writes it: psync sets it on the answer');
  b[0] |= K_LOGGED;
  assert.ok(parsePs(b, n, p));
  assert.equal([p.type, p.named, p.resent, p.seq], [PS_RS, true, true, 7]);
  assert.is(emitPs(b, hdr({ type: PS_RS, idx: 1, cidAddr: 1, cidNum: 2, mask: 0 })), 8);
  b[0] |= K_LOGGED;
  assert.not.ok(parsePs(b, 8, p), 'announcement');
  assert.is(emitPs(b, hdr({ type: PS_RTX, named: true, idx: 1, cidAddr: 1, cidNum: 2, seq: 3, mask: 0 })), 8);
  b[0] |= K_LOGGED;
  assert.not.ok(parsePs(b, 8, p), 'RTX');
});

test('emit refuses short buffers and out-of-range headers', () => {
  assert.is(emitPs(new Uint8Array(11), hdr({ type: PS_AN, mask: 0b11 })), 0);
  assert.is(emitPs(new Uint8Array(32), hdr({ type: PS_SC, n: 0 })), 0);
  assert.is(emitPs(new Uint8Array(32), hdr({ type: PS_SC, n: 9 })), 0);
  assert.is(emitPs(new Uint8Array(32), hdr({ type: 4 })), 0);
  assert.is(emitPs(new Uint8Array(32), hdr({ type: PS_AN, idx: 8 })), 0);
});

test('parse refuses malformed messages', () => {
  const p = psHeader();
  const bad: [string, string][] = [
    ['short', '0100011234'],
    ['reserved bit 7', '81000112340001 00'],
    ['RS announcement with a seq', '03000112340001 00'],
    ['RESENT on an RS', '07000112340000 00'],
    ['RS with trailing bytes', '03000112340000 00 00'],
    ['named bit on an AN', '41000112340001 0100 00'],
    ['RESENT on an RTX', '06000112340000 00'],
    ['SC with a sender index', '08000112340100'],
    ['SC with no participants', '0000011234 00'],
    ['SC with nine participants', '0000011234 09' + '0002'.repeat(8)],
    ['SC cut short', '0000011234 03 0002'],
    ['SC listing the initiator twice', '0000011234 02 0001'],
    ['SC listing an address twice', '0000011234 03 0002 0002'],
    ['SC listing a group address', '0000011234 02 ff01'],
    ['SC from a group address', '00ffff1234 02 0002'],
    ['AN with predecessor numbers cut short', '09000112340002 03 0001'],
    ['RTX with trailing bytes', '4a000112340007 01 0001 00'],
    ['unnamed RTX with an index', '0a000112340000 00'],
    ['unnamed RTX with a seq', '02000112340005 00'],
  ];
  for (const [why, h] of bad) {
    const b = bytes(h);
    assert.not.ok(parsePs(b, b.length, p), why);
  }
  const ok = bytes('09000112340002 03 0001 0001');
  assert.ok(parsePs(ok, ok.length, p));
  assert.not.ok(parsePs(ok, ok.length + 1, p), 'len beyond the buffer');
});

test('random input: parse never throws and reads nothing at or past len', () => {
  const p = psHeader();
  const q = psHeader();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), (b, tail) => {
      const a = new Uint8Array(b.length + tail.length);
      a.set(b);
      a.set(tail, b.length); // junk after len must not change the outcome
      const r1 = parsePs(b, b.length, p);
      const r2 = parsePs(a, b.length, q);
      assert.is(r1, r2);
      if (r1) assert.equal(view(p), view(q));
    }),
    { seed: 42, numRuns: 20000 },
  );
});

test('round trips of random valid headers', () => {
  const p = psHeader();
  const buf = new Uint8Array(64);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0xfeff }),
      fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.uniqueArray(fc.integer({ min: 0, max: 0xfeff }), { minLength: 7, maxLength: 7 }),
      fc.integer({ min: 1, max: 8 }),
      (type, flag, idx, cidAddr, cidNum, seq, mask, seqs, addrs, n) => {
        const others = addrs.filter((a) => a !== cidAddr);
        const h = hdr({
          type, resent: type < PS_RTX && flag, named: type >= PS_RTX && flag, idx: type === PS_SC || (type === PS_RTX && !flag) ? 0 : idx, cidAddr, cidNum,
          seq: type >= PS_RTX && !flag ? 0 : seq, mask: type === PS_SC ? 0 : mask, seqs, n: Math.min(n, others.length + 1),
          addrs: [cidAddr, ...others].slice(0, 8),
        });
        const len = emitPs(buf, h);
        assert.ok(len > 0);
        assert.ok(parsePs(buf, len, p));
        assert.equal(view(p), view(h));
      },
    ),
    { seed: 7, numRuns: 3000 },
  );
});

test.run();

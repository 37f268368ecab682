// Wire formats of firmware/order (golden bytes, malformed and random input) and the
// Birman-Schiper-Stephenson accept/delay/reject rule on hand-made vectors, then the causal hold-back
// queue driven by hand-made frames from raw stations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MAX_MEMBERS, P_CAUSAL, P_FIFO, P_TOTAL, T_ACK, T_ALIVE, T_ANSWER, T_COMMIT, T_DATA, T_FLUSHED, T_HAVE, T_INSTALL, T_JOIN, T_NACK, T_PROPOSE,
  T_QUERY, T_SYNC, T_VIEW, causalHdr, emitPfx, emitQuery, emitSeq, emitTs, emitVec, emitView, orderHeader, parseOrder, seqNotAfter,
  vecAt, vecInc, viewLen,
} from '../../../firmware/order/frame.ts';
import type { OrderHeader } from '../../../firmware/order/frame.ts';
import { BSS_ACCEPT, BSS_DELAY, BSS_REJECT, bssRule, causal, fifo } from '../../../firmware/order/seqcast.ts';
import { total } from '../../../firmware/order/total.ts';
import { ORDER_DEFAULTS } from '../../../firmware/order/group.ts';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';

const hex = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString('hex');
const h0 = (): OrderHeader => orderHeader();
const pick = (h: OrderHeader, ...keys: (keyof OrderHeader)[]) => keys.map((k) => h[k]);

test('golden bytes: every type, with the incarnation and tag prefix', () => {
  const b = new Uint8Array(40);
  const h = h0();
  assert.is(emitSeq(b, P_FIFO, T_DATA, 7, 0, 0x1234), 5);
  assert.is(hex(b, 5), '1007001234'); // kind: protocol 1 << 4 | DATA; incarnation 7; tag 0
  assert.ok(parseOrder(b, 5, h));
  assert.equal(pick(h, 'proto', 'type', 'inc', 'tag', 'seq', 'off'), [P_FIFO, T_DATA, 7, 0, 0x1234, 5]);
  assert.is(emitSeq(b, P_CAUSAL, T_NACK, 0xff, 9, 0xfffe), 5);
  assert.is(hex(b, 5), '22ff09fffe');
  assert.ok(parseOrder(b, 5, h));
  assert.equal(pick(h, 'proto', 'type', 'inc', 'tag', 'seq'), [P_CAUSAL, T_NACK, 0xff, 9, 0xfffe]);
  emitSeq(b, P_TOTAL, T_ACK, 1, 2, 7);
  assert.is(hex(b, 5), '3101020007');
  emitSeq(b, P_TOTAL, T_HAVE, 1, 2, 9);
  assert.is(hex(b, 5), '3501020009');
  emitSeq(b, P_FIFO, T_SYNC, 3, 4, 0x0102);
  assert.is(hex(b, 5), '1603040102');
  assert.is(emitTs(b, T_PROPOSE, 5, 6, 0x0102, 0xfedcba98), 9);
  assert.is(hex(b, 9), '3305060102fedcba98');
  assert.ok(parseOrder(b, 9, h));
  assert.equal(pick(h, 'proto', 'type', 'inc', 'tag', 'seq', 'ts', 'off'), [P_TOTAL, T_PROPOSE, 5, 6, 0x0102, 0xfedcba98, 9], 'the u32 stays unsigned');
  emitTs(b, T_COMMIT, 5, 6, 3, 77);
  assert.is(hex(b, 9), '34050600030000004d');
  const v = new Uint16Array([1, 0x0203, 0xffff]);
  const incs = new Uint8Array([0x11, 0x22, 0x33]);
  assert.is(emitVec(b, 0x22, v, incs, 3), 13);
  assert.is(hex(b, 13), '20220003' + '110001' + '220203' + '33ffff');
  b[13] = 0xaa;
  assert.ok(parseOrder(b, 14, h));
  assert.equal(pick(h, 'proto', 'type', 'inc', 'n', 'off'), [P_CAUSAL, T_DATA, 0x22, 3, 13]);
  assert.equal([vecAt(b, 0), vecAt(b, 1), vecAt(b, 2)], [1, 0x0203, 0xffff]);
  assert.equal([vecInc(b, 0), vecInc(b, 1), vecInc(b, 2)], [0x11, 0x22, 0x33]);
  assert.is(causalHdr(6), 22, 'six members leave 6 bytes of a 28-byte MAC payload');
  assert.is(emitPfx(b, P_TOTAL, T_ALIVE, 8, 2), 3);
  assert.is(hex(b, 3), '370802');
  assert.ok(parseOrder(b, 3, h));
  emitPfx(b, P_TOTAL, T_JOIN, 8, 0);
  assert.is(hex(b, 3), '380800');
  assert.ok(parseOrder(b, 3, h));
  assert.is(h.type, T_JOIN);
  assert.is(emitView(b, T_VIEW, 1, 4, 5, 0x000b, 0x0008, new Uint8Array([9, 8, 0, 7]), 4), viewLen(4));
  assert.is(hex(b, 12), '390104' + '05' + '000b' + '0008' + '09080007');
  assert.ok(parseOrder(b, 12, h));
  assert.equal(pick(h, 'type', 'tag', 'aux', 'mask', 'seq', 'n', 'off'), [T_VIEW, 4, 5, 0x0b, 0x08, 4, 8]);
  emitView(b, T_INSTALL, 1, 4, 5, 0x000b, 0, new Uint8Array([9, 8, 0, 7]), 4);
  assert.is(b[0], 0x3b);
  emitPfx(b, P_TOTAL, T_FLUSHED, 2, 4);
  b[3] = 5;
  assert.ok(parseOrder(b, 4, h));
  assert.equal(pick(h, 'type', 'aux'), [T_FLUSHED, 5]);
  assert.is(emitQuery(b, T_QUERY, 2, 4, 3, 0x0102, 0), 6);
  assert.is(hex(b, 6), '3c0204030102');
  assert.is(emitQuery(b, T_ANSWER, 2, 4, 3, 0x0102, 0x80000001), 10);
  assert.is(hex(b, 10), '3d020403010280000001');
  assert.ok(parseOrder(b, 10, h));
  assert.equal(pick(h, 'type', 'aux', 'seq', 'ts'), [T_ANSWER, 3, 0x0102, 0x80000001]);
});

test('emit refuses short buffers; parse refuses short, reserved and mismatched frames', () => {
  assert.is(emitSeq(new Uint8Array(4), P_FIFO, T_DATA, 1, 0, 1), 0);
  assert.is(emitTs(new Uint8Array(8), T_COMMIT, 1, 1, 1, 1), 0);
  assert.is(emitVec(new Uint8Array(12), 1, new Uint16Array(3), new Uint8Array(3), 3), 0);
  assert.is(emitVec(new Uint8Array(64), 1, new Uint16Array(17), new Uint8Array(17), 17), 0, 'more than 16 members');
  assert.is(emitView(new Uint8Array(11), T_VIEW, 1, 1, 1, 1, 0, new Uint8Array(4), 4), 0);
  const h = h0();
  const bad: [string, number[]][] = [
    ['empty', []],
    ['two bytes', [0x10, 1]],
    ['FIFO DATA without its number', [0x10, 1, 0, 0]],
    ['incarnation 0', [0x10, 0, 0, 0, 1]],
    ['version bits', [0x50, 1, 0, 0, 1]],
    ['protocol 0', [0x00, 1, 0, 0, 1]],
    ['type 14', [0x3e, 1, 0, 0, 1]],
    ['SYNC in TOTAL', [0x36, 1, 0, 0, 1]],
    ['PROPOSE in FIFO', [0x13, 1, 0, 0, 1, 0, 0, 0, 1]],
    ['COMMIT in CAUSAL', [0x24, 1, 0, 0, 1, 0, 0, 0, 1]],
    ['HAVE in FIFO', [0x15, 1, 0, 0, 1]],
    ['VIEW in FIFO', [0x19, 1, 0, 1, 0, 1, 0, 0, 1]],
    ['ACK too long', [0x11, 1, 0, 0, 1, 0]],
    ['PROPOSE short', [0x33, 1, 0, 0, 1, 0, 0, 0]],
    ['COMMIT long', [0x34, 1, 0, 0, 1, 0, 0, 0, 1, 0]],
    ['ALIVE long', [0x37, 1, 0, 0]],
    ['FLUSHED short', [0x3a, 1, 0]],
    ['VIEW without incarnations', [0x39, 1, 0, 1, 0, 1, 0, 0]],
    ['QUERY long', [0x3c, 1, 0, 0, 0, 1, 0]],
    ['ANSWER short', [0x3d, 1, 0, 0, 0, 1, 0, 0, 0]],
    ['causal n 0', [0x20, 1, 0, 0]],
    ['causal n 17', [0x20, 1, 0, 17, ...new Array(51).fill(0)]],
    ['causal vector cut', [0x20, 1, 0, 2, 1, 0, 1, 0]],
  ];
  for (const [what, bytes] of bad) assert.not.ok(parseOrder(new Uint8Array(bytes), bytes.length, h), what);
  assert.not.ok(parseOrder(new Uint8Array(5), 6, h), 'len beyond the buffer');
  assert.ok(parseOrder(new Uint8Array([0x30, 1, 0, 0, 1]), 5, h), 'TOTAL DATA may be empty');
  assert.ok(MAX_MEMBERS === 16);
});

test('random bytes never throw and never read past len', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(45), (bytes, cut) => {
      const len = Math.min(cut, bytes.length);
      const buf = new Uint8Array(len);
      buf.set(bytes.subarray(0, len)); // the buffer ends at len: a read past it would give undefined
      const h = h0();
      if (!parseOrder(buf, len, h)) return true;
      assert.ok(h.off <= len);
      if (h.proto === P_CAUSAL && h.type === T_DATA) for (let k = 0; k < h.n; k++) assert.ok(Number.isInteger(vecAt(buf, k)));
      return Number.isInteger(h.seq) && Number.isInteger(h.ts);
    }),
    { seed: 42, numRuns: 20_000 },
  );
});

test('sequence numbers compare across the wrap', () => {
  assert.ok(seqNotAfter(0xfffe, 1));
  assert.not.ok(seqNotAfter(1, 0xfffe));
  assert.ok(seqNotAfter(5, 5));
});

/** A CAUSAL DATA frame from incarnation 1 with counts T of incarnations I (default: all 1). */
function vframe(T: number[], I?: number[]): Uint8Array {
  const buf = new Uint8Array(causalHdr(T.length));
  emitVec(buf, 1, new Uint16Array(T), new Uint8Array(I ?? T.map(() => 1)), T.length);
  return buf;
}

/** The BSS rule at member `me` (default 1) with vector S, knowing incarnation 1 of everyone, for a message from j with vector T. */
function rule(S: number[], T: number[], j: number, I?: number[], prev?: number[], me = 1): number {
  const inc = new Uint8Array(S.map(() => 1));
  return bssRule(new Uint16Array(S), inc, new Uint8Array(prev ?? S.map(() => 0)), me, vframe(T, I), j, T.length);
}

test('BSS rule: accept when T[j] = S[j] + 1 and T[k] <= S[k]; delay when ahead; reject when T[j] <= S[j]', () => {
  // This member has delivered 2 messages of member 0, 1 of member 1, none of member 2.
  const S = [2, 1, 0];
  const cases: [number[], number, number, string][] = [
    [[3, 1, 0], 0, BSS_ACCEPT, 'the next from 0, the sender saw what we saw'],
    [[3, 0, 0], 0, BSS_ACCEPT, 'the sender had seen less than we have'],
    [[1, 2, 0], 1, BSS_ACCEPT, 'the next from 1'],
    [[0, 0, 1], 2, BSS_ACCEPT, 'the first from 2'],
    [[2, 1, 1], 2, BSS_ACCEPT, 'from 2, which had seen exactly what we have'],
    [[4, 1, 0], 0, BSS_DELAY, 'T[j] > S[j] + 1: an earlier message of 0 is on the way'],
    [[3, 2, 0], 1, BSS_DELAY, 'T[0] > S[0]: 1 had delivered a message of 0 we have not'],
    [[3, 1, 1], 0, BSS_DELAY, 'T[2] > S[2]: from the future'],
    [[2, 1, 2], 2, BSS_DELAY, 'the second of 2 before its first'],
    [[2, 1, 0], 0, BSS_REJECT, 'T[j] = S[j]: delivered already'],
    [[1, 1, 0], 0, BSS_REJECT, 'T[j] < S[j]'],
    [[2, 5, 5], 0, BSS_REJECT, 'a duplicate is rejected whatever else it says'],
  ];
  for (const [T, j, want, why] of cases) assert.is(rule(S, T, j), want, why);
  assert.is(rule([0xffff, 0], [0, 0], 0), BSS_ACCEPT, '65535 + 1 wraps to 0');
  assert.is(rule([0xffff, 0], [0xfffe, 0], 0), BSS_REJECT);
  assert.is(rule([3, 0xffff], [4, 0], 0), BSS_DELAY, 'T[1] = 0 is after S[1] = 65535');
});

test('BSS rule across incarnations: a former incarnation is waived, an unknown one delays', () => {
  // This member (index 2) knows incarnation 1 of everyone; member 1's former incarnation was 5.
  const S = [2, 1, 0];
  assert.is(rule(S, [3, 4, 0], 0, [1, 1, 1], [0, 5, 0], 2), BSS_DELAY, 'the current incarnation of 1 at 4 > 1: wait');
  assert.is(rule(S, [3, 4, 0], 0, [1, 5, 1], [0, 5, 0], 2), BSS_ACCEPT, 'incarnation 5 of member 1 is gone: its messages cannot come');
  assert.is(rule(S, [3, 4, 0], 0, [1, 6, 1], [0, 5, 0], 2), BSS_DELAY, 'incarnation 6 of member 1: not heard here yet');
  assert.is(rule(S, [3, 0, 0], 0, [1, 6, 1], [0, 5, 0], 2), BSS_ACCEPT, 'a count of 0 depends on nothing');
  assert.is(rule(S, [3, 1, 9], 0, [1, 1, 9], [0, 0, 0], 2), BSS_ACCEPT, 'our own former self (9): waived');
});

/** Member 1 running `factory`, and raw stations 2 and 3 that send hand-made frames and record replies. */
function bench(factory: typeof causal, window = 4) {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 32, propagationUs: 1 });
  const members = [1, 2, 3];
  const g = factory({ mac: rawMac(m.station().link, 1, 16), clock: s, rng: xoshiro(3), members, config: { ...ORDER_DEFAULTS, window, heartbeatUs: 0 }, incarnation: 0x41 });
  const got: string[] = [];
  g.onDeliver((b, off, len, from) => got.push(from + ':' + Buffer.from(b.subarray(off, off + len)).toString()));
  const raw = [2, 3].map((a) => rawMac(m.station().link, a, 16));
  const replies: string[][] = [[], []];
  raw.forEach((r, i) => r.onReceive((p, len) => replies[i].push(hex(p, len))));
  /** Station 2 or 3 sends bytes to member 1, then the network settles. */
  const from = (who: 2 | 3, bytes: number[]): void => {
    raw[who - 2].send(1, new Uint8Array(bytes), bytes.length);
    s.runUntil(s.now() + 50_000);
  };
  return { s, g, got, replies, from };
}
/** CAUSAL DATA from incarnation 1 of its sender, every vector entry of incarnation 1 but member 1's (0x41). */
const causalData = (v: number[], text: string) => [0x20, 1, 0, v.length, ...v.flatMap((x, k) => [k === 0 ? 0x41 : 1, x >> 8, x & 0xff]), ...Buffer.from(text)];

test('causal hold-back: a message waits for the one it depends on, then both are delivered; duplicates are rejected', () => {
  const b = bench(causal);
  b.from(3, causalData([0, 1, 1], 'reply')); // 3 had delivered 2's first message: we have not
  assert.equal(b.got, []);
  assert.is(b.g.holding(), 1);
  assert.equal(b.replies[0], ['2241010000'], 'NACK to 2: send your message 1');
  assert.equal(b.replies[1], ['2141010000'], 'ACK to 3: held, not delivered, so its count stays 0');
  b.from(2, causalData([0, 1, 0], 'post'));
  assert.equal(b.got, ['2:post', '3:reply']);
  assert.is(b.g.holding(), 0);
  assert.equal(b.replies[0].at(-1), '2141010001', 'ACK to 2: one delivered');
  assert.equal(b.replies[1].at(-1), '2141010001');
  b.from(2, causalData([0, 1, 0], 'post'));
  assert.is(b.g.stats.duplicates, 1, 'rejected');
  assert.equal(b.got.length, 2);
  b.from(2, causalData([0, 1], 'short vector'));
  assert.is(b.g.stats.malformed, 1, 'a vector for another group size');
});

test('bounds: a member holds at most window - 1 messages per sender; beyond the window is dropped and counted', () => {
  for (const factory of [causal, fifo]) {
    const b = bench(factory, 4);
    const data = (seq: number) => (factory === causal ? causalData([0, seq, 0], 'm' + seq) : [0x10, 1, 0, 0, seq, ...Buffer.from('m' + seq)]);
    for (const seq of [2, 3, 4]) b.from(2, data(seq));
    assert.is(b.g.holding(), 3);
    b.from(2, data(5)); // message 5 needs 1 delivered here first: no correct sender sends it yet
    assert.is(b.g.stats.outOfWindow, 1);
    assert.is(b.g.holding(), 3);
    b.from(2, data(3));
    assert.is(b.g.stats.duplicates, 1, 'a copy of a held message');
    b.from(2, data(1));
    assert.equal(b.got, ['2:m1', '2:m2', '2:m3', '2:m4']);
    assert.is(b.g.holding(), 0);
  }
});

test('total order by hand: proposals, a NACK for a gap, commit in timestamp order, ACK after delivery', () => {
  const b = bench(total as typeof causal);
  b.from(2, [0x30, 1, 1, 0, 1, ...Buffer.from('x')]);
  assert.equal(b.replies[0], ['3341010001' + '00000001'], 'PROPOSE seq 1, ts 1');
  b.from(3, [0x30, 1, 1, 0, 2, ...Buffer.from('z')]); // 3's message 2 before its 1
  assert.equal(b.replies[1], ['3241010000'], 'NACK: nothing of 3 proposed for yet');
  b.from(3, [0x30, 1, 1, 0, 1, ...Buffer.from('y')]);
  assert.equal(b.replies[1].slice(1).sort(), ['334101000100000002', '334101000200000003'], 'then both proposed for, in order');
  b.from(3, [0x34, 1, 1, 0, 1, 0, 0, 0, 2]); // 3's first commits at 2; 2's first (proposed at 1) might still come first
  assert.equal(b.got, []);
  assert.equal(b.replies[1].at(-1), '3541010001', 'HAVE: the commit arrived');
  b.from(2, [0x34, 1, 1, 0, 1, 0, 0, 0, 9]); // 2's first commits at 9: now 3's first (2) goes, 3's second (proposed 3) blocks
  assert.equal(b.got, ['3:y']);
  b.from(3, [0x34, 1, 1, 0, 2, 0, 0, 0, 9]); // ties at 9 break by member index: 2 before 3
  assert.equal(b.got, ['3:y', '2:x', '3:z']);
  assert.equal(b.replies[0].at(-1), '3141010001');
  assert.equal(b.replies[1].at(-1), '3141010002');
  b.from(2, [0x34, 1, 1, 0, 1, 0, 0, 0, 9]);
  assert.equal(b.replies[0].at(-1), '3141010001', 'a commit copy for a delivered message: ACK again');
  assert.is(b.g.holding(), 0);
});

test.run();

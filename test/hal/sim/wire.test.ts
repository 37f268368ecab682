import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { wire } from '../../../hal/sim/wire.ts';
import { xoshiro } from '../../../hal/prng.ts';

test('bytes arrive at the other end at the baud rate (8N1: 10 bits a byte)', () => {
  const s = scheduler();
  const w = wire(s, { baud: 9600, rxChunkBytes: 1 });
  const arrivals: [number, number][] = [];
  w.b.onData((b, len) => { for (let i = 0; i < len; i++) arrivals.push([s.now(), b[i]]); });
  assert.is(w.a.write(new Uint8Array([1, 2, 3]), 3), 3);
  s.runAll();
  // 10 bits / 9600 baud = 1041.67 µs a byte; byte k ends at ceil(k * 1041.67)
  assert.equal(arrivals, [[1042, 1], [2084, 2], [3125, 3]]);
});

test('chunks of rxChunkBytes, each stamped when its last byte ends; both directions independent', () => {
  const s = scheduler();
  const w = wire(s, { baud: 115200, rxChunkBytes: 16 });
  const atB: [number, number][] = [];
  const atA: number[] = [];
  w.b.onData((_, len) => atB.push([s.now(), len]));
  w.a.onData((_, len) => atA.push(len));
  w.a.write(new Uint8Array(40), 40);
  w.b.write(new Uint8Array(5), 5);
  s.runAll();
  const byteUs = 1e7 / 115200;
  assert.equal(atB, [[Math.ceil(16 * byteUs), 16], [Math.ceil(32 * byteUs), 16], [Math.ceil(40 * byteUs), 8]]);
  assert.equal(atA, [5]);
});

test('back-pressure: write takes only what fits, writable() tells, onDrain fires when empty', () => {
  const s = scheduler();
  const w = wire(s, { baud: 115200, txBufBytes: 32 });
  let drains = 0;
  let got = 0;
  w.a.onDrain(() => drains++);
  w.b.onData((_, len) => (got += len));
  assert.is(w.a.write(new Uint8Array(50), 50), 32);
  assert.is(w.a.writable(), 0);
  assert.is(w.a.write(new Uint8Array(1), 1), 0);
  s.runAll();
  assert.is(drains, 1);
  assert.is(got, 32);
  assert.is(w.a.writable(), 32);
});

test('the line stays busy across writes: no gap, no overlap', () => {
  const s = scheduler();
  const w = wire(s, { baud: 10000, rxChunkBytes: 1 }); // 1000 µs a byte
  const times: number[] = [];
  w.b.onData(() => times.push(s.now()));
  w.a.write(new Uint8Array(2), 2);
  s.at(1500, () => w.a.write(new Uint8Array(1), 1)); // while byte 2 is on the line
  s.runAll();
  assert.equal(times, [1000, 2000, 3000]);
});

test('loss and corruption are seeded: same seed same damage, counted in stats', () => {
  const run = (seed: number) => {
    const s = scheduler();
    const w = wire(s, { baud: 1e6, lossPct: 2, corruptPct: 2, rng: xoshiro(seed) });
    const out: number[] = [];
    w.b.onData((b, len) => { for (let i = 0; i < len; i++) out.push(b[i]); });
    const data = new Uint8Array(200).map((_, i) => i);
    for (let k = 0; k < 20; k++) s.at(k * 10000, () => w.a.write(data, 200));
    s.runAll();
    return { out, stats: { ...w.a.stats } };
  };
  const a = run(1), b = run(1), c = run(2);
  assert.equal(a, b);
  assert.not.equal(a.out, c.out);
  assert.ok(a.stats.bytesLost > 20 && a.stats.bytesCorrupted > 20);
  assert.is(a.out.length, 4000 - a.stats.bytesLost);
});

test('configuration errors throw with a reason', () => {
  const s = scheduler();
  assert.throws(() => wire(s, { baud: 0 }), /baud/);
  assert.throws(() => wire(s, { baud: 9600, lossPct: 1 }), /rng/);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { xoshiro, below } from '../../../hal/prng.ts';

test('runs events in time order, equal times in scheduling order', () => {
  const s = scheduler();
  const seen: string[] = [];
  s.at(30, () => seen.push('c30'));
  s.at(10, () => seen.push('a10'));
  s.at(20, () => seen.push('x20'));
  s.at(10, () => seen.push('b10'));
  s.at(20, () => seen.push('y20'));
  s.runAll();
  assert.equal(seen, ['a10', 'b10', 'x20', 'y20', 'c30']);
  assert.is(s.now(), 30);
});

test('heap order matches a stable sort on (time, sequence) for 20 000 random events', () => {
  const s = scheduler();
  const rng = xoshiro(7);
  const want: { t: number; i: number }[] = [];
  const got: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const t = below(rng, 500); // many ties on purpose
    want.push({ t, i });
    s.at(t, () => got.push(i));
  }
  s.runAll();
  want.sort((a, b) => a.t - b.t || a.i - b.i);
  assert.equal(got, want.map((w) => w.i));
});

test('events scheduled from inside events, and at a time already past, run at now', () => {
  const s = scheduler();
  const seen: [string, number][] = [];
  s.at(100, () => {
    seen.push(['outer', s.now()]);
    s.at(50, () => seen.push(['past', s.now()])); // clamped to now
    s.after(0, () => seen.push(['zero', s.now()]));
  });
  s.runAll();
  assert.equal(seen, [['outer', 100], ['past', 100], ['zero', 100]]);
});

test('cancel removes an event; cancelling twice or after it ran does nothing', () => {
  const s = scheduler();
  const seen: number[] = [];
  const a = s.at(10, () => seen.push(1));
  const b = s.at(20, () => seen.push(2));
  s.cancel(a);
  s.cancel(a);
  assert.is(s.pending(), 1);
  s.runAll();
  s.cancel(b);
  assert.equal(seen, [2]);
  assert.is(s.pending(), 0);
});

test('mass cancellation keeps the queue small and order intact', () => {
  const s = scheduler();
  const handles = [];
  const seen: number[] = [];
  for (let i = 0; i < 10000; i++) handles.push(s.at(i, () => seen.push(i)));
  for (let i = 0; i < 10000; i++) if (i % 10 !== 0) s.cancel(handles[i]);
  assert.is(s.pending(), 1000);
  s.runAll();
  assert.is(seen.length, 1000);
  assert.ok(seen.every((v, k) => v === k * 10));
});

test('runUntil stops at the bound and advances the clock to it', () => {
  const s = scheduler();
  const seen: number[] = [];
  for (const t of [5, 10, 15]) s.at(t, () => seen.push(t));
  assert.is(s.runUntil(10), 2);
  assert.equal(seen, [5, 10]);
  assert.is(s.now(), 10);
  assert.is(s.nextTime(), 15);
  s.runUntil(1000);
  assert.is(s.now(), 1000);
  assert.equal(seen, [5, 10, 15]);
});

test('stop() ends a run after the current event', () => {
  const s = scheduler();
  let n = 0;
  for (let i = 0; i < 10; i++) s.at(i, () => { if (++n === 3) s.stop(); });
  s.runAll();
  assert.is(n, 3);
  s.runAll();
  assert.is(n, 10);
});

test('bad input is a programming error, thrown at once', () => {
  const s = scheduler();
  assert.throws(() => s.at(NaN, () => {}), /NaN/);
  assert.throws(() => s.at(1, null as unknown as () => void), /function/);
});

test('xoshiro is deterministic per seed and below() stays in range', () => {
  const a = xoshiro(42), b = xoshiro(42), c = xoshiro(43);
  const sa = [a.u32(), a.u32(), a.u32()];
  assert.equal(sa, [b.u32(), b.u32(), b.u32()]);
  assert.not.equal(sa, [c.u32(), c.u32(), c.u32()]);
  const counts = [0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 70000; i++) counts[below(a, 7)]++;
  for (const k of counts) assert.ok(k > 9000 && k < 11000, `bucket ${k} far from 10000`);
  for (let i = 0; i < 1000; i++) {
    const v = a.u32();
    assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
  }
});

test.run();

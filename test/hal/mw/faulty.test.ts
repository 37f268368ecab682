import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { trace } from '../../../hal/mw/trace.ts';
import { xoshiro } from '../../../hal/prng.ts';

/** a sends n one-byte-numbered frames (2 bytes: hi, lo) to b, back to back; b's link is wrapped. */
function run(n: number, opts: Record<string, number>, seed = 1) {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const a = m.station(), b = m.station();
  const fb = faulty(b.link, { clock: s, rng: xoshiro(seed), ...opts });
  const got: number[] = [];
  const bad: number[] = [];
  fb.onReceive((f, len) => {
    if (len !== 2) { bad.push(-1); return; }
    const v = (f[0] << 8) | f[1];
    if (v >= n) bad.push(v);
    got.push(v);
  });
  let i = 0;
  const next = () => { if (i < n) { a.link.send(new Uint8Array([i >> 8, i & 0xff]), 2); i++; } };
  a.link.onSent(next);
  next();
  s.runAll();
  return { got, bad, stats: fb.stats };
}

test('no faults: everything passes in order', () => {
  const r = run(500, {});
  assert.equal(r.got, [...Array(500).keys()]);
  assert.is(r.stats.passed, 500);
});

test('drop: about the set share is missing, the rest in order', () => {
  const r = run(2000, { dropPct: 20 });
  assert.is(r.stats.dropped + r.got.length, 2000);
  assert.ok(r.stats.dropped > 320 && r.stats.dropped < 480, `dropped ${r.stats.dropped}`);
  assert.ok(r.got.every((v, k) => k === 0 || v > r.got[k - 1]));
});

test('duplicate: some frames arrive twice, none is invented', () => {
  const r = run(1000, { dupPct: 10 });
  assert.is(r.got.length, 1000 + r.stats.duplicated);
  assert.ok(r.stats.duplicated > 60);
  assert.equal([...new Set(r.got)].sort((x, y) => x - y), [...Array(1000).keys()]);
});

test('reorder: every frame arrives once, some out of order', () => {
  const r = run(1000, { reorderPct: 10 });
  assert.equal([...r.got].sort((x, y) => x - y), [...Array(1000).keys()]);
  const inversions = r.got.filter((v, k) => k > 0 && v < r.got[k - 1]).length;
  assert.ok(inversions > 50, `inversions ${inversions}`);
  assert.is(inversions, r.stats.reordered);
});

test('corrupt: exactly one bit differs in each corrupted frame', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const a = m.station(), b = m.station();
  const fb = faulty(b.link, { clock: s, rng: xoshiro(3), corruptPct: 50 });
  const diffs: number[] = [];
  fb.onReceive((f, len) => {
    let bits = 0;
    for (let i = 0; i < len; i++) for (let x = f[i] ^ 0x5a; x; x &= x - 1) bits++;
    diffs.push(bits);
  });
  let i = 0;
  a.link.onSent(() => { if (++i < 400) a.link.send(new Uint8Array(8).fill(0x5a), 8); });
  a.link.send(new Uint8Array(8).fill(0x5a), 8);
  s.runAll();
  assert.ok(diffs.every((d) => d === 0 || d === 1));
  assert.is(diffs.filter((d) => d === 1).length, fb.stats.corrupted);
  assert.ok(fb.stats.corrupted > 150);
});

test('delay and jitter: frames arrive later; held frames are bounded', () => {
  const r = run(300, { delayUs: 5000, jitterUs: 3000, maxHeld: 8 });
  assert.ok(r.stats.overflow > 0, 'back-to-back frames with a 5 ms delay overflow 8 slots');
  assert.is(r.got.length + r.stats.overflow, 300);
  assert.equal(r.bad, []);
});

test('delay: a frame arrives exactly delayUs later, with jitter within [delay, delay + jitter]', () => {
  for (const jitterUs of [0, 400]) {
    const s = scheduler();
    const m = medium(s, { bitrate: 1e6, mtu: 16 });
    const a = m.station(), b = m.station();
    const fb = faulty(b.link, { clock: s, rng: xoshiro(4), delayUs: 5000, jitterUs });
    const at: number[] = [];
    fb.onReceive((_, __, info) => at.push(info.timeUs));
    for (let i = 0; i < 20; i++) s.at(i * 10_000, () => a.link.send(new Uint8Array([i]), 1));
    s.runAll();
    assert.is(at.length, 20);
    at.forEach((t, i) => {
      const arrive = i * 10_000 + 8; // 8 µs on air
      assert.ok(t >= arrive + 5000 && t <= arrive + 5000 + jitterUs, `frame ${i} at ${t}`);
    });
    if (jitterUs === 0) assert.ok(at.every((t, i) => t === i * 10_000 + 5008));
    else assert.ok(new Set(at.map((t, i) => t - i * 10_000)).size > 5, 'jitter varies');
  }
});

test('same seed, same damage; another seed, other damage', () => {
  const o = { dropPct: 5, dupPct: 5, reorderPct: 5, corruptPct: 5, jitterUs: 100 };
  assert.equal(run(500, o, 8).got, run(500, o, 8).got);
  assert.not.equal(run(500, o, 8).got, run(500, o, 9).got);
});

test('trace() writes one line per send, sent and receive, and passes everything through', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const lines: string[] = [];
  const a = trace(m.station().link, { clock: s, name: 'a', sink: (l) => lines.push(l) });
  const b = trace(m.station().link, { clock: s, name: 'b', sink: (l) => lines.push(l) });
  let got = 0;
  b.onReceive(() => got++);
  a.onSent(() => {});
  assert.ok(a.send(new Uint8Array([0xde, 0xad]), 2));
  assert.not.ok(a.send(new Uint8Array([1]), 1));
  s.runAll();
  assert.is(got, 1);
  assert.equal(lines.map((l) => l.trim()), ['0 a send len=2 dead', '0 a refused len=1 01', '16 b recv len=2 dead', '16 a sent ok']);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium, segment } from '../../../hal/sim/medium.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { TX_COLLISION, TX_OK } from '../../../hal/link.ts';

const frame = (n: number, v = 1) => new Uint8Array(n).fill(v);

function rxLog(st: { link: { onReceive: Function } }, s: { now(): number }) {
  const got: [number, number, number][] = [];
  st.link.onReceive((f: Uint8Array, len: number, info: { timeUs: number }) => got.push([info.timeUs, len, f[0]]));
  return got;
}

test('airtime from bit rate and preamble; delivery after airtime + propagation; onSent at end', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 32, preambleBits: 40 });
  const a = m.station({ x: 0, y: 0 });
  const b = m.station({ x: 3000, y: 0 }); // 3 km: 10 µs of propagation
  const got = rxLog(b, s);
  const sent: [number, number][] = [];
  a.link.onSent((st) => sent.push([s.now(), st]));
  assert.is(m.airtimeUs(10), 480); // (40 + 80) bits / 250 kbit/s
  assert.ok(a.link.send(frame(10, 7), 10));
  assert.not.ok(a.link.send(frame(10), 10), 'one transmission at a time');
  s.runAll();
  assert.equal(sent, [[480, TX_OK]]);
  assert.equal(got, [[490, 10, 7]]);
  assert.is(a.stats.txFrames, 1);
  assert.is(b.stats.rxFrames, 1);
});

test('send refuses frames over the MTU or empty', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 32 });
  const a = m.station();
  assert.not.ok(a.link.send(frame(33), 33));
  assert.not.ok(a.link.send(frame(1), 0));
});

test('carrier sense: busy while transmitting and while a heard signal arrives', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64, propagationUs: 5 });
  const a = m.station(), b = m.station();
  const seen: [number, boolean, boolean][] = [];
  for (const t of [0, 4, 6, 50, 84, 86, 90]) s.at(t, () => seen.push([t, a.link.busy(), b.link.busy()]));
  s.at(0, () => a.link.send(frame(10), 10)); // 80 µs on air
  s.runAll();
  // the probe at t=0 runs before the send (scheduled first); b senses the signal from t=5 to t=85
  assert.equal(seen, [[0, false, false], [4, true, false], [6, true, true], [50, true, true], [84, false, true], [86, false, false], [90, false, false]]);
});

test('overlapping frames collide at a receiver that hears both; each sender still sees TX_OK on radio', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64 });
  const a = m.station(), b = m.station(), c = m.station();
  const got = rxLog(c, s);
  const sent: number[] = [];
  a.link.onSent((st) => sent.push(st));
  b.link.onSent((st) => sent.push(st));
  s.at(0, () => a.link.send(frame(10, 0xa), 10));
  s.at(40, () => b.link.send(frame(10, 0xb), 10));
  s.at(1000, () => a.link.send(frame(4, 0xa), 4)); // later, alone: gets through
  s.runAll();
  assert.equal(got, [[1032, 4, 0xa]]);
  assert.is(c.stats.rxCollisions, 2);
  assert.equal(sent, [TX_OK, TX_OK, TX_OK]);
});

test('hidden stations: A and C cannot hear each other, both reach B, collide only at B', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64 });
  const A = m.station({ x: 0, y: 0, range: 120 });
  const B = m.station({ x: 100, y: 0, range: 120 });
  const C = m.station({ x: 200, y: 0, range: 120 });
  assert.ok(m.hears(A.id, B.id) && m.hears(C.id, B.id));
  assert.not.ok(m.hears(A.id, C.id));
  const atB = rxLog(B, s);
  let cBusyWhileA = true;
  s.at(0, () => A.link.send(frame(20, 0xa), 20));
  s.at(10, () => { cBusyWhileA = C.link.busy(); C.link.send(frame(20, 0xc), 20); });
  s.runAll();
  assert.not.ok(cBusyWhileA, 'C senses an idle medium while A transmits (hidden)');
  assert.equal(atB, []);
  assert.is(B.stats.rxCollisions, 2);
  assert.is(A.stats.rxFrames + C.stats.rxFrames, 0);
});

test('explicit hearing matrix overrides positions, one direction at a time', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64 });
  const a = m.station(), b = m.station();
  m.setHears(a.id, b.id, false);
  const atA = rxLog(a, s), atB = rxLog(b, s);
  s.at(0, () => a.link.send(frame(2, 1), 2));
  s.at(100, () => b.link.send(frame(2, 2), 2));
  s.runAll();
  assert.equal(atB, []);
  assert.equal(atA.map((r) => r[2]), [2]);
});

test('half duplex: a frame arriving while the station transmits is missed', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64 });
  const a = m.station(), b = m.station();
  const atA = rxLog(a, s);
  s.at(0, () => a.link.send(frame(10), 10));
  s.at(20, () => b.link.send(frame(10), 10));
  s.runAll();
  assert.equal(atA, []);
  assert.is(a.stats.rxMissedWhileTx, 1);
  assert.is(b.stats.rxMissedWhileTx, 1, 'b began sending while receiving a: b loses a’s frame too');
});

test('a receiver that starts mid-frame does not lock on: the late frame is lost, not garbled', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64 });
  const a = m.station(), b = m.station(), c = m.station();
  m.setHears(b.id, a.id, false);
  m.setHears(a.id, b.id, false);
  const atC = rxLog(c, s);
  s.at(0, () => a.link.send(frame(4, 0xa), 4)); // 0..32
  s.at(20, () => b.link.send(frame(10, 0xb), 10)); // 20..100, overlaps a at c
  s.at(200, () => b.link.send(frame(4, 0xb), 4));
  s.runAll();
  assert.equal(atC.map((r) => r[2]), [0xb]);
  assert.is(c.stats.rxCollisions, 2);
});

test('frames occupy [start, end): back-to-back frames at zero propagation delay do not collide', () => {
  for (const order of ['x-first', 'y-first']) {
    const s = scheduler();
    const m = medium(s, { bitrate: 1e6, mtu: 64, propagationUs: 0 });
    const x = m.station(), y = m.station(), r = m.station();
    m.setHears(x.id, y.id, false);
    m.setHears(y.id, x.id, false);
    const got = rxLog(r, s);
    // Y's send at t=320 is scheduled before X's send exists, so it runs before X's end-of-frame event
    if (order === 'y-first') s.at(320, () => y.link.send(frame(40, 0xb), 40));
    s.at(0, () => x.link.send(frame(40, 0xa), 40)); // on air [0, 320)
    if (order === 'x-first') s.at(320, () => y.link.send(frame(40, 0xb), 40));
    const probes: boolean[] = [];
    s.at(320, () => probes.push(r.link.busy()));
    s.runAll();
    assert.equal(got.map((g) => g[2]), [0xa, 0xb], order);
    assert.is(r.stats.rxCollisions, 0, order);
    assert.equal(probes, [true], 'busy at 320 because Y has begun');
  }
});

test('a station that starts sending the moment a frame to it ends still receives that frame', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64, propagationUs: 0 });
  const a = m.station(), b = m.station();
  s.at(80, () => b.link.send(frame(4, 0xb), 4)); // scheduled before a's frame exists
  s.at(0, () => a.link.send(frame(10, 0xa), 10)); // [0, 80)
  const atB = rxLog(b, s);
  s.runAll();
  assert.equal(atB.map((g) => g[2]), [0xa]);
  assert.is(b.stats.rxMissedWhileTx, 0);
});

test('loss without a random generator is refused when configured, not mid-run', () => {
  const s = scheduler();
  assert.throws(() => medium(s, { bitrate: 1e6, mtu: 8, lossPct: 5 }), /rng/);
  const m = medium(s, { bitrate: 1e6, mtu: 8 });
  m.station(); m.station();
  assert.throws(() => m.setLoss(0, 1, 5), /rng/);
});

test('per-link loss is seeded: same seed same losses, and near the set rate', () => {
  const run = (seed: number) => {
    const s = scheduler();
    const m = medium(s, { bitrate: 1e6, mtu: 64, rng: xoshiro(seed) });
    const a = m.station(), b = m.station(), c = m.station();
    m.setLoss(a.id, b.id, 30);
    const lostB: number[] = [];
    b.link.onReceive((f) => lostB.push(f[0]));
    let i = 0;
    a.link.onSent(() => { if (++i < 2000) a.link.send(new Uint8Array([i & 0xff]), 1); });
    a.link.send(new Uint8Array([0]), 1);
    s.runAll();
    return { got: lostB, b: b.stats.rxLost, c: c.stats.rxLost };
  };
  const r1 = run(3), r2 = run(3), r3 = run(4);
  assert.equal(r1, r2);
  assert.not.equal(r1.got, r3.got);
  assert.ok(r1.b > 520 && r1.b < 680, `lost ${r1.b} of 2000 at 30%`);
  assert.is(r1.c, 0, 'loss set on a->b only');
});

test('wired segment: senders detect collisions', () => {
  const s = scheduler();
  const m = segment(s);
  const a = m.station(), b = m.station();
  const st: number[] = [];
  a.link.onSent((x) => st.push(x));
  b.link.onSent((x) => st.push(x));
  s.at(0, () => a.link.send(frame(100), 100));
  s.at(2, () => b.link.send(frame(100), 100));
  s.runAll();
  assert.equal(st, [TX_COLLISION, TX_COLLISION]);
  assert.is(m.caps.medium, 'wired');
});

test('the same scenario and seed give the same trace, line for line', () => {
  const run = (seed: number) => {
    const lines: string[] = [];
    const s = scheduler();
    const rng = xoshiro(seed);
    const m = medium(s, { bitrate: 250000, mtu: 32, rng, lossPct: 10, trace: (l) => lines.push(l) });
    const st = [m.station({ x: 0, range: 50 }), m.station({ x: 40, range: 50 }), m.station({ x: 80, range: 50 })];
    for (const x of st) {
      const go = () => { s.after(500 + (rng.u32() % 3000), () => { x.link.send(new Uint8Array([x.id, 1, 2]), 3); }); };
      x.link.onSent(go);
      go();
    }
    s.runUntil(200_000);
    return lines.join('\n');
  };
  const a = run(1), b = run(1), c = run(2);
  assert.ok(a.length > 1000);
  assert.is(a, b);
  assert.is.not(a, c);
  assert.ok(/coll/.test(a), 'the scenario produces collisions');
});

test.run();

// Piconet MAC rules on the simulated medium (1 Mbit/s, 625 µs slots, PICONET_BT): slot discipline,
// ARQ under loss, flow stop, park/unpark, supervision, policies, SCO, inquiry/page, piconet isolation,
// the triplicate header, and the scatternet bridge.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../../hal/sim/scheduler.ts';
import { medium } from '../../../../hal/sim/medium.ts';
import type { Link } from '../../../../hal/link.ts';
import { TX_ERR, TX_NOACK, TX_OK } from '../../../../hal/link.ts';
import { below, xoshiro } from '../../../../hal/prng.ts';
import {
  piconetMaster, piconetSlave, POLICY_ADAPTIVE, POLICY_EXHAUSTIVE, POLICY_LIMITED, POLICY_ROUND_ROBIN, S_ACTIVE, S_PARKED, S_STANDBY,
} from '../../../../firmware/mac/piconet/piconet.ts';
import type { PiconetMaster, PiconetSlave } from '../../../../firmware/mac/piconet/piconet.ts';
import { PICONET_BT } from '../../../../firmware/mac/piconet/config.ts';
import type { PiconetConfig } from '../../../../firmware/mac/piconet/config.ts';
import { bridge } from '../../../../firmware/mac/piconet/bridge.ts';

const SLOT = 625;

interface Air { start: number; end: number; st: number; h0: number }

function world(cfgPatch: Partial<PiconetConfig> = {}, seed = 1, propagationUs = 1) {
  const s = scheduler();
  const air: Air[] = [];
  const m = medium(s, {
    bitrate: 1e6, mtu: 400, preambleBits: 72, propagationUs, rng: xoshiro(seed + 100),
    trace: (l) => {
      const t = /^\s*(\d+) tx   st=(\d+) len=\d+ dur=(\d+) ([0-9a-f]{6})/.exec(l);
      if (t) air.push({ start: +t[1], end: +t[1] + +t[3], st: +t[2], h0: parseInt(t[4].slice(4, 6), 16) });
    },
  });
  const rng = xoshiro(seed);
  const cfg = { ...PICONET_BT, supervisionUs: 200_000, ...cfgPatch };
  return { s, m, air, rng, cfg };
}

type W = ReturnType<typeof world>;

function master(w: W, addr = 100, link?: Link): PiconetMaster {
  return piconetMaster({ link: link ?? w.m.station().link, clock: w.s, rng: w.rng, addr, config: w.cfg });
}
function slave(w: W, addr: number, link?: Link): PiconetSlave {
  return piconetSlave({ link: link ?? w.m.station().link, clock: w.s, rng: w.rng, addr, config: w.cfg });
}
/** Page the addresses in order; returns when all are connected (asserts it). */
function connectAll(w: W, M: PiconetMaster, addrs: number[]): void {
  let n = 0;
  const next = (i: number): void => {
    if (i < addrs.length) M.page(addrs[i], (ok) => { if (ok) n++; next(i + 1); });
  };
  next(0);
  w.s.runUntil(w.s.now() + 500_000);
  assert.is(n, addrs.length, 'all slaves paged in');
}

test('slot discipline: master on even slots, replies right after, no two transmissions overlap', () => {
  const w = world();
  const M = master(w);
  const S = [201, 202, 203].map((a) => slave(w, a));
  connectAll(w, M, [201, 202, 203]);
  const t0 = w.s.now();
  w.air.length = 0;
  const pay = new Uint8Array(300);
  const fill = (i: number) => { while (M.send(201 + i, pay, 100 + 100 * i) === TX_OK) {} };
  const up = (i: number) => { while (S[i].send(100, pay, 150) === TX_OK) {} };
  for (let i = 0; i < 3; i++) { fill(i); up(i); S[i].onSent(() => up(i)); }
  M.onSent((_st, _n, dst) => fill(dst - 201));
  w.s.runUntil(t0 + 2_000_000);
  assert.ok(w.air.length > 500);
  const sorted = [...w.air].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].start >= sorted[i - 1].end, `overlap at ${sorted[i].start}`);
  for (const a of w.air) {
    if (a.st === 0) assert.is(Math.round(a.start / SLOT) % 2, 0, `master on an odd slot at ${a.start}`);
    if (a.st === 0) assert.is(a.start % SLOT, 0, 'master starts exactly on a slot boundary');
    else assert.is(Math.round(a.start / SLOT) % 2, 1, `slave on an even slot at ${a.start}`);
    assert.ok(a.end - a.start <= 5 * SLOT);
  }
  for (const st of w.m.stations) assert.is(st.stats.rxCollisions, 0);
});

test('ARQ: under 20 % loss each way every packet arrives once and in order, both directions', () => {
  const w = world({ maxTransmissions: 50 }, 7);
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  w.m.setLoss(0, 1, 20);
  w.m.setLoss(1, 0, 20);
  const down: number[] = [], up: number[] = [];
  S.onReceive((p) => down.push(p[0] | (p[1] << 8)));
  M.onReceive((p) => up.push(p[0] | (p[1] << 8)));
  const N = 200;
  let i = 0, j = 0;
  const fillM = () => { while (i < N && M.send(201, new Uint8Array([i & 255, i >> 8, 1, 2, 3]), 5) === TX_OK) i++; };
  const fillS = () => { while (j < N && S.send(100, new Uint8Array([j & 255, j >> 8, 9]), 3) === TX_OK) j++; };
  const st: number[] = [];
  M.onSent((s2) => { st.push(s2); fillM(); });
  S.onSent(() => fillS());
  fillM();
  fillS();
  w.s.runUntil(w.s.now() + 20_000_000);
  assert.equal(down, [...Array(N).keys()]);
  assert.equal(up, [...Array(N).keys()]);
  assert.ok(st.every((x) => x === TX_OK));
  assert.ok(M.stats.slaves[1].retransmissions > 10, 'losses were recovered by retransmission');
  assert.ok(M.stats.slaves[1].duplicates + S.stats.duplicates > 0, 'lost ACKs produced resent copies, recognised by SEQN');
});

test('a reply that ends exactly at the mid-slot check is taken (30-byte DH1: 312 µs of a 625 µs slot)', () => {
  const w = world({}, 1, 0); // no propagation delay: the reply ends exactly at slot start + 312 µs
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  const got: number[] = [];
  M.onReceive((p) => got.push(p[0]));
  for (let i = 0; i < 5; i++) S.send(100, new Uint8Array(19).fill(i), 19); // 11 + 19 = 30 bytes: 72 + 240 = 312 µs
  w.s.runUntil(w.s.now() + 50_000);
  assert.equal(got, [0, 1, 2, 3, 4]);
  assert.is(M.stats.slaves[1].missed, 0);
  assert.is(S.stats.retransmissions, 0);
});

test('under 15 % loss with long replies the master keeps to its slots (a lost reply never moves its timing)', () => {
  const w = world({ maxTransmissions: 8 }, 3);
  const M = master(w);
  const addrs = [201, 202, 203, 204, 205];
  const S = addrs.map((a) => slave(w, a));
  connectAll(w, M, addrs);
  for (let i = 1; i <= 5; i++) { w.m.setLoss(0, i, 15); w.m.setLoss(i, 0, 15); }
  const rng = xoshiro(9);
  const pay = new Uint8Array(339);
  const t0 = w.s.now();
  w.air.length = 0;
  for (let k = 0; k < 400; k++) {
    w.s.at(t0 + k * 20_000, () => {
      const i = below(rng, 5);
      M.send(addrs[i], pay, 1 + below(rng, 339));
      S[below(rng, 5)].send(100, pay, 1 + below(rng, 339));
    });
  }
  w.s.runUntil(t0 + 9_000_000);
  const sorted = [...w.air].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i].start >= sorted[i - 1].end, `overlap at ${sorted[i].start}`);
  for (const a of w.air) if (a.st === 0) assert.is(a.start % (2 * SLOT), 0, `master off its even slots at ${a.start}`);
});

test('after a frame is given up (TX_NOACK), the next one is never lost as a "duplicate": every TX_OK is delivered', () => {
  for (const dir of ['down', 'up']) {
    const w = world({ maxTransmissions: 2, supervisionUs: 60_000_000 }, 11);
    const M = master(w);
    const S = slave(w, 201);
    connectAll(w, M, [201]);
    if (dir === 'down') w.m.setLoss(0, 1, 50);
    else w.m.setLoss(1, 0, 50);
    const delivered: number[] = [];
    const ok: number[] = [];
    const from = dir === 'down' ? M : S;
    (dir === 'down' ? S : M).onReceive((p) => delivered.push(p[0] | (p[1] << 8)));
    let i = 0;
    const queued: number[] = [];
    from.onSent((st) => {
      const id = queued.shift()!;
      if (st === TX_OK) ok.push(id);
      next();
    });
    const next = (): void => {
      if (i >= 250) return;
      const id = i++;
      queued.push(id);
      from.send(dir === 'down' ? 201 : 100, new Uint8Array([id & 255, id >> 8]), 2);
    };
    next();
    w.s.runUntil(w.s.now() + 30_000_000);
    assert.is(i, 250);
    assert.ok(ok.length > 100 && ok.length < 250, `${dir}: some frames were given up (${ok.length} ok)`);
    const got = new Set(delivered);
    for (const id of ok) assert.ok(got.has(id), `${dir}: frame ${id} reported TX_OK but never delivered`);
    assert.is(delivered.length, got.size, `${dir}: nothing delivered twice`);
  }
});

test('a slave the master has dropped notices, even while the master goes on polling others', () => {
  const w = world({ supervisionUs: 100_000 });
  const M = master(w);
  const A = slave(w, 201), B = slave(w, 202);
  connectAll(w, M, [201, 202]);
  const lost: string[] = [];
  A.onLost((r) => lost.push(r));
  w.m.setLoss(1, 0, 100); // A's replies never reach the master; A still hears everything
  w.s.runUntil(w.s.now() + 400_000);
  assert.equal(M.slaves().map((x) => x.addr), [202]);
  assert.equal(lost, ['timeout']);
  assert.is(A.state(), S_STANDBY);
  w.m.setLoss(1, 0, 0);
  let ok = false;
  M.page(201, (r) => (ok = r));
  w.s.runUntil(w.s.now() + 100_000);
  assert.ok(ok && A.state() === S_ACTIVE, 'paged back in');
  void B;
});

test('page or inquiry asked for in the middle of an exchange waits for it: no reply lost, no false ACK', () => {
  const w = world({ supervisionUs: 60_000_000, pageTimeoutUs: 20_000 });
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  const got: number[] = [];
  M.onReceive((p) => got.push(p[0]));
  const ok: number[] = [];
  let n = 0;
  const queued: number[] = [];
  const more = (): void => { if (n < 60 && S.send(100, new Uint8Array([n]), 1) === TX_OK) queued.push(n++); };
  S.onSent((st) => { const id = queued.shift()!; if (st === TX_OK) ok.push(id); more(); });
  for (let k = 0; k < 8; k++) more();
  // Ask for pages and inquiries at moments that fall between a POLL and its reply.
  const t = w.s.now();
  for (let k = 0; k < 10; k++) w.s.at(t + 40_000 * k + 700, () => (k % 2 ? M.inquiry(5_000, () => {}) : M.page(999, () => {})));
  w.s.runUntil(t + 2_000_000);
  const set = new Set(got);
  for (const id of ok) assert.ok(set.has(id), `frame ${id} acknowledged to the slave but never delivered`);
  assert.is(got.length, set.size, 'nothing delivered twice');
  assert.equal([...set].sort((a, b) => a - b), [...Array(60).keys()]);
});

test('an SCO reservation goes with its slave', () => {
  const w = world();
  const M = master(w);
  const A = slave(w, 201), B = slave(w, 202);
  connectAll(w, M, [201]);
  assert.ok(M.addSco(201, 6, 0));
  M.detach(201);
  w.s.runUntil(w.s.now() + 50_000);
  connectAll(w, M, [202]); // takes AM_ADDR 1
  let hv3 = 0;
  B.onSco(null, () => hv3++);
  w.s.runUntil(w.s.now() + 50_000);
  assert.is(hv3, 0, 'the new slave on AM_ADDR 1 did not inherit the link');
  assert.ok(M.addSco(202, 6, 0), 'the slots are free again');
  void A;
});

test('a packet nobody acknowledges is dropped with TX_NOACK after maxTransmissions', () => {
  const w = world({ maxTransmissions: 4, supervisionUs: 10_000_000 });
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  w.m.setHears(0, 1, false);
  const st: number[][] = [];
  M.onSent((s2, n) => st.push([s2, n]));
  M.send(201, new Uint8Array([1]), 1);
  w.s.runUntil(w.s.now() + 100_000);
  assert.equal(st, [[TX_NOACK, 4]]);
  void S;
});

test('flow: a slave that says stop gets only POLLs until it says go', () => {
  const w = world();
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  const got: number[] = [];
  S.onReceive((p) => got.push(p[0]));
  S.setFlow(false);
  w.s.runUntil(w.s.now() + 10_000); // the master learns the FLOW bit from the next reply
  for (let i = 0; i < 5; i++) M.send(201, new Uint8Array([i]), 1);
  const t = w.s.now();
  w.s.runUntil(t + 50_000);
  assert.equal(got, []);
  assert.ok(M.stats.slaves[1].polls > 20);
  S.setFlow(true);
  w.s.runUntil(t + 100_000);
  assert.equal(got, [0, 1, 2, 3, 4]);
});

test('park frees the AM_ADDR, a parked slave stays synchronised on beacons, unpark brings it back', () => {
  const w = world({ beaconUs: 50_000, supervisionUs: 300_000 });
  const M = master(w);
  const A = slave(w, 201), B = slave(w, 202);
  connectAll(w, M, [201]);
  assert.ok(M.park(201));
  w.s.runUntil(w.s.now() + 20_000);
  assert.is(A.state(), S_PARKED);
  assert.equal(M.slaves().map((x) => [x.addr, x.am, x.pm]), [[201, 0, 1]]);
  connectAll(w, M, [202]); // takes the freed AM_ADDR 1
  assert.equal(M.slaves().map((x) => [x.addr, x.am]), [[202, 1], [201, 0]]);
  w.s.runUntil(w.s.now() + 1_000_000); // well past supervision: beacons keep the parked slave
  assert.is(A.state(), S_PARKED);
  assert.ok(M.stats.beacons > 10);
  assert.ok(M.unpark(201));
  w.s.runUntil(w.s.now() + 20_000);
  assert.is(A.state(), S_ACTIVE);
  const got: number[] = [];
  A.onReceive((p) => got.push(p[0]));
  M.send(201, new Uint8Array([42]), 1);
  w.s.runUntil(w.s.now() + 20_000);
  assert.equal(got, [42]);
  void B;
});

test('supervision: a slave that goes away is dropped by the master, and the slave reports its lost master', () => {
  const w = world({ supervisionUs: 100_000 });
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  const lostAtM: number[] = [];
  const lostAtS: string[] = [];
  M.onSlaveLost((a) => lostAtM.push(a));
  S.onLost((r) => lostAtS.push(r));
  const t = w.s.now();
  w.m.setHears(0, 1, false);
  w.m.setHears(1, 0, false);
  w.s.runUntil(t + 90_000);
  assert.equal(lostAtM, []);
  w.s.runUntil(t + 150_000);
  assert.equal(lostAtM, [201]);
  assert.equal(lostAtS, ['timeout']);
  assert.is(S.state(), S_STANDBY);
  assert.equal(M.slaves(), []);
});

test('detach: the slave is told, reports it, and goes back to standby', () => {
  const w = world();
  const M = master(w);
  const S = slave(w, 201);
  connectAll(w, M, [201]);
  const lost: string[] = [];
  S.onLost((r) => lost.push(r));
  assert.ok(M.detach(201));
  w.s.runUntil(w.s.now() + 20_000);
  assert.equal(lost, ['detached']);
  assert.equal(M.slaves(), []);
});

test('inquiry finds the standby nodes in range, not connected or distant ones; page connects one', () => {
  const w = world();
  const M = master(w);
  const near = [301, 302, 303].map((a) => slave(w, a));
  const far = slave(w, 304);
  const conn = slave(w, 201);
  connectAll(w, M, [201]);
  for (let i = 0; i < w.m.stations.length; i++) {
    if (i !== 4) continue; // stations: 0 master, 1-3 near, 4 far, 5 conn
    w.m.setHears(0, i, false);
    w.m.setHears(i, 0, false);
  }
  let found: number[] = [];
  M.inquiry(200_000, (f) => (found = f));
  w.s.runUntil(w.s.now() + 300_000);
  assert.equal([...found].sort(), [301, 302, 303]);
  let ok = false;
  M.page(302, (r) => (ok = r));
  w.s.runUntil(w.s.now() + 50_000);
  assert.ok(ok);
  assert.is(near[1].state(), S_ACTIVE);
  assert.is(near[1].master(), 100);
  let failed = true;
  M.page(304, (r) => (failed = !r));
  w.s.runUntil(w.s.now() + 2_000_000);
  assert.ok(failed, 'paging a node out of range times out');
  void far; void conn;
});

test('overlapping piconets ignore each other (access code from the master address)', () => {
  const w = world();
  const M1 = master(w, 100);
  const S1 = slave(w, 201);
  connectAll(w, M1, [201]);
  w.s.runUntil(w.s.now() + 312); // piconet 2's slots half a slot later, so the two do not collide on air
  const M2 = master(w, 110);
  const S2 = slave(w, 202);
  connectAll(w, M2, [202]);
  // Both slaves have AM_ADDR 1 and hear both masters.
  const got1: number[] = [], got2: number[] = [];
  S1.onReceive((p) => got1.push(p[0]));
  S2.onReceive((p) => got2.push(p[0]));
  for (let i = 0; i < 5; i++) M1.send(201, new Uint8Array([i]), 1);
  w.s.runUntil(w.s.now() + 100_000);
  assert.equal(got1, [0, 1, 2, 3, 4]);
  assert.equal(got2, [], 'S2 ignored data for AM_ADDR 1 of the other piconet');
  assert.is(M1.stats.slaves[1].duplicates + M1.stats.slaves[1].missed, 0, 'no reply from S2 confused M1');
  assert.equal(M2.slaves().map((x) => x.addr), [202]);
});

test('triplicate header: a flipped bit in one copy is outvoted; with a single header the HEC drops the packet', () => {
  for (const triple of [true, false]) {
    const w = world({ tripleHeader: triple });
    const s = w.s;
    const ml = w.m.station().link;
    // The slave's receiver flips one bit of the first header copy in every other packet.
    const raw = w.m.station().link;
    let k = 0;
    const noisy: Link = { ...raw, onReceive: (fn) => raw.onReceive(fn && ((f, len, i) => { const g = f.slice(0, len); if (k++ % 2) g[2] ^= 0x10; fn(g, len, i); })) };
    const M = master(w, 100, ml);
    const S = slave(w, 201, noisy);
    M.page(201, () => {});
    s.runUntil(100_000);
    const got: number[] = [];
    S.onReceive((p) => got.push(p[0]));
    for (let i = 0; i < 5; i++) M.send(201, new Uint8Array([i]), 1);
    s.runUntil(200_000);
    if (triple) {
      assert.is(S.stats.hecErrors, 0);
      assert.equal(got, [0, 1, 2, 3, 4]);
    } else {
      assert.ok(S.stats.hecErrors > 5);
    }
  }
});

test('policies: round-robin alternates, limited stays k, exhaustive empties, adaptive skips idle slaves', () => {
  const run = (policy: number, k: number, keep = 6) => {
    const w = world();
    const M = master(w);
    const S = [201, 202, 203].map((a) => slave(w, a));
    connectAll(w, M, [201, 202, 203]);
    M.setPolicy(policy, k);
    const order: number[] = [];
    for (const sl of S) sl.onReceive((_p, _l) => order.push(sl.addr));
    for (const a of [201, 202]) for (let i = 0; i < 6; i++) M.send(a, new Uint8Array([i]), 1);
    const p0 = M.stats.slaves[3].polls;
    w.s.runUntil(w.s.now() + 400_000);
    return { order: order.slice(0, keep), idlePolls: M.stats.slaves[3].polls - p0 };
  };
  // Which slave comes first depends on where idle polling was; the structure does not.
  const rrOrder = run(POLICY_ROUND_ROBIN, 1).order;
  assert.ok(rrOrder.every((x, i) => i === 0 || x !== rrOrder[i - 1]), `round-robin alternates: ${rrOrder}`);
  // The visit in progress when the data arrives may have used some of its k exchanges already:
  // every visit after it has exactly k = 3.
  const lim = run(POLICY_LIMITED, 3, 12).order;
  const runs: number[] = [];
  for (let i = 0; i < lim.length; i++) if (i === 0 || lim[i] !== lim[i - 1]) runs.push(1); else runs[runs.length - 1]++;
  assert.ok(runs.length >= 3 && runs.slice(1, -1).every((r) => r === 3) && runs[0] <= 3, `limited k=3: ${lim}`);
  const ex = run(POLICY_EXHAUSTIVE, 1).order;
  assert.ok(ex.every((x) => x === ex[0]), `exhaustive empties one slave first: ${ex}`);
  const rr = run(POLICY_ROUND_ROBIN, 1).idlePolls;
  const ad = run(POLICY_ADAPTIVE, 1).idlePolls;
  assert.ok(ad * 3 < rr, `adaptive polls the idle slave far less (${ad} vs ${rr})`);
});

test('SCO: HV3 every 6 slots both ways; ACL still flows in the gaps with smaller packets', () => {
  const w = world();
  const M = master(w);
  const A = slave(w, 201), B = slave(w, 202);
  connectAll(w, M, [201, 202]);
  assert.ok(M.addSco(201, 6, 0));
  assert.not.ok(M.addSco(202, 6, 0), 'the same slots cannot be reserved twice');
  let atSlave = 0, atMaster = 0;
  A.onSco((buf) => buf.fill(0xaa), (p) => { if (p[0] === 0x55) atSlave++; });
  M.onSco((_a, buf) => buf.fill(0x55), (_a, p) => { if (p[0] === 0xaa) atMaster++; });
  const got: number[] = [];
  B.onReceive((p, len) => got.push(len));
  const pay = new Uint8Array(339);
  const fill = () => { while (M.send(202, pay, 339) === TX_OK) {} };
  M.onSent(() => fill());
  fill();
  const t = w.s.now();
  w.air.length = 0;
  w.s.runUntil(t + 375_000); // 600 slots = 100 HV3 periods
  assert.ok(atSlave >= 99 && atMaster >= 99, `${atSlave} ${atMaster}`);
  const hv3 = w.air.filter((a) => a.st === 0 && ((a.h0 >> 3) & 15) === 7);
  for (let i = 1; i < hv3.length; i++) assert.is(hv3[i].start - hv3[i - 1].start, 6 * SLOT);
  assert.equal(got, [], 'DH5 (339 bytes) cannot fit in the 4 free slots');
  assert.ok(M.stats.slaves[2].dropped > 10, 'such frames are reported (TX_ERR), not left to block the queue');
  M.removeSco(201);
  w.s.runUntil(t + 500_000);
  assert.ok(got.length > 10 && got.every((x) => x === 339), 'after the reservation is removed DH5 flows');
});

test('with an SCO link and exhaustive polling, an oversized frame does not stall the other slaves', () => {
  const w = world();
  const M = master(w);
  const S = [201, 202, 203].map((a) => slave(w, a));
  connectAll(w, M, [201, 202, 203]);
  M.setPolicy(POLICY_EXHAUSTIVE, 1);
  assert.ok(M.addSco(203, 6, 0));
  const st: number[] = [];
  M.onSent((x, _n, dst) => { if (dst === 201) st.push(x); });
  const got: number[] = [];
  S[1].onReceive((p) => got.push(p[0]));
  M.send(201, new Uint8Array(339), 339);
  for (let i = 0; i < 5; i++) M.send(202, new Uint8Array([i]), 1);
  w.s.runUntil(w.s.now() + 1_000_000);
  assert.equal(got, [0, 1, 2, 3, 4]);
  assert.equal(st, [TX_ERR]);
});

test('broadcast from the master reaches every active slave, with no reply slot used', () => {
  const w = world();
  const M = master(w);
  const S = [201, 202].map((a) => slave(w, a));
  connectAll(w, M, [201, 202]);
  const got: number[] = [];
  for (const sl of S) sl.onReceive((p, _l, info) => got.push(info.dst === 0xffff ? p[0] : -1));
  M.send(0xffff, new Uint8Array([7]), 1);
  w.s.runUntil(w.s.now() + 10_000);
  assert.equal(got, [7, 7]);
  assert.is(M.stats.broadcasts, 1);
});

test('scatternet: a bridge that is a slave in two piconets forwards between them', () => {
  const w = world({ supervisionUs: 2_000_000, maxTransmissions: 255 });
  const MA = master(w, 100);
  // Piconets run on unrelated clocks: start B's slots half a slot later (with one radio channel and no
  // frequency hopping in the simulator, two aligned piconets would collide at the bridge).
  w.s.runUntil(312);
  const MB = master(w, 110);
  const br = bridge({ link: w.m.station().link, clock: w.s, rng: w.rng, addr: 250, config: w.cfg, dwellUs: 20_000 });
  // The two masters cannot hear each other (two piconets in two rooms, the bridge between them).
  w.m.setHears(0, 1, false);
  w.m.setHears(1, 0, false);
  let a = false, b = false;
  MA.page(250, (ok) => (a = ok));
  MB.page(250, (ok) => (b = ok));
  w.s.runUntil(1_000_000);
  assert.ok(a && b, `bridge joined both piconets (${a}, ${b})`);
  const atB: number[] = [], atA: number[] = [];
  MB.onReceive((p) => atB.push(p[0]));
  MA.onReceive((p) => atA.push(p[0]));
  for (let i = 0; i < 5; i++) MA.send(250, new Uint8Array([i]), 1);
  for (let i = 0; i < 3; i++) MB.send(250, new Uint8Array([100 + i]), 1);
  w.s.runUntil(3_000_000);
  assert.equal(atB, [0, 1, 2, 3, 4]);
  assert.equal(atA, [100, 101, 102]);
  // Which of the bridge's two roles joined which piconet depends on who paged it first.
  assert.is(br.stats.forwardedAB + br.stats.forwardedBA, 8);
  assert.is(br.a.state(), S_ACTIVE);
  assert.is(br.b.state(), S_ACTIVE);
});

test('configuration that cannot work is refused at creation', () => {
  const w = world();
  assert.throws(() => piconetMaster({ link: w.m.station().link, clock: w.s, rng: w.rng, addr: 1, config: { ...PICONET_BT, slotUs: 300 } }), /does not fit/);
  const s2 = scheduler();
  const small = medium(s2, { bitrate: 1e6, mtu: 40 });
  assert.throws(() => piconetSlave({ link: small.station().link, clock: s2, rng: w.rng, addr: 1, config: PICONET_BT }), /link mtu/);
});

test.run();

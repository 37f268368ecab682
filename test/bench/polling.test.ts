// The polling closed forms (bench/model/polling.ts) against numbers worked out by hand from the slot
// arithmetic (625 µs slots; DH1/DH3/DH5 = 27/183/339 bytes in 1/3/5 slots, Bluetooth Core 1.1), a
// slot-by-slot layout of exchanges between HV3 reservations, and Monte Carlo runs of the queues the
// delay formulas describe (a slotted single-server queue; a cyclic exhaustive server).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { AclType, Direction } from '../../bench/model/polling.ts';
import {
  ACL, ACL_TYPES, DIRECTIONS, exhaustiveWaitUs, roundRobinKbps, roundRobinWaitUs, scoAclKbps, scoBest, scoGap,
  visitSlots,
} from '../../bench/model/polling.ts';
import { xoshiro } from '../../hal/prng.ts';
import type { Rng } from '../../hal/rng.ts';

const close = (a: number, b: number, rel: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b} (tolerance ${rel * 100} %)`);

test('one saturated slave alone, one way: payload * 8 / ((slots + 1) * 625 µs)', () => {
  // 339 * 8 = 2712 bits per 6 slots (3750 µs) = 723.2 kbit/s; 183 * 8 / 2500 µs; 27 * 8 / 1250 µs.
  close(roundRobinKbps('DH5', 'down', 1, 1), 723.2, 1e-12, 'DH5 down');
  close(roundRobinKbps('DH5', 'up', 1, 1), 723.2, 1e-12, 'DH5 up');
  close(roundRobinKbps('DH3', 'down', 1, 1), 585.6, 1e-12, 'DH3 down');
  close(roundRobinKbps('DH1', 'up', 1, 1), 172.8, 1e-12, 'DH1 up');
});

test('both ways: 2n slots per exchange, two payloads (DH5: 433.92 each way, 867.84 in all)', () => {
  close(roundRobinKbps('DH5', 'both', 1, 1), 867.84, 1e-12, 'DH5 both');
  close(roundRobinKbps('DH5', 'both', 1, 1) / 2, 433.92, 1e-12, 'DH5 each way');
  close(roundRobinKbps('DH3', 'both', 1, 1), 780.8, 1e-12, 'DH3 both'); // 2 * 1464 bits / 3750 µs
  close(roundRobinKbps('DH1', 'both', 1, 1), 345.6, 1e-12, 'DH1 both'); // 2 * 216 bits / 1250 µs
});

test('k of 7 saturated, the idle ones costing POLL + NULL', () => {
  // All 7 saturated: the same as one slave alone.
  close(roundRobinKbps('DH5', 'down', 7), 723.2, 1e-12, 'DH5 down k=7');
  close(roundRobinKbps('DH1', 'down', 7), 172.8, 1e-12, 'DH1 down k=7');
  // k = 1: 6 slots + 6 * 2 idle = 18 slots = 11 250 µs per round: 2712 / 11.25 = 241.0667.
  close(roundRobinKbps('DH5', 'down', 1), 2712 / 11.25, 1e-12, 'DH5 down k=1');
  // DH1 k = 1: 2 + 12 = 14 slots = 8750 µs: 216 / 8.75 = 24.6857.
  close(roundRobinKbps('DH1', 'up', 1), 216 / 8.75, 1e-12, 'DH1 up k=1');
  // DH3 both k = 3: 3 * 6 + 4 * 2 = 26 slots = 16 250 µs, 3 * 2 * 1464 bits: 540.55.
  close(roundRobinKbps('DH3', 'both', 3), (6 * 1464) / 16.25, 1e-12, 'DH3 both k=3');
  assert.throws(() => roundRobinKbps('DH1', 'down', 0));
  assert.throws(() => roundRobinKbps('DH1', 'down', 8));
});

test('goodput grows with k, never beyond all-saturated, and up equals down', () => {
  fc.assert(
    fc.property(fc.constantFrom(...ACL_TYPES), fc.constantFrom(...DIRECTIONS), fc.integer({ min: 1, max: 6 }), (t: AclType, d: Direction, k: number) => {
      const a = roundRobinKbps(t, d, k);
      const b = roundRobinKbps(t, d, k + 1);
      return a < b && b <= roundRobinKbps(t, d, 7) + 1e-9 && roundRobinKbps(t, 'up', k) === roundRobinKbps(t, 'down', k);
    }),
    { seed: 42, numRuns: 200 },
  );
});

test('SCO: the gaps between HV3 reservations and what fits in them', () => {
  assert.is(scoGap(0), Infinity);
  assert.is(scoGap(1), 4);
  assert.is(scoGap(2), 2);
  // No SCO: back-to-back exchanges, the k = 1 alone figures.
  close(scoAclKbps('DH5', 'down', 0), 723.2, 1e-12, 'DH5 no SCO');
  // One HV3 link: DH3 + 1-slot reply fills the 4 free slots: 1464 bits per 3750 µs.
  close(scoAclKbps('DH3', 'down', 1), 390.4, 1e-12, 'DH3 down, 1 HV3');
  close(scoAclKbps('DH3', 'up', 1), 390.4, 1e-12, 'DH3 up, 1 HV3');
  assert.is(scoAclKbps('DH5', 'down', 1), 0); // DH5 + reply = 6 slots > 4
  close(scoAclKbps('DH1', 'down', 1), 115.2, 1e-12, 'DH1 down, 1 HV3'); // 2 exchanges: 432 bits / 3750 µs
  close(scoAclKbps('DH1', 'both', 1), 230.4, 1e-12, 'DH1 both, 1 HV3'); // 2 exchanges of 2 payloads
  close(scoAclKbps('DH3', 'both', 1), 390.4, 1e-12, 'DH3 both, 1 HV3'); // reply budget 1: downlink only
  // Two HV3 links: 2 free slots in 6, only DH1 + reply: 216 bits / 3750 µs.
  close(scoAclKbps('DH1', 'down', 2), 57.6, 1e-12, 'DH1 down, 2 HV3');
  close(scoAclKbps('DH1', 'both', 2), 115.2, 1e-12, 'DH1 both, 2 HV3');
  assert.is(scoAclKbps('DH3', 'up', 2), 0);
  assert.equal(scoBest('down', 0), { type: 'DH5', kbps: 723.2 });
  assert.equal(scoBest('down', 1).type, 'DH3');
  assert.equal(scoBest('up', 2).type, 'DH1');
});

/**
 * Lays exchanges out slot by slot: reserved pairs at the given offsets of every 6-slot interval; at
 * each free master slot an exchange of the given lengths starts if it ends before the next reserved
 * slot (the reply shrinks to what is left, carrying data only if its packet fits), otherwise a
 * POLL + NULL passes. Returns payload bits per ms over many intervals.
 */
function layout(type: AclType, dir: Direction, offsets: number[]): number {
  const n = ACL[type].slots;
  const reserved = (s: number): boolean => offsets.some((o) => s % 6 === o || s % 6 === o + 1);
  const freeFrom = (s: number): number => {
    let f = 0;
    while (f < 12 && !reserved(s + f)) f++;
    return f;
  };
  const slots = 6 * 1000;
  let s = 0;
  let payloads = 0;
  while (s < slots) {
    if (reserved(s)) { s += 2; continue; }
    const free = freeFrom(s);
    const master = dir === 'up' ? 1 : n; // POLL or data
    if (master + 1 > free) { s += 2; continue; } // the data packet waits; a POLL + NULL instead
    const budget = free - master;
    const reply = dir === 'down' ? 1 : n <= budget ? n : 1; // data if it fits, else NULL
    if (dir !== 'up') payloads++;
    if (dir !== 'down' && reply === n) payloads++;
    s += master + reply;
  }
  return (payloads * ACL[type].payload * 8 * 1000) / (slots * 625);
}

test('SCO closed form agrees with a slot-by-slot layout (back-to-back reservations at any offsets)', () => {
  for (const t of ACL_TYPES) {
    for (const d of DIRECTIONS) {
      for (const off of [[0], [2], [4]]) close(layout(t, d, off), scoAclKbps(t, d, 1), 1e-9, `${t} ${d} HV3 at ${off}`);
      for (const off of [[0, 2], [0, 4], [2, 4]]) close(layout(t, d, off), scoAclKbps(t, d, 2), 1e-9, `${t} ${d} HV3 at ${off}`);
    }
  }
});

test('SCO: the capacity left never beats the free share of the channel', () => {
  for (const t of ACL_TYPES) {
    for (const d of DIRECTIONS) {
      for (const links of [1, 2]) {
        assert.ok(scoAclKbps(t, d, links) <= (scoAclKbps(t, d, 0) * scoGap(links)) / 6 + 1e-9, `${t} ${d} ${links}`);
      }
    }
  }
});

test('visit lengths', () => {
  assert.is(visitSlots('DH1', 'down'), 2);
  assert.is(visitSlots('DH5', 'up'), 6);
  assert.is(visitSlots('DH3', 'both'), 6);
});

const exp = (rng: Rng, rate: number): number => -Math.log((rng.u32() + 1) / 0x100000000) / rate;

/** Monte Carlo: one queue with Poisson(lambda) arrivals and a transmission opportunity every T. */
function slottedWait(lambda: number, T: number, packets: number, seed: number): number {
  const rng = xoshiro(seed);
  let next = exp(rng, lambda);
  const queue: number[] = [];
  let sum = 0;
  let served = 0;
  for (let j = 1; served < packets; j++) {
    const t = j * T;
    while (next <= t) { queue.push(next); next += exp(rng, lambda); }
    if (queue.length > 0) { sum += t - queue.shift()!; served++; }
  }
  return sum / served;
}

/** Monte Carlo: a cyclic server over n queues, exhaustive, service b and switchover r deterministic. */
function exhaustiveWait(lambda: number, n: number, b: number, r: number, packets: number, seed: number): number {
  const rng = xoshiro(seed);
  const next: number[] = [];
  const queues: number[][] = [];
  for (let i = 0; i < n; i++) { next.push(exp(rng, lambda)); queues.push([]); }
  const admit = (i: number, t: number): void => {
    while (next[i] <= t) { queues[i].push(next[i]); next[i] += exp(rng, lambda); }
  };
  let t = 0;
  let sum = 0;
  let served = 0;
  for (let i = 0; served < packets; i = (i + 1) % n) {
    for (;;) {
      admit(i, t);
      if (queues[i].length === 0) break;
      sum += t - queues[i].shift()!;
      served++;
      t += b;
    }
    t += r;
  }
  return sum / served;
}

test('round-robin wait: T / (2 (1 - rho)), a slotted M/D/1 queue', () => {
  const T = 7 * 1250;
  close(roundRobinWaitUs(0, 7, 1250), T / 2, 1e-12, 'no load: half a cycle');
  for (const rho of [0.3, 0.6]) {
    const lambda = rho / T;
    close(slottedWait(lambda, T, 200_000, 7), roundRobinWaitUs(lambda, 7, 1250), 0.02, `rho ${rho}`);
  }
  assert.throws(() => roundRobinWaitUs(1 / (7 * 1250), 7, 1250));
});

test("exhaustive wait: Takagi's symmetric formula, its limits, and a cyclic-server Monte Carlo", () => {
  // One queue without switchover: Pollaczek-Khinchine for M/D/1, lambda b^2 / (2 (1 - rho)).
  close(exhaustiveWaitUs(0.0005, 1, 1000, 0), (0.0005 * 1e6) / (2 * 0.5), 1e-12, 'M/D/1');
  // No load: the residual of a deterministic cycle of switchovers, R / 2.
  close(exhaustiveWaitUs(0, 7, 1250, 1250), (7 * 1250) / 2, 1e-12, 'no load');
  for (const [rho, b, r] of [[0.3, 1250, 1250], [0.6, 1250, 1250], [0.5, 2000, 500]]) {
    const lambda = rho / (7 * b);
    close(exhaustiveWait(lambda, 7, b, r, 200_000, 11), exhaustiveWaitUs(lambda, 7, b, r), 0.03, `rho ${rho} b ${b} r ${r}`);
  }
  // With service = switchover, exhaustive waits as long as round-robin (both give T / (2 (1 - rho))).
  close(exhaustiveWaitUs(0.6 / 8750, 7, 1250, 1250), roundRobinWaitUs(0.6 / 8750, 7, 1250), 1e-12, 'b = r');
});

test.run();

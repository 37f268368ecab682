// Piconet MAC against the slot arithmetic of polling (issue "Piconet MAC", section Validation;
// textbook 3.5.3; Bluetooth Core 1.1 baseband figures). A master and 7 slaves (firmware/mac/piconet,
// PICONET_BT) on the simulated medium at 1 Mbit/s (72-bit access code, 1 µs propagation), connected
// by paging each slave in turn, then:
// - goodput: for DH1, DH3, DH5 payloads (27, 183, 339 bytes), traffic down (master to slaves), up and
//   both, and k = 1..7 saturated slaves (the others idle), the aggregate payload bits delivered per
//   second of channel time after a warm-up, against round-robin's closed form (bench/model/polling.ts);
// - sco: ACL goodput left to one saturated slave (exhaustive polling, so every free slot is its) with
//   0, 1 and 2 HV3 links (interval 6, offsets 0 and 2, to two other slaves), per payload size, against
//   the closed form of what fits in the gaps between reservations;
// - delay: Poisson arrivals (seeded) of DH1-sized payloads at 30 % and 60 % of DH1 round-robin
//   capacity, spread evenly over the 7 slaves, mean time from the application's send to delivery, for
//   limited polling (k = 1) against exhaustive, uplink and downlink separately, with the closed forms
//   where the piconet is a textbook polling system (slotted M/D/1 for k = 1; Takagi's exhaustive
//   formula for the uplink).
// Headline: the largest |relative error| of the goodput grid (smaller is better; the target is 0.01).
// Options: --seconds=S measured channel time per goodput/SCO point (10), --warmup=S (0.5),
// --delay-seconds=S (200), --type=DH1,DH5 --dir=down,up --k=1,7 to run a subset, --part=goodput,sco,delay,
// --seed=K, --trace (print the medium's trace of the first 30 ms after warm-up of each point, to
// stderr), --quick (a few points, short runs), --json.
import type { BenchResult, BenchRow } from './run.ts';
import type { AclType, Direction } from './model/polling.ts';
import {
  ACL, ACL_TYPES, DIRECTIONS, MAX_ACTIVE, SLOT_US, exhaustiveWaitUs, roundRobinKbps, roundRobinWaitUs, scoAclKbps,
} from './model/polling.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import type { Scheduler } from '../hal/sim/scheduler.ts';
import { medium } from '../hal/sim/medium.ts';
import type { Medium } from '../hal/sim/medium.ts';
import { xoshiro } from '../hal/prng.ts';
import type { SeededRng } from '../hal/prng.ts';
import { TX_OK } from '../hal/link.ts';
import { POLICY_EXHAUSTIVE, POLICY_LIMITED, piconetMaster, piconetSlave } from '../firmware/mac/piconet/piconet.ts';
import type { PiconetMaster, PiconetSlave } from '../firmware/mac/piconet/piconet.ts';
import { PICONET_BT } from '../firmware/mac/piconet/config.ts';

const MASTER_ADDR = 100;
const SLAVE_ADDR = 200; // slave i has address 200 + i and, paged in order, AM_ADDR i + 1
const BITRATE = 1e6;
const PREAMBLE_BITS = 72;
const PROPAGATION_US = 1;
const MEDIUM_MTU = 400;
/** Long enough that slaves the master never visits (exhaustive polling elsewhere) stay connected. */
const SUPERVISION_US = 3_600_000_000;

export interface GoodputPoint { type: AclType; dir: Direction; saturated: number; kbps: number; model: number }
export interface ScoPoint { links: number; type: AclType; dir: Direction; kbps: number; model: number }
export interface DelayPoint { policy: 'limited' | 'exhaustive'; dir: 'down' | 'up'; load: number; meanMs: number; model: number | null; packets: number }

interface Net {
  s: Scheduler;
  m: Medium;
  master: PiconetMaster;
  slaves: PiconetSlave[];
  /** Bits of payload newly delivered (each payload counted once, by its counter). */
  delivered: () => number;
  /** Payloads seen twice by the application. */
  duplicates: () => number;
}

interface Options { seed: number; trace: boolean }

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : undefined;
}

/** A piconet of a master and 7 slaves, all paged (in order), idle. Payload counters are checked per flow. */
function piconet(o: Options, traceFrom: () => number): Net {
  const s = scheduler();
  let tracing = false;
  const m = medium(s, {
    bitrate: BITRATE, preambleBits: PREAMBLE_BITS, propagationUs: PROPAGATION_US, mtu: MEDIUM_MTU,
    trace: o.trace ? (line) => {
      const t = traceFrom();
      if (s.now() >= t && s.now() < t + 30_000) {
        if (!tracing) console.error(`--- trace from ${t} µs`);
        tracing = true;
        console.error(line);
      }
    } : undefined,
  });
  const config = { ...PICONET_BT, supervisionUs: SUPERVISION_US };
  const rng: SeededRng = xoshiro(o.seed);
  const master = piconetMaster({ link: m.station({ id: 0 }).link, clock: s, rng, addr: MASTER_ADDR, config });
  const slaves: PiconetSlave[] = [];
  for (let i = 0; i < MAX_ACTIVE; i++) {
    slaves.push(piconetSlave({ link: m.station({ id: i + 1 }).link, clock: s, rng: xoshiro(o.seed * 7919 + i + 1), addr: SLAVE_ADDR + i, config }));
  }
  let connected = 0;
  let failed = 0;
  const pageFrom = (i: number): void => {
    if (i >= MAX_ACTIVE) return;
    master.page(SLAVE_ADDR + i, (ok) => {
      if (ok) connected++;
      else failed++;
      pageFrom(i + 1);
    });
  };
  pageFrom(0);
  while (connected + failed < MAX_ACTIVE && s.now() < 60e6) s.runUntil(s.now() + 10_000);
  const ams = master.slaves().map((x) => `${x.addr}:${x.am}`).join(' ');
  if (connected !== MAX_ACTIVE || master.slaves().some((x) => x.am !== x.addr - SLAVE_ADDR + 1)) {
    throw new Error(`piconet bench: paging connected ${connected} of ${MAX_ACTIVE} slaves (addr:AM ${ams})`);
  }
  // Flow f = 0..6 master -> slave f, 7..13 slave f-7 -> master.
  const last = new Float64Array(2 * MAX_ACTIVE).fill(-1);
  let bits = 0;
  let dups = 0;
  const count = (flow: number, buf: Uint8Array, len: number): void => {
    const c = new DataView(buf.buffer, buf.byteOffset, len).getUint32(0);
    if (c <= last[flow]) { dups++; return; }
    last[flow] = c;
    bits += 8 * len;
  };
  slaves.forEach((sl, i) => sl.onReceive((buf, len) => count(i, buf, len)));
  master.onReceive((buf, len, info) => count(MAX_ACTIVE + info.src - SLAVE_ADDR, buf, len));
  return { s, m, master, slaves, delivered: () => bits, duplicates: () => dups };
}

/** Keep the queues of the first k slaves (and the master's toward them) full of `bytes`-long payloads. */
function saturate(net: Net, dir: Direction, k: number, bytes: number): void {
  const payload = new Uint8Array(bytes);
  const view = new DataView(payload.buffer);
  const counters = new Uint32Array(2 * MAX_ACTIVE);
  const fillDown = (i: number): void => {
    for (;;) {
      view.setUint32(0, counters[i]);
      if (net.master.send(SLAVE_ADDR + i, payload, bytes) !== TX_OK) return;
      counters[i]++;
    }
  };
  const fillUp = (i: number): void => {
    for (;;) {
      view.setUint32(0, counters[MAX_ACTIVE + i]);
      if (net.slaves[i].send(MASTER_ADDR, payload, bytes) !== TX_OK) return;
      counters[MAX_ACTIVE + i]++;
    }
  };
  for (let i = 0; i < k; i++) {
    if (dir !== 'up') fillDown(i);
    if (dir !== 'down') {
      fillUp(i);
      net.slaves[i].onSent(() => fillUp(i));
    }
  }
  if (dir !== 'up') net.master.onSent((_st, _n, dst) => { if (dst - SLAVE_ADDR < k) fillDown(dst - SLAVE_ADDR); });
}

interface Measured { kbps: number; duplicates: number; overlaps: number; events: number; simSeconds: number }

/** Run warm-up then the window; kbit/s = payload bits per ms of channel time in the window. */
function measure(net: Net, warmupUs: number, windowUs: number): Measured {
  const t0 = net.s.now() + warmupUs;
  net.s.runUntil(t0);
  const b0 = net.delivered();
  const ov0 = overlaps(net.m);
  net.s.runUntil(t0 + windowUs);
  return {
    kbps: ((net.delivered() - b0) * 1000) / windowUs,
    duplicates: net.duplicates(),
    overlaps: overlaps(net.m) - ov0,
    events: net.s.executed,
    simSeconds: net.s.now() / 1e6,
  };
}

/** Frames destroyed by another signal or missed while transmitting: the slot discipline was broken. */
function overlaps(m: Medium): number {
  return m.stations.reduce((a, st) => a + st.stats.rxCollisions + st.stats.rxMissedWhileTx, 0);
}

export function goodputPoint(type: AclType, dir: Direction, k: number, seconds: number, warmup: number, o: Options): Measured {
  let from = Infinity;
  const net = piconet(o, () => from);
  from = net.s.now() + warmup * 1e6;
  saturate(net, dir, k, ACL[type].payload);
  return measure(net, Math.round(warmup * 1e6), Math.round(seconds * 1e6));
}

/**
 * One saturated slave (AM 1) under exhaustive polling, and `links` HV3 links to slaves 7 and 6 at
 * offsets 0 and 2 of a 6-slot interval. Also returns the HV3 exchanges counted by the master, to show
 * the reservations were kept.
 */
export function scoPoint(type: AclType, dir: Direction, links: number, seconds: number, warmup: number, o: Options): Measured & { hv3: number } {
  let from = Infinity;
  const net = piconet(o, () => from);
  from = net.s.now() + warmup * 1e6;
  net.master.setPolicy(POLICY_EXHAUSTIVE, 1);
  for (let l = 0; l < links; l++) {
    if (!net.master.addSco(SLAVE_ADDR + MAX_ACTIVE - 1 - l, 6, 2 * l)) throw new Error(`piconet bench: addSco ${l} refused`);
  }
  let hv3 = 0;
  net.master.onSco(null, () => { hv3++; });
  saturate(net, dir, 1, ACL[type].payload);
  const t0 = net.s.now() + warmup * 1e6;
  net.s.runUntil(t0);
  const h0 = hv3;
  const r = measure(net, 0, Math.round(seconds * 1e6));
  return { ...r, hv3: hv3 - h0 };
}

/** -ln(U) / rate with U uniform in (0, 1]. */
const exponential = (rng: SeededRng, ratePerUs: number): number => -Math.log((rng.u32() + 1) / 0x100000000) / ratePerUs;

/**
 * Poisson arrivals of DH1-sized payloads (total `load` of the DH1 round-robin capacity, evenly over
 * the 7 slaves) one way; mean µs from the application's send (a backlog outside the MAC takes what a
 * full queue refuses, so the time queued there counts) to delivery, for payloads that arrived in the
 * measured window.
 */
export function delayPoint(policy: 'limited' | 'exhaustive', dir: 'down' | 'up', load: number, seconds: number, warmup: number, o: Options): { meanUs: number; packets: number; lambdaPerUs: number; overlaps: number } {
  const net = piconet(o, () => Infinity);
  const s = net.s;
  if (policy === 'limited') net.master.setPolicy(POLICY_LIMITED, 1);
  else net.master.setPolicy(POLICY_EXHAUSTIVE, 1);
  const bytes = ACL.DH1.payload;
  // DH1 round-robin capacity: one payload per slave per 7 visits of 2 slots.
  const capacityPerUs = MAX_ACTIVE / (MAX_ACTIVE * 2 * SLOT_US);
  const lambda = (load * capacityPerUs) / MAX_ACTIVE;
  const t0 = s.now() + Math.round(warmup * 1e6);
  const t1 = t0 + Math.round(seconds * 1e6);
  const born: number[][] = [];
  const backlog: number[][] = [];
  const sent = new Uint32Array(MAX_ACTIVE);
  const payload = new Uint8Array(bytes);
  const view = new DataView(payload.buffer);
  let sum = 0;
  let packets = 0;
  let pending = 0; // window arrivals not delivered yet
  const mac = (i: number): { send: (d: number, p: Uint8Array, l: number) => number } => (dir === 'down' ? net.master : net.slaves[i]);
  const dstOf = (i: number): number => (dir === 'down' ? SLAVE_ADDR + i : MASTER_ADDR);
  const push = (i: number): void => {
    while (backlog[i].length > 0) {
      view.setUint32(0, backlog[i][0]);
      if (mac(i).send(dstOf(i), payload, bytes) !== TX_OK) return;
      backlog[i].shift();
    }
  };
  const rng = xoshiro(o.seed * 104729 + (dir === 'up' ? 1 : 0));
  for (let i = 0; i < MAX_ACTIVE; i++) {
    born.push([]);
    backlog.push([]);
    const arrive = (): void => {
      const c = sent[i]++;
      born[i][c] = s.now();
      if (s.now() >= t0 && s.now() < t1) pending++;
      backlog[i].push(c);
      push(i);
      s.at(s.now() + exponential(rng, lambda), arrive);
    };
    s.at(s.now() + exponential(rng, lambda), arrive);
    if (dir === 'up') net.slaves[i].onSent(() => push(i));
  }
  if (dir === 'down') net.master.onSent((_st, _n, dst) => push(dst - SLAVE_ADDR));
  const got = (i: number, buf: Uint8Array, len: number): void => {
    if (len !== bytes) return;
    const c = new DataView(buf.buffer, buf.byteOffset, len).getUint32(0);
    const b = born[i][c];
    if (b === undefined || b < 0) return; // a duplicate (or not ours)
    born[i][c] = -1;
    if (b >= t0 && b < t1) {
      sum += s.now() - b;
      packets++;
      pending--;
    }
  };
  if (dir === 'down') net.slaves.forEach((sl, i) => sl.onReceive((buf, len) => got(i, buf, len)));
  else net.master.onReceive((buf, len, info) => got(info.src - SLAVE_ADDR, buf, len));
  const ov0 = overlaps(net.m);
  s.runUntil(t1);
  while (pending > 0 && s.now() < t1 + 10e6) s.runUntil(s.now() + 100_000);
  if (pending > 0) throw new Error(`piconet bench: ${pending} payloads of the window never delivered (${policy} ${dir} load ${load})`);
  return { meanUs: sum / packets, packets, lambdaPerUs: lambda, overlaps: overlaps(net.m) - ov0 };
}

/**
 * The closed form of the mean delay where the piconet is a textbook polling system (null elsewhere):
 * waiting time to the decision that sends the payload, plus the fixed time from that decision to the
 * last bit at the receiver. Downlink: the master decides at the start of the visit; the DH1 (11-byte
 * header + 27 bytes) arrives 72 + 38 * 8 bits + 1 µs later. Uplink: the slave decides when the POLL
 * (11 bytes, 160 µs) has arrived; its DH1 reply starts a slot after the POLL and arrives 377 µs later.
 * Limited with k = 1: every visit is 2 slots (DH1 + NULL, POLL + DH1 or POLL + NULL), a deterministic
 * cycle: slotted M/D/1. Exhaustive uplink: service POLL + DH1 (2 slots), switchover the POLL + NULL
 * that ends a visit (2 slots): Takagi. Exhaustive downlink has no such form (an empty slave costs
 * 2 slots, leaving a busy one costs nothing: the master knows its own queue is empty).
 */
export function delayModelUs(policy: 'limited' | 'exhaustive', dir: 'down' | 'up', lambdaPerUs: number): number | null {
  const hdr = PICONET_BT.tripleHeader ? 11 : 5;
  const air = (len: number): number => Math.ceil(((PREAMBLE_BITS + 8 * len) * 1e6) / BITRATE);
  const visit = 2 * SLOT_US;
  const after = dir === 'down'
    ? air(hdr + ACL.DH1.payload) + PROPAGATION_US
    : SLOT_US + air(hdr + ACL.DH1.payload) + PROPAGATION_US - air(hdr);
  if (policy === 'limited') return roundRobinWaitUs(lambdaPerUs, MAX_ACTIVE, visit) + after;
  if (dir === 'up') return exhaustiveWaitUs(lambdaPerUs, MAX_ACTIVE, visit, visit) + after;
  return null;
}

const list = <T extends string>(v: string | undefined, all: T[], what: string): T[] => {
  if (v === undefined) return all;
  const out = v.split(',') as T[];
  for (const x of out) if (!all.includes(x)) throw new Error(`piconet bench: --${what} takes ${all.join(',')}`);
  return out;
};
const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;
const pct = (e: number): string => `${(100 * e).toFixed(3)} %`;

export function bench(args: string[]): BenchResult & { goodput: GoodputPoint[]; sco: ScoPoint[]; delay: DelayPoint[] } {
  const quick = args.includes('--quick');
  const seconds = Number(arg(args, 'seconds') ?? (quick ? 1 : 10));
  const warmup = Number(arg(args, 'warmup') ?? (quick ? 0.1 : 0.5));
  const delaySeconds = Number(arg(args, 'delay-seconds') ?? (quick ? 5 : 200));
  const seed = Number(arg(args, 'seed') ?? 1);
  const types = list<AclType>(arg(args, 'type'), ACL_TYPES, 'type');
  const dirs = list<Direction>(arg(args, 'dir'), DIRECTIONS, 'dir');
  const ks = (arg(args, 'k') ?? (quick ? '1,7' : '1,2,3,4,5,6,7')).split(',').map(Number);
  const parts = list(arg(args, 'part'), ['goodput', 'sco', 'delay'], 'part');
  if (!(seconds > 0) || !(warmup >= 0) || !(delaySeconds > 0) || ks.some((k) => !(Number.isInteger(k) && k >= 1 && k <= MAX_ACTIVE))) {
    throw new Error('piconet bench: --seconds > 0, --warmup >= 0, --delay-seconds > 0, --k=list of 1..7');
  }
  const o: Options = { seed, trace: args.includes('--trace') };
  const rows: BenchRow[] = [];
  const goodput: GoodputPoint[] = [];
  const sco: ScoPoint[] = [];
  const delay: DelayPoint[] = [];
  const errors: number[] = [];
  let simSeconds = 0;
  let dupTotal = 0;
  let overlapTotal = 0;
  const t0 = performance.now();

  if (parts.includes('goodput')) {
    // --quick: the corners of the grid (one and all slaves saturated; DH1 both ways, DH5 one way).
    const grid: [AclType, Direction][] = [];
    for (const t of types) for (const d of dirs) grid.push([t, d]);
    const points = quick && !arg(args, 'type') && !arg(args, 'dir') ? ([['DH1', 'both'], ['DH5', 'down'], ['DH3', 'up']] as [AclType, Direction][]) : grid;
    for (const [type, dir] of points) {
      for (const k of ks) {
        if (o.trace) console.error(`=== goodput ${type} ${dir} k=${k}`);
        const r = goodputPoint(type, dir, k, seconds, warmup, o);
        const model = roundRobinKbps(type, dir, k);
        const err = (r.kbps - model) / model;
        errors.push(err);
        simSeconds += r.simSeconds;
        dupTotal += r.duplicates;
        overlapTotal += r.overlaps;
        goodput.push({ type, dir, saturated: k, kbps: round(r.kbps, 2), model: round(model, 2) });
        rows.push({ name: `${type} ${dir} k=${k}`, value: r.kbps, unit: 'kbit/s', note: `model ${model.toFixed(2)}, error ${pct(err)}` });
      }
    }
  }

  if (parts.includes('sco')) {
    const points: [number, AclType, Direction][] = [];
    if (quick) points.push([1, 'DH3', 'down'], [2, 'DH1', 'up']);
    else for (const links of [0, 1, 2]) for (const d of dirs) for (const t of types) points.push([links, t, d]);
    let worst = 0;
    for (const [links, type, dir] of points) {
      if (o.trace) console.error(`=== sco links=${links} ${type} ${dir}`);
      const r = scoPoint(type, dir, links, seconds, warmup, o);
      const model = scoAclKbps(type, dir, links);
      const hv3Expected = (links * seconds * 1e6) / (6 * SLOT_US);
      simSeconds += r.simSeconds;
      dupTotal += r.duplicates;
      overlapTotal += r.overlaps;
      const err = model > 0 ? (r.kbps - model) / model : r.kbps > 0 ? Infinity : 0;
      worst = Math.max(worst, Math.abs(err));
      sco.push({ links, type, dir, kbps: round(r.kbps, 2), model: round(model, 2) });
      rows.push({
        name: `SCO ${links} HV3, ${type} ${dir}`, value: r.kbps, unit: 'kbit/s',
        note: `model ${model.toFixed(2)}${model > 0 ? `, error ${pct(err)}` : ''}; HV3 exchanges ${r.hv3} of ${hv3Expected.toFixed(1)}`,
      });
    }
    rows.push({ name: 'SCO largest |error|', value: worst, unit: '', note: 'points with a model of 0 count as error 0 when nothing moved' });
  }

  if (parts.includes('delay')) {
    const points: ['limited' | 'exhaustive', 'down' | 'up', number][] = [];
    const loads = quick ? [0.6] : [0.3, 0.6];
    for (const load of loads) for (const d of ['down', 'up'] as const) for (const p of ['limited', 'exhaustive'] as const) points.push([p, d, load]);
    for (const [policy, dir, load] of points) {
      const r = delayPoint(policy, dir, load, delaySeconds, warmup, o);
      const model = delayModelUs(policy, dir, r.lambdaPerUs);
      simSeconds += delaySeconds + warmup;
      overlapTotal += r.overlaps;
      delay.push({ policy, dir, load, meanMs: round(r.meanUs / 1000, 3), model: model === null ? null : round(model / 1000, 3), packets: r.packets });
      rows.push({
        name: `delay ${policy === 'limited' ? 'limited k=1' : 'exhaustive'} ${dir} load ${load}`, value: r.meanUs / 1000, unit: 'ms',
        note: `${r.packets} payloads${model === null ? '' : `; model ${(model / 1000).toFixed(3)} ms, error ${pct((r.meanUs - model) / model)}`}`,
      });
    }
  }

  const wall = (performance.now() - t0) / 1000;
  rows.push({ name: 'duplicates delivered', value: dupTotal, unit: 'payloads' });
  rows.push({ name: 'frames overlapped (slot discipline)', value: overlapTotal, unit: 'frames' });
  rows.push({ name: 'simulator speed', value: simSeconds / wall, unit: 'sim s / wall s', note: `${seconds} s per goodput point after ${warmup} s warm-up; ${wall.toFixed(1)} s wall` });
  const worst = errors.length > 0 ? Math.max(...errors.map(Math.abs)) : NaN;
  return {
    goodput,
    sco,
    delay,
    name: 'piconet',
    rows,
    headline: { label: 'largest |relative error| of simulated vs round-robin closed-form goodput (smaller is better, target 0.01)', ratio: worst },
  };
}

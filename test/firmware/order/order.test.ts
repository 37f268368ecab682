// The ordered multicasts (firmware/order) over the raw MAC on the simulated medium, with drop,
// duplication, reordering and delay under every member. Each property is checked from the delivery
// log alone: the test tracks happened-before itself (a vector clock per member, advanced when the
// member sends and merged when the log says it delivered), never reading the protocols' state.
// Runs end at a simulated time, not when the event queue is empty: total order's heartbeats never
// stop. Crashes and restarts are in crash.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { ADDR_BROADCAST } from '../../../firmware/mac/mac.ts';
import { causal, fifo } from '../../../firmware/order/seqcast.ts';
import { total } from '../../../firmware/order/total.ts';
import { ORDER_DEFAULTS, ORDER_E_FULL, ORDER_E_TOO_LARGE, ORDER_OK } from '../../../firmware/order/group.ts';
import type { OrderConfig, OrderGroup, OrderOptions, OrderStats } from '../../../firmware/order/group.ts';

type Factory = (o: OrderOptions) => OrderGroup;

interface Msg {
  sender: number;
  num: number;
  /** The test's vector clock of the send: vc[k] messages of member k happened before it (itself included). */
  vc: number[];
}

interface Scenario {
  seed: number;
  n: number;
  perMember: number;
  faults: Partial<FaultOptions>;
  spanUs: number;
  cfg?: Partial<OrderConfig>;
}

interface Outcome {
  s: Scheduler;
  logs: string[][];
  msgs: Map<string, Msg>;
  stats: OrderStats[];
  groups: OrderGroup[];
  sentCount: number[];
}

const LOSSY: Partial<FaultOptions> = { dropPct: 30, dupPct: 10, reorderPct: 10, jitterUs: 3_000 };

/** n members (addresses 1..n) each multicast perMember messages at random times in [0, spanUs). */
function runGroup(factory: Factory, sc: Scenario): Outcome {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 32, propagationUs: 1 }); // nRF24-sized frames: 28-byte MAC payload
  const rng = xoshiro(sc.seed);
  const members = Array.from({ length: sc.n }, (_, i) => i + 1);
  const config = { ...ORDER_DEFAULTS, ...sc.cfg };
  const logs: string[][] = members.map(() => []);
  const msgs = new Map<string, Msg>();
  const vc: number[][] = members.map(() => members.map(() => 0));
  const sentCount = members.map(() => 0);
  const groups = members.map((addr, i) => {
    const mac = rawMac(faulty(m.station().link, { clock: s, rng, ...sc.faults }), addr, 16);
    const g = factory({ mac, clock: s, rng, members, config });
    g.onDeliver((buf, off, len, from) => {
      assert.is(len, 5, 'payload length');
      const key = `${buf[off]}:${(buf[off + 1] << 8) | buf[off + 2]}`;
      const msg = msgs.get(key);
      assert.ok(msg, `member ${i} delivered ${key}, never sent`);
      assert.is(from, members[msg!.sender], 'from is the sender');
      assert.is(buf[off + 3], 0xa5 ^ msg!.num & 0xff, 'payload intact');
      logs[i].push(key);
      for (let k = 0; k < sc.n; k++) vc[i][k] = Math.max(vc[i][k], msg!.vc[k]);
    });
    return g;
  });
  const payload = new Uint8Array(5);
  const attempt = (i: number): void => {
    const num = sentCount[i] + 1;
    payload[0] = i;
    payload[1] = num >> 8;
    payload[2] = num & 0xff;
    payload[3] = 0xa5 ^ num & 0xff;
    payload[4] = 0x5a;
    vc[i][i]++;
    const key = `${i}:${num}`;
    msgs.set(key, { sender: i, num, vc: vc[i].slice() }); // before multicast: self-delivery may happen inside it
    const r = groups[i].multicast(payload, 5);
    if (r === ORDER_OK) {
      sentCount[i] = num;
      return;
    }
    assert.is(r, ORDER_E_FULL);
    msgs.delete(key);
    vc[i][i]--;
    s.after(5_000 + (rng.u32() % 20_000), () => attempt(i)); // the window is full: try again shortly
  };
  for (let i = 0; i < sc.n; i++) for (let k = 0; k < sc.perMember; k++) s.at(rng.u32() % sc.spanUs, () => attempt(i));
  s.runUntil(sc.spanUs + 30_000_000); // total order's heartbeats never let the queue run dry
  return { s, logs, msgs, stats: groups.map((g) => g.stats), groups, sentCount };
}

/** Every member delivered every message exactly once, and each sender's in send order. */
function checkReliableFifo(o: Outcome, sc: Scenario): void {
  assert.equal(o.sentCount, o.sentCount.map(() => sc.perMember), 'every message was multicast');
  for (let q = 0; q < sc.n; q++) {
    const next = new Array(sc.n).fill(1);
    for (const key of o.logs[q]) {
      const msg = o.msgs.get(key)!;
      assert.is(msg.num, next[msg.sender], `member ${q} delivered ${key} out of its sender's order`);
      next[msg.sender]++;
    }
    assert.is(o.logs[q].length, sc.n * sc.perMember, `member ${q} delivered ${o.logs[q].length} of ${sc.n * sc.perMember}`);
  }
  for (const g of o.groups) {
    assert.is(g.pending(), 0);
    assert.is(g.holding(), 0);
  }
}

/** Deliveries that came before a message that happened before them (0 when causal order holds). */
function causalViolations(o: Outcome, n: number): number {
  let bad = 0;
  for (let q = 0; q < n; q++) {
    const have = new Array(n).fill(0); // deliveries are FIFO (checked separately), so a count is a prefix
    for (const key of o.logs[q]) {
      const msg = o.msgs.get(key)!;
      for (let k = 0; k < n; k++) if (k !== msg.sender && have[k] < msg.vc[k]) bad++;
      have[msg.sender]++;
    }
  }
  return bad;
}

/** Pairs m1 -> m2 with different senders (how much causality the run had to respect). */
function crossPairs(o: Outcome, n: number): number {
  let c = 0;
  for (const msg of o.msgs.values()) for (let k = 0; k < n; k++) if (k !== msg.sender) c += msg.vc[k];
  return c;
}

const sum = (stats: OrderStats[], f: keyof OrderStats) => stats.reduce((a, st) => a + st[f], 0);

const SCENARIOS: Scenario[] = [
  { seed: 1, n: 3, perMember: 120, faults: LOSSY, spanUs: 6_000_000 },
  { seed: 2, n: 4, perMember: 100, faults: LOSSY, spanUs: 6_000_000 },
  { seed: 3, n: 5, perMember: 80, faults: LOSSY, spanUs: 6_000_000 },
  { seed: 4, n: 6, perMember: 60, faults: LOSSY, spanUs: 6_000_000 },
  { seed: 5, n: 6, perMember: 60, faults: { dropPct: 10, dupPct: 20, reorderPct: 30, jitterUs: 10_000 }, spanUs: 2_000_000 },
];

test('causal: every member delivers every message once, in causal order, under 30 % loss with duplication and reordering', () => {
  for (const sc of SCENARIOS) {
    const o = runGroup(causal, sc);
    checkReliableFifo(o, sc);
    assert.is(causalViolations(o, sc.n), 0, `seed ${sc.seed}`);
    assert.ok(crossPairs(o, sc.n) > sc.n * sc.perMember, 'messages do depend on other members');
    assert.ok(sum(o.stats, 'held') > 20, `seed ${sc.seed}: held ${sum(o.stats, 'held')}`);
    assert.ok(sum(o.stats, 'retransmissions') > 50 && sum(o.stats, 'duplicates') > 50, JSON.stringify(o.stats[0]));
  }
});

test('FIFO: each sender in order, exactly once, all delivered; the causal checker catches what FIFO allows', () => {
  let violations = 0;
  for (const sc of SCENARIOS) {
    const o = runGroup(fifo, sc);
    checkReliableFifo(o, sc);
    assert.ok(sum(o.stats, 'retransmissions') > 50 && sum(o.stats, 'nacksSent') > 10, JSON.stringify(o.stats[0]));
    violations += causalViolations(o, sc.n);
  }
  assert.ok(violations > 0, 'FIFO alone breaks causal order somewhere: the causal check is not vacuous');
});

test('total: every member delivers the same sequence, FIFO per sender, all delivered', () => {
  for (const sc of SCENARIOS) {
    const o = runGroup(total, sc);
    checkReliableFifo(o, sc);
    for (let q = 1; q < sc.n; q++) assert.equal(o.logs[q], o.logs[0], `seed ${sc.seed}: member ${q} and member 0 differ`);
    assert.ok(sum(o.stats, 'retransmissions') > 50, JSON.stringify(o.stats[0]));
  }
});

test('the same-sequence check is not vacuous: causal order leaves members disagreeing', () => {
  const sc = SCENARIOS[3];
  const o = runGroup(causal, sc);
  let differ = 0;
  for (let q = 1; q < sc.n; q++) if (o.logs[q].join() !== o.logs[0].join()) differ++;
  assert.ok(differ > 0);
});

test('one frame to a group address per multicast (broadcast here) works as well', () => {
  for (const factory of [causal, total, fifo]) {
    const sc: Scenario = { seed: 9, n: 4, perMember: 40, faults: LOSSY, spanUs: 3_000_000, cfg: { groupAddr: ADDR_BROADCAST } };
    const o = runGroup(factory, sc);
    checkReliableFifo(o, sc);
    if (factory === causal) assert.is(causalViolations(o, sc.n), 0);
    if (factory === total) for (let q = 1; q < sc.n; q++) assert.equal(o.logs[q], o.logs[0]);
  }
});

test('bounds: the window refuses a multicast while a member is silent, and resumes when it answers', () => {
  for (const factory of [causal, total, fifo]) {
    const s = scheduler();
    const m = medium(s, { bitrate: 1e6, mtu: 32, propagationUs: 1 });
    const rng = xoshiro(7);
    const members = [1, 2, 3];
    const config = { ...ORDER_DEFAULTS, window: 4 };
    const stations = members.map(() => m.station());
    const groups = members.map((a, i) => factory({ mac: rawMac(stations[i].link, a, 16), clock: s, rng, members, config }));
    const got: string[][] = [[], [], []];
    groups.forEach((g, i) => g.onDeliver((b, off) => got[i].push(String(b[off]))));
    // Member 3 hears nothing for now: the window (4) fills and multicast() refuses, taking nothing.
    for (const from of [0, 1]) { m.setHears(stations[from].id, stations[2].id, false); m.setHears(stations[2].id, stations[from].id, false); }
    const p = new Uint8Array([0]);
    const results: number[] = [];
    for (let k = 0; k < 6; k++) {
      p[0] = k;
      results.push(groups[0].multicast(p, 1));
      s.runUntil(s.now() + 20_000);
    }
    assert.equal(results, [ORDER_OK, ORDER_OK, ORDER_OK, ORDER_OK, ORDER_E_FULL, ORDER_E_FULL]);
    assert.is(groups[0].pending(), 4);
    assert.is(got[2].length, 0);
    s.runUntil(s.now() + 1_000_000);
    assert.ok(groups[0].stats.retransmissions > 5, 'kept retrying the silent member');
    for (const from of [0, 1]) { m.setHears(stations[from].id, stations[2].id, true); m.setHears(stations[2].id, stations[from].id, true); }
    s.runUntil(s.now() + 3_000_000);
    assert.equal(got[2], ['0', '1', '2', '3']);
    assert.equal(got[1], ['0', '1', '2', '3']);
    assert.is(groups[0].pending(), 0);
    assert.is(groups[0].multicast(p, 1), ORDER_OK);
    assert.is(groups[0].multicast(p, groups[0].maxPayload + 1), ORDER_E_TOO_LARGE);
  }
});

test('configuration errors throw at creation; frames from strangers are counted and dropped', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 32, propagationUs: 1 });
  const mac = rawMac(m.station().link, 1);
  const base = { mac, clock: s, rng: xoshiro(1) };
  assert.throws(() => causal({ ...base, members: [2, 3] }), /not in the member list/);
  assert.throws(() => causal({ ...base, members: [1, 2, 2] }), /duplicate/);
  assert.throws(() => fifo({ ...base, members: [1, 2], config: { ...ORDER_DEFAULTS, window: 6 } }), /power of two/);
  assert.throws(() => causal({ ...base, members: Array.from({ length: 8 }, (_, i) => i + 1) }), /too small/, 'an 8-member vector (28 bytes) leaves nothing of 28 bytes');
  assert.throws(() => fifo({ ...base, members: [1, 2], incarnation: 0 }), /incarnation/);
  const g = total({ ...base, members: [1, 2] });
  const stranger = rawMac(m.station().link, 9);
  stranger.send(1, new Uint8Array([0x30, 1, 1, 0, 1, 7]), 6);
  s.runUntil(1_000_000);
  assert.is(g.stats.strangers, 1);
  assert.is(g.holding(), 0);
});

test.run();

// The ordered multicasts (firmware/order) with a member that crashes at a seeded time and restarts
// after a seeded delay, over the raw MAC on the simulated medium with loss, duplication, reordering
// and delay. A crash silences the member's MAC (host/sim/crashable.ts) and abandons its object; the
// restart is a new object on the same station, with a new incarnation and an empty history, as a
// board's would be. Every property is checked from the delivery logs (and the logged view
// installations) alone, never from the protocols' state: each life of each member logs what it
// delivers, and the test tracks happened-before itself with a vector clock over (member, life)
// streams, advanced on send and merged on delivery. A life that starts afresh has an empty clock.
// To see a check fail, disable a mechanism by hand: e.g. in seqcast.ts make restart() return at once
// (a restarted member is then never resynchronised and never hears the others), or run total order
// with heartbeatUs: 0 (no view changes: the group stalls on the dead member) - see the last test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { ADDR_BROADCAST } from '../../../firmware/mac/mac.ts';
import { crashable } from '../../../host/sim/crashable.ts';
import { causal, fifo } from '../../../firmware/order/seqcast.ts';
import { total } from '../../../firmware/order/total.ts';
import { ORDER_DEFAULTS, ORDER_E_FULL, ORDER_OK } from '../../../firmware/order/group.ts';
import type { OrderConfig, OrderGroup, OrderOptions } from '../../../firmware/order/group.ts';

type Factory = (o: OrderOptions) => OrderGroup;

interface Msg {
  /** Stream: `${member}.${life}`. */
  stream: string;
  num: number;
  /** The send's causal past: per stream, how many of its messages happened before (own stream: num). */
  past: Map<string, number>;
  /** When it was multicast. */
  t: number;
}

type Entry = { t: number; key: string } | { t: number; view: number; mask: number };

interface Life {
  member: number;
  life: number;
  start: number;
  /** When it crashed (Infinity: up to the end). */
  end: number;
  log: Entry[];
  clock: Map<string, number>;
  sent: number;
  group: OrderGroup;
}

interface Crash {
  seed: number;
  n: number;
  perMember: number;
  faults: Partial<FaultOptions>;
  spanUs: number;
  crashAt: number;
  downUs: number;
  victim: number;
  cfg?: Partial<OrderConfig>;
  /** The restart draws the incarnation it had before. */
  sameInc?: boolean;
}

const LOSS = (pct: number): Partial<FaultOptions> => ({ dropPct: pct, dupPct: 10, reorderPct: 10, jitterUs: 3_000 });

function runCrash(factory: Factory, sc: Crash) {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 32, propagationUs: 1 });
  const rng = xoshiro(sc.seed);
  const members = Array.from({ length: sc.n }, (_, i) => i + 1);
  const config = { ...ORDER_DEFAULTS, ...sc.cfg };
  const inner: Mac[] = members.map((addr) => rawMac(faulty(m.station().link, { clock: s, rng, ...sc.faults }), addr, 16));
  const msgs = new Map<string, Msg>();
  const lives: Life[] = [];
  const current: Life[] = [];
  const payload = new Uint8Array(5);

  const incs: number[] = [];
  const start = (i: number, life: number): Life => {
    const mac = crashable(inner[i]);
    // As a board that keeps its last incarnation in its Store: a fresh one, never the one before
    // (sc.sameInc: the 1-in-255 case of a board without one, drawing the same again).
    let inc = 1 + (rng.u32() % 255);
    while (life > 0 && inc === incs[i] && !sc.sameInc) inc = 1 + (rng.u32() % 255);
    if (life > 0 && sc.sameInc) inc = incs[i];
    incs[i] = inc;
    const group = factory({ mac, clock: s, rng, members, config, incarnation: inc });
    const L: Life = { member: i, life, start: s.now(), end: Infinity, log: [], clock: new Map(), sent: 0, group };
    (L as Life & { mac: typeof mac }).mac = mac;
    group.onDeliver((buf, off, len, from) => {
      if (L.end !== Infinity) return; // an abandoned object whose MAC is dead: not a life any more
      assert.is(len, 5, 'payload length');
      const key = `${buf[off]}.${buf[off + 1]}:${(buf[off + 2] << 8) | buf[off + 3]}`;
      const msg = msgs.get(key);
      assert.ok(msg, `member ${i} delivered ${key}, never sent`);
      assert.is(from, members[buf[off]], 'from is the sender');
      assert.is(buf[off + 4], (0xa5 ^ buf[off + 3]) & 0xff, 'payload intact');
      L.log.push({ t: s.now(), key });
      for (const [st, c] of msg!.past) if ((L.clock.get(st) ?? 0) < c) L.clock.set(st, c);
    });
    group.onView((view, mask) => {
      if (L.end === Infinity) L.log.push({ t: s.now(), view, mask });
    });
    lives.push(L);
    current[i] = L;
    return L;
  };
  const attempt = (L: Life): void => {
    if (current[L.member] !== L || L.end !== Infinity) return; // that life is over
    const num = L.sent + 1;
    const stream = `${L.member}.${L.life}`;
    payload[0] = L.member;
    payload[1] = L.life;
    payload[2] = num >> 8;
    payload[3] = num & 0xff;
    payload[4] = (0xa5 ^ num) & 0xff;
    const key = `${stream}:${num}`;
    const past = new Map(L.clock);
    past.set(stream, num);
    msgs.set(key, { stream, num, past, t: s.now() }); // before multicast: self-delivery may happen inside it
    const r = L.group.multicast(payload, 5);
    if (r === ORDER_OK) {
      L.sent = num;
      L.clock.set(stream, num);
      return;
    }
    assert.is(r, ORDER_E_FULL);
    msgs.delete(key);
    s.after(5_000 + (rng.u32() % 20_000), () => attempt(L)); // the window is full (or a view changes): try again shortly
  };
  const schedule = (L: Life, from: number, count: number): void => {
    for (let k = 0; k < count; k++) s.at(from + (rng.u32() % sc.spanUs), () => attempt(L));
  };
  for (let i = 0; i < sc.n; i++) schedule(start(i, 0), 0, sc.perMember);
  s.at(sc.crashAt, () => {
    const L = current[sc.victim] as Life & { mac: { dead: boolean } };
    L.mac.dead = true;
    L.end = s.now();
  });
  s.at(sc.crashAt + sc.downUs, () => schedule(start(sc.victim, 1), s.now(), Math.ceil(sc.perMember / 2)));
  const endUs = sc.crashAt + sc.downUs + sc.spanUs + 25_000_000;
  s.runUntil(endUs);
  return { s, lives, msgs, endUs };
}

const keys = (L: Life) => L.log.filter((e): e is { t: number; key: string } => 'key' in e).map((e) => e.key);

/** Within each life: no message twice, each stream's numbers rising (FIFO per sender incarnation). */
function checkFifo(lives: Life[], msgs: Map<string, Msg>, tag: string): void {
  for (const L of lives) {
    const seen = new Set<string>();
    const last = new Map<string, number>();
    for (const k of keys(L)) {
      assert.not.ok(seen.has(k), `${tag}: member ${L.member} life ${L.life} delivered ${k} twice`);
      seen.add(k);
      const msg = msgs.get(k)!;
      assert.ok((last.get(msg.stream) ?? 0) < msg.num, `${tag}: member ${L.member} life ${L.life} delivered ${k} after ${msg.stream}:${last.get(msg.stream)}`);
      last.set(msg.stream, msg.num);
    }
  }
}

/** Deliveries that came before a message in their causal past, among what each life delivers. */
function causalViolations(lives: Life[], msgs: Map<string, Msg>): number {
  let bad = 0;
  for (const L of lives) {
    const ks = keys(L);
    const next = new Map<string, number>(); // per stream, the number delivered next after this position
    for (let p = ks.length - 1; p >= 0; p--) {
      const msg = msgs.get(ks[p])!;
      for (const [st, c] of msg.past) if (st !== msg.stream && (next.get(st) ?? Infinity) <= c) bad++;
      next.set(msg.stream, msg.num);
    }
  }
  return bad;
}

/** Everything sent by a life that stays up reaches every life that stays up; a restarted life gets each such stream from some point to its end. */
function checkComplete(lives: Life[], msgs: Map<string, Msg>, tag: string): void {
  const stable = lives.filter((L) => L.end === Infinity && L.life === 0);
  const upToEnd = lives.filter((L) => L.end === Infinity);
  for (const R of upToEnd) {
    const got = new Set(keys(R));
    for (const S of upToEnd) {
      const nums: number[] = [];
      for (let k = 1; k <= S.sent; k++) if (got.has(`${S.member}.${S.life}:${k}`)) nums.push(k);
      const tail = S.sent - nums.length + 1;
      if (R.life === 0) assert.is(nums.length, S.sent, `${tag}: member ${R.member} got ${nums.length} of ${S.sent} from member ${S.member}.${S.life}`);
      else assert.equal(nums, Array.from({ length: nums.length }, (_, k) => tail + k), `${tag}: member ${R.member} life ${R.life} got a broken run of ${S.member}.${S.life}`);
    }
  }
  assert.ok(stable.length >= 2);
}

/**
 * While the victim was down, nothing waited for it: every message the stable lives multicast up to
 * SETTLE_US before the restart was delivered by each of them before the restart (when the victim was
 * down longer than the silence and SETTLE_US). Returns how many messages that covered.
 */
const SETTLE_US = 2_500_000;
function checkProgress(lives: Life[], msgs: Map<string, Msg>, sc: Crash, tag: string): number {
  const restart = sc.crashAt + sc.downUs;
  if (sc.downUs < ORDER_DEFAULTS.silenceUs + SETTLE_US) return 0;
  const stable = lives.filter((L) => L.end === Infinity && L.life === 0);
  const streams = new Set(stable.map((L) => `${L.member}.0`));
  const due = [...msgs.entries()].filter(([, m]) => streams.has(m.stream) && m.t < restart - SETTLE_US).map(([k]) => k);
  for (const L of stable) {
    const before = new Set(L.log.filter((e): e is { t: number; key: string } => 'key' in e && e.t < restart).map((e) => e.key));
    const missing = due.filter((k) => !before.has(k));
    assert.equal(missing.length, 0, `${tag}: member ${L.member} had not delivered ${missing.slice(0, 5).join(' ')} (of ${due.length}) by the restart, the victim down ${sc.downUs} µs`);
  }
  return due.length;
}

/** Total order: the stable lives install the same views and deliver the same sequence; the others agree where they overlap. */
function checkTotal(lives: Life[], tag: string): void {
  const seg = (L: Life) => {
    const out: { view: number; mask: number; keys: string[] }[] = [{ view: L.life === 0 ? 1 : -1, mask: -1, keys: [] }];
    for (const e of L.log) {
      if ('view' in e) out.push({ view: e.view, mask: e.mask, keys: [] });
      else out[out.length - 1].keys.push(e.key);
    }
    return out;
  };
  const stable = lives.filter((L) => L.end === Infinity && L.life === 0);
  for (const L of lives) {
    // A restart finds itself outside (view 0) before it joins; after a view, view 0 is an exclusion.
    const views = L.log.filter((e): e is { t: number; view: number; mask: number } => 'view' in e);
    const first = views.findIndex((e) => e.view !== 0);
    assert.not.ok(views.some((e, i) => e.view === 0 && (L.life === 0 || i > first)), `${tag}: member ${L.member} life ${L.life} was excluded while up`);
    L.log = L.log.filter((e) => !('view' in e) || e.view !== 0);
  }
  const ref = seg(stable[0]);
  assert.ok(ref.length >= 2, `${tag}: at least one view change (${ref.length - 1})`);
  for (const L of stable.slice(1)) assert.equal(seg(L), ref, `${tag}: member ${L.member} and member ${stable[0].member} differ`);
  for (const L of lives) {
    if (stable.includes(L)) continue;
    const mine = seg(L);
    if (L.life !== 0) assert.equal(mine[0].keys, [], `${tag}: member ${L.member} restarted delivered before joining a view`);
    for (let v = L.life === 0 ? 0 : 1; v < mine.length; v++) {
      const r = ref.find((x) => x.view === mine[v].view && (v === 0 || x.mask === mine[v].mask));
      assert.ok(r, `${tag}: member ${L.member} life ${L.life} installed view ${mine[v].view} that the others did not`);
      const last = v === mine.length - 1 && L.end !== Infinity;
      if (last) {
        // The order is not uniform: a member that crashed may have delivered its own last messages
        // whose commit reached nobody (the others drop them), and messages just before its crash
        // ahead of ones the others then committed without its proposal (lower). What it shares with
        // the others is in their order, and it delivered nobody else's message they did not.
        const stream = `${L.member}.${L.life}`;
        const others = new Set(r!.keys);
        const common = mine[v].keys.filter((k) => others.has(k));
        const extra = mine[v].keys.filter((k) => !others.has(k) && !k.startsWith(stream + ':'));
        assert.equal(extra, [], `${tag}: member ${L.member} life ${L.life}, view ${mine[v].view}: delivered others' messages the group did not`);
        const mineSet = new Set(common);
        assert.equal(common, r!.keys.filter((k) => mineSet.has(k)), `${tag}: member ${L.member} life ${L.life}, view ${mine[v].view}: another order`);
      }
      else assert.equal(mine[v].keys, r!.keys, `${tag}: member ${L.member} life ${L.life}, view ${mine[v].view} differs`);
    }
    if (L.life !== 0) assert.ok(mine.length >= 2, `${tag}: member ${L.member} rejoined`);
  }
}

/** The message of the assertion fn fails with ('' if it passes). */
function failure(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

function scenarios(): Crash[] {
  const out: Crash[] = [];
  const pick = xoshiro(2024);
  let seed = 100;
  for (const loss of [0, 10, 30]) {
    for (const n of [3, 4, 5, 6]) {
      for (let rep = 0; rep < 2; rep++) {
        seed++;
        const crashAt = 1_000_000 + (pick.u32() % 3_000_000);
        // Down for a short while (the restart is seen before the silence) or long (removed first, then rejoins).
        const downUs = rep === 0 ? 300_000 + (pick.u32() % 1_000_000) : 5_000_000 + (pick.u32() % 2_000_000);
        // The victim: member 0 (the coordinator of total order) in a third of the runs, else any.
        const victim = seed % 3 === 0 ? 0 : pick.u32() % n;
        out.push({ seed, n, perMember: (240 / n) | 0, faults: LOSS(loss), spanUs: 6_000_000, crashAt, downUs, victim });
      }
    }
  }
  return out;
}

const SCENARIOS = scenarios();
const ONLY = process.env.ORDER_SEED ? Number(process.env.ORDER_SEED) : 0;
if (ONLY) SCENARIOS.splice(0, SCENARIOS.length, ...SCENARIOS.filter((x) => x.seed === ONLY));
export { runCrash, SCENARIOS, checkFifo, checkComplete, checkProgress, checkTotal, causalViolations };

test('FIFO with a crash and restart: per sender incarnation in order, no duplicates, stable members get everything, the restarted one a tail', () => {
  let covered = 0;
  for (const sc of SCENARIOS) {
    const tag = `fifo seed ${sc.seed} n ${sc.n} loss ${sc.faults.dropPct}`;
    const o = runCrash(fifo, sc);
    checkFifo(o.lives, o.msgs, tag);
    checkComplete(o.lives, o.msgs, tag);
    covered += checkProgress(o.lives, o.msgs, sc, tag);
  }
  assert.ok(covered > 200, `progress while down covered ${covered} messages`);
});

test('causal with a crash and restart: no message before its causal past, FIFO, complete for stable members', () => {
  let restarts = 0;
  let covered = 0;
  for (const sc of SCENARIOS) {
    const tag = `causal seed ${sc.seed} n ${sc.n} loss ${sc.faults.dropPct}`;
    const o = runCrash(causal, sc);
    checkFifo(o.lives, o.msgs, tag);
    assert.is(causalViolations(o.lives, o.msgs), 0, tag);
    checkComplete(o.lives, o.msgs, tag);
    covered += checkProgress(o.lives, o.msgs, sc, tag);
    for (const L of o.lives) restarts += L.group.stats.restarts;
  }
  assert.ok(restarts >= SCENARIOS.length, 'the restarts were seen');
  assert.ok(covered > 200, `progress while down covered ${covered} messages`);
});

test('total with a crash and restart: the same views in the same order, the same sequence in each, complete for stable members', () => {
  let covered = 0;
  for (const sc of SCENARIOS) {
    const tag = `total seed ${sc.seed} n ${sc.n} loss ${sc.faults.dropPct}`;
    const o = runCrash(total, sc);
    checkFifo(o.lives, o.msgs, tag);
    checkTotal(o.lives, tag);
    checkComplete(o.lives, o.msgs, tag);
    covered += checkProgress(o.lives, o.msgs, sc, tag);
  }
  assert.ok(covered > 200, `progress while down covered ${covered} messages`);
});

test('a restart that draws its former incarnation again: it draws another once the others show it, or rejoins as it is (FIFO, causal, total)', () => {
  for (const factory of [fifo, causal, total]) {
    let redrawn = 0;
    for (const sc of [SCENARIOS[2], SCENARIOS[12], SCENARIOS[13], SCENARIOS[20], SCENARIOS[21]]) {
      const same = { ...sc, sameInc: true };
      const tag = `same incarnation ${factory === total ? 'total' : factory === fifo ? 'fifo' : 'causal'} seed ${sc.seed}`;
      const o = runCrash(factory, same);
      const R = o.lives[o.lives.length - 1];
      assert.ok(R.sent > 0, tag);
      if (R.group.incarnation() !== o.lives[sc.victim].group.incarnation()) redrawn++;
      checkFifo(o.lives, o.msgs, tag);
      checkComplete(o.lives, o.msgs, tag);
      if (factory === causal) assert.is(causalViolations(o.lives, o.msgs), 0, tag);
      if (factory === total) checkTotal(o.lives, tag);
    }
    assert.ok(redrawn > 0, 'some restarts had to draw another incarnation');
  }
});

test('one frame to a group address per multicast (broadcast here), with a crash and restart', () => {
  for (const factory of [fifo, causal, total]) {
    for (const sc0 of [SCENARIOS[7], SCENARIOS[16], SCENARIOS[23]]) {
      const sc = { ...sc0, cfg: { groupAddr: ADDR_BROADCAST } };
      const tag = `group address seed ${sc.seed}`;
      const o = runCrash(factory, sc);
      checkFifo(o.lives, o.msgs, tag);
      checkComplete(o.lives, o.msgs, tag);
      checkProgress(o.lives, o.msgs, sc, tag);
      if (factory === causal) assert.is(causalViolations(o.lives, o.msgs), 0, tag);
      if (factory === total) checkTotal(o.lives, tag);
    }
  }
});

test('the checks are not vacuous: without view changes (heartbeatUs 0) total order stalls on the dead member', () => {
  const sc = { ...SCENARIOS[5], downUs: 5_000_000, cfg: { heartbeatUs: 0 } };
  const o = runCrash(total, sc);
  assert.match(failure(() => checkProgress(o.lives, o.msgs, sc, 'fixed group')), /had not delivered/);
  const causalRun = runCrash(causal, SCENARIOS[5]);
  assert.match(failure(() => checkTotal(causalRun.lives, 'causal')), /differ|view change/, 'causal order is not total: the total check tells');
});

if (!process.env.ORDER_SEED) test.run();

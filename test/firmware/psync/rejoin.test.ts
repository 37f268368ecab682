// The library's rejoin after a restart (the Psync paper, section 5, over firmware/psync/library.ts):
// seeded property tests on the raw MAC over the simulated medium with loss, duplication and
// reordering, one participant crashed at a random time (its MAC goes silent, its endpoint, library and
// log are abandoned) and restarted as a new incarnation with restart() from the root, with its log
// (log.ts on a simulated flash store) or without it, and lib.rejoin(). The others find it silent and
// remove it (suspectUs), take it back in on its RS through the JOIN messages, and the ordered
// broadcast keeps running. Every check reads the test's own logs: what each incarnation committed and
// applied, what each host sent. REJOIN=off restarts with attach() instead of rejoin(): the sequence
// checks then fail. The first two tests keep the logs without serving them (the jump path, as when no
// host logs); the 'logs served' tests have log.ts answer RTX and RS from the logs, and LOG_SERVE=off
// turns that off to see them fail; the last runs the long outage with no logs anywhere. REJOIN_DEBUG=1 (and REJOIN_TRACE=<addr>, REJOIN_ONLY=n,drop,seed) print what happened.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { xoshiro, below } from '../../../hal/prng.ts';
import { memoryStore } from '../../../hal/sim/store.ts';
import type { MemoryStore } from '../../../hal/sim/store.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { crashable } from './crashable.ts';
import { PSYNC_DEFAULTS, PS_OK, midSender, midSeq, psync } from '../../../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../../../firmware/psync/psync.ts';
import { LIB_DEFAULTS, psyncLib } from '../../../firmware/psync/library.ts';
import type { LibConfig, PsyncLib } from '../../../firmware/psync/library.ts';
import { LOG_DEFAULTS, logHeader, psyncLog, readLogHeader, replayLog } from '../../../firmware/psync/log.ts';
import type { PsyncLog } from '../../../firmware/psync/log.ts';
import { RC_ADD, RC_MUL, RC_SET, replicatedCounter } from '../../../firmware/psync/replicated.ts';
import type { ReplicatedCounter } from '../../../firmware/psync/replicated.ts';

const CFG: PsyncConfig = { ...PSYNC_DEFAULTS, nodes: 96, bufs: 32, hold: 8 };
const LCFG: LibConfig = { ...LIB_DEFAULTS, records: 64, suspectUs: 2_000_000 };
/** Turn the rejoin off (attach instead of rejoin) to see these tests fail: REJOIN=off. */
const REJOIN = process.env.REJOIN !== 'off';

/** One incarnation of a host. */
interface Life {
  ep: Psync;
  lib: PsyncLib;
  log: PsyncLog | null;
  mac: Mac & { dead: boolean };
  conv: number;
  commits: number[];
  /** Counter operations as applied: [mid, value after]. */
  applied: [number, number][];
  counter: ReplicatedCounter | null;
  rejoinedAt: number;
  position: number;
  /** send_stable outcomes: [mid, ok]. */
  stable: [number, boolean][];
}

interface Host {
  addr: number;
  inner: Mac;
  store: MemoryStore;
  life: Life;
  lives: Life[];
  /** Data messages this host sent, over all its lives (the test's traffic counter goes on across a crash). */
  data: number[];
  k: number;
}

interface Net {
  s: Scheduler;
  hosts: Host[];
  cid: number;
  participants: number[];
  payload: Map<number, string>;
  errors: string[];
  counters: boolean;
  /** Logs: 'kept' at every host but not served (the jump path), 'served' (log.ts answers from them), 'none'. */
  logs: Logs;
}

type Logs = 'kept' | 'served' | 'none';

const hex = (b: Uint8Array, len: number) => Buffer.from(b.subarray(0, len)).toString('hex');

function newLife(nt: Net, h: Host, seed: number, withLog: boolean): Life {
  const mac = crashable(h.inner);
  const ep = psync({ mac, clock: nt.s, rng: xoshiro(seed), config: CFG });
  const lib = psyncLib({ ps: ep, addr: h.addr, clock: nt.s, rng: xoshiro(seed + 1), config: LCFG });
  const log = withLog ? psyncLog({ ps: ep, store: h.store, clock: nt.s, config: { ...LOG_DEFAULTS, flushUs: 20_000, serve: nt.logs === 'served' } }) : null;
  const life: Life = { ep, lib, log, mac, conv: -1, commits: [], applied: [], counter: null, rejoinedAt: -1, position: -1, stable: [] };
  lib.onStable((_c, mid, ok) => life.stable.push([mid, ok]));
  ep.onOpen((conv) => {
    life.conv = conv;
    assert.is(lib.attach(conv), PS_OK);
    log?.start(conv);
  });
  // The counter takes the library's onCommit; the test's log sees each commit first.
  let counterCommit: ((c: number, mid: number, d: Uint8Array, len: number) => void) | null = null;
  lib.onCommit((c, mid, d, len) => {
    if (nt.payload.get(mid) !== hex(d, len)) nt.errors.push(`host ${h.addr}: committed data of ${midSender(mid)}:${midSeq(mid)} differs`);
    life.commits.push(mid);
    if (process.env.REJOIN_TRACE === String(h.addr)) console.log(nt.s.now(), h.addr, 'commit', midSender(mid) + ':' + midSeq(mid), life.commits.length);
    if (counterCommit) counterCommit(c, mid, d, len);
  });
  if (nt.counters) {
    life.counter = replicatedCounter({ lib: { ...lib, onCommit: (fn) => { counterCommit = fn; } }, ps: ep });
    life.counter.onApply((mid, _op, _arg, v) => life.applied.push([mid, v]));
  }
  lib.onRejoin((_c, position) => {
    life.rejoinedAt = nt.s.now();
    life.position = position;
    // Back: one message through send_stable (in case the traffic is over by now).
    if (!nt.counters) nt.s.after(1_000, () => assert.ok(sendData(nt, h, new Uint8Array([h.addr, 0xff, 0xff, 0])) >= 0, 'send_stable after the rejoin')); if (process.env.REJOIN_DEBUG) console.log(nt.s.now(), h.addr, 'rejoined at', position); });
  if (process.env.REJOIN_DEBUG) {
    lib.onRemoved((_c, addr) => console.log(nt.s.now(), h.addr, 'removed', addr, 'commits', life.commits.length));
    lib.onRestart((_c, addr) => console.log(nt.s.now(), h.addr, 'restart of', addr));
  }
  h.lives.push(life);
  h.life = life;
  return life;
}

function net(n: number, drop: number, seed: number, counters: boolean, logs: Logs): Net {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const rng = xoshiro(seed);
  const nt: Net = { s, hosts: [], cid: 0, participants: [], payload: new Map(), errors: [], counters, logs };
  for (let i = 1; i <= n; i++) {
    const link = faulty(m.station({ id: i }).link, { clock: s, rng, dropPct: drop, dupPct: 5, reorderPct: 10, jitterUs: 2_000 });
    const h = { addr: i, inner: rawMac(link, i, 16), store: memoryStore(32768), lives: [], data: [], k: 0 } as unknown as Host;
    newLife(nt, h, seed * 100 + i, logs !== 'none');
    nt.hosts.push(h);
  }
  return nt;
}

function open(nt: Net): void {
  const [h1, ...rest] = nt.hosts;
  for (const h of rest) assert.is(h.life.ep.passiveOpen(), PS_OK);
  nt.participants = nt.hosts.map((h) => h.addr);
  const l = h1.life;
  l.conv = l.ep.activeOpen(nt.participants, nt.participants.length);
  assert.is(l.lib.attach(l.conv), PS_OK);
  l.log?.start(l.conv);
  nt.cid = sendData(nt, h1, new Uint8Array([0xc0]));
  assert.is(nt.cid, l.ep.cid(l.conv));
}

/** One data message (or counter operation) through the current life's library. */
function sendData(nt: Net, h: Host, data: Uint8Array): number {
  // A restarted host's first data goes through send_stable: it must work again after the rejoin.
  const l = h.life;
  const first = h.lives.length > 1 && l.stable.length === 0 && !h.data.some((m) => l.ep.known(l.conv, m) && !h.lives[0].ep.known(h.lives[0].conv, m));
  const mid = first ? l.lib.sendStable(data, data.length) : l.lib.send(data, data.length);
  if (mid >= 0) {
    nt.payload.set(mid, hex(data, data.length));
    h.data.push(mid);
  }
  return mid;
}

/** Every host sends `count` messages at random times, at most `window` of its own uncommitted. */
function traffic(nt: Net, count: number, window: number, seed: number, gapUs: number): void {
  const rng = xoshiro(seed);
  for (const h of nt.hosts) {
    const step = (): void => {
      if (h.k >= count) return;
      const l = h.life;
      const mine = h.data.filter((m) => !l.lib.isCommitted(m)).length;
      if (!l.mac.dead && l.conv >= 0 && !l.lib.rejoining() && mine < window) {
        let mid: number;
        if (l.counter) {
          const r = below(rng, 100);
          const data = new Uint8Array(3);
          const op = r < 70 ? RC_ADD : r < 85 ? RC_MUL : RC_SET;
          const arg = op === RC_ADD ? 1 + below(rng, 100) : op === RC_MUL ? 2 + below(rng, 8) : below(rng, 1000);
          data[0] = op; data[1] = arg >> 8; data[2] = arg & 0xff;
          // Through the counter, so that it applies its own operation; the payload is logged first.
          mid = op === RC_ADD ? l.counter.add(arg) : op === RC_MUL ? l.counter.mul(arg) : l.counter.set(arg);
          if (mid >= 0) { nt.payload.set(mid, hex(data, 3)); h.data.push(mid); }
        } else {
          mid = sendData(nt, h, new Uint8Array([h.addr, h.k >> 8, h.k & 0xff, below(rng, 256)]));
        }
        if (mid >= 0) h.k++;
      }
      nt.s.after(gapUs / 2 + below(rng, gapUs), step);
    };
    nt.s.after(1_000 + below(rng, 10_000), step);
  }
}

/** Crash h at `at`; restart it downUs later from the root (replay), with its log or without. */
function crashRestart(nt: Net, h: Host, at: number, downUs: number, withLog: boolean, seed: number, down: { waves: number }): void {
  const other = nt.hosts.find((g) => g !== h)!;
  nt.s.at(at, () => {
    down.waves = -other.life.lib.stats.waves;
    h.life.mac.dead = true;
    h.life.log?.stop();
    nt.s.after(downUs, () => {
      down.waves += other.life.lib.stats.waves;
      const l = newLife(nt, h, seed, withLog);
      l.conv = l.ep.restart(nt.cid, nt.participants, nt.participants.length, [], 0);
      assert.ok(l.conv >= 0, `restart: ${l.conv}`);
      if (REJOIN) assert.is(l.lib.rejoin(l.conv), PS_OK);
      else assert.is(l.lib.attach(l.conv), PS_OK);
      if (withLog && h.lives[0].conv < 0) {
        l.log!.start(l.conv); // it crashed before the conversation opened there: no log to replay
      } else if (withLog) {
        const hd = logHeader();
        const buf = new Uint8Array(256);
        assert.ok(readLogHeader(h.store, hd, buf), 'the log has a header');
        replayLog(h.store, hd, l.ep, l.conv, buf);
        l.log!.resume(l.conv, hd.end);
      }
    });
  });
}

interface Run {
  /** Waves a running host committed while the victim was down. */
  wavesDown: number;
  nt: Net;
  victim: Host;
  live: Host[];
  ref: number[];
  label: string;
}

function run(n: number, drop: number, seed: number, downUs: number, withLog: boolean, counters = false, logs: Logs = 'kept'): Run {
  const nt = net(n, drop, seed, counters, logs);
  open(nt);
  traffic(nt, 16, 2, seed + 7, 150_000);
  const rng = xoshiro(seed + 11);
  const victim = nt.hosts[1 + below(rng, n - 1)];
  const at = 300_000 + below(rng, 1_200_000);
  const down = { waves: 0 };
  crashRestart(nt, victim, at, downUs, withLog, seed * 100 + 50, down);
  nt.s.runAll(25_000_000);
  const live = nt.hosts.filter((h) => h !== victim);
  const label = `n=${n} drop=${drop}% seed=${seed} down=${downUs / 1000}ms ${withLog ? 'log' : 'no log'} (others: ${logs}) victim=${victim.addr}`;
  return { nt, victim, live, ref: live[0].life.commits, label: `${label} (${down.waves} waves while down)`, wavesDown: down.waves };
}

/**
 * The properties, from the logs: every running host committed the same sequence, with every data
 * message of the running hosts and of the restarted host's new life; the restarted host's commits
 * after its restart are that sequence with one stretch left out (the waves it could not replay, as
 * many as the library says it missed) and nothing else; nobody stalled (all of it within bounded time).
 */
function check(r: Run): { missed: number; wavesDown: number } {
  const { nt, victim, live, ref, label } = r;
  if (process.env.REJOIN_DEBUG) for (const h of [...live, victim]) {
    const st = h.life.lib.stats;
    console.log(label, 'host', h.addr, 'commits', h.life.commits.length, 'removed', st.removed, 'suspected', st.suspected, 'joined', st.joined, 'joinsSent', st.joinsSent, 'records', h.life.lib.recordsUsed(), 'rejoining', h.life.lib.rejoining(), 'resent', st.resent, 'data', h.data.length, 'k', h.k);
    if (process.env.REJOIN_DEBUG === '2') console.log(JSON.stringify(h.life.ep.stats), 'bufs', h.life.ep.bufsUsed(h.life.conv), 'nodes', h.life.ep.nodesUsed(h.life.conv), 'unstableOwn', h.life.ep.unstableOwn(h.life.conv), 'outstanding', h.life.ep.outstanding(h.life.conv), 'recovering', h.life.ep.recovering(h.life.conv), 'frontier', (() => { const o: number[] = []; const k = h.life.ep.frontier(h.life.conv, o); return o.slice(0, k).map((m) => midSender(m) + ':' + midSeq(m)).join(' '); })());
  }
  assert.equal(nt.errors.slice(0, 5), [], `${label}: payloads`);
  const l2 = victim.life;
  assert.is(victim.lives.length, 2, `${label}: restarted once`);
  assert.not.ok(l2.ep.recovering(l2.conv), `${label}: Psync's restart completed`);
  assert.not.ok(l2.lib.rejoining(), `${label}: the library rejoined`);
  if (REJOIN) assert.ok(l2.rejoinedAt > 0, `${label}: onRejoin was called`);
  for (const h of [...live, victim]) {
    assert.is(h.life.lib.stats.lost, 0, `${label}: host ${h.addr} ran out of records`);
    assert.is(h.life.lib.stats.stuck, 0, `${label}: host ${h.addr} found no cut to resume from`);
  }
  for (const h of live) assert.equal(h.life.commits, ref, `${label}: host ${h.addr} committed another sequence`);
  assert.is(new Set(ref).size, ref.length, `${label}: committed twice`);
  const inRef = new Set(ref);
  for (const h of live) for (const m of h.data) if (!inRef.has(m) && process.env.REJOIN_DEBUG) console.log(label, 'missing', h.addr, midSeq(m), 'cid', nt.cid, m, h.data.indexOf(m), h.data.length, nt.payload.get(m), 'commits', h.life.commits.length, 'records', h.life.lib.recordsUsed());
  for (const h of live) for (const m of h.data) assert.ok(inRef.has(m), `${label}: ${h.addr}:${midSeq(m)} (running host) never committed`);
  const c2 = l2.commits;
  const missed = l2.lib.stats.missed;
  let k = 0;
  while (k < c2.length && c2[k] === ref[k]) k++;
  if (process.env.REJOIN_DEBUG) {
    const f = (m: number) => `${midSender(m)}:${midSeq(m)}`;
    console.log(label, 'k', k, 'missed', missed, 'c2', c2.length, 'ref', ref.length, 'l1', victim.lives[0].commits.length, 'pos', l2.position, l2.lib.stats, l2.ep.stats.skipped);
    console.log(' ref', ref.slice(Math.max(0, k - 3), k + 8).map(f).join(' '));
    console.log(' c2 ', c2.slice(Math.max(0, k - 3), k + 8).map(f).join(' '));
    console.log(' l1 ', victim.lives[0].commits.slice(Math.max(0, k - 3), k + 8).map(f).join(' '));
  }
  assert.equal(c2, [...ref.slice(0, k), ...ref.slice(k + missed)], `${label}: the restarted host's commits are the sequence less ${missed} missed`);
  assert.ok(c2.length > 0 && c2[c2.length - 1] === ref[ref.length - 1], `${label}: the restarted host committed to the end`);
  if (missed > 0) assert.is(l2.position, k + missed, `${label}: onRejoin's position is where its commits resume`);
  // Data the restarted host sent once it was back is committed everywhere (its first life's may be lost).
  for (const m of victim.data) if (l2.ep.known(l2.conv, m) && !victim.lives[0].ep.known(victim.lives[0].conv, m)) assert.ok(inRef.has(m), `${label}: ${victim.addr}:${midSeq(m)} (after the restart) never committed`);
  assert.ok(victim.k === 16, `${label}: the restarted host sent all its data`);
  if (!nt.counters && REJOIN) {
    assert.ok(l2.stable.length > 0 && l2.stable.every(([, ok]) => ok), `${label}: send_stable after the rejoin reported stable (${l2.stable.length})`);
    for (const [m] of l2.stable) assert.ok(inRef.has(m), `${label}: the send_stable message was committed`);
  }
  return { missed, wavesDown: r.wavesDown };
}

test('rejoin after a crash: 3-5 participants, 0-30 % loss, with and without the log: one sequence everywhere, the restarted host resumes it', () => {
  let runs = 0;
  let withMissed = 0;
  let replayedAll = 0;
  let joined = 0;
  let severalMissed = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 10, 30]) {
      for (const [seed, downUs, withLog] of [[1, 300_000, true], [2, 5_000_000, true], [3, 5_000_000, false]] as const) {
        if (process.env.REJOIN_ONLY && process.env.REJOIN_ONLY !== `${n},${drop},${seed}`) continue;
        const r = run(n, drop, seed * 17 + n + drop, downUs, withLog);
        const { missed, wavesDown } = check(r);
        if (missed > 0 && wavesDown >= 3) severalMissed++;
        if (missed > 0) withMissed++;
        else replayedAll++;
        for (const h of r.live) joined += h.life.lib.stats.joined;
        runs++;
      }
    }
  }
  assert.ok(withMissed > 0 && replayedAll > 0, `some rejoins replayed everything (${replayedAll}), some jumped (${withMissed})`);
  assert.ok(joined > 0, 'some participants were taken back in after a removal');
  assert.ok(severalMissed > 0, 'some restarted host missed several waves');
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'runs', replayedAll, 'replayed all', withMissed, 'jumped', severalMissed, 'over several waves', joined, 'joins');
});

test('replicated counter after a rejoin that replays everything: the restarted replica applies every operation again and ends in the same state', () => {
  let runs = 0;
  let jumped = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 15, 30]) {
      for (const seed of [1, 2]) {
        const r = run(n, drop, seed * 13 + n + drop, 300_000, true, true);
        const { missed } = check(r);
        if (missed > 0) {
          // Operations stable elsewhere whose copies are gone cannot be applied again: the library says
          // so (missed), and the replica would need the application's own state transfer.
          jumped++;
          continue;
        }
        sameState(r);
        runs++;
      }
    }
  }
  assert.ok(runs >= 12, `most rejoins replayed everything (${runs} did, ${jumped} jumped)`);
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'counter runs converged after a full replay,', jumped, 'jumped');
});

/** The counter properties (after check): every replica applied the same operations, mul and set in one order, and ends in one state. */
function sameState(r: Run): void {
  const { victim, live, label } = r;
  const ref = live[0].life;
  const betas = (l: Life) => l.applied.filter(([m]) => { const d = r.nt.payload.get(m)!; return !d.startsWith('61'); }).map(([m]) => m);
  for (const h of [...live, victim]) {
    const l = h.life;
    assert.is(l.counter!.pending(), 0, `${label}: host ${h.addr} has operations left`);
    assert.is(l.counter!.stats.lost, 0);
    assert.is(new Set(l.applied.map(([m]) => m)).size, l.applied.length, `${label}: host ${h.addr} applied an operation twice`);
    assert.equal(l.applied.map(([m]) => m).sort(), ref.applied.map(([m]) => m).sort(), `${label}: host ${h.addr} applied other operations`);
    assert.is(l.counter!.value(), ref.counter!.value(), `${label}: host ${h.addr} ends in another state`);
    assert.equal(betas(l), betas(ref), `${label}: host ${h.addr} applied mul and set in another order`);
  }
}

// Section 5.1 with the logs served: the victim is down for 5 s, long enough that the others remove it
// and the messages of many waves become stable and are freed everywhere; the running hosts answer its
// RS and RTXs from their logs, so it replays everything: its commits are exactly the others', nothing
// missed, and the replicated counter ends in the same state at every host. LOG_SERVE=off makes the
// logs kept but not served: these tests then fail (missed > 0, the counter diverges).
const SERVE: Logs = process.env.LOG_SERVE === 'off' ? 'kept' : 'served';

test('logs served: a host down while many waves became stable everywhere replays all of them, its commits exactly the others\'', () => {
  let runs = 0;
  let fromLogs = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 10, 30]) {
      for (const [seed, withLog] of [[4, true], [5, false]] as const) {
        if (process.env.REJOIN_ONLY && process.env.REJOIN_ONLY !== `${n},${drop},${seed}`) continue;
        const r = run(n, drop, seed * 19 + n + drop, 5_000_000, withLog, false, SERVE);
        const { missed, wavesDown } = check(r);
        const l2 = r.victim.life;
        assert.ok(wavesDown >= 3, `${r.label}: down for several waves`);
        assert.is(missed, 0, `${r.label}: nothing missed`);
        assert.is(l2.ep.stats.skipped, 0, `${r.label}: nothing taken without content`);
        assert.equal(l2.commits, r.ref, `${r.label}: the restarted host committed exactly the sequence`);
        for (const h of r.live) fromLogs += h.life.log!.stats.served;
        if (process.env.PSYNC_SUMMARY === '2') console.log(r.label, 'served', r.live.map((h) => `${h.life.log!.stats.served}/${h.life.log!.stats.seeks}`).join(' '), 'victim delivered', l2.ep.stats.delivered, 'dups', l2.ep.stats.duplicates, 'rtx', l2.ep.stats.rtxSent, 'rs', l2.ep.stats.rsSent, 'flow', l2.ep.stats.flowDiscarded, 'hold', l2.ep.stats.holdFull, 'refused', l2.ep.stats.refused, 'nodes', l2.ep.stats.nodesFull, 'held', l2.ep.stats.held, 'malformed', l2.ep.stats.malformed);
        runs++;
      }
    }
  }
  assert.ok(fromLogs > 0, 'the running hosts sent messages from their logs');
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'runs replayed everything,', fromLogs, 'frames served from logs');
});

test('logs served: the replicated counter (add, mul, set) ends in the same state at every host, the restarted one included', () => {
  let runs = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 15, 30]) {
      for (const [seed, withLog] of [[6, true], [7, false]] as const) {
        const r = run(n, drop, seed * 23 + n + drop, 5_000_000, withLog, true, SERVE);
        const { missed, wavesDown } = check(r);
        assert.ok(wavesDown >= 3, `${r.label}: down for several waves`);
        assert.is(missed, 0, `${r.label}: nothing missed`);
        assert.equal(r.victim.life.commits, r.ref, `${r.label}: the restarted host committed exactly the sequence`);
        sameState(r);
        runs++;
      }
    }
  }
  assert.is(runs, 18);
});

test('no logs anywhere: the same long outage still rejoins through the jump, its commits the sequence less exactly `missed`', () => {
  let jumped = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 10, 30]) {
      const r = run(n, drop, 8 * 19 + n + drop, 5_000_000, false, false, 'none');
      const { missed } = check(r);
      for (const h of r.live) assert.is(h.life.log, null, `${r.label}: nothing served without logs`);
      if (missed > 0) jumped++;
    }
  }
  assert.ok(jumped > 0, `some restarted hosts jumped (${jumped})`);
});

test.run();

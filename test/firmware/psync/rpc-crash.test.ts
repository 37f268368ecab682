// Conversational request-reply over Psync (firmware/psync/rpc.ts, section 4.1) across a crash and
// restart of a participant (section 5): seeded property tests on the raw MAC over the simulated medium
// with 0, 10 and 30 % loss plus duplication and reordering. One participant (the client, or a server)
// crashes at a seeded time (its MAC goes silent; its Psync endpoint and rpc are abandoned, their timers
// left to run into the dead MAC) and comes back after a seeded time as a new incarnation: a new
// endpoint on the same station, ps.restart() from the root (5.2), rpc.rejoin(). A server keeps its
// journal in a simulated flash store that survives the crash; the test keeps, as the application's
// checkpoint would, the conversation id, the participants and the next call number.
// The server keeps Psync's log (log.ts, a second simulated store) on half the runs, so the replay
// brings back whole answered calls there and only the unstable tail elsewhere.
// Every check reads the test's own logs: handler runs counted inside the handlers (across
// incarnations), the result each call got, the rejoin report. A call's arguments are its number k,
// the result echoes k and names the server, so a reply can be matched to its request.
// Further tests: onReplay with the log; the journal against a reply lost on the air just before the
// server crashed (and without it, the handler runs twice); a deferred (CR_LATER) reply cut off by the
// crash answered CR_E_OUTCOME; a server restarted with attach() instead of rejoin() runs replayed
// requests again. Shown by hand to fail with each part of the recovery turned off in rpc.ts: no replay
// mode (restarted servers rerun logged calls, a restarted client never reports and its calls stop),
// no journal (the lost-reply call runs twice), no skipping of Psync's send suppression (calls time out).
// RPC_DEBUG=1 prints crashes, restarts and rejoin reports; RPC_ONLY=client,30,1 runs one scenario.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro, below } from '../../../hal/prng.ts';
import type { Rng } from '../../../hal/rng.ts';
import { memoryStore } from '../../../hal/sim/store.ts';
import type { MemoryStore } from '../../../hal/sim/store.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { crashable } from './crashable.ts';
import { TX_OK } from '../../../hal/link.ts';
import { PSYNC_DEFAULTS, PS_OK, psync } from '../../../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../../../firmware/psync/psync.ts';
import { LOG_DEFAULTS, logHeader, psyncLog, readLogHeader, replayLog } from '../../../firmware/psync/log.ts';
import type { PsyncLog } from '../../../firmware/psync/log.ts';
import { CR_E_OUTCOME, CR_LATER, RPC_DEFAULTS, psyncRpc } from '../../../firmware/psync/rpc.ts';
import type { PsyncRpc, RpcConfig } from '../../../firmware/psync/rpc.ts';

const PCFG: PsyncConfig = { ...PSYNC_DEFAULTS, nodes: 96, bufs: 32, hold: 8 };
/** 40 tries of 50 ms: a call outlives a server's downtime even before the RS gives it fresh tries. */
const RCFG: RpcConfig = { ...RPC_DEFAULTS, tries: 40 };
const DEBUG = process.env.RPC_DEBUG === '1';
const ONLY = process.env.RPC_ONLY;

interface Life {
  ps: Psync;
  rpc: PsyncRpc;
  mac: Mac & { dead: boolean };
  conv: number;
  log: PsyncLog | null;
}

interface Host {
  addr: number;
  inner: Mac;
  store: MemoryStore;
  life: Life;
  lives: Life[];
  /** Server: handler runs by call number, over every incarnation. */
  ran: Map<number, number>;
  /** Frames of this host to lose on the air, next first. */
  dropOut: number;
  /** Psync's log (section 5.1) in a second store, or none; and whether the rpc keeps its journal. */
  logStore: MemoryStore | null;
  journal: boolean;
}

/** A call's outcome as the client application saw it. */
interface Outcome {
  status: number;
  result: number[];
  from: number;
  /** Made by the client's incarnation after its restart. */
  late: boolean;
  how: 'call' | 'rejoin';
}

interface World {
  s: Scheduler;
  rng: Rng;
  hosts: Host[];
  cid: number;
  participants: number[];
  /** The client application's checkpoint: the next call number; and what each call got. */
  issued: number;
  total: number;
  got: Map<number, Outcome>;
  /** Calls the client made after its restart. */
  lateCalls: Set<number>;
  errors: string[];
  /** Rejoin reports: [op, args, status, result]. */
  reports: [number, number[], number, number[]][];
  /** Server replays: [op, args, status, result] per onReplay. */
  replays: [number, number[], number, number[]][];
  clientRestarted: boolean;
  /** Called as call k is made (the scenarios time their crash from it). */
  onIssue: (k: number) => void;
}

function newLife(w: World, h: Host, seed: number): Life {
  const mac = crashable(h.inner);
  const ps = psync({ mac, clock: w.s, rng: xoshiro(seed), config: PCFG });
  const server = h.addr !== 1;
  const rpc = psyncRpc({ ps, addr: h.addr, clock: w.s, config: RCFG, store: server && h.journal ? h.store : undefined });
  const log = h.logStore ? psyncLog({ ps, store: h.logStore, clock: w.s, config: { ...LOG_DEFAULTS, flushUs: 5_000 } }) : null;
  const life: Life = { ps, rpc, mac, conv: -1, log };
  if (server) {
    rpc.handle(1, (_op, a, len, out) => {
      if (len !== 2) w.errors.push(`server ${h.addr}: ${len} argument bytes`);
      const k = (a[0] << 8) | a[1];
      h.ran.set(k, (h.ran.get(k) ?? 0) + 1);
      out[0] = a[0];
      out[1] = a[1];
      out[2] = h.addr;
      return 3;
    });
    rpc.onReplay((op, a, alen, st, r, rlen) => { w.replays.push([op, [...a.subarray(0, alen)], st, [...r.subarray(0, rlen)]]); });
  }
  h.lives.push(life);
  h.life = life;
  return life;
}

interface Setup {
  /** Server: keep Psync's log, and the rpc journal. */
  log?: boolean;
  journal?: boolean;
}

function world(servers: number, faults: Partial<FaultOptions>, seed: number, total: number, setup: Setup = {}): World {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const rng = xoshiro(seed);
  const w: World = {
    s, rng, hosts: [], cid: -1, participants: [], issued: 0, total, got: new Map(), lateCalls: new Set(), errors: [],
    reports: [], replays: [], clientRestarted: false, onIssue: () => {},
  };
  for (let i = 1; i <= servers + 1; i++) {
    const link = faulty(m.station({ id: i }).link, { clock: s, rng, ...faults });
    const raw = rawMac(link, i, 16);
    const server = i > 1;
    const h = {
      addr: i, store: memoryStore(4 * 31), lives: [], ran: new Map(), dropOut: 0,
      logStore: server && setup.log ? memoryStore(16384) : null, journal: setup.journal !== false,
    } as unknown as Host;
    h.inner = {
      ...raw,
      send: (dst, p, len) => {
        if (h.dropOut > 0) {
          h.dropOut--;
          return TX_OK;
        }
        return raw.send(dst, p, len);
      },
    };
    const life = newLife(w, h, seed * 100 + i);
    if (server) {
      life.ps.passiveOpen();
      life.ps.onOpen((c) => {
        life.conv = c;
        if (life.log) life.log.start(c);
        assert.is(life.rpc.attach(c), PS_OK);
      });
    }
    w.hosts.push(h);
  }
  w.participants = w.hosts.map((h) => h.addr);
  const client = w.hosts[0].life;
  client.conv = client.ps.activeOpen(w.participants, w.participants.length);
  assert.ok(client.conv >= 0);
  assert.is(client.rpc.attach(client.conv), PS_OK);
  // The application's checkpoint: the conversation id (the SC's, fixed at activeOpen) and participants.
  w.cid = client.ps.cid(client.conv);
  return w;
}

/** Record an outcome for call k; a second outcome must say the same. */
function record(w: World, k: number, o: Outcome): void {
  const prev = w.got.get(k);
  if (prev && (prev.status !== o.status || prev.result.join() !== o.result.join())) {
    w.errors.push(`call ${k}: ${o.how} said ${o.status} [${o.result}] after ${prev.how} said ${prev.status} [${prev.result}]`);
  }
  if (!prev) w.got.set(k, o);
  if (o.status === 0 && (o.result.length !== 3 || ((o.result[0] << 8) | o.result[1]) !== k || o.result[2] !== o.from)) {
    w.errors.push(`call ${k}: result [${o.result}] from ${o.from} does not answer it`);
  }
}

/** The client application: calls one after another with 5-25 ms between them, for the life it starts in. */
function calls(w: World, life: Life): void {
  const next = (): void => {
    if (life.mac.dead || w.issued >= w.total) return;
    const k = w.issued++;
    const late = w.clientRestarted;
    if (late) w.lateCalls.add(k);
    const r = life.rpc.call(1, new Uint8Array([k >> 8, k & 0xff]), 2, false, (st, res, len, from) => {
      if (life.mac.dead) return;
      record(w, k, { status: st, result: [...res.subarray(0, len)], from, late, how: 'call' });
      w.s.after(5_000 + below(w.rng, 20_000), next);
    });
    if (r !== PS_OK) w.errors.push(`call ${k} refused: ${r}`);
    w.onIssue(k);
  };
  next();
}

/** Crash host h at `at` and bring it back `downUs` later, with rejoin() (or attach(), to see what breaks). */
function crash(w: World, h: Host, at: number, downUs: number, seed: number, rejoin = true): void {
  w.s.at(at, () => {
    h.life.mac.dead = true;
    if (h.life.log) h.life.log.stop(); // what is queued and not written is lost with the crash
    if (DEBUG) console.log(`t=${w.s.now()} host ${h.addr} crashes`);
    w.s.after(downUs, () => {
      const life = newLife(w, h, seed * 1000 + h.addr);
      life.conv = life.ps.restart(w.cid, w.participants, w.participants.length, [], 0);
      assert.ok(life.conv >= 0, `restart: ${life.conv}`);
      if (DEBUG) console.log(`t=${w.s.now()} host ${h.addr} restarts`);
      if (h.addr !== 1) {
        // rejoin before the log is injected, so that the replay passes through the rpc.
        assert.is(rejoin ? life.rpc.rejoin(life.conv, null) : life.rpc.attach(life.conv), PS_OK);
        if (h.logStore && life.log) {
          const lh = logHeader();
          const buf = new Uint8Array(256);
          assert.ok(readLogHeader(h.logStore, lh, buf), 'the log has a header');
          assert.is(lh.cid, w.cid);
          replayLog(h.logStore, lh, life.ps, life.conv, buf);
          life.log.resume(life.conv, lh.end);
        }
        return;
      }
      w.clientRestarted = true;
      assert.is(life.rpc.rejoin(life.conv, (op, a, alen, st, res, len, from) => {
        w.reports.push([op, [...a.subarray(0, alen)], st, [...res.subarray(0, len)]]);
        if (DEBUG) console.log(`t=${w.s.now()} client rejoined: op ${op} [${[...a.subarray(0, alen)]}] status ${st} [${[...res.subarray(0, len)]}]`);
        // The last call: by its arguments when they came back, else by the result that echoes them.
        const k = op === 1 && alen === 2 ? (a[0] << 8) | a[1] : st === 0 && len === 3 ? (res[0] << 8) | res[1] : -1;
        if (k >= 0) record(w, k, { status: st, result: [...res.subarray(0, len)], from, late: false, how: 'rejoin' });
        calls(w, life);
      }), PS_OK);
    });
  });
}

/**
 * Run one scenario: the crash comes a seeded 0-400 µs after a seeded call is made (a call takes about
 * 150 µs on a quiet medium), so it lands before, during and after the exchange; the host is down for a
 * seeded 50-750 ms. Returns the world for the checks.
 */
function scenario(who: 'client' | 'server', dropPct: number, seed: number, setup: Setup = {}, rejoin = true, total = 60): World {
  const faults = dropPct === 0 ? {} : { dropPct, dupPct: 10, reorderPct: 10, jitterUs: 2_000 };
  const w = world(1, faults, seed, total, setup);
  const crng = xoshiro(seed * 7 + dropPct);
  const m = 5 + below(crng, total - 20);
  const d = below(crng, 400);
  const down = 50_000 + below(crng, 700_000);
  const h = who === 'client' ? w.hosts[0] : w.hosts[1];
  w.onIssue = (k) => { if (k === m) crash(w, h, w.s.now() + d, down, seed, rejoin); };
  calls(w, w.hosts[0].life);
  w.s.runUntil(60_000_000);
  return w;
}

/** The properties every run must have. */
function check(w: World, label: string, who: 'client' | 'server'): void {
  assert.equal(w.errors, [], `${label}: ${w.errors.join('; ')}`);
  const sv = w.hosts[1];
  for (const [k, n] of sv.ran) assert.ok(n <= 1, `${label}: call ${k} ran ${n} times`);
  for (const [k, o] of w.got) if (o.status === 0) assert.is(sv.ran.get(k), 1, `${label}: call ${k} answered, ran ${sv.ran.get(k)} times`);
  if (who === 'server') {
    // The client never stopped: every call completed, the one waiting through the crash included.
    for (let k = 0; k < w.total; k++) assert.is(w.got.get(k)?.status, 0, `${label}: call ${k}: ${JSON.stringify(w.got.get(k))}`);
  } else {
    assert.is(w.reports.length, 1, `${label}: one rejoin report`);
    assert.ok(w.lateCalls.size > 0, `${label}: calls after the restart`);
    for (const k of w.lateCalls) assert.is(w.got.get(k)?.status, 0, `${label}: call ${k} after the restart: ${JSON.stringify(w.got.get(k))}`);
    assert.is(w.issued, w.total, `${label}: every call was made`);
  }
}

for (const who of ['server', 'client'] as const) {
  test(`a ${who} crashes and restarts: handlers run at most once per request, every call after the restart completes, replies match requests (0/10/30 % loss, 6 seeds each, the server's Psync log on half)`, () => {
    const sum = { resumed: 0, journal: 0, replayed: 0, runs: 0 };
    for (const drop of [0, 10, 30]) {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        if (ONLY && ONLY !== `${who},${drop},${seed}`) continue;
        const log = seed % 2 === 0;
        const label = `${who} crash, ${drop} % loss, seed ${seed}${log ? ', log' : ''}`;
        const w = scenario(who, drop, seed, { log });
        check(w, label, who);
        const c = w.hosts[0].life.rpc.stats;
        const sv = w.hosts[1].life.rpc.stats;
        sum.resumed += c.resumed;
        sum.journal += sv.journalReplies + sv.journalSkipped;
        sum.replayed += sv.replayed;
        sum.runs++;
        if (DEBUG || process.env.PSYNC_SUMMARY) console.log(label, 'client', JSON.stringify(c), 'server', JSON.stringify(sv), 'reports', JSON.stringify(w.reports));
      }
    }
    if (process.env.PSYNC_SUMMARY) console.log(who, sum);
  });
}

/** Crash the server in the same turn as its handler runs for call k (the reply is on the air). */
function crashAfterRun(w: World, k: number, downUs: number, seed: number, rejoin = true): void {
  const sv = w.hosts[1];
  const first = sv.lives[0].rpc;
  first.handle(1, (_op, a, len, out) => {
    const n = (a[0] << 8) | a[1];
    sv.ran.set(n, (sv.ran.get(n) ?? 0) + 1);
    out[0] = a[0];
    out[1] = a[1];
    out[2] = sv.addr;
    if (n === k) crash(w, sv, w.s.now(), downUs, seed, rejoin);
    return len === 2 ? 3 : 0;
  });
}

test('with its Psync log, a restarted server replays answered requests with their replies to onReplay and runs none of them', () => {
  const w = world(1, {}, 5, 20, { log: true });
  crashAfterRun(w, 12, 100_000, 5);
  w.hosts[1].dropOut = 0;
  calls(w, w.hosts[0].life);
  w.s.runUntil(10_000_000);
  check(w, 'replay', 'server');
  const sv = w.hosts[1];
  // The log is written every 5 ms and calls come every 5-25 ms: most calls before the crash are in it.
  assert.ok(w.replays.length >= 8, `${w.replays.length} calls replayed`);
  const seen = new Set<number>();
  for (const [op, a, st, r] of w.replays) {
    const k = (a[0] << 8) | a[1];
    assert.is(op, 1);
    assert.is(st, 0);
    assert.equal(r, [a[0], a[1], 2], `call ${k}: the reply it had`);
    assert.ok(k <= 12 && !seen.has(k), `call ${k} replayed once, and only calls from before the crash`);
    seen.add(k);
  }
  assert.is(sv.life.rpc.stats.replayed, w.replays.length);
  for (let k = 0; k < 20; k++) assert.is(sv.ran.get(k), 1, `call ${k} ran once`);
  assert.ok(sv.life.rpc.stats.handled >= 7, 'the calls after the restart ran on the new incarnation');
});

test('the journal: a reply lost on the air with the server crashing before the resend is answered from the journal, not by the handler', () => {
  for (const journal of [true, false]) {
    const w = world(1, {}, 9, 10, { journal });
    const sv = w.hosts[1];
    crashAfterRun(w, 4, 100_000, 9);
    // Call 4's reply is lost: the server's next frame.
    w.onIssue = (k) => { if (k === 4) sv.dropOut = 1; };
    calls(w, w.hosts[0].life);
    w.s.runUntil(10_000_000);
    const st = sv.life.rpc.stats;
    for (let k = 0; k < 10; k++) assert.is(w.got.get(k)?.status, 0, `journal ${journal}: call ${k}`);
    if (journal) {
      check(w, 'journal', 'server');
      assert.is(st.journalReplies, 1, 'call 4 answered from the journal');
      assert.is(sv.ran.get(4), 1);
    } else {
      // Without it the view shows call 4 unanswered: the handler runs again (at-least-once for this window).
      assert.is(st.journalReplies, 0);
      assert.is(sv.ran.get(4), 2, 'without the journal call 4 ran twice');
    }
  }
});

test('a deferred reply cut off by the crash: the restarted server answers CR_E_OUTCOME and runs nothing again', () => {
  const w = world(1, {}, 11, 8);
  const sv = w.hosts[1];
  const first = sv.lives[0].rpc;
  // Call 3 is deferred (CR_LATER), and the server crashes before it replies.
  first.handle(1, (_op, a, len, out) => {
    const n = (a[0] << 8) | a[1];
    sv.ran.set(n, (sv.ran.get(n) ?? 0) + 1);
    if (n === 3) {
      crash(w, sv, w.s.now() + 1_000, 100_000, 11);
      return CR_LATER;
    }
    out[0] = a[0];
    out[1] = a[1];
    out[2] = sv.addr;
    return len === 2 ? 3 : 0;
  });
  calls(w, w.hosts[0].life);
  w.s.runUntil(10_000_000);
  assert.equal(w.errors, []);
  assert.is(w.got.get(3)?.status, CR_E_OUTCOME, 'call 3: outcome unknown');
  assert.is(sv.life.rpc.stats.unknownOutcome, 1);
  for (let k = 0; k < 8; k++) assert.is(sv.ran.get(k), 1, `call ${k} ran once`);
  for (let k = 4; k < 8; k++) assert.is(w.got.get(k)?.status, 0, `call ${k} after the restart`);
});

test('a server restarted with attach() instead of rejoin() runs replayed requests again (what rejoin prevents)', () => {
  const w = world(1, {}, 5, 20, { log: true });
  crashAfterRun(w, 12, 100_000, 5, false);
  calls(w, w.hosts[0].life);
  w.s.runUntil(10_000_000);
  let twice = 0;
  for (const n of w.hosts[1].ran.values()) if (n > 1) twice++;
  assert.ok(twice >= 8, `${twice} requests ran twice without the rejoin`);
});

test.run();

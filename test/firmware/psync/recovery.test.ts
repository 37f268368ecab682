// Psync recovery (the Psync paper, section 5) over the raw MAC on the simulated medium with seeded
// faults: a participant crashes (its MAC goes silent and its endpoint is abandoned) and restarts as a
// new endpoint with restart(), from a checkpoint (5.1) or from the root (5.2), rebuilding its image
// from its asynchronous log (firmware/psync/log.ts on a simulated flash store) and from the other
// hosts through the RS message. Every check reads the test's own logs: what each incarnation delivered,
// the context each message was sent in, what the application sent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro, below } from '../../../hal/prng.ts';
import { memoryStore } from '../../../hal/sim/store.ts';
import type { MemoryStore } from '../../../hal/sim/store.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { crashable } from './crashable.ts';
import { PSYNC_DEFAULTS, PS_E_RECOVERING, PS_OK, midOf, midSender, midSeq, psync } from '../../../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../../../firmware/psync/psync.ts';
import { LOG_DEFAULTS, logHeader, psyncLog, readLogHeader, replayLog } from '../../../firmware/psync/log.ts';
import type { PsyncLog } from '../../../firmware/psync/log.ts';

const EMPTY = new Uint8Array(0);
const CFG: PsyncConfig = { ...PSYNC_DEFAULTS, nodes: 96, bufs: 32, hold: 8 };

/** One incarnation of a host: an endpoint, its log, and what it saw. */
interface Life {
  ep: Psync;
  log: PsyncLog;
  mac: Mac & { dead: boolean };
  conv: number;
  view: Set<number>;
  delivered: number[];
  restarts: [number, number][];
  /** Every id its sends returned (data and ACKs), in order. */
  sent: number[];
}

interface Host {
  addr: number;
  inner: Mac;
  store: MemoryStore;
  life: Life;
  lives: Life[];
  /** The application's state, checkpointed: messages sent, and the frontier after the last send. */
  sent: number;
  ckpt: { sent: number; mids: number[]; view: Set<number> };
  data: number[];
  onData: () => void;
}

interface Net {
  s: Scheduler;
  hosts: Host[];
  ctx: Map<number, Set<number>>;
  errors: string[];
  cid: number;
  participants: number[];
}

let flushUs = 30_000;
/** Whether the logs are served to others (log.ts's default); the skip test turns it off. */
let serve = true;

function newLife(nt: Net, h: Host, seed: number): Life {
  const mac = crashable(h.inner);
  const ep = psync({ mac, clock: nt.s, rng: xoshiro(seed), config: CFG });
  const log = psyncLog({ ps: ep, store: h.store, clock: nt.s, config: { ...LOG_DEFAULTS, flushUs, serve } });
  const life: Life = { ep, log, mac, conv: -1, view: new Set(), delivered: [], restarts: [], sent: [] };
  ep.onOpen((conv) => { life.conv = conv; log.start(conv); });
  ep.onRestart((conv, addr) => { life.restarts.push([addr, nt.s.now()]); if (addr !== h.addr) ep.maskIn(conv, addr); });
  ep.onDeliver((conv, sender, seq, _p, len) => {
    const mid = midOf(sender, seq);
    if (len > 0) h.onData();
    if (life.view.has(mid)) nt.errors.push(`host ${h.addr} got ${sender}:${seq} twice in one life`);
    const c = nt.ctx.get(mid);
    if (!c) nt.errors.push(`host ${h.addr} got ${sender}:${seq}, never sent`);
    else for (const x of c) if (!life.view.has(x)) nt.errors.push(`host ${h.addr} got ${sender}:${seq} before ${midSender(x)}:${midSeq(x)}`);
    life.view.add(mid);
    life.delivered.push(mid);
  });
  h.lives.push(life);
  h.life = life;
  return life;
}

function net(n: number, faults: Partial<FaultOptions>, seed: number): Net {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const rng = xoshiro(seed);
  const nt: Net = { s, hosts: [], ctx: new Map(), errors: [], cid: 0, participants: [] };
  for (let i = 1; i <= n; i++) {
    const link = faulty(m.station({ id: i }).link, { clock: s, rng, ...faults });
    const h = { addr: i, inner: rawMac(link, i, 16), store: memoryStore(16384), lives: [], sent: 0, ckpt: { sent: 0, mids: [], view: new Set() }, data: [], onData: () => {} } as unknown as Host;
    newLife(nt, h, seed * 100 + i);
    nt.hosts.push(h);
  }
  return nt;
}

function send(nt: Net, h: Host, data: Uint8Array, len: number): number {
  const l = h.life;
  const mid = l.ep.send(l.conv, data, len);
  if (mid >= 0) l.sent.push(mid);
  if (mid >= 0 && !nt.ctx.has(mid)) {
    nt.ctx.set(mid, new Set(l.view));
    l.view.add(mid);
  } else if (mid >= 0) l.view.add(mid);
  return mid;
}

/** The application: `count` data messages each, ACKs, a resend watchdog; checkpoint after each send. */
function app(nt: Net, count: number, seed: number): void {
  const rng = xoshiro(seed);
  for (const h of nt.hosts) {
    let needAck = false;
    const checkpoint = (): void => {
      const out: number[] = [];
      const k = h.life.ep.frontier(h.life.conv, out);
      h.ckpt = { sent: h.sent, mids: out.slice(0, k), view: new Set(h.life.view) };
    };
    const trySend = (): void => {
      const l = h.life;
      if (h.sent < count && !l.mac.dead && l.conv >= 0) {
        const unstable = h.data.filter((m) => !l.ep.stable(l.conv, m)).length;
        if (unstable < 2) {
          const mid = send(nt, h, new Uint8Array([h.addr, h.sent]), 2);
          if (mid >= 0) {
            h.data.push(mid);
            h.sent++;
            needAck = false;
            checkpoint();
          }
        }
      }
      nt.s.after(5_000 + below(rng, 20_000), trySend);
    };
    const tick = (): void => {
      const l = h.life;
      if (!l.mac.dead && l.conv >= 0) {
        if (needAck && send(nt, h, EMPTY, 0) >= 0) { needAck = false; checkpoint(); }
        const last = h.data[h.data.length - 1];
        if (last !== undefined && !l.ep.stable(l.conv, last)) l.ep.resend(l.conv, last);
      }
      if (nt.s.now() < 8_000_000) nt.s.after(100_000 + below(rng, 100_000), tick);
    };
    h.onData = () => { needAck = true; };
    nt.s.after(1_000 + below(rng, 10_000), trySend);
    nt.s.after(50_000, tick);
  }
}

function open(nt: Net): void {
  const [h1, ...rest] = nt.hosts;
  for (const h of rest) assert.is(h.life.ep.passiveOpen(), PS_OK);
  nt.participants = nt.hosts.map((h) => h.addr);
  h1.life.conv = h1.life.ep.activeOpen(nt.participants, nt.participants.length);
  h1.life.log.start(h1.life.conv);
  nt.cid = send(nt, h1, new Uint8Array([0xc0]), 1);
  h1.ckpt = { sent: 0, mids: [nt.cid], view: new Set([nt.cid]) };
}

/** Crash host h now; restart it after downUs from its checkpoint (or from the root), with its log. */
function crashRestart(nt: Net, h: Host, downUs: number, fromRoot: boolean, seed: number, wipe: boolean): void {
  h.life.mac.dead = true;
  h.life.log.stop();
  nt.s.after(downUs, () => {
    if (wipe) {
      // A log lost with the board (or never kept): the header alone is written back, as a fresh
      // log's start() would, and everything comes from the other hosts.
      const keep = new Uint8Array(h.store.bytes.subarray(0, 7 + 2 * nt.participants.length));
      h.store.erase();
      h.store.write(0, keep, keep.length);
    }
    if (fromRoot) h.data = [];
    const l = newLife(nt, h, seed);
    const mids = fromRoot ? [] : h.ckpt.mids;
    l.conv = l.ep.restart(nt.cid, nt.participants, nt.participants.length, mids, mids.length);
    assert.ok(l.conv >= 0, `restart: ${l.conv}`);
    assert.ok(l.ep.recovering(l.conv));
    assert.is(l.ep.send(l.conv, EMPTY, 0) === PS_E_RECOVERING || fromRoot, true, 'no new message before the image is back');
    // The checkpoint's view: the messages in it count as seen (not delivered again).
    if (!fromRoot) l.view = new Set(h.ckpt.view);
    if (fromRoot) h.sent = 0;
    else h.sent = h.ckpt.sent;
    const hd = logHeader();
    const buf = new Uint8Array(256);
    assert.ok(readLogHeader(h.store, hd, buf), 'the log has a header');
    assert.is(hd.cid, nt.cid);
    replayLog(h.store, hd, l.ep, l.conv, buf);
    l.log.resume(l.conv, hd.end);
  });
}

function run(n: number, drop: number, seed: number, fromRoot: boolean, wipe = false) {
  const nt = net(n, { dropPct: drop, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, seed);
  // ACK on data: wrap each life's delivery to mark needAck through the app's closure.
  open(nt);
  app(nt, 12, seed + 3);
  const victim = nt.hosts[1 + (seed % (n - 1))];
  nt.s.after(400_000 + below(xoshiro(seed), 600_000), () => crashRestart(nt, victim, 300_000, fromRoot, seed * 7 + 1, wipe));
  nt.s.runAll(10_000_000);
  return { nt, victim };
}

function checkAll(nt: Net, victim: Host, label: string): void {
  assert.equal(nt.errors.slice(0, 5), [], `${label}: context order and duplicates`);
  const l = victim.life;
  assert.ok(victim.lives.length === 2, `${label}: restarted once`);
  assert.not.ok(l.ep.recovering(l.conv), `${label}: restart completed`);
  assert.ok(l.restarts.some(([a]) => a === victim.addr), `${label}: onRestart told the host itself`);
  for (const h of nt.hosts) {
    if (h === victim) continue;
    assert.ok(h.life.restarts.some(([a]) => a === victim.addr), `${label}: host ${h.addr} heard the RS`);
  }
  // Every data message reaches every other host's current life: delivered in it, or in its view at restart.
  for (const h of nt.hosts) {
    for (const g of nt.hosts) {
      if (g === h) continue;
      for (const mid of g.data) assert.ok(h.life.view.has(mid), `${label}: host ${h.addr} lacks ${g.addr}:${midSeq(mid)}`);
    }
  }
  assert.is(victim.sent, 12, `${label}: the restarted host finished sending`);
}

test('restart from a checkpoint (5.1): the image comes back from the log and the others, nothing is lost', () => {
  for (const [n, drop, seed] of [[3, 0, 1], [3, 20, 2], [4, 30, 3], [5, 20, 4], [4, 10, 5]] as const) {
    const { nt, victim } = run(n, drop, seed, false);
    const label = `n=${n} drop=${drop}% seed=${seed}`;
    checkAll(nt, victim, label);
    const ep = victim.life.ep;
    assert.ok(ep.stats.injected > 0, `${label}: the log supplied frames`);
  }
});

test('a log that lags (or is lost) is made up for by the other hosts; stable messages nobody keeps (logs not served) are skipped', () => {
  let skipped = 0;
  let lagged = 0;
  for (const [n, drop, seed, wipe] of [[3, 10, 11, true], [4, 20, 12, true], [4, 20, 13, false], [5, 30, 14, false]] as const) {
    flushUs = wipe ? 30_000 : 2_000_000;
    serve = false;
    const { nt, victim } = run(n, drop, seed, false, wipe);
    flushUs = 30_000;
    serve = true;
    const label = `n=${n} drop=${drop}% seed=${seed} ${wipe ? 'no log' : 'lagging log'}`;
    checkAll(nt, victim, label);
    const st = victim.life.ep.stats;
    skipped += st.skipped;
    lagged += victim.lives[0].log.stats.logged - victim.lives[0].log.stats.written;
    if (wipe) assert.is(st.injected, 0, `${label}: nothing from the log`);
  }
  assert.ok(skipped > 0, 'some restart skipped stable messages whose copies were gone');
  assert.ok(lagged > 0, 'some crash lost frames still queued for the log');
});

test('a lost log, the others\' logs served: nothing is skipped', () => {
  for (const [n, drop, seed] of [[3, 10, 11], [4, 20, 12], [5, 30, 15]] as const) {
    const { nt, victim } = run(n, drop, seed, false, true);
    const label = `n=${n} drop=${drop}% seed=${seed} no log, others served`;
    checkAll(nt, victim, label);
    assert.is(victim.life.ep.stats.skipped, 0, `${label}: nothing skipped`);
    assert.is(victim.life.ep.stats.injected, 0, `${label}: nothing from its own log`);
  }
});

test('replay from the root (5.2): the restarted host receives everything again in context order, its sends are suppressed with their old ids', () => {
  for (const [n, drop, seed] of [[3, 0, 21], [3, 20, 22], [4, 30, 23], [5, 10, 24]] as const) {
    const { nt, victim } = run(n, drop, seed, true);
    const label = `n=${n} drop=${drop}% seed=${seed} from the root`;
    checkAll(nt, victim, label);
    const st = victim.life.ep.stats;
    const first = victim.lives[0].sent;
    assert.ok(st.suppressed > 0, `${label}: re-sends suppressed`);
    // The k-th send of the replaying application returns the k-th id of the first life (5.2).
    const again = victim.life.sent.slice(0, st.suppressed);
    assert.equal(again, first.slice(0, again.length), `${label}: suppressed sends return the old ids in order`);
    assert.ok(first.every((m) => victim.life.view.has(m)), `${label}: every message of the first life is back in the view`);
    assert.is(victim.life.delivered.indexOf(nt.cid), 0, `${label}: the root is delivered first`);
  }
});

test.run();

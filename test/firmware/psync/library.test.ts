// The Psync library routines (firmware/psync/library.ts) over the raw MAC on the simulated medium with
// fault injection, as in psync.test.ts: the ordered broadcast by waves commits the same sequence at every
// host, in context order (section 4.2); send_stable reports stability only once every participant has
// sent in the message's context, and failure when one is silent (3.2.2, 3.2.4); a crashed participant is
// removed with mask_out and a marker, and the survivors go on committing the same sequence.
// Every check reads the test's own logs: what each host sent with the view it had, what it delivered and
// committed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import type { Medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro, below } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { crashable } from './crashable.ts';
import { PSYNC_DEFAULTS, PS_OK, midOf, midSender, midSeq, psync } from '../../../firmware/psync/psync.ts';
import type { DeliverFn, Psync, PsyncConfig } from '../../../firmware/psync/psync.ts';
import { LIB_DEFAULTS, LB_E_REMOVED, psyncLib } from '../../../firmware/psync/library.ts';
import type { LibConfig, PsyncLib } from '../../../firmware/psync/library.ts';
import { RC_ADD, RC_MOD, RC_MUL, RC_SET, replicatedCounter } from '../../../firmware/psync/replicated.ts';
import type { ReplicatedCounter } from '../../../firmware/psync/replicated.ts';

interface Host {
  addr: number;
  ep: Psync;
  lib: PsyncLib;
  mac: Mac & { dead: boolean };
  conv: number;
  /** Messages in this host's view: sent or delivered, in order. */
  view: Set<number>;
  /** Data handed up by the library: delivered (partial order) and committed (total order). */
  delivered: number[];
  commits: number[];
  /** Own data messages, in order. */
  data: number[];
  /** send_stable outcomes: [mid, ok, missing, time]. */
  stable: [number, boolean, number, number][];
}

interface Net {
  s: Scheduler;
  m: Medium;
  hosts: Host[];
  /** Every message sent (ACKs and markers included): its sender's view when it was sent. */
  ctx: Map<number, Set<number>>;
  /** The data each message carried (hex), for data sent through the library. */
  payload: Map<number, string>;
  errors: string[];
}

const hex = (b: Uint8Array, len: number) => Buffer.from(b.subarray(0, len)).toString('hex');

/** n hosts with addresses 1..n on one medium, faults under each, a library over each endpoint. */
function net(n: number, faults: Partial<FaultOptions>, cfg: Partial<PsyncConfig> = {}, lcfg: Partial<LibConfig> | ((addr: number) => Partial<LibConfig>) = {}, seed = 1): Net {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const rng = xoshiro(seed);
  const config = { ...PSYNC_DEFAULTS, nodes: 96, bufs: 32, hold: 8, ...cfg };
  const hosts: Host[] = [];
  const ctx = new Map<number, Set<number>>();
  const payload = new Map<number, string>();
  const errors: string[] = [];
  for (let i = 1; i <= n; i++) {
    const link = faulty(m.station({ id: i }).link, { clock: s, rng, ...faults });
    const mac = crashable(rawMac(link, i, 16));
    const real = psync({ mac, clock: s, rng: xoshiro(seed * 1000 + i), config });
    const h = { addr: i, mac, conv: -1, view: new Set(), delivered: [], commits: [], data: [], stable: [] } as unknown as Host;
    // The endpoint the library sees: every send and delivery is logged on the way.
    const ep: Psync = {
      ...real,
      send(conv: number, p: Uint8Array, len: number): number {
        const mid = real.send(conv, p, len);
        if (mid >= 0) {
          if (ctx.has(mid)) errors.push(`host ${i} sent ${mid} twice`);
          ctx.set(mid, new Set(h.view));
          h.view.add(mid);
        }
        return mid;
      },
      onDeliver(fn: DeliverFn | null): void {
        real.onDeliver(fn && ((conv, sender, seq, p, len) => {
          const mid = midOf(sender, seq);
          const c = ctx.get(mid);
          if (!c) errors.push(`host ${i} got ${sender}:${seq}, never sent`);
          else for (const x of c) if (!h.view.has(x)) errors.push(`host ${i} got ${sender}:${seq} before ${midSender(x)}:${midSeq(x)}`);
          if (h.view.has(mid)) errors.push(`host ${i} got ${sender}:${seq} twice`);
          h.view.add(mid);
          fn(conv, sender, seq, p, len);
        }));
      },
    };
    h.ep = ep;
    h.lib = psyncLib({ ps: ep, addr: i, clock: s, rng: xoshiro(seed * 2000 + i), config: { ...LIB_DEFAULTS, ...(typeof lcfg === 'function' ? lcfg(i) : lcfg) } });
    real.onOpen((conv) => {
      h.conv = conv;
      assert.is(h.lib.attach(conv), PS_OK);
    });
    h.lib.onDeliver((conv, mid, d, len) => {
      if (conv !== h.conv) errors.push(`host ${i}: delivery for handle ${conv}`);
      if (payload.get(mid) !== hex(d, len)) errors.push(`host ${i}: data of ${mid} differs`);
      h.delivered.push(mid);
    });
    h.lib.onCommit((conv, mid, d, len) => {
      if (payload.get(mid) !== hex(d, len)) errors.push(`host ${i}: committed data of ${mid} differs`);
      h.commits.push(mid);
    });
    h.lib.onStable((_conv, mid, ok, missing) => { h.stable.push([mid, ok, missing, s.now()]); });
    hosts.push(h);
  }
  return { s, m, hosts, ctx, payload, errors };
}

/** Send data through host h's library, logging its payload. */
function send(nt: Net, h: Host, data: Uint8Array, stable = false): number {
  const mid = stable ? h.lib.sendStable(data, data.length) : h.lib.send(data, data.length);
  if (mid >= 0) {
    nt.payload.set(mid, hex(data, data.length));
    h.data.push(mid);
  }
  return mid;
}

/** Host 1 opens a conversation of everyone; its first data message is the SC. */
function open(nt: Net): number {
  const [h1, ...rest] = nt.hosts;
  for (const h of rest) assert.is(h.ep.passiveOpen(), PS_OK);
  h1.conv = h1.ep.activeOpen(nt.hosts.map((h) => h.addr), nt.hosts.length);
  assert.ok(h1.conv >= 0);
  assert.is(h1.lib.attach(h1.conv), PS_OK);
  const sc = send(nt, h1, new Uint8Array([0xc0]));
  assert.is(sc, h1.ep.cid(h1.conv));
  return sc;
}

/** Every host sends `count` data messages at random times, at most `window` of its own uncommitted. */
function traffic(nt: Net, hosts: Host[], count: number, window: number, seed: number): void {
  const rng = xoshiro(seed);
  for (const h of hosts) {
    let k = 0;
    const trySend = (): void => {
      if (k >= count || h.mac.dead) return;
      const mine = new Set(h.commits);
      if (h.conv >= 0 && h.data.filter((m) => !mine.has(m)).length < window) {
        if (send(nt, h, new Uint8Array([h.addr, k >> 8, k & 0xff, below(rng, 256)])) >= 0) k++;
      }
      nt.s.after(5_000 + below(rng, 20_000), trySend);
    };
    nt.s.after(1_000 + below(rng, 10_000), trySend);
  }
}

/**
 * The ordered broadcast's promises, from the logs: every host in `hosts` committed the same sequence,
 * each data message of `senders` exactly once, and every message after all the data in its context.
 */
function checkOrder(nt: Net, hosts: Host[], senders: Host[], label: string): number[] {
  assert.equal(nt.errors.slice(0, 5), [], `${label}: context order, duplicates, payloads`);
  const ref = hosts[0].commits;
  for (const h of hosts) {
    assert.equal(h.commits, ref, `${label}: host ${h.addr} committed another sequence`);
    assert.is(h.lib.stats.lost, 0, `${label}: host ${h.addr} ran out of records`);
  }
  assert.is(new Set(ref).size, ref.length, `${label}: committed twice`);
  const pos = new Map(ref.map((m, i) => [m, i]));
  for (const g of senders) for (const m of g.data) assert.ok(pos.has(m), `${label}: ${g.addr}:${midSeq(m)} never committed`);
  for (const [m, i] of pos) {
    for (const x of nt.ctx.get(m)!) {
      if (nt.payload.has(x)) assert.ok(pos.get(x)! < i, `${label}: ${midSender(m)}:${midSeq(m)} committed before ${midSender(x)}:${midSeq(x)} in its context`);
    }
  }
  // Data from others was delivered once each, in context order (checked on delivery).
  for (const h of hosts) {
    const others = ref.filter((m) => midSender(m) !== h.addr);
    assert.equal([...h.delivered].sort(), [...others].sort(), `${label}: host ${h.addr} deliveries`);
  }
  return ref;
}

test('ordered broadcast: 3-5 participants, 0-30 % loss with duplication and reordering, every host commits the same sequence', () => {
  let runs = 0;
  let commits = 0;
  let waves = 0;
  let peak = 0;
  let concurrent = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 10, 30]) {
      for (const seed of [1, 2, 3]) {
        const nt = net(n, { dropPct: drop, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, {}, {}, seed * 31 + n);
        open(nt);
        traffic(nt, nt.hosts, 15, 2, seed + 100);
        nt.s.runAll(5_000_000);
        const label = `n=${n} drop=${drop}% seed=${seed}`;
        const seq = checkOrder(nt, nt.hosts, nt.hosts, label);
        assert.is(seq.length, 1 + 15 * n, `${label}: the SC and every data message`);
        // Concurrent data messages were put in order, or the test would show little.
        const both = seq.slice(1).filter((m, i) => !nt.ctx.get(m)!.has(seq[i]));
        assert.ok(both.length > 0, `${label}: some consecutive commits were concurrent`);
        concurrent += both.length;
        runs++;
        commits += seq.length;
        for (const h of nt.hosts) {
          waves += h.lib.stats.waves;
          peak = Math.max(peak, h.lib.stats.peakRecords);
          assert.is(nt.s.pending(), 0);
        }
      }
    }
  }
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'runs', commits, 'commits', concurrent, 'after a concurrent one', waves, 'waves', peak, 'peak records');
});

test('few records (3 per participant, 4 messages wanted in flight): sends wait for the quota, nothing is lost, every host commits the same sequence', () => {
  let refused = 0;
  for (const n of [3, 4, 5]) {
    for (const seed of [1, 2, 3]) {
      // 3 records per participant, 4 own messages wanted in flight each.
      const nt = net(n, { dropPct: 30, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, {}, { records: 3 * n }, seed * 7 + n);
      open(nt);
      traffic(nt, nt.hosts, 12, 4, seed + 200);
      nt.s.runAll(20_000_000);
      const label = `records=${3 * n} n=${n} seed=${seed}`;
      const seq = checkOrder(nt, nt.hosts, nt.hosts, label);
      assert.is(seq.length, 1 + 12 * n, `${label}: the SC and every data message`);
      for (const h of nt.hosts) {
        refused += h.lib.stats.refused;
        assert.ok(h.lib.stats.peakRecords <= 3 * n);
        assert.is(h.ep.stats.refused, h.lib.stats.refused, `${label}: Psync discarded what the library refused`);
      }
    }
  }
  if (process.env.PSYNC_SUMMARY) console.log(refused, 'messages refused for want of records');
});

test('a wave holds concurrent messages and is sorted by participant, not by arrival', () => {
  const nt = net(3, { jitterUs: 500 });
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  // b and c send at the same time: a hears c's first, b its own first; all commit b's first.
  const mb = send(nt, b, new Uint8Array([2]));
  const mc = send(nt, c, new Uint8Array([3]));
  nt.s.runAll();
  assert.ok(!nt.ctx.get(mb)!.has(mc) && !nt.ctx.get(mc)!.has(mb), 'concurrent');
  for (const h of nt.hosts) assert.equal(h.commits.slice(-2), [mb, mc]);
  checkOrder(nt, nt.hosts, nt.hosts, 'two concurrent');
  void a;
});

test('send_stable reports stable only once every other participant has sent in its context; sequential sends under 30 % loss', () => {
  for (const seed of [1, 2, 3, 4]) {
    const n = 3 + (seed % 3);
    const nt = net(n, { dropPct: 30, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, {}, {}, seed);
    open(nt);
    nt.s.runAll();
    const count = 5;
    for (const h of nt.hosts) {
      let k = 0;
      const next = (): void => { if (k++ < count) assert.ok(send(nt, h, new Uint8Array([h.addr, k]), true) >= 0); };
      h.lib.onStable((_conv, mid, ok, missing) => {
        h.stable.push([mid, ok, missing, nt.s.now()]);
        // The test's own log: some message from every other participant, sent with mid in its view, is
        // in this host's view now.
        if (ok) {
          for (const g of nt.hosts) {
            if (g === h) continue;
            const ack = [...nt.ctx].find(([x, c]) => midSender(x) === g.addr && c.has(mid) && h.view.has(x));
            if (!ack) nt.errors.push(`seed ${seed}: ${h.addr} reported ${midSeq(mid)} stable with no message of ${g.addr} after it`);
          }
        }
        next();
      });
      nt.s.after(below(xoshiro(seed + h.addr), 10_000), next);
    }
    nt.s.runAll(5_000_000);
    assert.equal(nt.errors.slice(0, 5), []);
    for (const h of nt.hosts) {
      assert.is(h.stable.length, count, `seed ${seed}: host ${h.addr} got every report`);
      assert.ok(h.stable.every(([, ok]) => ok), `seed ${seed}: host ${h.addr}: no failure without a failed host`);
    }
    checkOrder(nt, nt.hosts, nt.hosts, `send_stable seed ${seed}`);
  }
});

test('send_stable fails when a participant is silent; removing it (mask_out and markers) lets the survivors commit the same sequence', () => {
  for (const seed of [1, 2, 3]) {
    const n = 4;
    const nt = net(n, { dropPct: 10 * seed, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, {}, { stableUs: 200_000, stableTries: 4 }, seed + 50);
    const [a, , , d] = nt.hosts;
    open(nt);
    const label = `crash seed ${seed}`;
    traffic(nt, nt.hosts, 12, 2, seed + 200);
    // d crashes part way through; by then it has sent some data of its own.
    let crashLog: number[] = [];
    nt.s.at(150_000, () => { d.mac.dead = true; crashLog = [...d.commits]; });
    // a notices by a send_stable that fails, and removes whoever it names.
    nt.s.at(400_000, () => assert.ok(send(nt, a, new Uint8Array([0xee]), true) >= 0));
    const removedAt: Record<number, number[]> = {};
    for (const h of nt.hosts) {
      h.lib.onRemoved((_c, addr) => { (removedAt[h.addr] ??= []).push(addr); });
      h.lib.onStable((_conv, mid, ok, missing) => {
        h.stable.push([mid, ok, missing, nt.s.now()]);
        if (!ok) for (let i = 0; i < n; i++) if ((missing >> i) & 1) h.lib.remove(nt.hosts[i].addr);
      });
    }
    nt.s.runAll(10_000_000);
    const live = nt.hosts.slice(0, 3);
    assert.equal(a.stable.map(([, ok, missing]) => [ok, missing]), [[false, 1 << 3]], `${label}: failure naming d (index 3) alone`);
    for (const h of live) assert.equal(removedAt[h.addr], [d.addr], `${label}: host ${h.addr} removed d`);
    // The survivors agree, on everything d managed to send as well as on their own data.
    const seq = checkOrder(nt, live, live, label);
    assert.equal(seq.slice(0, crashLog.length), crashLog, `${label}: d committed a prefix of the survivors' sequence`);
    assert.ok(d.data.length > 0 && d.data.some((m) => seq.includes(m)), `${label}: some of d's data was committed`);
    for (const m of d.data) if (!seq.includes(m)) assert.not.ok(live.some((h) => h.view.has(m)), `${label}: d's ${midSeq(m)} is in a view but not committed`);
  }
});

test('a removed participant that was only slow learns it from the markers and stops sending', () => {
  const nt = net(3, { jitterUs: 500 });
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  const gone: number[] = [];
  c.lib.onRemoved((_c, addr) => gone.push(addr));
  assert.is(a.lib.remove(3), PS_OK);
  nt.s.runAll();
  assert.is(b.lib.stats.removed, 1, "b removed c on a's marker");
  assert.equal(gone, [3], 'c read its own address in the markers');
  assert.is(c.lib.send(new Uint8Array([1]), 1), LB_E_REMOVED);
  send(nt, a, new Uint8Array([7]));
  nt.s.runAll();
  checkOrder(nt, [a, b], [a, b], 'slow c');
});

test('replicated counter: adds applied on delivery, mul and set in wave order once stable; every replica ends in the same state', () => {
  let runs = 0;
  let early = 0;
  let waited = 0;
  let betas = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 15, 30]) {
      for (const seed of [1, 2]) {
        const label = `counter n=${n} drop=${drop}% seed=${seed}`;
        const nt = net(n, { dropPct: drop, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, {}, {}, seed * 7 + n + drop);
        const rc = new Map<Host, ReplicatedCounter>();
        const log = new Map<Host, [number, number, number][]>();
        const ops = new Map<number, number>();
        for (const h of nt.hosts) {
          const c = replicatedCounter({ lib: h.lib, ps: h.ep });
          rc.set(h, c);
          log.set(h, []);
          c.onApply((mid, op, _arg, value) => log.get(h)!.push([mid, op, value]));
        }
        open(nt);
        const rng = xoshiro(seed + 300);
        for (const h of nt.hosts) {
          let k = 0;
          const step = (): void => {
            if (k >= 20) return;
            const mine = h.data.filter((m) => !h.lib.isCommitted(m)).length;
            if (h.conv >= 0 && mine < 2) {
              const r = below(rng, 100);
              const c = rc.get(h)!;
              const op = r < 70 ? RC_ADD : r < 85 ? RC_MUL : RC_SET;
              const mid = op === RC_ADD ? c.add(1 + below(rng, 100)) : op === RC_MUL ? c.mul(2 + below(rng, 8)) : c.set(below(rng, 1000));
              if (mid >= 0) {
                h.data.push(mid);
                ops.set(mid, op);
                k++;
              }
            }
            nt.s.after(3_000 + below(rng, 15_000), step);
          };
          nt.s.after(1_000 + below(rng, 10_000), step);
        }
        nt.s.runAll(5_000_000);
        assert.equal(nt.errors.slice(0, 5), [], label);
        assert.is(ops.size, 20 * n);
        const ref = nt.hosts[0];
        const betaSeq = (h: Host) => log.get(h)!.filter(([, op]) => op !== RC_ADD).map(([m]) => m);
        /** For each add, how many β operations this replica applied before it. */
        const placement = (h: Host) => {
          const out = new Map<number, number>();
          let b = 0;
          for (const [m, op] of log.get(h)!) if (op === RC_ADD) out.set(m, b); else b++;
          return out;
        };
        for (const h of nt.hosts) {
          const c = rc.get(h)!;
          const l = log.get(h)!;
          assert.equal(l.map(([m]) => m).sort(), [...ops.keys()].sort(), `${label}: host ${h.addr} applied every operation once`);
          assert.is(c.pending(), 0);
          assert.is(c.stats.lost, 0);
          assert.is(c.value(), rc.get(ref)!.value(), `${label}: host ${h.addr} ends in another state`);
          assert.ok(c.value() >= 0 && c.value() < RC_MOD);
          assert.equal(betaSeq(h), betaSeq(ref), `${label}: host ${h.addr} applied mul/set in another order`);
          assert.equal([...placement(h)].sort(), [...placement(ref)].sort(), `${label}: host ${h.addr} placed an add elsewhere`);
          // Every operation in an operation's context was applied before it, unless both are adds (they
          // commute: adds released by the same mul or set go in any order).
          const at = new Map(l.map(([m], i) => [m, i]));
          for (const [m, i] of at) for (const x of nt.ctx.get(m)!) if (ops.has(x) && (ops.get(x) !== RC_ADD || ops.get(m) !== RC_ADD)) assert.ok(at.get(x)! < i, `${label}: ${midSender(m)}:${midSeq(m)} applied before ${midSender(x)}:${midSeq(x)}`);
          early += c.stats.early;
          waited += c.stats.waited;
        }
        betas += betaSeq(ref).length;
        runs++;
      }
    }
  }
  assert.ok(early > 0 && waited > 0, 'adds ran ahead of the waves, and some waited for a mul or set');
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'counter runs', betas, 'mul/set', early, 'adds applied before commit', waited, 'adds waited');
});

test.run();

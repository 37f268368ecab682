// Psync conversations (firmware/psync/psync.ts) over the raw MAC on the simulated medium, with fault
// injection under each station: conversations of 3 to 5 participants under loss, duplication,
// reordering and delay (exactly-once delivery in context order, bounded tables, stable buffers freed),
// the holding queue and RTX (to the sender, then to everyone), the last-ACK problem and resend,
// mask_out/mask_in, pending conversations, flow control, group sends and small MTUs.
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
import type { RawMac } from '../../../firmware/mac/raw.ts';
import {
  PSYNC_DEFAULTS, PS_E_ARG, PS_E_FULL, PS_E_STABLE, PS_E_TOO_LARGE, PS_E_UNKNOWN, PS_OK, midOf, midSender, midSeq, psync,
} from '../../../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../../../firmware/psync/psync.ts';

const EMPTY = new Uint8Array(0);

interface Host {
  addr: number;
  ep: Psync;
  mac: RawMac;
  conv: number;
  /** Messages in this host's view: sent or delivered, in order. */
  view: Set<number>;
  delivered: Map<number, number>;
  /** Own data messages, in order. */
  data: number[];
  /** Largest holding queue, buffers and nodes seen. */
  peak: { held: number; bufs: number; nodes: number };
  /** Called after each delivery has been checked and recorded. */
  after: ((sender: number, seq: number, len: number) => void) | null;
}

interface Net {
  s: Scheduler;
  m: Medium;
  hosts: Host[];
  /** Every message sent: its sender's view when it was sent, and its payload. */
  ctx: Map<number, Set<number>>;
  payload: Map<number, string>;
  /** Context violations and duplicate deliveries seen (asserted empty). */
  errors: string[];
  cfg: PsyncConfig;
  send(h: Host, data: Uint8Array, len: number): number;
}

/** n hosts with addresses 1..n on one medium, faults under each; host 1 opens, the others wait. */
function net(n: number, faults: Partial<FaultOptions>, cfg: Partial<PsyncConfig> = {}, seed = 1, mtu = 64, bitrate = 20e6): Net {
  const s = scheduler();
  // 50 µs apart: an answer sent the moment a frame arrives does not meet the sender still sending (the
  // raw MAC has no carrier sense)
  const m = medium(s, { bitrate, mtu, propagationUs: 50 });
  const rng = xoshiro(seed);
  const config = { ...PSYNC_DEFAULTS, ...cfg };
  const hosts: Host[] = [];
  const ctx = new Map<number, Set<number>>();
  const payload = new Map<number, string>();
  const errors: string[] = [];
  const hex = (b: Uint8Array, len: number) => Buffer.from(b.subarray(0, len)).toString('hex');
  for (let i = 1; i <= n; i++) {
    const link = faulty(m.station({ id: i }).link, { clock: s, rng, ...faults });
    const mac = rawMac(link, i, 16);
    const ep = psync({ mac, clock: s, rng: xoshiro(seed * 1000 + i), config });
    const h: Host = { addr: i, ep, mac, conv: -1, view: new Set(), delivered: new Map(), data: [], peak: { held: 0, bufs: 0, nodes: 0 }, after: null };
    ep.onOpen((conv) => { h.conv = conv; });
    ep.onDeliver((conv, sender, seq, p, len) => {
      const mid = midOf(sender, seq);
      if (conv !== h.conv) errors.push(`host ${i}: delivery for handle ${conv}`);
      if (sender === i) errors.push(`host ${i} got its own message ${mid}`);
      const k = (h.delivered.get(mid) ?? 0) + 1;
      h.delivered.set(mid, k);
      if (k > 1) errors.push(`host ${i} got ${sender}:${seq} ${k} times`);
      const c = ctx.get(mid);
      if (!c) errors.push(`host ${i} got ${sender}:${seq}, never sent`);
      else for (const x of c) if (!h.view.has(x)) errors.push(`host ${i} got ${sender}:${seq} before ${midSender(x)}:${midSeq(x)}`);
      if (payload.get(mid) !== hex(p, len)) errors.push(`host ${i}: payload of ${sender}:${seq} differs`);
      h.view.add(mid);
      sample(h);
      if (h.after) h.after(sender, seq, len);
    });
    hosts.push(h);
  }
  function sample(h: Host): void {
    if (h.conv < 0) return;
    h.peak.held = Math.max(h.peak.held, h.ep.outstanding(h.conv));
    h.peak.bufs = Math.max(h.peak.bufs, h.ep.bufsUsed(h.conv));
    h.peak.nodes = Math.max(h.peak.nodes, h.ep.nodesUsed(h.conv));
  }
  return {
    s, m, hosts, ctx, payload, errors, cfg: config,
    send(h: Host, data: Uint8Array, len: number): number {
      const mid = h.ep.send(h.conv, data, len);
      if (mid >= 0) {
        ctx.set(mid, new Set(h.view));
        payload.set(mid, hex(data, len));
        h.view.add(mid);
        sample(h);
      }
      return mid;
    },
  };
}

/** Open a conversation of every host, started by host 1; returns once everyone has it. */
function open(nt: Net, first: Uint8Array = new Uint8Array([0xc0])): number {
  const [h1, ...rest] = nt.hosts;
  for (const h of rest) assert.is(h.ep.passiveOpen(), PS_OK);
  h1.conv = h1.ep.activeOpen(nt.hosts.map((h) => h.addr), nt.hosts.length);
  assert.ok(h1.conv >= 0);
  const sc = nt.send(h1, first, first.length);
  assert.is(sc, h1.ep.cid(h1.conv), 'the SC message id is the conversation id');
  return sc;
}

/**
 * The application of the long runs: every host sends `count` data messages, at most `window` of its
 * own unstable at once; it acknowledges data from others with an empty message unless it sent
 * something since; and, as the paper's send_stable does for the last-ACK problem, it resends its
 * newest data message when it is still unstable one check later (checks every `resendUs` to twice
 * that; up to 40 resends).
 */
function app(nt: Net, count: number, window: number, seed: number, resendUs = 150_000): void {
  const rng = xoshiro(seed);
  for (const h of nt.hosts) {
    let k = 0;
    let needAck = false;
    let ackTimer = false;
    let tries = 0;
    let lastSeen: number | undefined = undefined;
    const unstableData = () => h.data.filter((m) => !h.ep.stable(h.conv, m)).length;
    const trySend = (): void => {
      if (k >= count) return;
      if (h.conv >= 0 && unstableData() < window) {
        const body = new Uint8Array([h.addr, k >> 8, k & 0xff]);
        const mid = nt.send(h, body, 3);
        if (mid >= 0) {
          h.data.push(mid);
          k++;
          needAck = false;
        }
      }
      nt.s.after(5_000 + below(rng, 20_000), trySend);
    };
    const ack = (): void => {
      ackTimer = false;
      if (!needAck) return;
      if (nt.send(h, EMPTY, 0) >= 0) needAck = false;
      else {
        ackTimer = true;
        nt.s.after(10_000, ack);
      }
    };
    h.after = (_sender, _seq, len) => {
      if (len === 0) return;
      needAck = true;
      if (!ackTimer) {
        ackTimer = true;
        nt.s.after(5_000 + below(rng, 10_000), ack);
      }
    };
    const watch = (): void => {
      const last = h.data[h.data.length - 1];
      const done = k >= count && last !== undefined && h.ep.stable(h.conv, last);
      if (done || tries >= 40) return;
      if (last !== undefined && !h.ep.stable(h.conv, last) && last === lastSeen) {
        tries++;
        h.ep.resend(h.conv, last);
      }
      lastSeen = last;
      nt.s.after(resendUs + below(rng, resendUs), watch); // jittered: resends in step would meet on the air every time
    };
    nt.s.after(1_000 + below(rng, 10_000), trySend);
    nt.s.after(resendUs, watch);
  }
}

/** Check the run's invariants; returns a summary of what happened. */
function check(nt: Net, label: string) {
  assert.equal(nt.errors.slice(0, 5), [], `${label}: context order, duplicates, payloads`);
  const all = [...nt.ctx.keys()];
  let deliveries = 0;
  for (const h of nt.hosts) {
    assert.ok(h.conv >= 0, `${label}: host ${h.addr} never opened`);
    for (const g of nt.hosts) {
      if (g === h) continue;
      for (const mid of g.data) assert.is(h.delivered.get(mid), 1, `${label}: host ${h.addr} got ${g.addr}:${midSeq(mid)}`);
    }
    const root = nt.hosts[0].ep.cid(nt.hosts[0].conv);
    if (h !== nt.hosts[0]) assert.is(h.delivered.get(root), 1, `${label}: SC at ${h.addr}`);
    deliveries += h.delivered.size;
    assert.ok(h.peak.held <= nt.cfg.hold && h.peak.bufs <= nt.cfg.bufs && h.peak.nodes <= nt.cfg.nodes, `${label}: ${JSON.stringify(h.peak)}`);
    assert.ok(h.ep.stats.freed > 0, `${label}: host ${h.addr} freed nothing`);
    // Copies are kept of messages that are not stable only, and always of this host's own.
    let copies = 0;
    for (const mid of all) {
      if (!h.ep.known(h.conv, mid)) continue;
      const copy = h.ep.hasCopy(h.conv, mid);
      if (copy) copies++;
      if (copy) assert.not.ok(h.ep.stable(h.conv, mid), `${label}: host ${h.addr} keeps a stable message`);
      if (midSender(mid) === h.addr && !h.ep.stable(h.conv, mid)) assert.ok(copy, `${label}: host ${h.addr} lost its own copy`);
    }
    assert.is(h.ep.bufsUsed(h.conv), copies, `${label}: host ${h.addr} buffers`);
  }
  const sum = (f: (h: Host) => number) => nt.hosts.reduce((a, h) => a + f(h), 0);
  const lastStable = nt.hosts.filter((h) => h.data.length > 0 && h.ep.stable(h.conv, h.data[h.data.length - 1])).length;
  return {
    messages: all.length, data: sum((h) => h.data.length), deliveries, held: sum((h) => h.ep.stats.held),
    rtx: sum((h) => h.ep.stats.rtxSent), answered: sum((h) => h.ep.stats.rtxAnswered), resent: sum((h) => h.ep.stats.resent),
    dups: sum((h) => h.ep.stats.duplicates), flow: sum((h) => h.ep.stats.flowDiscarded), freed: sum((h) => h.ep.stats.freed),
    lastStable, peakHeld: Math.max(...nt.hosts.map((h) => h.peak.held)), peakBufs: Math.max(...nt.hosts.map((h) => h.peak.bufs)),
    uncopied: sum((h) => h.ep.stats.uncopied), holdFull: sum((h) => h.ep.stats.holdFull),
  };
}

/**
 * Scenario nets: a little receive jitter, so that hosts answering the same frame do not answer in
 * the same microsecond (the raw MAC has no carrier sense, and such answers would always collide).
 */
const J: Partial<FaultOptions> = { jitterUs: 500 };

const LONG_CFG: Partial<PsyncConfig> = { nodes: 96, bufs: 32, hold: 8 };

function longRun(n: number, dropPct: number, seed: number, cfg: Partial<PsyncConfig> = {}) {
  const nt = net(n, { dropPct, dupPct: 5, reorderPct: 10, jitterUs: 2_000 }, { ...LONG_CFG, ...cfg }, seed);
  open(nt);
  app(nt, 20, 2, seed + 7);
  nt.s.runAll(5_000_000);
  const label = `n=${n} drop=${dropPct}% seed=${seed}`;
  const r = check(nt, label);
  // The last-ACK problem, handled as in the paper: resending the newest data message until it is
  // stable gets every host's last message to everyone and the replies back.
  assert.is(r.lastStable, n, `${label}: every host's last data message is stable`);
  for (const h of nt.hosts) assert.is(h.ep.stats.nodesFull, 0, `${label}: the node table sufficed`);
  return r;
}

test('3 to 5 participants, 0-30 % loss with duplication, reordering and delay: exactly once, in context order, bounded', () => {
  const totals: Record<string, number> = {};
  let runs = 0;
  for (const n of [3, 4, 5]) {
    for (const drop of [0, 10, 30]) {
      for (const seed of [1, 2, 3]) {
        const r = longRun(n, drop, seed * 17 + n);
        runs++;
        for (const [k, v] of Object.entries(r)) totals[k] = (k.startsWith('peak') ? Math.max(totals[k] ?? 0, v) : (totals[k] ?? 0) + v);
        if (drop === 30) assert.ok(r.rtx > 0 && r.held > 0, 'loss exercised the holding queue and RTX');
      }
    }
  }
  if (process.env.PSYNC_SUMMARY) console.log(runs, 'runs', JSON.stringify(totals));
});

test('group sends (one broadcast frame per message) under 30 % loss', () => {
  for (const seed of [5, 6]) longRun(4, 30, seed, { group: 0xffff });
});

test('a held message is recovered by an RTX to the host it came from', () => {
  const nt = net(3, J);
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  nt.m.setHears(1, 3, false); // c misses a's next message
  const m1 = nt.send(a, new Uint8Array([1]), 1);
  nt.s.runAll();
  nt.m.setHears(1, 3, true);
  assert.not.ok(c.delivered.has(m1));
  const m2 = nt.send(b, new Uint8Array([2]), 1); // b sends in the context of m1
  nt.s.runUntil(nt.s.now() + 5_000);
  assert.is(c.ep.outstanding(c.conv), 1, 'm2 waits in the holding queue');
  nt.s.runAll();
  assert.is(c.ep.outstanding(c.conv), 0);
  assert.equal([c.delivered.get(m1), c.delivered.get(m2)], [1, 1]);
  assert.equal(nt.errors, []);
  assert.is(c.ep.stats.rtxSent, 1);
  assert.is(b.ep.stats.rtxAnswered, 1, 'b, which sent m2, answered');
  assert.is(b.ep.stats.rtxResent, 1, 'with m1 alone: c had everything before it');
  assert.is(a.ep.stats.rtxAnswered, 0);
  const out: number[] = [];
  assert.is(c.ep.prev(c.conv, m2, out), 1);
  assert.equal(out, [m1]);
  assert.ok(c.ep.precedes(c.conv, m1, m2));
});

test('when the sender of a held message fails, the RTX goes to every participant (section 3.2.3, case 2c)', () => {
  const nt = net(3, J);
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  nt.m.setHears(1, 3, false);
  const m1 = nt.send(a, new Uint8Array([1]), 1);
  nt.s.runAll();
  nt.m.setHears(1, 3, true);
  const m2 = nt.send(b, new Uint8Array([2]), 1);
  // b fails right after sending m2: it hears nothing and nobody hears it.
  nt.s.runUntil(nt.s.now() + 2_000);
  for (const x of [1, 3]) { nt.m.setHears(2, x, false); nt.m.setHears(x, 2, false); }
  nt.s.runAll();
  assert.equal([c.delivered.get(m1), c.delivered.get(m2)], [1, 1]);
  assert.is(c.ep.stats.rtxSent, nt.cfg.rtxTries + 1, 'every try to b, then one to everyone');
  assert.is(a.ep.stats.rtxAnswered, 1);
  assert.equal(nt.errors, []);
});

test('a held message whose predecessors nobody can supply is discarded after the last RTX', () => {
  const nt = net(3, J);
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  nt.m.setHears(1, 3, false);
  nt.send(a, new Uint8Array([1]), 1);
  nt.s.runAll();
  nt.send(b, new Uint8Array([2]), 1);
  nt.s.runUntil(nt.s.now() + 2_000);
  for (const x of [1, 3]) { nt.m.setHears(2, x, false); nt.m.setHears(x, 2, false); } // b fails; a is deaf to c
  nt.m.setHears(3, 1, false);
  nt.s.runAll();
  assert.is(c.ep.outstanding(c.conv), 0);
  assert.is(c.ep.stats.heldDropped, 1);
  assert.is(c.ep.stats.rtxSent, nt.cfg.rtxTries + nt.cfg.rtxAllTries);
  void a;
});

test('last ACK: a lost last message is recovered by resend, and the duplicate rule returns the replies', () => {
  const nt = net(3, J);
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  // b and c answer the SC so that it is stable, then a sends its last message, which c misses.
  nt.send(b, EMPTY, 0);
  nt.s.runAll();
  nt.send(c, EMPTY, 0);
  nt.s.runAll();
  assert.ok(a.ep.stable(a.conv, a.ep.root(a.conv)));
  assert.is(a.ep.resend(a.conv, a.ep.root(a.conv)), PS_E_STABLE, 'a stable message is not resent');
  nt.m.setHears(1, 3, false);
  const last = nt.send(a, new Uint8Array([9]), 1);
  nt.s.runAll();
  nt.m.setHears(1, 3, true);
  const reply = nt.send(b, EMPTY, 0); // b replies in the context of `last`; a misses the reply
  nt.m.setHears(2, 1, false);
  nt.s.runAll();
  nt.m.setHears(2, 1, true);
  // c received b's reply: it held it and fetched `last` by RTX; a has no reply from anyone.
  assert.is(c.delivered.get(last), 1);
  assert.not.ok(a.ep.stable(a.conv, last));
  // Now the hard case: nothing more is sent after the final message of a.
  nt.m.setHears(1, 2, false);
  nt.m.setHears(1, 3, false);
  const final = nt.send(a, new Uint8Array([10]), 1);
  nt.s.runAll();
  nt.m.setHears(1, 2, true);
  nt.m.setHears(1, 3, true);
  assert.not.ok(b.delivered.has(final) || c.delivered.has(final), 'nobody got it and nothing will ask for it');
  assert.is(a.ep.resend(a.conv, final), PS_OK);
  nt.s.runAll();
  assert.equal([b.delivered.get(final), c.delivered.get(final)], [1, 1]);
  assert.is(a.ep.stats.resent, 1);
  // b and c reply to `final`; a misses both replies; a resends; both answer with their successors.
  nt.m.setHears(2, 1, false);
  nt.m.setHears(3, 1, false);
  nt.send(b, EMPTY, 0);
  nt.send(c, EMPTY, 0);
  nt.s.runAll();
  nt.m.setHears(2, 1, true);
  nt.m.setHears(3, 1, true);
  assert.not.ok(a.ep.stable(a.conv, final));
  assert.is(a.ep.resend(a.conv, final), PS_OK);
  nt.s.runAll();
  assert.ok(b.ep.stats.successorsResent >= 1 && c.ep.stats.successorsResent >= 1);
  assert.ok(a.ep.stable(a.conv, final), 'the replies came back as successors of the duplicate');
  assert.ok(a.ep.stable(a.conv, last));
  assert.ok(a.delivered.get(reply) === 1);
  assert.equal(nt.errors, []);
});

test('mask_out: a silent participant stops holding stability back; its messages are ignored unless needed; mask_in', () => {
  const nt = net(3, J);
  const [a, b, c] = nt.hosts;
  open(nt);
  nt.s.runAll();
  // c falls silent (its frames are lost), a and b go on.
  nt.m.setHears(3, 1, false);
  nt.m.setHears(3, 2, false);
  const m1 = nt.send(a, new Uint8Array([1]), 1);
  nt.s.runAll();
  nt.send(b, EMPTY, 0);
  nt.s.runAll();
  assert.not.ok(a.ep.stable(a.conv, m1), 'c has not answered');
  assert.is(a.ep.maskOut(a.conv, 3), PS_OK);
  assert.ok(a.ep.stable(a.conv, m1));
  assert.is(a.ep.maskOut(a.conv, 1), PS_E_ARG, 'not oneself');
  assert.is(a.ep.maskOut(a.conv, 9), PS_E_ARG);
  b.ep.maskOut(b.conv, 3);
  const before = a.ep.bufsUsed(a.conv);
  const m2 = nt.send(a, new Uint8Array([2]), 1);
  nt.s.runAll();
  nt.send(b, EMPTY, 0);
  nt.s.runAll();
  assert.ok(a.ep.stable(a.conv, m2));
  assert.ok(a.ep.bufsUsed(a.conv) <= before);
  // c comes back: its messages are discarded while masked out...
  nt.m.setHears(3, 1, true);
  nt.m.setHears(3, 2, true);
  const fromC = nt.send(c, new Uint8Array([3]), 1);
  nt.s.runAll();
  assert.not.ok(a.delivered.has(fromC));
  assert.ok(a.ep.stats.maskedDiscarded >= 1);
  // ...unless a held message of another participant needs one: b still takes c's messages.
  b.ep.maskIn(b.conv, 3);
  nt.s.runAll();
  nt.m.setHears(3, 1, false);
  const c2 = nt.send(c, new Uint8Array([4]), 1);
  nt.s.runAll();
  nt.m.setHears(3, 1, true);
  assert.equal([b.delivered.get(fromC), b.delivered.get(c2)], [1, 1], 'b masked c in again: c2 was held, and fromC fetched');
  const b2 = nt.send(b, new Uint8Array([5]), 1); // in the context of c's messages
  nt.s.runAll();
  assert.is(a.delivered.get(b2), 1, 'a fetched the masked participant messages b2 needs');
  assert.is(a.delivered.get(fromC), 1);
  assert.is(a.ep.maskIn(a.conv, 3), PS_OK);
  assert.equal(nt.errors, []);
});

test('passive opens: a pending SC waits for passiveOpen; a full pending table discards, and an RTX recovers it', () => {
  const nt = net(2, J, { pending: 1, conversations: 3 });
  const [a, b] = nt.hosts;
  const opened: number[] = [];
  b.ep.onOpen((conv) => { opened.push(conv); b.conv = conv; });
  const c1 = a.ep.activeOpen([2, 1], 2);
  const c2 = a.ep.activeOpen([1, 2], 2);
  a.conv = c1;
  assert.ok(c1 >= 0 && c2 >= 0 && c1 !== c2);
  assert.is(a.ep.root(c1), PS_E_UNKNOWN, 'nothing sent yet');
  const sc1 = nt.send(a, new Uint8Array([1]), 1);
  a.conv = c2;
  const sc2 = nt.send(a, new Uint8Array([2]), 1);
  nt.s.runAll();
  assert.equal(opened, [], 'b has not called passiveOpen: one SC pending, the other discarded');
  assert.is(b.ep.stats.flowDiscarded, 1);
  assert.is(b.ep.passiveOpen(), PS_OK);
  assert.equal(opened, [], 'completes from the timer, not inside passiveOpen');
  nt.s.runAll();
  assert.is(opened.length, 1);
  assert.is(b.ep.cid(opened[0]), sc1);
  assert.is(b.delivered.get(sc1), 1);
  // The second conversation: b wants it, but its SC is gone. a's next message there triggers an RTX.
  assert.is(b.ep.passiveOpen(), PS_OK);
  const m = nt.send(a, new Uint8Array([3]), 1);
  nt.s.runAll();
  assert.is(opened.length, 2);
  assert.is(b.ep.cid(opened[1]), sc2);
  assert.is(b.delivered.get(sc2), 1);
  assert.is(b.delivered.get(m), 1);
  assert.ok(b.ep.stats.unknownConv >= 1);
  const ps: number[] = [];
  assert.is(b.ep.participants(opened[1], ps), 2);
  assert.equal(ps, [1, 2]);
  // Closing: later messages are ignored and cause no RTX.
  assert.is(b.ep.close(opened[1]), PS_OK);
  assert.is(b.ep.close(opened[1]), PS_E_UNKNOWN);
  const rtx = b.ep.stats.rtxSent;
  a.conv = c2;
  nt.send(a, new Uint8Array([4]), 1);
  nt.s.runAll();
  assert.is(b.ep.stats.rtxSent, rtx);
  assert.is(b.ep.send(opened[1], EMPTY, 0), PS_E_UNKNOWN);
  assert.equal(nt.errors.filter((e) => !e.includes('handle')), []);
});

test('a station not in the participant list ignores the conversation', () => {
  const nt = net(3, J, { group: 0xffff });
  const [a, b, c] = nt.hosts;
  assert.is(b.ep.passiveOpen(), PS_OK);
  assert.is(c.ep.passiveOpen(), PS_OK);
  a.conv = a.ep.activeOpen([1, 2], 2);
  nt.send(a, new Uint8Array([1]), 1);
  nt.s.runAll();
  nt.send(a, new Uint8Array([2]), 1);
  nt.s.runAll();
  assert.ok(b.conv >= 0);
  assert.is(c.conv, -1);
  assert.is(c.ep.stats.rtxSent, 0, 'it remembered the foreign conversation');
  assert.is(b.delivered.size, 2);
});

test('flow control: send refuses when the buffers hold unstable messages; a full holding queue discards', () => {
  const nt = net(2, J, { bufs: 3, nodes: 4, hold: 1 });
  const [a, b] = nt.hosts;
  open(nt);
  nt.m.setHears(1, 2, false);
  assert.ok(nt.send(a, new Uint8Array([1]), 1) >= 0);
  assert.ok(nt.send(a, new Uint8Array([2]), 1) >= 0);
  assert.is(nt.send(a, new Uint8Array([3]), 1), PS_E_FULL, 'three unstable messages fill three buffers');
  assert.is(a.ep.unstableOwn(a.conv), 3);
  nt.s.runAll();
  nt.m.setHears(1, 2, true);
  // b has the SC only; the two others were lost. a resends the newest: b holds it and fetches the rest.
  assert.is(a.ep.resend(a.conv, midOf(1, a.ep.cid(a.conv) + 2)), PS_OK);
  nt.s.runAll();
  assert.is(b.delivered.size, 3);
  // b answers; everything of a's becomes stable and is freed.
  nt.send(b, EMPTY, 0);
  nt.s.runAll();
  assert.is(a.ep.unstableOwn(a.conv), 0);
  assert.is(a.ep.bufsUsed(a.conv), 0);
  assert.is(a.ep.stats.uncopied, 1, "b's answer came while every buffer was taken: kept without a copy");
  // A holding queue of one: a second out-of-order message is discarded.
  nt.m.setHears(1, 2, false);
  nt.send(a, new Uint8Array([4]), 1);
  nt.s.runAll();
  nt.m.setHears(1, 2, true);
  const flow = b.ep.stats.flowDiscarded;
  nt.send(a, new Uint8Array([5]), 1);
  nt.send(a, new Uint8Array([6]), 1);
  nt.s.runAll();
  assert.ok(b.ep.stats.flowDiscarded > flow, 'the second held message did not fit');
  assert.is(b.delivered.size, 6, 'and was recovered all the same');
  assert.equal(nt.errors, []);
});

test('node reclaim (threshold) and free_node keep queries answering for recent messages', () => {
  const nt = net(2, J, { bufs: 4, nodes: 6 });
  const [a, b] = nt.hosts;
  open(nt);
  nt.s.runAll();
  const mids: number[] = [];
  for (let i = 0; i < 10; i++) {
    mids.push(nt.send(a, new Uint8Array([i]), 1));
    nt.s.runAll();
    mids.push(nt.send(b, new Uint8Array([i]), 1));
    nt.s.runAll();
  }
  assert.ok(a.ep.nodesUsed(a.conv) <= 6);
  assert.ok(a.ep.stats.reclaimed > 0);
  assert.ok(a.ep.known(a.conv, mids[0]) && a.ep.nStable(a.conv, mids[0]) === 0, 'reclaimed, still known');
  assert.ok(a.ep.stable(a.conv, mids[0]));
  assert.ok(a.ep.precedes(a.conv, mids[0], mids[19]));
  assert.not.ok(a.ep.precedes(a.conv, mids[19], mids[0]));
  const out: number[] = [];
  assert.is(a.ep.next(a.conv, mids[16], out), 1);
  assert.equal(out, [mids[17]]);
  assert.is(a.ep.leaves(a.conv, out), 1);
  assert.is(out[0], mids[19]);
  assert.ok(a.ep.freeNode(a.conv, mids[17]) >= 1);
  assert.is(a.ep.nStable(a.conv, mids[17]), 0);
  assert.is(a.ep.nStable(a.conv, mids[19]), 1, "b's last: only b has it in context");
  assert.is(a.ep.freeNode(a.conv, mids[19]), 1, "only mids[18]: b's last is unstable and keeps its node");
  assert.is(a.ep.nStable(a.conv, mids[19]), 1);
});

test('small MTU (nRF24, 28-byte payloads): a full predecessor list of 8 fits; data beyond maxPayload is refused', () => {
  // One broadcast frame per message at 1 Gbit/s: frames sent 2 µs apart cross on the 50 µs way.
  const nt = net(8, {}, { bufs: 16, nodes: 32, group: 0xffff }, 3, 32, 1e9);
  const a = nt.hosts[0];
  assert.is(a.mac.caps.mtu, 28);
  assert.is(a.ep.maxPayload(a.ep.activeOpen([1, 2, 3, 4, 5, 6, 7, 8], 8)), 28 - 20, 'the SC lists 8 participants');
  a.ep.close(a.ep.activeOpen([1], 1));
  const all = nt.hosts.slice(1);
  open(nt, new Uint8Array(8));
  nt.s.runAll();
  const round = (hosts: Host[], len: number) => {
    const t0 = nt.s.now() + 10;
    for (const h of hosts) nt.s.at(t0 + 2 * h.addr, () => assert.ok(nt.send(h, new Uint8Array(len), len) >= 0, `host ${h.addr} sends ${len}`));
    nt.s.runAll();
  };
  round(all, 1); // seven concurrent messages
  assert.is(a.ep.maxPayload(a.conv), 28 - 8 - 2 * 7, 'seven leaves');
  assert.is(a.ep.send(a.conv, new Uint8Array(7), 7), PS_E_TOO_LARGE);
  round(nt.hosts, 6); // eight concurrent messages, each after seven
  for (const h of nt.hosts) assert.is(h.ep.maxPayload(h.conv), 28 - 8 - 2 * 8, 'eight leaves, the most there can be: 4 bytes');
  round(nt.hosts, 4); // eight predecessors each: 8 + 16 + 4 = 28 bytes
  assert.equal(nt.errors, []);
  for (const h of nt.hosts) assert.is(h.delivered.size, nt.ctx.size - [...nt.ctx.keys()].filter((m) => midSender(m) === h.addr).length);
});

test('activeOpen checks its participant list; psync refuses a MAC too small for a predecessor list', () => {
  const nt = net(2, J);
  const a = nt.hosts[0];
  assert.is(a.ep.activeOpen([2, 3], 2), PS_E_ARG, 'must include this host');
  assert.is(a.ep.activeOpen([1, 1], 2), PS_E_ARG);
  assert.is(a.ep.activeOpen([1, 0xff01], 2), PS_E_ARG);
  assert.is(a.ep.activeOpen([1, 2, 3, 4, 5, 6, 7, 8, 9], 9), PS_E_ARG);
  assert.is(a.ep.activeOpen([1], 1) >= 0, true, 'a conversation with oneself');
  assert.ok(a.ep.activeOpen([1, 2], 2) >= 0);
  assert.is(a.ep.activeOpen([1, 2], 2), PS_E_FULL);
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 20 });
  assert.throws(() => psync({ mac: rawMac(m.station().link, 1), clock: s, rng: xoshiro(1) }), /mtu/);
});

test('malformed messages are counted and dropped', () => {
  const nt = net(2, J);
  const [a, b] = nt.hosts;
  open(nt);
  nt.s.runAll();
  const cid = a.ep.cid(a.conv);
  const ca = midSender(cid), cn = midSeq(cid);
  const raw = (bytes: number[]) => { a.mac.send(2, new Uint8Array(bytes), bytes.length); nt.s.runAll(); };
  raw([0x83, 0, 0, 0, 0, 0]); // reserved bit
  raw([0x09 | (5 << 3), ca >> 8, ca & 0xff, cn >> 8, cn & 0xff, 0, 1, 1, cn >> 8, cn & 0xff]); // sender index 5 of 2
  raw([0x01, ca >> 8, ca & 0xff, cn >> 8, cn & 0xff, cn >> 8, cn & 0xff, 0]); // an AN posing as the SC
  raw([0x09, ca >> 8, ca & 0xff, cn >> 8, cn & 0xff, 0, 5, 0x02, 0, 3]); // own predecessor is not the previous message
  assert.is(b.ep.stats.malformed, 4);
  assert.is(b.delivered.size, 1);
});

test.run();

// Request-reply (firmware/rr) over the raw MAC on the simulated medium, with fault injection under
// each station: golden bytes, the three protocols, the three semantics under loss, duplication,
// reordering and delay, the bounded history, error replies, late replies, a server restart and a
// client restart (ids behind its old watermark: STALE, then ahead).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import type { FaultOptions } from '../../../hal/mw/faulty.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { RawMac } from '../../../firmware/mac/raw.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA, RR_ACK, RR_REQUEST, emitRr, idNotAfter, parseRr } from '../../../firmware/rr/frame.ts';
import type { RrHeader } from '../../../firmware/rr/frame.ts';
import {
  RR_DEFAULTS, RR_E_BAD_ARGS, RR_E_BUSY, RR_E_HANDLER, RR_E_TIMEOUT, RR_E_TOO_LARGE, RR_E_TOO_MANY, RR_E_UNKNOWN_OP, RR_OK,
  SEM_AT_LEAST_ONCE, SEM_AT_MOST_ONCE, rr,
} from '../../../firmware/rr/rr.ts';
import type { Rr, RrConfig } from '../../../firmware/rr/rr.ts';

const hex = (b: Uint8Array, n: number) => Buffer.from(b.subarray(0, n)).toString('hex');

test('golden bytes: request, reply, ack; parse refuses reserved bits and protocol 3', () => {
  const b = new Uint8Array(8);
  const h: RrHeader = { type: RR_REQUEST, proto: PROTO_RRA, retry: true, amo: true, id: 0x1234, op: 7, ack: 0x1230, mask: 0x8001, off: 0 };
  assert.is(emitRr(b, h), 8);
  assert.is(hex(b, 8), '3812340712308001'); // kind 0 | 2<<2 | 0x10 | 0x20 = 0x38; id; op; ack; mask
  const p: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
  assert.ok(parseRr(b, 8, p));
  assert.equal(p, h);
  assert.not.ok(parseRr(b, 7, p), 'a request needs its ack and mask fields');
  assert.is(emitRr(b, { type: RR_ACK, proto: PROTO_RRA, retry: false, amo: false, id: 0, op: 0, ack: 0xffff, mask: 3, off: 0 }), 8);
  assert.is(hex(b, 8), '0a000000ffff0003');
  assert.ok(parseRr(b, 8, p));
  assert.is(p.off, 8);
  assert.ok(parseRr(new Uint8Array([0x05, 0x12, 0x34, 0x00]), 4, p), 'a reply: 4 bytes');
  assert.is(p.off, 4);
  assert.not.ok(parseRr(new Uint8Array([0x41, 0, 0, 0]), 4, p), 'reserved bit');
  assert.not.ok(parseRr(new Uint8Array([0x0d, 0, 0, 0]), 4, p), 'protocol 3');
  assert.not.ok(parseRr(new Uint8Array([1, 0, 0]), 3, p), 'short');
  assert.not.ok(parseRr(new Uint8Array(4), 5, p), 'len beyond buffer');
  assert.is(emitRr(new Uint8Array(7), h), 0);
});

test('request ids compare across the wrap', () => {
  assert.ok(idNotAfter(0xfffe, 0x0001));
  assert.not.ok(idNotAfter(0x0001, 0xfffe));
  assert.ok(idNotAfter(5, 5));
  assert.ok(idNotAfter(0x7000, 0xefff));
});

interface Net {
  s: ReturnType<typeof scheduler>;
  m: ReturnType<typeof medium>;
  client: Rr;
  server: Rr;
  serverMac: RawMac;
  clientMac: RawMac;
  runs: Map<number, number>;
}

/** A client (address 1) and a server (address 2); `faults` go under both, seeded. */
function net(faults: Partial<FaultOptions> = {}, cfg: Partial<RrConfig> = {}, seed = 1): Net {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 128, propagationUs: 1 });
  const rng = xoshiro(seed);
  const wrap = (l: ReturnType<typeof m.station>['link']) => faulty(l, { clock: s, rng, ...faults });
  const cm = rawMac(wrap(m.station().link), 1, 8);
  const sm = rawMac(wrap(m.station().link), 2, 8);
  const config = { ...RR_DEFAULTS, ...cfg };
  const client = rr({ mac: cm, clock: s, rng, config });
  const server = rr({ mac: sm, clock: s, rng, config });
  const runs = new Map<number, number>();
  server.register(1, (args, req) => {
    const a = args as { x: number; tag: number };
    runs.set(a.tag, (runs.get(a.tag) ?? 0) + 1);
    server.reply(req, RR_OK, { y: a.x * 2, tag: a.tag });
  });
  return { s, m, client, server, serverMac: sm, clientMac: cm, runs };
}

test('RR returns the result; R completes without a reply; RRA completes and empties the history', () => {
  const n = net();
  const got: [string, number, unknown][] = [];
  n.client.call(2, 1, { x: 21, tag: 1 }, null, (e, r) => got.push(['rr', e, r]));
  assert.equal(got, [], 'no callback from inside call()');
  n.s.at(10_000, () => n.client.call(2, 1, { x: 1, tag: 2 }, { proto: PROTO_R }, (e, r) => got.push(['r', e, r])));
  n.s.at(20_000, () => n.client.call(2, 1, { x: 5, tag: 3 }, { proto: PROTO_RRA }, (e, r) => got.push(['rra', e, r])));
  n.s.runAll();
  assert.equal(got.sort(), [['r', 0, undefined], ['rr', 0, { y: 42, tag: 1 }], ['rra', 0, { y: 10, tag: 3 }]].sort());
  assert.equal([...n.runs.keys()].sort(), [1, 2, 3]);
  assert.is(n.server.stats.acksReceived, 1);
  assert.is(n.server.historySize(), 0, 'the RRA call acknowledged its reply; its request acknowledged the RR one');
});

/** Runs `calls` calls one after another with faults; returns per-call outcomes and the server's run counts. */
function stress(proto: number, semantics: number, calls: number, seed: number) {
  const n = net({ dropPct: 30, dupPct: 10, reorderPct: 10, jitterUs: 2_000 }, { retries: 8, historyEntries: 16 }, seed);
  const done: Map<number, [number, unknown]> = new Map();
  let k = 0;
  const next = (): void => {
    if (k >= calls) return;
    const tag = k;
    const st = n.client.call(2, 1, { x: tag, tag }, { proto, semantics }, (e, r) => {
      done.set(tag, [e, r]);
      next();
    });
    if (st === RR_E_TOO_MANY) {
      n.s.after(20_000, next); // a slow call holds the window: try again shortly
      return;
    }
    assert.is(st, RR_OK);
    k++;
  };
  for (let i = 0; i < 3; i++) next(); // three calls in flight at a time
  n.s.runAll(20_000_000);
  return { n, done };
}

test('at-most-once under 30 % drop, 10 % duplication, 10 % reordering and delay: no call runs twice', () => {
  for (const proto of [PROTO_RR, PROTO_RRA]) {
    const { n, done } = stress(proto, SEM_AT_MOST_ONCE, 1500, 3);
    assert.is(done.size, 1500);
    let ok = 0;
    for (const [tag, [e, r]] of done) {
      assert.ok((n.runs.get(tag) ?? 0) <= 1, `call ${tag} ran ${n.runs.get(tag)} times`);
      if (e === RR_OK) {
        ok++;
        assert.equal(r, { y: tag * 2, tag });
        assert.is(n.runs.get(tag), 1);
      } else assert.is(e, RR_E_TIMEOUT);
    }
    assert.ok(ok > 1400, `${ok} of 1500 completed`);
    assert.ok(n.server.stats.duplicatesFiltered > 100 && n.server.stats.repliesResent > 50, JSON.stringify(n.server.stats));
  }
});

test('at-least-once under the same faults: every completed call ran, some more than once', () => {
  const { n, done } = stress(PROTO_RR, SEM_AT_LEAST_ONCE, 1500, 4);
  let twice = 0;
  for (const [tag, [e]] of done) {
    if (e === RR_OK) assert.ok((n.runs.get(tag) ?? 0) >= 1, `completed call ${tag} never ran`);
    if ((n.runs.get(tag) ?? 0) > 1) twice++;
  }
  assert.ok(twice > 50, `${twice} calls ran more than once`);
  assert.is(n.server.historySize(), 0, 'at-least-once keeps no history');
  assert.ok(n.server.stats.reexecutions > 50);
});

test('maybe (R): lost requests are not retried', () => {
  const n = net({ dropPct: 30 }, {}, 5);
  let completed = 0;
  for (let i = 0; i < 300; i++) n.s.at(i * 5_000, () => n.client.call(2, 1, { x: 1, tag: i }, { proto: PROTO_R }, (e) => { if (e === RR_OK) completed++; }));
  n.s.runAll();
  assert.is(completed, 300, 'R reports done once the request is out');
  assert.ok(n.runs.size > 160 && n.runs.size < 250, `${n.runs.size} of 300 executed`);
  assert.is(n.client.stats.retries, 0);
});

test('the history stays small: each request acknowledges earlier replies, RRA the last one too', () => {
  for (const proto of [PROTO_RR, PROTO_RRA]) {
    const n = net({}, { historyEntries: 8 });
    let peak = 0;
    let k = 0;
    const next = (): void => {
      if (k >= 500) return;
      const tag = k++;
      n.client.call(2, 1, { x: 1, tag }, { proto }, () => { peak = Math.max(peak, n.server.historySize()); next(); });
    };
    next();
    n.s.runAll();
    assert.is(k, 500);
    // Each request acknowledges the replies before it, and RRA's acknowledgement the last one too.
    assert.ok(peak <= 2, `${proto === PROTO_RR ? 'RR' : 'RRA'} history peaked at ${peak}`);
    assert.is(n.server.stats.historyEvictions, 0);
    assert.ok(n.server.historySize() <= (proto === PROTO_RR ? 1 : 0));
  }
});

test('history entries expire after historyUs', () => {
  const n = net({}, { historyUs: 1_000_000 });
  n.client.call(2, 1, { x: 1, tag: 1 }, null, () => {});
  n.s.runUntil(500_000);
  assert.is(n.server.historySize(), 1);
  n.s.runUntil(2_000_000);
  assert.is(n.server.historySize(), 0);
});

test('error replies reach the caller as codes distinct from a timeout', () => {
  const n = net({}, { maxPending: 1 });
  n.server.register(4, () => { throw new Error('boom'); });
  n.server.register(5, () => {}); // never replies: holds the only pending slot
  const got: Record<string, number> = {};
  n.client.call(2, 9, null, null, (e) => (got.unknown = e));
  n.client.call(2, 4, { q: 1 }, null, (e) => (got.throws = e));
  n.s.runAll();
  n.client.call(2, 5, null, { retries: 0, timeoutUs: 50_000 }, (e) => (got.silent = e));
  n.s.runUntil(n.s.now() + 10_000);
  n.client.call(2, 1, { x: 1, tag: 1 }, null, (e) => (got.busy = e));
  n.s.runAll();
  n.client.call(3, 1, { x: 1, tag: 2 }, { retries: 1, timeoutUs: 10_000 }, (e) => (got.timeout = e));
  n.s.runAll();
  assert.equal(got, { unknown: RR_E_UNKNOWN_OP, throws: RR_E_HANDLER, silent: RR_E_TIMEOUT, busy: RR_E_BUSY, timeout: RR_E_TIMEOUT });
});

test('malformed arguments get BAD_ARGS; malformed messages are counted and dropped', () => {
  const n = net();
  const m3 = rawMac(n.m.station().link, 3); // a third station speaking raw bytes
  const replies: string[] = [];
  m3.onReceive((p, len) => replies.push(hex(p, len)));
  // REQUEST, RR, at-most-once, id 1, op 1, ack 0, mask 0, then a CBOR map cut short.
  n.s.at(0, () => m3.send(2, new Uint8Array([0x24, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa1, 0x61]), 10));
  n.s.at(10_000, () => m3.send(2, new Uint8Array([0xff, 0x00, 0x00, 0x00]), 4)); // reserved bits
  n.s.runAll();
  assert.equal(replies, ['27000102'], 'ERROR (3) | RR (1<<2) | amo (0x20), id 1, code BAD_ARGS (2)');
  assert.is(n.server.stats.malformed, 1);
  assert.is(n.runs.size, 0, 'the handler never ran');
});

test('a reply that comes after the call gave up is ignored', () => {
  const n = net();
  n.server.register(6, (_a, req) => { n.s.after(300_000, () => n.server.reply(req, RR_OK, 1)); });
  let e1 = -1;
  n.client.call(2, 6, null, { retries: 0, timeoutUs: 100_000 }, (e) => (e1 = e));
  n.s.runAll();
  assert.is(e1, RR_E_TIMEOUT);
  assert.is(n.client.stats.lateReplies, 1);
});

test('a duplicate of a call still executing is filtered; its one reply answers it', () => {
  const n = net();
  let runs = 0;
  n.server.register(7, (_a, req) => { runs++; n.s.after(450_000, () => n.server.reply(req, RR_OK, 'late')); });
  let got: unknown = null;
  n.client.call(2, 7, null, { timeoutUs: 100_000, retries: 5 }, (e, r) => (got = [e, r]));
  n.s.runAll();
  assert.is(runs, 1);
  assert.equal(got, [RR_OK, 'late']);
  assert.ok(n.server.stats.duplicatesFiltered >= 2);
});

test('idempotent operations skip the history even under at-most-once', () => {
  const n = net();
  n.server.register(8, (_a, req) => n.server.reply(req, RR_OK, 8), true);
  n.client.call(2, 8, null, null, () => {});
  n.s.runAll();
  assert.is(n.server.historySize(), 0);
});

test('a server restarted without its history runs a retransmitted at-most-once request again (documented limit)', () => {
  const n = net();
  let runs = 0;
  n.server.register(10, () => { runs++; }); // never replies before the "crash"
  let got: unknown = null;
  n.client.call(2, 10, null, { timeoutUs: 100_000, retries: 3 }, (e, r) => (got = [e, r]));
  n.s.runUntil(50_000);
  assert.is(runs, 1);
  // Crash and restart: a new endpoint on the same MAC, with an empty history.
  const fresh = rr({ mac: n.serverMac, clock: n.s, rng: xoshiro(77), config: RR_DEFAULTS });
  fresh.register(10, (_a, req) => { runs++; fresh.reply(req, RR_OK, 'again'); });
  n.s.runAll();
  assert.is(runs, 2, 'executed a second time after the restart');
  assert.equal(got, [RR_OK, 'again']);
});

test('a client restarted with ids behind its old watermark is told (STALE) and calls again ahead: every call runs once', () => {
  const n = net();
  let tag = 0;
  const results: [number, unknown][] = [];
  let client = n.client;
  const callSome = (c: Rr, k: number): void => {
    for (let i = 0; i < k; i++) {
      const t = ++tag;
      n.s.after(i * 5_000, () => c.call(2, 1, { x: t, tag: t }, { proto: i % 2 ? PROTO_RRA : PROTO_RR }, (e, r) => results.push([e, r])));
    }
    n.s.runAll();
  };
  callSome(client, 4);
  let resynced = 0;
  for (let seed = 1; seed <= 24; seed++) {
    // The client process restarts: a new endpoint at the same address, ids drawn afresh.
    client = rr({ mac: n.clientMac, clock: n.s, rng: xoshiro(1000 + seed), config: RR_DEFAULTS });
    callSome(client, 3);
    resynced += client.stats.restarts;
  }
  assert.is(results.length, tag);
  assert.ok(results.every(([e]) => e === RR_OK), `every call completed: ${JSON.stringify(results.filter(([e]) => e !== RR_OK))}`);
  for (let t = 1; t <= tag; t++) assert.is(n.runs.get(t), 1, `call ${t} ran once`);
  assert.ok(resynced >= 5, `some restarts drew ids behind the old watermark (${resynced}), so the case was met`);
});

test('call() refuses when too many calls are outstanding or the arguments do not fit', () => {
  const n = net({}, { maxCalls: 2 });
  assert.is(n.client.call(2, 1, { x: 1, tag: 1 }, null, () => {}), RR_OK);
  assert.is(n.client.call(2, 1, { x: 1, tag: 2 }, null, () => {}), RR_OK);
  assert.is(n.client.call(2, 1, { x: 1, tag: 3 }, null, () => {}), RR_E_TOO_MANY);
  n.s.runAll();
  assert.is(n.client.call(2, 1, 'x'.repeat(200), null, () => {}), RR_E_TOO_LARGE);
  assert.is(n.client.call(2, 1, { f: () => 1 }, null, () => {}), RR_E_TOO_LARGE);
});

test('long runs keep every table bounded', () => {
  const { n } = stress(PROTO_RRA, SEM_AT_MOST_ONCE, 3000, 8);
  assert.ok(n.server.historySize() <= 16);
});

test('timers: calls answered in time set no timer each; a timer left from an earlier call runs once and the next deadline still holds', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 128, propagationUs: 1 });
  const rng = xoshiro(3);
  const ops = { at: 0, cancel: 0, ticks: 0 };
  // The client's clock counts what the endpoint asks of it, and the timer callbacks it gets to run.
  const clock = {
    now: () => s.now(),
    at: (t: number, fn: () => void) => {
      ops.at++;
      return s.at(t, () => { ops.ticks++; fn(); });
    },
    cancel: (h: ReturnType<typeof s.at>) => { ops.cancel++; s.cancel(h); },
  };
  const config = { ...RR_DEFAULTS, timeoutUs: 200_000 };
  const client = rr({ mac: rawMac(m.station().link, 1, 8), clock, rng, config });
  const server = rr({ mac: rawMac(m.station().link, 2, 8), clock: s, rng, config });
  server.register(1, (args, req) => server.reply(req, RR_OK, args));
  server.register(9, () => {}); // never answers
  let answered = 0;
  const next = (): void => {
    if (answered < 50) client.call(2, 1, answered, null, (e, r) => { assert.is(e, RR_OK); assert.is(r, answered); answered++; next(); });
  };
  next();
  s.runUntil(100_000);
  assert.is(answered, 50, 'fifty calls, one after another, well inside a timeout');
  // Deadlines carry 0-50 % of random stretch, so a later call's can fall before an earlier one's: the
  // timer then moves earlier (a cancel and a set), a handful of times in fifty, never once per call.
  assert.ok(ops.at >= 1 && ops.at <= 6, `timers set for 50 calls: ${ops.at}`);
  assert.is(ops.cancel, ops.at - 1, 'a cancel only where the timer moved earlier, none per reply');
  // A call that gets no answer, made while the first call's timer is still set for an earlier time.
  let gaveUp = -1;
  const t0 = s.now();
  client.call(2, 9, null, { retries: 0 }, (e) => { assert.is(e, RR_E_TIMEOUT); gaveUp = s.now(); });
  s.runAll();
  assert.ok(gaveUp >= t0 + 200_000 && gaveUp <= t0 + 300_000, `timed out at its own deadline (+0-50 %): ${gaveUp - t0} µs after the call`);
  assert.is(ops.ticks, 2, 'the stale timer ran once for nothing, then the one for the deadline');
  assert.is(s.pending(), 0, 'nothing left once every call is over (the history expires too)');
});

test.run();

// CSMA/CA MAC rules, one test each, on the simulated medium with the 802.11 FHSS timing (1 Mbit/s:
// a frame of L bytes lasts 128 + 8L µs; slot 50, SIFS 28, DIFS 128) and 1 µs of propagation.
// Backoff draws come from a scripted generator, so every expected time is exact.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../../hal/sim/scheduler.ts';
import { medium } from '../../../../hal/sim/medium.ts';
import type { Link } from '../../../../hal/link.ts';
import { TX_ERR, TX_NOACK, TX_OK, TX_QUEUE_FULL } from '../../../../hal/link.ts';
import { csma } from '../../../../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../../../../firmware/mac/csma/csma.ts';
import { CSMA_FHSS } from '../../../../firmware/mac/csma/config.ts';
import type { CsmaConfig } from '../../../../firmware/mac/csma/config.ts';
import { FT_ACK, FT_CTS, FT_DATA, FT_RTS } from '../../../../firmware/mac/csma/frame.ts';
import { xoshiro } from '../../../../hal/prng.ts';

const NAMES = ['DATA', 'ACK', 'RTS', 'CTS'];
const air = (len: number) => 128 + 8 * len;
const DATA = (payload: number) => air(34 + payload);
const ACK = air(14), CTS = air(14), RTS = air(20);
const SLOT = 50, SIFS = 28, DIFS = 128, D = 1;

/** A generator that returns the scripted values, then `rest`. */
const scripted = (values: number[], rest = 0) => ({ u32: () => (values.length ? values.shift()! : rest) });

type Ev = [number, string, string]; // time, station, frame type

/** Records what each station puts on the air (start times) and can drop received frames of a type. */
function tap(link: Link, name: string, log: Ev[], s: { now(): number }, dropRx?: number): Link {
  return {
    caps: link.caps,
    send(f, len) {
      const ok = link.send(f, len);
      if (ok) log.push([s.now(), name, NAMES[f[0] & 3]]);
      return ok;
    },
    onReceive: (fn) => link.onReceive(fn && ((f, len, info) => { if (dropRx === undefined || (f[0] & 3) !== dropRx) fn(f, len, info); })),
    onSent: (fn) => link.onSent(fn),
    busy: () => link.busy(),
    onCarrier: link.onCarrier ? (fn) => link.onCarrier!(fn) : undefined,
  };
}

interface Net {
  s: ReturnType<typeof scheduler>;
  m: ReturnType<typeof medium>;
  log: Ev[];
  macs: CsmaMac[];
  got: [number, string, number, number][]; // time, station, src, first payload byte
  sent: [number, string, number, number][]; // time, station, status, transmissions
}

function net(names: string[], opts: { cfg?: Partial<CsmaConfig>; rng?: number[]; seed?: number; dropRx?: Record<string, number>; link?: (l: Link, name: string) => Link } = {}): Net {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 1100, preambleBits: 128, propagationUs: 1 });
  const log: Ev[] = [];
  const got: Net['got'] = [];
  const sent: Net['sent'] = [];
  const rng = opts.seed !== undefined ? xoshiro(opts.seed) : scripted(opts.rng ?? []);
  const cfg = { ...CSMA_FHSS, ...opts.cfg };
  const macs = names.map((name, i) => {
    let link = tap(m.station({ id: i }).link, name, log, s, opts.dropRx?.[name]);
    if (opts.link) link = opts.link(link, name);
    const mac = csma({ link, clock: s, rng, addr: i, config: cfg });
    mac.onReceive((p, len, info) => got.push([s.now(), name, info.src, p[0]]));
    mac.onSent((st, n) => sent.push([s.now(), name, st, n]));
    return mac;
  });
  return { s, m, log, macs, got, sent };
}

const payload = (v: number, n = 10) => new Uint8Array(n).fill(v);

test('unicast on an idle medium: DATA after DIFS, ACK a SIFS later, sent(TX_OK, 1)', () => {
  const n = net(['A', 'B']);
  n.s.at(0, () => assert.is(n.macs[0].send(1, payload(7), 10), TX_OK));
  n.s.runAll();
  const tAck = DIFS + DATA(10) + D + SIFS;
  assert.equal(n.log, [[DIFS, 'A', 'DATA'], [tAck, 'B', 'ACK']]);
  assert.equal(n.got, [[DIFS + DATA(10) + D, 'B', 0, 7]]);
  assert.equal(n.sent, [[tAck + ACK + D, 'A', TX_OK, 1]]);
});

test('a frame arriving on a medium idle for DIFS goes at once; on a busy medium it waits DIFS + backoff', () => {
  const n = net(['A', 'B', 'C'], { rng: [3, 0] }); // B draws 3 when its frame meets a busy medium; A's post-backoff 0
  n.s.at(1000, () => n.macs[0].send(2, payload(1, 200), 200)); // idle since 0: goes at 1000
  n.s.at(1100, () => n.macs[1].send(2, payload(2), 10)); // busy: B draws 3
  n.s.runAll();
  const aEnd = 1000 + DATA(200);
  const cAck = aEnd + D + SIFS;
  const idle = cAck + ACK + D; // the medium at B goes idle when C's ACK ends
  // B was frozen through A's exchange: it counts as one slot at the DIFS boundary, 2 slots remain
  assert.equal(n.log.map((e) => e.slice(0, 2)), [[1000, 'A'], [cAck, 'C'], [idle + DIFS + 2 * SLOT, 'B'], [idle + DIFS + 2 * SLOT + DATA(10) + D + SIFS, 'C']]);
});

test('backoff freezes when the medium goes busy and resumes after DIFS with the slots left', () => {
  // A draws 5 after its first frame; while it counts, C (who hears A) sends a frame of its own.
  const n = net(['A', 'B', 'C'], { rng: [5, 0] });
  n.s.at(0, () => { n.macs[0].send(1, payload(1), 10); n.macs[0].send(1, payload(2), 10); });
  const t1 = DIFS + DATA(10) + D + SIFS + ACK + D; // A's first exchange over; A's backoff 5 from t1 + DIFS
  const cStart = t1 + DIFS + 2 * SLOT + 20; // 2 whole slots counted, the third cut short
  n.s.at(cStart - 1, () => n.macs[2].send(0xffff, payload(3), 10)); // C: post-backoff 0, idle: goes now
  n.s.runAll();
  const cAt = n.log.find((e) => e[1] === 'C')![0];
  assert.is(cAt, cStart - 1);
  const cEnd = cAt + DATA(10) + D; // broadcast: no ACK
  // A had 5 - 2 = 3 left, 1 is taken at the DIFS boundary after C's frame (frozen by C), 2 slots remain
  const aSecond = n.log.filter((e) => e[1] === 'A')[1][0];
  assert.is(aSecond, cEnd + DIFS + 2 * SLOT);
});

test('contention window doubles on each failure up to aCWmax, and the frame is dropped at the short retry limit', () => {
  // Nobody answers at address 9. A generator that always returns 2^32 - 1 makes each backoff = CW.
  const n = net(['A'], { rng: [], cfg: { dot11ShortRetryLimit: 7 } });
  const all = { u32: () => 0xffffffff };
  const s2 = scheduler();
  const m2 = medium(s2, { bitrate: 1e6, mtu: 1100, preambleBits: 128, propagationUs: 1 });
  const log: Ev[] = [];
  const mac = csma({ link: tap(m2.station().link, 'A', log, s2), clock: s2, rng: all, addr: 0, config: CSMA_FHSS });
  const sent: number[][] = [];
  mac.onSent((st, k) => sent.push([s2.now(), st, k]));
  s2.at(0, () => { mac.send(9, payload(1), 10); mac.send(9, payload(2), 10); });
  s2.runAll();
  void n;
  const starts = log.map((e) => e[0]);
  const gaps: number[] = [];
  for (let i = 1; i < starts.length; i++) {
    // failure is known SIFS + slot after the frame; the medium has been idle since the frame's end
    const idleFrom = starts[i - 1] + DATA(10);
    gaps.push((starts[i] - idleFrom - DIFS) / SLOT);
  }
  // attempts 1..7 of frame 1 (CW 31, 63, 127, 255, 511, 1023, 1023), dropped; then frame 2 starts at CW 31
  assert.equal(gaps.slice(0, 7), [63, 127, 255, 511, 1023, 1023, 31]);
  assert.equal(sent[0].slice(1), [TX_NOACK, 7]);
  assert.is(mac.stats.dropNoAck >= 1, true);
  assert.is(mac.stats.retries >= 6, true);
});

test('window resets to aCWmin after a success', () => {
  // A's first attempt fails (ACKs dropped at A once), the retry succeeds: the post-backoff uses CW 31.
  let drops = 1;
  const n = net(['A', 'B'], {
    rng: [0xffffffff, 0xffffffff, 0xffffffff],
    link: (l, name) => name !== 'A' ? l : { ...l, onReceive: (fn) => l.onReceive(fn && ((f, len, i) => { if ((f[0] & 3) === FT_ACK && drops-- > 0) return; fn(f, len, i); })) },
  });
  n.s.at(0, () => { n.macs[0].send(1, payload(1), 10); n.macs[0].send(1, payload(2), 10); });
  n.s.runAll();
  const a = n.log.filter((e) => e[1] === 'A').map((e) => e[0]);
  const acks = n.log.filter((e) => e[1] === 'B').map((e) => e[0]);
  assert.is(a.length, 3);
  assert.is((a[1] - (acks[0] + ACK + D) - DIFS) / SLOT, 63, 'after the failure: CW 63');
  assert.is((a[2] - (acks[1] + ACK + D) - DIFS) / SLOT, 31, 'after the success: back to CW 31');
  assert.equal(n.sent.map((x) => x.slice(2)), [[TX_OK, 2], [TX_OK, 1]]);
});

test('RTS/CTS: the long retry limit drops a frame whose DATA is never acknowledged; the receiver delivers it once', () => {
  const n = net(['A', 'B'], { cfg: { dot11RTSThreshold: 0, dot11LongRetryLimit: 4 }, dropRx: { A: FT_ACK } });
  n.s.at(0, () => n.macs[0].send(1, payload(5), 10));
  n.s.runAll();
  const types = n.log.map((e) => `${e[1]}:${e[2]}`);
  assert.equal(types, Array(4).fill(['A:RTS', 'B:CTS', 'A:DATA', 'B:ACK']).flat());
  assert.equal(n.sent.map((x) => x.slice(2)), [[TX_NOACK, 4]]);
  assert.is(n.got.length, 1, 'delivered once');
  assert.is(n.macs[1].stats.duplicates, 3, 'retransmissions recognised by the retry bit and sequence number');
  assert.is(n.macs[1].stats.ackTx, 4, 'and acknowledged again');
});

test('RTS/CTS exchange timing: SIFS between every frame, durations cover the rest of the exchange', () => {
  const n = net(['A', 'B', 'D'], { cfg: { dot11RTSThreshold: 0 } });
  const durs: [string, number][] = [];
  n.m.stations[2].link.onReceive((f) => durs.push([NAMES[f[0] & 3], (f[1] << 8) | f[2]]));
  n.s.at(0, () => n.macs[0].send(1, payload(9, 100), 100));
  n.s.runAll();
  const t0 = DIFS;
  const tCts = t0 + RTS + D + SIFS;
  const tData = tCts + CTS + D + SIFS;
  const tAck = tData + DATA(100) + D + SIFS;
  assert.equal(n.log, [[t0, 'A', 'RTS'], [tCts, 'B', 'CTS'], [tData, 'A', 'DATA'], [tAck, 'B', 'ACK']]);
  assert.equal(durs, [['RTS', 3 * SIFS + CTS + DATA(100) + ACK], ['CTS', 2 * SIFS + DATA(100) + ACK], ['DATA', SIFS + ACK], ['ACK', 0]]);
});

test('NAV: a hidden station that hears only the CTS stays silent until the exchange ends', () => {
  // A and C cannot hear each other; both reach B. A reserves with RTS; C gets a frame during A's DATA.
  const n = net(['A', 'B', 'C'], { cfg: { dot11RTSThreshold: 0 }, rng: [0, 0, 0, 2] });
  n.m.setHears(0, 2, false);
  n.m.setHears(2, 0, false);
  n.s.at(0, () => n.macs[0].send(1, payload(1, 300), 300));
  const tData = DIFS + RTS + D + SIFS + CTS + D + SIFS;
  n.s.at(tData + 100, () => n.macs[2].send(1, payload(2), 10)); // C senses nothing physically now
  n.s.runAll();
  const ackEnd = tData + DATA(300) + D + SIFS + ACK + D;
  const c = n.log.filter((e) => e[1] === 'C');
  assert.ok(c[0][0] >= ackEnd - D, `C waited for its NAV (${c[0][0]} >= ${ackEnd})`);
  assert.is(n.m.stations[1].stats.rxCollisions, 0);
  assert.equal(n.got.map((g) => g[2]), [0, 2]);
  assert.ok(n.macs[2].stats.navDeferrals >= 1);
});

test('without RTS/CTS the same hidden station collides at B (the NAV test above can fail)', () => {
  const n = net(['A', 'B', 'C'], { rng: [0, 0, 0, 2] });
  n.m.setHears(0, 2, false);
  n.m.setHears(2, 0, false);
  n.s.at(0, () => n.macs[0].send(1, payload(1, 300), 300));
  n.s.at(DIFS + 100, () => n.macs[2].send(1, payload(2), 10));
  n.s.runUntil(DIFS + 5000);
  assert.ok(n.m.stations[1].stats.rxCollisions >= 1);
});

test('broadcast and group frames: no RTS even at threshold 0, no ACK, delivered to members only', () => {
  const n = net(['A', 'B', 'C'], { cfg: { dot11RTSThreshold: 0 } });
  assert.ok(n.macs[1].join(0xff10));
  n.s.at(0, () => { n.macs[0].send(0xffff, payload(1), 10); n.macs[0].send(0xff10, payload(2), 10); });
  n.s.runAll();
  assert.equal(n.log.map((e) => e[2]), ['DATA', 'DATA']);
  assert.equal(n.got.map((g) => [g[1], g[3]]), [['B', 1], ['C', 1], ['B', 2]]);
  assert.equal(n.sent.map((x) => x.slice(2)), [[TX_OK, 1], [TX_OK, 1]]);
  n.macs[1].leave(0xff10);
  assert.not.ok(n.macs[1].join(0x1234), 'not a group address');
});

test('bounded queue: QueueFull beyond the depth, Err for empty, oversized or self-addressed frames', () => {
  const n = net(['A', 'B'], { cfg: { queueDepth: 2 } });
  const a = n.macs[0];
  assert.is(a.send(1, payload(1), 10), TX_OK);
  assert.is(a.send(1, payload(2), 10), TX_OK);
  assert.is(a.send(1, payload(3), 10), TX_QUEUE_FULL);
  assert.is(a.send(1, payload(3), 0), TX_ERR);
  assert.is(a.send(1, new Uint8Array(2000), 1100 - 34 + 1), TX_ERR);
  assert.is(a.send(0, payload(3), 10), TX_ERR);
  assert.is(a.caps.mtu, 1100 - 34);
  n.s.runAll();
  assert.equal(n.sent.map((x) => x[2]), [TX_OK, TX_OK]);
  assert.is(a.stats.dropQueueFull, 1);
});

test('the frame callbacks may queue the next frame at once (saturation) and order is kept', () => {
  const n = net(['A', 'B']);
  let k = 0;
  n.macs[0].onSent(() => { if (++k < 5) n.macs[0].send(1, payload(k), 10); });
  n.s.at(0, () => n.macs[0].send(1, payload(0), 10));
  n.s.runAll();
  assert.equal(n.got.map((g) => g[3]), [0, 1, 2, 3, 4]);
});

test('a radio without carrier notifications is polled once a slot; one without carrier sense runs on NAV alone', () => {
  for (const mode of ['polled', 'nocs']) {
    const n = net(['A', 'B', 'C'], {
      cfg: { dot11RTSThreshold: 0 },
      seed: 3,
      link: (l) => ({
        caps: mode === 'nocs' ? { ...l.caps, carrierSense: false } : l.caps,
        send: (f, len) => l.send(f, len), onReceive: (fn) => l.onReceive(fn), onSent: (fn) => l.onSent(fn),
        busy: () => (mode === 'nocs' ? false : l.busy()),
      }),
    });
    assert.is(n.macs[0].caps.carrierSense, mode !== 'nocs');
    for (let i = 0; i < 5; i++) n.s.at(i * 3000, () => { n.macs[0].send(1, payload(i), 10); n.macs[2].send(1, payload(10 + i), 10); });
    n.s.runUntil(2_000_000);
    const fromA = n.got.filter((g) => g[2] === 0).map((g) => g[3]);
    const fromC = n.got.filter((g) => g[2] === 2).map((g) => g[3]);
    assert.equal(fromA, [0, 1, 2, 3, 4], mode);
    assert.equal(fromC, [10, 11, 12, 13, 14], mode);
  }
});

test('malformed frames are counted and ignored', () => {
  const n = net(['A', 'B']);
  const raw = n.m.station({ id: 5 });
  n.s.at(0, () => raw.link.send(new Uint8Array([0xf8, 0, 0, 0, 1]), 5));
  n.s.at(1000, () => raw.link.send(new Uint8Array([FT_DATA, 0, 0, 0, 1, 0, 5, 0]), 8)); // no payload
  n.s.at(2000, () => raw.link.send(new Uint8Array([FT_RTS, 0, 0, 0, 1]), 5)); // short RTS
  n.s.runAll();
  assert.is(n.macs[1].stats.rxMalformed, 3);
  assert.equal(n.got, []);
  void FT_CTS;
});

test('configuration errors are refused at creation', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 20 });
  const link = m.station().link;
  const rng = scripted([]);
  assert.throws(() => csma({ link, clock: s, rng, addr: 0xffff, config: CSMA_FHSS }), /address/);
  assert.throws(() => csma({ link, clock: s, rng, addr: 1, config: CSMA_FHSS }), /no room for a payload/);
  assert.throws(() => csma({ link, clock: s, rng, addr: 1, config: { ...CSMA_FHSS, ackBytes: 3, dataHeaderBytes: 8 } }), /natural/);
});

test.run();

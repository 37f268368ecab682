// CSMA/CA edge cases found in review, each reproduced: polled carrier sense, polling that stops,
// immediate access interrupted during DIFS, a CTS sender on a radio without carrier sense, sequence
// numbers across a wrap, a frame handed over after the carrier-idle call, a link that keeps refusing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../../hal/sim/scheduler.ts';
import { medium } from '../../../../hal/sim/medium.ts';
import type { Link } from '../../../../hal/link.ts';
import { TX_ERR, TX_OK } from '../../../../hal/link.ts';
import { xoshiro } from '../../../../hal/prng.ts';
import { faulty } from '../../../../hal/mw/faulty.ts';
import { csma } from '../../../../firmware/mac/csma/csma.ts';
import { CSMA_FHSS } from '../../../../firmware/mac/csma/config.ts';
import type { CsmaConfig } from '../../../../firmware/mac/csma/config.ts';

/** A link that hides carrier notifications (polled), and optionally carrier sense itself. */
function polled(l: Link, noCs = false): Link {
  return {
    caps: noCs ? { ...l.caps, carrierSense: false } : l.caps,
    send: (f, len) => l.send(f, len), onReceive: (fn) => l.onReceive(fn), onSent: (fn) => l.onSent(fn),
    busy: () => (noCs ? false : l.busy()),
  };
}

function setup(n: number, wrap: (l: Link, i: number) => Link = (l) => l, cfg: Partial<CsmaConfig> = {}, seed = 1) {
  const s = scheduler();
  const starts: [number, number][] = [];
  const m = medium(s, {
    bitrate: 1e6, mtu: 1100, preambleBits: 128, propagationUs: 1,
    trace: (l) => { const t = /^\s*(\d+) tx   st=(\d+)/.exec(l); if (t) starts.push([+t[1], +t[2]]); },
  });
  const rng = xoshiro(seed);
  const macs = [];
  for (let i = 0; i < n; i++) macs.push(csma({ link: wrap(m.station().link, i), clock: s, rng, addr: i, config: { ...CSMA_FHSS, ...cfg } }));
  return { s, m, macs, starts };
}

test('a polled station senses the medium before its first frame', () => {
  const { s, m, macs, starts } = setup(3, (l, i) => (i === 2 ? polled(l) : l));
  s.at(10_000, () => macs[0].send(1, new Uint8Array(500), 500)); // on air 10000..14400
  s.at(12_000, () => macs[2].send(1, new Uint8Array(10), 10));
  s.runUntil(100_000);
  const c = starts.filter(([, st]) => st === 2).map(([t]) => t);
  assert.ok(c.length >= 1 && c[0] > 14_400, `C waited for A's frame (${c[0]})`);
  assert.is(m.stations[1].stats.rxCollisions, 0);
});

test('polling stops when a polled station has nothing left to do', () => {
  const { s, macs } = setup(2, (l) => polled(l));
  s.at(0, () => macs[0].send(1, new Uint8Array(10), 10));
  const ran = s.runAll(1_000_000);
  assert.ok(ran < 1_000_000, 'the scheduler ran dry');
  assert.is(s.pending(), 0);
});

test('a frame that meets a busy medium during its DIFS backs off instead of going right after', () => {
  // A raw transmitter R ends a frame at ~928; B and C get frames 20 µs into the idle gap (DIFS not yet
  // over, no backoff pending); R starts again at +60, before their DIFS ends. Both must now draw a
  // backoff: going together at R's end + DIFS would collide.
  const { s, macs, m } = setup(3, (l) => l, {}, 5);
  const R = m.station();
  s.at(0, () => R.link.send(new Uint8Array(100), 100));
  s.at(949, () => { macs[1].send(0, new Uint8Array(10), 10); macs[2].send(0, new Uint8Array(10), 10); });
  s.at(989, () => R.link.send(new Uint8Array(100), 100));
  s.runUntil(50_000);
  assert.is(m.stations[0].stats.rxCollisions, 0, 'B and C drew backoffs and did not collide');
  assert.is(macs[1].stats.sentOk + macs[2].stats.sentOk, 2);
  assert.is(macs[1].stats.retries + macs[2].stats.retries, 0);
});

test('without carrier sense, a station that sent CTS keeps quiet through the DATA it granted', () => {
  const { s, macs } = setup(3, (l) => polled(l, true), { dot11RTSThreshold: 0 });
  s.at(0, () => macs[0].send(1, new Uint8Array(600), 600));
  s.at(1_700, () => macs[1].send(2, new Uint8Array(10), 10)); // B gets a frame of its own mid-exchange
  s.runUntil(200_000);
  assert.is(macs[0].stats.retries, 0, "A's DATA was not trampled");
  assert.is(macs[0].stats.sentOk, 1);
  assert.is(macs[1].stats.sentOk, 1);
});

test('sequence numbers are per destination: a lost first copy after 255 frames elsewhere is still delivered', () => {
  let dropNext = false;
  const { s, macs } = setup(3, (l, i) => i !== 1 ? l : { ...l, onReceive: (fn) => l.onReceive(fn && ((f, len, info) => { if (dropNext && (f[0] & 3) === 0) { dropNext = false; return; } fn(f, len, info); })) });
  const got: number[] = [];
  macs[1].onReceive((p) => got.push(p[0]));
  let toC = 0;
  macs[0].onSent(() => { if (toC > 0 && toC < 255) { toC++; macs[0].send(2, new Uint8Array([0]), 1); } else if (toC === 255) { toC++; dropNext = true; macs[0].send(1, new Uint8Array([2]), 1); } });
  s.at(0, () => macs[0].send(1, new Uint8Array([1]), 1));
  s.at(5_000, () => { toC = 1; macs[0].send(2, new Uint8Array([0]), 1); });
  s.runUntil(2_000_000);
  assert.equal(got, [1, 2]);
  assert.is(macs[1].stats.duplicates, 0);
});

test('a response handed over just after the carrier-idle call still counts', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 1100, preambleBits: 128, propagationUs: 1 });
  const rng = xoshiro(2);
  const la = faulty(m.station().link, { clock: s, rng, delayUs: 1 }); // frames arrive 1 µs after the carrier drops
  const a = csma({ link: la, clock: s, rng, addr: 0, config: CSMA_FHSS });
  const b = csma({ link: m.station().link, clock: s, rng, addr: 1, config: CSMA_FHSS });
  const sent: number[][] = [];
  a.onSent((st, n) => sent.push([st, n]));
  s.at(0, () => a.send(1, new Uint8Array(10), 10));
  s.runUntil(100_000);
  assert.equal(sent, [[TX_OK, 1]]);
  assert.is(b.stats.duplicates, 0);
});

test('a link that keeps refusing frames makes the MAC give up with TX_ERR, not loop for ever', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 1100 });
  const l = m.station().link;
  const dead: Link = { ...l, send: () => false, onCarrier: l.onCarrier };
  const a = csma({ link: dead, clock: s, rng: xoshiro(1), addr: 0, config: CSMA_FHSS });
  const sent: number[] = [];
  a.onSent((st) => sent.push(st));
  s.at(0, () => a.send(1, new Uint8Array(10), 10));
  s.runAll(100_000);
  assert.equal(sent, [TX_ERR]);
  assert.is(a.stats.dropLinkErr, 1);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { frameQueue } from '../../firmware/queue.ts';
import { telemetry } from '../../firmware/telemetry.ts';
import { gateway } from '../../firmware/gateway.ts';
import { parseTelemetry, emitTelemetry, TM_HDR } from '../../firmware/codec/telemetry.ts';
import { cborDecode, cborState, CBOR_OK } from '../../firmware/codec/cbor.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import { medium } from '../../hal/sim/medium.ts';
import { xoshiro } from '../../hal/prng.ts';
import type { Link } from '../../hal/link.ts';

test('frame queue: FIFO, bounded, refuses empty and oversize, copies in, reuses its slot views', () => {
  const q = frameQueue(2, 4);
  const f = new Uint8Array([1, 2, 3]);
  assert.ok(q.put(f, 3));
  f[0] = 9;
  assert.ok(q.put(f, 2));
  assert.not.ok(q.put(f, 1), 'full');
  assert.not.ok(frameQueue(2, 4).put(new Uint8Array(5), 5), 'oversize');
  assert.not.ok(frameQueue(2, 4).put(new Uint8Array(5), 0), 'empty');
  assert.not.ok(frameQueue(2, 4).put(new Uint8Array(5), -1), 'negative');
  assert.is(q.headLen(), 3);
  assert.equal([...q.head().subarray(0, 3)], [1, 2, 3]);
  q.drop();
  assert.equal([...q.head().subarray(0, q.headLen())], [9, 2]);
  q.drop();
  assert.is(q.headLen(), 0);
  q.drop();
  assert.is(q.size(), 0);
  for (let i = 0; i < 10; i++) { assert.ok(q.put(new Uint8Array([i]), 1)); assert.is(q.head()[0], i); q.drop(); }
  const views: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) { q.put(f, 1); views.push(q.head()); q.drop(); }
  assert.ok(views[0] === views[2] && views[1] === views[3] && views[0] !== views[1], 'slot views are reused: nothing allocated per frame');
});

test('telemetry codec: golden bytes, and short or foreign frames are refused', () => {
  const b = new Uint8Array(8);
  assert.is(emitTelemetry({ src: 0x0102, seq: 0xfffe }, b), TM_HDR);
  assert.equal([...b.subarray(0, 5)], [0x54, 0x01, 0x02, 0xff, 0xfe]);
  const h = { src: 0, seq: 0 };
  b[5] = 0xa0;
  assert.is(parseTelemetry(b, 6, h), TM_HDR);
  assert.equal(h, { src: 0x0102, seq: 0xfffe });
  assert.is(parseTelemetry(b, 5, h), 0, 'no body');
  assert.is(parseTelemetry(b, 99, h), 0, 'len beyond buffer');
  b[0] = 0x55;
  assert.is(parseTelemetry(b, 6, h), 0, 'wrong type');
  assert.is(emitTelemetry(h, new Uint8Array(4)), 0);
});

test('telemetry: periodic frames with increasing seq and the readings in CBOR', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 32 });
  const tx = m.station(), rx = m.station();
  let k = 0;
  const app = telemetry({ link: tx.link, clock: s, rng: xoshiro(1), id: 7, periodUs: 100_000, jitterUs: 20_000, backoffUs: 1000, maxTries: 4, read: () => ({ k: k++ }) });
  const got: { src: number; seq: number; body: unknown; t: number }[] = [];
  const st = cborState(4, 64);
  rx.link.onReceive((f, len) => {
    const h = { src: 0, seq: 0 };
    const off = parseTelemetry(f, len, h);
    const body = cborDecode(f, off, len, st);
    assert.is(st.err, CBOR_OK);
    got.push({ ...h, body, t: s.now() });
  });
  s.runUntil(1_050_000);
  app.stop();
  s.runUntil(5_000_000);
  assert.is(got.length, 10);
  assert.equal(got.map((g) => g.seq), [...Array(10).keys()]);
  assert.ok(got.every((g, i) => g.src === 7 && (g.body as { k: number }).k === i));
  for (let i = 1; i < got.length; i++) {
    const gap = got[i].t - got[i - 1].t;
    assert.ok(gap >= 90_000 && gap <= 110_000, `gap ${gap}`);
  }
  assert.is(app.stats.sent, 10);
});

test('telemetry: backs off while the medium is busy and skips a reading after maxTries', () => {
  const s = scheduler();
  let busy = true;
  const sent: number[] = [];
  const link: Link = {
    caps: { mtu: 32, bitrate: 1e6, medium: 'radio', carrierSense: true, broadcast: true },
    send: () => { sent.push(s.now()); return true; },
    onReceive: () => {}, onSent: () => {}, busy: () => busy,
  };
  const app = telemetry({ link, clock: s, rng: xoshiro(2), id: 1, periodUs: 100_000, jitterUs: 0, backoffUs: 1000, maxTries: 3, read: () => ({}) });
  s.runUntil(150_000);
  assert.equal(sent, []);
  assert.is(app.stats.skipped, 1);
  assert.is(app.stats.backoffs, 2);
  busy = false;
  s.runUntil(250_000);
  assert.is(sent.length, 1);
  app.stop();
});

test('telemetry: a reading too large for a frame is counted, not sent', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 16 });
  const app = telemetry({ link: m.station().link, clock: s, rng: xoshiro(1), id: 1, periodUs: 1000, jitterUs: 0, backoffUs: 100, maxTries: 2, read: () => ({ text: 'far too long for sixteen bytes' }) });
  s.runUntil(10_500);
  assert.is(app.stats.sent, 0);
  assert.is(app.stats.encodeErrors, 10);
});

test('telemetry: stop() from inside read() is final', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 32 });
  let app: ReturnType<typeof telemetry> | null = null;
  app = telemetry({ link: m.station().link, clock: s, rng: xoshiro(1), id: 1, periodUs: 1000, jitterUs: 0, backoffUs: 100, maxTries: 2, read: () => { app!.stop(); return {}; } });
  s.runUntil(100_000);
  assert.is(app.stats.sent, 1, 'the reading in progress goes out, nothing after it');
  assert.is(s.pending(), 0);
});

test('telemetry: a link whose mtu cannot hold a frame is a configuration error', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 5 });
  assert.throws(() => telemetry({ link: m.station().link, clock: s, rng: xoshiro(1), id: 1, periodUs: 1000, jitterUs: 0, backoffUs: 100, maxTries: 2, read: () => ({}) }), /mtu 5/);
});

/** An uplink Link whose behaviour a test sets: sync (onSent inside send) or async after 1 ms. */
function fakeUplink(s: ReturnType<typeof scheduler>, sync: boolean) {
  const sent: number[][] = [];
  let onSent: ((st: 0) => void) | null = null;
  let onRx: ((f: Uint8Array, len: number, info: { timeUs: number; rssi: number }) => void) | null = null;
  let busy = false;
  const link: Link = {
    caps: { mtu: 16, bitrate: 1e5, medium: 'serial', carrierSense: false, broadcast: false },
    send: (f, len) => {
      if (busy) return false;
      sent.push([...f.subarray(0, len)]);
      if (sync) onSent?.(0);
      else { busy = true; s.after(1000, () => { busy = false; onSent?.(0); }); }
      return true;
    },
    onReceive: (fn) => { onRx = fn; }, onSent: (fn) => { onSent = fn; }, busy: () => busy,
  };
  return { link, sent, rx: (b: number[]) => onRx!(new Uint8Array(b), b.length, { timeUs: 0, rssi: 0 }) };
}

test('gateway: an uplink that calls onSent inside send() gets each frame once, no recursion', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const sensor = m.station(), gwr = m.station();
  const up = fakeUplink(s, true);
  const gw = gateway({ radio: gwr.link, uplink: up.link, clock: s, depth: 4, retryUs: 100 });
  for (let i = 0; i < 3; i++) s.at(i * 1000, () => sensor.link.send(new Uint8Array([i]), 1));
  s.runAll();
  assert.equal(up.sent, [[0], [1], [2]]);
  assert.is(gw.stats.up, 3);
});

test('gateway: an empty or oversized frame from the host is dropped, and does not block the frames after it', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 8 });
  const sensor = m.station(), gwr = m.station();
  const up = fakeUplink(s, false);
  const gw = gateway({ radio: gwr.link, uplink: up.link, clock: s, depth: 4, retryUs: 100 });
  const heard: number[] = [];
  sensor.link.onReceive((f) => heard.push(f[0]));
  s.at(10, () => up.rx([]));
  s.at(20, () => up.rx([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  s.at(30, () => up.rx([0xaa]));
  s.runUntil(100_000);
  assert.equal(heard, [0xaa]);
  assert.is(gw.stats.downDropped, 2);
  assert.ok(s.executed < 100, `no endless retries (${s.executed} events)`);
});

test('gateway: waits for an idle radio before relaying down (carrier sense)', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const sensor = m.station(), gwr = m.station();
  const up = fakeUplink(s, false);
  gateway({ radio: gwr.link, uplink: up.link, clock: s, depth: 4, retryUs: 50 });
  s.at(0, () => sensor.link.send(new Uint8Array(16), 16)); // 128 µs on air
  s.at(10, () => up.rx([0xdd]));
  s.runAll();
  assert.is(gwr.stats.rxFrames, 1, 'the sensor frame was not destroyed by the relay');
  assert.is(sensor.stats.rxFrames, 1, 'the relayed frame went out after it');
  assert.is(gwr.stats.rxMissedWhileTx + sensor.stats.rxMissedWhileTx, 0);
});

test('gateway: relays both ways, drops (and counts) when its queue is full, retries refused sends', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 16 });
  const sensor = m.station(), gwr = m.station();
  // an uplink that accepts one frame per 1 ms and refuses while busy
  const up: number[] = [];
  let upBusy = false;
  let upSent: ((st: 0) => void) | null = null;
  let upRx: ((f: Uint8Array, len: number, info: { timeUs: number; rssi: number }) => void) | null = null;
  const uplink: Link = {
    caps: { mtu: 16, bitrate: 1e5, medium: 'serial', carrierSense: false, broadcast: false },
    send: (f) => { if (upBusy) return false; upBusy = true; up.push(f[0]); s.after(1000, () => { upBusy = false; upSent?.(0); }); return true; },
    onReceive: (fn) => { upRx = fn; }, onSent: (fn) => { upSent = fn; }, busy: () => upBusy,
  };
  const gw = gateway({ radio: gwr.link, uplink, clock: s, depth: 4, retryUs: 100 });
  // 10 radio frames 100 µs apart: faster than the uplink drains
  for (let i = 0; i < 10; i++) s.at(i * 100, () => sensor.link.send(new Uint8Array([i]), 1));
  const down: number[] = [];
  sensor.link.onReceive((f) => down.push(f[0]));
  s.at(50_000, () => upRx!(new Uint8Array([0xd0]), 1, { timeUs: 0, rssi: 0 }));
  s.at(50_000, () => upRx!(new Uint8Array([0xd1]), 1, { timeUs: 0, rssi: 0 }));
  s.runAll();
  assert.is(gw.stats.up + gw.stats.upDropped, 10);
  assert.ok(gw.stats.upDropped > 0);
  assert.equal(up, [...Array(10).keys()].filter((i) => up.includes(i)));
  assert.is(up.length, gw.stats.up);
  assert.equal(down, [0xd0, 0xd1], 'second frame retried after the radio was busy with the first');
  assert.is(gw.stats.down, 2);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { wire } from '../../../hal/sim/wire.ts';
import { framedLink } from '../../../hal/framing/link.ts';
import { TX_OK } from '../../../hal/link.ts';
import { xoshiro, below } from '../../../hal/prng.ts';

function pair(opts: Parameters<typeof wire>[1]) {
  const s = scheduler();
  const w = wire(s, opts);
  const a = framedLink(w.a, { mtu: 64, clock: s });
  const b = framedLink(w.b, { mtu: 64, clock: s });
  return { s, w, a, b };
}

test('frames cross a serial wire both ways with caps, timing and onSent', () => {
  const { s, a, b } = pair({ baud: 115200 });
  assert.equal(a.caps, { mtu: 64, bitrate: 92160, medium: 'serial', carrierSense: false, broadcast: false });
  const atB: [string, number][] = [];
  const atA: string[] = [];
  const sent: number[] = [];
  b.onReceive((f, len, info) => atB.push([Buffer.from(f.subarray(0, len)).toString('hex'), info.timeUs]));
  a.onReceive((f, len) => atA.push(Buffer.from(f.subarray(0, len)).toString('hex')));
  a.onSent((st) => sent.push(st));
  const frame = new Uint8Array([1, 0, 2, 0, 0, 3]);
  assert.ok(a.send(frame, 6));
  frame.fill(9); // the link copied it: reuse is safe
  assert.ok(a.busy());
  assert.not.ok(a.send(frame, 6), 'one frame in flight at a time');
  assert.ok(b.send(new Uint8Array([0xee]), 1));
  s.runAll();
  // 6 bytes + 2 FCS = 8; COBS turns the 3 zeros into codes and adds one: 9; 2 delimiters: 11 bytes,
  // 110 bits at 115200 baud
  assert.equal(atB, [['010002000003', Math.ceil((11 * 1e7) / 115200)]]);
  assert.equal(atA, ['ee']);
  assert.equal(sent, [TX_OK]);
  assert.not.ok(a.busy());
});

test('send refuses oversize, empty, and frames the port cannot take now, writing nothing', () => {
  const s = scheduler();
  const w = wire(s, { baud: 9600, txBufBytes: 80 });
  const a = framedLink(w.a, { mtu: 64, clock: s });
  assert.not.ok(a.send(new Uint8Array(65), 65));
  assert.not.ok(a.send(new Uint8Array(1), 0));
  w.a.write(new Uint8Array(40).fill(1), 40); // someone else's bytes fill half the port
  assert.not.ok(a.send(new Uint8Array(60).fill(2), 60), 'encoded frame bigger than the room left');
  assert.is(w.a.stats.bytesSent, 40, 'nothing half-written');
  assert.ok(a.send(new Uint8Array(10).fill(3), 10));
});

test('a port too small for an MTU-sized frame is a configuration error', () => {
  const s = scheduler();
  const w = wire(s, { baud: 9600, txBufBytes: 64 });
  assert.throws(() => framedLink(w.a, { mtu: 64, clock: s }), /needs 69 \(encodedMax\)/);
});

test('a port that drains inside write() still gets onSent after send returns, once', () => {
  const s = scheduler();
  let drain: (() => void) | null = null;
  const port = {
    baud: 115200,
    write: (_b: Uint8Array, len: number) => { drain?.(); return len; },
    writable: () => 1000,
    onData: () => {},
    onDrain: (fn: (() => void) | null) => { drain = fn; },
  };
  const a = framedLink(port, { mtu: 32, clock: s });
  const log: string[] = [];
  a.onSent(() => log.push('sent'));
  assert.ok(a.send(new Uint8Array([1, 2]), 2));
  log.push('returned');
  s.runAll();
  assert.equal(log, ['returned', 'sent']);
  assert.not.ok(a.busy());
});

test('under byte loss and corruption no damaged frame is ever delivered; most get through', () => {
  const { s, a, b } = pair({ baud: 115200, lossPct: 0.2, corruptPct: 0.2, rng: xoshiro(5) });
  const rng = xoshiro(9);
  const sent: string[] = [];
  const got: string[] = [];
  b.onReceive((f, len) => got.push(Buffer.from(f.subarray(0, len)).toString('hex')));
  let k = 0;
  const next = () => {
    if (k++ >= 500) return;
    const len = 1 + below(rng, 64);
    const f = new Uint8Array(len).map(() => below(rng, 4) === 0 ? 0 : below(rng, 256));
    sent.push(Buffer.from(f).toString('hex'));
    assert.ok(a.send(f, len));
  };
  a.onSent(next);
  next();
  s.runAll();
  const set = new Set(sent);
  for (const g of got) assert.ok(set.has(g), `delivered a frame that was never sent: ${g}`);
  assert.ok(got.length > 400 && got.length < 500, `delivered ${got.length} of 500`);
  assert.is(b.stats.frames, got.length);
  assert.ok(b.stats.crcErrors + b.stats.malformed > 0);
});

test.run();

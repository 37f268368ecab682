// The Node serial driver (hal/node/serial.ts) and the pseudo-terminal pair (hal/node/pty.ts).
// The pacer is tested on a hand-driven clock (no wall-clock timing is asserted anywhere); the driver
// is tested on real pseudo-terminals made by socat: raw bytes through a small transmit buffer, and
// framedLink on both ends sending frames both ways. Without socat those tests skip with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pacer, openSerial, explainOpenError } from '../../../hal/node/serial.ts';
import type { NodeSerial, NodeSerialOptions } from '../../../hal/node/serial.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import type { PtyPair } from '../../../hal/node/pty.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { framedLink } from '../../../hal/framing/link.ts';
import type { FramedLink } from '../../../hal/framing/link.ts';
import { encodedMax } from '../../../hal/framing/cobs.ts';
import { TX_OK } from '../../../hal/link.ts';
import { xoshiro, below } from '../../../hal/prng.ts';

// ---------- the pacer, on an injected clock ----------

function handClock(t = 0) {
  const c = { t, now: () => c.t };
  return c;
}

test('pacer: a fresh line lets the FIFO out at once, then one byte per byte time', () => {
  const c = handClock(1_000_000);
  const p = pacer({ bytesPerSecond: 11520, fifoBytes: 16, now: c.now });
  assert.is(p.allowance(), 16);
  p.take(16);
  assert.is(p.allowance(), 0);
  // 1e6 / 11520 = 86.8 µs a byte: the 17th byte is due when the first has left the line
  assert.is(p.waitUs(1), 87);
  assert.is(p.waitUs(0), 0);
  c.t += 86;
  assert.is(p.allowance(), 0);
  c.t += 1;
  assert.is(p.allowance(), 1);
  assert.is(p.waitUs(1), 0);
  // one second later the line has carried 11 520 bytes: that many more (minus those taken) are due
  c.t = 1_000_000 + 1_000_000;
  assert.is(p.allowance(), 11520);
  assert.ok(Math.abs(p.lineFreeAt() - (1_000_000 + (16 * 1e6) / 11520)) < 1e-6);
});

test('pacer: late timers lose no throughput (the budget counts from the start, not per tick)', () => {
  const rng = xoshiro(11);
  const c = handClock(0);
  const rate = 11520;
  const fifo = 64;
  const chunk = 23;
  const p = pacer({ bytesPerSecond: rate, fifoBytes: fifo, now: c.now });
  let sent = 0;
  let ticks = 0;
  const endUs = 10_000_000;
  while (c.t < endUs) {
    const n = p.allowance();
    p.take(n);
    sent += n;
    // never ahead of the line by more than the FIFO
    assert.ok(sent <= Math.floor((c.t * rate) / 1e6) + fifo, `ahead at ${c.t} µs: ${sent}`);
    // the next timer, set for the next chunk and firing 0..4 ms late (a busy event loop)
    c.t += p.waitUs(chunk) + below(rng, 4000);
    ticks++;
  }
  c.t = endUs;
  sent += p.allowance();
  assert.is(sent, (endUs * rate) / 1e6 + fifo, 'every byte time of the 10 s was used');
  assert.ok(ticks < 10_000, `${ticks} timers for 10 s`);
});

test('pacer: a write inside the lead continues the schedule; after an idle line it restarts', () => {
  const c = handClock(0);
  const p = pacer({ bytesPerSecond: 1000, fifoBytes: 10, now: c.now }); // a byte per ms
  p.wake();
  p.take(p.allowance()); // 10 bytes: the line is busy until 10 ms
  assert.is(p.lineFreeAt(), 10_000);
  c.t = 4_000; // a write while 6 bytes are still on the line: back to back
  p.wake();
  assert.is(p.allowance(), 4);
  assert.equal(p.idle, { count: 0, us: 0 });
  p.take(4); // busy until 14 ms
  c.t = 20_000; // the line stood idle for 6 ms
  p.wake();
  assert.equal(p.idle, { count: 1, us: 6_000 });
  assert.is(p.allowance(), 10, 'a fresh schedule: the FIFO again, no credit for the idle time');
  assert.is(p.lineFreeAt(), 20_000);
});

test('pacer: rejects a rate or FIFO that makes no sense', () => {
  assert.throws(() => pacer({ bytesPerSecond: 0, fifoBytes: 4, now: () => 0 }), /bytesPerSecond/);
  assert.throws(() => pacer({ bytesPerSecond: 100, fifoBytes: 0, now: () => 0 }), /fifoBytes/);
});

// ---------- open errors ----------

test('open errors say what was wrong and what to try', async () => {
  const cases: [string, RegExp][] = [
    ['Error: No such file or directory, cannot open /dev/ttyX', /no such port \/dev\/ttyX.*plugged in/],
    ['Error Resource temporarily unavailable Cannot lock port', /is busy: another program has it open.*Close that program/],
    ['Error: Permission denied, cannot open /dev/ttyX', /no permission.*dialout/],
    ['Error: Inappropriate ioctl for device setting custom baud rate of 115200', /is not a serial port/],
    ['Error: something else', /cannot open \/dev\/ttyX at 115200 baud: Error: something else/],
  ];
  for (const [raw, want] of cases) {
    const e = explainOpenError('/dev/ttyX', 115200, new Error(raw));
    assert.match(e.message, want);
    assert.is((e.cause as Error).message, raw);
  }
  const missing = '/dev/picolink-no-such-port';
  try {
    await openSerial(missing, { baud: 115200 });
    assert.unreachable('opened a port that does not exist');
  } catch (e) {
    assert.match((e as Error).message, /^serial: no such port \/dev\/picolink-no-such-port\. Check the path/);
  }
  try {
    await openSerial(missing, { baud: -1 });
    assert.unreachable('took a negative baud rate');
  } catch (e) {
    assert.match((e as Error).message, /baud must be a positive number/);
  }
});

test('without socat, hasSocat is false and ptyPair says what to install', async () => {
  const path = process.env.PATH;
  process.env.PATH = '';
  try {
    assert.not.ok(hasSocat());
    await ptyPair().then(
      () => assert.unreachable('made a pair without socat'),
      (e: Error) => assert.match(e.message, /install socat \(Debian package socat/),
    );
  } finally {
    process.env.PATH = path;
  }
});

// ---------- on real pseudo-terminals ----------

const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; install socat (Debian package socat) to run the pseudo-terminal tests');
const ptyTest = SOCAT ? test : test.skip;

/** Resolves when cond() holds, checked every few ms; rejects with what() after limitMs (a guard against hanging, not a timing check). */
function until(cond: () => boolean, what: () => string, limitMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > limitMs) reject(new Error(`gave up waiting: ${what()}`));
      else setTimeout(check, 5);
    };
    check();
  });
}

/** A pty pair with the driver open on both ends; everything is closed after fn, even if it throws. */
async function withPorts(opts: NodeSerialOptions, fn: (a: NodeSerial, b: NodeSerial, pair: PtyPair) => Promise<void>): Promise<void> {
  const pair = await ptyPair();
  let a: NodeSerial | null = null;
  let b: NodeSerial | null = null;
  try {
    a = await openSerial(pair.a, opts);
    b = await openSerial(pair.b, opts);
    await fn(a, b, pair);
  } finally {
    if (a) await a.close();
    if (b) await b.close();
    await pair.close();
  }
}

ptyTest('pty: every byte value crosses intact; a burst 20x the transmit buffer goes through back-pressure', async () => {
  await withPorts({ baud: 460_800, txBufBytes: 512 }, async (a, b) => {
    const total = 10_240;
    const data = new Uint8Array(total).map((_, i) => (i * 7 + (i >> 8)) & 0xff); // all 256 values, 0x00, XON/XOFF and CR included
    const got = new Uint8Array(total);
    let n = 0;
    let overflow = 0;
    let inWrite = false;
    let calledInside = 0;
    b.onData((bytes, len) => {
      if (inWrite) calledInside++;
      for (let i = 0; i < len; i++) {
        if (n < total) got[n++] = bytes[i];
        else overflow++;
      }
    });
    let off = 0;
    let drains = 0;
    let overTake = 0;
    const top = (): void => {
      const room = a.writable();
      inWrite = true;
      const took = a.write(data.subarray(off), total - off);
      inWrite = false;
      if (took > room) overTake++;
      off += took;
    };
    a.onDrain(() => {
      if (inWrite) calledInside++;
      drains++;
      if (off < total) top();
    });
    top();
    assert.is(off, 512, 'the first write takes exactly the buffer');
    // the pacer let its lead go to the port at once, which made room; fill that too
    assert.ok(a.writable() < 512);
    top();
    assert.is(a.writable(), 0);
    assert.is(a.write(data, 10), 0, 'a full buffer takes nothing');
    await until(() => n === total && off === total && a.writable() === 512, () => `${n} of ${total} bytes arrived, ${off} written`);
    assert.is(overTake, 0, 'write never takes more than writable() said');
    assert.is(calledInside, 0, 'no callback from inside write()');
    assert.ok(drains >= total / 512, `${drains} drains`);
    assert.is(overflow, 0);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), 'bytes arrive intact and in order');
    assert.is(a.stats.bytesWritten, total);
    assert.is(b.stats.bytesReceived, total);
  });
});

/** Frame `seq` of `len` bytes: seq (u16 BE), len (u16 BE), then bytes derived from both (zeros included). */
function fill(buf: Uint8Array, seq: number, len: number): void {
  const head = [seq >> 8, seq & 0xff, len >> 8, len & 0xff];
  for (let i = 0; i < len; i++) buf[i] = i < 4 ? head[i] : (seq * 13 + i * 29) % 256;
}

/** Sends `sizes` frames from tx to rx, the next on each onSent; a frame refused is retried on the next onSent. */
function sender(name: string, tx: FramedLink, sizes: number[]) {
  const s = { name, next: 0, refusedWhileBusy: 0, sentOk: 0, badStatus: 0 };
  const buf = new Uint8Array(tx.caps.mtu);
  const push = (): void => {
    if (s.next >= sizes.length) return;
    fill(buf, s.next, sizes[s.next]);
    if (tx.send(buf, sizes[s.next])) s.next++;
    // Back-pressure: while a frame is in flight, the link refuses another; the queue waits for onSent.
    if (s.next < sizes.length && !tx.send(buf, sizes[s.next])) s.refusedWhileBusy++;
  };
  tx.onSent((st) => {
    if (st === TX_OK) s.sentOk++;
    else s.badStatus++;
    push();
  });
  return { s, start: push };
}

function receiver(rx: FramedLink, sizes: number[]) {
  const r = { frames: 0, bad: [] as string[] };
  const want = new Uint8Array(rx.caps.mtu);
  rx.onReceive((f, len) => {
    const seq = r.frames++;
    const size = sizes[seq];
    if (size === undefined) {
      r.bad.push(`extra frame ${seq}`);
      return;
    }
    fill(want, seq, size);
    let ok = len === size;
    for (let i = 0; ok && i < len; i++) ok = f[i] === want[i];
    if (!ok) r.bad.push(`frame ${seq}: ${len} bytes, starting ${Buffer.from(f.subarray(0, 4)).toString('hex')}`);
  });
  return r;
}

async function framedBothWays(opts: NodeSerialOptions): Promise<void> {
  const mtu = 255;
  // Max-size frames, small ones, and everything between, in a burst of about 12 KB each way: many
  // times the 600-byte transmit buffer, so only back-pressure (one frame in flight, the next on
  // onSent) gets it through.
  const rng = xoshiro(7);
  const sizes: number[] = [mtu, mtu, 1, 2, 3, 4, mtu];
  while (sizes.length < 90) sizes.push(below(rng, 4) === 0 ? mtu : 4 + below(rng, mtu - 3));
  sizes.push(mtu);
  const total = sizes.reduce((x, y) => x + y, 0);
  assert.ok(total > 20 * 600, `a ${total}-byte burst`);
  const clock = realClock();
  try {
    await withPorts({ ...opts, txBufBytes: 600 }, async (pa, pb) => {
      assert.ok(pa.writable() >= encodedMax(mtu));
      const a = framedLink(pa, { mtu, clock });
      const b = framedLink(pb, { mtu, clock });
      const atB = receiver(b, sizes);
      const atA = receiver(a, sizes);
      const ab = sender('a -> b', a, sizes);
      const ba = sender('b -> a', b, sizes);
      ab.start();
      ba.start();
      assert.not.ok(a.send(new Uint8Array(mtu + 1), mtu + 1), 'a frame over the mtu is refused');
      await until(
        () => atB.frames >= sizes.length && atA.frames >= sizes.length && ab.s.sentOk === sizes.length && ba.s.sentOk === sizes.length,
        () => `a -> b: ${atB.frames} of ${sizes.length} frames arrived, ${ab.s.sentOk} sent; b -> a: ${atA.frames}, ${ba.s.sentOk} sent`,
      );
      await new Promise((r) => setTimeout(r, 20)); // anything extra would show up now
      for (const [r, s] of [[atB, ab.s], [atA, ba.s]] as const) {
        assert.equal(r.bad, [], `${s.name}: frames out of order or damaged`);
        assert.is(r.frames, sizes.length, `${s.name}: every frame once`);
        assert.is(s.badStatus, 0);
        assert.ok(s.refusedWhileBusy > 0, `${s.name}: the link refused frames while one was in flight`);
      }
      assert.is(a.stats.crcErrors + b.stats.crcErrors + a.stats.malformed + b.stats.malformed, 0);
    });
  } finally {
    clock.close();
  }
}

ptyTest('pty: framedLink on both ends, frames both ways at once, paced (921600 baud), max-size and a burst past the buffer', async () => {
  await framedBothWays({ baud: 921_600 });
});

ptyTest('pty: the same unpaced (pace: false, as on a real UART)', async () => {
  await framedBothWays({ baud: 115_200, pace: false });
});

ptyTest('pty: a port open elsewhere is busy; close() resolves, is idempotent, and a closed port takes nothing', async () => {
  await withPorts({ baud: 115_200 }, async (a, _b, pair) => {
    try {
      const again = await openSerial(pair.a, { baud: 115_200 });
      await again.close();
      assert.unreachable('opened a port twice');
    } catch (e) {
      assert.match((e as Error).message, /is busy: another program has it open/);
    }
    await a.close();
    await a.close();
    assert.ok(a.closed);
    assert.is(a.writable(), 0);
    assert.is(a.write(new Uint8Array(4), 4), 0);
  });
});

test.run();

// The gateway link on a real pseudo-terminal pair: goodput (payload bytes delivered per second) of
// framedLink (hal/framing: COBS + CRC-16) over the Node serial driver (hal/node/serial.ts), each
// sending side paced at 115200 baud 8N1, against the line rate of 11 520 bytes/s. Both directions
// send at once, frames back to back (the next one from onSent); the headline is the lower direction.
//
// Frames: the largest the link takes. framedLink has no fixed upper bound: its limit is that the
// port's transmit buffer must hold a whole encoded frame, encodedMax(mtu) bytes, which the driver's
// 4096-byte ring allows for far more than needed. The default mtu is 255 bytes: beyond a COBS block
// (254 bytes) the framing gains under 1.5 % more, and 255 is what bench/framing measures on the
// simulated wire, so the two benchmarks compare directly. The demonstration's gateway uses the radio's
// 32 bytes (the Pico board 64): with those, framing alone caps goodput at 86 % (92 %) of the line
// rate; `--mtu N` measures any size.
//
// Goodput is the payload that arrived (every frame, checked) over the time from the first send to the
// last arrival within the run (`--seconds N`, default 5), plus the pacer's lead (fifoBytes at the line
// rate: the bytes it lets out at once at the start, so the last frame can arrive that much early). By
// the pacer's budget this can never exceed line rate x framing efficiency, even when the process is stalled
// (the budget then catches up at once and the receiver, in the same process, sees a burst): a stall
// can only lower it. Framing efficiency is payload bytes over bytes put on the line (delimiters, COBS
// code bytes, CRC): the most goodput could be with no stall at all. Line use (goodput over line rate
// x efficiency) is what the pacing and the one-frame-in-flight hand-over leave of that; below 1 means
// stalls (`sender idle` counts the times the paced line ran dry). Every frame carries a sequence
// number and bytes derived from it, checked on arrival (in order, intact).
// `--chunk N` and `--fifo N` set the driver's pacing chunk and lead (bytes), to see what each costs.
// Needs socat (Debian package socat); without it the benchmark exits with a message.
import type { BenchResult, BenchRow } from './run.ts';
import { hasSocat, ptyPair } from '../hal/node/pty.ts';
import { openSerial, BITS_PER_BYTE_8N1 } from '../hal/node/serial.ts';
import type { NodeSerial } from '../hal/node/serial.ts';
import { realClock } from '../hal/node/clock.ts';
import { framedLink } from '../hal/framing/link.ts';
import type { FramedLink } from '../hal/framing/link.ts';

const BAUD = 115200;
const LINE_RATE = BAUD / BITS_PER_BYTE_8N1; // 11 520 bytes/s

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Frame number `seq` of `len` bytes: seq (u32 BE), then bytes derived from it (zeros included). */
function fill(buf: Uint8Array, len: number, seq: number): void {
  buf[0] = seq >>> 24;
  buf[1] = (seq >>> 16) & 0xff;
  buf[2] = (seq >>> 8) & 0xff;
  buf[3] = seq & 0xff;
  for (let i = 4; i < len; i++) buf[i] = (seq * 31 + i * 7) % 251;
}

interface Direction {
  name: string;
  sentFrames: number;
  payloadSent: number;
  /** Clock time of the first send, µs. */
  startUs: number;
  /** Frames arrived (checked), their payload bytes, and the arrival of the last one (µs). */
  frames: number;
  bytes: number;
  lastUs: number;
  bad: number;
  goodput: number;
  efficiency: number;
}

/** Send frames of `mtu` bytes back to back from `tx` to `rx` until stopped; check them at `rx`. */
function direction(name: string, tx: FramedLink, rx: FramedLink, mtu: number, now: () => number): { d: Direction; stop: () => void } {
  const d: Direction = { name, sentFrames: 0, payloadSent: 0, startUs: now(), frames: 0, bytes: 0, lastUs: 0, bad: 0, goodput: 0, efficiency: 0 };
  const out = new Uint8Array(mtu);
  const want = new Uint8Array(mtu);
  let running = true;
  const next = (): void => {
    if (!running) return;
    fill(out, mtu, d.sentFrames);
    if (tx.send(out, mtu)) {
      d.sentFrames++;
      d.payloadSent += mtu;
    } else {
      throw new Error(`bench serial: ${name}: the link refused a frame while idle`);
    }
  };
  tx.onSent(next);
  rx.onReceive((f, len) => {
    if (!running) return;
    fill(want, mtu, d.frames);
    let ok = len === mtu;
    for (let i = 0; ok && i < len; i++) ok = f[i] === want[i];
    if (!ok) d.bad++;
    d.frames++;
    d.bytes += len;
    d.lastUs = now();
  });
  next();
  return { d, stop: () => { running = false; } };
}

export async function bench(args: string[]): Promise<BenchResult> {
  const seconds = Number(arg(args, 'seconds') ?? 5);
  const mtu = Number(arg(args, 'mtu') ?? 255);
  const chunkBytes = arg(args, 'chunk') === undefined ? undefined : Number(arg(args, 'chunk'));
  const fifoBytes = arg(args, 'fifo') === undefined ? undefined : Number(arg(args, 'fifo'));
  if (!(seconds > 0)) throw new Error('bench serial: --seconds takes a positive number');
  if (!(Number.isInteger(mtu) && mtu >= 5)) throw new Error('bench serial: --mtu takes a whole number of bytes, at least 5');
  if (!hasSocat()) {
    console.error('bench serial: socat not found on PATH; it makes the pseudo-terminal pair. Install socat (Debian package socat) and run again.');
    process.exit(1);
  }

  const pair = await ptyPair();
  const clock = realClock();
  let a: NodeSerial | null = null;
  let b: NodeSerial | null = null;
  try {
    const o = { baud: BAUD, pace: true, chunkBytes, fifoBytes };
    a = await openSerial(pair.a, o);
    b = await openSerial(pair.b, o);
    const la = framedLink(a, { mtu, clock });
    const lb = framedLink(b, { mtu, clock });
    const ab = direction('a -> b', la, lb, mtu, clock.now);
    const ba = direction('b -> a', lb, la, mtu, clock.now);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    ab.stop();
    ba.stop();
    const dirs = [ab.d, ba.d];
    const ports = [a, b];
    dirs.forEach((d, i) => {
      // The pacer lets its lead out at the start, so the last arrival can be up to that early.
      const leadUs = (ports[i].pacing!.fifoBytes * 1e6) / LINE_RATE;
      d.goodput = d.bytes / ((d.lastUs - d.startUs + leadUs) / 1e6);
      d.efficiency = d.payloadSent / ports[i].stats.bytesWritten;
    });
    for (const d of dirs) {
      if (d.frames < 2) throw new Error(`bench serial: ${d.name}: only ${d.frames} frame(s) arrived in ${seconds} s`);
      if (d.bad > 0) throw new Error(`bench serial: ${d.name}: ${d.bad} of ${d.frames} frames arrived out of order or damaged`);
    }
    const low = dirs[0].goodput <= dirs[1].goodput ? dirs[0] : dirs[1];
    const ratio = low.goodput / LINE_RATE;
    const rows: BenchRow[] = [
      { name: 'line rate, 115200 baud 8N1', value: LINE_RATE, unit: 'B/s', note: '10 bits per byte' },
      { name: 'frame payload (mtu)', value: mtu, unit: 'B' },
    ];
    dirs.forEach((d, i) => {
      const st = ports[i]!.stats;
      rows.push(
        { name: `goodput ${d.name}`, value: Math.round(d.goodput), unit: 'B/s', note: `${((100 * d.goodput) / LINE_RATE).toFixed(1)}% of line rate, ${d.frames} frames arrived of ${d.sentFrames} sent` },
        { name: `framing efficiency ${d.name}`, value: +d.efficiency.toFixed(4), unit: '', note: 'payload / bytes on the line' },
        { name: `line use ${d.name}`, value: +(d.goodput / (LINE_RATE * d.efficiency)).toFixed(4), unit: '', note: 'goodput / (line rate x efficiency); below 1: stalls' },
        { name: `sender idle ${d.name}`, value: +(st.lineIdleUs / 1000).toFixed(1), unit: 'ms', note: `${st.lineIdles} times the paced line ran dry between writes, whole run` },
      );
    });
    return {
      name: 'serial',
      rows,
      headline: { label: `goodput / line rate (lower direction, ${mtu}-byte frames; target 0.95)`, ratio },
      json: {
        lineRateBytesPerSecond: LINE_RATE,
        goodputBytesPerSecond: Math.round(low.goodput),
        ratio: +ratio.toFixed(4),
        framingEfficiency: +low.efficiency.toFixed(4),
      },
    };
  } finally {
    clock.close();
    if (a) await a.close();
    if (b) await b.close();
    await pair.close();
  }
}

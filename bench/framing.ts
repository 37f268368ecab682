// Serial framing. (1) Goodput of a framed link over a simulated 115200-baud 8N1 wire, frames sent back
// to back, against the line rate measured on the same wire (the bytes/s a raw stream achieves):
// the ratio is the framing efficiency (delimiters, COBS codes, CRC, and the one-frame-in-flight gap).
// (2) CPU cost: encode + decode MB/s of payload, against a plain byte-copy loop over the same bytes
// in the same run (the floor for any per-byte codec in JS).
import type { BenchResult } from './run.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import { wire } from '../hal/sim/wire.ts';
import { framedLink } from '../hal/framing/link.ts';
import { encodedMax, frameDecoder, frameEncode } from '../hal/framing/cobs.ts';
import { xoshiro, below } from '../hal/prng.ts';

function goodput(payload: number, seconds: number): { framed: number; raw: number } {
  const baud = 115200;
  // framed
  let s = scheduler();
  let w = wire(s, { baud, txBufBytes: 512 });
  const a = framedLink(w.a, { mtu: 255, clock: s });
  const b = framedLink(w.b, { mtu: 255, clock: s });
  let got = 0;
  b.onReceive((_, len) => (got += len));
  const f = new Uint8Array(payload).map((_, i) => (i * 7) & 0xff);
  a.onSent(() => a.send(f, payload));
  a.send(f, payload);
  s.runUntil(seconds * 1e6);
  const framed = got / seconds;
  // raw: keep the wire's buffer full
  s = scheduler();
  w = wire(s, { baud });
  let raw = 0;
  w.b.onData((_, len) => (raw += len));
  const chunk = new Uint8Array(64);
  const top = (): void => { w.a.write(chunk, Math.min(64, w.a.writable())); };
  w.a.onDrain(top);
  top();
  s.runUntil(seconds * 1e6);
  return { framed, raw: raw / seconds };
}

function cpu(rounds: number): { codec: number; copy: number } {
  const rng = xoshiro(3);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) frames.push(new Uint8Array(1 + below(rng, 200)).map(() => (below(rng, 8) === 0 ? 0 : below(rng, 256))));
  const total = frames.reduce((x, f) => x + f.length, 0);
  const out = new Uint8Array(encodedMax(255));
  let sink = 0;
  const dec = frameDecoder(255, (_, len) => (sink += len));
  let t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const f of frames) { const n = frameEncode(f, f.length, out); dec.push(out, n); }
  const codec = (rounds * total) / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const f of frames) { for (let i = 0; i < f.length; i++) out[i] = f[i]; sink += out[0]; }
  const copy = (rounds * total) / ((performance.now() - t0) / 1000);
  if (sink < 0) console.log(sink);
  return { codec, copy };
}

export function bench(args: string[]): BenchResult {
  const quick = args.includes('--quick');
  const g32 = goodput(32, quick ? 2 : 20);
  const g200 = goodput(200, quick ? 2 : 20);
  const rounds = quick ? 20 : 400;
  cpu(rounds);
  const c = cpu(rounds);
  return {
    name: 'framing',
    rows: [
      { name: 'line rate, raw stream', value: Math.round(g32.raw), unit: 'B/s', note: '115200 baud 8N1' },
      { name: 'framed goodput, 32-byte frames', value: Math.round(g32.framed), unit: 'B/s', note: `${((100 * g32.framed) / g32.raw).toFixed(1)}% of line` },
      { name: 'framed goodput, 200-byte frames', value: Math.round(g200.framed), unit: 'B/s', note: `${((100 * g200.framed) / g200.raw).toFixed(1)}% of line` },
      { name: 'COBS+CRC encode+decode', value: +(c.codec / 1e6).toFixed(1), unit: 'MB/s' },
      { name: 'byte copy loop (reference)', value: +(c.copy / 1e6).toFixed(1), unit: 'MB/s' },
      { name: 'codec / copy', value: +(c.codec / c.copy).toFixed(3), unit: 'x' },
    ],
    headline: { label: 'framed goodput / line rate (32-byte frames)', ratio: g32.framed / g32.raw },
  };
}

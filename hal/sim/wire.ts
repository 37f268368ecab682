// Simulated serial wire: two endpoints, each a hal/serial.ts Serial, joined by a UART line per
// direction. A byte takes bitsPerByte / baud seconds (8N1: 10 bits: start, 8 data, stop). Each end has
// a bounded transmit buffer: write() takes what fits and says how much (back-pressure), and onDrain
// fires when the buffer empties. The receiver gets bytes in chunks of up to rxChunkBytes, each at the
// time its last stop bit ends, like a UART FIFO with a trigger level and an idle flush. Optional byte
// loss and single-bit corruption use the seeded Rng, so runs are reproducible.

import type { DataFn, Serial } from '../serial.ts';
import type { Rng } from '../rng.ts';
import { below, chance } from '../prng.ts';
import type { Scheduler } from './scheduler.ts';

export interface WireOptions {
  baud: number;
  /** Line bits per byte: 10 for 8N1 (default), 11 for 8E1 or 8N2. */
  bitsPerByte?: number;
  /** Transmit buffer of each end, bytes. Default 256. */
  txBufBytes?: number;
  /** Largest chunk handed to the receiver at once, bytes. Default 16. */
  rxChunkBytes?: number;
  /** Bytes lost on the line, percent. Default 0. */
  lossPct?: number;
  /** Bytes with one bit flipped, percent. Default 0. */
  corruptPct?: number;
  rng?: Rng;
  /** One line per delivered chunk, for traces. */
  trace?: (line: string) => void;
}

export interface WireStats {
  bytesSent: number;
  bytesDelivered: number;
  bytesLost: number;
  bytesCorrupted: number;
}

export interface WireEnd extends Serial {
  readonly stats: WireStats;
}

export interface Wire {
  readonly a: WireEnd;
  readonly b: WireEnd;
  /** µs one byte occupies the line. */
  readonly byteUs: number;
}

export function wire(sched: Scheduler, opts: WireOptions): Wire {
  if (!(opts.baud > 0)) throw new Error('wire: baud must be a positive number');
  const bits = opts.bitsPerByte ?? 10;
  const cap = opts.txBufBytes ?? 256;
  const chunk = opts.rxChunkBytes ?? 16;
  const lossPct = opts.lossPct ?? 0;
  const corruptPct = opts.corruptPct ?? 0;
  if ((lossPct > 0 || corruptPct > 0) && !opts.rng) throw new Error('wire: loss or corruption needs an rng');
  const byteUs = (bits * 1e6) / opts.baud;

  interface Sink { onData: DataFn | null }
  const atA: Sink = { onData: null };
  const atB: Sink = { onData: null };

  /** One end: what it writes goes out to `peer`; what arrives for it lands in `own`. */
  function endpoint(name: string, own: Sink, peer: Sink): WireEnd {
    const buf = new Uint8Array(cap);
    const rxBuf = new Uint8Array(chunk);
    let head = 0; // next byte to shift out
    let count = 0; // bytes waiting in buf
    let lineBusy = false;
    let lineStart = 0; // time the line became busy
    let shifted = 0; // bytes shifted out since then
    let inChunk = 0; // bytes in the chunk being shifted out now
    let onDrain: (() => void) | null = null;
    const stats: WireStats = { bytesSent: 0, bytesDelivered: 0, bytesLost: 0, bytesCorrupted: 0 };

    const chunkDone = (): void => {
      let n = 0;
      for (let i = 0; i < inChunk; i++) {
        let b = buf[head];
        head = (head + 1) % cap;
        if (lossPct > 0 && chance(opts.rng!, lossPct)) {
          stats.bytesLost++;
          continue;
        }
        if (corruptPct > 0 && chance(opts.rng!, corruptPct)) {
          b ^= 1 << below(opts.rng!, 8);
          stats.bytesCorrupted++;
        }
        rxBuf[n++] = b;
      }
      count -= inChunk;
      shifted += inChunk;
      inChunk = 0;
      stats.bytesDelivered += n;
      if (opts.trace) opts.trace(`${String(sched.now()).padStart(10)} wire ${name} ${n}B`);
      if (count > 0) startChunk();
      else lineBusy = false;
      if (n > 0 && peer.onData) peer.onData(rxBuf, n);
      if (count === 0 && onDrain) onDrain();
    };

    function startChunk(): void {
      inChunk = count < chunk ? count : chunk;
      sched.at(lineStart + Math.ceil((shifted + inChunk) * byteUs), chunkDone);
    }

    const end: WireEnd = {
      baud: opts.baud,
      stats,
      write(bytes: Uint8Array, len: number): number {
        const n = Math.min(len, cap - count, bytes.length);
        if (n <= 0) return 0;
        let tail = (head + count) % cap;
        for (let i = 0; i < n; i++) {
          buf[tail] = bytes[i];
          tail = tail + 1 === cap ? 0 : tail + 1;
        }
        count += n;
        stats.bytesSent += n;
        if (!lineBusy) {
          lineBusy = true;
          lineStart = sched.now();
          shifted = 0;
          startChunk();
        }
        return n;
      },
      writable: () => cap - count,
      onData: (fn) => { own.onData = fn; },
      onDrain: (fn) => { onDrain = fn; },
    };
    return end;
  }

  return { a: endpoint('a>b', atA, atB), b: endpoint('b>a', atB, atA), byteUs };
}

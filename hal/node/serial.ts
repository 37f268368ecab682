// Serial port driver for Node: the hal/serial.ts contract over the `serialport` package (a USB-serial
// adapter, a board's USB CDC port, a pseudo-terminal). hal/framing turns it into a frame Link.
//
// Choices:
// - Transmit goes through a ring of `txBufBytes` (default 4096) owned by the driver: write() copies
//   what fits and says how much (back-pressure), writable() is the room left in the ring (bytes the
//   pacer has already let go, its lead, no longer count). Bytes move from the ring to the port in
//   chunks; onDrain fires once the ring is empty and the port has accepted every chunk
//   (for a real UART, "left" means handed to the operating system, whose driver and the adapter's FIFO
//   shift them out at the line rate). Neither onDrain nor onData is ever called from inside write().
// - Pacing (`pace`, default true). A pseudo-terminal has no baud rate: it moves bytes as fast as the
//   reader takes them. So the sender paces itself as a UART would: 8N1 puts 10 bits on the line per
//   byte, so 115200 baud carries 11 520 bytes/s. The pacer keeps a byte budget counted from the time
//   the line last became busy (budget = elapsed time x byte rate, minus bytes released), not a fixed
//   amount per timer tick, so a timer that fires late lets the overdue bytes out at once and the
//   lateness does not add up into lost throughput. It releases bytes up to `fifoBytes` ahead of their
//   line time, as a UART's FIFO and the kernel's buffer hold bytes ahead of the shift register: that
//   lead lets the next write (typically made from onDrain) join the schedule without a gap, as long as
//   it comes within the lead's duration. Only a write finding the ring empty and the line already idle
//   restarts the schedule (the line idled because nothing was queued, as a real one would). Timers are
//   set for the moment the next `chunkBytes` are due (about 2 ms of bytes by default); the lead
//   defaults to 10 ms of bytes, longer than a timer is usually late. Measured by bench/serial.ts: with
//   no lead (fifoBytes 1), each frame hand-over left the line idle about 1 ms (the timer's lateness
//   plus the write's confirmation) and 255-byte frames got 94 % of the line rate; with the default
//   lead the line never ran dry and they got 98 %, all that the framing leaves. Pass pace:false for
//   real hardware, whose UART does the pacing.
// - Time is read through `now()` (µs; default performance.now()), so the pacer is unit-tested with a
//   hand-driven clock; it is exported on its own as pacer().
// - Open errors are turned into errors that say what was wrong and what to try (no such port, busy,
//   no permission, not a serial port, unsupported baud). Errors after opening (a write that failed,
//   the device unplugged) go to `onError` (default: one line on stderr); the port then takes nothing.
// - close() drops bytes still in the ring (wait for onDrain first to send everything) and resolves
//   once the port is closed.
// Host only: allocates a Buffer per released chunk, which is fine on a host and never done on a board.

import { SerialPort } from 'serialport';
import type { DataFn, Serial } from '../serial.ts';

/** Line bits per byte with 8N1 framing: start bit, 8 data bits, stop bit. */
export const BITS_PER_BYTE_8N1 = 10;

export interface PacerOptions {
  /** Line rate in bytes per second (baud / 10 for 8N1). */
  bytesPerSecond: number;
  /** Bytes that may be released ahead of their line time (a UART's FIFO). At least 1. */
  fifoBytes: number;
  /** Current time in µs (any origin, non-decreasing). */
  now: () => number;
}

/**
 * A UART's transmit schedule. The line carries bytesPerSecond from the moment it became busy
 * (`start`); bytes may be released up to fifoBytes ahead of their line time.
 */
export interface Pacer {
  /** Bytes that may be released now (0 or more). */
  allowance(): number;
  /** Record that n bytes were released now (n at most allowance()). */
  take(n: number): void;
  /**
   * Bytes were queued while none were waiting: if the line has gone idle (its last byte has left),
   * restart the schedule from now; otherwise they continue it, back to back.
   */
  wake(): void;
  /** µs from now until allowance() reaches n (0 if it already has). */
  waitUs(n: number): number;
  /** Time at which the last released byte leaves the line, µs. */
  lineFreeAt(): number;
  /** Times the schedule restarted after the line went idle, and the idle µs summed (since creation). */
  readonly idle: { count: number; us: number };
}

export function pacer(o: PacerOptions): Pacer {
  if (!(o.bytesPerSecond > 0)) throw new Error('pacer: bytesPerSecond must be a positive number');
  if (!(o.fifoBytes >= 1)) throw new Error('pacer: fifoBytes must be at least 1');
  const byteUs = 1e6 / o.bytesPerSecond;
  const fifo = Math.floor(o.fifoBytes);
  let start = o.now();
  let sent = 0; // bytes released since start
  const idle = { count: 0, us: 0 };
  // Bytes the line has carried by time t, counted from start; the epsilon absorbs floating-point
  // noise so that a timer set for the exact due time finds the byte due.
  const carried = (t: number): number => Math.floor(((t - start) * o.bytesPerSecond) / 1e6 + 1e-9);
  return {
    allowance(): number {
      const a = carried(o.now()) + fifo - sent;
      return a > 0 ? a : 0;
    },
    take(n: number): void {
      sent += n;
    },
    wake(): void {
      const t = o.now();
      const free = start + sent * byteUs;
      if (t >= free) {
        if (sent > 0) {
          idle.count++;
          idle.us += t - free;
        }
        start = t;
        sent = 0;
      }
    },
    waitUs(n: number): number {
      const w = Math.ceil(start + (sent + n - fifo) * byteUs - o.now());
      return w > 0 ? w : 0;
    },
    lineFreeAt: () => start + sent * byteUs,
    idle,
  };
}

export interface NodeSerialOptions {
  /** Line rate in baud (8N1). */
  baud: number;
  /** Pace transmission at the baud rate (needed on a pseudo-terminal). Default true. */
  pace?: boolean;
  /** Transmit ring, bytes (default 4096): writable() never exceeds it. */
  txBufBytes?: number;
  /** Paced release granularity, bytes (default: 2 ms of line time, at least 1). */
  chunkBytes?: number;
  /** Paced lead over the line schedule, bytes (default: 10 ms of line time, at least 2 chunks). */
  fifoBytes?: number;
  /** Time in µs for the pacer (default: performance.now()). */
  now?: () => number;
  /** Errors after opening (write failure, device gone). Default: one line on stderr. */
  onError?: (err: Error) => void;
}

export interface NodeSerialStats {
  /** Bytes taken by write(). */
  bytesWritten: number;
  /** Bytes handed to the port (released by the pacer). */
  bytesReleased: number;
  /** Bytes received. */
  bytesReceived: number;
  /**
   * Paced only: times the line went idle between writes (everything sent, then a write came later than
   * the schedule), and the idle time summed, µs. While writes keep up this stays near 0.
   */
  readonly lineIdles: number;
  readonly lineIdleUs: number;
}

export interface NodeSerial extends Serial {
  readonly path: string;
  readonly stats: NodeSerialStats;
  /** The pacing in force (bytes), or null with pace: false. */
  readonly pacing: { chunkBytes: number; fifoBytes: number } | null;
  /** True once closed (by close() or because the device went away). */
  readonly closed: boolean;
  /** Drop queued bytes and close the port. Resolves when it is closed; closing twice is harmless. */
  close(): Promise<void>;
}

const DEFAULT_TX_BUF = 4096;

/** An open-time error from serialport, as an Error that says what was wrong and what to try. */
export function explainOpenError(path: string, baud: number, err: Error): Error {
  const m = err.message || String(err);
  let msg: string;
  if (/No such file or directory|ENOENT/i.test(m)) {
    msg = `serial: no such port ${path}. Check the path and that the device is plugged in; ` +
      'picolink ports (or ls /dev/tty* on Linux, /dev/cu.* on macOS) shows the ports there are.';
  } else if (/Cannot lock port|Resource temporarily unavailable|EBUSY|EAGAIN|busy/i.test(m)) {
    msg = `serial: ${path} is busy: another program has it open (a serial monitor, screen, minicom, ` +
      'ModemManager, another picolink). Close that program and try again.';
  } else if (/Permission denied|EACCES|EPERM/i.test(m)) {
    msg = `serial: no permission to open ${path}. On Linux add your user to the port's group ` +
      '(usually dialout: sudo usermod -aG dialout $USER, then log in again), or check the device\'s mode.';
  } else if (/Inappropriate ioctl|ENOTTY/i.test(m)) {
    msg = `serial: ${path} is not a serial port (the terminal settings could not be applied). ` +
      'Check the path: it should be a tty device such as /dev/ttyUSB0, /dev/ttyACM0 or a pseudo-terminal.';
  } else if (/baud/i.test(m)) {
    msg = `serial: ${path} does not take ${baud} baud (${m}). Try a standard rate such as 9600 or 115200.`;
  } else {
    msg = `serial: cannot open ${path} at ${baud} baud: ${m}`;
  }
  return new Error(msg, { cause: err });
}

/** Open `path` as a Serial. Rejects with an explained error if the port cannot be opened. */
export async function openSerial(path: string, opts: NodeSerialOptions): Promise<NodeSerial> {
  const baud = opts.baud;
  if (!(baud > 0) || !Number.isFinite(baud)) throw new Error(`openSerial: baud must be a positive number, not ${baud}`);
  const cap = opts.txBufBytes ?? DEFAULT_TX_BUF;
  if (!(cap >= 1)) throw new Error('openSerial: txBufBytes must be at least 1');
  const paced = opts.pace !== false;
  const bytesPerSecond = baud / BITS_PER_BYTE_8N1;
  const chunk = Math.max(1, Math.floor(opts.chunkBytes ?? Math.round(bytesPerSecond * 0.002)));
  const fifo = Math.max(1, Math.floor(opts.fifoBytes ?? Math.max(2 * chunk, Math.round(bytesPerSecond * 0.01))));
  const now = opts.now ?? ((): number => performance.now() * 1000);
  const report = opts.onError ?? ((e: Error): void => { console.error(e.message); });

  const port = new SerialPort({ path, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => (err ? reject(explainOpenError(path, baud, err)) : resolve()));
  });

  const ring = new Uint8Array(cap);
  let head = 0; // next byte to release
  let count = 0; // bytes in the ring
  let pending = 0; // chunks handed to the port and not yet confirmed
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let closing: Promise<void> | null = null;
  let dataFn: DataFn | null = null;
  let drainFn: (() => void) | null = null;
  const pace = paced ? pacer({ bytesPerSecond, fifoBytes: fifo, now }) : null;
  const stats: NodeSerialStats = {
    bytesWritten: 0, bytesReleased: 0, bytesReceived: 0,
    get lineIdles() { return pace ? pace.idle.count : 0; },
    get lineIdleUs() { return pace ? Math.round(pace.idle.us) : 0; },
  };

  const fail = (e: Error): void => {
    if (closed) return;
    closed = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    count = 0;
    const gone = (e as { disconnected?: boolean }).disconnected === true;
    report(new Error(gone
      ? `serial: ${path} disconnected (${e.message}): the device was unplugged or the other side of the pseudo-terminal went away; reopen it when it is back`
      : `serial: ${path}: ${e.message}; the port takes nothing more (reopen it)`, { cause: e }));
  };

  const written = (err: Error | null | undefined): void => {
    pending--;
    if (err) {
      fail(err);
      return;
    }
    if (!closed && pending === 0 && count === 0 && drainFn !== null) drainFn();
  };

  function release(n: number): void {
    const out = Buffer.allocUnsafe(n);
    const first = Math.min(n, cap - head);
    out.set(ring.subarray(head, head + first), 0);
    if (first < n) out.set(ring.subarray(0, n - first), first);
    head = (head + n) % cap;
    count -= n;
    stats.bytesReleased += n;
    pending++;
    port.write(out, written);
  }

  function pump(): void {
    timer = null;
    if (closed || count === 0) return;
    if (pace === null) {
      release(count);
      return;
    }
    const n = Math.min(count, pace.allowance());
    if (n > 0) {
      pace.take(n);
      release(n);
    }
    if (count > 0) timer = setTimeout(pump, pace.waitUs(Math.min(count, chunk)) / 1000);
  }

  port.on('data', (b: Buffer) => {
    stats.bytesReceived += b.length;
    if (dataFn !== null) dataFn(b, b.length);
  });
  port.on('error', (e: Error) => fail(e));
  port.on('close', (e: Error | null) => {
    if (e) fail(e); // disconnected (unplugged, the other side of a pseudo-terminal gone)
    closed = true;
  });

  return {
    baud,
    path,
    stats,
    pacing: paced ? { chunkBytes: chunk, fifoBytes: fifo } : null,
    get closed() { return closed; },
    write(bytes: Uint8Array, len: number): number {
      if (closed) return 0;
      const n = Math.min(len, cap - count, bytes.length);
      if (n <= 0) return 0;
      if (count === 0 && pace !== null) pace.wake();
      const tail = (head + count) % cap;
      const first = Math.min(n, cap - tail);
      ring.set(bytes.subarray(0, first), tail);
      if (first < n) ring.set(bytes.subarray(first, n), 0);
      count += n;
      stats.bytesWritten += n;
      if (timer === null) pump(); // releases what the schedule allows now; no callback runs in here
      return n;
    },
    writable: () => (closed ? 0 : cap - count),
    onData(fn) { dataFn = fn; },
    onDrain(fn) { drainFn = fn; },
    close(): Promise<void> {
      if (closing) return closing;
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      count = 0;
      dataFn = null;
      drainFn = null;
      closing = new Promise<void>((resolve) => {
        if (!port.isOpen) {
          resolve();
          return;
        }
        port.close(() => resolve());
      });
      return closing;
    },
  };
}

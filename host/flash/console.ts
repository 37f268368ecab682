// Talking to an Espruino board's console (its REPL) over a byte stream (hal/serial.ts: a USB or UART
// port, a pseudo-terminal), the way Espruino's own tools do, for the flasher (host/flash/flash.ts).
// The facts it relies on, from Espruino's interpreter (src/jsinteractive.c) and its tools:
// - A newline on an empty line answers with a prompt, "\r\n>"; Ctrl-C (0x03) abandons a half-typed
//   line (or interrupts running code). A line that starts with DLE (0x10) runs with echo off: only what
//   it prints comes back. Errors print "Uncaught <error>" and a stack; running out of memory prints
//   "OUT OF MEMORY" and "New interpreter error: MEMORY".
// - Espruino sends XOFF (0x13) when its input buffer is filling and XON (0x11) once it has room; the
//   sender pauses in between (Espruino's tools resume after 10 s without XON; so does this).
// - Firmware 2v25 and later takes packets: DLE SOH, then two bytes (type | length, big-endian: type in
//   the top 3 bits, length in the low 13, at most 8191), then the data. Each is answered with ACK (0x06)
//   or NAK (0x15), a NAK also when a packet stays incomplete for 5 s. FILE_SEND {"fn","s"} opens a
//   Storage file of s bytes; DATA packets then fill it in order.
// Results of code run on the board come back between markers, `<plkN>` ... `</plk>`, built on the
// board by string concatenation so that an echoed command can never look like its own answer.
// Host only (timers, strings).

import type { Serial } from '../../hal/serial.ts';
import { frameDecoder } from '../../hal/framing/cobs.ts';

export const DLE = 0x10;
export const SOH = 0x01;
export const ACK = 0x06;
export const NAK = 0x15;
export const XON = 0x11;
export const XOFF = 0x13;
export const CTRL_C = 0x03;

/** Packet types (top three bits of the length word). */
export const PT = { RESPONSE: 0x0000, EVAL: 0x2000, EVENT: 0x4000, FILE_SEND: 0x6000, DATA: 0x8000, FILE_RECV: 0xa000 } as const;
/** Largest packet payload: the length field's 13 bits. */
export const PT_MAX_LEN = 0x1fff;

/** What went wrong, for a caller that acts on it (and for the CLI's exit message). */
export type FlashErrorCode =
  | 'NO_ANSWER' // nothing at all came back
  | 'NO_PROMPT' // bytes came back, but never a prompt
  | 'WRONG_BAUD' // what came back is mostly not text
  | 'OUT_OF_MEMORY' // the board ran out of JsVars
  | 'STORAGE' // Storage could not take the file
  | 'VERIFY' // the board's copy differs from the bundle
  | 'REFUSED' // the board answered a packet with NAK
  | 'BOARD_ERROR' // the board printed another error
  | 'TIMEOUT' // the board stopped answering mid-way
  | 'BUSY' // a picolink bundle holds the console (the board sends frames)
  | 'CLOSED'; // the port went away

export class FlashError extends Error {
  constructor(readonly code: FlashErrorCode, message: string, readonly boardSaid = '') {
    super(message);
    this.name = 'FlashError';
  }
}

export interface ConsoleOptions {
  /** Honour XON/XOFF from the board (default true). */
  flowControl?: boolean;
  /** Longest pause after XOFF without XON before sending again, ms (default 10 000, as Espruino's tools). */
  xoffMaxMs?: number;
  /** Bytes handed to the port before waiting for it to drain, so an XOFF takes effect soon (default 32). */
  sliceBytes?: number;
  /** Everything received, for a log (bytes as they came, before any filtering). */
  onRx?: (bytes: Uint8Array) => void;
}

export interface ConsoleStats {
  bytesOut: number;
  bytesIn: number;
  xoffs: number;
  /** Time spent paused by XOFF, ms. */
  pausedMs: number;
  acks: number;
  naks: number;
}

/** Raw bytes prompt() keeps to recognise a picolink bundle's frames. */
const TAP_MAX = 4096;

/** Text kept from the board, characters: enough for any answer and error, bounded. */
const KEEP_CHARS = 64 * 1024;

/** How long to let an error's stack trace arrive after the error, ms. */
const ERROR_TAIL_MS = 150;
const POLL_MS = 20;

const ERROR_RE = /Uncaught |OUT OF MEMORY|New interpreter error|Execution Interrupted/;

interface Waiter {
  check(): boolean;
  fail(e: Error): void;
}

export interface EspruinoConsole {
  readonly stats: ConsoleStats;
  /** Text received so far (control bytes removed), the last 64 KB of it. */
  text(): string;
  /** Position in the stream of text, for `since`. */
  mark(): number;
  /** Text received after a mark. */
  since(mark: number): string;
  /** Send bytes (a string is sent as Latin-1, one byte per character), honouring XOFF. */
  write(data: Uint8Array | string): Promise<void>;
  /** Get the board to a prompt: newline, then Ctrl-C (twice at most). */
  prompt(o?: { waitMs?: number }): Promise<void>;
  /**
   * Run `code` (one line, statements allowed) with echo off and return the JSON of `value` evaluated
   * after it (or "" without value). Rejects with a FlashError if the board prints an error.
   */
  run(code: string, o?: { value?: string; timeoutMs?: number }): Promise<string>;
  /**
   * Send one packet and wait for its ACK; resolves 'ack' or 'nak', rejects on timeout. With splitMs,
   * DLE SOH go first and the rest that long after (host/flash/flash.ts: RISKY_LOW).
   */
  packet(type: number, data: Uint8Array, timeoutMs: number, splitMs?: number): Promise<'ack' | 'nak'>;
  /** Wait until the board has been quiet for quietMs (at most maxMs), and return what it printed. */
  settle(quietMs: number, maxMs: number): Promise<string>;
  /** Stop listening (the port stays open for its owner). */
  detach(): void;
}

/** Latin-1 bytes of a string (each character's code, 0..255). */
export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

/** Classify an error the board printed. */
export function boardError(said: string, doing: string): FlashError {
  const t = said.trim();
  if (/OUT OF MEMORY|New interpreter error: .*MEMORY/.test(t)) {
    return new FlashError('OUT_OF_MEMORY', `the board ran out of memory while ${doing}: send smaller chunks (--chunk 256), free RAM first with --reset, or flash to Storage instead of RAM`, t);
  }
  if (/Unable to find or create file|Not enough free space|Storage is full/i.test(t)) {
    return new FlashError('STORAGE', `the board's Storage has no room while ${doing}: erase files it no longer needs (on the board: require("Storage").list() shows them, require("Storage").eraseAll() erases everything), or add --erase`, t);
  }
  return new FlashError('BOARD_ERROR', `the board reported an error while ${doing}: ${firstLine(t)}`, t);
}

function firstLine(s: string): string {
  const l = s.split(/\r?\n/).find((x) => x.trim() !== '') ?? s;
  return l.length > 200 ? l.slice(0, 200) + '…' : l;
}

export function espruinoConsole(serial: Serial, o: ConsoleOptions = {}): EspruinoConsole {
  const flow = o.flowControl !== false;
  const xoffMaxMs = o.xoffMaxMs ?? 10_000;
  const slice = Math.max(1, o.sliceBytes ?? 32);
  const stats: ConsoleStats = { bytesOut: 0, bytesIn: 0, xoffs: 0, pausedMs: 0, acks: 0, naks: 0 };
  let kept = ''; // the last KEEP_CHARS characters of text
  let total = 0; // characters of text ever received
  let pausedAt = -1; // performance.now() of the XOFF in force, or -1
  let seq = 0;
  let detached = false;
  let tap: number[] | null = null; // raw bytes while prompt() runs, for telling frames from noise
  const waiters = new Set<Waiter>();
  let drained: (() => void) | null = null;

  const wake = (): void => {
    for (const w of [...waiters]) if (w.check()) waiters.delete(w);
  };

  serial.onData((bytes, len) => {
    if (detached) return;
    if (o.onRx) o.onRx(bytes.slice(0, len));
    stats.bytesIn += len;
    if (tap) for (let i = 0; i < len && tap.length < TAP_MAX; i++) tap.push(bytes[i]);
    let s = '';
    for (let i = 0; i < len; i++) {
      const b = bytes[i];
      if (b === ACK) stats.acks++;
      else if (b === NAK) stats.naks++;
      // While prompt() looks for the console (tap set), XOFF pauses nothing: only a newline and Ctrl-C
      // go out then, and a board whose console a picolink bundle holds sends frames, whose bytes
      // include 0x13 at random (each had paused those steps for xoffMaxMs: 27 s before the answer).
      else if (flow && b === XOFF && tap) continue;
      else if (flow && b === XOFF) {
        if (pausedAt < 0) {
          pausedAt = performance.now();
          stats.xoffs++;
        }
      } else if (flow && b === XON) {
        if (pausedAt >= 0) stats.pausedMs += performance.now() - pausedAt;
        pausedAt = -1;
      } else s += String.fromCharCode(b);
    }
    if (s) {
      kept += s;
      total += s.length;
      if (kept.length > KEEP_CHARS * 2) kept = kept.slice(kept.length - KEEP_CHARS);
    }
    wake();
  });
  serial.onDrain(() => {
    const d = drained;
    drained = null;
    if (d) d();
  });

  const sinceMark = (m: number): string => {
    const start = total - kept.length;
    return kept.slice(Math.max(0, m - start));
  };

  /** Resolve when check() is true, reject after timeoutMs (check() is also run on every byte). */
  function until<T>(check: () => T | undefined, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) {
        resolve(first);
        return;
      }
      const w: Waiter = {
        check: () => {
          const v = check();
          if (v === undefined) return false;
          clearTimeout(t);
          clearInterval(poll);
          resolve(v);
          return true;
        },
        fail: (e) => {
          clearTimeout(t);
          clearInterval(poll);
          reject(e);
        },
      };
      // Checked on every arrival and every POLL_MS, for conditions that also depend on time.
      const poll = setInterval(() => { if (w.check()) waiters.delete(w); }, POLL_MS);
      const t = setTimeout(() => {
        clearInterval(poll);
        waiters.delete(w);
        reject(onTimeout());
      }, timeoutMs);
      waiters.add(w);
    });
  }

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  async function write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? latin1(data) : data;
    let off = 0;
    while (off < bytes.length) {
      if (detached) throw new FlashError('CLOSED', 'the console was closed during a write');
      if (pausedAt >= 0) {
        if (performance.now() - pausedAt >= xoffMaxMs) {
          stats.pausedMs += performance.now() - pausedAt;
          pausedAt = -1; // no XON for too long: carry on, as Espruino's tools do
        } else {
          await sleep(5);
          continue;
        }
      }
      const room = serial.writable();
      const n = Math.min(slice, bytes.length - off, room);
      if (n <= 0) {
        await new Promise<void>((r) => { drained = r; setTimeout(r, 50); });
        continue;
      }
      const took = serial.write(bytes.subarray(off, off + n), n);
      off += took;
      stats.bytesOut += took;
      // Wait for the port to take the slice, then let what arrived meanwhile be read, so that an XOFF
      // stops the next slice rather than one several slices later.
      await new Promise<void>((r) => { drained = r; setTimeout(r, 20); });
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async function prompt(po: { waitMs?: number } = {}): Promise<void> {
    const waitMs = po.waitMs ?? 600;
    const start = total;
    tap = [];
    const inBefore = stats.bytesIn;
    const atPrompt = (): true | undefined => {
      const t = sinceMark(start).replace(/\s+$/, '');
      return /(^|\n)>$/.test(t) ? true : undefined;
    };
    const steps = ['\n', '\x03', '\x03\n'];
    for (const step of steps) {
      const m = total;
      await write(step);
      try {
        await until(() => (total > m ? atPrompt() : undefined), waitMs, () => new Error('no prompt'));
        // Let the rest of a burst (a banner, a second prompt) arrive before the first command.
        await settle(60, 400);
        tap = null;
        return;
      } catch {
        // next step
      }
    }
    const got = stats.bytesIn - inBefore;
    const said = sinceMark(start);
    // A board running a picolink bundle that took its console over sends frames (COBS, CRC-16).
    let frames = 0;
    const dec = frameDecoder(512, () => { frames++; });
    const raw = Uint8Array.from(tap ?? []);
    tap = null;
    dec.push(raw, raw.length);
    if (frames > 0) {
      throw new FlashError('BUSY', `the board sends picolink frames (${frames} in ${got} bytes), not a prompt: a picolink bundle runs and holds its console. Restart it without its saved code (on an Espruino board: hold BTN1 while you reset or plug it in; a virtual board: start it with an empty --storage directory), then flash at once`, said);
    }
    if (got === 0) {
      throw new FlashError('NO_ANSWER', 'the board did not answer at all (newline, then Ctrl-C twice): check that the port is the board\'s (picolink ports), that it is powered, and that its console is on this port (a bundle that took the console over, such as a gateway, gives it back after a reset: press the reset button, or power-cycle it, and flash at once)');
    }
    const printable = [...said].filter((c) => c === '\r' || c === '\n' || (c >= ' ' && c <= '~')).length;
    if (said.length >= 8 && printable / said.length < 0.7) {
      throw new FlashError('WRONG_BAUD', `the board answered with ${got} bytes that are not text: the baud rate is probably wrong (Espruino boards use 9600 on a UART and any rate on USB; try --baud 9600 or --baud 115200)`, said);
    }
    throw new FlashError('NO_PROMPT', `the board answered (${got} bytes) but never with a prompt: it may be running code that holds the console (press its reset button and try again, or add --reset), or it is not an Espruino board`, said);
  }

  function settle(quietMs: number, maxMs: number): Promise<string> {
    const start = total;
    const t0 = performance.now();
    return new Promise<string>((resolve) => {
      let last = stats.bytesIn;
      let quietSince = performance.now();
      const tick = setInterval(() => {
        const now = performance.now();
        if (stats.bytesIn !== last) {
          last = stats.bytesIn;
          quietSince = now;
        }
        if (now - quietSince >= quietMs || now - t0 >= maxMs) {
          clearInterval(tick);
          resolve(sinceMark(start));
        }
      }, Math.max(5, Math.min(20, quietMs / 3)));
    });
  }

  async function run(code: string, ro: { value?: string; timeoutMs?: number } = {}): Promise<string> {
    if (/[\r\n]/.test(code)) throw new Error('run: the code must be one line');
    const n = ++seq;
    const open = `"<pl"+"k${n}>"`;
    const value = ro.value !== undefined ? `+JSON.stringify(${ro.value})` : '';
    const line = `\x10${code}${code ? ';' : ''}print(${open}${value}+"</pl"+"k>")\n`;
    const m = total;
    const opened = `<plk${n}>`;
    await write(line);
    let errorAt = -1;
    const result = await until<{ ok: string } | { err: string }>(() => {
      const t = sinceMark(m);
      const i = t.indexOf(opened);
      if (i >= 0) {
        const j = t.indexOf('</plk>', i);
        if (j >= 0) return { ok: t.slice(i + opened.length, j) };
      }
      if (ERROR_RE.test(t)) {
        // The error's stack trace follows it: give it a moment to arrive.
        if (errorAt < 0) errorAt = performance.now();
        else if (performance.now() - errorAt >= ERROR_TAIL_MS) return { err: t };
      }
      return undefined;
    }, ro.timeoutMs ?? 5000, () => new FlashError('TIMEOUT', `the board did not finish a command within ${ro.timeoutMs ?? 5000} ms`, sinceMark(m)));
    if ('err' in result) throw boardError(result.err, 'running a command');
    return result.ok;
  }

  async function packet(type: number, data: Uint8Array, timeoutMs: number, splitMs = 0): Promise<'ack' | 'nak'> {
    if (data.length > PT_MAX_LEN) throw new Error(`packet: ${data.length} bytes is more than the ${PT_MAX_LEN} a packet holds`);
    const word = type | data.length;
    const out = new Uint8Array(4 + data.length);
    out[0] = DLE;
    out[1] = SOH;
    out[2] = word >> 8;
    out[3] = word & 0xff;
    out.set(data, 4);
    const a = stats.acks;
    const k = stats.naks;
    if (splitMs > 0) {
      await write(out.subarray(0, 2));
      await sleep(splitMs);
      await write(out.subarray(2));
    } else await write(out);
    return until<'ack' | 'nak'>(
      () => (stats.acks > a ? 'ack' : stats.naks > k ? 'nak' : undefined),
      timeoutMs,
      () => new FlashError('TIMEOUT', `the board did not acknowledge a packet within ${timeoutMs} ms`),
    );
  }

  return {
    stats,
    text: () => kept.slice(-KEEP_CHARS),
    mark: () => total,
    since: sinceMark,
    write,
    prompt,
    run,
    packet,
    settle,
    detach() {
      detached = true;
      serial.onData(null);
      serial.onDrain(null);
      for (const w of waiters) w.fail(new FlashError('CLOSED', 'the console was closed'));
      waiters.clear();
    },
  };
}

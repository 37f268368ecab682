// A virtual Espruino board's console: enough of Espruino's REPL, on a serial port (normally one end of
// a pseudo-terminal pair), for the flasher to be tested without hardware and for `picolink hil`'s
// virtual boards to be flashed the way a real board is. It follows the interpreter's console rules
// (src/jsinteractive.c): a prompt ">" after a line typed with echo on, Ctrl-C clearing a half-typed
// line, DLE at the start of a line turning echo off for that line, Ctrl-E on an empty line printing
// "Espruino <version> <board>", the 2v25 packets (DLE SOH, type|length, data; ACK or NAK; a packet
// left incomplete is NAKed after 5 s), Storage's write rules (a file is created at offset 0 with its
// size, erased bytes are 0xFF, a region can be written once; "Unable to find or create file", "Too
// much data for file size", "File already written with different data"), and XON/XOFF: input waits in
// a bounded buffer that the board drains at its own pace, XOFF at 3/4 full and XON at 1/4, and bytes
// beyond it are lost (FIFO_FULL), as on a board whose sender ignores XOFF.
// Lines are run as JavaScript in a node:vm context holding print, require("Storage"), E.CRC32,
// E.setBootCode, process.env/memory, reset, load, save, echo, btoa and atob; strings are byte strings
// (Latin-1), as Espruino's are.
// Faults, each seeded: `silent` (answers nothing), `wrongBaud` (every byte out is noise),
// `bootNoise` (noise bytes before the first prompt), `garbage` (noise mixed into the output, as a
// probability per byte), `dropRx` (input bytes lost, a probability per byte), `memoryBytes` (a line or
// packet longer than this runs out of memory), `storageBytes` (Storage's size), `corrupt` ('once' or
// 'always': a bit of the stored file flips after a write), `noCrc32` (a SAVE_ON_FLASH build).
// Host only.

import vm from 'node:vm';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Serial } from '../../hal/serial.ts';
import { xoshiro } from '../../hal/prng.ts';

export interface VirtualEspruinoOptions {
  version?: string;
  board?: string;
  seed?: number;
  /** Input buffer, bytes (default 1024). */
  rxBufferBytes?: number;
  /** Bytes the board takes from its input buffer per millisecond (default 100; lines also cost runMsPerKB). */
  bytesPerMs?: number;
  /** Extra time a line of input takes to run, ms per KB (flash writes are slow; default 0). */
  runMsPerKB?: number;
  /** Send XON/XOFF (default true). */
  flowControl?: boolean;
  /** NAK an incomplete packet after this long, ms (default 5000, as Espruino). */
  packetTimeoutMs?: number;
  storageBytes?: number;
  memoryBytes?: number;
  noCrc32?: boolean;
  silent?: boolean;
  wrongBaud?: boolean;
  bootNoise?: number;
  garbage?: number;
  dropRx?: number;
  corrupt?: 'once' | 'always';
  /**
   * Behave as Espruino's Linux build does (measured): a 0x04 byte anywhere ends the process, and Ctrl-C
   * on an empty line prints "Press Ctrl-C again to exit", a second within 5 s ending it. On a board
   * (the default) Ctrl-C on an empty line does nothing.
   */
  linux?: boolean;
  /**
   * Called by load() (and at start when .bootcde exists) with the file's code, after the console has
   * let go of the port: the code takes the board over, as a bundle that moves the console off its
   * serial line does. Without it, the code runs in the REPL's context.
   */
  onLoad?: (code: Uint8Array, file: string) => void;
  /** Keep Storage in this directory (one file per Storage file), so it outlives the process. */
  storageDir?: string;
}

export interface VirtualEspruinoStats {
  bytesIn: number;
  bytesOut: number;
  linesRun: number;
  packets: number;
  acks: number;
  naks: number;
  xoffs: number;
  /** Input bytes lost because the buffer was full (the sender ignored XOFF). */
  overflow: number;
  /** Input bytes dropped by the dropRx fault. */
  dropped: number;
  resets: number;
  loads: number;
  saves: number;
  /** Ctrl-C seen outside a packet (at reception, as Espruino's interrupt handler sees it). */
  ctrlC: number;
  /** linux: the process has ended (0x04, or Ctrl-C twice). */
  exited: boolean;
}

export interface VirtualEspruino {
  readonly stats: VirtualEspruinoStats;
  /** Storage: file name to bytes. */
  readonly storage: Map<string, Uint8Array>;
  /** Everything printed so far (bounded, 64 KB), for tests. */
  output(): string;
  /** Let go of the port (the board is switched off). */
  stop(): void;
}

const DLE = 0x10, SOH = 0x01, ACK = 0x06, NAK = 0x15, XON = 0x11, XOFF = 0x13;
const PT_EVAL = 0x2000, PT_FILE_SEND = 0x6000, PT_DATA = 0x8000;
const TICK_MS = 2;

export function crc32Bytes(b: Uint8Array | string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < b.length; i++) {
    crc ^= typeof b === 'string' ? b.charCodeAt(i) & 0xff : b[i];
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (~crc) >>> 0;
}

const toStr = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const toBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Counts brackets outside strings and comments; undefined while a string is still open at the end. */
function bracketsOpen(line: string): number {
  let depth = 0;
  let q = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = '';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') q = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return depth;
}

export function virtualEspruino(serial: Serial, o: VirtualEspruinoOptions = {}): VirtualEspruino {
  const version = o.version ?? '2v25';
  const boardName = o.board ?? 'PICOLINK_VIRTUAL';
  const prng = xoshiro(o.seed ?? 1);
  const r = (): number => prng.u32() / 4294967296;
  const cap = o.rxBufferBytes ?? 1024;
  const rate = o.bytesPerMs ?? 100;
  const flow = o.flowControl !== false;
  const storageBytes = o.storageBytes ?? 256 * 1024;
  const memoryBytes = o.memoryBytes ?? 1 << 20;
  const packetTimeoutMs = o.packetTimeoutMs ?? 5000;
  const stats: VirtualEspruinoStats = { bytesIn: 0, bytesOut: 0, linesRun: 0, packets: 0, acks: 0, naks: 0, xoffs: 0, overflow: 0, dropped: 0, resets: 0, loads: 0, saves: 0, ctrlC: 0, exited: false };
  const storage = new Map<string, Uint8Array>();
  const written = new Map<string, Uint8Array>(); // per file: 1 where a byte has been written
  const dir = o.storageDir;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      const b = new Uint8Array(readFileSync(join(dir, f)));
      storage.set(decodeURIComponent(f), b);
      written.set(decodeURIComponent(f), new Uint8Array(b.length).fill(1));
    }
  }
  /** Write a Storage file through to storageDir (or remove it there). */
  const persist = (name: string): void => {
    if (!dir) return;
    const f = storage.get(name);
    const path = join(dir, encodeURIComponent(name));
    if (f) writeFileSync(path, f);
    else rmSync(path, { force: true });
  };
  let corrupted = 0;
  let out = '';
  let stopped = false;

  // Input buffer (a ring), drained by the tick at `rate` bytes per ms.
  const rx = new Uint8Array(cap);
  let rxHead = 0;
  let rxCount = 0;
  let xoffSent = false;
  let busyUntil = 0;

  // Console state.
  let line = '';
  let echo = true;
  let echoOffForLine = false;
  let hadDle = false;
  let oom = false;
  let pkt: { state: 0 | 1 | 2; word: number; data: number[]; timer: ReturnType<typeof setTimeout> | null } | null = null;
  let pkFile: { fn: string; s: number; offs: number } | null = null;
  let ram: string[] = []; // lines run since the last reset, for save()
  let ctx = newContext();

  // Output waits here for room in the port (flushed now and at every tick and drain).
  let txq: number[] = [];
  function send(bytes: number[]): void {
    if (stopped || o.silent) return;
    for (const b of bytes) txq.push(b);
    flush();
  }
  function flush(): void {
    if (txq.length === 0 || stopped) return;
    const n = Math.min(txq.length, serial.writable());
    if (n <= 0) return;
    const took = serial.write(Uint8Array.from(txq.slice(0, n)), n);
    txq = txq.slice(took);
    stats.bytesOut += took;
  }

  function noise(): number {
    return o.wrongBaud ? 0x80 + Math.floor(r() * 128) : 0x20 + Math.floor(r() * 95);
  }

  /** Print text as the console does: "\n" becomes "\r\n". */
  function print(s: string): void {
    const t = s.replace(/\r?\n/g, '\r\n');
    out = (out + t).slice(-65536);
    const bytes: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (o.wrongBaud) {
        bytes.push(noise());
        continue;
      }
      bytes.push(t.charCodeAt(i) & 0xff);
      if (o.garbage && r() < o.garbage) bytes.push(noise());
    }
    send(bytes);
  }

  function prompt(): void {
    if (echo) print('>');
  }

  function fileWrite(name: string, data: string, offset?: number, size?: number): boolean {
    if (typeof name !== 'string' || name.length === 0 || name.length > 28) throw new Error('Invalid Storage filename');
    const bytes = toBytes(String(data));
    const off = offset ?? 0;
    let f = storage.get(name);
    if (off === 0) {
      const sz = size ?? bytes.length;
      const same = f && f.length === sz && sz === bytes.length && Buffer.from(f).equals(Buffer.from(bytes));
      if (same) return true;
      if (!f || f.length !== sz || !(written.get(name)?.every((w) => w === 0) ?? true)) {
        storage.delete(name);
        written.delete(name);
        if (used() + sz > storageBytes) throw new Error('Unable to find or create file');
        f = new Uint8Array(sz).fill(0xff);
        storage.set(name, f);
        written.set(name, new Uint8Array(sz));
      }
    }
    if (!f) throw new Error('Unable to find or create file');
    if (off + bytes.length > f.length) throw new Error('Too much data for file size');
    const w = written.get(name)!;
    for (let i = 0; i < bytes.length; i++) if (w[off + i]) throw new Error('File already written with different data');
    f.set(bytes, off);
    w.fill(1, off, off + bytes.length);
    persist(name);
    if (o.corrupt && (o.corrupt === 'always' || corrupted === 0) && bytes.length > 0 && off + bytes.length === f.length) {
      corrupted++;
      f[Math.floor(r() * f.length)] ^= 1 << Math.floor(r() * 8);
    }
    return true;
  }

  function used(): number {
    let n = 0;
    for (const f of storage.values()) n += f.length;
    return n;
  }

  function newContext(): vm.Context {
    const Storage = {
      write: (n: string, d: string, off?: number, size?: number) => fileWrite(n, d, off, size),
      read: (n: string, off?: number, len?: number) => {
        const f = storage.get(n);
        if (!f) return undefined;
        const a = off ?? 0;
        return toStr(f.subarray(a, len === undefined ? f.length : a + len));
      },
      erase: (n: string) => { storage.delete(n); written.delete(n); persist(n); },
      eraseAll: () => { const names = [...storage.keys()]; storage.clear(); written.clear(); names.forEach(persist); },
      list: () => [...storage.keys()],
      getFree: () => storageBytes - used(),
      compact: () => undefined,
    };
    const E: Record<string, unknown> = {
      setBootCode: (code: string) => {
        const b = toBytes(String(code));
        storage.set('.bootcde', b);
        written.set('.bootcde', new Uint8Array(b.length).fill(1));
        persist('.bootcde');
      },
    };
    if (!o.noCrc32) E.CRC32 = (d: string) => crc32Bytes(String(d));
    const g = {
      print: (...a: unknown[]) => print(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ') + '\n'),
      console: { log: (...a: unknown[]) => print(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ') + '\n') },
      require: (m: string) => {
        if (m === 'Storage') return Storage;
        throw new Error(`Module ${m} not found`);
      },
      E,
      process: { env: { VERSION: version, BOARD: boardName }, memory: () => ({ free: Math.floor(memoryBytes / 16), usage: 0, total: Math.floor(memoryBytes / 16) }) },
      reset: () => { pendingReset = true; },
      load: (f?: string) => { pendingLoad = f ?? '.bootcde'; },
      save: () => {
        storage.set('.varimg', toBytes(ram.join('\n')));
        persist('.varimg');
        stats.saves++;
        print('Compacting Flash...\nCalculating Size...\nWriting..\nDone!\n');
      },
      echo: (on: boolean) => { echo = !!on; },
      btoa: (s: string) => Buffer.from(String(s), 'latin1').toString('base64'),
      atob: (s: string) => Buffer.from(String(s), 'base64').toString('latin1'),
    };
    return vm.createContext(g);
  }

  let pendingReset = false;
  let pendingLoad: string | null = null;

  function uncaught(e: unknown): void {
    const t = e instanceof Error || (e && typeof e === 'object' && 'message' in e)
      ? `${(e as Error).name ?? 'Error'}: ${(e as Error).message}`
      : JSON.stringify(e);
    print(`Uncaught ${t}\n at line 1 col 1\n`);
  }

  function runCode(code: string, isRepl: boolean): unknown {
    try {
      const v = vm.runInContext(code, ctx, { timeout: 2000 });
      if (isRepl) ram.push(code);
      return v;
    } catch (e) {
      uncaught(e);
      return undefined;
    } finally {
      afterRun();
    }
  }

  function afterRun(): void {
    if (pendingReset) {
      pendingReset = false;
      doReset();
      print(`\n Espruino ${version} (virtual ${boardName})\n\n`);
    }
    if (pendingLoad !== null) {
      const f = pendingLoad;
      pendingLoad = null;
      doLoad(f);
    }
  }

  function doReset(): void {
    stats.resets++;
    ctx = newContext();
    ram = [];
    echo = true;
  }

  /** Returns true when the code took the board over (onLoad). */
  function doLoad(file: string): boolean {
    stats.loads++;
    doReset();
    const code = storage.get(file);
    if (!code) return false;
    if (o.onLoad) {
      release();
      o.onLoad(code, file);
      return true;
    }
    runCode(toStr(code), false);
    return false;
  }

  function execLine(): void {
    const code = line;
    const quiet = echoOffForLine;
    line = '';
    echoOffForLine = false;
    stats.linesRun++;
    if (oom) {
      oom = false;
      print('Execution Interrupted\nNew interpreter error: MEMORY\n');
      prompt();
      return;
    }
    const trimmed = code.trim();
    let failed = false;
    let v: unknown;
    if (trimmed) {
      try {
        v = vm.runInContext(trimmed, ctx, { timeout: 2000 });
        ram.push(trimmed);
      } catch (e) {
        failed = true;
        uncaught(e);
      }
    }
    if (echo && !quiet && !failed && trimmed) print('=' + (v === undefined ? 'undefined' : JSON.stringify(v)) + '\n');
    const wasLoad = pendingLoad !== null || pendingReset;
    afterRun();
    if (!quiet || failed || wasLoad) prompt();
    busyUntil = performance.now() + ((o.runMsPerKB ?? 0) * code.length) / 1024;
  }

  function packetByte(b: number): void {
    const p = pkt!;
    if (p.state === 0) {
      p.word = b << 8;
      p.state = 1;
      return;
    }
    if (p.state === 1) {
      p.word |= b;
      p.state = 2;
      if ((p.word & 0x1fff) === 0) packetDone();
      return;
    }
    p.data.push(b);
    if (p.data.length >= (p.word & 0x1fff)) packetDone();
  }

  function reply(b: number): void {
    if (b === ACK) stats.acks++;
    else stats.naks++;
    send([b]);
  }

  function packetDone(): void {
    const p = pkt!;
    pkt = null;
    if (p.timer) clearTimeout(p.timer);
    stats.packets++;
    const type = p.word & 0xe000;
    const len = p.word & 0x1fff;
    if (len > memoryBytes) {
      print('OUT OF MEMORY\n');
      reply(NAK);
      return;
    }
    const data = String.fromCharCode(...p.data);
    if (type === PT_EVAL) {
      try {
        const v = vm.runInContext(data, ctx, { timeout: 2000 });
        reply(ACK);
        const body = v === undefined ? 'undefined' : JSON.stringify(v);
        const w = body.length; // type RESPONSE is 0
        send([DLE, SOH, w >> 8, w & 0xff, ...toBytes(body)]);
      } catch (e) {
        reply(NAK);
        uncaught(e);
      }
      afterRun();
      return;
    }
    if (type === PT_FILE_SEND) {
      pkFile = null;
      let j: { fn?: unknown; s?: unknown } | null = null;
      try {
        j = JSON.parse(data) as { fn?: unknown; s?: unknown };
      } catch {
        j = null;
      }
      const ok = !!j && typeof j.fn === 'string' && typeof j.s === 'number' && j.s !== 0;
      if (ok) pkFile = { fn: j!.fn as string, s: j!.s as number, offs: 0 };
      reply(ok ? ACK : NAK);
      return;
    }
    if (type === PT_DATA && pkFile) {
      let ok = true;
      try {
        fileWrite(pkFile.fn, data, pkFile.offs, pkFile.offs === 0 ? pkFile.s : undefined);
      } catch (e) {
        ok = false;
        uncaught(e);
      }
      pkFile.offs += len;
      if (pkFile.offs >= pkFile.s) pkFile = null;
      reply(ok ? ACK : NAK);
      return;
    }
    reply(NAK);
  }

  function consoleByte(b: number): void {
    if (pkt) {
      packetByte(b);
      return;
    }
    if (b === 0) return;
    if (b === SOH) {
      if (hadDle) {
        hadDle = false;
        if (line === '') echoOffForLine = false;
        pkt = { state: 0, word: 0, data: [], timer: null };
        pkt.timer = setTimeout(() => {
          if (!pkt) return;
          pkt = null;
          reply(NAK);
        }, packetTimeoutMs);
      }
      return;
    }
    hadDle = false;
    if (b === 0x03) return; // handled as it arrived (ctrlCPending)
    if (b === 0x05) {
      if (line === '') print(`Espruino ${version} ${boardName}\n`);
      return;
    }
    if (b === DLE) {
      if (line === '') echoOffForLine = true;
      hadDle = true;
      return;
    }
    if (b === 0x0d) return; // Espruino treats \r and \n alike; the flasher sends \n
    if (b === 0x0a) {
      if (bracketsOpen(line) > 0) {
        line += '\n';
        if (echo && !echoOffForLine) print('\n:');
        return;
      }
      if (echo && !echoOffForLine) print('\n');
      execLine();
      return;
    }
    if (oom) return;
    line += String.fromCharCode(b);
    if (echo && !echoOffForLine) print(String.fromCharCode(b));
    if (line.length > memoryBytes) {
      oom = true;
      line = '';
      print('OUT OF MEMORY\n');
    }
  }

  /** Ctrl-C, as the main loop handles the flag the interrupt set: only outside a packet. */
  function ctrlC(): void {
    ctrlCPending = false;
    if (pkt) return; // a packet in progress clears the flag
    stats.ctrlC++;
    if (line !== '') {
      line = '';
      oom = false;
      echoOffForLine = false;
      if (echo) print('\r');
      prompt();
      return;
    }
    if (!o.linux) return;
    const now = performance.now();
    if (now - lastCtrlC < 5000) {
      exit();
      return;
    }
    lastCtrlC = now;
    print('\r\x1b[JPress Ctrl-C again to exit\n');
    prompt();
  }

  function exit(): void {
    stats.exited = true;
    release();
  }

  function tick(): void {
    if (stopped) return;
    flush();
    if (ctrlCPending) ctrlC();
    if (stopped) return;
    const now = performance.now();
    if (now < busyUntil) return;
    let budget = Math.max(1, Math.round(rate * TICK_MS));
    while (budget-- > 0 && rxCount > 0 && performance.now() >= busyUntil) {
      const b = rx[rxHead];
      rxHead = (rxHead + 1) % cap;
      rxCount--;
      consoleByte(b);
      if (stopped) return;
    }
    if (flow && xoffSent && rxCount <= cap / 4) {
      xoffSent = false;
      send([XON]);
    }
  }

  const timer = setInterval(tick, TICK_MS);
  serial.onDrain(flush);

  let ctrlCPending = false;
  let lastCtrlC = -Infinity;
  serial.onData((bytes, len) => {
    if (stopped || o.silent) return;
    for (let i = 0; i < len; i++) {
      stats.bytesIn++;
      if (o.dropRx && r() < o.dropRx) {
        stats.dropped++;
        continue;
      }
      if (o.linux && bytes[i] === 0x04) {
        exit();
        return;
      }
      // Espruino's interrupt handler sees Ctrl-C as it arrives, before the console has read the
      // bytes before it: a 0x03 in the same burst as the DLE SOH that opens a packet is taken as
      // Ctrl-C (the main loop sees the flag while the packet has not begun).
      if (bytes[i] === 0x03 && !pkt) ctrlCPending = true;
      if (rxCount >= cap) {
        stats.overflow++;
        continue;
      }
      rx[(rxHead + rxCount) % cap] = bytes[i];
      rxCount++;
    }
    if (flow && !xoffSent && rxCount >= (cap * 3) / 4) {
      xoffSent = true;
      stats.xoffs++;
      send([XOFF]);
    }
  });

  function boot(): void {
    if (o.bootNoise) {
      const n: number[] = [];
      for (let i = 0; i < o.bootNoise; i++) n.push(noise());
      send(n);
    }
    const img = storage.get('.varimg');
    if (img) runCode(toStr(img), true);
    if (storage.has('.bootcde') && doLoad('.bootcde')) return;
    print(`\n Espruino ${version} (virtual ${boardName})\n\n`);
    prompt();
  }
  /** The console lets go of the port: no more input, output or timers. */
  function release(): void {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (pkt?.timer) clearTimeout(pkt.timer);
    pkt = null;
    serial.onData(null);
    serial.onDrain(null);
  }

  boot();

  return {
    stats,
    storage,
    output: () => out,
    stop: release,
  };
}

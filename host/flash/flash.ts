// Uploading a bundle to an Espruino board, as Espruino's own tools do (EspruinoTools' code writer and
// its 2v25 packet upload), with the checks a flasher owes its user: every chunk confirmed by the board,
// the whole file verified by a checksum the board computes, and an error that says what to try.
//
// Steps:
// 1. A prompt (newline, then Ctrl-C), then what the board is: process.env.VERSION and BOARD, whether it
//    has E.CRC32 (boards built with SAVE_ON_FLASH do not), Storage's free bytes, free JsVars.
// 2. Optionally reset() (--reset): the board's RAM is cleared first, which leaves the most room.
// 3. The bundle goes to one of three places:
//    - boot (default): the Storage file ".bootcde", which Espruino runs at every start, then load()
//      runs it now (unless run is false);
//    - file: a named Storage file, left alone (a module, or something load("name") runs);
//    - ram: the code typed into the REPL, which runs it as it arrives; nothing survives a reset unless
//      save is set (save() then writes RAM to flash).
// 4. To Storage by packets when the firmware is 2v25 or later (FILE_SEND, then DATA packets, each
//    acknowledged; a NAK or a missing ACK resends that packet), otherwise by text: one echo-off line
//    per chunk, `(function(d){...check...;require("Storage").write(name,d,offset[,size])})("...")`,
//    whose check (the chunk's length, and its CRC32 where E.CRC32 exists) runs on the board before
//    anything is written, so a chunk damaged on the way is refused and sent again rather than stored.
//    Chunk bytes are written into the string literal as printable ASCII with \xNN escapes for the
//    rest, so the line survives any terminal setting and the file gets exactly the bundle's bytes.
// 5. Verify: E.CRC32(require("Storage").read(name)) against the bundle's CRC32; without E.CRC32 the
//    file is read back in base64 pieces and compared. A mismatch uploads again (retries, default 2),
//    then fails with both checksums.
// Everything written is in the console's stats (bytes, XOFF pauses); progress is reported in bytes of
// the bundle confirmed by the board. Host only.

import { crc32 } from '../../firmware/codec/crc.ts';
import { FlashError, PT, PT_MAX_LEN, boardError, espruinoConsole, latin1 } from './console.ts';
import type { ConsoleOptions, ConsoleStats, EspruinoConsole } from './console.ts';
import type { Serial } from '../../hal/serial.ts';

export { FlashError } from './console.ts';
export type { FlashErrorCode } from './console.ts';

/** The Storage file Espruino runs at start-up. */
export const BOOT_FILE = '.bootcde';
/** Longest Storage file name Espruino takes. */
export const STORAGE_NAME_MAX = 28;

export type FlashTarget = { to: 'boot' } | { to: 'file'; name: string } | { to: 'ram' };
export type Protocol = 'auto' | 'packet' | 'text';

export interface FlashOptions extends ConsoleOptions {
  target?: FlashTarget;
  /** 'auto' (default): packets from 2v25 on, text before. */
  protocol?: Protocol;
  /** Bytes of the bundle per chunk (default 1024, as Espruino's tools; at most 8191 by packet). */
  chunkBytes?: number;
  /** reset() the board first. */
  reset?: boolean;
  /** Erase the target file first (makes room when an old, larger copy is there). */
  erase?: boolean;
  /** Start the code once written (boot: load(); file: load(name); ram: it runs anyway). Default true for boot. */
  run?: boolean;
  /** ram only: save() afterwards so the code survives a reset. */
  save?: boolean;
  /** Whole uploads after a verify mismatch (default 2). */
  retries?: number;
  /** Sends of one chunk before giving up (default 5). */
  chunkTries?: number;
  /** Wait for a packet's ACK, ms (default 6000: the board NAKs an incomplete packet after 5 s). */
  ackTimeoutMs?: number;
  /** Wait for a command's answer, ms (default 5000). */
  commandTimeoutMs?: number;
  /** Bytes of the bundle the board has confirmed, of total. */
  onProgress?: (done: number, total: number) => void;
  /** A line of what is happening, for a log or --verbose. */
  onStep?: (text: string) => void;
}

export interface BoardInfo {
  version: string;
  board: string;
  /** Firmware 2v25 or later: takes packets. */
  packets: boolean;
  /** E.CRC32 exists. */
  crc32: boolean;
  /** Storage's free bytes (-1: no Storage). */
  storageFree: number;
  /** Free JsVars. */
  memoryFree: number;
}

export interface FlashResult {
  board: BoardInfo;
  protocol: 'packet' | 'text';
  target: string;
  bytes: number;
  crc32: number;
  chunks: number;
  /** Chunks or packets sent again (damaged, NAKed, unanswered). */
  resends: number;
  /** Whole uploads (1 unless a verify failed). */
  attempts: number;
  verified: 'crc32' | 'readback' | 'none';
  started: boolean;
  /** What the board printed after starting the code (its first second). */
  boardSaid: string;
  ms: number;
  console: ConsoleStats;
}

/** Parse "2v25", "2v24.123", "1v99" into [major, minor]. */
export function parseVersion(v: string): [number, number] | null {
  const m = /^(\d+)v(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function hasPackets(version: string): boolean {
  const v = parseVersion(version);
  return v !== null && (v[0] > 2 || (v[0] === 2 && v[1] >= 25));
}

/** A JavaScript string literal, in printable ASCII, whose value is exactly these bytes. */
export function byteLiteral(b: Uint8Array, off = 0, len = b.length - off): string {
  let s = '"';
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) s += String.fromCharCode(c);
    else if (c === 0x0a) s += '\\n';
    else s += '\\x' + (c < 16 ? '0' : '') + c.toString(16);
  }
  return s + '"';
}

/** Check a Storage file name as Espruino takes it (1 to 28 characters, printable, no quotes). */
export function checkStorageName(name: string): string | null {
  if (name.length === 0 || name.length > STORAGE_NAME_MAX) return `a Storage file name has 1 to ${STORAGE_NAME_MAX} characters; "${name}" has ${name.length}`;
  if (!/^[\x21-\x7e]+$/.test(name) || /["'\\]/.test(name)) return `a Storage file name is printable ASCII without spaces, quotes or backslashes; "${name}" is not`;
  return null;
}

const IDENTIFY = '(function(){var s=-1,m=-1;try{s=require("Storage").getFree()}catch(e){}try{m=process.memory().free}catch(e){}' +
  'return [process.env.VERSION,process.env.BOARD,typeof E.CRC32=="function",s,m]})()';

/**
 * The JSON of an expression that changes nothing on the board, asked up to `tries` times: a command
 * damaged on the way (a lost byte makes a syntax error, noise a wrong answer the caller may reject)
 * is simply asked again, after a prompt if the board stopped answering.
 */
export async function query(c: EspruinoConsole, value: string, timeoutMs: number, accept: (json: string) => boolean = () => true, tries = 3): Promise<string> {
  for (let t = 1; ; t++) {
    try {
      const r = await c.run('', { value, timeoutMs });
      if (accept(r) || t >= tries) return r;
    } catch (e) {
      const fe = e as FlashError;
      if (t >= tries || fe.code === 'OUT_OF_MEMORY' || fe.code === 'CLOSED') throw e;
      if (fe.code === 'TIMEOUT') await c.prompt();
      else await c.settle(30, 300);
    }
  }
}

const parses = (s: string): boolean => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

/** What the board is (after a prompt). */
export async function identify(c: EspruinoConsole, timeoutMs = 5000): Promise<BoardInfo> {
  const raw = await query(c, IDENTIFY, timeoutMs, (r) => parses(r) && /^\["\d+v\d+/.test(r));
  let a: unknown;
  try {
    a = JSON.parse(raw);
  } catch {
    a = null;
  }
  if (!Array.isArray(a) || typeof a[0] !== 'string') {
    throw new FlashError('BOARD_ERROR', `the board did not say what it is (process.env.VERSION): it answered ${JSON.stringify(raw.slice(0, 80))}; is it an Espruino board?`, raw);
  }
  return {
    version: a[0],
    board: typeof a[1] === 'string' ? a[1] : '?',
    packets: hasPackets(a[0]),
    crc32: a[2] === true,
    storageFree: typeof a[3] === 'number' ? a[3] : -1,
    memoryFree: typeof a[4] === 'number' ? a[4] : -1,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Upload `code` to the board on `serial`. The port stays open (the caller owns it). */
export async function flash(serial: Serial, code: Uint8Array, o: FlashOptions = {}): Promise<FlashResult> {
  const t0 = performance.now();
  const target = o.target ?? { to: 'boot' };
  const name = target.to === 'boot' ? BOOT_FILE : target.to === 'file' ? target.name : '';
  if (target.to === 'file') {
    const bad = checkStorageName(target.name);
    if (bad) throw new FlashError('BOARD_ERROR', bad);
  }
  if (code.length === 0) throw new FlashError('BOARD_ERROR', 'the bundle is empty: build it first (picolink build)');
  const chunkBytes = Math.max(16, Math.min(o.chunkBytes ?? 1024, PT_MAX_LEN));
  const step = o.onStep ?? ((): void => {});
  const progress = o.onProgress ?? ((): void => {});
  const cmdMs = o.commandTimeoutMs ?? 5000;
  const c = espruinoConsole(serial, o);
  try {
    await c.prompt();
    let board = await identify(c, cmdMs);
    step(`board: Espruino ${board.version} on ${board.board}; Storage free ${board.storageFree} B, ${board.memoryFree} JsVars free`);
    if (o.reset) {
      step('reset()');
      await c.write('\x10reset()\n');
      await c.settle(200, 3000);
      await c.prompt();
      board = await identify(c, cmdMs);
    }
    const want = o.protocol ?? 'auto';
    if (want === 'packet' && !board.packets) {
      throw new FlashError('REFUSED', `the board runs Espruino ${board.version}, which has no packet upload (2v25 and later do): use --protocol text or auto, or update its firmware`);
    }
    // A raw 0x03 or 0x04 in a packet is dangerous (see RISKY): auto sends such code as text, escaped.
    const risky = code.includes(0x03) || code.includes(0x04);
    const protocol: 'packet' | 'text' = target.to !== 'ram' && (want === 'packet' || (want === 'auto' && board.packets && !risky)) ? 'packet' : 'text';
    if (want === 'auto' && board.packets && risky && target.to !== 'ram') step('the code holds 0x03 or 0x04 bytes: sending it as text, escaped, rather than by packets');
    const crc = crc32(code, 0, code.length);
    const retries = o.retries ?? 2;
    const stats = { chunks: 0, resends: 0 };
    let verified: FlashResult['verified'] = 'none';
    let attempts = 0;

    let ramSaid = '';
    if (target.to === 'ram') {
      attempts = 1;
      ramSaid = await toRam(c, code, o, stats, progress, step);
      if (o.save) {
        step('save()');
        await c.run('save()', { timeoutMs: 30_000 });
      }
    } else {
      if (board.storageFree >= 0 && board.storageFree < code.length && !o.erase) {
        step(`Storage has ${board.storageFree} B free for ${code.length} B: the upload may need the space of an older copy`);
      }
      for (;;) {
        attempts++;
        if (o.erase || attempts > 1) await c.run(`require("Storage").erase(${JSON.stringify(name)})`, { timeoutMs: cmdMs });
        step(`writing ${code.length} B to Storage file ${name} by ${protocol} (attempt ${attempts})`);
        if (protocol === 'packet') await byPackets(c, code, name, chunkBytes, o, stats, progress);
        else await byText(c, code, name, chunkBytes, board.crc32, o, stats, progress);
        const v = await verify(c, code, name, crc, board.crc32, cmdMs);
        verified = v.how;
        if (v.ok) break;
        step(`verify failed: ${v.detail}`);
        if (attempts > retries) {
          throw new FlashError('VERIFY', `the board's copy of ${name} does not match the bundle after ${attempts} uploads (${v.detail}): check the cable, lower the baud rate (--baud 9600), or try --protocol text with a smaller --chunk`);
        }
      }
    }

    let started = false;
    let boardSaid = '';
    const run = o.run ?? target.to !== 'file';
    if (run && target.to !== 'ram') {
      step(target.to === 'boot' ? 'load(): restart and run it' : `load(${JSON.stringify(name)})`);
      await c.write(target.to === 'boot' ? '\x10load()\n' : `\x10load(${JSON.stringify(name)})\n`);
      boardSaid = await c.settle(300, 1500);
      started = true;
    } else if (target.to === 'ram') {
      boardSaid = ramSaid + await c.settle(100, 500);
      started = true;
    }
    if (started && /Uncaught |OUT OF MEMORY/.test(boardSaid)) {
      const e = boardError(boardSaid, 'starting the code');
      throw new FlashError(e.code, `${name || 'the code'} was written${verified !== 'none' ? ' and verified' : ''}, but ${e.message.replace(/^the board /, 'the board then ')}`, boardSaid);
    }
    return {
      board, protocol, target: name || 'ram', bytes: code.length, crc32: crc, chunks: stats.chunks, resends: stats.resends,
      attempts, verified, started, boardSaid, ms: Math.round(performance.now() - t0), console: { ...c.stats },
    };
  } finally {
    c.detach();
  }
}

type Counts = { chunks: number; resends: number };

/**
 * Bytes a packet must not carry raw, as measured on Espruino's Linux build: 0x03 (Ctrl-C) that arrives
 * with the DLE SOH in one burst is taken as Ctrl-C before the packet has begun (the console prints
 * "Press Ctrl-C again to exit", and a second one ends the Linux interpreter), and 0x04 ends the Linux
 * interpreter wherever it is. So lengths are chosen to avoid them in the length word, a packet whose
 * data holds 0x03 is sent as DLE SOH, a pause, then the rest, and auto sends code holding either
 * byte by text, where every such byte is escaped.
 */
const RISKY_LOW = [0x03, 0x04];
/** The pause between DLE SOH and the rest of a packet that holds 0x03, ms (150 was enough on Linux). */
const SPLIT_MS = 200;

/** Bytes for the next packet: at most `chunk`, and a length whose low byte is not 0x03 or 0x04. */
export function packetLength(remaining: number, chunk: number): number {
  let n = Math.min(chunk, remaining);
  if (RISKY_LOW.includes(n & 0xff)) n = n > 4 ? n - 2 : n - 2 || 1;
  return n;
}

async function byPackets(c: EspruinoConsole, code: Uint8Array, name: string, chunk: number, o: FlashOptions, n: Counts, progress: (d: number, t: number) => void): Promise<void> {
  const ackMs = o.ackTimeoutMs ?? 6000;
  const tries = o.chunkTries ?? 5;
  let json = JSON.stringify({ fn: name, s: code.length });
  while (RISKY_LOW.includes(json.length & 0xff)) json += ' ';
  const head = latin1(json);
  if ((await c.packet(PT.FILE_SEND, head, ackMs)) === 'nak') {
    throw new FlashError('REFUSED', `the board refused to open Storage file ${name} of ${code.length} B (NAK to FILE_SEND): check the name and the free Storage (require("Storage").getFree())`);
  }
  progress(0, code.length);
  for (let off = 0; off < code.length;) {
    const data = code.subarray(off, off + packetLength(code.length - off, chunk));
    const split = data.includes(0x03) ? SPLIT_MS : 0;
    n.chunks++;
    for (let k = 1; ; k++) {
      let r: 'ack' | 'nak' | 'timeout';
      try {
        r = await c.packet(PT.DATA, data, ackMs, split);
      } catch (e) {
        if ((e as FlashError).code !== 'TIMEOUT') throw e;
        r = 'timeout';
      }
      if (r === 'ack') break;
      const said = c.text().slice(-400);
      if (/OUT OF MEMORY|Unable to find or create file|Not enough free space/.test(said)) throw boardError(said, `writing bytes ${off}..${off + data.length}`);
      if (k >= tries) {
        throw new FlashError(r === 'nak' ? 'REFUSED' : 'TIMEOUT', `the board ${r === 'nak' ? 'refused' : 'did not acknowledge'} the packet with bytes ${off}..${off + data.length} ${k} times: lower the baud rate (--baud 9600), use smaller packets (--chunk 256), or try --protocol text`, said);
      }
      n.resends++;
      // A NAK after a timeout means the board dropped the partial packet; anything else in flight
      // settles before the resend, so the resend does not land in the middle of it.
      await c.settle(50, 500);
    }
    off += data.length;
    progress(off, code.length);
  }
}

async function byText(c: EspruinoConsole, code: Uint8Array, name: string, chunk: number, hasCrc: boolean, o: FlashOptions, n: Counts, progress: (d: number, t: number) => void): Promise<void> {
  const tries = o.chunkTries ?? 5;
  const cmdMs = o.commandTimeoutMs ?? 5000;
  const fn = JSON.stringify(name);
  progress(0, code.length);
  for (let off = 0, k = 0; off < code.length; off += chunk, k++) {
    const len = Math.min(chunk, code.length - off);
    const c32 = crc32(code, off, len);
    const check = `d.length!=${len}${hasCrc ? `||E.CRC32(d)!=${c32}` : ''}`;
    const write = `require("Storage").write(${fn},d,${off}${off === 0 ? `,${code.length}` : ''})`;
    const line = `(function(d){if(${check})throw "picolink: chunk ${k} damaged";${write}})(${byteLiteral(code, off, len)})`;
    n.chunks++;
    for (let t = 1; ; t++) {
      try {
        await c.run(line, { timeoutMs: cmdMs });
        break;
      } catch (e) {
        const fe = e as FlashError;
        if (fe.code === 'OUT_OF_MEMORY' || fe.code === 'STORAGE') throw new FlashError(fe.code, fe.message.replace('running a command', `writing bytes ${off}..${off + len}`), fe.boardSaid);
        if (/already written/.test(fe.boardSaid)) {
          // The chunk was stored but its answer was lost, and the resend found it there: compare.
          const same = hasCrc ? await query(c, `E.CRC32(require("Storage").read(${fn},${off},${len}))`, cmdMs, (r) => Number(r) === c32) : null;
          if (same !== null && Number(same) === c32) break;
          throw new FlashError('VERIFY', `bytes ${off}..${off + len} of ${name} were stored differently on an earlier try: flash again with --erase`, fe.boardSaid);
        }
        if (t >= tries) {
          throw new FlashError(fe.code === 'TIMEOUT' ? 'TIMEOUT' : fe.code, `chunk ${k} (bytes ${off}..${off + len}) failed ${t} times (${fe.message}): lower the baud rate (--baud 9600) or send smaller chunks (--chunk 256)`, fe.boardSaid);
        }
        n.resends++;
        // A damaged line may have left the REPL waiting for the rest of it: Ctrl-C clears it.
        if (fe.code === 'TIMEOUT') await c.prompt();
        else await c.settle(30, 300);
      }
    }
    progress(off + len, code.length);
  }
}

/** Types the code in; returns what it printed while it ran. */
async function toRam(c: EspruinoConsole, code: Uint8Array, o: FlashOptions, n: Counts, progress: (d: number, t: number) => void, step: (s: string) => void): Promise<string> {
  // Typed in as Espruino's tools do in RAM mode: every line with DLE (echo off), then a marker line.
  step(`typing ${code.length} B into the REPL`);
  const text = new TextDecoder('latin1').decode(code).replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  const m = c.mark();
  let done = 0;
  progress(0, code.length);
  for (const l of lines) {
    await c.write(`\x10${l}\n`);
    done += l.length + 1;
    n.chunks++;
    progress(Math.min(done, code.length), code.length);
    const said = c.since(m);
    if (/Uncaught |OUT OF MEMORY/.test(said)) {
      await sleep(150);
      throw boardError(c.since(m), 'typing the code in');
    }
  }
  try {
    await c.run('', { timeoutMs: o.commandTimeoutMs ?? 5000 });
  } catch (e) {
    const fe = e as FlashError;
    throw fe.code === 'TIMEOUT'
      ? new FlashError('TIMEOUT', 'the board did not come back to the prompt after the code: a statement may be incomplete (unbalanced brackets), or the code keeps the board busy', fe.boardSaid)
      : boardError(c.since(m), 'typing the code in');
  }
  const said = c.since(m);
  if (/Uncaught |OUT OF MEMORY/.test(said)) throw boardError(said, 'typing the code in');
  return said.replace(/<plk\d+><\/plk>\r?\n?/g, '');
}

async function verify(c: EspruinoConsole, code: Uint8Array, name: string, crc: number, hasCrc: boolean, cmdMs: number): Promise<{ ok: boolean; how: 'crc32' | 'readback'; detail: string }> {
  const fn = JSON.stringify(name);
  if (hasCrc) {
    // Noise on the line can change a digit of an answer: a mismatch counts once two answers agree.
    const ask = `(function(f){return f===undefined?null:[f.length,E.CRC32(f)]})(require("Storage").read(${fn}))`;
    let prev = '';
    for (let t = 1; ; t++) {
      const r = await query(c, ask, Math.max(cmdMs, 10_000), parses);
      const a = JSON.parse(r) as [number, number] | null;
      if (a && a[0] === code.length && a[1] === crc) return { ok: true, how: 'crc32', detail: `${a[0]} B, CRC32 ${hex(crc)}` };
      if (r === prev || t >= 3) {
        return { ok: false, how: 'crc32', detail: a ? `board: ${a[0]} B, CRC32 ${hex(a[1] >>> 0)}; bundle: ${code.length} B, CRC32 ${hex(crc)}` : `no file ${name} on the board` };
      }
      prev = r;
    }
  }
  // No E.CRC32 on this firmware: read the file back in base64 pieces (multiples of 3 bytes).
  const piece = 768;
  const len = Number(await query(c, `(require("Storage").read(${fn})||"").length`, cmdMs, (r) => /^\d+$/.test(r)));
  if (len !== code.length) return { ok: false, how: 'readback', detail: `board: ${len} B; bundle: ${code.length} B` };
  for (let off = 0; off < len; off += piece) {
    const b64 = JSON.parse(await query(c, `btoa(require("Storage").read(${fn},${off},${Math.min(piece, len - off)}))`, cmdMs, (r) => /^"[A-Za-z0-9+/=]*"$/.test(r))) as string;
    const got = Buffer.from(b64, 'base64');
    const want = code.subarray(off, Math.min(len, off + piece));
    if (!Buffer.from(want).equals(got)) {
      let i = 0;
      while (i < want.length && want[i] === got[i]) i++;
      return { ok: false, how: 'readback', detail: `first difference at byte ${off + i}` };
    }
  }
  return { ok: true, how: 'readback', detail: `${len} B read back` };
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

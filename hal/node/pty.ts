// A pair of joined pseudo-terminals for host tests and benchmarks: what one end writes, the other
// reads, like two serial ports wired together (a virtual null-modem cable). Host only.
//
// Choices: socat makes the pair (`socat -d -d pty,raw,echo=0 pty,raw,echo=0`): it is packaged
// everywhere (Debian package socat), needs no privileges, and prints both device paths on stderr at
// its -d -d notice level ("PTY is /dev/pts/N"). The pair is ready once socat says it is starting its
// data transfer loop. Neither pseudo-terminal has a baud rate: bytes move as fast as they are read, so
// a sender that must look like a UART paces itself (hal/node/serial.ts, option pace). close() stops
// socat (SIGTERM) and resolves once it has exited, which removes both devices.

import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface PtyPair {
  /** Path of one end (a /dev/pts/N device). */
  readonly a: string;
  /** Path of the other end. */
  readonly b: string;
  /** Stop socat; both devices disappear. Closing twice is harmless. */
  close(): Promise<void>;
}

const INSTALL = 'install socat (Debian package socat: apt-get install socat; macOS: brew install socat)';

/** True when a socat executable is on PATH. */
export function hasSocat(): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'socat'), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Start socat with two joined pseudo-terminals; resolves with their paths once data can flow. */
export function ptyPair(timeoutMs = 5000): Promise<PtyPair> {
  if (!hasSocat()) return Promise.reject(new Error(`ptyPair: socat not found on PATH; ${INSTALL}`));
  return new Promise<PtyPair>((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let closing: Promise<void> | null = null;
    const close = (): Promise<void> => {
      if (!closing) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        closing = exited;
      }
      return closing;
    };
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void close();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`ptyPair: socat did not report two pseudo-terminals within ${timeoutMs} ms; it said: ${err.trim() || '(nothing)'}`)), timeoutMs);
    child.once('error', (e: NodeJS.ErrnoException) => {
      fail(e.code === 'ENOENT' ? new Error(`ptyPair: socat could not be started (not found); ${INSTALL}`) : new Error(`ptyPair: socat could not be started: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      fail(new Error(`ptyPair: socat exited (${signal ?? 'code ' + code}) before the pair was ready; it said: ${err.trim() || '(nothing)'}`));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (settled) return; // socat's later notices (a closed end) are not ours to read
      err += d;
      const paths = [...err.matchAll(/PTY is (\S+)/g)].map((m) => m[1]);
      if (paths.length >= 2 && /starting data transfer loop/.test(err)) {
        settled = true;
        clearTimeout(timer);
        resolve({ a: paths[0], b: paths[1], close });
      }
    });
  });
}

/** Process ids whose parent is `pid` (Linux /proc; empty elsewhere). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let names: string[] = [];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    try {
      // stat: "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const st = readFileSync(`/proc/${n}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(n));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface PtyProgram {
  /** The pseudo-terminal the program's standard input and output are on. */
  readonly path: string;
  /** Stop the program (SIGKILL) and socat; resolves once socat has exited. */
  close(): Promise<void>;
}

/**
 * Run `program` with its standard input and output (and error) on a new pseudo-terminal, in raw mode,
 * as a board's console is on a serial port: socat `pty,raw,echo=0,link=…` `EXEC:program,pty,raw,echo=0,stderr`.
 * Resolves with the terminal's path once the program runs, in `cwd`.
 */
export function ptyProgram(program: string, cwd: string, timeoutMs = 5000): Promise<PtyProgram> {
  if (!hasSocat()) return Promise.reject(new Error(`ptyProgram: socat not found on PATH; ${INSTALL}`));
  if (/[,!:'"\\\s]/.test(program)) return Promise.reject(new Error(`ptyProgram: ${program}: socat's EXEC address cannot take a path with spaces, commas, colons or quotes`));
  return new Promise<PtyProgram>((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', `EXEC:${program},pty,raw,echo=0,stderr`], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // The program may ignore SIGTERM (Espruino's interpreter does), and socat's end leaves it running:
    // it is killed first, found as socat's child in /proc.
    const close = (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        for (const pid of childrenOf(child.pid!)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        child.kill('SIGTERM');
      }
      return exited;
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void close();
      reject(new Error(`ptyProgram: socat did not start ${program} within ${timeoutMs} ms; it said: ${err.trim() || '(nothing)'}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`ptyProgram: socat exited (${signal ?? 'code ' + code}) before ${program} ran; it said: ${err.trim() || '(nothing)'}`));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (settled) return;
      err += d;
      const m = /PTY is (\S+)/.exec(err);
      if (m && /starting data transfer loop/.test(err)) {
        settled = true;
        clearTimeout(timer);
        resolve({ path: m[1], close });
      }
    });
  });
}

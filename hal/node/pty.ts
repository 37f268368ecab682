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
import { accessSync, constants } from 'node:fs';
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

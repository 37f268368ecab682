// Shared by the dissector tests: find tshark, run it with picolink's dissector and a throwaway home
// (so it writes no configuration), write captures of hand-built frames, list frames a filter matches.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as assert from 'uvu/assert';
import { CAP, CAP_FLAG_SENT, CAP_MEDIUM, CAP_VERSION, fileSink, pcapWriter } from '../../../hal/mw/pcap.ts';

export const DISSECTOR = resolve(import.meta.dirname, '../../../host/wireshark/picolink.lua');
const QUIET = { ...process.env, WIRESHARK_LOG_LEVEL: 'critical' };

/** "tshark 4.0.17", or null when tshark is not on the PATH. */
export function tsharkVersion(): string | null {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8', env: QUIET });
  if (r.error || r.status !== 0) return null;
  const m = /\d+\.\d+\.\d+/.exec(r.stdout);
  return `tshark ${m ? m[0] : '(unknown version)'}`;
}

/** Whether this tshark has a built-in protocol of this filter name (e.g. "cbor"), which the dissector calls when present. */
export function tsharkHasProtocol(name: string): boolean {
  const r = spawnSync('tshark', ['-G', 'protocols'], { encoding: 'utf8', env: QUIET, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) return false;
  return r.stdout.split('\n').some((l) => l.split('\t')[2] === name);
}

/** Run tshark on `file` with the dissector; asserts it exits 0 without a script complaint. */
export function tshark(home: string, file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-X', `lua_script:${DISSECTOR}`, '-r', file, ...args], {
    encoding: 'utf8',
    env: { ...QUIET, HOME: home, XDG_CONFIG_HOME: home, WIRESHARK_CONFIG_DIR: home },
  });
  assert.is(r.status, 0, `tshark exited ${r.status}: ${r.stderr}`);
  assert.not.match(r.stderr, /lua/i, `tshark reported a script problem: ${r.stderr}`);
  return r.stdout;
}

export interface Rec { station: number; sent: boolean; frame: number[] }

/** Writes every record with the picolink pseudo-header (this proto, radio), one millisecond apart. */
export function writeCapture(path: string, recs: Rec[], proto: number): void {
  const sink = fileSink(path);
  const w = pcapWriter(sink);
  recs.forEach((r, i) => {
    const b = new Uint8Array(CAP.HDR + r.frame.length);
    b[CAP.VERSION] = CAP_VERSION;
    b[CAP.FLAGS] = r.sent ? CAP_FLAG_SENT : 0;
    b[CAP.STATION] = r.station >> 8;
    b[CAP.STATION + 1] = r.station & 0xff;
    b[CAP.PROTO] = proto;
    b[CAP.MEDIUM] = CAP_MEDIUM.radio;
    b[CAP.LEN] = r.frame.length >> 8;
    b[CAP.LEN + 1] = r.frame.length & 0xff;
    b.set(r.frame, CAP.HDR);
    w.record(1_000_000 + 1000 * i, b, b.length);
  });
  sink.close();
}

/** A capture of `recs` in a temporary folder for the duration of fn(dir, file). */
export function withCapture(name: string, recs: Rec[], proto: number, fn: (dir: string, file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), `picolink-${name}-`));
  try {
    const file = join(dir, `${name}.pcap`);
    writeCapture(file, recs, proto);
    fn(dir, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Frame numbers (1-based) tshark lists for a display filter. */
export function matching(dir: string, file: string, filter: string, extra: string[] = []): number[] {
  return tshark(dir, file, [...extra, '-Y', filter, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').filter((l) => l).map(Number);
}

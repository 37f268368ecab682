// Espruino's own interpreter built for Linux, where one is installed: picolink never ships or builds it,
// but tests and benchmarks use it to check bundles and the flasher against the real thing. It is named
// by the ESPRUINO environment variable (or PICOLINK_ESPRUINO), or found as `espruino` on PATH. Host only.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The interpreter's path, or null when none is named or found. */
export function findEspruino(): string | null {
  const env = process.env.ESPRUINO ?? process.env.PICOLINK_ESPRUINO;
  if (env) return existsSync(env) ? env : null;
  const r = spawnSync('sh', ['-c', 'command -v espruino'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Why a test that needs the interpreter skips. */
export const NO_ESPRUINO = 'no Espruino interpreter: set ESPRUINO=/path/to/espruino (Espruino\'s Linux build, `make` in its source tree) to run it';

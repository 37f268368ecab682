// Building one board's bundle from the host (the `build`, `flash` and `hil` verbs): the same rollup
// configuration as `npm run build` (rollup.config.js), so the file written, dist/<board>.js, is the one
// the build gate checked. Host only.

import { basename } from 'node:path';
import { rollup } from 'rollup';
import { boardConfig, boardFiles } from '../../rollup.config.js';
import type { BundleReport } from './rollup-plugin.ts';

export interface BuiltBundle {
  board: string;
  /** The bundle written (dist/<board>.js). */
  file: string;
  bytes: number;
  budgetBytes: number;
}

/** The boards there are (boards/<name>.ts). */
export function boardNames(): string[] {
  return boardFiles().map((f) => basename(f, '.ts'));
}

/**
 * Build `board`'s bundle. Rejects when there is no such board, or when the bundle fails a check (the
 * message names the rule or the budget); the error then carries what was measured in `built`.
 */
export async function buildBoard(board: string): Promise<BuiltBundle> {
  const file = boardFiles().find((f) => basename(f, '.ts') === board);
  if (!file) throw new Error(`no board named ${board}; the boards are ${boardNames().join(', ')}`);
  let report: BundleReport | null = null;
  const cfg = await boardConfig(file, (r: BundleReport) => { report = r; });
  const measured = (): BuiltBundle => {
    const r = report as BundleReport | null;
    return { board, file: cfg.output.file!, bytes: r?.bytes ?? 0, budgetBytes: r?.budgetBytes ?? 0 };
  };
  try {
    const b = await rollup({ ...cfg, output: undefined });
    try {
      await b.write(cfg.output);
    } finally {
      await b.close();
    }
  } catch (e) {
    throw Object.assign(e as Error, { built: measured() });
  }
  return measured();
}

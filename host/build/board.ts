// Building one bundle from the host (the `build`, `flash` and `hil` verbs): a board's main bundle or one
// of its role bundles (boards/board.ts, RoleBundle), with the same rollup configuration as `npm run
// build` (rollup.config.js), so the file written, dist/<name>.js, is the one the build gate checked.
// Each bundle says where it runs (boards/board.ts runtime): an Espruino bundle is checked against
// Espruino's language and its budget; a Deno or Node bundle (an ES module) against its budget only,
// and is not for flashing onto a board. Host only.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { rollup } from 'rollup';
import { boardBundles, boardConfig, boardFiles } from '../../rollup.config.js';
import type { BundleReport } from './rollup-plugin.ts';
import type { BoardInfo } from '../../boards/board.ts';

export interface BuiltBundle {
  /** The bundle's name (a board, or one of its role bundles). */
  board: string;
  /** The bundle written (dist/<name>.js). */
  file: string;
  bytes: number;
  budgetBytes: number;
  /** 'espruino', or 'deno' / 'node' for edge and host boards. */
  runtime: 'espruino' | 'deno' | 'node';
}

/** The boards there are (boards/<name>.ts). */
export function boardNames(): string[] {
  return boardFiles().map((f) => basename(f, '.ts'));
}

/**
 * The boards whose bundles go onto an Espruino board, for help texts that cannot wait for the board
 * files to load: a board file that declares `runtime: 'deno'` or `runtime: 'node'` is an edge or host
 * board (bundleList() says the same from the loaded files; a test holds the two together).
 */
export function espruinoBoardNames(): string[] {
  return boardFiles().filter((f) => !/\bruntime:\s*'(deno|node)'/.test(readFileSync(f, 'utf8'))).map((f) => basename(f, '.ts'));
}

/** Every bundle there is, with the board file it comes from: each board's, then its role bundles. */
export async function bundleList(): Promise<{ name: string; file: string; roles: string[] | null; runtime: 'espruino' | 'deno' | 'node' }[]> {
  const out: { name: string; file: string; roles: string[] | null; runtime: 'espruino' | 'deno' | 'node' }[] = [];
  for (const file of boardFiles()) {
    const { board } = (await import(file)) as { board: BoardInfo };
    for (const b of await boardBundles(file)) out.push({ name: b.name, file, roles: b.roles, runtime: board.runtime ?? 'espruino' });
  }
  return out;
}

/**
 * Build the bundle `name` (a board, or a role bundle such as sim-gateway). Rejects when there is no
 * such bundle, or when it fails a check (the message names the rule or the budget); the error then
 * carries what was measured in `built`.
 */
export async function buildBoard(name: string): Promise<BuiltBundle> {
  const all = await bundleList();
  const found = all.find((b) => b.name === name);
  if (!found) throw new Error(`no board or bundle named ${name}; there are ${all.map((b) => b.name).join(', ')}`);
  let report: BundleReport | null = null;
  const cfg = await boardConfig(found.file, (r: BundleReport) => { report = r; }, { bundle: name });
  const measured = (): BuiltBundle => {
    const r = report as BundleReport | null;
    return { board: name, file: cfg.output.file!, bytes: r?.bytes ?? 0, budgetBytes: r?.budgetBytes ?? 0, runtime: found.runtime };
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

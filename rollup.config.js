// One minified bundle per board file in boards/ (every .ts there except board.ts), written to
// dist/<board>.js, and one per role bundle the board declares (board.bundles: dist/<name>.js, with the
// ROLE_<ROLE> constants of the roles left out defined false, so their code is dropped): format iife with the global `picolink` = { board, create }. Type annotations are
// stripped by esbuild (target es2017: no lowering helpers Espruino cannot run); terser minifies with
// ES5 output settings (so it introduces no newer syntax) and hoists function declarations, which
// Espruino itself does not do. Each bundle must pass the Espruino language check and its byte budget,
// or the build fails. Boards with runtime 'deno' or 'node' (edge and host boards) are ES modules
// instead, unminified, checked against their byte budget only. Run through `npm run build` (it loads TypeScript with tsx).
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import esbuild from 'rollup-plugin-esbuild';
import terser from '@rollup/plugin-terser';
import { boardEntry, entryId, espruinoGate } from './host/build/rollup-plugin.ts';

const root = import.meta.dirname;

/**
 * @param {boolean} [hoistFuns]
 * @returns {import('@rollup/plugin-terser').Options}
 */
export function terserOptions(hoistFuns = true) {
  return {
    ecma: /** @type {const} */ (5),
    toplevel: true,
    compress: { ecma: /** @type {const} */ (5), hoist_funs: hoistFuns, passes: 2, toplevel: true, top_retain: ['picolink'], pure_getters: true },
    mangle: { toplevel: true, reserved: ['picolink'] },
    format: { ecma: /** @type {const} */ (5), comments: false },
  };
}

/** Role flags a board's create() may test (ROLE_SENSOR, ...): defined true or false per bundle. slave: a piconet slave; node: a full node (MAC, request-reply, Psync); pins: the pins service. */
export const ROLE_FLAGS = ['sensor', 'gateway', 'tunnel', 'hub', 'wearable', 'slave', 'node', 'pins'];

/**
 * The bundles of a board file: its main one (every role) and its role bundles (board.bundles).
 * @param {string} file
 * @returns {Promise<{ name: string, roles: string[] | null, budgetBytes: number }[]>}
 */
export async function boardBundles(file) {
  const { board } = await import(file);
  return [{ name: board.name, roles: null, budgetBytes: board.budgetBytes }, ...(board.bundles ?? [])];
}

/**
 * Rollup options for one bundle of a board file (absolute path to boards/<name>.ts): the main bundle,
 * or with `opts.bundle` one of board.bundles. `opts.hoistFuns: false` is for tests; `opts.autostart:
 * false` leaves out the call of create() a self-starting board's bundle makes (for measuring it).
 * @param {string} file
 * @param {(r: import('./host/build/rollup-plugin.ts').BundleReport) => void} [report]
 * @param {{ hoistFuns?: boolean, bundle?: string, autostart?: boolean }} [opts]
 * @returns {Promise<import('rollup').RollupOptions & { output: import('rollup').OutputOptions }>}
 */
export async function boardConfig(file, report, opts = {}) {
  const { board } = await import(file);
  const variant = opts.bundle && opts.bundle !== board.name ? (board.bundles ?? []).find((b) => b.name === opts.bundle) : null;
  if (opts.bundle && opts.bundle !== board.name && !variant) throw new Error(`board ${board.name} has no bundle ${opts.bundle}`);
  const info = variant ? { ...board, name: variant.name, budgetBytes: variant.budgetBytes } : board;
  const define = Object.fromEntries(ROLE_FLAGS.map((r) => [`ROLE_${r.toUpperCase()}`, String(!variant || variant.roles.includes(r))]));
  // Edge and host boards (runtime 'deno' or 'node') run under a full runtime: an ES module, modern
  // syntax, unminified, Node's built-ins left as imports; the gate checks only their byte budget.
  const hosted = isHosted(board);
  return {
    input: entryId(board),
    output: hosted
      ? { file: resolve(root, 'dist', info.name + '.js'), format: /** @type {const} */ ('es') }
      : { file: resolve(root, 'dist', info.name + '.js'), format: /** @type {const} */ ('iife'), name: 'picolink', strict: false, generatedCode: /** @type {const} */ ('es5'), plugins: [terser(terserOptions(opts.hoistFuns !== false))] },
    external: hosted ? (id) => id.startsWith('node:') : undefined,
    plugins: [boardEntry(file, opts.autostart === false ? { ...board, autostart: false } : board), esbuild({ target: hosted ? 'es2022' : 'es2017', minify: false, sourceMap: false, define }), espruinoGate(info, report)],
    onwarn(w, warn) {
      if (w.code === 'CIRCULAR_DEPENDENCY') throw new Error(`board ${board.name}: ${w.message}`);
      warn(w);
    },
  };
}

/**
 * Does a board run under Deno or Node rather than Espruino (boards/board.ts runtime)?
 * @param {{ runtime?: string }} board
 */
export function isHosted(board) {
  return board.runtime === 'deno' || board.runtime === 'node';
}

export function boardFiles() {
  return readdirSync(resolve(root, 'boards')).filter((f) => f.endsWith('.ts') && f !== 'board.ts').sort().map((f) => resolve(root, 'boards', f));
}

const report = (r) => console.log(`${r.board.padEnd(10)} ${String(r.bytes).padStart(6)} bytes of ${r.budgetBytes} budget (${((100 * r.bytes) / r.budgetBytes).toFixed(0)}%)`);

export default (await Promise.all(boardFiles().map(async (f) => Promise.all((await boardBundles(f)).map((b) => boardConfig(f, report, { bundle: b.name })))))).flat();

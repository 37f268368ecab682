// Bundle size. Each board's minified bundle in bytes against its budget (boards/<name>.ts), and, when
// an Espruino interpreter is at hand (ESPRUINO or `espruino` on PATH), the JsVars the bundle
// occupies once loaded from Storage as a flashed board runs it (.bootcde and load(); see footprint.ts
// for why that differs from text) (process.memory().usage after load minus before, on the Linux build; for the
// simulator board, after create() of a sensor too) against the JsVars of the board it is meant for.
// Headline: the largest bundle's share of its budget.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { rollup } from 'rollup';
import type { BenchResult, BenchRow } from './run.ts';
import { findEspruino } from '../host/sim/espruino-linux.ts';
import { boardConfig, boardFiles } from '../rollup.config.js';


/**
 * JsVars `code` (a bundle) occupies on the interpreter `bin` once loaded and `after` has run
 * (process.memory().usage after minus before), or null when it did not load. Shared with footprint.ts.
 * `from`: 'text' evaluates the bundle as source text (as typed into the REPL: every function's code is
 * copied into JsVars); 'storage' writes it to Storage's .bootcde and runs it with load(), as
 * `picolink flash` installs it on a board, so that functions' code stays in flash (see footprint.ts).
 */
export function jsvarsOf(bin: string, code: string, after: string, from: 'text' | 'storage' = 'text'): number | null {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-size-'));
  // Run as a board runs it, not wrapped in a function of the measurement's own: Espruino stores with
  // each function it creates the scopes it closes over, one scope as is and two or more as a copied
  // array (jspeiGetScopesAsVar, src/jsparse.c), so a wrapper would cost every closure one more JsVar.
  // Callers pass a bundle built without a self-starting board's create() call (it would reach for
  // hardware): only loading, and then `after`, counts.
  const body = `var m0 = process.memory().usage;\n${code}\nvar p = picolink;\n${after}\nprint('JSVARS ' + (process.memory().usage - m0));\n`;
  const file = join(dir, 'b.js');
  if (from === 'text') writeFileSync(file, `${body}quit();\n`);
  else {
    // The Linux build keeps Storage in ./espruino.flash (cwd: the temporary directory). After load()
    // the native quit() is gone; E.reboot() ends the Linux build (it is not implemented there).
    writeFileSync(join(dir, 'boot.js'), `${body}E.reboot();\n`);
    writeFileSync(file, `require('Storage').write('.bootcde', require('fs').readFileSync(${JSON.stringify(join(dir, 'boot.js'))}));\nload();\n`);
  }
  const r = spawnSync(bin, [file], { encoding: 'utf8', timeout: 30_000, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  rmSync(dir, { recursive: true, force: true });
  const m = /JSVARS (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

export async function bench(): Promise<BenchResult> {
  const rows: BenchRow[] = [];
  const bin = findEspruino();
  let worst = 0;
  for (const file of boardFiles()) {
    const cfg = await boardConfig(file);
    const b = await rollup({ ...cfg, output: undefined });
    const code = (await b.generate(cfg.output)).output[0].code;
    await b.close();
    const { board } = await import(file);
    const bytes = Buffer.byteLength(code);
    worst = Math.max(worst, bytes / board.budgetBytes);
    rows.push({ name: `${board.name} bundle`, value: bytes, unit: 'bytes', note: `${((100 * bytes) / board.budgetBytes).toFixed(0)}% of ${board.budgetBytes} budget, ${gzipSync(code).length} gzipped` });
    // Boards whose runtime is deno or node are ES modules for a full runtime, not Espruino bundles.
    if (bin && (board.runtime ?? 'espruino') === 'espruino') {
      const create = board.name === 'sim'
        ? `var clk = { now: function () { return 0; }, at: function () { return 0; }, cancel: function () {} };
           var lk = { caps: { mtu: 32, bitrate: 250000, medium: 'radio', carrierSense: true, broadcast: true }, send: function () { return true; }, onReceive: function () {}, onSent: function () {}, busy: function () { return false; } };
           var dev = p.create({ role: 'sensor', id: 1, radio: lk, clock: clk, rng: { u32: function () { return 7; } } });`
        : '';
      // Loaded without a self-starting board's create() call, which would reach for its hardware.
      let inert = code;
      if (board.autostart) {
        const c2 = await boardConfig(file, undefined, { autostart: false });
        const b2 = await rollup({ ...c2, output: undefined });
        inert = (await b2.generate(c2.output)).output[0].code;
        await b2.close();
      }
      const v = jsvarsOf(bin, inert, create, 'storage');
      if (v === null) throw new Error(`size: the ${board.name} bundle did not load on Espruino (${bin})`);
      rows.push({ name: `${board.name} loaded${board.name === 'sim' ? ' + sensor' : ''}`, value: v, unit: 'JsVars', note: board.jsvars ? `${((100 * v) / board.jsvars).toFixed(0)}% of the board's ${board.jsvars}` : board.name === 'sim' ? 'Espruino Linux build; one sensor made on stand-in clock and radio (mtu 32): not footprint\'s figure, which creates each role bundle\'s own role' : 'Espruino Linux build' });
    }
  }
  if (!bin) rows.push({ name: 'JsVars', value: 0, unit: '-', note: 'not measured: set ESPRUINO to an Espruino interpreter' });
  return { name: 'size', rows, headline: { label: 'largest bundle / its byte budget', ratio: worst } };
}

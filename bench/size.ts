// Bundle size. Each board's minified bundle in bytes against its budget (boards/<name>.ts), and, when
// an Espruino interpreter is at hand (ESPRUINO or `espruino` on PATH), the JsVars the bundle
// occupies once loaded (process.memory().usage after load minus before, on the Linux build; for the
// simulator board, after create() of a sensor too) against the JsVars of the board it is meant for.
// Headline: the largest bundle's share of its budget.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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
 */
export function jsvarsOf(bin: string, code: string, after: string): number | null {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-size-'));
  const file = join(dir, 'b.js');
  // Wrap in a function so the bundle's autostart (real boards) cannot reach hardware: only loading counts.
  writeFileSync(file, `var m0 = process.memory().usage;\nvar load = function () {\n${code}\nreturn picolink;\n};\nvar p = load();\n${after}\nprint('JSVARS ' + (process.memory().usage - m0));\nquit();\n`);
  const r = spawnSync(bin, [file], { encoding: 'utf8', timeout: 30_000 });
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
    if (bin) {
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
      const v = jsvarsOf(bin, inert, create);
      if (v === null) throw new Error(`size: the ${board.name} bundle did not load on Espruino (${bin})`);
      rows.push({ name: `${board.name} loaded${board.name === 'sim' ? ' + sensor' : ''}`, value: v, unit: 'JsVars', note: board.jsvars ? `${((100 * v) / board.jsvars).toFixed(0)}% of the board's ${board.jsvars}` : 'Espruino Linux build' });
    }
  }
  if (!bin) rows.push({ name: 'JsVars', value: 0, unit: '-', note: 'not measured: set ESPRUINO to an Espruino interpreter' });
  return { name: 'size', rows, headline: { label: 'largest bundle / its byte budget', ratio: worst } };
}

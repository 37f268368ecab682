// Benchmark runner: `npm run bench -- <name> [--json]` runs bench/<name>.ts; no name lists them.
// Each benchmark measures picolink and a reference in the same run and reports their ratio, because
// the machines are shared and absolute times drift. The table goes to stdout, the headline ratio last;
// with --json, one JSON object is printed instead.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

export interface BenchRow { name: string; value: number; unit: string; note?: string }
export interface BenchResult {
  name: string;
  rows: BenchRow[];
  /** The one figure to remember: picolink against the reference measured in the same run. */
  headline: { label: string; ratio: number };
  /** What --json prints, when a benchmark promises a shape of its own (default: this whole result). */
  json?: unknown;
}
export type Bench = (args: string[]) => Promise<BenchResult> | BenchResult;

const dir = resolve(import.meta.dirname);
const names = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.slice(0, -3)).sort();
const args = process.argv.slice(2);
const json = args.includes('--json');
const name = args.find((a) => !a.startsWith('-'));
if (!name || !names.includes(name)) {
  console.error(name ? `no benchmark named "${name}".` : 'which benchmark?');
  console.error(`usage: npm run bench -- <name> [--json]   where <name> is one of: ${names.join(', ')}`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { bench: Bench };
const res = await mod.bench(args.filter((a) => a !== name));
if (json) {
  console.log(JSON.stringify(res.json ?? res));
} else {
  const w = Math.max(...res.rows.map((r) => r.name.length), 8);
  console.log(`bench ${res.name}`);
  for (const r of res.rows) {
    const v = Number.isInteger(r.value) ? String(r.value) : r.value.toPrecision(4);
    console.log(`  ${r.name.padEnd(w)}  ${v.padStart(12)} ${r.unit}${r.note ? `  (${r.note})` : ''}`);
  }
  console.log(`${res.headline.label}: ${res.headline.ratio.toFixed(3)}`);
}

// Command-line front end of the Espruino language check (espruino-check.ts) for board bundles:
//   node --import tsx host/build/check-cli.ts [--no-hoisting] [--ignore=rule,rule] dist/*.js
// Prints one `file:line:col rule message` per problem; exits 1 if there are any, 2 on a usage or read error.
// An ES module (a line that starts with `import` or `export`, as in the deno-edge and node-host
// bundles; a minified Espruino bundle is one IIFE) is not Espruino code: it is named as skipped.

import { readFileSync } from 'node:fs';
import { checkEspruino, RULES } from './espruino-check.ts';
import type { CheckOptions } from './espruino-check.ts';

const files: string[] = [];
const opts: CheckOptions = {};
for (const a of process.argv.slice(2)) {
  if (a === '--no-hoisting') opts.hoisting = false;
  else if (a.startsWith('--ignore=')) opts.ignore = a.slice('--ignore='.length).split(',').filter((r) => r !== '');
  else if (a.startsWith('--forbid=')) opts.forbid = a.slice('--forbid='.length).split(',').filter((r) => r !== '');
  else if (a === '--rules') {
    for (const [rule, what] of Object.entries(RULES)) console.log(`${rule}: ${what}`);
    process.exit(0);
  } else if (a.startsWith('-')) {
    console.error(`unknown option ${a}`);
    process.exit(2);
  } else files.push(a);
}

if (files.length === 0) {
  console.error('usage: check-cli.ts [--no-hoisting] [--ignore=rule,...] [--forbid=Name,Obj.member,...] [--rules] bundle.js...');
  process.exit(2);
}

let count = 0;
let skipped = 0;
for (const file of files) {
  let code: string;
  try {
    code = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(`${file}: cannot read (${(e as Error).message})`);
    process.exit(2);
  }
  if (/^(?:import|export)\b/m.test(code)) {
    console.error(`${file}: an ES module (for Deno or Node), not an Espruino bundle: skipped`);
    skipped++;
    continue;
  }
  for (const p of checkEspruino(code, opts)) {
    console.log(`${file}:${p.line}:${p.column} ${p.rule} ${p.message}`);
    count++;
  }
}
const checked = files.length - skipped;
console.error((count === 0
  ? `espruino-check: ${checked} file(s), no problems`
  : `espruino-check: ${count} problem(s) in ${checked} file(s)`) + (skipped > 0 ? `; ${skipped} ES module(s) skipped` : ''));
process.exit(count === 0 ? 0 : 1);

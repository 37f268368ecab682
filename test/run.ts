// Runs every uvu test file under test/ (files ending in .test.ts), in one process.
// `npm test -- cbor` runs only the files whose path contains "cbor".
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'uvu/run';

const root = resolve(import.meta.dirname);
const filter = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(root, []).filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filter.join(' ')}; test files live under test/ and end in .test.ts`);
  process.exit(2);
}
await run(files.map((file) => ({ name: relative(root, file), file })), { bail: false });

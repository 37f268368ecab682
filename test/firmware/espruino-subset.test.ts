// Every module under firmware/ (and the hal contracts and prng) is board code, whether or not a board
// bundle reaches it yet: bundle them all together the way board bundles are built (esbuild, terser,
// iife) and run the Espruino language check on the result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';
import terser from '@rollup/plugin-terser';
import { terserOptions } from '../../rollup.config.js';
import { checkEspruino } from '../../host/build/espruino-check.ts';

const root = resolve(import.meta.dirname, '../..');

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (n.endsWith('.ts') && !n.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

test('all of firmware/ and the hal contracts stay inside the JavaScript Espruino runs', async () => {
  const files = [...tsFiles(join(root, 'firmware')), ...['link', 'serial', 'clock', 'rng', 'prng', 'store'].map((n) => join(root, 'hal', n + '.ts')), join(root, 'hal/espruino/storage.ts')];
  assert.ok(files.length > 15);
  // One entry that re-exports every module under its own name, so nothing is shaken out.
  const entry = files.map((f, i) => `export * as m${i} from ${JSON.stringify(f)};`).join('\n');
  const b = await rollup({
    input: '\0all',
    plugins: [
      { name: 'all', resolveId: (id) => (id === '\0all' ? id : null), load: (id) => (id === '\0all' ? entry : null) },
      esbuild({ target: 'es2017' }),
    ],
  });
  const out = await b.generate({ format: 'iife', name: 'all', strict: false, freeze: false, generatedCode: 'es5', plugins: [terser(terserOptions())] });
  await b.close();
  const problems = checkEspruino(out.output[0].code);
  assert.equal(problems.map((p) => `${p.rule}: ${p.message}`), [], `modules: ${files.map((f) => relative(root, f)).join(', ')}`);
});

test.run();

// log.ts's serving walk on Espruino's interpreter (the Linux build, named by ESPRUINO): the driver
// (log-espruino-driver.ts) bundled as a board bundle is (esbuild, terser, iife), run there and in Node;
// the two transcripts must be equal, and the Node one says what the walk must do. Skips with a message
// when no interpreter is found.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';
import terser from '@rollup/plugin-terser';
import { terserOptions } from '../../../rollup.config.js';
import { findEspruino, NO_ESPRUINO } from '../../../host/sim/espruino-linux.ts';
import { logServing } from './log-espruino-driver.ts';

function inNode(): string[] {
  const out: string[] = [];
  logServing((s) => out.push(s));
  return out;
}

test('in Node: answers of at most 4 records read, oldest first; a copy kept is left to psync and does not block the rest; RESENT cleared', () => {
  const out = inNode();
  assert.equal(out.slice(0, 6), [
    'to 0: 1,2,3,4 kinds 9', // 4 records read: the answer is full; RESENT (0x04) cleared on 1 and 3
    'to 0: 6,7,8 kinds 9', // on from where the last walk stopped; 5 has a copy at the endpoint: psync sends it
    'to 0: 9,10 kinds 9', // the end of the log
    'to 0:  kinds 0', // from the cursor: 1-4 are in its view now, the cursor moves past them
    'to 1:  kinds 0', // another requester (frontier 8), its own cursor: 1-4 read, nothing it lacks yet
    'to 0:  kinds 0', // 5-8 in its view too: the cursor moves on
  ]);
  assert.is(out[6], 'to 1 after its restart: 1,2,3,4', 'a frontier that went back starts from the first record');
  assert.ok(out[7].startsWith('complete true '), out[7]);
});

test('on Espruino: the same transcript', async () => {
  const espruino = findEspruino();
  if (!espruino) {
    console.log(`  skip: ${NO_ESPRUINO}`);
    return;
  }
  const b = await rollup({
    input: '\0drv',
    plugins: [
      { name: 'drv', resolveId: (id) => (id === '\0drv' ? id : null), load: (id) => (id === '\0drv' ? `import { logServing } from ${JSON.stringify(join(import.meta.dirname, 'log-espruino-driver.ts'))};\nlogServing(print);` : null) },
      esbuild({ target: 'es2017' }),
    ],
  });
  const out = await b.generate({ format: 'iife', strict: false, freeze: false, generatedCode: 'es5', plugins: [terser(terserOptions())] });
  await b.close();
  const dir = mkdtempSync(join(tmpdir(), 'picolink-log-'));
  try {
    const file = join(dir, 'log.js');
    writeFileSync(file, out.output[0].code);
    const r = spawnSync(espruino, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', input: '' });
    const lines = r.stdout.split('\n').map((l) => l.replace(/^>/, '').trim()).filter((l) => l.startsWith('to ') || l.startsWith('complete '));
    assert.equal(lines, inNode(), r.stdout.slice(-2000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

// host/build/board.ts: the list of Espruino boards that help texts read from the board files' text
// (espruinoBoardNames) is the list the loaded board files give (bundleList's runtimes), and `flash
// --help` offers exactly those boards: none of the Deno or Node ones, which flash refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { boardNames, bundleList, espruinoBoardNames } from '../../../host/build/board.ts';
import { run } from '../../../host/cli/main.ts';

test('espruinoBoardNames agrees with the runtimes of the loaded board files', async () => {
  const list = await bundleList();
  const fromFiles = boardNames().filter((n) => list.find((b) => b.name === n)!.runtime === 'espruino');
  assert.equal(espruinoBoardNames(), fromFiles);
  assert.ok(fromFiles.length < boardNames().length, 'some boards are hosted (deno-edge, node-host)');
});

test('flash --help lists only the boards it can flash', async () => {
  let out = '';
  await run(['flash', '--help'], { out: (s) => { out += s; }, err: () => {} });
  const listed = /\(boards: ([^)]*)\)/.exec(out.replace(/\s+/g, ' '));
  assert.ok(listed, out);
  assert.equal(listed![1].split(', '), espruinoBoardNames());
  assert.not.match(listed![1], /deno-edge|node-host/);
});

test.run();

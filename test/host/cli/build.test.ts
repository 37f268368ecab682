// `picolink build` (host/cli/build.ts): builds a board's bundle as `npm run build` does and reports its
// size against its budget; the size printed is the size of the file written; an unknown board is a
// usage error naming the boards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import { run } from '../../../host/cli/main.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

test('build --board pico --json: the bundle written, its size and budget', async () => {
  const r = await cli('build', '--board', 'pico', '--json');
  assert.is(r.code, 0, r.err);
  const [b] = JSON.parse(r.out) as { board: string; file: string; bytes: number; budgetBytes: number; ok: boolean }[];
  assert.is(b.board, 'pico');
  assert.ok(b.ok);
  assert.is(b.bytes, statSync(b.file).size, 'the size reported is the file written');
  assert.ok(b.bytes > 1000 && b.bytes <= b.budgetBytes);
  const t = await cli('build', '--board', 'pico');
  assert.match(t.out, /^BOARD +BYTES +BUDGET +USE +RESULT\npico +\d+ +12288 +\d+% +ok: /);
});

test('build --board with an unknown name exits 2 and lists the boards and bundles', async () => {
  const r = await cli('build', '--board', 'no-such-board');
  assert.is(r.code, 2);
  assert.match(r.err, /no board or bundle named no-such-board; there are [\w, -]*\bpico-nrf24, pico-nrf24-sensor\b[\w, -]*\bsim, sim-sensor, sim-gateway\b/);
});

test.run();

// The j5 benchmark (bench/j5.ts) runs in its quick mode and returns a well-formed result: every row
// finite, both paths measured, a positive headline ratio. Timings are not asserted (shared machines).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bench } from '../../bench/j5.ts';

test('bench j5 runs and reports a ratio, on the device network and through a bridge', async () => {
  const r = await bench(['--quick', '--n=5']);
  assert.is(r.name, 'j5');
  assert.is(r.rows.length, 8);
  for (const row of r.rows) assert.ok(Number.isFinite(row.value) && row.value > 0, `${row.name} = ${row.value}`);
  assert.ok(Number.isFinite(r.headline.ratio) && r.headline.ratio > 0, `headline ${r.headline.ratio}`);
  const j = r.json as { direct: { ratio: number }; bridge: { ratio: number }; n: number };
  assert.is(j.n, 5);
  assert.ok(j.direct.ratio > 0 && j.bridge.ratio > 0);
});

test.run();

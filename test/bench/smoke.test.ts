// Every benchmark runs (in its quick mode) and returns a well-formed result with a finite headline
// ratio. Timings are not asserted: machines are shared and noisy; this only keeps `npm run bench` working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BenchResult } from '../../bench/run.ts';
import { hasSocat } from '../../hal/node/pty.ts';

const cases: [string, string[]][] = [
  ['sim', ['--quick']],
  ['cbor', ['--ms=20', '--rounds=1']],
  ['framing', ['--quick']],
  ['size', []],
  ['footprint', []],
  ['csma', ['--quick']],
  ['csma-hidden', ['--quick']],
  ['piconet', ['--quick']],
  ['rr', ['--quick', '--rounds=1', '--calls=20', '--ms=50']],
  ['psync', ['--quick', '--calls=20', '--passes=100', '--sizes=100,1000', '--window=100']],
  ['bridge', ['--quick', '--rounds=1', '--calls=20', '--ms=50']],
];
// The serial benchmark needs a pseudo-terminal pair from socat.
if (hasSocat()) cases.push(['serial', ['--seconds=1']]);
else console.log('  bench serial smoke test skipped: socat is not installed (Debian package socat)');

for (const [name, args] of cases) {
  test(`bench ${name} runs and reports a ratio`, async () => {
    const mod = (await import(`../../bench/${name}.ts`)) as { bench: (a: string[]) => Promise<BenchResult> | BenchResult };
    const r: BenchResult = await mod.bench(args);
    assert.is(r.name, name);
    assert.ok(r.rows.length >= 2);
    for (const row of r.rows) assert.ok(Number.isFinite(row.value), `${row.name} = ${row.value}`);
    assert.ok(Number.isFinite(r.headline.ratio) && r.headline.ratio > 0, `headline ${r.headline.ratio}`);
  });
}

test('bench footprint --json has the shape the boards issue asks for, one entry per bundle', async () => {
  const mod = await import('../../bench/footprint.ts');
  const r = await mod.bench();
  const j = r.json as { bundles: Record<string, unknown>[]; breakdown: { bundle: string; modules: { module: string; bytes: number }[] } };
  const names = j.bundles.map((b) => b.board);
  for (const n of ['pico', 'sim', 'sim-sensor', 'sim-gateway', 'pico-nrf24-node', 'pico-nrf24-slave']) assert.ok(names.includes(n), n);
  // The breakdown is of the full node, and its modules add up to about its bundle (within 10 %).
  assert.is(j.breakdown.bundle, 'pico-nrf24-node');
  const full = j.bundles.find((b) => b.board === 'pico-nrf24-node')!.bytes as number;
  const sum = j.breakdown.modules.reduce((a, m) => a + m.bytes, 0);
  assert.ok(Math.abs(sum - full) < full / 10, `modules ${sum} bytes, bundle ${full}`);
  assert.ok(j.breakdown.modules.some((m) => m.module === 'firmware/psync/psync.ts'));
  for (const b of j.bundles) {
    assert.equal(Object.keys(b).sort(), ['board', 'boardJsvars', 'budget', 'bytes', 'gzipBytes', 'jsvars', 'jsvarsCreated', 'jsvarsCreatedText', 'jsvarsText', 'role']);
    assert.ok((b.gzipBytes as number) < (b.bytes as number) && (b.bytes as number) <= (b.budget as number));
    // Run from Storage, functions' code stays in flash: never more JsVars than the same bundle as text.
    if (b.jsvars !== null) assert.ok((b.jsvars as number) <= (b.jsvarsText as number), `${b.board}: ${b.jsvars} from Storage, ${b.jsvarsText} as text`);
  }
});

test.run();

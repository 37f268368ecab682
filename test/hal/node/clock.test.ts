import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { realClock } from '../../../hal/node/clock.ts';

test('real clock: integer µs, monotonic, timers in (due, set) order, never early, never inside at()', async () => {
  const c = realClock();
  const a = c.now();
  assert.ok(Number.isInteger(a));
  const seen: string[] = [];
  const late: number[] = [];
  const base = c.now();
  const mark = (name: string, due: number) => () => { seen.push(name); late.push(c.now() - due); };
  c.at(base + 20_000, mark('c20', base + 20_000));
  c.at(base + 5_000, mark('a5', base + 5_000));
  c.at(base + 5_000, mark('b5', base + 5_000));
  c.at(base - 1000, mark('past', base));
  assert.equal(seen, [], 'nothing runs inside at()');
  const x = c.at(base + 10_000, mark('cancelled', 0));
  c.cancel(x);
  c.cancel(x);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(seen, ['past', 'a5', 'b5', 'c20']);
  assert.ok(late.every((l) => l >= 0), `early: ${late}`);
  assert.ok(c.now() >= a + 60_000 - 5_000);
  c.close();
});

test('real clock: a timer set from a callback for "now" runs after the current one', async () => {
  const c = realClock();
  const seen: number[] = [];
  c.at(c.now() + 1000, () => {
    seen.push(1);
    c.at(c.now(), () => seen.push(3));
    seen.push(2);
  });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(seen, [1, 2, 3]);
  c.close();
});

test.run();

// The edge node (firmware/edge/node.ts, the stack of deno-edge and node-host) on a simulated medium in
// virtual time: a call to another edge node prints one JSON line with the result; a call to a station
// that is not there prints the error code and, in words, why (RR_ERROR_NAMES: "timeout").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { edgeNode, OP_ECHO } from '../../../firmware/edge/node.ts';
import { RR_E_TIMEOUT, RR_OK } from '../../../firmware/rr/rr.ts';

test('a call prints its result; a call to nobody prints err and why', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 256, propagationUs: 1 });
  const lines: Record<string, unknown>[] = [];
  const a = edgeNode({ link: m.station().link, clock: s, rng: xoshiro(1), addr: 7, runtime: 'test', print: (l) => lines.push(JSON.parse(l)) });
  edgeNode({ link: m.station().link, clock: s, rng: xoshiro(2), addr: 2, runtime: 'test' });
  const outcomes: number[] = [];
  assert.is(a.call(2, OP_ECHO, 'hello', (err) => outcomes.push(err)), RR_OK);
  s.runUntil(5_000_000);
  assert.is(a.call(9, OP_ECHO, 'anyone?', (err) => outcomes.push(err)), RR_OK);
  s.runUntil(60_000_000);
  assert.equal(outcomes, [RR_OK, RR_E_TIMEOUT]);
  const calls = lines.filter((l) => l.ev === 'call');
  assert.is(calls.length, 2);
  assert.equal([calls[0].dst, calls[0].err, calls[0].result, 'why' in calls[0]], [2, RR_OK, 'hello', false]);
  assert.equal([calls[1].dst, calls[1].err, calls[1].result, calls[1].why], [9, RR_E_TIMEOUT, null, 'timeout']);
});

test.run();

// The host's request-reply endpoint (host/rr/endpoint.ts) between two endpoints on loopback UDP
// (hal/node/udp.ts under the raw MAC), on the real clock: the Promise form, cbor-x values, remote
// errors against local timeouts, handlers that return Promises, the wait queue, and UDP multicast
// as a shared medium.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { udpLink } from '../../../hal/node/udp.ts';
import type { UdpLink } from '../../../hal/node/udp.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { PROTO_R, PROTO_RRA } from '../../../firmware/rr/frame.ts';
import { RR_E_BAD_ARGS, RR_E_HANDLER, RR_E_TIMEOUT, RR_E_UNKNOWN_OP } from '../../../firmware/rr/rr.ts';
import { RrError, hostRr } from '../../../host/rr/endpoint.ts';

async function pair() {
  const la = udpLink({ peers: [] });
  const lb = udpLink({ peers: [] });
  const [ea, eb] = await Promise.all([la.bound(), lb.bound()]);
  la.setPeers([eb]);
  lb.setPeers([ea]);
  const clock = realClock();
  const rng = xoshiro(7);
  const a = hostRr({ mac: rawMac(la, 1, 64), clock, rng, config: { timeoutUs: 50_000, retries: 2 } });
  const b = hostRr({ mac: rawMac(lb, 2, 64), clock, rng });
  return { la, lb, a, b, clock, close: async () => { clock.close(); await Promise.all([la.close(), lb.close()]); } };
}

test('calls resolve with cbor-x values; R resolves once sent; RRA acknowledges', async () => {
  const n = await pair();
  try {
    n.b.register(1, (args) => ({ echo: args, n: 'x'.repeat(3) }));
    const args = { s: 'héllo', list: [1, -2, 3.5, null, true], bytes: new Uint8Array([1, 2, 3]), nested: { a: { b: [] } } };
    assert.equal(await n.a.call(2, 1, args), { echo: args, n: 'xxx' });
    let ran = 0;
    n.b.register(2, () => { ran++; });
    assert.is(await n.a.call(2, 2, 5, { proto: PROTO_R }), undefined);
    assert.equal(await n.a.call(2, 1, 'last', { proto: PROTO_RRA }), { echo: 'last', n: 'xxx' });
    await new Promise((r) => setTimeout(r, 20));
    assert.is(ran, 1, 'the R call ran on the server');
    assert.is(n.b.stats.acksReceived, 1);
    assert.is(n.b.endpoint.historySize(), 0);
  } finally {
    await n.close();
  }
});

test('remote errors reject with their code and remote=true; a silent peer times out', async () => {
  const n = await pair();
  try {
    n.b.register(1, () => { throw new Error('boom'); });
    n.b.register(2, () => { throw new RrError(RR_E_BAD_ARGS); });
    n.b.register(3, async (x) => { await new Promise((r) => setTimeout(r, 5)); if (x === 0) throw new Error('later'); return (x as number) * 2; });
    const err = async (p: Promise<unknown>): Promise<RrError> => {
      try {
        await p;
      } catch (e) {
        return e as RrError;
      }
      throw new Error('expected a rejection');
    };
    let e = await err(n.a.call(2, 1));
    assert.is(e.code, RR_E_HANDLER);
    assert.ok(e.remote);
    e = await err(n.a.call(2, 2));
    assert.is(e.code, RR_E_BAD_ARGS);
    e = await err(n.a.call(2, 9));
    assert.is(e.code, RR_E_UNKNOWN_OP);
    assert.match(e.message, /unknown operation/);
    assert.is(await n.a.call(2, 3, 21), 42, 'a handler may answer with a Promise');
    e = await err(n.a.call(2, 3, 0));
    assert.is(e.code, RR_E_HANDLER);
    e = await err(n.a.call(77, 1)); // nobody has address 77
    assert.is(e.code, RR_E_TIMEOUT);
    assert.not.ok(e.remote);
    assert.ok(n.a.stats.retries >= 2);
  } finally {
    await n.close();
  }
});

test('many calls at once wait for slots and all complete, each run once', async () => {
  const n = await pair();
  try {
    const runs = new Map<number, number>();
    n.b.register(1, (x) => { runs.set(x as number, (runs.get(x as number) ?? 0) + 1); return (x as number) + 1; });
    const N = 500;
    const out = await Promise.all(Array.from({ length: N }, (_, i) => n.a.call(2, 1, i)));
    assert.equal(out, Array.from({ length: N }, (_, i) => i + 1));
    assert.is(runs.size, N);
    assert.ok([...runs.values()].every((v) => v === 1));
    assert.is(n.a.waiting(), 0);
    assert.ok(n.b.endpoint.historySize() <= 32, `history ${n.b.endpoint.historySize()}: later calls acknowledge earlier replies`);
  } finally {
    await n.close();
  }
});

test('UDP multicast as a shared medium: three stations on one group', async () => {
  const port = 40000 + (process.pid % 20000);
  const links: UdpLink[] = [];
  try {
    for (let i = 0; i < 3; i++) links.push(udpLink({ group: '239.255.42.99', port, bindAddress: '127.0.0.1' }));
    await Promise.all(links.map((l) => l.bound()));
  } catch (e) {
    await Promise.all(links.map((l) => l.close()));
    console.log(`  skip: UDP multicast on loopback is not available here (${(e as Error).message})`);
    return;
  }
  const clock = realClock();
  const rng = xoshiro(3);
  try {
    const eps = links.map((l, i) => hostRr({ mac: rawMac(l, 10 + i, 16), clock, rng, config: { timeoutUs: 50_000, retries: 3 } }));
    eps[1].register(1, () => 'from 11');
    eps[2].register(1, () => 'from 12');
    let answered: string;
    try {
      answered = (await eps[0].call(11, 1)) as string;
    } catch (e) {
      console.log(`  skip: multicast frames do not loop back on this machine (${(e as Error).message})`);
      return;
    }
    assert.is(answered, 'from 11');
    assert.is(await eps[0].call(12, 1), 'from 12', 'the same group reaches every station; the raw MAC picks by address');
    assert.is(await eps[2].call(11, 1), 'from 11');
  } finally {
    clock.close();
    await Promise.all(links.map((l) => l.close()));
  }
});

test('udpLink refuses what it cannot send and says why it cannot start', async () => {
  assert.throws(() => udpLink({}), /multicast group or a list of peers/);
  assert.throws(() => udpLink({ group: '239.255.0.1' }), /fixed port/);
  const l = udpLink({ peers: [] });
  await l.bound();
  assert.not.ok(l.send(new Uint8Array(4), 4), 'no peers: nowhere to send');
  l.setPeers([{ address: '127.0.0.1', port: 9 }]);
  assert.not.ok(l.send(new Uint8Array(2000), 2000), 'over the mtu');
  assert.not.ok(l.send(new Uint8Array(4), 0));
  await l.close();
  assert.not.ok(l.send(new Uint8Array(4), 4), 'closed');
});

test.run();

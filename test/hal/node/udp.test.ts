// The UDP link (hal/node/udp.ts) on loopback: a frame to an IPv4 literal leaves inside send() (it
// overtakes a datagram that dgram's default path queued earlier in the same turn), a host name is
// still resolved, and onSent keeps its contract with frames batched into one microtask: exactly one
// call per frame taken, never from inside send(), and a send from inside onSent works.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { udpLink } from '../../../hal/node/udp.ts';

async function receiver(): Promise<{ sock: Socket; port: number; got: string[]; wait: (n: number) => Promise<void> }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const got: string[] = [];
  let waiter: (() => void) | null = null;
  let want = 0;
  sock.on('message', (m) => {
    got.push(Buffer.from(m).toString());
    if (waiter && got.length >= want) waiter();
  });
  const wait = (n: number): Promise<void> => new Promise<void>((res, rej) => {
    if (got.length >= n) return res();
    want = n;
    waiter = res;
    setTimeout(() => rej(new Error(`only ${got.length} of ${n} datagrams arrived`)), 2000);
  });
  return { sock, port: sock.address().port, got, wait };
}

test('a frame to an IPv4 literal leaves inside send(), ahead of a datagram dgram queued before it', async () => {
  const r = await receiver();
  const link = udpLink({ peers: [{ address: '127.0.0.1', port: r.port }] });
  await link.bound();
  const plain = createSocket('udp4');
  await new Promise<void>((res) => plain.bind(0, '127.0.0.1', () => res()));
  try {
    for (let i = 0; i < 5; i++) {
      plain.send(Buffer.from(`plain${i}`), r.port, '127.0.0.1'); // resolved on the next tick, then sent
      assert.ok(link.send(new TextEncoder().encode(`link${i}`), 5));
      await r.wait(2 * (i + 1));
    }
    for (let i = 0; i < 5; i++) assert.equal(r.got.slice(2 * i, 2 * i + 2), [`link${i}`, `plain${i}`]);
  } finally {
    plain.close();
    r.sock.close();
    await link.close();
  }
});

test('a host name is resolved as before', async () => {
  const r = await receiver();
  const link = udpLink({ peers: [{ address: 'localhost', port: r.port }] });
  await link.bound();
  try {
    assert.ok(link.send(new Uint8Array([104, 105]), 2));
    await r.wait(1);
    assert.equal(r.got, ['hi']);
  } finally {
    r.sock.close();
    await link.close();
  }
});

test('onSent: once per frame, never inside send(), batched per turn; a send from inside onSent is taken', async () => {
  const r = await receiver();
  const link = udpLink({ peers: [{ address: '127.0.0.1', port: r.port }], maxInFlight: 3 });
  await link.bound();
  try {
    let inside = false;
    const sent: number[] = [];
    let again = true;
    link.onSent((st) => {
      assert.not.ok(inside, 'onSent from inside send()');
      sent.push(st);
      if (again) {
        again = false;
        inside = true;
        assert.ok(link.send(new Uint8Array([57]), 1), 'a send from inside onSent');
        inside = false;
      }
    });
    inside = true;
    for (let i = 0; i < 3; i++) assert.ok(link.send(new Uint8Array([48 + i]), 1));
    assert.not.ok(link.send(new Uint8Array([51]), 1), 'maxInFlight frames are taken, no more');
    assert.ok(link.busy());
    inside = false;
    assert.equal(sent, [], 'not yet: a microtask later');
    await r.wait(4);
    await new Promise((res) => setImmediate(res));
    assert.equal(sent, [0, 0, 0, 0], 'one TX_OK per frame taken');
    assert.is(link.stats.sent, 4);
    assert.not.ok(link.busy());
    assert.equal(r.got.sort(), ['0', '1', '2', '9']);
  } finally {
    r.sock.close();
    await link.close();
  }
});

test.run();

// The bridge's UDP front (host/bridge/udp.ts, envelope.ts) on real sockets: the device network is a UDP
// multicast group on loopback (the bridge's node and two devices, each a request-reply endpoint under
// the raw MAC), and the IP client is a plain dgram socket sending CBOR envelopes. Checks: calls by
// address and by name with each protocol, a repeated request id answered from the cache without a
// second call, error replies with codes for malformed input, unknown names and missing tokens, and a
// burst of random and mutated datagrams that leaves the bridge serving and its tables bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { udpLink } from '../../../hal/node/udp.ts';
import type { UdpLink } from '../../../hal/node/udp.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { xoshiro, below } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { RR_E_UNKNOWN_OP } from '../../../firmware/rr/rr.ts';
import { hostRr } from '../../../host/rr/endpoint.ts';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED, BR_E_UNKNOWN_DEVICE } from '../../../host/bridge/envelope.ts';
import { bridgeUdp } from '../../../host/bridge/udp.ts';
import type { BridgeUdp, BridgeUdpOptions } from '../../../host/bridge/udp.ts';

interface World {
  bridge: BridgeUdp;
  port: number;
  client: Socket;
  /** Replies by id, as they arrive. */
  replies: Map<number | null, Record<string, unknown>[]>;
  /** Times device 2's counter operation ran. */
  ran: { n: number };
  close(): Promise<void>;
}

let groupPort = 47_300 + (process.pid % 500);

async function world(opts: Partial<BridgeUdpOptions> = {}): Promise<World> {
  const port = groupPort++;
  const links: UdpLink[] = [];
  for (let i = 0; i < 3; i++) links.push(udpLink({ group: '239.255.42.98', port, bindAddress: '127.0.0.1' }));
  await Promise.all(links.map((l) => l.bound()));
  const clock = realClock();
  const rng = xoshiro(3);
  const node = hostRr({ mac: rawMac(links[0], 1, 64), clock, rng, config: { timeoutUs: 100_000, retries: 3 } });
  const dev2 = hostRr({ mac: rawMac(links[1], 2, 64), clock, rng });
  const dev3 = hostRr({ mac: rawMac(links[2], 3, 64), clock, rng });
  const ran = { n: 0 };
  dev2.register(1, () => ++ran.n);
  dev2.register(2, (a) => ({ from: 2, echo: a }));
  dev3.register(2, (a) => ({ from: 3, echo: a }));
  const names: Record<string, number> = { kitchen: 2, porch: 3 };
  const bridge = bridgeUdp({ rr: node, resolve: (n) => names[n] ?? null, ...opts });
  const ep = await bridge.bound();
  const client = createSocket('udp4');
  const replies = new Map<number | null, Record<string, unknown>[]>();
  client.on('message', (m) => {
    const v = hostDecode(new Uint8Array(m)) as Record<string, unknown>;
    const id = v.id as number | null;
    if (!replies.has(id)) replies.set(id, []);
    replies.get(id)!.push(v);
  });
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  return {
    bridge, port: ep.port, client, replies, ran,
    async close() {
      client.close();
      await bridge.close();
      clock.close();
      await Promise.all(links.map((l) => l.close()));
    },
  };
}

function send(w: World, v: unknown): void {
  w.client.send(v instanceof Uint8Array ? v : hostEncode(v), w.port, '127.0.0.1');
}

async function reply(w: World, id: number | null, count = 1, ms = 2000): Promise<Record<string, unknown>[]> {
  const t0 = Date.now();
  while ((w.replies.get(id)?.length ?? 0) < count) {
    if (Date.now() - t0 > ms) throw new Error(`no reply for id ${id} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return w.replies.get(id)!;
}

test('calls by address and by name, with RR, RRA and R; remote errors keep their codes', async () => {
  const w = await world();
  try {
    send(w, { id: 1, to: 2, op: 2, args: { x: [1, 2] } });
    assert.equal((await reply(w, 1))[0], { id: 1, ok: { from: 2, echo: { x: [1, 2] } } });
    send(w, { id: 2, to: 'porch', op: 2, args: 'hi', proto: 'RRA' });
    assert.equal((await reply(w, 2))[0], { id: 2, ok: { from: 3, echo: 'hi' } });
    send(w, { id: 3, to: 'kitchen', op: 1, proto: 'R' });
    assert.equal((await reply(w, 3))[0], { id: 3, ok: null });
    await new Promise((r) => setTimeout(r, 50));
    assert.is(w.ran.n, 1, 'the R call ran on the device');
    send(w, { id: 4, to: 3, op: 9 });
    const e = (await reply(w, 4))[0].err as { code: number; msg: string };
    assert.is(e.code, RR_E_UNKNOWN_OP);
    assert.match(e.msg, /unknown operation/);
  } finally {
    await w.close();
  }
});

test('a repeated request id is answered from the cache: the operation runs once', async () => {
  const w = await world();
  try {
    for (let k = 0; k < 5; k++) send(w, { id: 77, to: 2, op: 1 });
    const first = await reply(w, 77);
    assert.equal(first[0], { id: 77, ok: 1 });
    // Repeats after the call finished get the cached reply again.
    send(w, { id: 77, to: 2, op: 1 });
    send(w, { id: 77, to: 2, op: 1 });
    const all = await reply(w, 77, 3);
    for (const r of all) assert.equal(r, { id: 77, ok: 1 });
    assert.is(w.ran.n, 1, 'ran once for one id');
    assert.ok(w.bridge.stats.replayed >= 2);
    send(w, { id: 78, to: 2, op: 1 });
    assert.equal((await reply(w, 78))[0], { id: 78, ok: 2 });
  } finally {
    await w.close();
  }
});

test('malformed requests and unknown names get error replies that say what is wrong', async () => {
  const w = await world();
  try {
    send(w, new Uint8Array([0xff, 0x00, 0x13]));
    send(w, { to: 2, op: 1 });
    let r = await reply(w, null, 2);
    for (const x of r) assert.is((x.err as { code: number }).code, BR_E_MALFORMED);
    assert.match(String((r[1].err as { msg: string }).msg), /"id"/);
    send(w, { id: 5, to: 2, op: 300 });
    r = await reply(w, 5);
    assert.is((r[0].err as { code: number }).code, BR_E_MALFORMED);
    assert.match(String((r[0].err as { msg: string }).msg), /"op"/);
    send(w, { id: 6, to: 'attic', op: 1 });
    r = await reply(w, 6);
    assert.is((r[0].err as { code: number }).code, BR_E_UNKNOWN_DEVICE);
    send(w, { id: 7, to: 2, op: 1, extra: 1 });
    r = await reply(w, 7);
    assert.match(String((r[0].err as { msg: string }).msg), /unknown field "extra"/);
    assert.is(w.ran.n, 0);
  } finally {
    await w.close();
  }
});

test('a token: requests without it or with a wrong one are denied; listening beyond loopback needs one', async () => {
  assert.throws(() => bridgeUdp({ rr: {} as never, resolve: () => null, host: '0.0.0.0' }), /token/);
  const w = await world({ token: 's3cret' });
  try {
    send(w, { id: 1, to: 2, op: 1 });
    send(w, { id: 2, to: 2, op: 1, token: 's3creT' });
    assert.is(((await reply(w, 1))[0].err as { code: number }).code, BR_E_DENIED);
    assert.is(((await reply(w, 2))[0].err as { code: number }).code, BR_E_DENIED);
    send(w, { id: 3, to: 2, op: 1, token: 's3cret' });
    assert.equal((await reply(w, 3))[0], { id: 3, ok: 1 });
  } finally {
    await w.close();
  }
});

test('bounded: a client with too many calls in progress gets BUSY; random and mutated datagrams leave the bridge serving', async () => {
  const w = await world({ perClient: 4, clients: 8 });
  try {
    // Device 9 does not exist: calls to it run until they time out, holding their entries.
    for (let k = 0; k < 6; k++) send(w, { id: 100 + k, to: 9, op: 1 });
    const busy = await reply(w, 105);
    assert.is((busy[0].err as { code: number }).code, BR_E_BUSY);
    const rng = xoshiro(11);
    const valid = hostEncode({ id: 1, to: 2, op: 2, args: [1, 'two', { three: 3 }] });
    for (let k = 0; k < 3000; k++) {
      let b: Uint8Array;
      if (k % 2 === 0) {
        b = new Uint8Array(below(rng, 64));
        for (let i = 0; i < b.length; i++) b[i] = below(rng, 256);
      } else {
        b = valid.slice();
        for (let f = 0; f < 1 + below(rng, 3); f++) b[below(rng, b.length)] = below(rng, 256);
      }
      send(w, b);
      if (k % 200 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    // Calls the mutations made to devices that do not exist run out their timeouts first.
    const t0 = Date.now();
    while (w.bridge.held().inFlight > 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    send(w, { id: 4242, to: 'porch', op: 2, args: 'still here' });
    assert.equal((await reply(w, 4242))[0], { id: 4242, ok: { from: 3, echo: 'still here' } });
    const h = w.bridge.held();
    assert.ok(h.clients <= 8 && h.entries <= 8 * 4 && h.inFlight <= 256, JSON.stringify(h));
    // The kernel may drop some of the burst; of what arrived, most was refused as malformed.
    const st = w.bridge.stats;
    assert.ok(st.requests > 500 && st.malformed > st.requests / 2, JSON.stringify(st));
  } finally {
    await w.close();
  }
});

test.run();

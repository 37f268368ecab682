// The bridge's UDP front (host/bridge/udp.ts, core.ts, envelope.ts) on real sockets: the device network
// of world.ts (a UDP multicast group on loopback, the bridge's node and two devices), and the IP client is a plain dgram socket sending CBOR envelopes. Checks: calls by
// address and by name with each protocol, a repeated request id answered from the cache without a
// second call, error replies with codes for malformed input, unknown names and missing tokens, and a
// burst of random and mutated datagrams that leaves the bridge serving and its tables bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { xoshiro, below } from '../../../hal/prng.ts';
import { RR_E_UNKNOWN_OP } from '../../../firmware/rr/rr.ts';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED, BR_E_NO_STREAM, BR_E_UNKNOWN_DEVICE } from '../../../host/bridge/envelope.ts';
import { startBridge } from '../../../host/bridge/bridge.ts';
import type { Bridge, BridgeOptions } from '../../../host/bridge/bridge.ts';
import { world } from './world.ts';
import type { World } from './world.ts';

interface W {
  w: World;
  bridge: Bridge;
  port: number;
  client: Socket;
  /** Replies by id, as they arrive. */
  replies: Map<number | null, Record<string, unknown>[]>;
  ran: { n: number };
  close(): Promise<void>;
}

async function udpWorld(opts: Partial<BridgeOptions> = {}): Promise<W> {
  const w = await world({ bridges: [opts] });
  const bridge = w.bridges[0];
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
    w, bridge, port: bridge.udp.port, client, replies, ran: w.ran,
    async close() {
      client.close();
      await w.close();
    },
  };
}

function send(w: W, v: unknown): void {
  w.client.send(v instanceof Uint8Array ? v : hostEncode(v), w.port, '127.0.0.1');
}

async function reply(w: W, id: number | null, count = 1, ms = 2000): Promise<Record<string, unknown>[]> {
  const t0 = Date.now();
  while ((w.replies.get(id)?.length ?? 0) < count) {
    if (Date.now() - t0 > ms) throw new Error(`no reply for id ${id} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return w.replies.get(id)!;
}

test('calls by address and by name, with RR, RRA and R; remote errors keep their codes', async () => {
  const w = await udpWorld();
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

test('the directory: a device that announced itself is found by name, type and operation; subscriptions need TCP', async () => {
  const w = await udpWorld();
  try {
    send(w, { id: 1, q: 'devices' });
    assert.equal((await reply(w, 1))[0].ok, [
      { name: 'kitchen', addr: 2, type: 'lamp', ops: [1, 2] },
      { name: 'porch', addr: 3, type: 'device', ops: [] },
    ]);
    send(w, { id: 2, q: 'devices', type: 'lamp' });
    assert.equal(((await reply(w, 2))[0].ok as { name: string }[]).map((d) => d.name), ['kitchen']);
    send(w, { id: 3, q: 'devices', has: 2 });
    assert.equal(((await reply(w, 3))[0].ok as { name: string }[]).map((d) => d.name), ['kitchen']);
    send(w, { id: 4, q: 'devices', name: 'cellar' });
    assert.equal((await reply(w, 4))[0].ok, []);
    send(w, { id: 5, sub: 'events' });
    assert.is(((await reply(w, 5))[0].err as { code: number }).code, BR_E_NO_STREAM);
    send(w, { id: 6, q: 'everything' });
    assert.match(String(((await reply(w, 6))[0].err as { msg: string }).msg), /"q" must be/);
  } finally {
    await w.close();
  }
});

test('a repeated request id is answered from the cache: the operation runs once', async () => {
  const w = await udpWorld();
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
    assert.ok(w.bridge.core.stats.replayed >= 2);
    send(w, { id: 78, to: 2, op: 1 });
    assert.equal((await reply(w, 78))[0], { id: 78, ok: 2 });
  } finally {
    await w.close();
  }
});

test('malformed requests and unknown names get error replies that say what is wrong', async () => {
  const w = await udpWorld();
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
    let threw = '';
  await startBridge({ mac: {} as never, clock: {} as never, rng: {} as never, host: '0.0.0.0' }).catch((e: Error) => { threw = e.message; });
  assert.match(threw, /token/);
  const w = await udpWorld({ token: 's3cret' });
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
  const w = await udpWorld({ perClient: 4, clients: 8 });
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
    while (w.bridge.core.held().inFlight > 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    send(w, { id: 4242, to: 'porch', op: 2, args: 'still here' });
    assert.equal((await reply(w, 4242))[0], { id: 4242, ok: { from: 3, echo: 'still here' } });
    const h = w.bridge.core.held();
    assert.ok(h.clients <= 8 && h.entries <= 8 * 4 && h.inFlight <= 256, JSON.stringify(h));
    // The kernel may drop some of the burst; of what arrived, most was refused as malformed.
    const st = w.bridge.core.stats;
    assert.ok(st.requests > 500 && st.malformed > st.requests / 2, JSON.stringify(st));
  } finally {
    await w.close();
  }
});

test.run();

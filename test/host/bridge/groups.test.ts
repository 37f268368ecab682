// Device groups on IP multicast (host/bridge/groups.ts) on real sockets: what a device multicasts
// appears on the IP group, what an IP client sends to the IP group reaches the devices of the group,
// a multicast request through the bridge goes both ways, and several bridges on one IP group make one
// device network with neither loops nor duplicates: two bridges on separate device networks, and two
// bridges on the same one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { GROUP_IP_BASE } from '../../../host/bridge/groups.ts';
import { world, freshPort } from './world.ts';

/** An IP program joined to device group g's IP group: what it hears, decoded. */
async function listener(g: number, port: number): Promise<{ sock: Socket; got: Record<string, unknown>[] }> {
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((r) => sock.bind(port, GROUP_IP_BASE + g, () => r()));
  sock.addMembership(GROUP_IP_BASE + g, '127.0.0.1');
  const got: Record<string, unknown>[] = [];
  sock.on('message', (m) => {
    try {
      got.push(hostDecode(new Uint8Array(m)) as Record<string, unknown>);
    } catch {
      got.push({ raw: new Uint8Array(m) });
    }
  });
  return { sock, got };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

test('device to IP group and IP group to devices; a multicast request goes both ways', async () => {
  const gport = freshPort();
  const w = await world({ bridges: [{ groups: [5, 6], groupPort: gport }], join: [5] });
  const ip = await listener(5, gport);
  const sender = createSocket('udp4');
  await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
  sender.setMulticastInterface('127.0.0.1');
  try {
    const [dev2, dev3] = w.devices;
    const p = hostEncode({ lux: 310 });
    dev2.group.multicast(5, p, p.length);
    await until(() => ip.got.length === 1);
    const m = ip.got[0];
    assert.is(m.g, 5);
    assert.is(m.o, 2);
    assert.equal(m.d, { lux: 310 });
    assert.is(m.b, w.bridges[0].groups!.id);
    assert.equal(dev3.heard, [[5, 2, { lux: 310 }]]);
    // An IP client: {"d": value}, and raw bytes that are not CBOR.
    sender.send(hostEncode({ d: 'lights off' }), gport, GROUP_IP_BASE + 5);
    sender.send(Buffer.from([0xff, 0xfe]), gport, GROUP_IP_BASE + 5);
    await until(() => dev2.heard.length === 2 && dev3.heard.length === 3);
    assert.equal(dev2.heard, [[5, 1, 'lights off'], [5, 1, new Uint8Array([0xff, 0xfe])]]);
    // A request through the bridge's UDP front.
    const c = createSocket('udp4');
    const replies: Record<string, unknown>[] = [];
    c.on('message', (b) => replies.push(hostDecode(new Uint8Array(b)) as Record<string, unknown>));
    c.send(hostEncode({ id: 9, group: 5, data: [1, 2, 3] }), w.bridges[0].udp.port, '127.0.0.1');
    c.send(hostEncode({ id: 10, q: 'groups' }), w.bridges[0].udp.port, '127.0.0.1');
    c.send(hostEncode({ id: 11, group: 7, data: 0 }), w.bridges[0].udp.port, '127.0.0.1');
    await until(() => replies.length === 3 && dev2.heard.length === 3);
    c.close();
    assert.equal(replies.find((r) => r.id === 9), { id: 9, ok: null });
    assert.equal(replies.find((r) => r.id === 10)!.ok, [
      { group: 5, ip: GROUP_IP_BASE + 5, port: gport }, { group: 6, ip: GROUP_IP_BASE + 6, port: gport },
    ]);
    assert.match(JSON.stringify(replies.find((r) => r.id === 11)), /did not go to group 7/);
    assert.equal(dev2.heard[2], [5, 1, [1, 2, 3]]);
    await until(() => ip.got.some((x) => Array.isArray(x.d)));
    await settle();
    // On IP: the device's message, the two client datagrams (the listener hears every sender), the request's.
    assert.is(ip.got.length, 4, JSON.stringify(ip.got));
  } finally {
    ip.sock.close();
    sender.close();
    await w.close();
  }
});

test('two bridges on separate device networks: one network through IP, each message once, no loop', async () => {
  const gport = freshPort();
  // Devices 2 and 3 on network 0 (bridge 1), device 4 on network 1 (bridge 0x101).
  const w = await world({
    bridges: [{ groups: [5], groupPort: gport }, { groups: [5], groupPort: gport }], separate: true, devices: [2, 3, 4], networks: [0, 0, 1], join: [5],
  });
  try {
    const [dev2, dev3, dev4] = w.devices;
    for (let k = 0; k < 5; k++) {
      const p = hostEncode({ k });
      dev2.group.multicast(5, p, p.length);
      const q = hostEncode({ back: k });
      dev4.group.multicast(5, q, q.length);
    }
    await until(() => dev4.heard.length === 5 && dev3.heard.length === 10 && dev2.heard.length === 5);
    await settle();
    assert.equal(dev4.heard.map((h) => h[2]), [0, 1, 2, 3, 4].map((k) => ({ k })));
    assert.equal(dev2.heard.map((h) => h[2]), [0, 1, 2, 3, 4].map((k) => ({ back: k })));
    assert.is(dev3.heard.length, 10, 'each message once');
    const [b1, b2] = w.bridges.map((b) => b.groups!.stats);
    assert.equal([b1.up, b1.down, b2.up, b2.down], [5, 5, 5, 5], 'each message crossed once each way: no loop');
  } finally {
    await w.close();
  }
});

test('two bridges on the same device network: devices hear each message once, IP gets it once', async () => {
  const gport = freshPort();
  const w = await world({ bridges: [{ groups: [5], groupPort: gport }, { groups: [5], groupPort: gport }], join: [5] });
  const ip = await listener(5, gport);
  try {
    const [dev2, dev3] = w.devices;
    for (let k = 0; k < 20; k++) {
      const p = hostEncode({ k });
      dev2.group.multicast(5, p, p.length);
      await new Promise((r) => setTimeout(r, 20));
    }
    await settle();
    await settle();
    assert.is(dev3.heard.length, 20);
    const keys = ip.got.map((m) => `${m.o}:${m.s}`);
    const distinct = new Set(keys);
    assert.is(distinct.size, 20, 'every message reached IP');
    // The bridges find each other from the first copies and then one of them forwards: a few early
    // duplicates at most.
    assert.ok(keys.length - distinct.size <= 3, `duplicates on IP: ${keys.length - distinct.size}`);
    const deferred = w.bridges.map((b) => b.groups!.stats.deferred);
    assert.ok(Math.max(...deferred) >= 15 && Math.min(...deferred) === 0, `one bridge forwards, the other defers: ${deferred}`);
  } finally {
    ip.sock.close();
    await w.close();
  }
});

test.run();

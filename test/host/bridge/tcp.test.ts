// The bridge's TCP front (host/bridge/tcp.ts) on real sockets, over the device network of world.ts:
// calls in length-prefixed CBOR frames and in JSON lines on the same port, byte strings as {"hex"} in
// JSON, error replies for bad lines and a framing error that closes the stream, subscriptions to device
// events and to group messages with their pushes, the bound on connections, and a client that
// half-closes after its requests (nc -N) getting its replies before the bridge closes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { sendEvent } from '../../../firmware/services/directory.ts';
import { BR_E_BUSY, BR_E_MALFORMED } from '../../../host/bridge/envelope.ts';
import { world, freshPort } from './world.ts';

/** A TCP client of either kind that collects what arrives. */
interface Conn {
  sock: Socket;
  got: Record<string, unknown>[];
  closed: boolean;
  send(v: unknown): void;
  wait(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

async function open(port: number, lines: boolean): Promise<Conn> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  const got: Record<string, unknown>[] = [];
  let buf = Buffer.alloc(0);
  const c: Conn = {
    sock, got, closed: false,
    send(v: unknown): void {
      if (lines) sock.write(JSON.stringify(v) + '\n');
      else {
        const b = hostEncode(v);
        const h = Buffer.alloc(2);
        h.writeUInt16BE(b.length);
        sock.write(Buffer.concat([h, b]));
      }
    },
    async wait(pred, ms = 2000) {
      const t0 = Date.now();
      for (;;) {
        const m = got.find(pred);
        if (m) return m;
        if (Date.now() - t0 > ms) throw new Error(`nothing matching arrived in ${ms} ms; got ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 3));
      }
    },
  };
  sock.on('close', () => { c.closed = true; });
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (lines) {
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        got.push(JSON.parse(buf.subarray(0, nl).toString()));
        buf = buf.subarray(nl + 1);
      }
    } else {
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        got.push(hostDecode(new Uint8Array(buf.subarray(2, 2 + n))) as Record<string, unknown>);
        buf = buf.subarray(2 + n);
      }
    }
  });
  return c;
}

const byId = (id: number) => (m: Record<string, unknown>) => m.id === id;

test('frames and JSON lines on one port: calls by name and address, bytes as hex, the directory', async () => {
  const w = await world();
  const port = w.bridges[0].tcp.port;
  const f = await open(port, false);
  const l = await open(port, true);
  try {
    f.send({ id: 1, to: 'kitchen', op: 2, args: new Uint8Array([1, 2, 255]) });
    const r1 = await f.wait(byId(1));
    assert.equal(r1, { id: 1, ok: { from: 2, echo: new Uint8Array([1, 2, 255]) } });
    l.send({ id: 1, to: 3, op: 2, args: { hex: '00ff' }, proto: 'RRA' });
    assert.equal(await l.wait(byId(1)), { id: 1, ok: { from: 3, echo: { hex: '00ff' } } });
    l.send({ id: 2, q: 'devices', type: 'lamp' });
    assert.equal((await l.wait(byId(2))).ok, [{ name: 'kitchen', addr: 2, type: 'lamp', ops: [1, 2] }]);
    // The same id on another connection is another client's: it runs again.
    f.send({ id: 7, to: 2, op: 1 });
    l.send({ id: 7, to: 2, op: 1 });
    await f.wait(byId(7));
    await l.wait(byId(7));
    assert.is(w.ran.n, 2);
  } finally {
    f.sock.destroy();
    l.sock.destroy();
    await w.close();
  }
});

test('a client that half-closes after its requests (nc -N) still gets every reply, then the bridge closes', async () => {
  const w = await world();
  const port = w.bridges[0].tcp.port;
  const l = await open(port, true);
  try {
    l.send({ id: 1, to: 'kitchen', op: 1 });
    l.send({ id: 2, to: 3, op: 2, args: { hex: '01' } });
    l.send({ id: 3, q: 'devices' });
    l.sock.end(); // half-close: nothing more from this side
    await l.wait(byId(1));
    await l.wait(byId(2));
    await l.wait(byId(3));
    const t0 = Date.now();
    while (!l.closed && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(l.closed, 'the bridge closed its side once the replies were out');
    assert.is(l.got.length, 3);
  } finally {
    l.sock.destroy();
    await w.close();
  }
});

test('bad input: a bad JSON line is answered and the connection goes on; a bad frame length closes the stream', async () => {
  const w = await world();
  const port = w.bridges[0].tcp.port;
  const l = await open(port, true);
  const f = await open(port, false);
  try {
    l.sock.write('{"id": 1, "to": \n');
    l.sock.write('[1,2]\n');
    l.sock.write('{"id": 2, "to": "kitchen", "op": 2, "args": "ok"}\n');
    assert.equal(await l.wait(byId(2)), { id: 2, ok: { from: 2, echo: 'ok' } });
    const errs = l.got.filter((m) => m.id === null);
    assert.is(errs.length, 2);
    assert.match(String((errs[0].err as { msg: string }).msg), /not JSON/);
    assert.match(String((errs[1].err as { msg: string }).msg), /one JSON object/);
    l.sock.write('{"id": 3, "x": "' + 'a'.repeat(5000) + '"}\n{"id": 4, "to": 3, "op": 2}\n');
    await l.wait(byId(4));
    assert.match(String((l.got.find((m) => m.id === null && /longer/.test(JSON.stringify(m))) as { err: { msg: string } }).err.msg), /longer than 4096/);
    f.sock.write(Buffer.from([0x7f, 0xff, 1, 2, 3]));
    const e = await f.wait((m) => m.id === null);
    assert.is((e.err as { code: number }).code, BR_E_MALFORMED);
    const t0 = Date.now();
    while (!f.closed && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(f.closed, 'the bridge closed a stream that lost its framing');
    assert.ok(w.bridges[0].core.stats.malformed >= 3);
  } finally {
    l.sock.destroy();
    f.sock.destroy();
    await w.close();
  }
});

test('subscriptions: device events and group messages are pushed until unsubscribed', async () => {
  const w = await world({ bridges: [{ groups: [5], groupPort: freshPort() }], join: [5] });
  const l = await open(w.bridges[0].tcp.port, true);
  try {
    l.send({ id: 1, sub: 'events' });
    l.send({ id: 2, sub: 'groups', group: 5 });
    await l.wait(byId(2));
    const dev2 = w.devices[0];
    sendEvent(dev2.rr.endpoint, 1, { door: 'open' }, () => {});
    const ev = await l.wait((m) => m.ev === 'event');
    assert.equal(ev, { ev: 'event', from: 2, name: 'kitchen', data: { door: 'open' } });
    const payload = hostEncode({ t: 215 });
    dev2.group.multicast(5, payload, payload.length);
    const gm = await l.wait((m) => m.ev === 'group');
    assert.equal(gm, { ev: 'group', group: 5, from: 2, data: { t: 215 } });
    assert.equal(w.devices[1].heard, [[5, 2, { t: 215 }]], 'device 3, in group 5, heard it once too');
    l.send({ id: 3, unsub: 'events' });
    await l.wait(byId(3));
    sendEvent(dev2.rr.endpoint, 1, { door: 'shut' }, () => {});
    dev2.group.multicast(5, payload, payload.length);
    await new Promise((r) => setTimeout(r, 100));
    assert.is(l.got.filter((m) => m.ev === 'event').length, 1, 'no event after unsub');
    assert.is(l.got.filter((m) => m.ev === 'group').length, 2, 'still subscribed to the group');
    assert.is(w.bridges[0].core.held().subscribers, 1);
    l.sock.destroy();
    const t0 = Date.now();
    while (w.bridges[0].core.held().subscribers > 0 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    assert.is(w.bridges[0].core.held().subscribers, 0, 'a closed stream leaves no subscription');
  } finally {
    l.sock.destroy();
    await w.close();
  }
});

test('at most `connections` streams: one more gets BUSY and is closed', async () => {
  const w = await world({ bridges: [{ connections: 2 }] });
  const port = w.bridges[0].tcp.port;
  const a = await open(port, false);
  const b = await open(port, false);
  const c = await open(port, false);
  try {
    const e = await c.wait((m) => m.id === null);
    assert.is((e.err as { code: number }).code, BR_E_BUSY);
    a.send({ id: 1, to: 3, op: 2, args: 1 });
    b.send({ id: 1, to: 3, op: 2, args: 2 });
    assert.equal((await a.wait(byId(1))).ok, { from: 3, echo: 1 });
    assert.equal((await b.wait(byId(1))).ok, { from: 3, echo: 2 });
  } finally {
    for (const x of [a, b, c]) x.sock.destroy();
    await w.close();
  }
});

test.run();

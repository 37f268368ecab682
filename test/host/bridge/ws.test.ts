// The bridge's WebSocket front (host/bridge/ws.ts) with a ws client in Node, over the device network of
// world.ts: calls and queries in JSON text messages and in binary CBOR envelopes, byte strings as
// {"hex"}, error replies for malformed messages with the connection kept, event and traffic pushes
// (the traffic counts per device rising with a call), the token rule, the Origin rule for pages of
// other sites, the bound on connections, and plain HTTP requests going to the page handler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { sendEvent } from '../../../firmware/services/directory.ts';
import { BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED } from '../../../host/bridge/envelope.ts';
import { LINE_MAX } from '../../../host/bridge/tcp.ts';
import { world } from './world.ts';

interface Conn {
  ws: WebSocket;
  got: Record<string, unknown>[];
  closed: boolean;
  send(v: unknown): void;
  wait(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
}

async function open(port: number, o: { binary?: boolean; origin?: string } = {}): Promise<Conn> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, o.origin ? { origin: o.origin } : {});
  const got: Record<string, unknown>[] = [];
  // Listening before 'open': a message in the same packet as the handshake comes right after it.
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    got.push((isBinary ? hostDecode(new Uint8Array(d)) : JSON.parse(d.toString())) as Record<string, unknown>);
  });
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  const c: Conn = {
    ws, got, closed: false,
    send(v: unknown): void {
      if (typeof v === 'string') ws.send(v);
      else if (o.binary) ws.send(hostEncode(v));
      else ws.send(JSON.stringify(v));
    },
    async wait(pred, ms = 3000) {
      const t0 = Date.now();
      for (;;) {
        const m = got.find(pred);
        if (m) return m;
        if (Date.now() - t0 > ms) throw new Error(`nothing matching arrived in ${ms} ms; got ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 3));
      }
    },
  };
  ws.on('close', () => { c.closed = true; });
  ws.on('error', () => {});
  return c;
}

test('JSON messages: a call by name with bytes as {"hex"}, the directory, a configured name', async () => {
  const w = await world({ bridges: [{ web: { port: 0 } }] });
  try {
    const c = await open(w.bridges[0].web!.port);
    c.send({ id: 1, to: 'kitchen', op: 2, args: { b: { hex: '00ff10' } } });
    c.send({ id: 2, q: 'devices' });
    c.send({ id: 3, to: 'porch', op: 2, args: 7 });
    const r1 = await c.wait((m) => m.id === 1);
    assert.equal(r1.ok, { from: 2, echo: { b: { hex: '00ff10' } } });
    const r2 = await c.wait((m) => m.id === 2);
    assert.equal((r2.ok as { name: string }[]).map((d) => d.name), ['kitchen', 'porch']);
    assert.equal((await c.wait((m) => m.id === 3)).ok, { from: 3, echo: 7 });
    c.ws.close();
  } finally {
    await w.close();
  }
});

test('binary messages are CBOR envelopes answered in binary', async () => {
  const w = await world({ bridges: [{ web: { port: 0 } }] });
  try {
    const c = await open(w.bridges[0].web!.port, { binary: true });
    c.send({ id: 9, to: 2, op: 2, args: new Uint8Array([1, 2, 3]) });
    const r = await c.wait((m) => m.id === 9);
    const ok = r.ok as { from: number; echo: Uint8Array };
    assert.is(ok.from, 2);
    assert.equal([...ok.echo], [1, 2, 3]);
    c.ws.close();
  } finally {
    await w.close();
  }
});

test('malformed messages get an error reply and the connection stays open', async () => {
  const w = await world({ bridges: [{ web: { port: 0 } }] });
  try {
    const c = await open(w.bridges[0].web!.port);
    c.send('{"id": 1, "to": ');
    c.send('[1, 2]');
    c.send({ id: 4, to: 'kitchen', op: 2, color: 'red' });
    c.send(JSON.stringify({ id: 5, to: 'kitchen', op: 2, args: 'x'.repeat(LINE_MAX) }));
    c.send({ id: 6, to: 'nobody', op: 1 });
    c.send({ id: 7, to: 'kitchen', op: 2, args: 'still here' });
    await c.wait((m) => m.id === 7 && m.ok !== undefined);
    const errs = c.got.filter((m) => m.err !== undefined) as { id: number | null; err: { code: number; msg: string } }[];
    assert.ok(errs.some((m) => m.id === null && /not JSON/.test(m.err.msg)), JSON.stringify(errs));
    assert.ok(errs.some((m) => m.id === null && /one JSON object/.test(m.err.msg)));
    assert.ok(errs.some((m) => m.id === 4 && m.err.code === BR_E_MALFORMED && /unknown field "color"/.test(m.err.msg)));
    assert.ok(errs.some((m) => m.id === null && /longer than/.test(m.err.msg)));
    assert.ok(errs.some((m) => m.id === 6 && /no device named "nobody"/.test(m.err.msg)));
    assert.is(c.closed, false);
    assert.is(w.bridges[0].core.stats.malformed, 4);
    c.ws.close();
  } finally {
    await w.close();
  }
});

test('pushes: device events, and the bridge node\'s traffic with per-device counts', async () => {
  const w = await world({ bridges: [{ web: { port: 0 } }] });
  try {
    const c = await open(w.bridges[0].web!.port);
    c.send({ id: 1, sub: 'events' });
    c.send({ id: 2, sub: 'traffic' });
    await c.wait((m) => m.id === 1);
    const first = await c.wait((m) => m.id === 2);
    const before = ((first.ok as { counts: { addr: number; rx: number; tx: number }[] }).counts.find((x) => x.addr === 3)) ?? { rx: 0, tx: 0 };
    const dev = w.devices.find((d) => d.addr === 2)!;
    sendEvent(dev.rr.endpoint, 1, { door: 'open' }, () => {});
    const ev = await c.wait((m) => m.ev === 'event');
    assert.equal(ev, { ev: 'event', from: 2, name: 'kitchen', data: { door: 'open' } });
    c.send({ id: 3, to: 'porch', op: 2, args: 5 });
    await c.wait((m) => m.id === 3);
    const tx = await c.wait((m) => m.ev === 'traffic' && m.dir === 'tx' && m.dst === 3);
    assert.match(tx.text as string, /^rr REQUEST id \d+ op 2 RR/);
    const rx = await c.wait((m) => m.ev === 'traffic' && m.dir === 'rx' && m.src === 3 && /REPLY/.test(m.text as string));
    const count = rx.count as { rx: number; tx: number };
    assert.ok(count.rx >= before.rx + 1 && count.tx >= before.tx + 1, JSON.stringify({ before, count }));
    assert.ok(c.got.some((m) => m.ev === 'traffic' && m.dir === 'rx' && m.src === 2), 'the event\'s request counted from device 2');
    c.send({ id: 4, unsub: 'traffic' });
    await c.wait((m) => m.id === 4);
    const n = c.got.filter((m) => m.ev === 'traffic').length;
    c.send({ id: 5, to: 'porch', op: 2, args: 6 });
    await c.wait((m) => m.id === 5);
    await new Promise((r) => setTimeout(r, 50));
    assert.is(c.got.filter((m) => m.ev === 'traffic').length, n, 'no traffic after unsub');
    c.ws.close();
  } finally {
    await w.close();
  }
});

test('a page of another site is refused without a token; with one, requests need it', async () => {
  const w = await world({ bridges: [{ web: { port: 0 } }] });
  try {
    const port = w.bridges[0].web!.port;
    const refused = await open(port, { origin: 'http://evil.example' }).then(() => 'opened', (e: Error) => e.message);
    assert.match(refused, /403/);
    const own = await open(port, { origin: `http://127.0.0.1:${port}` });
    own.send({ id: 1, to: 'porch', op: 2, args: 1 });
    assert.equal((await own.wait((m) => m.id === 1)).ok, { from: 3, echo: 1 });
    own.ws.close();
  } finally {
    await w.close();
  }
  const t = await world({ bridges: [{ web: { port: 0 }, token: 's3cret' }] });
  try {
    const c = await open(t.bridges[0].web!.port, { origin: 'http://elsewhere.example' });
    c.send({ id: 1, to: 'porch', op: 2, args: 1 });
    c.send({ id: 2, sub: 'traffic' });
    c.send({ id: 3, to: 'porch', op: 2, args: 2, token: 's3cret' });
    c.send({ id: 4, sub: 'traffic', token: 'wrong' });
    assert.is(((await c.wait((m) => m.id === 1)).err as { code: number }).code, BR_E_DENIED);
    assert.is(((await c.wait((m) => m.id === 2)).err as { code: number }).code, BR_E_DENIED);
    assert.is(((await c.wait((m) => m.id === 4)).err as { code: number }).code, BR_E_DENIED);
    assert.equal((await c.wait((m) => m.id === 3)).ok, { from: 3, echo: 2 });
    c.ws.close();
  } finally {
    await t.close();
  }
});

test('connections beyond the bound are answered busy and closed; plain HTTP goes to the page handler', async () => {
  const w = await world({ bridges: [{ connections: 1, web: { port: 0, http: (_req, res) => res.end('the page') } }] });
  try {
    const port = w.bridges[0].web!.port;
    const a = await open(port);
    const b = await open(port);
    const busy = await b.wait((m) => m.err !== undefined);
    assert.is((busy.err as { code: number }).code, BR_E_BUSY);
    const t0 = Date.now();
    while (!b.closed && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(b.closed);
    a.send({ id: 1, to: 'porch', op: 2, args: 3 });
    assert.equal((await a.wait((m) => m.id === 1)).ok, { from: 3, echo: 3 });
    assert.is(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'the page');
    a.ws.close();
  } finally {
    await w.close();
  }
});

test.run();

// Fuzz of the bridge's fronts: 100 000 random and mutated inputs (50 000 UDP datagrams, 40 000 TCP
// frames with correct lengths and random or mutated bodies, 10 000 JSON lines), plus connections that
// send garbage. The bridge must answer or drop each, keep serving a valid client during and after, and
// hold bounded state: its client, entry, call and subscriber tables within their limits, and no
// connection left open once the fuzzers close theirs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { xoshiro, below } from '../../../hal/prng.ts';
import type { Rng } from '../../../hal/rng.ts';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { world } from './world.ts';

const VALID = [
  { id: 1, to: 2, op: 2, args: [1, 'two', { three: 3 }] },
  { id: 2, to: 'kitchen', op: 1, proto: 'RRA' },
  { id: 3, q: 'devices', type: 'lamp' },
  { id: 4, sub: 'groups', group: 5 },
  { id: 5, group: 5, data: { on: true } },
  { id: 6, unsub: 'events' },
].map((v) => hostEncode(v));

function input(rng: Rng): Uint8Array {
  if (below(rng, 3) === 0) {
    const b = new Uint8Array(1 + below(rng, 80));
    for (let i = 0; i < b.length; i++) b[i] = below(rng, 256);
    return b;
  }
  const b = VALID[below(rng, VALID.length)].slice();
  for (let f = 0; f < 1 + below(rng, 4); f++) b[below(rng, b.length)] = below(rng, 256);
  return below(rng, 8) === 0 ? b.subarray(0, below(rng, b.length) + 1) : b;
}

function frame(b: Uint8Array): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(b.length);
  return Buffer.concat([h, b]);
}

async function tcp(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  s.on('data', () => {});
  await new Promise<void>((r) => s.once('connect', () => r()));
  return s;
}

test('100 000 random and mutated datagrams, frames and lines: answered or dropped, the bridge keeps serving, its state bounded', async () => {
  const w = await world({ bridges: [{ perClient: 16, clients: 32, inFlight: 64, connections: 16, groups: [5], groupPort: 40_000 + (process.pid % 2000) * 8 + 7 }] });
  const b = w.bridges[0];
  const rng = xoshiro(2024);
  const udp = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const probe = createSocket('udp4');
  const answers: Record<string, unknown>[] = [];
  probe.on('message', (m) => answers.push(hostDecode(new Uint8Array(m)) as Record<string, unknown>));
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  let probeId = 1000;
  const probeOnce = async (): Promise<boolean> => {
    const id = probeId++;
    probe.send(hostEncode({ id, to: 'porch', op: 2, args: id }), b.udp.port, '127.0.0.1');
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      if (answers.some((a) => a.id === id && JSON.stringify(a.ok) === JSON.stringify({ from: 3, echo: id }))) return true;
      await new Promise((r) => setTimeout(r, 5));
    }
    return false;
  };
  let maxHeld = { clients: 0, entries: 0, inFlight: 0, subscribers: 0 };
  const watch = (): void => {
    const h = b.core.held();
    maxHeld = { clients: Math.max(maxHeld.clients, h.clients), entries: Math.max(maxHeld.entries, h.entries), inFlight: Math.max(maxHeld.inFlight, h.inFlight), subscribers: Math.max(maxHeld.subscribers, h.subscribers) };
  };
  try {
    let sent = 0;
    let probesOk = 0;
    // UDP: 50 000 datagrams from a few source ports.
    const sources = [udp];
    for (let k = 0; k < 3; k++) {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      sources.push(s);
    }
    const udpBase = b.core.stats.requests;
    for (let k = 0; k < 50_000; k++) {
      sources[k % sources.length].send(input(rng), b.udp.port, '127.0.0.1');
      sent++;
      // Paced by the bridge's own progress, so the kernel's receive buffer (a few hundred small
      // datagrams) does not drop most of them; the few it still drops count as dropped.
      if (k % 100 === 0) {
        watch();
        const t = Date.now();
        while (b.core.stats.requests < udpBase + k - 150 && Date.now() - t < 50) await new Promise((r) => setImmediate(r));
      }
      if (k % 10_000 === 5_000 && (await probeOnce())) probesOk++;
    }
    for (const s of sources.slice(1)) s.close();
    // TCP: 40 000 frames over 8 connections (each with correct lengths), 10 000 JSON lines over 2.
    const conns = await Promise.all(Array.from({ length: 8 }, () => tcp(b.tcp.port)));
    for (let k = 0; k < 40_000; k++) {
      conns[k % conns.length].write(frame(input(rng)));
      sent++;
      if (k % 500 === 0) {
        watch();
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const lineConns = await Promise.all([tcp(b.tcp.port), tcp(b.tcp.port)]);
    const texts = VALID.map((v) => JSON.stringify(hostDecode(v), (_k, x) => (x instanceof Uint8Array ? { hex: '' } : x)));
    for (let k = 0; k < 10_000; k++) {
      const t = texts[below(rng, texts.length)].split('');
      for (let f = 0; f < below(rng, 3); f++) t[below(rng, t.length)] = String.fromCharCode(32 + below(rng, 95));
      lineConns[k % 2].write('{' + t.join('').slice(1) + '\n');
      sent++;
      if (k % 500 === 0) {
        watch();
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    // Garbage streams: random bytes (the first byte picks frames or lines), and a huge frame length.
    for (let k = 0; k < 20; k++) {
      const s = await tcp(b.tcp.port);
      const g = new Uint8Array(2000);
      for (let i = 0; i < g.length; i++) g[i] = below(rng, 256);
      s.write(g);
      s.end();
    }
    if (await probeOnce()) probesOk++;
    assert.ok(sent >= 100_000, `sent ${sent}`);
    for (const s of [...conns, ...lineConns]) s.destroy();
    // Calls that mutations sent to devices that do not exist run out their timeouts.
    const t0 = Date.now();
    while ((b.core.held().inFlight > 0 || b.tcpFront.connections() > 0) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
    watch();
    assert.ok(await probeOnce(), 'a valid client is served after the fuzz');
    assert.ok(probesOk >= 5, `a valid client was served during the fuzz: ${probesOk} of 6 probes`);
    assert.ok(maxHeld.clients <= 32 && maxHeld.entries <= 32 * 16 && maxHeld.inFlight <= 64 && maxHeld.subscribers <= 16, JSON.stringify(maxHeld));
    assert.is(b.tcpFront.connections(), 0, 'no connection left open');
    assert.is(b.core.held().subscribers, 0, 'no subscription outlives its stream');
    const st = b.core.stats;
    assert.ok(st.requests > 90_000 && st.malformed > 40_000, JSON.stringify(st) + JSON.stringify(b.tcpFront.stats));
    console.log(`  fuzz: ${st.requests} requests reached the bridge, ${st.malformed} malformed, ${st.calls} calls, ${st.busy} busy; peak ${JSON.stringify(maxHeld)}`);
  } finally {
    udp.close();
    probe.close();
    await w.close();
  }
});

test.run();

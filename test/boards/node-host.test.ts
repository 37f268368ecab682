// The node-host board: its built bundle (dist/node-host.js) run by Node as a user runs it, and from
// source through tsx: usage errors exit 2 naming the flag, --help prints the usage, a port in use
// exits 1, and a running node answers request-reply calls (echo, the at-most-once counter) from a
// Node client over loopback UDP. In-process, three node-hosts on an IP multicast group (hal/node/udp.ts
// group mode: every node binds the same port) hold a Psync conversation with loss at every node and
// end with the same digest of the same 3 x 6 committed messages. Nothing asserts a duration.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { buildBoard } from '../../host/build/board.ts';
import { udpLink } from '../../hal/node/udp.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { macPorts, SVC_RR } from '../../firmware/mac/ports.ts';
import { PROTO_RRA } from '../../firmware/rr/frame.ts';
import { OP_COUNT, OP_ECHO, OP_INFO } from '../../firmware/edge/node.ts';
import { hostRr } from '../../host/rr/endpoint.ts';
import { create } from '../../boards/node-host.ts';
import type { NodeHost } from '../../boards/node-host.ts';

const root = resolve(import.meta.dirname, '../..');
let bundle = '';

/** Run a command to its end (at most limitMs, then killed): exit code, stdout, stderr. */
function runToEnd(args: string[], limitMs = 30_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.stderr!.on('data', (d) => { err += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), limitMs);
    c.once('exit', (code) => {
      clearTimeout(t);
      res({ code, out, err });
    });
  });
}

test('dist/node-host.js: usage errors exit 2 naming the flag, --help exits 0, a port in use exits 1, a --bind not of this machine 2', async () => {
  bundle = (await buildBoard('node-host')).file;
  const port = await runToEnd([bundle, '--addr', '2', '--port', '70000', '--peer', '127.0.0.1:5']);
  assert.is(port.code, 2);
  assert.match(port.err, /^node-host: --port "70000": a UDP port must be a whole number 0\.\.65535\n\(run with --help for the options\)\n$/);
  const addr = await runToEnd([bundle, '--peer', '127.0.0.1:5']);
  assert.is(addr.code, 2);
  assert.match(addr.err, /--addr is missing/);
  const help = await runToEnd([bundle, '--help']);
  assert.is(help.code, 0);
  assert.match(help.out, /^usage: node dist\/node-host\.js --addr N \[options\]/);
  // From source, as `node --import tsx boards/node-host.ts` runs it.
  const src = await runToEnd(['--import', 'tsx', 'boards/node-host.ts', '--addr', '2']);
  assert.is(src.code, 2);
  assert.match(src.err, /no --peer or --group: give where frames go/);
  const busy = createSocket('udp4');
  await new Promise<void>((r) => busy.bind(0, '127.0.0.1', () => r()));
  try {
    const inUse = await runToEnd([bundle, '--addr', '2', '--port', String(busy.address().port), '--peer', '127.0.0.1:5']);
    assert.is(inUse.code, 1);
    assert.match(inUse.err, /node-host: cannot listen on 127\.0\.0\.1:\d+ \(.*EADDRINUSE.*\); the port is in use: give another --port/);
  } finally {
    busy.close();
  }
  // An address that is not this machine's: the flag named, exit 2 (a mistake, not the port).
  const bind = await runToEnd([bundle, '--addr', '2', '--bind', '192.0.2.1', '--peer', '127.0.0.1:5']);
  assert.is(bind.code, 2, bind.err);
  assert.match(bind.err, /node-host: --bind 192\.0\.2\.1: no interface of this machine has that address/);
});

test('dist/node-host.js answers echo and at-most-once counter calls from a Node client', async () => {
  const clock = realClock();
  const cl = udpLink({ peers: [] });
  const clPort = (await cl.bound()).port;
  const c = spawn(process.execPath, [bundle, '--addr', '5', '--peer', `127.0.0.1:${clPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => { err += d; });
  try {
    const ready = JSON.parse(await new Promise<string>((res, rej) => {
      createInterface({ input: c.stdout! }).once('line', res);
      c.once('exit', (code) => rej(new Error(`node-host exited ${code} before it was ready: ${err}`)));
    })) as { ev: string; port: number; runtime: string };
    assert.is(ready.ev, 'ready');
    cl.setPeers([{ address: '127.0.0.1', port: ready.port }]);
    const rpc = hostRr({ mac: macPorts(rawMac(cl, 1, 64)).port(SVC_RR), clock, rng: xoshiro(3), config: { timeoutUs: 100_000, retries: 10 } });
    assert.equal(await rpc.call(5, OP_ECHO, { s: 'héllo', n: [1, -2.5] }), { s: 'héllo', n: [1, -2.5] });
    const counts: unknown[] = [];
    for (let i = 0; i < 5; i++) counts.push(await rpc.call(5, OP_COUNT, null, { proto: PROTO_RRA }));
    assert.equal(counts, [1, 2, 3, 4, 5]);
    const info = (await rpc.call(5, OP_INFO)) as { runtime: string; addr: number; count: number };
    assert.equal([info.runtime, info.addr, info.count], [ready.runtime, 5, 5]);
    assert.match(info.runtime, /^node \d+\./);
  } finally {
    c.kill('SIGKILL');
    clock.close();
    await cl.close();
  }
});

test('three node-hosts on an IP multicast group hold a conversation under loss and commit the same sequence', async () => {
  // A free port for the group: bound once at random, then released for the nodes to share.
  const probe = createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const port = probe.address().port;
  await new Promise<void>((r) => probe.close(() => r()));
  const done: Record<string, { committed: number; digest: number }> = {};
  const hosts: NodeHost[] = [];
  let err = '';
  try {
    for (const a of ['4', '5', '6']) {
      const h = create(['--addr', a, '--group', '239.77.1.2', '--port', String(port), '--conversation', '4,5,6', '--messages', '6', '--every', '40', '--drop', '15', '--seed', a], {
        out: (l) => {
          const e = JSON.parse(l) as { ev: string; committed: number; digest: number };
          if (e.ev === 'done') done[a] = e;
        },
        err: (t) => { err += t; },
        exit: (c) => { throw new Error(`node-host ${a} exited ${c}: ${err}`); },
      })!;
      hosts.push(h);
      await h.ready;
    }
    const t0 = Date.now();
    while (Object.keys(done).length < 3 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(Object.keys(done).sort(), ['4', '5', '6'], `every node committed everything; committed ${hosts.map((h) => h.node.stats.committed).join(', ')}; ${err}`);
    for (const a of ['5', '6']) assert.equal([done[a].committed, done[a].digest], [done['4'].committed, done['4'].digest], `node ${a} committed what node 4 did`);
    assert.is(done['4'].committed, 18);
    assert.ok(hosts.every((h) => h.node.stats.delivered === 12), 'each node was delivered the 12 messages of the others');
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
});

test.run();

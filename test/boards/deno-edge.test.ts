// The deno-edge board end to end: the built bundle (dist/deno-edge.js, built here through the same
// path as `picolink build`) runs in Deno as station 7 on loopback UDP, next to two node-host boards
// (stations 2 and 3, in this process) and a Node client (station 1, the host's request-reply endpoint).
// - Request-reply served by the Deno node under loss: the client drops 20 % of what it receives and
//   duplicates 5 % (hal/mw/faulty.ts), the Deno node drops 15 % of what it receives (--drop); 40
//   calls of the at-most-once counter (RRA and RR), several in flight, must return exactly 1..40, and
//   the node's own count must be 40: no call ran twice, none was lost.
// - The Deno node as a client: --call 2:2 calls node-host 2's counter once at start.
// - A Psync conversation of the three (the Deno node opens it), each sending 8 messages with loss at
//   every node: the delivery and commit logs (--trace lines from Deno, the same lines from the
//   node-hosts) go through the conversation scenario's checker (host/sim/conversation.ts checkTrace:
//   delivered exactly once, context order, all committed, one commit sequence, commits after their
//   context), and the digests the three report over request-reply (OP_DIGEST) agree.
// Logs come from three processes' clocks, so they are merged without comparing times: every send
// first (a message's send always happened before any delivery of it), then each node's deliveries and
// commits in its own order, which is what the checks read. Skipped with a message when the Deno binary
// is missing. Nothing asserts a duration; the waits are generous for a loaded machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { buildBoard } from '../../host/build/board.ts';
import { udpLink } from '../../hal/node/udp.ts';
import type { UdpLink } from '../../hal/node/udp.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { faulty } from '../../hal/mw/faulty.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { macPorts, SVC_RR } from '../../firmware/mac/ports.ts';
import { PROTO_RR, PROTO_RRA } from '../../firmware/rr/frame.ts';
import { OP_COUNT, OP_DIGEST, OP_INFO } from '../../firmware/edge/node.ts';
import { hostRr } from '../../host/rr/endpoint.ts';
import { checkTrace } from '../../host/sim/conversation.ts';
import type { TraceEvent } from '../../host/sim/conversation.ts';
import { create as nodeHost } from '../../boards/node-host.ts';
import type { NodeHost } from '../../boards/node-host.ts';

const root = resolve(import.meta.dirname, '../..');
const denoBin = process.env.DENO ?? resolve(root, 'node_modules/@deno/linux-x64-glibc/deno');
const MESSAGES = 8;
const CALLS = 40;

type Line = Record<string, unknown> & { ev: string };

/** Resolves when pred holds (checked on every new line and every 50 ms); rejects after limitMs saying what it waited for. */
function until(pred: () => boolean, limitMs: number, what: () => string): Promise<void> {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (pred()) {
        clearInterval(tick);
        res();
      } else if (Date.now() - t0 > limitMs) {
        clearInterval(tick);
        rej(new Error(`gave up waiting after ${limitMs} ms: ${what()}`));
      }
    }, 50);
  });
}

test('deno-edge in Deno serves request-reply at most once under loss, calls a Node node, and converses with node-hosts', async () => {
  if (!existsSync(denoBin)) {
    console.log(`  skip: no Deno binary at ${denoBin}; on Linux x64 npm ci installs it (@deno/linux-x64-glibc), elsewhere set DENO=/path/to/deno`);
    return;
  }
  const built = await buildBoard('deno-edge');
  assert.ok(built.bytes <= built.budgetBytes);

  const clock = realClock();
  const cl: UdpLink = udpLink({ peers: [] });
  const clPort = (await cl.bound()).port;
  const lines: Record<string, Line[]> = { '2': [], '3': [], '7': [] };
  const hosts: NodeHost[] = [];
  let child: ChildProcess | null = null;
  let stderr = '';
  try {
    // The node-hosts start with the client as their only peer; the Deno node's port comes later.
    for (const a of ['2', '3']) {
      const h = nodeHost(['--addr', a, '--peer', `127.0.0.1:${clPort}`, '--conversation', '7,2,3', '--messages', String(MESSAGES), '--every', '60', '--drop', '10', '--seed', a, '--trace'], {
        out: (l) => lines[a].push(JSON.parse(l) as Line),
        err: (t) => { stderr += t; },
        exit: (c) => { throw new Error(`node-host ${a} exited ${c}: ${stderr}`); },
      });
      assert.ok(h, 'node-host started');
      hosts.push(h);
    }
    const hostPorts = await Promise.all(hosts.map((h) => h.ready));
    const c = spawn(denoBin, ['run', '--quiet', '--unstable-net', '--allow-net', built.file,
      '--addr', '7', '--seed', '7', '--drop', '15', '--conversation', '7,2,3', '--messages', String(MESSAGES), '--every', '60', '--trace', '--call', '2:2',
      '--peer', [clPort, ...hostPorts].map((p) => `127.0.0.1:${p}`).join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    });
    child = c;
    c.stderr!.on('data', (d) => { stderr += d; });
    createInterface({ input: c.stdout! }).on('line', (l) => lines['7'].push(JSON.parse(l) as Line));
    let exited: number | null = null;
    c.once('exit', (code) => { exited = code ?? -1; });
    await until(() => lines['7'].length > 0 || exited !== null, 30_000, () => `the Deno node's ready line (${stderr})`);
    const ready = lines['7'][0];
    assert.is(ready.ev, 'ready', `Deno printed ${JSON.stringify(ready)}; stderr: ${stderr}`);
    assert.match(String(ready.runtime), /^deno \d+\.\d+/);
    const denoPort = ready.port as number;
    const all = [clPort, ...hostPorts, denoPort];
    const others = (p: number) => all.filter((x) => x !== p).map((x) => ({ address: '127.0.0.1', port: x }));
    cl.setPeers(others(clPort));
    hosts.forEach((h, i) => h.link.setPeers(others(hostPorts[i])));

    // Request-reply from the Node client to the Deno node, with loss on both sides.
    const rng = xoshiro(11);
    const lossy = faulty(cl, { clock, rng, dropPct: 20, dupPct: 5 });
    const rpc = hostRr({ mac: macPorts(rawMac(lossy, 1, 64)).port(SVC_RR), clock, rng, config: { timeoutUs: 60_000, retries: 12 } });
    const counts = await Promise.all(Array.from({ length: CALLS }, (_, i) => rpc.call(7, OP_COUNT, null, { proto: i % 2 ? PROTO_RRA : PROTO_RR }) as Promise<number>));
    assert.equal([...counts].sort((a, b) => a - b), Array.from({ length: CALLS }, (_, i) => i + 1), 'each call ran exactly once');
    const info = (await rpc.call(7, OP_INFO)) as { runtime: string; count: number };
    assert.is(info.count, CALLS, 'the Deno node counted each call once');
    assert.match(info.runtime, /^deno /);
    assert.ok(rpc.stats.retries > 0, 'the loss made the client retransmit');

    // The conversation: wait until every participant committed every message.
    const total = 3 * MESSAGES;
    const doneAt = (a: string) => lines[a].find((l) => l.ev === 'done');
    await until(() => ['7', '2', '3'].every((a) => doneAt(a)) || exited !== null, 60_000,
      () => `every participant done; committed: ${['7', '2', '3'].map((a) => `${a}=${lines[a].filter((l) => l.ev === 'commit').length}`).join(' ')}; deno exited ${exited}; ${stderr}`);
    for (const a of ['7', '2', '3']) assert.is(doneAt(a)!.committed, total, `node ${a} committed ${total}`);

    const ids = ['7', '2', '3'];
    const events: TraceEvent[] = [];
    const contexts = new Map<string, number[]>();
    for (const a of ids) for (const l of lines[a]) if (l.ev === 'send') {
      events.push({ t: l.t as number, node: a, ev: 'send', mid: l.mid as string });
      contexts.set(l.mid as string, l.ctx as number[]);
    }
    for (const a of ids) for (const l of lines[a]) {
      if (l.ev === 'deliver') events.push({ t: l.t as number, node: a, ev: 'deliver', mid: l.mid as string, from: l.from as string });
      else if (l.ev === 'commit') events.push({ t: l.t as number, node: a, ev: 'commit', mid: l.mid as string });
    }
    assert.is(contexts.size, total, 'every participant sent its messages');
    for (const ch of checkTrace(ids, events, contexts)) assert.ok(ch.ok, `${ch.name}: ${ch.detail}`);

    // The same sequence as the digests say, asked over request-reply.
    const digests = await Promise.all([7, 2, 3].map((a) => rpc.call(a, OP_DIGEST, total) as Promise<[number, number]>));
    for (const d of digests) assert.equal(d, [total, doneAt('7')!.digest as number], 'every participant committed the same sequence');

    // The Deno node's own call: node-host 2's counter, once (its retries may outlast the conversation).
    await until(() => lines['7'].some((l) => l.ev === 'call'), 60_000, () => 'the Deno node\'s --call result');
    const call = lines['7'].find((l) => l.ev === 'call');
    assert.ok(call, 'the Deno node reported its --call');
    assert.equal([call!.dst, call!.op, call!.err, call!.result], [2, OP_COUNT, 0, 1]);
    assert.is(hosts[0].node.stats.count, 1, 'node-host 2 ran the Deno node\'s call once');
  } finally {
    child?.kill('SIGKILL');
    await Promise.all(hosts.map((h) => h.close()));
    clock.close();
    await cl.close();
  }
});

test('dist/deno-edge.js in Deno: usage errors exit 2 naming the flag, --help exits 0, --config needs --allow-read', async () => {
  if (!existsSync(denoBin)) {
    console.log(`  skip: no Deno binary at ${denoBin}`);
    return;
  }
  const file = resolve(root, 'dist/deno-edge.js');
  if (!existsSync(file)) await buildBoard('deno-edge');
  const deno = (args: string[], perms = ['--allow-net']): Promise<{ code: number | null; out: string; err: string }> => new Promise((res) => {
    const c = spawn(denoBin, ['run', '--quiet', '--unstable-net', ...perms, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } });
    let out = '';
    let err = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.stderr!.on('data', (d) => { err += d; });
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.once('exit', (code) => {
      clearTimeout(t);
      res({ code, out, err });
    });
  });
  const port = await deno(['--addr', '7', '--port', '99999', '--peer', '127.0.0.1:5']);
  assert.is(port.code, 2);
  assert.match(port.err, /^deno-edge: --port "99999": a UDP port must be a whole number 0\.\.65535\n\(run with --help for the options\)/);
  const addr = await deno(['--peer', '127.0.0.1:5']);
  assert.is(addr.code, 2);
  assert.match(addr.err, /--addr is missing/);
  const group = await deno(['--addr', '7', '--group', '239.1.1.1', '--port', '5000']);
  assert.is(group.code, 2);
  assert.match(group.err, /--group: the deno-edge board sends to unicast peers only/);
  const help = await deno(['--help']);
  assert.is(help.code, 0);
  assert.match(help.out, /^usage: deno run --unstable-net --allow-net --allow-read dist\/deno-edge\.js --addr N/);
  const noRead = await deno(['--config', resolve(root, 'package.json')]);
  assert.is(noRead.code, 2);
  assert.match(noRead.err, /--config .*package\.json: cannot read it .*; Deno needs --allow-read/);
  const cfg = await deno(['--config', resolve(root, 'package.json')], ['--allow-net', '--allow-read']);
  assert.is(cfg.code, 2);
  assert.match(cfg.err, /--config .*package\.json: unknown key "name"/, 'read with --allow-read, then refused for what it holds');
});

test.run();

// The `linux` board (boards/linux.ts) on Espruino's Linux interpreter, named by ESPRUINO: two
// interpreter processes run the bundle, each in a temporary directory with its picolink.json, and two
// Node nodes (test/boards/linux/node.ts: udpLink, the raw MAC, the host's request-reply endpoint and a
// Psync participant) join them on loopback UDP, every node listing the other three as peers. Node
// drops 10 % of what it receives (hal/mw/faulty.ts). Checked: Node calls both interpreters (OP_ECHO
// over RR, OP_COUNT over RRA: at most once, so the answers run 1, 2, 3...); the interpreters call Node
// and each other, and report what came back (no wrong echo, no count that ran twice); and a Psync
// conversation among all four commits one sequence everywhere (the checksums of the interpreters'
// committed prefixes equal the Node nodes'), whose order respects context (no committed message
// precedes one committed before it, in a Node node's image). Also: a missing or bad picolink.json
// stops the interpreter with a message naming the field. Skipped with a message when ESPRUINO is unset.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rollup } from 'rollup';
import { realClock } from '../../hal/node/clock.ts';
import { PROTO_RR, PROTO_RRA } from '../../firmware/rr/frame.ts';
import { findEspruino, NO_ESPRUINO } from '../../host/sim/espruino-linux.ts';
import { boardConfig } from '../../rollup.config.js';
import { OP_COUNT, OP_DIGEST, OP_ECHO, OP_INFO } from '../../boards/linux.ts';
import type { CallerStats, LinuxConfig } from '../../boards/linux.ts';
import { nodeNode, nodeUdp } from './linux/node.ts';
import type { NodeNode } from './linux/node.ts';

const root = resolve(import.meta.dirname, '../..');
const espruino = findEspruino();
if (!espruino) console.log(`  skip: ${NO_ESPRUINO}; the linux board is not run`);
const realTest = espruino ? test : test.skip;

let bundle: string | null = null;
async function linuxBundle(): Promise<string> {
  if (bundle) return bundle;
  const cfg = await boardConfig(resolve(root, 'boards/linux.ts'));
  const b = await rollup({ ...cfg, output: undefined });
  try {
    bundle = (await b.generate(cfg.output)).output[0].code;
  } finally {
    await b.close();
  }
  return bundle;
}

/** Free UDP ports on loopback (bound by Node and released: a small race, fine on a test machine). */
async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    out.push(s.address().port);
    await new Promise<void>((r) => s.close(() => r()));
  }
  return out;
}

interface Interp {
  child: ChildProcess;
  out(): string;
}

async function startInterp(config: LinuxConfig | string): Promise<Interp> {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-linux-'));
  writeFileSync(join(dir, 'linux.js'), await linuxBundle());
  if (config !== '') writeFileSync(join(dir, 'picolink.json'), typeof config === 'string' ? config : JSON.stringify(config));
  const child = spawn(espruino!, ['linux.js'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  return { child, out: () => text };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

realTest('a missing or bad picolink.json stops the node with a message naming what is wrong', async () => {
  const cases: [string, RegExp][] = [
    ['', /cannot read picolink\.json/],
    ['{"addr": 5, "port": 5000', /picolink\.json is not JSON/],
    ['{"addr": 70000, "port": 5000, "peers": ["127.0.0.1:5001"]}', /addr 70000 is not a station address/],
    ['{"addr": 5, "port": 5000, "peers": ["nowhere"]}', /peer "nowhere" is not "address:port"/],
  ];
  for (const [text, msg] of cases) {
    const p = await startInterp(text);
    try {
      for (let i = 0; i < 100 && !msg.test(p.out()); i++) await sleep(50);
      assert.match(p.out(), msg);
      assert.not.match(p.out(), /Uncaught/, 'the message alone, not an uncaught error pointing into the bundle');
      assert.not.match(p.out(), /"ev":"ready"/, 'nothing started');
    } finally {
      p.child.kill('SIGKILL');
    }
  }
});

realTest('two interpreters and two Node nodes on loopback UDP: request-reply both ways under loss, and one Psync conversation', async () => {
  const A = 0x0101, B = 0x0102, N1 = 0x0201, N2 = 0x0202;
  const [pa, pb] = await freePorts(2);
  const u1 = await nodeUdp();
  const u2 = await nodeUdp();
  const ep = (port: number): { address: string; port: number } => ({ address: '127.0.0.1', port });
  const conversation = [A, N1, B, N2];
  const clock = realClock();
  const interps: Interp[] = [];
  const nodes: NodeNode[] = [];
  try {
    interps.push(await startInterp({ addr: A, port: pa, peers: [`127.0.0.1:${pb}`, `127.0.0.1:${u1.port}`, `127.0.0.1:${u2.port}`], callees: [N1, N2], callUs: 100000, conversation, proposeUs: 400000, seed: 1 }));
    interps.push(await startInterp({ addr: B, port: pb, peers: [ep(pa), ep(u1.port), ep(u2.port)], callees: [N2, A], callUs: 100000, conversation, proposeUs: 400000, seed: 2 }));
    nodes.push(nodeNode({ addr: N1, udp: u1.udp, peers: [ep(pa), ep(pb), ep(u2.port)], clock, seed: 11, dropPct: 10, conversation, proposeUs: 400_000 }));
    nodes.push(nodeNode({ addr: N2, udp: u2.udp, peers: [ep(pa), ep(pb), ep(u1.port)], clock, seed: 12, dropPct: 10, conversation, proposeUs: 400_000 }));
    const [n1, n2] = nodes;
    const said = (): string => interps.map((p, i) => `interpreter ${i}:\n${p.out().slice(-1500)}`).join('\n');

    // Node calls each interpreter: echo over RR, a counter over RRA; at most once, so 1, 2, 3...
    const t0 = performance.now();
    for (const dst of [A, B]) {
      const first = await n1.rpc.call(dst, OP_ECHO, { s: 'héllo', n: [1, 2.5, -3], b: new Uint8Array([0, 255, 4]) }).catch((e) => { throw new Error(`${e}\n${said()}`); });
      // Bytes come back as bytes (a CBOR byte string), not as an array of numbers: the firmware's CBOR
      // decoder copies byte strings with set(), since on Espruino 2v29 Uint8Array.prototype.slice
      // returns a plain Array (which would travel back as a CBOR array).
      const f = first as { s: string; n: number[]; b: Uint8Array };
      assert.ok(f.b instanceof Uint8Array, `the bytes came back as ${Object.prototype.toString.call(f.b)}`);
      assert.equal({ ...f, b: Array.from(f.b) }, { s: 'héllo', n: [1, 2.5, -3], b: [0, 255, 4] }, 'text, numbers and bytes back');
      const counts: number[] = [];
      for (let i = 0; i < 20; i++) {
        assert.is(await n1.rpc.call(dst, OP_ECHO, i, { proto: PROTO_RR }), i);
        counts.push((await n1.rpc.call(dst, OP_COUNT, null, { proto: PROTO_RRA })) as number);
      }
      assert.equal(counts, Array.from({ length: 20 }, (_, i) => i + 1), `station ${dst}: each call ran once, in order`);
    }
    const ms = (performance.now() - t0) / 82;
    assert.ok(n1.rpc.stats.retries > 0, 'the loss made Node retransmit');

    // The conversation: wait until everyone committed a few dozen proposals.
    const K = 24;
    type Digest = [number, number] | null;
    const digestOf = async (dst: number, k: number): Promise<Digest> => (await n2.rpc.call(dst, OP_DIGEST, k)) as Digest;
    for (let i = 0; i < 120; i++) {
      const ds = await Promise.all([digestOf(A, 0), digestOf(B, 0)]);
      if (n1.conv!.committed.length >= K && n2.conv!.committed.length >= K && ds.every((d) => d && d[0] >= K)) break;
      await sleep(250);
    }
    const c1 = n1.conv!.committed;
    const c2 = n2.conv!.committed;
    assert.ok(c1.length >= K && c2.length >= K, `Node nodes committed ${c1.length} and ${c2.length} (want ${K})\n${said()}`);
    const common = Math.min(c1.length, c2.length);
    assert.equal(c1.slice(0, common), c2.slice(0, common), 'both Node nodes committed the same sequence');
    // The interpreters' checksums of that prefix: the same sequence there too.
    let checked = 0;
    for (let tries = 0; tries < 20 && checked < 2; tries++) {
      checked = 0;
      const k = Math.min(n1.conv!.committed.length, n2.conv!.committed.length);
      const want = n1.conv!.digestAt(k);
      for (const dst of [A, B]) {
        const d = await digestOf(dst, k);
        assert.ok(d, `station ${dst} takes no part in a conversation`);
        if (d![1] === -1) continue; // it has not committed k yet, or already 32 more: ask again
        assert.is(d![1], want, `station ${dst}: checksum of the first ${k} commits differs from Node's`);
        checked++;
      }
      if (checked < 2) await sleep(100);
    }
    assert.is(checked, 2, `both interpreters' checksums were compared\n${said()}`);
    // Context: no committed message precedes one committed before it (in N1's image, where both are kept).
    const ps = n1.conv!.ps;
    const conv = n1.conv!.conv();
    let pairs = 0;
    for (let i = 0; i < c1.length; i++) {
      for (let j = i + 1; j < c1.length; j++) {
        if (ps.precedes(conv, c1[j], c1[i])) assert.unreachable(`commit ${j} (${c1[j].toString(16)}) precedes commit ${i} (${c1[i].toString(16)})`);
        if (ps.precedes(conv, c1[i], c1[j])) pairs++;
      }
    }
    assert.ok(pairs > 0, 'the image relates some committed messages (the check saw context)');
    const senders = new Set(c1.map((m) => Math.floor(m / 0x10000)));
    assert.ok(senders.has(A) && senders.has(B) && senders.has(N1) && senders.has(N2), `every participant's proposals committed: ${[...senders].map((s) => s.toString(16))}`);

    // The interpreters' own calls: to Node and to each other.
    type Info = { runtime: string; caller: CallerStats; executions: number; committed: number; link: { received: number; oversize: number } };
    const infoA = (await n2.rpc.call(A, OP_INFO)) as Info;
    const infoB = (await n2.rpc.call(B, OP_INFO)) as Info;
    assert.match(infoA.runtime, /^espruino 2v\d+/);
    for (const [name, info] of [['A', infoA], ['B', infoB]] as const) {
      const c = info.caller;
      assert.ok(c.ok >= 10, `interpreter ${name} completed ${c.ok} of ${c.calls} calls\n${said()}`);
      assert.is(c.mismatches, 0, `interpreter ${name}: an echo came back wrong`);
      assert.is(c.repeats, 0, `interpreter ${name}: a count ran twice`);
      assert.is(c.errors, 0, `interpreter ${name}: calls failed`);
      assert.ok(c.counts.every((n) => n > 0), `interpreter ${name} heard every callee: ${c.counts}`);
    }
    // What Node executed for the interpreters is what they saw (the last call may still be going).
    const execA = n1.counts.get(A) ?? 0;
    assert.ok(execA >= infoA.caller.counts[0] && execA <= infoA.caller.counts[0] + 1, `N1 ran A's count ${execA} times; A saw ${infoA.caller.counts[0]}`);
    assert.ok(infoB.caller.counts[1] > 0, 'B called A');
    for (const p of interps) assert.not.match(p.out(), /Uncaught|Error/, p.out().slice(-1500));
    for (const [i, p] of interps.entries()) assert.match(p.out(), new RegExp(`\\{"ev":"ready","node":"${[A, B][i]}","runtime":"espruino 2v`), 'one ready line');
    // For the record (not asserted: timings depend on the machine).
    console.log(`  linux board: ${ms.toFixed(1)} ms a call from Node under 10 % loss (${n1.rpc.stats.retries} retries); ` +
      `JsVars in use ${(infoA as unknown as { usage: number }).usage} of ${(infoA as unknown as { total: number }).total}; ` +
      `committed ${c1.length} proposals; interpreter calls ok ${infoA.caller.ok + infoB.caller.ok} of ${infoA.caller.calls + infoB.caller.calls}`);
  } finally {
    for (const p of interps) p.child.kill('SIGKILL');
    for (const n of nodes) await n.close();
    await u1.udp.close();
    await u2.udp.close();
    clock.close();
  }
});

test.run();

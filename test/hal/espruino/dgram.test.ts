// Tests of the Espruino UDP link (hal/espruino/dgram.ts) against a fake of exactly the dgram API and
// the E conversions it calls (dgram-fake.ts), in virtual time: the bytes on the wire, every peer,
// binary safety, oversize frames refused and dropped, one onSent per accepted frame and never from
// inside send, close. A mutation test shows the wire test fails when the driver's send arguments are
// changed. With ESPRUINO set, the driver also runs on Espruino's Linux interpreter and echoes frames
// of every byte value back to Node over loopback UDP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import { dgramLink } from '../../../hal/espruino/dgram.ts';
import type { DgramLink, DgramLinkOptions } from '../../../hal/espruino/dgram.ts';
import { TX_ERR, TX_OK } from '../../../hal/link.ts';
import { udpLink } from '../../../hal/node/udp.ts';
import { findEspruino, NO_ESPRUINO } from '../../../host/sim/espruino-linux.ts';
import { FakeNet, fakeBytes } from './dgram-fake.ts';

const here = import.meta.dirname;
const root = resolve(here, '../../..');

type Make = (o: DgramLinkOptions) => DgramLink;

function net(): { clock: Scheduler; net: FakeNet } {
  const clock = scheduler();
  return { clock, net: new FakeNet(clock) };
}

function link(n: FakeNet, port: number, peers: number[], extra: Partial<DgramLinkOptions> = {}, make: Make = dgramLink): DgramLink {
  return make({ port, peers: peers.map((p) => ({ address: '127.0.0.1', port: p })), clock: n.clock, dgram: n.dgram, bytes: fakeBytes, ...extra });
}

function collect(l: DgramLink): Uint8Array[] {
  const got: Uint8Array[] = [];
  l.onReceive((f, len, info) => {
    assert.type(info.timeUs, 'number');
    got.push(f.slice(0, len));
  });
  return got;
}

/** The wire test, against any build of the driver: the datagram's bytes, ports and the received frame. */
function wireCheck(make: Make): void {
  const { clock, net: n } = net();
  const a = link(n, 5001, [5002], {}, make);
  const b = link(n, 5002, [5001], {}, make);
  const got = collect(b);
  const frame = new Uint8Array([0xff, 0x00, 0x12, 0x34, 0x00, 0x0a, 0x80, 0x7f]);
  assert.ok(a.send(frame, 6), 'the link takes the frame');
  frame.fill(0x55); // the link copied the frame before send returned
  clock.runAll();
  assert.is(n.wire.length, 1);
  assert.is(n.wire[0].fromPort, 5001, 'sent from the bound port');
  assert.is(n.wire[0].to, '127.0.0.1');
  assert.is(n.wire[0].port, 5002);
  assert.equal(Array.from(n.wire[0].bytes), [0xff, 0x00, 0x12, 0x34, 0x00, 0x0a], 'exactly the frame, one datagram');
  assert.equal(got.map((f) => Array.from(f)), [[0xff, 0x00, 0x12, 0x34, 0x00, 0x0a]]);
}

test('a frame goes out as one datagram of exactly its bytes, from the bound port, and arrives whole', () => {
  wireCheck(dgramLink);
});

test('every frame goes to every peer; setPeers replaces them; no peers: refused', () => {
  const { clock, net: n } = net();
  const a = link(n, 6000, [6001, 6002, 6003]);
  const others = [6001, 6002, 6003].map((p) => collect(link(n, p, [6000])));
  assert.ok(a.send(new Uint8Array([1, 2, 3]), 3));
  clock.runAll();
  assert.equal(n.wire.map((d) => d.port), [6001, 6002, 6003]);
  for (const got of others) assert.equal(got.map((f) => Array.from(f)), [[1, 2, 3]]);
  a.setPeers([{ address: '127.0.0.1', port: 6002 }]);
  assert.ok(a.send(new Uint8Array([4]), 1));
  clock.runAll();
  assert.equal(others.map((g) => g.length), [1, 2, 1]);
  a.setPeers([]);
  assert.not.ok(a.send(new Uint8Array([5]), 1), 'nowhere to send: refused');
});

test('binary safety: any bytes of any length up to the mtu arrive unchanged', () => {
  const { clock, net: n } = net();
  const a = link(n, 7001, [7002], { mtu: 300, maxInFlight: 64 });
  const got = collect(link(n, 7002, [7001], { mtu: 300 }));
  const all = new Uint8Array(256).map((_, i) => i);
  assert.ok(a.send(all, 256));
  clock.runAll();
  assert.equal(Array.from(got[0]), Array.from(all), 'every byte value 0x00..0xff');
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (f) => {
    got.length = 0;
    assert.ok(a.send(f, f.length));
    clock.runAll();
    assert.equal(got.map((x) => Array.from(x)), [Array.from(f)]);
  }), { numRuns: 200 });
});

test('oversize: a frame over the mtu is refused; a datagram over the mtu is dropped and counted, even one cut short; the receive buffer holds every datagram', () => {
  const { clock, net: n } = net();
  const a = link(n, 8001, [8002], { mtu: 600 });
  const b = link(n, 8002, [8001], { mtu: 600 });
  const got = collect(b);
  assert.not.ok(a.send(new Uint8Array(601), 601), 'over the mtu');
  assert.not.ok(a.send(new Uint8Array(4), 5), 'len beyond the buffer');
  assert.not.ok(a.send(new Uint8Array(4), 0), 'empty');
  assert.ok(a.send(new Uint8Array(600).fill(7), 600), 'exactly the mtu');
  n.inject(8002, new Uint8Array(601).fill(1));
  n.inject(8002, new Uint8Array(70000).fill(2)); // Espruino cuts it to its receive buffer: still over the mtu
  n.inject(8002, new Uint8Array(0));
  clock.runAll();
  assert.equal(got.map((f) => f.length), [600]);
  assert.is(b.stats.oversize, 2);
  assert.is(b.stats.received, 1);
  const s = n.sockets[1];
  assert.is(s.recvBufferSize, 65536, 'a receive buffer for any datagram (a smaller one shrinks SO_RCVBUF)');
  link(n, 8003, [8001], { mtu: 500 });
  assert.is(n.sockets[2].recvBufferSize, 0, 'no receive buffer option (it would shrink SO_RCVBUF) when the default holds the mtu');
});

test('onSent: exactly once per accepted frame, in order, never inside send; busy while maxInFlight wait', () => {
  const { clock, net: n } = net();
  const a = link(n, 9001, [9002], { maxInFlight: 3 });
  link(n, 9002, [9001]);
  const statuses: number[] = [];
  let inSend = false;
  let again = 2;
  a.onSent((st) => {
    assert.not.ok(inSend, 'onSent from inside send');
    statuses.push(st);
    if (again-- > 0) {
      inSend = true;
      assert.ok(a.send(new Uint8Array([9]), 1), 'a send from inside onSent is taken');
      inSend = false;
    }
  });
  let taken = 0;
  for (let i = 0; i < 5; i++) {
    inSend = true;
    if (a.send(new Uint8Array([i]), 1)) taken++;
    inSend = false;
  }
  assert.is(taken, 3, 'maxInFlight frames taken, then refused');
  assert.ok(a.busy());
  assert.is(statuses.length, 0, 'nothing reported yet');
  clock.runAll();
  assert.equal(statuses, [TX_OK, TX_OK, TX_OK, TX_OK, TX_OK], 'the 3 taken and the 2 sent from onSent');
  assert.not.ok(a.busy());
  assert.is(a.stats.sent, 5);
  assert.is(n.wire.length, 5);
});

test('close: later sends refused, frames already taken still get their onSent, nothing received after', () => {
  const { clock, net: n } = net();
  const a = link(n, 9101, [9102]);
  const b = link(n, 9102, [9101]);
  const got = collect(a);
  const statuses: number[] = [];
  a.onSent((st) => statuses.push(st));
  assert.ok(a.send(new Uint8Array([1]), 1));
  a.close();
  assert.not.ok(a.open());
  assert.not.ok(a.send(new Uint8Array([2]), 1));
  assert.ok(b.send(new Uint8Array([3]), 1));
  clock.runAll();
  assert.equal(statuses, [TX_OK]);
  assert.is(got.length, 0);
  assert.ok(n.sockets[0].closed, 'the socket was closed');
  a.close(); // twice is harmless
});

test('a socket that throws for one of two peers: taken, reported TX_ERR; for every peer: refused', () => {
  const { clock, net: n } = net();
  const a = link(n, 9201, [9202, 9203]);
  const sock = n.sockets[0];
  const real = sock.send.bind(sock);
  let calls = 0;
  sock.send = (...args: unknown[]) => {
    if (calls++ % 2 === 0) throw new Error('Error: This socket is closed');
    (real as (...x: unknown[]) => void)(...args);
  };
  const statuses: number[] = [];
  a.onSent((st) => statuses.push(st));
  assert.ok(a.send(new Uint8Array([1]), 1));
  clock.runAll();
  assert.equal(statuses, [TX_ERR]);
  sock.send = () => { throw new Error('Error: This socket is closed'); };
  assert.not.ok(a.send(new Uint8Array([1]), 1));
  assert.ok(a.stats.sendErrors >= 3);
});

test('a port already bound: the error says which port and what to do', () => {
  const { net: n } = net();
  link(n, 9301, [1]);
  assert.throws(() => link(n, 9301, [1]), /UDP port 9301.*another port/);
  assert.throws(() => link(n, 0, [1]), /port to bind/);
});

/** Build the driver with `from` replaced by `to`, and load it. */
async function mutant(from: string, to: string): Promise<Make> {
  const src = readFileSync(resolve(root, 'hal/espruino/dgram.ts'), 'utf8');
  assert.ok(src.includes(from), `the driver no longer contains ${from}`);
  const out = await build({
    stdin: { contents: src.replace(from, to), loader: 'ts', resolveDir: resolve(root, 'hal/espruino') },
    bundle: true, format: 'esm', write: false, platform: 'neutral', external: ['dgram'],
  });
  const file = join(mkdtempSync(join(tmpdir(), 'picolink-mutant-')), 'dgram.mjs');
  writeFileSync(file, out.outputFiles[0].text);
  return ((await import(pathToFileURL(file).href)) as { dgramLink: Make }).dgramLink;
}

test('the wire test fails when the driver\'s send arguments are changed', async () => {
  const call = 'sock.send(txStr, 0, len, peers[i].port, peers[i].address)';
  // The unchanged source, through the same path, passes: the mutants below fail for their change.
  wireCheck(await mutant(call, call));
  const mutants = [
    'sock.send(txStr, peers[i].port, peers[i].address)', // the whole buffer, not len bytes
    'sock.send(frame as unknown as string, peers[i].port, peers[i].address)', // a Uint8Array: sent as text
    'sock.send(txStr, 0, len - 1, peers[i].port, peers[i].address)', // one byte short
    'sock.send(txStr, 1, len, peers[i].port, peers[i].address)', // offset
    'sock.send(txStr, 0, len, peers[i].port + 1, peers[i].address)', // wrong port
  ];
  for (const m of mutants) {
    let failed = false;
    try {
      wireCheck(await mutant(call, m));
    } catch {
      failed = true;
    }
    assert.ok(failed, `the wire test still passed with ${m}`);
  }
});

// ------------------------------------------------------------------ on Espruino's Linux interpreter

test('on Espruino\'s Linux interpreter: frames of every byte value echo back to Node unchanged; oversize dropped', async () => {
  const espruino = findEspruino();
  if (!espruino) {
    console.log(`  skip: ${NO_ESPRUINO}`);
    return;
  }
  const node = udpLink({ peers: [] });
  const local = await node.bound();
  const port = 20000 + (process.pid % 20000);
  const entry = `import { dgramLink } from './dgram.ts'; import { espruinoClock } from './clock.ts';
    var clock = espruinoClock();
    var l = dgramLink({ port: ${port}, peers: [{ address: '127.0.0.1', port: ${local.port} }], clock: clock, mtu: 1200, maxInFlight: 16 });
    var n = 0;
    l.onReceive(function (f, len) { n++; if (!l.send(f, len)) print('REFUSED'); });
    setInterval(function () { print('STATS ' + JSON.stringify(l.stats)); }, 200);
    print('READY');`;
  const out = await build({ stdin: { contents: entry, loader: 'ts', resolveDir: resolve(root, 'hal/espruino') }, bundle: true, format: 'iife', target: 'es2017', write: false, external: ['dgram'] });
  const dir = mkdtempSync(join(tmpdir(), 'picolink-dgram-'));
  writeFileSync(join(dir, 'echo.js'), out.outputFiles[0].text);
  const child = spawn(espruino, ['echo.js'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(cond(), `${what}; the interpreter said:\n${stdout.slice(-1500)}`);
  };
  try {
    await until(() => stdout.includes('READY'), 'the interpreter did not start the link');
    node.setPeers([{ address: '127.0.0.1', port }]);
    const echoes: number[][] = [];
    node.onReceive((f, len) => echoes.push(Array.from(f.subarray(0, len))));
    const frames: number[][] = [
      Array.from({ length: 256 }, (_, i) => i),
      Array.from({ length: 256 }, (_, i) => 255 - i),
      [0], [0xff], [0, 0, 0, 0], [0x0d, 0x0a, 0x04, 0x00, 0x1b],
      Array.from({ length: 1200 }, (_, i) => (i * 7 + 3) & 0xff),
    ];
    for (const f of frames) {
      assert.ok(node.send(new Uint8Array(f), f.length));
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => echoes.length >= frames.length, `${echoes.length} of ${frames.length} echoes`);
    assert.equal(echoes, frames, 'every frame came back byte for byte');
    // Over the mtu (Node's link allows it with a larger mtu): dropped and counted there, not echoed.
    const big = udpLink({ peers: [{ address: '127.0.0.1', port }], mtu: 4000 });
    await big.bound();
    assert.ok(big.send(new Uint8Array(1201).fill(9), 1201));
    assert.ok(big.send(new Uint8Array(3000).fill(9), 3000));
    await until(() => /"oversize":2/.test(stdout), 'the interpreter did not count 2 oversize datagrams');
    await big.close();
    assert.is(echoes.length, frames.length, 'nothing over the mtu came back');
    assert.not.match(stdout, /Uncaught|REFUSED/);
  } finally {
    child.kill('SIGKILL');
    await node.close();
  }
});

test.run();

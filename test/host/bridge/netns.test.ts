// Several bridges on several hosts form one device network: three network namespaces joined by veth
// pairs to a Linux bridge in a fourth (a LAN), two of them each running a bridge over a device network
// of their own (netns-host.ts), the third a plain IP program joined to the device group's IP group.
// A device's message reaches the other host's device and the IP program once each; the IP program's
// message reaches both devices once each; nothing loops. Needs root (or CAP_NET_ADMIN) and iproute2;
// otherwise it skips with a message saying so. Namespaces and links are removed afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Why the test cannot run here, or null. */
function cannot(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2\'s ip command not found (Debian package iproute2)';
  }
  const probe = `plp${process.pid % 100000}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return `cannot create a network namespace (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]}); run as root or with CAP_NET_ADMIN and CAP_SYS_ADMIN`;
  }
  return null;
}

const WHY = cannot();
if (WHY) console.log(`  skip: netns test: ${WHY}`);
const run = WHY ? test.skip : test;

const tag = `pl${process.pid % 100000}`;
const NS = { sw: `${tag}sw`, a: `${tag}a`, b: `${tag}b`, c: `${tag}c` };
const ADDR = { a: '10.77.0.1', b: '10.77.0.2', c: '10.77.0.3' };

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function setUp(): void {
  for (const ns of Object.values(NS)) ip('netns', 'add', ns);
  ip('-n', NS.sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
  ip('-n', NS.sw, 'link', 'set', 'br0', 'up');
  for (const h of ['a', 'b', 'c'] as const) {
    const ns = NS[h];
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', `${tag}${h}0`, 'netns', ns, 'type', 'veth', 'peer', 'name', `${tag}${h}1`, 'netns', NS.sw);
    ip('-n', ns, 'addr', 'add', `${ADDR[h]}/24`, 'dev', `${tag}${h}0`);
    ip('-n', ns, 'link', 'set', `${tag}${h}0`, 'up');
    ip('-n', NS.sw, 'link', 'set', `${tag}${h}1`, 'master', 'br0');
    ip('-n', NS.sw, 'link', 'set', `${tag}${h}1`, 'up');
  }
}

function tearDown(): void {
  for (const ns of Object.values(NS)) {
    try { ip('netns', 'del', ns); } catch { /* not there */ }
  }
}

interface Host {
  child: ChildProcess;
  out: Record<string, unknown>[];
  send(v: unknown): void;
  stop(): Promise<void>;
}

function host(ns: string, args: string[]): Promise<Host> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/host/bridge/netns-host.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Record<string, unknown>[] = [];
  let err = '';
  child.stderr!.on('data', (b) => { err += b; });
  createInterface({ input: child.stdout! }).on('line', (l) => out.push(JSON.parse(l)));
  const h: Host = {
    child, out,
    send(v) { child.stdin!.write(`send ${JSON.stringify(v)}\n`); },
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(t);
    },
  };
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = setInterval(() => {
      if (out.some((x) => x.ready)) { clearInterval(check); resolve(h); }
      else if (child.exitCode !== null || Date.now() - t0 > 15_000) {
        clearInterval(check);
        child.kill();
        reject(new Error(`host in ${ns} did not start: ${err}`));
      }
    }, 10);
  });
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const heard = (h: Host): unknown[] => h.out.filter((x) => x.heard).map((x) => x.heard);
const ipHeard = (h: Host): Record<string, unknown>[] => h.out.filter((x) => x.ip).map((x) => x.ip as Record<string, unknown>);

run('two bridges in two network namespaces and an IP program in a third make one device network', async () => {
  tearDown();
  setUp();
  const hosts: Host[] = [];
  try {
    const a = await host(NS.a, ['--bridge', ADDR.a, '--addr', '2']);
    hosts.push(a);
    const b = await host(NS.b, ['--bridge', ADDR.b, '--addr', '3']);
    hosts.push(b);
    const c = await host(NS.c, ['--client', ADDR.c]);
    hosts.push(c);

    a.send({ from: 'a' });
    await until(() => heard(b).length === 1 && ipHeard(c).length === 1, 'device 2\'s message at host b and at the IP program');
    assert.equal(heard(b)[0], [1, 2, { from: 'a' }]);
    assert.equal(ipHeard(c)[0].d, { from: 'a' });
    assert.is(ipHeard(c)[0].o, 2);

    b.send({ from: 'b' });
    await until(() => heard(a).length === 1 && ipHeard(c).length === 2, 'device 3\'s message at host a and at the IP program');
    assert.equal(heard(a)[0], [1, 3, { from: 'b' }]);

    c.send('from c');
    await until(() => heard(a).length === 2 && heard(b).length === 2, 'the IP program\'s message at both devices');
    assert.equal((heard(a)[1] as unknown[])[2], 'from c');
    assert.equal((heard(b)[1] as unknown[])[2], 'from c');

    // Nothing loops back or arrives twice.
    await new Promise((r) => setTimeout(r, 400));
    assert.is(heard(a).length, 2, JSON.stringify(heard(a)));
    assert.is(heard(b).length, 2, JSON.stringify(heard(b)));
    assert.is(ipHeard(c).length, 2, JSON.stringify(ipHeard(c)));
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    tearDown();
  }
});

test.run();

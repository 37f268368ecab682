// The bridge's verbs of the `picolink` command: `bridge --sim` (a simulated gateway network behind the
// MAC tunnel), then `call`, `devices` and `groups` against it, and with a simulated bridge of their own (--sim), run in-process through run(argv, io) as
// a user's command lines are; their exit codes and messages for errors (unknown device, no bridge, arguments too large for a request,
// arguments that are not JSON, a non-loopback address without a token, a token's place in the
// suggested command and in the denied message, a port where no gateway
// answers); `ports` with a stand-in list and the sysfs reader on a made-up sysfs tree; and the real
// bin as child processes, stopped with SIGINT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../../host/cli/main.ts';
import { portSource, resolvePort } from '../../../host/cli/ports.ts';
import { bridgeAddress } from '../../../host/cli/devices.ts';
import { sysfsPorts } from '../../../hal/node/ports.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';

const root = resolve(import.meta.dirname, '../../..');

interface Run { code: number; out: string; err: string }

function start(...argv: string[]): { done: Promise<Run>; out: () => string } {
  let out = '';
  let err = '';
  const done = run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } }).then((code) => ({ code, out, err }));
  return { done, out: () => out };
}
const cli = (...argv: string[]): Promise<Run> => start(...argv).done;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('bridge --sim, then call, devices and groups through it, as a user types them', async () => {
  const b = start('bridge', '--sim', '--sensors', '3', '--udp-port', '0', '--groups', '1,4', '--name', 'door=4');
  await until(() => /udp (?:and tcp )?127\.0\.0\.1:\d+/.test(b.out()), 10_000, 'the bridge prints where it listens');
  const port = /udp (?:and tcp )?127\.0\.0\.1:(\d+)/.exec(b.out())![1];
  const at = ['--bridge', `127.0.0.1:${port}`];
  try {
    assert.match(b.out(), /bridge: a simulated gateway \(address 1\) with sensors 2, 3, 4/);
    assert.match(b.out(), /groups 1 -> 239\.255\.80\.1:47800, 4 -> 239\.255\.80\.4:47800/);
    // The browser page and the WebSocket front, on a port of their own (any free one with --udp-port 0).
    await until(() => /web page http:\/\/127\.0\.0\.1:\d+\//.test(b.out()), 10_000, 'the bridge prints the web page');
    const webPort = /web page http:\/\/127\.0\.0\.1:(\d+)\//.exec(b.out())![1];
    const page = await fetch(`http://127.0.0.1:${webPort}/`);
    assert.is(page.status, 200);
    assert.match(await page.text(), /<html/i);

    const read = await cli('call', 'sensor-1', '1', ...at);
    assert.is(read.code, 0, read.err);
    const v = JSON.parse(read.out);
    assert.ok(v.t >= 180 && v.t < 260 && v.mv > 2000, read.out);
    // OP_COUNT over RRA by address: the counter moves by one per call.
    const c1 = await cli('call', '3', '2', '--proto', 'RRA', '--json', ...at);
    const c2 = await cli('call', '3', '2', '--proto', 'RRA', '--json', ...at);
    assert.equal([JSON.parse(c1.out), JSON.parse(c2.out)], [{ ok: 1 }, { ok: 2 }]);
    // A name from --name (the device it names is sensor-3, at 4).
    const door = await cli('call', 'door', '2', ...at);
    assert.equal([door.code, door.out.trim()], [0, '1']);

    const unknown = await cli('call', 'nobody', '1', ...at);
    assert.is(unknown.code, 1);
    assert.match(unknown.err, /unknown device: no device named "nobody" .*\(code 17\)/);
    const noOp = await cli('call', 'sensor-1', '9', ...at);
    assert.is(noOp.code, 1);
    assert.match(noOp.err, /unknown operation/);

    const devs = await cli('devices', ...at);
    assert.is(devs.code, 0);
    assert.equal(devs.out.trim().split('\n').map((l) => l.trim().split(/\s+/)), [
      ['NAME', 'ADDRESS', 'TYPE', 'OPERATIONS'], ['door', '4', 'device'], ['sensor-1', '2', 'sensor', '1,2'], ['sensor-2', '3', 'sensor', '1,2'],
    ]);
    const lamps = await cli('devices', '--type', 'sensor', '--has', '2', '--json', ...at);
    assert.equal(JSON.parse(lamps.out).map((d: { name: string }) => d.name).sort(), ['sensor-1', 'sensor-2']);
    const none = await cli('devices', '--type', 'lamp', ...at);
    assert.is(none.out, 'no devices match\n');

    const groups = await cli('groups', '--json', ...at);
    assert.equal(JSON.parse(groups.out).map((g: { group: number }) => g.group), [1, 4]);
  } finally {
    process.emit('SIGINT');
  }
  const end = await b.done;
  assert.is(end.code, 0, end.err);
  assert.match(end.out, /bridge: stopped\n$/);
});

test('call and devices --sim: a simulated bridge of their own, nothing else running', async () => {
  const d = await cli('devices', '--sim', '--sensors', '3', '--json');
  assert.is(d.code, 0, d.err);
  assert.equal((JSON.parse(d.out) as { name: string }[]).map((x) => x.name), ['sensor-1', 'sensor-2', 'sensor-3']);
  const c1 = await cli('call', 'sensor-2', '2', '--sim', '--proto', 'RRA');
  assert.is(c1.code, 0, c1.err);
  assert.is(c1.out, '1\n', 'a fresh simulated sensor counts its first call');
  const r = await cli('call', 'sensor-1', '1', '--sim', '--json');
  assert.is(r.code, 0, r.err);
  assert.ok(typeof (JSON.parse(r.out) as { ok: { t: number } }).ok.t === 'number', 'a reading');
  // A device that does not answer, through a bridge that does: the message says which.
  const slow = await cli('call', '9', '1', '--sim', '--timeout', '1s');
  assert.is(slow.code, 1);
  assert.match(slow.err, /the bridge at 127\.0\.0\.1:\d+ is running, but request \d+ had no answer within 1000 ms: the device is slow or unreachable/);
  // Waiting long enough, the bridge's own timeout answer names the device and what to check.
  const gone = await cli('call', '9', '1', '--sim');
  assert.is(gone.code, 1);
  assert.match(gone.err, /timeout \(code 5\); device 9 did not answer: .*picolink devices/);
  const both = await cli('call', 'sensor-1', '1', '--sim', '--bridge', '10.0.0.1:1');
  assert.is(both.code, 2);
  assert.match(both.err, /'--sim' cannot be used with option '--bridge/);
});

test('client verbs: no bridge, bad arguments and bad addresses say what to do', async () => {
  const t0 = Date.now();
  const none = await cli('call', 'sensor-1', '1', '--bridge', '127.0.0.1:9', '--timeout', '300ms');
  assert.is(none.code, 1);
  assert.match(none.err, /no bridge answered at 127\.0\.0\.1:9 within 300 ms.*start one \(npm start, or picolink bridge\)/);
  assert.ok(Date.now() - t0 < 3000);
  // Arguments too large for a bridge request: said at once, with the limit, before anything is sent.
  const big = await cli('call', 'sensor-1', '1', JSON.stringify('a'.repeat(3000)), '--bridge', '127.0.0.1:9', '--timeout', '30s');
  assert.is(big.code, 2, big.err);
  assert.match(big.err, /the request is 30\d\d bytes as CBOR, and a bridge takes at most 1200 bytes per request: send smaller arguments/);
  const bad = await cli('call', 'sensor-1', '1', '{level: 80}');
  assert.is(bad.code, 2);
  assert.match(bad.err, /arguments \{level: 80\}: not JSON; write a number/);
  const addr = await cli('call', '0', '1');
  assert.is(addr.code, 2);
  assert.match(addr.err, /an address is 1\.\.65279/);
  const op = await cli('call', 'x', '300');
  assert.is(op.code, 2);
  const where = await cli('devices', '--bridge', 'localhost:notaport');
  assert.is(where.code, 2);
  assert.match(where.err, /--bridge localhost:notaport: write host:port/);
  assert.equal(bridgeAddress('10.0.0.2:5000'), { host: '10.0.0.2', port: 5000 });
  assert.equal(bridgeAddress(':5000'), { host: '127.0.0.1', port: 5000 });
  assert.equal(bridgeAddress('5000'), { host: '127.0.0.1', port: 5000 });
  assert.equal(bridgeAddress('gw.local'), { host: 'gw.local', port: 47910 });
  assert.equal(bridgeAddress('[::1]:7'), { host: '::1', port: 7 });
  assert.is(bridgeAddress('h:0'), null);
});

test('bridge: where the devices are is required; beyond loopback needs a token', async () => {
  const neither = await cli('bridge');
  assert.is(neither.code, 2);
  assert.match(neither.err, /--port <serial port> for a gateway board, or --sim/);
  const both = await cli('bridge', '--sim', '--port', '/dev/null');
  assert.is(both.code, 2);
  const open = await cli('bridge', '--sim', '--listen', '0.0.0.0', '--udp-port', '0', '--for', '1s');
  assert.is(open.code, 2);
  assert.match(open.err, /give a token/);
  const names = await cli('bridge', '--sim', '--name', 'kitchen');
  assert.is(names.code, 2);
  assert.match(names.err, /--name kitchen: write name=address/);
});

test('bridge beyond loopback with a token: the suggestion shows where the token goes, not the token; denied says how to fix it', async () => {
  const b = start('bridge', '--sim', '--listen', '0.0.0.0', '--token', 's3cret', '--udp-port', '0', '--no-web', '--for', '8s');
  await until(() => /bridge: try /.test(b.out()), 10_000, 'the bridge prints what to try');
  const port = /udp (?:and tcp )?0\.0\.0\.0:(\d+)/.exec(b.out())![1];
  assert.match(b.out(), new RegExp(`bridge: try  picolink devices --bridge 127\\.0\\.0\\.1:${port} --token <token> .*"token":"<token>"`));
  assert.not.match(b.out(), /s3cret/, 'the token itself is not printed');
  const denied = await cli('devices', '--bridge', `127.0.0.1:${port}`);
  assert.is(denied.code, 1);
  assert.match(denied.err, /denied: .*\(code 18\); it needs a token: give --token <token> or set PICOLINK_TOKEN/);
  const wrong = await cli('devices', '--bridge', `127.0.0.1:${port}`, '--token', 'nope');
  assert.is(wrong.code, 1);
  assert.match(wrong.err, /\(code 18\); the token given is not its token/);
  const right = await cli('devices', '--bridge', `127.0.0.1:${port}`, '--token', 's3cret', '--json');
  assert.is(right.code, 0, right.err);
  assert.equal((JSON.parse(right.out) as { name: string }[]).map((x) => x.name), ['sensor-1', 'sensor-2']);
  const r = await b.done;
  assert.is(r.code, 0, r.err);
  // The bridge's log (at most a line a second: the wrong token's may be left out): one prefix per line.
  assert.match(r.err, /^bridge: request from \S+ with no token$/m, r.err);
  assert.not.match(r.err, /bridge: bridge/);
});

(hasSocat() ? test : test.skip)('bridge --port where no gateway answers: exit 1 and what to check', async () => {
  const pty = await ptyPair();
  try {
    const r = await cli('bridge', '--port', pty.a, '--pace', '--udp-port', '0');
    assert.is(r.code, 1);
    assert.match(r.err, /no picolink gateway answered on \/dev\/pts\/\d+ within 3000 ms.*gateway bundle.*baud rate/);
  } finally {
    await pty.close();
  }
});

test('ports: a table, JSON, and a port chosen by serial number', async () => {
  const real = portSource.list;
  portSource.list = async () => [
    { path: '/dev/ttyACM0', manufacturer: 'Espruino', vendorId: '0483', productId: '5740', serialNumber: '3A0041000C51' },
    { path: '/dev/ttyUSB0', manufacturer: 'FTDI', vendorId: '0403', productId: '6001', serialNumber: 'A50285BI' },
    { path: '/dev/ttyS0' },
  ];
  try {
    const t = await cli('ports');
    assert.is(t.code, 0);
    assert.equal(t.out.split('\n').slice(0, 3).map((l) => l.trim().split(/\s+/)), [
      ['PORT', 'MANUFACTURER', 'VID:PID', 'SERIAL', 'NUMBER'], ['/dev/ttyACM0', 'Espruino', '0483:5740', '3A0041000C51'], ['/dev/ttyUSB0', 'FTDI', '0403:6001', 'A50285BI'],
    ]);
    const j = await cli('ports', '--json');
    assert.equal(JSON.parse(j.out)[1], { path: '/dev/ttyUSB0', manufacturer: 'FTDI', vidPid: '0403:6001', serialNumber: 'A50285BI' });
    const hit = await cli('ports', '--serial', 'a50285bi');
    assert.equal([hit.code, hit.out], [0, '/dev/ttyUSB0\n']);
    const miss = await cli('ports', '--serial', 'NOPE');
    assert.is(miss.code, 1);
    assert.match(miss.err, /no serial port has USB serial number NOPE \(picolink ports lists 3\)/);
    portSource.list = async () => [];
    assert.match((await cli('ports')).out, /no serial ports found/);
    portSource.list = async () => { throw new Error('udev is gone'); };
    const fail = await cli('ports');
    assert.is(fail.code, 1);
    assert.match(fail.err, /cannot list serial ports: udev is gone/);
  } finally {
    portSource.list = real;
  }
});

test('--port serial:<number> picks the board by its USB serial number, in every verb that takes a port', async () => {
  const saved = portSource.list;
  portSource.list = async () => [
    { path: '/dev/ttyACM3', manufacturer: 'Espruino', vendorId: '0483', productId: '5740', serialNumber: '3A0041000C51' },
    { path: '/dev/ttyUSB0', manufacturer: 'FTDI', vendorId: '0403', productId: '6001', serialNumber: 'A50285BI' },
  ];
  try {
    assert.is(await resolvePort('serial:3a0041000c51'), '/dev/ttyACM3', 'case does not matter');
    assert.is(await resolvePort('/dev/ttyS1'), '/dev/ttyS1', 'a path is a path');
    const e = await resolvePort('serial:NOPE').then(() => null, (x: Error) => x);
    assert.match(e?.message ?? '', /no serial port has USB serial number NOPE \(picolink ports lists 2/);
    for (const argv of [['flash', '--bundle', 'package.json'], ['monitor', '--for', '100ms'], ['capture', '--out', join(mkdtempSync(join(tmpdir(), 'pl-')), 'x.pcap')], ['bridge', '--for', '100ms']]) {
      const r = await cli(...argv, '--port', 'serial:NOPE');
      assert.is(r.code, 1, argv[0]);
      assert.match(r.err, /no serial port has USB serial number NOPE/, argv[0]);
    }
  } finally {
    portSource.list = saved;
  }
});

test('ports from sysfs: USB adapters and CDC ports with their USB facts; legacy ttyS and other ttys left out', () => {
  const sys = mkdtempSync(join(tmpdir(), 'picolink-sysfs-'));
  const usb = join(sys, 'devices/pci0000:00/usb1/1-2');
  const facts: Record<string, string> = { idVendor: '0403', idProduct: '6001', manufacturer: 'FTDI', serial: 'A50285BI' };
  mkdirSync(join(usb, '1-2:1.0/ttyUSB0'), { recursive: true });
  for (const [k, v] of Object.entries(facts)) writeFileSync(join(usb, k), v + '\n');
  const legacy = join(sys, 'devices/pnp0/00:05');
  mkdirSync(legacy, { recursive: true });
  for (const [name, dev, type] of [['ttyUSB0', join(usb, '1-2:1.0/ttyUSB0'), '0'], ['ttyS0', legacy, '0'], ['ttyS1', legacy, '4'], ['tty1', legacy, '0']]) {
    mkdirSync(join(sys, 'class/tty', name), { recursive: true });
    symlinkSync(dev, join(sys, 'class/tty', name, 'device'));
    writeFileSync(join(sys, 'class/tty', name, 'type'), type + '\n');
  }
  mkdirSync(join(sys, 'class/tty/ttyACM0'), { recursive: true }); // no device: not listed
  assert.equal(sysfsPorts(sys), [
    { path: '/dev/ttyS1' },
    { path: '/dev/ttyUSB0', vendorId: '0403', productId: '6001', manufacturer: 'FTDI', serialNumber: 'A50285BI' },
  ]);
  assert.equal(sysfsPorts(join(sys, 'nothing')), []);
});

test('the real bin: bridge --sim in one process, call in another, Ctrl-C stops the bridge', async () => {
  const b = spawn(process.execPath, [join(root, 'bin/picolink.js'), 'bridge', '--sim', '--udp-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  b.stdout!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((r) => b.once('exit', (code) => r(code)));
  try {
    await until(() => /udp (?:and tcp )?127\.0\.0\.1:\d+/.test(out), 20_000, 'the bridge starts');
    const port = /udp (?:and tcp )?127\.0\.0\.1:(\d+)/.exec(out)![1];
    const c = spawnSync(process.execPath, [join(root, 'bin/picolink.js'), 'call', 'sensor-2', '2', '--proto', 'RRA', '--bridge', `:${port}`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal([c.status, c.stdout], [0, '1\n'], c.stderr);
  } finally {
    b.kill('SIGINT');
  }
  assert.is(await exited, 0);
  assert.match(out, /bridge: stopped\n$/);
});

test.run();

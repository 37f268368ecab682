// `npm start` with the bridge (host/start.ts startDemo with bridgePort): while the demonstration runs
// paced, an IP program on loopback calls a simulated sensor by name through the bridge (its node a
// station on the simulated radio), lists the devices, and receives the readings the host decodes as
// events. With --speed max (no pacing) there is no bridge.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startDemo } from '../../host/start.ts';

test('npm start serves the simulated sensors on the bridge: a call by name, the directory, events', async () => {
  const lines: string[] = [];
  let port = 0;
  const go = startDemo({
    seed: 3, sensors: 4, wearables: 0, forUs: 6_000_000, speed: 4, json: false, bridgePort: 0,
    out: (l) => lines.push(l), warn: (l) => lines.push(l),
  });
  const run = go();
  const t0 = Date.now();
  while (port === 0 && Date.now() - t0 < 5000) {
    const m = lines.join('\n').match(/tcp 127\.0\.0\.1:(\d+)/);
    if (m) port = Number(m[1]);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(port > 0, `the bridge printed its port: ${lines.join('\n')}`);
  assert.match(lines.join('\n'), /nc -N 127\.0\.0\.1 \d+/);
  const sock = connect(port, '127.0.0.1');
  const got: Record<string, unknown>[] = [];
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      got.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  sock.write('{"id":1,"to":"sensor-2","op":1}\n{"id":2,"q":"devices"}\n{"id":3,"sub":"events"}\n');
  const until = async (f: () => boolean) => {
    const t = Date.now();
    while (!f() && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 10));
  };
  await until(() => got.some((m) => m.id === 1) && got.some((m) => m.ev === 'event'));
  sock.destroy();
  const r1 = got.find((m) => m.id === 1) as { ok: { t: number; h: number; mv: number } };
  assert.ok(r1 && typeof r1.ok.t === 'number' && typeof r1.ok.mv === 'number', `a reading from sensor-2: ${JSON.stringify(r1)}`);
  const r2 = got.find((m) => m.id === 2) as { ok: { name: string }[] };
  assert.equal(r2.ok.map((d) => d.name), ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4']);
  const ev = got.find((m) => m.ev === 'event') as { from: number; data: Record<string, number> };
  assert.ok(ev.from >= 1 && ev.from <= 4 && typeof ev.data.t === 'number', JSON.stringify(ev));
  await run;
  assert.match(lines.join('\n'), /bridge: {2}\d+ requests, 1 calls to devices \(0 ended/);
});

test('a bridge port in use: one line that says what to do, not the sockets\' own errors first', async () => {
  const held = createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  const port = (held.address() as AddressInfo).port;
  const lines: string[] = [];
  try {
    await startDemo({ seed: 1, sensors: 2, wearables: 0, forUs: 300_000, speed: 50, json: false, bridgePort: port, webPort: 0, out: (l) => lines.push(l), warn: (l) => lines.push(l) })();
  } finally {
    held.close();
  }
  const said = lines.filter((l) => /EADDRINUSE/.test(l));
  assert.is(said.length, 1, said.join('\n'));
  assert.match(said[0], /the bridge did not start .*try --bridge-port <n>, or --no-bridge/);
});

test('with --speed max there is no bridge', async () => {
  const lines: string[] = [];
  await startDemo({ seed: 1, sensors: 2, wearables: 0, forUs: 500_000, speed: Infinity, json: false, bridgePort: 0, out: (l) => lines.push(l) })();
  assert.not.match(lines.join('\n'), /bridge/);
});

test.run();

// The bridge's device side through a gateway on a real serial line: a virtual gateway board
// (host/sim/virtual-gateway.ts, its own process) holds one end of a socat pseudo-terminal pair and
// lends its simulated radio's MAC over it (firmware/mac/tunnel.ts); the bridge opens the other end
// with serialport (host/bridge/gateway.ts) and an IP client calls the simulated sensors over UDP by
// address and by name with R, RR and RRA, and reads the directory. Also: a port where no gateway
// answers gives an error that says what to check. Without socat these tests skip with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import type { PtyPair } from '../../../hal/node/pty.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { openSerial } from '../../../hal/node/serial.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { openGateway, serialGateway } from '../../../host/bridge/gateway.ts';
import type { SerialGateway } from '../../../host/bridge/gateway.ts';
import { startBridge } from '../../../host/bridge/bridge.ts';
import type { Bridge } from '../../../host/bridge/bridge.ts';
import { GATEWAY_ADDR } from '../../../host/sim/tunnel-net.ts';
import { killVirtualGateway, spawnVirtualGateway } from '../../../host/sim/virtual-gateway.ts';

const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; install socat (Debian package socat) to run the serial gateway tests');
const ptyTest = SOCAT ? test : test.skip;

async function call(client: Socket, port: number, v: Record<string, unknown>, ms = 3000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { client.off('message', on); reject(new Error(`no reply to ${JSON.stringify(v)} in ${ms} ms`)); }, ms);
    const on = (m: Buffer): void => {
      const r = hostDecode(new Uint8Array(m)) as Record<string, unknown>;
      if (r.id !== v.id) return;
      clearTimeout(t);
      client.off('message', on);
      resolve(r);
    };
    client.on('message', on);
    client.send(hostEncode(v), port, '127.0.0.1');
  });
}

ptyTest('a bridge reaches simulated sensors through a virtual gateway board on a pseudo-terminal', async () => {
  const pty: PtyPair = await ptyPair();
  let child: ChildProcess | null = null;
  let gw: SerialGateway | null = null;
  let bridge: Bridge | null = null;
  const client = createSocket('udp4');
  try {
    child = await spawnVirtualGateway(pty.a, { sensors: 2, seed: 5 });
    const clock = realClock();
    gw = await serialGateway(pty.b, { clock, pace: true, timeoutMs: 5000 });
    assert.is(gw.mac.addr, GATEWAY_ADDR);
    assert.is(gw.mac.info.mtu, 24);
    bridge = await startBridge({
      mac: gw.mac, clock, rng: xoshiro(8), rr: { timeoutUs: 150_000, retries: 4 }, udpPort: 0, tcpPort: 0,
      names: [{ name: 'left', addr: 2, type: 'sensor', ops: [1, 2] }, { name: 'right', addr: 3, type: 'sensor', ops: [1, 2] }],
    });
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const port = bridge.udp.port;

    const read = await call(client, port, { id: 1, to: 2, op: 1, proto: 'RR' });
    const ok = read.ok as Record<string, number>;
    assert.ok(ok && ok.t >= 180 && ok.t < 260 && ok.mv > 2000, JSON.stringify(read));
    // OP_COUNT by name with RRA, three times: the sensor's counter answers 1, 2, 3.
    for (let i = 1; i <= 3; i++) {
      const c = await call(client, port, { id: 10 + i, to: 'right', op: 2, proto: 'RRA' });
      assert.equal(c, { id: 10 + i, ok: i });
    }
    // A repeated id is answered from the bridge's cache: the counter does not move.
    const again = await call(client, port, { id: 13, to: 'right', op: 2, proto: 'RRA' });
    assert.equal(again, { id: 13, ok: 3 });
    const r = await call(client, port, { id: 20, to: 'left', op: 1, proto: 'R' });
    assert.ok('ok' in r, JSON.stringify(r));
    const dir = await call(client, port, { id: 21, q: 'devices', type: 'sensor' });
    assert.equal((dir.ok as { name: string }[]).map((d) => d.name).sort(), ['left', 'right']);
    assert.is(gw.mac.stats.malformed, 0);
    assert.is(gw.link.stats.crcErrors, 0);
  } finally {
    client.close();
    if (bridge) await bridge.close();
    if (gw) await gw.close();
    if (child) await killVirtualGateway(child);
    await pty.close();
  }
});

ptyTest('no gateway on the port: the error says what to check', async () => {
  const pty = await ptyPair();
  const far = await openSerial(pty.a, { baud: 115_200, pace: true });
  try {
    // Something else is on the line: it answers the hello with junk.
    far.onData(() => { far.write(new Uint8Array([0x41, 0x54, 0x0d, 0x0a]), 4); });
    const t0 = Date.now();
    const err = await serialGateway(pty.b, { clock: realClock(), pace: true, timeoutMs: 600, everyMs: 100 }).then(() => null, (e: Error) => e);
    assert.ok(err, 'no gateway: open fails');
    assert.match(err!.message, /no picolink gateway answered on \/dev\/pts\/\d+ within 600 ms/);
    assert.match(err!.message, /gateway bundle/);
    assert.match(err!.message, /baud/);
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await far.close();
    await pty.close();
  }
});

test('a gateway speaking another tunnel version is refused with a message', async () => {
  // In memory: a link that answers every hello with version 9.
  let rx: ((f: Uint8Array, len: number, i: { timeUs: number; rssi: number }) => void) | null = null;
  let done: ((s: 0) => void) | null = null;
  const link = {
    caps: { mtu: 64, bitrate: 0, medium: 'serial' as const, carrierSense: false, broadcast: false },
    send(f: Uint8Array) {
      if (f[0] === 4) setTimeout(() => rx!(new Uint8Array([4, 9, 0, 1, 24]), 5, { timeUs: 0, rssi: 0 }), 1);
      setTimeout(() => done!(0), 1);
      return true;
    },
    onReceive(fn: typeof rx) { rx = fn; },
    onSent(fn: typeof done) { done = fn; },
    busy: () => false,
  };
  const err = await openGateway(link, { timeoutMs: 500, where: 'test' }).then(() => null, (e: Error) => e);
  assert.match(err!.message, /tunnel version 9/);
  assert.match(err!.message, /flash the gateway bundle/);
});

test.run();

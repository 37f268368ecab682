// Capturing a gateway's serial line: the dissector's tunnel part (proto 7) on hand-built tunnel
// messages (every kind, the payload followed through its service byte, malformed ones flagged);
// `picolink bridge --sim --pcap` recording both ways while a call goes through; and `picolink capture`
// on a pseudo-terminal with a virtual gateway board at the other end. Skips with a message without
// tshark (and the last without socat).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAP_PROTO } from '../../../hal/mw/pcap.ts';
import { emitRr, PROTO_RR, RR_REQUEST } from '../../../firmware/rr/frame.ts';
import { SVC_RR } from '../../../firmware/mac/ports.ts';
import { TUN_HELLO, TUN_JOIN, TUN_RX, TUN_SENT, TUN_TX } from '../../../firmware/mac/tunnel.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import { run } from '../../../host/cli/main.ts';
import { killVirtualGateway, spawnVirtualGateway } from '../../../host/sim/virtual-gateway.ts';
import { tshark, tsharkVersion, withCapture } from '../wireshark/tshark.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the capture tests');
const SOCAT = hasSocat();
const withTshark = TSHARK ? test : test.skip;

const req = (): number[] => {
  const b = new Uint8Array(16);
  return [...b.subarray(0, emitRr(b, { type: RR_REQUEST, proto: PROTO_RR, retry: false, amo: false, id: 7, op: 1, ack: 0, mask: 0, off: 0 }))];
};

withTshark('dissector: tunnel messages of every kind, payloads through the service byte, malformed ones flagged', () => {
  const frames = [
    [TUN_HELLO],
    [TUN_HELLO, 1, 0, 1, 24],
    [TUN_TX, 0, 2, SVC_RR, ...req()],
    [TUN_RX, 0, 2, 0, 1, 0xc4, 0x06, 0, 2, 0, 9, 0x01],
    [TUN_SENT, 2, 7, 0, 3],
    [TUN_JOIN, 0xff, 0x01, 1],
    [TUN_SENT, 2],
    [9, 9],
  ];
  withCapture('tunnel', frames.map((frame) => ({ station: 0, sent: false, frame })), CAP_PROTO.TUNNEL, (dir, file) => {
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']).trim().split('\n').map((l) => l.replace(/^station 0 received /, ''));
    assert.equal(info, [
      'tunnel HELLO?',
      'tunnel HELLO gateway 1 v1 mtu 24',
      'tunnel TX -> 2 rr REQUEST id 7 op 1 RR',
      'tunnel RX 2 -> 1 group from 2 seq 9, 1 bytes',
      'tunnel SENT to 3: no ack after 7',
      'tunnel JOIN group 1',
      'tunnel [malformed]',
      'tunnel [malformed]',
    ]);
    const f = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-e', 'picolink.tunnel.kind', '-e', 'picolink.tunnel.src', '-e', 'picolink.tunnel.dst', '-e', 'picolink.tunnel.rssi', '-Y', 'picolink.tunnel.kind == 1']);
    assert.is(f.trim(), '1,2,1,-60');
  });
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

withTshark('bridge --sim --pcap records the gateway line both ways while a call goes through', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-capture-'));
  const file = join(dir, 'bridge.pcap');
  let out = '';
  const quiet = { out: () => {}, err: () => {} };
  const b = run(['bridge', '--sim', '--udp-port', '0', '--pcap', file], { out: (s) => { out += s; }, err: () => {} });
  await until(() => /udp (?:and tcp )?127\.0\.0\.1:\d+/.test(out), 10_000);
  const port = /udp (?:and tcp )?127\.0\.0\.1:(\d+)/.exec(out)![1];
  try {
    assert.is(await run(['call', 'sensor-1', '1', '--bridge', `:${port}`], quiet), 0);
  } finally {
    process.emit('SIGINT');
  }
  assert.is(await b, 0);
  const rows = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-e', 'picolink.dir', '-e', '_ws.col.Info']).trim().split('\n');
  assert.ok(rows.includes('1|station 0 sent tunnel HELLO?'), rows.join('\n'));
  assert.ok(rows.some((r) => /^0\|station 0 received tunnel HELLO gateway 1 v1 mtu 24$/.test(r)), rows.join('\n'));
  assert.ok(rows.some((r) => /^1\|.*tunnel TX -> 2 rr REQUEST id \d+ op 1 RR/.test(r)), rows.join('\n'));
  assert.ok(rows.some((r) => /^0\|.*tunnel RX 2 -> 1 rr REPLY id \d+ RR/.test(r)), rows.join('\n'));
  assert.ok(rows.some((r) => /^0\|.*tunnel SENT to 2: ok after 1/.test(r)), rows.join('\n'));
});

(TSHARK && SOCAT ? test : test.skip)('capture --port: a virtual gateway board\'s frames into a file tshark reads', async () => {
  const pty = await ptyPair();
  let gw: ChildProcess | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'picolink-capture-'));
  const file = join(dir, 'gw.pcap');
  try {
    gw = await spawnVirtualGateway(pty.a, { sensors: 2 });
    let out = '';
    const code = await run(['capture', '--port', pty.b, '--out', file, '--for', '4500ms'], { out: (s) => { out += s; }, err: () => {} });
    assert.is(code, 0);
    const n = Number(/capture: (\d+) frames written/.exec(out)![1]);
    assert.ok(n >= 2, out);
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']).trim().split('\n');
    assert.is(info.length, n);
    assert.ok(info.every((l) => /tunnel RX [23] -> 1 telemetry src=[23] seq=\d+/.test(l)), info.join('\n'));
  } finally {
    if (gw) await killVirtualGateway(gw);
    await pty.close();
  }
});

test.run();

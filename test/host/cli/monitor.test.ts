// `picolink monitor` (host/cli/monitor.ts) and what it stands on: the line splitter that tells frames,
// text and noise apart (host/monitor/stream.ts) and the frame descriptions (host/monitor/decode.ts),
// checked on bytes built by the firmware's own encoders; then the verb itself on a socat pseudo-terminal
// pair, fed a board's banner, a prompt, tunnel frames and noise, with --json and --log. Without socat
// the pseudo-terminal test skips with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodedMax, frameEncode } from '../../../hal/framing/cobs.ts';
import { emitRr, PROTO_RRA, RR_ERROR, RR_REPLY, RR_REQUEST } from '../../../firmware/rr/frame.ts';
import { emitTelemetry } from '../../../firmware/codec/telemetry.ts';
import { cborEncode } from '../../../firmware/codec/cbor.ts';
import { SVC_GROUP, SVC_RR, SVC_TELEMETRY } from '../../../firmware/mac/ports.ts';
import { TUN_HELLO, TUN_JOIN, TUN_RX, TUN_SENT, TUN_TX } from '../../../firmware/mac/tunnel.ts';
import { describeFrame } from '../../../host/monitor/decode.ts';
import { lineSplitter } from '../../../host/monitor/stream.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import { openSerial } from '../../../hal/node/serial.ts';
import { run } from '../../../host/cli/main.ts';

function framed(payload: number[]): number[] {
  const out = new Uint8Array(encodedMax(payload.length));
  const n = frameEncode(new Uint8Array(payload), payload.length, out);
  return [...out.subarray(0, n)];
}
const rrMsg = (type: number, id: number, op: number, body?: unknown): number[] => {
  const b = new Uint8Array(64);
  let n = emitRr(b, { type, proto: PROTO_RRA, retry: false, amo: true, id, op, ack: 0, mask: 0, off: 0 });
  if (body !== undefined) n = cborEncode(body, b, n);
  return [...b.subarray(0, n)];
};
const tm = (src: number, seq: number, v: unknown): number[] => {
  const b = new Uint8Array(64);
  const off = emitTelemetry({ src, seq }, b);
  return [...b.subarray(0, cborEncode(v, b, off))];
};
const d = (bytes: number[]): string => describeFrame(new Uint8Array(bytes), bytes.length).text;

test('describeFrame: each tunnel message, the payload through its service byte, bare telemetry, and junk', () => {
  assert.is(d([TUN_HELLO, 1, 0, 1, 24]), 'hello: gateway at address 1, tunnel v1, 24-byte payloads');
  assert.is(d([TUN_RX, 0, 2, 0, 1, 0xd8, SVC_TELEMETRY, ...tm(2, 7, { t: 21 })]), 'rx 2 -> 1 -40 dBm: telemetry from 2 #7 {"t":21}');
  assert.is(d([TUN_RX, 0, 3, 0, 1, 0, SVC_RR, ...rrMsg(RR_REPLY, 513, 0, 42)]), 'rx 3 -> 1 0 dBm: rr REPLY id 513 RRA at-most-once 42');
  assert.is(d([TUN_RX, 0, 3, 0, 1, 0, SVC_RR, ...rrMsg(RR_ERROR, 9, 1)]), 'rx 3 -> 1 0 dBm: rr ERROR id 9 unknown operation RRA at-most-once');
  assert.is(d([TUN_TX, 0, 3, SVC_RR, ...rrMsg(RR_REQUEST, 5, 2)]), 'tx -> 3: rr REQUEST id 5 op 2 RRA at-most-once');
  assert.is(d([TUN_RX, 0, 2, 0xff, 0x01, 0, SVC_GROUP, 0, 2, 1, 4, 0x62, 0x6f, 0x6e]), 'rx 2 -> group 1 0 dBm: group from 2 #260 "on"');
  assert.is(d([TUN_RX, 0, 2, 0xff, 0xff, 0, 9, 1]), 'rx 2 -> broadcast 0 dBm: service 9: 0x01');
  assert.is(d([TUN_SENT, 2, 7, 0, 3]), 'sent to 3: no ack after 7 transmissions');
  assert.is(d([TUN_JOIN, 0xff, 0x05, 1]), 'join group 5');
  assert.is(d(tm(4, 1, { mv: 3000 })), 'telemetry from 4 #1 {"mv":3000}');
  assert.is(d([0x99, 1, 2]), 'frame of 3 bytes 0x990102');
  assert.is(d([TUN_RX, 0, 2]), 'frame of 3 bytes 0x010002', 'too short for its kind');
  assert.is(d([TUN_RX, 0, 2, 0, 1, 0, SVC_RR, 0xff]), 'rx 2 -> 1 0 dBm: service 4: 0xff', 'an rr message parseRr refuses');
});

test('lineSplitter: text lines, a prompt on flush, frames between them, noise counted', () => {
  const got: string[] = [];
  const s = lineSplitter(64, {
    frame: (f, len) => got.push(`frame ${describeFrame(f, len).text}`),
    text: (l) => got.push(`text ${l}`),
    noise: (n) => got.push(`noise ${n}`),
  });
  const bytes = [
    ...Buffer.from(' ____                 _\r\nEspruino 2v29\r\n>'),
    ...framed([TUN_HELLO, 1, 0, 1, 24]),
    0x05, 0x01, 0x02, 0x03, 0x04, 0x00, // a COBS block whose CRC is wrong
    ...framed(tm(2, 3, 1)),
    ...Buffer.from('done\n>'),
  ];
  // In pieces of every size, as a port delivers them.
  for (let i = 0; i < bytes.length; i += 3) s.push(new Uint8Array(bytes.slice(i, i + 3)), Math.min(3, bytes.length - i));
  s.flush();
  assert.equal(got, [
    'text  ____                 _', 'text Espruino 2v29', 'text >',
    'frame hello: gateway at address 1, tunnel v1, 24-byte payloads',
    'noise 5',
    'frame telemetry from 2 #3 1',
    'text done', 'text >',
  ]);
  assert.is(s.stats.frames, 2);
  assert.is(s.stats.crcErrors, 1);
  assert.is(s.stats.textLines, 5);
});

const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; install socat (Debian package socat) to run the monitor\'s pseudo-terminal test');

(SOCAT ? test : test.skip)('monitor --json --log on a pseudo-terminal: text, frames and noise with timestamps', async () => {
  const pty = await ptyPair();
  const board = await openSerial(pty.a, { baud: 115_200, pace: true });
  const dir = mkdtempSync(join(tmpdir(), 'picolink-monitor-'));
  const log = join(dir, 'gw.log');
  let out = '';
  let err = '';
  try {
    const running = run(['monitor', '--port', pty.b, '--json', '--log', log, '--for', '1500ms'], { out: (s) => { out += s; }, err: (s) => { err += s; } });
    await new Promise((r) => setTimeout(r, 300));
    const bytes = new Uint8Array([
      ...Buffer.from('Espruino 2v29\r\n'),
      ...framed([TUN_RX, 0, 2, 0, 1, 0xc4, SVC_RR, ...rrMsg(RR_REPLY, 77, 0, { t: 5 })]),
      0x03, 0xaa, 0xbb, 0x00,
      ...Buffer.from('bye\r\n'),
    ]);
    assert.is(board.write(bytes, bytes.length), bytes.length);
    const code = await running;
    assert.is(code, 0, err);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.map((l) => l.text ?? l.frame?.type ?? l.noise), ['Espruino 2v29', 'REPLY', 3, 'bye']);
    assert.equal(lines[1].frame, { kind: 'rx', src: 2, dst: 1, rssi: -60, proto: 'rr', type: 'REPLY', id: 77, op: 0, rrProto: 'RRA', retry: false, amo: true, data: { t: 5 } });
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.t))), 'timestamps');
    assert.is(readFileSync(log, 'utf8'), out, 'the log holds the same lines');
  } finally {
    await board.close();
    await pty.close();
  }
});

test('monitor: a port that does not exist, and a log that cannot be written, say what to do', async () => {
  let err = '';
  const io = { out: () => {}, err: (s: string) => { err += s; } };
  assert.is(await run(['monitor', '--port', '/dev/picolink-nope', '--for', '100ms'], io), 1);
  assert.match(err, /\/dev\/picolink-nope/);
  // Neither a new log nor a new capture file is left behind when the port does not open.
  const dir = mkdtempSync(join(tmpdir(), 'picolink-nofile-'));
  assert.is(await run(['monitor', '--port', '/dev/picolink-nope', '--log', join(dir, 'm.log')], io), 1);
  assert.is(await run(['capture', '--port', '/dev/picolink-nope', '--out', join(dir, 'c.pcap')], io), 1);
  assert.equal(readdirSync(dir), [], 'no empty files');
  // One that was there is kept as it was.
  writeFileSync(join(dir, 'old.log'), 'before\n');
  assert.is(await run(['monitor', '--port', '/dev/picolink-nope', '--log', join(dir, 'old.log')], io), 1);
  assert.is(readFileSync(join(dir, 'old.log'), 'utf8'), 'before\n');
  err = '';
  assert.is(await run(['monitor', '--port', '/dev/null', '--log', '/nonexistent/dir/x.log'], io), 2);
  assert.match(err, /cannot write \/nonexistent\/dir\/x\.log/);
  err = '';
  assert.is(await run(['monitor'], io), 2);
  assert.match(err, /--port/);
});

test.run();

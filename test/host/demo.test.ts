import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demo } from '../../host/sim/demo.ts';
import { parseDuration } from '../../host/cli/duration.ts';

const root = resolve(import.meta.dirname, '../..');

function run(seed: number, us = 3_000_000) {
  const lines: string[] = [];
  const d = demo({ seed, trace: (l) => lines.push(l) });
  d.runUntil(us);
  return { s: d.summary(), lines };
}

test('same seed: identical trace line for line; another seed: a different one', () => {
  const a = run(11), b = run(11), c = run(12);
  assert.ok(a.lines.length > 100);
  assert.equal(a.lines, b.lines);
  assert.is(a.s.traceSha256, b.s.traceSha256);
  assert.is.not(a.s.traceSha256, c.s.traceSha256);
});

test('chunked runs (as when paced to the wall clock) give the same trace as one run', () => {
  const whole = run(5).s.traceSha256;
  const d = demo({ seed: 5 });
  for (let t = 0; t <= 3_000_000; t += 17_000) d.runUntil(t);
  d.runUntil(3_000_000);
  assert.is(d.summary().traceSha256, whole);
});

test('readings travel sensor -> radio -> gateway -> serial -> host, and status frames go back down', () => {
  const { s } = run(3, 10_000_000);
  const sent = s.sensors.reduce((a, x) => a + x.sent, 0);
  const atHost = s.sensors.reduce((a, x) => a + x.atHost, 0);
  assert.ok(sent > 150, `sent ${sent}`);
  const wearAtHost = s.piconet.wearables.reduce((a, x) => a + x.atHost, 0);
  assert.is(atHost + wearAtHost, s.host.decoded);
  // the piconet: every wearable paged in, its readings relayed by the hub over CSMA/CA to the host
  assert.is(s.piconet.connected, 3);
  for (const w of s.piconet.wearables) assert.ok(w.sent >= 15 && w.atHost >= w.sent - 2, JSON.stringify(w));
  assert.ok(atHost > 0.7 * sent && atHost <= sent, `${atHost} of ${sent} at host`);
  // the gateway relays what it hears on the telemetry port; it also hears the sensors' replies and ACKs
  assert.ok(s.gateway.heard >= s.gateway.up + s.gateway.upDropped + s.calls.ok, `${s.gateway.heard} heard`);
  // the gateway's request-reply calls: about one every 250 ms, one at a time, each sensor in turn
  assert.ok(s.calls.calls >= 30, `${s.calls.calls} calls`);
  assert.ok(s.calls.ok >= s.calls.calls - 2, JSON.stringify(s.calls));
  assert.is(s.calls.repeats, 0, 'the at-most-once counter never ran twice for one call');
  // half the calls are OP_COUNT; each ran at most once, and every one that completed ran
  const countCalls = Math.floor(s.calls.calls / 2);
  assert.ok(s.calls.counted <= countCalls + 1 && s.calls.counted >= Math.floor(s.calls.ok / 2) - 1, JSON.stringify(s.calls));
  // the MAC recovers radio collisions; what the host missed was dropped at the MAC's retry limit, in
  // the relay, or damaged on the serial line
  const macDrops = s.sensors.reduce((a, x) => a + x.noAck, 0);
  assert.ok(sent - atHost <= macDrops + s.gateway.upDropped + s.serial.crcErrors + s.serial.malformed + 1, `${sent} sent, ${atHost} at host`);
  assert.ok(s.gateway.acks >= sent - macDrops - 1, 'every reading not dropped was acknowledged by the gateway');
  assert.ok(s.host.statusSent >= 9);
  assert.ok(s.sensors.every((x) => x.heardHost >= 5), 'status frames reach the sensors');
  for (const [src, v] of Object.entries(s.host.lastReadings)) {
    if (+src >= 41) {
      const w = v as { hr: number; steps: number };
      assert.ok(w.hr >= 55 && w.hr < 95 && w.steps >= 0, JSON.stringify(w));
    } else {
      const r = v as { t: number; h: number; mv: number };
      assert.ok(r.t >= 180 && r.t < 260 && r.h >= 40 && r.mv <= 3000, JSON.stringify(r));
    }
  }
});

test('parseDuration reads units and rejects junk', () => {
  assert.is(parseDuration('5s'), 5e6);
  assert.is(parseDuration('500ms'), 5e5);
  assert.is(parseDuration('2m'), 120e6);
  assert.is(parseDuration('1.5'), 1.5e6);
  assert.throws(() => parseDuration('soon'), /duration/);
});

function start(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'host/start.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

test('npm start: --for ends the run with a summary and exit 0; a capture is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-'));
  const cap = join(dir, 'demo.pcap');
  const r = start(['--for', '2s', '--speed', 'max', '--seed', '4', '--pcap', cap]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /seed 4, 2\.000 s simulated/);
  assert.match(r.stdout, /trace: +\d+ lines, sha256 [0-9a-f]{64}/);
  assert.ok(statSync(cap).size > 1000);
  const again = start(['--for', '2s', '--speed', 'max', '--seed', '4', '--json']);
  assert.is(JSON.parse(again.stdout).traceSha256, /sha256 ([0-9a-f]{64})/.exec(r.stdout)![1]);
});

test('npm start: bad arguments exit 2 and say what to do', () => {
  for (const [args, msg] of [
    [['--for', 'soon'], /--for: cannot read "soon" as a duration/],
    [['--seed', 'x'], /--seed must be an integer/],
    [['--speed', 'max'], /--speed max needs --for/],
    [['--bogus'], /Unknown option/],
  ] as [string[], RegExp][]) {
    const r = start(args);
    assert.is(r.status, 2, args.join(' '));
    assert.match(r.stderr, msg);
    assert.match(r.stderr, /usage: npm start/);
  }
});

const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
test('the demo capture opens in tshark with the picolink dissector', () => {
  if (tshark.status !== 0) {
    console.log('  skip: tshark not found on PATH (apt-get install tshark); the capture was not dissected');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'picolink-'));
  const cap = join(dir, 'demo.pcap');
  const d = demo({ seed: 2, pcapPath: cap });
  d.runUntil(2_000_000);
  d.close();
  const r = spawnSync('tshark', ['-X', `lua_script:${join(root, 'host/wireshark/picolink.lua')}`, '-r', cap, '-T', 'fields',
    '-e', 'picolink.station', '-e', 'picolink.dir', '-e', 'picolink.medium', '-e', 'picolink.telemetry.src', '-e', 'cbor.type.textstring', '-e', 'picolink.csma.type'],
    { encoding: 'utf8', env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, WIRESHARK_LOG_LEVEL: 'critical' } });
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.is(rows.length, d.summary().captureRecords);
  assert.ok(rows.some((x) => x[0] === '1' && x[1] === '1' && x[2] === '0' && x[3] === '1'), 'station 1 sends a reading on the radio (CSMA DATA, telemetry inside)');
  assert.ok(rows.some((x) => x[5] === '0'), 'CSMA frames are decoded (ACKs to the sensors carry ra 0)');
  assert.ok(rows.some((x) => x[0] === '100' && x[1] === '0' && x[2] === '1'), 'the host receives on the serial line');
  assert.ok(rows.some((x) => x[4].includes('mv')), 'the CBOR readings are decoded');
});

test.run();

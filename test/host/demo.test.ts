// The demonstration network (host/sim/demo.ts) and `npm start`: the same seed gives the same trace,
// readings, calls and status frames take their paths, the sensors' Psync conversation commits the same
// sequence at every participant, bad arguments are refused, and the capture opens in tshark.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demo } from '../../host/sim/demo.ts';
import { parseDuration } from '../../host/cli/duration.ts';
import { create as sourceCreate, CONV_MAX } from '../../boards/sim.ts';
import type { SimDevice } from '../../boards/sim.ts';

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

/**
 * Run the demo, polling every participant every 50 ms for the checksums of its committed prefixes
 * (a device keeps the last 32), so that the prefixes of every length are compared, not only at the end.
 */
function converse(seed: number, us: number, sensors = 5) {
  const devs: SimDevice[] = [];
  const d = demo({ seed, sensors, create: (env) => {
    const dev = sourceCreate(env);
    if (dev.conversation) devs.push(dev);
    return dev;
  } });
  const prefixes = new Map<number, number[]>(); // participant -> checksum after k commits, at [k]
  const poll = () => {
    for (const dev of devs) {
      const c = dev.conversation!;
      const seen = prefixes.get(dev.mac!.addr) ?? [0];
      prefixes.set(dev.mac!.addr, seen);
      for (let k = seen.length; k <= c.stats.committed; k++) {
        const x = c.digestAt(k);
        assert.ok(x >= 0, `participant ${dev.mac!.addr}: checksum of its first ${k} commits kept`);
        seen.push(x);
      }
    }
  };
  for (let t = 50_000; t <= us; t += 50_000) {
    d.runUntil(t);
    poll();
  }
  return { s: d.summary(), devs, prefixes };
}

test('the sensors converse: every participant commits the same sequence of proposals, seed after seed', () => {
  for (const [seed, sensors] of [[1, 5], [2, 5], [3, 5], [4, 5], [5, 6], [6, 8]]) {
    const { s, devs, prefixes } = converse(seed, 8_000_000, sensors);
    const c = s.conversation!;
    const what = `seed ${seed}, ${sensors} sensors: ${JSON.stringify(c)}`;
    assert.equal(c.participants.map((p) => p.id), [1, 2, 3, 4, 5, 6].slice(0, Math.min(sensors, CONV_MAX)), what);
    assert.is(devs.length, c.participants.length);
    const proposed = c.participants.reduce((a, p) => a + p.proposed, 0);
    assert.ok(c.commonPrefix >= 5 && c.committed <= proposed, what);
    assert.ok(c.sent >= proposed && c.delivered > 0 && c.waves > 0, what);
    assert.is(c.recordsLost, 0, what);
    // every pair agrees on every prefix both have committed
    const ids = [...prefixes.keys()];
    for (const a of ids) {
      for (const b of ids) {
        const pa = prefixes.get(a)!, pb = prefixes.get(b)!;
        const k = Math.min(pa.length, pb.length);
        assert.equal(pa.slice(0, k), pb.slice(0, k), `${what}: participants ${a} and ${b}`);
      }
    }
    assert.is(c.agree, true, what);
    // the checksum follows the sequence: each commit changes it
    const longest = Math.max(...ids.map((i) => prefixes.get(i)!.length));
    const seq = ids.map((i) => prefixes.get(i)!).find((p) => p.length === longest)!;
    assert.is(new Set(seq).size, seq.length, `${what}: one checksum per prefix`);
    // the threshold is the last committed proposal (the last reading + 3 °C): the same where the prefix is
    for (const p of c.participants) assert.ok(p.threshold >= 210 && p.threshold < 290, what);
    for (const p of c.participants) {
      for (const q of c.participants) if (p.committed === q.committed) assert.is(p.threshold, q.threshold, what);
    }
  }
});

test('who converses: the first sensors when close enough, else sensor 1 and its neighbours; none when no sensor hears another', () => {
  const run = (sensors: number) => {
    const d = demo({ seed: 1, sensors });
    d.runUntil(3_000_000);
    return d.summary();
  };
  // seven sensors: 1..6 would form a chain five hops long; sensor 1 hears 2 and 7
  const seven = run(7).conversation!;
  assert.equal(seven.participants.map((p) => p.id), [1, 2, 7]);
  assert.ok(seven.commonPrefix >= 1 && seven.agree === true, JSON.stringify(seven));
  // 32 sensors: the first six are neighbours
  assert.equal(run(32).conversation!.participants.map((p) => p.id), [1, 2, 3, 4, 5, 6]);
  // four sensors on the circle are 71 m apart, beyond the 70 m range
  assert.is(run(4).conversation, null);
});

test('proposeUs: 0 turns the conversation off, and its traffic with it', () => {
  const on = demo({ seed: 8 });
  const off = demo({ seed: 8, proposeUs: 0 });
  on.runUntil(2_000_000);
  off.runUntil(2_000_000);
  assert.is(off.summary().conversation, null);
  assert.ok(on.summary().conversation!.sent > 0);
  assert.ok(off.summary().traceLines < on.summary().traceLines, 'fewer frames on the air');
  assert.ok(off.summary().host.decoded > 30, 'the rest of the network runs as before');
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
  const json = JSON.parse(again.stdout);
  assert.is(json.traceSha256, /sha256 ([0-9a-f]{64})/.exec(r.stdout)![1]);
  assert.is(json.conversation.participants.length, 5, 'the JSON summary carries the conversation');
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
  // Options that parse but cannot run: the reason and what to do, without the usage.
  const r = start(['--for', '1s', '--speed', 'max', '--pcap', 'package.json/demo.pcap']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /cannot start the demo: .*--pcap: give a file in a directory you can write/);
  assert.not.match(r.stderr, /usage: npm start/);
});

test('npm start: no piconet hub named when there are no wearables; no threshold before one is committed', () => {
  const r = start(['--for', '300ms', '--speed', 'max', '--wearables', '0']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /picolink demo: 5 sensors -> CSMA\/CA/);
  assert.not.match(r.stdout, /threshold -1/);
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

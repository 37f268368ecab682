// Tests for the pcap capture middleware (hal/mw/pcap.ts) and the Wireshark dissector
// (host/wireshark/picolink.lua): golden libpcap bytes, the middleware's pass-through and records, and
// tshark reading a capture through the dissector (skipped with a message when tshark is absent).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Clock, Timer } from '../../../hal/clock.ts';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../../../hal/link.ts';
import { TX_OK } from '../../../hal/link.ts';
import {
  CAP, CAP_FLAG_SENT, CAP_MEDIUM, CAP_PROTO, CAP_VERSION, PCAP_SNAPLEN, fileSink, pcap, pcapWriter,
} from '../../../hal/mw/pcap.ts';

// ---------- helpers written for the test, independent of the code under test ----------

/** Collects every chunk the writer hands over, copying nothing (the writer promises fresh arrays). */
function memorySink() {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write(bytes: Uint8Array) { chunks.push(bytes); },
    bytes(): Uint8Array {
      const n = chunks.reduce((s, c) => s + c.length, 0);
      const out = new Uint8Array(n);
      let off = 0;
      for (const c of chunks) { out.set(c, off); off += c.length; }
      return out;
    },
  };
}

interface Rec { sec: number; usec: number; incl: number; orig: number; data: Uint8Array }

/** Minimal little-endian classic pcap reader. */
function readPcap(file: Uint8Array): { linktype: number; snaplen: number; recs: Rec[] } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  assert.is(dv.getUint32(0, true), 0xa1b2c3d4, 'magic, little-endian');
  const recs: Rec[] = [];
  let off = 24;
  while (off < file.length) {
    const incl = dv.getUint32(off + 8, true);
    recs.push({
      sec: dv.getUint32(off, true), usec: dv.getUint32(off + 4, true), incl, orig: dv.getUint32(off + 12, true),
      data: file.subarray(off + 16, off + 16 + incl),
    });
    off += 16 + incl;
  }
  assert.is(off, file.length, 'records end exactly at the end of the file');
  return { linktype: dv.getUint32(20, true), snaplen: dv.getUint32(16, true), recs };
}

/** Decodes the picolink pseudo-header by its documented layout (big-endian). */
function pseudo(d: Uint8Array) {
  return {
    version: d[0], flags: d[1], station: (d[2] << 8) | d[3], proto: d[4], medium: d[5], len: (d[6] << 8) | d[7],
    frame: Array.from(d.subarray(8)),
  };
}

function fakeClock(start: number) {
  const c = {
    t: start,
    now: () => c.t,
    at: (_t: number, _fn: () => void): Timer => 0,
    cancel: (_h: Timer) => {},
  };
  return c satisfies Clock;
}

/** A link that records what it was given and lets the test drive receive / sent / busy. */
function fakeLink(medium: LinkCaps['medium'] = 'radio') {
  const f = {
    caps: { mtu: 32, bitrate: 250000, medium, carrierSense: true, broadcast: true } as LinkCaps,
    accept: true,
    isBusy: false,
    sent: [] as number[][],
    rx: null as ReceiveFn | null,
    done: null as SentFn | null,
  };
  const link: Link = {
    caps: f.caps,
    send(frame, len) {
      if (!f.accept) return false;
      f.sent.push(Array.from(frame.subarray(0, len)));
      return true;
    },
    onReceive(fn) { f.rx = fn; },
    onSent(fn) { f.done = fn; },
    busy() { return f.isBusy; },
  };
  return { f, link };
}

/** Feed `bytes` to a fake link's receiver with a reused buffer, as a driver would. */
function deliver(f: ReturnType<typeof fakeLink>['f'], bytes: number[], timeUs: number): RxInfo {
  const buf = new Uint8Array(64);
  buf.set(bytes);
  const info: RxInfo = { timeUs, rssi: -60 };
  assert.ok(f.rx, 'a receiver is installed on the inner link');
  f.rx(buf, bytes.length, info);
  buf.fill(0xee); // the driver reuses its buffer: a capture must not point into it
  return info;
}

// ---------- golden bytes ----------

test('global header: golden bytes', () => {
  const sink = memorySink();
  pcapWriter(sink);
  assert.is(sink.chunks.length, 1, 'header written once, at creation');
  assert.equal(Array.from(sink.bytes()), [
    0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4, little-endian: microsecond timestamps
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x93, 0x00, 0x00, 0x00, // LINKTYPE_USER0 = 147
  ]);
});

test('record: golden bytes, timestamp split into seconds and microseconds', () => {
  const sink = memorySink();
  const w = pcapWriter(sink);
  const data = new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd, 0x99]);
  w.record(4_294_967_295_999_999, data, 3); // the last representable instant; len < buffer length
  w.record(1_234_567_890, data, 0);
  assert.equal(Array.from(sink.chunks[1]), [
    0xff, 0xff, 0xff, 0xff, // ts_sec 4294967295
    0x3f, 0x42, 0x0f, 0x00, // ts_usec 999999
    0x03, 0x00, 0x00, 0x00, // incl_len 3
    0x03, 0x00, 0x00, 0x00, // orig_len 3
    0xaa, 0xbb, 0xcc,
  ]);
  assert.equal(Array.from(sink.chunks[2]), [
    0xd2, 0x04, 0x00, 0x00, // 1234 s
    0x52, 0xaa, 0x08, 0x00, // 567890 µs
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
  ]);
  data[0] = 0; // the writer copied: the record keeps its bytes
  assert.is(sink.chunks[1][16], 0xaa);
});

test('record: data past the snap length is cut, the original length kept', () => {
  const sink = memorySink();
  const w = pcapWriter(sink);
  w.record(0, new Uint8Array(PCAP_SNAPLEN + 10), PCAP_SNAPLEN + 10);
  const { recs, snaplen } = readPcap(sink.bytes());
  assert.is(recs[0].incl, snaplen);
  assert.is(recs[0].orig, PCAP_SNAPLEN + 10);
});

test('record: bad timestamps and lengths are programming errors', () => {
  const w = pcapWriter(memorySink());
  assert.throws(() => w.record(-1, new Uint8Array(1), 1), /timestamp/);
  assert.throws(() => w.record(1.5, new Uint8Array(1), 1), /timestamp/);
  assert.throws(() => w.record(4_294_967_296_000_000, new Uint8Array(1), 1), /32-bit/);
  assert.throws(() => w.record(0, new Uint8Array(1), 2), /len/);
});

test('pcap(): one record, pseudo-header golden bytes', () => {
  const sink = memorySink();
  const w = pcapWriter(sink);
  const { link } = fakeLink('serial');
  const clock = fakeClock(2_000_001);
  const l = pcap(link, { writer: w, clock, station: 0x1234, proto: CAP_PROTO.TELEMETRY });
  assert.ok(l.send(new Uint8Array([0x54, 0x00, 0x07, 0x00, 0x01, 0xa0]), 6));
  assert.equal(Array.from(sink.chunks[1]), [
    0x02, 0x00, 0x00, 0x00, // 2 s
    0x01, 0x00, 0x00, 0x00, // 1 µs
    0x0e, 0x00, 0x00, 0x00, // 8 + 6 bytes
    0x0e, 0x00, 0x00, 0x00,
    0x01, // version
    0x01, // flags: sent
    0x12, 0x34, // station, big-endian
    0x01, // proto telemetry
    0x01, // medium serial, taken from caps
    0x00, 0x06, // frame length, big-endian
    0x54, 0x00, 0x07, 0x00, 0x01, 0xa0,
  ]);
  assert.equal(CAP, { VERSION: 0, FLAGS: 1, STATION: 2, PROTO: 4, MEDIUM: 5, LEN: 6, HDR: 8 });
});

// ---------- middleware behaviour ----------

test('pcap(): records sent frames only when the link takes them, stamped clock.now()', () => {
  const sink = memorySink();
  const { f, link } = fakeLink();
  const clock = fakeClock(10);
  const l = pcap(link, { writer: pcapWriter(sink), clock, station: 3, proto: CAP_PROTO.RAW });
  const frame = new Uint8Array([1, 2, 3, 4]);
  assert.ok(l.send(frame, 3));
  f.accept = false;
  clock.t = 20;
  assert.not.ok(l.send(frame, 4), 'a refused frame is refused through the middleware too');
  f.accept = true;
  clock.t = 1_000_030;
  frame[0] = 9;
  assert.ok(l.send(frame, 4));
  assert.equal(f.sent, [[1, 2, 3], [9, 2, 3, 4]], 'frames reach the link unchanged');

  const { recs } = readPcap(sink.bytes());
  assert.is(recs.length, 2, 'the refused frame is not recorded');
  assert.equal([recs[0].sec, recs[0].usec, recs[1].sec, recs[1].usec], [0, 10, 1, 30]);
  const a = pseudo(recs[0].data), b = pseudo(recs[1].data);
  assert.equal(a, { version: CAP_VERSION, flags: CAP_FLAG_SENT, station: 3, proto: 0, medium: CAP_MEDIUM.radio, len: 3, frame: [1, 2, 3] });
  assert.equal(b.frame, [9, 2, 3, 4]);
  assert.is(b.len, 4);
});

test('pcap(): records received frames with direction 0 at info.timeUs and passes them on', () => {
  const sink = memorySink();
  const { f, link } = fakeLink();
  const clock = fakeClock(999); // must not be used for received frames
  const l = pcap(link, { writer: pcapWriter(sink), clock, station: 0xfffe, proto: CAP_PROTO.CSMA, medium: CAP_MEDIUM.wired });
  assert.is(f.rx, null, 'no receiver on the inner link until the caller sets one');

  const got: { bytes: number[]; info: RxInfo }[] = [];
  l.onReceive((frame, len, info) => got.push({ bytes: Array.from(frame.subarray(0, len)), info }));
  const info = deliver(f, [7, 7, 7], 5_000_000);
  deliver(f, [8], 5_000_250);
  assert.equal(got.map((g) => g.bytes), [[7, 7, 7], [8]]);
  assert.is(got[0].info, info, 'the same RxInfo object reaches the caller');

  const { recs } = readPcap(sink.bytes());
  assert.equal(recs.map((r) => [r.sec, r.usec]), [[5, 0], [5, 250]]);
  assert.equal(pseudo(recs[0].data), { version: 1, flags: 0, station: 0xfffe, proto: 2, medium: 2, len: 3, frame: [7, 7, 7] });
  assert.equal(pseudo(recs[1].data).frame, [8]);

  l.onReceive(null);
  assert.is(f.rx, null, 'clearing the receiver clears it on the inner link');
});

test('pcap(): caps, busy and onSent pass through', () => {
  const { f, link } = fakeLink();
  const l = pcap(link, { writer: pcapWriter(memorySink()), clock: fakeClock(0), station: 1, proto: 0 });
  assert.is(l.caps, link.caps);
  assert.not.ok(l.busy());
  f.isBusy = true;
  assert.ok(l.busy());
  const statuses: number[] = [];
  l.onSent((s) => statuses.push(s));
  assert.ok(f.done, 'onSent reached the inner link');
  f.done(TX_OK);
  assert.equal(statuses, [TX_OK]);
  l.onSent(null);
  assert.is(f.done, null);
});

test('pcap(): several links share one writer (one header, records in order)', () => {
  const sink = memorySink();
  const w = pcapWriter(sink);
  const clock = fakeClock(100);
  const A = fakeLink(), B = fakeLink();
  const a = pcap(A.link, { writer: w, clock, station: 1, proto: CAP_PROTO.RAW });
  const b = pcap(B.link, { writer: w, clock, station: 2, proto: CAP_PROTO.RAW });
  b.onReceive(() => {});
  a.send(new Uint8Array([0x41]), 1);
  deliver(B.f, [0x41], 180);
  const { recs } = readPcap(sink.bytes());
  assert.equal(recs.map((r) => { const p = pseudo(r.data); return [p.station, p.flags, r.usec]; }), [[1, 1, 100], [2, 0, 180]]);
});

test('pcap(): bad options are rejected at creation', () => {
  const w = pcapWriter(memorySink());
  const { link } = fakeLink();
  const clock = fakeClock(0);
  assert.throws(() => pcap(link, { writer: w, clock, station: 65536, proto: 0 }), /station/);
  assert.throws(() => pcap(link, { writer: w, clock, station: 1, proto: 256 }), /proto/);
  assert.throws(() => pcap(link, { writer: w, clock, station: 1, proto: 0, medium: -1 }), /medium/);
});

test('fileSink: writes the same bytes as memory, close() is idempotent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-pcap-'));
  try {
    const path = join(dir, 'x.pcap');
    const file = fileSink(path), mem = memorySink();
    for (const s of [file, mem]) {
      const w = pcapWriter(s);
      w.record(1, new Uint8Array([1, 2, 3]), 3);
      w.record(2_000_000, new Uint8Array(300).fill(5), 300);
    }
    file.close();
    file.close();
    assert.equal(new Uint8Array(readFileSync(path)), mem.bytes());
    assert.throws(() => file.write(new Uint8Array(1)), /after close/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fileSink: creates missing directories; one that cannot be made is an error, not a hang', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-pcap-'));
  try {
    const path = join(dir, 'a', 'b', 'x.pcap');
    fileSink(path).close();
    assert.ok(existsSync(path));
    // Node's recursive mkdir never returns under /proc; this must throw at once (in a child process
    // with a time limit, so that a regression fails rather than hangs the suite).
    if (existsSync('/proc/self')) {
      const code = `import { fileSink } from ${JSON.stringify(resolve(import.meta.dirname, '../../../hal/mw/pcap.ts'))}; try { fileSink('/proc/picolink-nope/x.pcap'); } catch (e) { console.log(e.code); }`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
      assert.is(r.stdout.trim(), 'ENOENT', `${r.stdout} ${r.stderr} ${r.signal ?? ''}`);
    }
    assert.throws(() => fileSink(join(path, 'y.pcap')), /EEXIST|ENOTDIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- tshark with the dissector ----------

const DISSECTOR = resolve(import.meta.dirname, '../../../host/wireshark/picolink.lua');

function tsharkVersion(): string | null {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8', env: { ...process.env, WIRESHARK_LOG_LEVEL: 'critical' } });
  if (r.error || r.status !== 0) return null;
  const m = /\d+\.\d+\.\d+/.exec(r.stdout);
  return `tshark ${m ? m[0] : '(unknown version)'}`;
}
const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the dissector tests');
/** The dissector hands readings to Wireshark's CBOR dissector only where that exists. */
const HAS_CBOR = TSHARK !== null &&
  /\tcbor\s*$/m.test(spawnSync('tshark', ['-G', 'protocols'], { encoding: 'utf8', env: { ...process.env, WIRESHARK_LOG_LEVEL: 'critical' } }).stdout ?? '');

/** Run tshark on `file` with the dissector, with a throwaway home so it writes no configuration. */
function tshark(home: string, file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-X', `lua_script:${DISSECTOR}`, '-r', file, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, WIRESHARK_CONFIG_DIR: home, WIRESHARK_LOG_LEVEL: 'critical' },
  });
  assert.is(r.status, 0, `tshark exited ${r.status}: ${r.stderr}`);
  assert.not.match(r.stderr, /lua/i, `tshark reported a script problem: ${r.stderr}`);
  return r.stdout;
}

/** Telemetry frame built by hand: 'T', src (u16 BE), seq (u16 BE), then CBOR {"t": value} (value < 256). */
function telemetryFrame(src: number, seq: number, value: number): Uint8Array {
  return new Uint8Array([0x54, src >> 8, src & 0xff, seq >> 8, seq & 0xff, 0xa1, 0x61, 0x74, 0x18, value]);
}

/** A capture through the middleware: station 7 sends telemetry, station 9 receives it, plus a raw frame. */
function writeCapture(path: string, extra?: (w: ReturnType<typeof pcapWriter>, a: { send: (b: number[]) => void }) => void): void {
  const sink = fileSink(path);
  const w = pcapWriter(sink);
  const clock = fakeClock(1_000_000);
  const tx = fakeLink(), rx = fakeLink();
  const sender = pcap(tx.link, { writer: w, clock, station: 7, proto: CAP_PROTO.TELEMETRY });
  const receiver = pcap(rx.link, { writer: w, clock, station: 9, proto: CAP_PROTO.TELEMETRY });
  const raw = pcap(fakeLink('serial').link, { writer: w, clock, station: 9, proto: CAP_PROTO.RAW });
  receiver.onReceive(() => {});
  for (let seq = 0xfffe; seq <= 0x10000; seq++) {
    const frame = telemetryFrame(0x0102, seq & 0xffff, 42);
    clock.t += 1000;
    sender.send(frame, frame.length);
    deliver(rx.f, Array.from(frame), clock.t + 400);
  }
  clock.t += 1000;
  raw.send(new Uint8Array([0xde, 0xad]), 2);
  if (extra) extra(w, { send: (b) => { clock.t += 1000; sender.send(new Uint8Array(b), b.length); } });
  sink.close();
}

(TSHARK ? test : test.skip)(`${TSHARK ?? 'tshark (absent)'}: fields of telemetry and raw frames`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-tshark-'));
  try {
    const file = join(dir, 'cap.pcap');
    writeCapture(file);
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,',
      '-e', 'picolink.station', '-e', 'picolink.dir', '-e', 'picolink.proto', '-e', 'picolink.telemetry.src', '-e', 'picolink.telemetry.seq']);
    assert.equal(out.trim().split('\n'), [
      '7,1,1,258,65534', '9,0,1,258,65534',
      '7,1,1,258,65535', '9,0,1,258,65535',
      '7,1,1,258,0', '9,0,1,258,0', // the sequence number wraps
      '9,1,0,,', // raw frame: no telemetry fields
    ]);

    const verbose = tshark(dir, file, ['-V', '-Y', 'frame.number == 1 || frame.number == 7']);
    assert.match(verbose, /Direction: sent \(1\)/);
    assert.match(verbose, /Protocol: telemetry \(1\)/);
    assert.match(verbose, /Protocol: raw \(0\)/);
    assert.match(verbose, /Medium: serial \(1\)/);
    if (HAS_CBOR) {
      assert.match(verbose, /Concise Binary Object Representation/, 'the readings go to the CBOR dissector');
      assert.match(verbose, /Text String: t\n[\s\S]*Unsigned Integer: 42/);
    } else {
      console.log('  note: this tshark has no CBOR dissector; checking the readings are shown as bytes');
      assert.match(verbose, /Readings \(CBOR\): a16174182a/);
    }
    assert.match(verbose, /Data: dead/, 'a raw frame shows as data');

    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info', '-c', '2']);
    assert.equal(info.trim().split('\n'), ['station 7 sent telemetry src=258 seq=65534', 'station 9 received telemetry src=258 seq=65534']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

(TSHARK ? test : test.skip)(`${TSHARK ?? 'tshark (absent)'}: malformed frames are flagged, never a script error`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-tshark-'));
  try {
    const file = join(dir, 'bad.pcap');
    writeCapture(file, (w, sender) => {
      sender.send([0x54, 0x00]); // 8: telemetry shorter than its header
      sender.send([0x55, 0, 1, 0, 2, 0xa0]); // 9: wrong type
      sender.send([0x54, 0, 1, 0, 2, 0xa1, 0x61, 0x74, 0x18]); // 10: CBOR cut short
      w.record(9_000_000, new Uint8Array([1, 0, 0]), 3); // 11: record shorter than the pseudo-header
      w.record(9_000_001, new Uint8Array([1, 0, 0, 7, 99, 0, 0, 1, 0xff]), 9); // 12: unknown proto
      w.record(9_000_002, new Uint8Array([2, 0, 0, 7, 0, 0, 0, 1, 0xff]), 9); // 13: unknown version
      w.record(9_000_003, new Uint8Array([1, 0, 0, 7, 0, 0, 0, 5, 0xff]), 9); // 14: length field says 5, has 1
    });
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;',
      '-e', 'frame.number', '-e', 'picolink.telemetry.src', '-e', '_ws.expert.message', '-e', '_ws.col.Info']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, 14, 'every record is dissected');
    for (const r of rows.slice(0, 7)) assert.is(r[2], '', `frame ${r[0]} is well-formed`);
    assert.match(rows[7][2], /shorter than its 5-byte header/);
    assert.match(rows[7][3], /malformed/);
    assert.match(rows[8][2], /type is not 'T'/);
    assert.is(rows[8][1], '', 'no src is claimed for a frame of another type');
    if (HAS_CBOR) {
      assert.match(rows[9][2], /Malformed/);
      assert.match(rows[9][3], /malformed: CBOR/);
    }
    assert.match(rows[10][2], /shorter than the picolink pseudo-header/);
    assert.match(rows[11][3], /station 7 received proto 99/);
    assert.is(rows[11][2], '');
    assert.match(rows[12][2], /Unknown picolink capture version/);
    assert.match(rows[13][2], /Length field does not match/);
    const flagged = tshark(dir, file, ['-Y', 'picolink.telemetry.badtype', '-T', 'fields', '-e', 'frame.number']);
    assert.is(flagged.trim(), '9', 'the expert info is filterable');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

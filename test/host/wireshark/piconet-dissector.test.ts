// Tests for the piconet part of the Wireshark dissector (host/wireshark/picolink.lua): a capture of every
// packet type, single and triple headers, built with firmware/mac/piconet/frame.ts and written with
// hal/mw/pcap.ts, read by tshark through the dissector; fields, Info texts, the header-copies guess and
// preference, and malformed packets (the dissector and parseHeader agree on which headers are bad).
// Skipped with a message when tshark is absent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cborEncode } from '../../../firmware/codec/cbor.ts';
import { crc8 } from '../../../firmware/codec/crc.ts';
import { emitTelemetry } from '../../../firmware/codec/telemetry.ts';
import type { PiconetHeader } from '../../../firmware/mac/piconet/frame.ts';
import {
  GIAC, LMP_DETACH, LMP_PARK, LMP_SCO, LMP_UNPARK, PT_DH1, PT_DH3, PT_DH5, PT_DM1, PT_FHS, PT_HV3, PT_NULL, PT_POLL,
  accessCode, emitHeader, parseHeader,
} from '../../../firmware/mac/piconet/frame.ts';
import { ADDR_BROADCAST } from '../../../firmware/mac/mac.ts';
import { PICONET_BT } from '../../../firmware/mac/piconet/config.ts';
import { piconetMaster, piconetSlave } from '../../../firmware/mac/piconet/piconet.ts';
import { TX_OK } from '../../../hal/link.ts';
import { CAP_PROTO, fileSink, pcap, pcapWriter } from '../../../hal/mw/pcap.ts';
import { matching, tshark, tsharkVersion, withCapture as shared, writeCapture } from './tshark.ts';
import type { Rec } from './tshark.ts';
import { below, xoshiro } from '../../../hal/prng.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { scheduler } from '../../../hal/sim/scheduler.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the piconet dissector tests');

// ---------- the capture ----------


const AC = accessCode(0x0102); // the piconet of master 0x0102
const buf = new Uint8Array(64);

/** A packet: header by emitHeader (flow go unless said), then the payload. */
function pkt(h: Partial<PiconetHeader> & { type: number }, triple: boolean, payload: number[] = []): number[] {
  const full: PiconetHeader = { ac: AC, am: 0, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0, ...h };
  const n = emitHeader(buf, full, triple);
  assert.is(n, triple ? 11 : 5);
  buf.set(payload, n);
  return Array.from(buf.subarray(0, n + payload.length));
}

/** A telemetry frame (proto 1's format) with readings {t: 21}. */
function telemetryFrame(src: number, seq: number): number[] {
  const b = new Uint8Array(32);
  const off = emitTelemetry({ src, seq }, b);
  const end = cborEncode({ t: 21 }, b, off);
  assert.ok(end > off);
  return Array.from(b.subarray(0, end));
}
const TM = telemetryFrame(7, 1);
const hex = (a: number[]): string => a.map((x) => x.toString(16).padStart(2, '0')).join('');

/** Well-formed packets: fields (ac, am, type, flow, arqn, seqn, budget, hec.correct, copies) and the Info text. */
const GOOD: (Rec & { fields: string; info: string })[] = [
  {
    station: 1, sent: true, frame: pkt({ am: 3, type: PT_POLL }, false),
    fields: `${AC},3,1,1,0,0,1,1,1`, info: 'POLL -> AM 3',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 2, type: PT_POLL, arqn: true, budget: 3 }, true),
    fields: `${AC},2,1,1,1,0,3,1,3`, info: 'POLL -> AM 2 ACK budget 3',
  },
  {
    station: 2, sent: true, frame: pkt({ am: 2, type: PT_NULL }, false),
    fields: `${AC},2,0,1,0,0,1,1,1`, info: 'NULL AM 2 NAK',
  },
  {
    station: 2, sent: true, frame: pkt({ am: 2, type: PT_NULL, arqn: true }, true),
    fields: `${AC},2,0,1,1,0,1,1,3`, info: 'NULL AM 2 ACK',
  },
  {
    // A telemetry frame in a DH1 goes on to the telemetry dissector, which adds src and seq.
    station: 1, sent: true, frame: pkt({ am: 3, type: PT_DH1, arqn: true, seqn: 1 }, false, TM),
    fields: `${AC},3,4,1,1,1,1,1,1`, info: 'DH1 -> AM 3 seqn 1 ACK budget 1 src=7 seq=1',
  },
  {
    // First byte 0x0a: not a service number (1 would be read as a telemetry service byte).
    station: 3, sent: false, frame: pkt({ am: 5, type: PT_DH3, flow: false, budget: 3 }, true, [0x0a, 2, 3]),
    fields: `${AC},5,11,0,0,0,3,1,3`, info: 'DH3 -> AM 5 seqn 0 NAK budget 3 flow stop',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 7, type: PT_DH5, arqn: true, seqn: 1, budget: 5 }, false, [0xff, 0x00]),
    fields: `${AC},7,15,1,1,1,5,1,1`, info: 'DH5 -> AM 7 seqn 1 ACK budget 5',
  },
  {
    station: 1, sent: true, frame: pkt({ type: PT_DM1 }, true, [LMP_UNPARK, 5, 3]),
    fields: `${AC},0,3,1,0,0,1,1,3`, info: 'DM1 -> broadcast seqn 0 NAK budget 1 LMP UNPARK pm_addr 5 am_addr 3',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 3, type: PT_DM1, seqn: 1 }, false, [LMP_PARK, 9]),
    fields: `${AC},3,3,1,0,1,1,1,1`, info: 'DM1 -> AM 3 seqn 1 NAK budget 1 LMP PARK pm_addr 9',
  },
  {
    // As piconet.ts sends it: with a zero argument byte, shown as an unused byte, not flagged.
    station: 1, sent: true, frame: pkt({ am: 3, type: PT_DM1 }, true, [LMP_DETACH, 0]),
    fields: `${AC},3,3,1,0,0,1,1,3`, info: 'DM1 -> AM 3 seqn 0 NAK budget 1 LMP DETACH',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 4, type: PT_DM1, flow: false }, false, [LMP_SCO, 6, 2]),
    fields: `${AC},4,3,0,0,0,1,1,1`, info: 'DM1 -> AM 4 seqn 0 NAK budget 1 LMP SCO interval 6 offset 2 flow stop',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 4, type: PT_DM1, seqn: 1 }, false, [LMP_SCO, 0, 0]),
    fields: `${AC},4,3,1,0,1,1,1,1`, info: 'DM1 -> AM 4 seqn 1 NAK budget 1 LMP SCO interval 0 offset 0 (remove)',
  },
  {
    station: 9, sent: true, frame: pkt({ ac: GIAC, type: PT_FHS }, false, [0x01, 0x02]),
    fields: `${GIAC},0,2,1,0,0,1,1,1`, info: 'FHS GIAC inquiry response 0x0102',
  },
  {
    station: 9, sent: true, frame: pkt({ ac: GIAC, type: PT_FHS }, true, [0x01, 0x02]),
    fields: `${GIAC},0,2,1,0,0,1,1,3`, info: 'FHS GIAC inquiry response 0x0102',
  },
  {
    // A page: the master, under the paged device's access code, hands out AM_ADDR 3.
    station: 1, sent: true, frame: pkt({ ac: accessCode(9), type: PT_FHS }, false, [0x01, 0x02, 0x03]),
    fields: `${accessCode(9)},0,2,1,0,0,1,1,1`, info: 'FHS page master 0x0102 AM 3',
  },
  {
    station: 1, sent: true, frame: pkt({ am: 1, type: PT_HV3 }, false, new Array<number>(30).fill(0x5a)),
    fields: `${AC},1,7,1,0,0,1,1,1`, info: 'HV3 -> AM 1 seqn 0 NAK budget 1',
  },
  {
    // Starts with 'T' but too short for a telemetry frame with readings: data.
    station: 1, sent: true, frame: pkt({ am: 3, type: PT_DH1 }, false, TM.slice(0, 5)),
    fields: `${AC},3,4,1,0,0,1,1,1`, info: 'DH1 -> AM 3 seqn 0 NAK budget 1',
  },
  {
    // Inquiry as piconet.ts sends it: a broadcast POLL under the GIAC naming the inquiring master.
    station: 1, sent: true, frame: pkt({ ac: GIAC, type: PT_POLL }, false, [0x01, 0x02]),
    fields: `${GIAC},0,1,1,0,0,1,1,1`, info: 'POLL GIAC -> broadcast inquiry by 0x0102',
  },
  {
    // The paged device's answer, under its own access code, echoing the master it answers.
    station: 9, sent: true, frame: pkt({ ac: accessCode(9), am: 3, type: PT_NULL }, true, [0x01, 0x02]),
    fields: `${accessCode(9)},3,0,1,0,0,1,1,3`, info: 'NULL AM 3 NAK page response to 0x0102',
  },
];

/** A single-header packet with h1 replaced and the HEC made right again, so that only the h1 checks object. */
function withH1(frame: number[], h1: number): number[] {
  const b = frame.slice();
  b[3] = h1;
  b[4] = crc8(b[2], h1, b[1]);
  return b;
}
const poll = GOOD[0].frame;
const pollTriple = GOOD[1].frame;

/** Packets with a fault: the expert message expected and the Info text. */
const BAD: (Rec & { expert: RegExp; info: string })[] = [
  { station: 2, sent: false, frame: poll.slice(0, 4), expert: /4 bytes, shorter than its 5-byte single header/, info: '[malformed: short]' },
  { station: 2, sent: false, frame: [], expert: /0 bytes, shorter than its 5-byte single header/, info: '[malformed: short]' },
  {
    // AM 3 -> AM 1 by one bit: the HEC no longer matches.
    station: 2, sent: false, frame: [poll[0], poll[1], poll[2] ^ 0x02, poll[3], poll[4]],
    expert: /HEC 0x[0-9a-f]{2} incorrect \(should be 0x[0-9a-f]{2}\)/, info: 'POLL -> AM 1 [malformed: HEC]',
  },
  { station: 2, sent: false, frame: withH1(poll, 0x20), expert: /Reserved header bits set/, info: 'POLL -> AM 3 [malformed: reserved bits]' },
  { station: 2, sent: false, frame: withH1(poll, 0x0c), expert: /Reply budget code 3 is reserved/, info: 'POLL -> AM 3 [malformed: budget]' },
  // Payload faults: the header is sound (stations take it), the contents are not.
  { station: 2, sent: false, frame: pkt({ am: 3, type: PT_DM1 }, false), expert: /DM1 packet with no LMP opcode/, info: 'DM1 -> AM 3 seqn 0 NAK budget 1 LMP [malformed: empty]' },
  { station: 2, sent: false, frame: pkt({ am: 3, type: PT_DM1 }, false, [9, 1]), expert: /Unknown LMP opcode 9/, info: 'DM1 -> AM 3 seqn 0 NAK budget 1 LMP opcode 9 [malformed: unknown opcode]' },
  { station: 2, sent: false, frame: pkt({ am: 3, type: PT_DM1 }, false, [LMP_UNPARK, 5]), expert: /LMP UNPARK of 2 bytes, shorter than its 3/, info: 'DM1 -> AM 3 seqn 0 NAK budget 1 LMP UNPARK [malformed: short]' },
  { station: 2, sent: false, frame: pkt({ ac: GIAC, type: PT_FHS }, false, [1, 2, 3, 4]), expert: /FHS payload of 4 bytes/, info: 'FHS GIAC [malformed: FHS length]' },
  { station: 2, sent: false, frame: pkt({ am: 3, type: PT_POLL }, false, [0xaa]), expert: /1 bytes after the end of the message/, info: 'POLL -> AM 3' },
  { station: 2, sent: false, frame: pkt({ am: 3, type: 5 }, false, [0xaa]), expert: /Packet type not used by picolink/, info: 'type 5 -> AM 3 seqn 0 NAK budget 1' },
  {
    // A triple header with its third copy hit: the guess sees no repetition and reads a single header
    // followed by 6 stray bytes. With the preference set to triple the vote repairs it (tested below).
    station: 2, sent: false, frame: pollTriple.map((x, i) => (i === 9 ? x ^ 0x40 : x)),
    expert: /6 bytes after the end of the message/, info: 'POLL -> AM 2 ACK budget 3',
  },
];
const HEADER_FAULT = /shorter than its \d+-byte (single|triple) header|HEC .* incorrect|Reserved header bits|budget code 3/;


const ALL: Rec[] = [...GOOD, ...BAD];

function withCapture(fn: (dir: string, file: string) => void): void {
  shared('piconet', ALL, CAP_PROTO.PICONET, fn);
}


/** Booleans print as 1/0 in tshark 4.0 and as True/False in later versions. */
const bool01 = (s: string): string => s.replace(/\bTrue\b/g, '1').replace(/\bFalse\b/g, '0');

/** The guess the dissector makes about the header copies, restated. */
function looksTriple(f: number[]): boolean {
  return f.length >= 11 && [0, 1, 2].every((i) => f[5 + i] === f[2 + i] && f[8 + i] === f[2 + i]);
}

const run = TSHARK ? test : test.skip;
const label = TSHARK ?? 'tshark (absent)';

run(`${label}: piconet fields and Info texts of every packet type`, () => {
  withCapture((dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-c', String(GOOD.length),
      '-e', 'picolink.piconet.ac', '-e', 'picolink.piconet.am', '-e', 'picolink.piconet.type', '-e', 'picolink.piconet.flow',
      '-e', 'picolink.piconet.arqn', '-e', 'picolink.piconet.seqn', '-e', 'picolink.piconet.budget',
      '-e', 'picolink.piconet.hec.correct', '-e', 'picolink.piconet.copies']);
    const rows = out.trim().split('\n').map((l) => bool01(l).replace(/^0x([0-9a-f]{4})/, (_m, h) => String(parseInt(h, 16))));
    assert.equal(rows, GOOD.map((g) => g.fields));

    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info', '-c', String(GOOD.length)]);
    assert.equal(info.trim().split('\n'), GOOD.map((g) => `station ${g.station} ${g.sent ? 'sent' : 'received'} piconet ${g.info}`));

    const proto = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Protocol', '-c', '4']);
    assert.equal(proto.trim().split('\n'), ['picolink-piconet', 'picolink-piconet', 'picolink-piconet', 'picolink-piconet']);
  });
});

run(`${label}: piconet payloads: LMP, FHS addresses, telemetry, data`, () => {
  withCapture((dir, file) => {
    const fields = (n: number, names: string[]): string =>
      tshark(dir, file, ['-Y', `frame.number == ${n}`, '-T', 'fields', '-E', 'separator=,', ...names.flatMap((x) => ['-e', x])]).trim();
    assert.is(fields(5, ['picolink.telemetry.src', 'picolink.telemetry.seq', 'data.data']), '7,1,', 'telemetry chained');
    assert.is(fields(6, ['data.data']), '0a0203');
    assert.is(fields(8, ['picolink.piconet.lmp.op', 'picolink.piconet.lmp.pm_addr', 'picolink.piconet.lmp.am_addr']), '2,5,3');
    assert.is(fields(9, ['picolink.piconet.lmp.op', 'picolink.piconet.lmp.pm_addr']), '1,9');
    assert.is(fields(10, ['picolink.piconet.lmp.op', 'picolink.piconet.lmp.pm_addr', 'picolink.piconet.extra']), '3,,00');
    assert.is(fields(18, ['picolink.piconet.master', 'picolink.piconet.extra']), '0x0102,');
    assert.is(fields(19, ['picolink.piconet.master', 'picolink.piconet.extra']), '0x0102,');
    assert.is(fields(11, ['picolink.piconet.lmp.op', 'picolink.piconet.lmp.interval', 'picolink.piconet.lmp.offset']), '4,6,2');
    assert.is(fields(13, ['picolink.piconet.fhs.addr', 'picolink.piconet.fhs.master']), '0x0102,');
    assert.is(fields(15, ['picolink.piconet.fhs.master', 'picolink.piconet.fhs.am_addr', 'picolink.piconet.fhs.addr']), '0x0102,3,');
    assert.is(fields(16, ['picolink.piconet.sco']), '5a'.repeat(30));
    assert.is(fields(17, ['picolink.telemetry.src', 'data.data']), `,${hex(TM.slice(0, 5))}`, 'too short for telemetry: data');

    const v = tshark(dir, file, ['-V', '-Y', 'frame.number == 13']);
    assert.match(v, /Access code: 0x9e8b \(GIAC \(inquiry\)\)/);
    assert.match(v, /AM_ADDR: 0 \(broadcast\)/);
    assert.match(v, /Type: FHS \(2\)/);
    assert.match(v, /Flow: go \(1\)/);
    assert.match(v, /ARQN: NAK \(0\)/);
    assert.match(v, /Reply budget \(slots\): 1/);
    assert.match(v, /HEC correct: (True|1)/);
    assert.match(v, /Header copies: single \(1\) \(guessed: bytes 5-10 do not repeat bytes 2-4\)/);
    assert.match(v, /Device address: 0x0102/);
    const t = tshark(dir, file, ['-V', '-Y', 'frame.number == 2']);
    assert.match(t, /Header copies: triple \(3\) \(guessed: bytes 5-10 repeat bytes 2-4\)/);
    assert.match(t, /Copy 1: .*\n.*Copy 2: .*\n.*Copy 3: /);
    assert.match(t, /ARQN: ACK \(1\)/);
    assert.match(t, /Reply budget code: 3 slots \(1\)/);
  });
});

run(`${label}: piconet display filters`, () => {
  withCapture((dir, file) => {
    const isGood = (n: number): boolean => n <= GOOD.length;
    assert.equal(matching(dir, file, 'picolink.piconet.type == 1').filter(isGood), [1, 2, 18], 'POLL');
    assert.equal(matching(dir, file, 'picolink.piconet.am == 0').filter(isGood), [8, 13, 14, 15, 18]);
    assert.equal(matching(dir, file, 'picolink.piconet.ac == 0x9e8b').filter(isGood), [13, 14, 18]);
    assert.equal(matching(dir, file, 'picolink.piconet.budget == 3').filter(isGood), [2, 6]);
    assert.equal(matching(dir, file, 'picolink.piconet.copies == 3').filter(isGood), [2, 4, 6, 8, 10, 14, 19]);
    assert.equal(matching(dir, file, 'picolink.piconet.flow == 0').filter(isGood), [6, 11]);
    assert.equal(matching(dir, file, 'picolink.piconet.lmp.op == 4'), [11, 12]);
  });
});

run(`${label}: malformed piconet packets are flagged, tshark exits 0; header faults agree with parseHeader`, () => {
  withCapture((dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;',
      '-e', 'frame.number', '-e', '_ws.expert.message', '-e', '_ws.col.Info', '-e', 'picolink.piconet.copies']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, ALL.length, 'every record is dissected');
    GOOD.forEach((_g, i) => assert.is(rows[i][1], '', `frame ${i + 1} is well-formed`));
    BAD.forEach((b, j) => {
      const r = rows[GOOD.length + j];
      assert.match(r[1], b.expert, `frame ${r[0]}`);
      assert.is(r[2], `station ${b.station} received piconet ${b.info}`, `frame ${r[0]}`);
    });

    // A header fault in the dissector is exactly a packet parseHeader refuses (reading the header the way
    // the dissector guessed it).
    const h: PiconetHeader = { ac: 0, am: 0, type: 0, flow: false, arqn: false, seqn: 0, epoch: 0, budget: 0, off: 0 };
    ALL.forEach((rec, i) => {
      const triple = looksTriple(rec.frame);
      if (rows[i][3] !== '') assert.is(rows[i][3], triple ? '3' : '1', `frame ${i + 1}: copies`);
      const accepted = parseHeader(new Uint8Array(rec.frame), rec.frame.length, triple, h);
      assert.is(accepted, !HEADER_FAULT.test(rows[i][1]), `frame ${i + 1}: parseHeader ${accepted ? 'accepts' : 'rejects'} it`);
    });

    const first = GOOD.length + 1;
    assert.equal(matching(dir, file, 'picolink.piconet.short'), [first, first + 1]);
    assert.equal(matching(dir, file, 'picolink.piconet.badhec'), [first + 2]);
    assert.equal(matching(dir, file, 'picolink.piconet.hec.correct == 0'), [first + 2]);
    assert.equal(matching(dir, file, 'picolink.piconet.reserved.set'), [first + 3]);
    assert.equal(matching(dir, file, 'picolink.piconet.badbudget'), [first + 4]);
    assert.equal(matching(dir, file, 'picolink.piconet.lmp.short'), [first + 5, first + 7]);
    assert.equal(matching(dir, file, 'picolink.piconet.lmp.unknown'), [first + 6]);
    assert.equal(matching(dir, file, 'picolink.piconet.fhs.badlen'), [first + 8]);
    assert.equal(matching(dir, file, 'picolink.piconet.trailing'), [first + 9, first + 11]);
    assert.equal(matching(dir, file, 'picolink.piconet.badtype'), [first + 10]);
    // Experts of the MALFORMED group also set _ws.malformed; the payload-level notes on sound packets do not.
    assert.equal(matching(dir, file, '_ws.malformed'), Array.from({ length: 9 }, (_x, k) => first + k));
    assert.not.match(tshark(dir, file, ['-V']), /Lua Error|Dissector bug|Malformed Packet/, 'no script error or exception anywhere');
  });
});

run(`${label}: the header-copies preference overrides the guess; triple decoding votes`, () => {
  withCapture((dir, file) => {
    const h: PiconetHeader = { ac: 0, am: 0, type: 0, flow: false, arqn: false, seqn: 0, epoch: 0, budget: 0, off: 0 };
    for (const mode of ['single', 'triple']) {
      const pref = ['-o', `picolink.piconet.header:${mode}`];
      const out = tshark(dir, file, [...pref, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;',
        '-e', 'frame.number', '-e', '_ws.expert.message', '-e', 'picolink.piconet.copies']);
      const rows = out.trim().split('\n').map((l) => l.split('|'));
      assert.is(rows.length, ALL.length);
      ALL.forEach((rec, i) => {
        const accepted = parseHeader(new Uint8Array(rec.frame), rec.frame.length, mode === 'triple', h);
        assert.is(accepted, !HEADER_FAULT.test(rows[i][1]), `${mode}, frame ${i + 1}: parseHeader ${accepted ? 'accepts' : 'rejects'} it`);
        if (rows[i][2] !== '') assert.is(rows[i][2], mode === 'triple' ? '3' : '1');
      });
    }
    // The triple packet with a damaged third copy: the vote repairs it and the odd copy is pointed out.
    const last = ALL.length;
    const v = tshark(dir, file, ['-o', 'picolink.piconet.header:triple', '-V', '-Y', `frame.number == ${last}`]);
    assert.match(v, /Header copies: triple \(3\) \(preference\)/);
    assert.match(v, /Copy 3: .*\n.*Header copy differs from the majority/);
    assert.match(v, /HEC correct: (True|1)/);
    const info = tshark(dir, file, ['-o', 'picolink.piconet.header:triple', '-Y', `frame.number == ${last}`, '-T', 'fields', '-e', '_ws.col.Info']);
    assert.is(info.trim(), 'station 2 received piconet POLL -> AM 2 ACK budget 3');
    // Single-header packets read as triple may out-vote their own header and get a note too; the packets sent
    // with three equal copies never do.
    const noted = matching(dir, file, 'picolink.piconet.copy.corrected', ['-o', 'picolink.piconet.header:triple']);
    assert.ok(noted.includes(last), `${noted}`);
    for (const n of noted) assert.not.ok(looksTriple(ALL[n - 1].frame), `frame ${n}`);
  });
});

run(`${label}: 3 000 random packets in each header mode: no script error, header faults agree with parseHeader`, () => {
  const rng = xoshiro(42);
  const recs: Rec[] = [];
  for (let i = 0; i < 3000; i++) {
    const frame = Array.from({ length: below(rng, 41) }, () => below(rng, 256));
    // Most get a sound header (any type, single or triple) so that the payload decoders are reached too.
    if (frame.length >= 11 && below(rng, 4) !== 0) {
      if (below(rng, 2)) frame[2] = (frame[2] & 0x87) | ([PT_DM1, PT_FHS, PT_DH1, PT_POLL][below(rng, 4)] << 3);
      if (below(rng, 2)) frame[5] = [LMP_PARK, LMP_UNPARK, LMP_DETACH, LMP_SCO, 0x54][below(rng, 5)];
      frame[3] &= (frame[3] & 0x0c) === 0x0c ? 0x03 : 0x0f;
      frame[4] = crc8(frame[2], frame[3], frame[1]);
      if (below(rng, 2)) for (let k = 0; k < 3; k++) frame[5 + k] = frame[8 + k] = frame[2 + k];
    }
    recs.push({ station: below(rng, 0x10000), sent: below(rng, 2) === 1, frame });
  }
  const dir = mkdtempSync(join(tmpdir(), 'picolink-piconet-'));
  try {
    const file = join(dir, 'random.pcap');
    writeCapture(file, recs, CAP_PROTO.PICONET);
    const h: PiconetHeader = { ac: 0, am: 0, type: 0, flow: false, arqn: false, seqn: 0, epoch: 0, budget: 0, off: 0 };
    let sound = 0;
    for (const mode of ['auto', 'single', 'triple']) {
      const out = tshark(dir, file, ['-o', `picolink.piconet.header:${mode}`, '-T', 'fields', '-E', 'separator=|',
        '-E', 'aggregator=;', '-e', 'frame.number', '-e', '_ws.expert.message', '-e', 'picolink.piconet.copies']);
      const rows = out.trim().split('\n').map((l) => l.split('|'));
      assert.is(rows.length, recs.length, `${mode}: every record is dissected`);
      recs.forEach((rec, i) => {
        assert.not.match(rows[i][1], /Lua Error|Dissector bug/, `${mode}, frame ${i + 1}`);
        const triple = mode === 'triple' || (mode === 'auto' && looksTriple(rec.frame));
        const accepted = parseHeader(new Uint8Array(rec.frame), rec.frame.length, triple, h);
        if (accepted) sound++;
        assert.is(accepted, !HEADER_FAULT.test(rows[i][1]), `${mode}, frame ${i + 1} (${hex(rec.frame)}): parseHeader ${accepted ? 'accepts' : 'rejects'} it`);
      });
    }
    assert.ok(sound > 3000, `enough sound headers to reach the payload decoders (${sound} of 9000)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- a real session: the piconet MAC on the simulated medium, captured by the pcap middleware ----------

/**
 * Inquiry, page, data both ways (a telemetry frame among it), a broadcast, an SCO link, flow stop, park, unpark
 * and detach, run by firmware/mac/piconet/piconet.ts, captured at the master. Returns the number of records.
 */
function session(file: string, tripleHeader: boolean): number {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 400, preambleBits: 72, propagationUs: 1 });
  const rng = xoshiro(3);
  const config = { ...PICONET_BT, tripleHeader, supervisionUs: 200_000 };
  const sink = fileSink(file);
  let records = 0;
  const writer = pcapWriter({ write: (b) => { records++; sink.write(b); } });
  const link = pcap(m.station().link, { writer, clock: s, station: 100, proto: CAP_PROTO.PICONET });
  const M = piconetMaster({ link, clock: s, rng, addr: 0x0102, config });
  const S1 = piconetSlave({ link: m.station().link, clock: s, rng, addr: 201, config });
  const S2 = piconetSlave({ link: m.station().link, clock: s, rng, addr: 202, config });
  const step = (us: number): void => { s.runUntil(s.now() + us); };
  let found: number[] = [];
  assert.ok(M.inquiry(100_000, (f) => { found = f; }));
  step(150_000);
  assert.equal([...found].sort(), [201, 202], 'inquiry found both');
  let paged = 0;
  M.page(201, (ok) => { if (ok) paged++; M.page(202, (ok2) => { if (ok2) paged++; }); });
  step(300_000);
  assert.is(paged, 2, 'both paged in');
  const tm = new Uint8Array(TM);
  assert.is(S1.send(0x0102, tm, tm.length), TX_OK);
  assert.is(M.send(201, new Uint8Array(100).fill(0x11), 100), TX_OK); // DH3 at 1 Mbit/s; 0x11: no service byte
  assert.is(M.send(202, new Uint8Array(250).fill(2), 250), TX_OK); // DH5
  assert.is(M.send(ADDR_BROADCAST, new Uint8Array([9, 9]), 2), TX_OK);
  step(50_000);
  assert.ok(M.addSco(201, 6, 0));
  step(20_000);
  M.removeSco(201);
  S2.setFlow(false);
  step(10_000);
  S2.setFlow(true);
  assert.ok(M.park(202));
  step(150_000);
  assert.ok(M.unpark(202));
  step(50_000);
  assert.ok(M.detach(201));
  step(50_000);
  sink.close();
  return records - 1; // the first write is the file's global header
}

run(`${label}: a session of the piconet MAC, single and triple headers: every packet well-formed, every kind seen`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-piconet-'));
  try {
    for (const triple of [false, true]) {
      const file = join(dir, `session-${triple}.pcap`);
      const n = session(file, triple);
      assert.ok(n > 50, `${n} records`);
      for (const mode of ['auto', triple ? 'triple' : 'single']) {
        const out = tshark(dir, file, ['-o', `picolink.piconet.header:${mode}`, '-T', 'fields', '-E', 'separator=|',
          '-E', 'aggregator=;', '-e', '_ws.expert.message', '-e', 'picolink.piconet.copies', '-e', '_ws.col.Info']);
        const rows = out.trim().split('\n').map((l) => l.split('|'));
        assert.is(rows.length, n, `${mode}: every record is dissected`);
        rows.forEach((r, i) => {
          assert.is(r[0], '', `triple ${triple}, ${mode}, record ${i + 1} (${r[2]}): no expert info`);
          assert.is(r[1], triple ? '3' : '1', `triple ${triple}, ${mode}, record ${i + 1}: header copies`);
        });
        const info = rows.map((r) => r[2]).join('\n');
        for (const want of [
          /sent piconet POLL GIAC -> broadcast inquiry by 0x0102$/m,
          /received piconet FHS GIAC inquiry response 0x00c9$/m, // 201
          /sent piconet FHS page master 0x0102 AM 1$/m,
          /received piconet NULL AM 1 NAK page response to 0x0102$/m,
          /received piconet DH1 -> AM 1 seqn 0 (ACK|NAK) budget 1 src=7 seq=1$/m,
          /sent piconet DH3 -> AM 1 seqn \d (ACK|NAK) budget \d$/m,
          /sent piconet DH5 -> AM 2 seqn \d (ACK|NAK) budget \d$/m,
          /sent piconet DH1 -> broadcast seqn 0 NAK budget 1$/m,
          /sent piconet HV3 -> AM 1 /m,
          /received piconet HV3 -> AM 1 /m,
          / flow stop$/m,
          /sent piconet DM1 -> AM 2 seqn \d (ACK|NAK) budget \d LMP PARK pm_addr 1$/m,
          /sent piconet NULL broadcast NAK$/m, // a beacon while 202 is parked
          /sent piconet DM1 -> broadcast seqn 0 NAK budget 1 LMP UNPARK pm_addr 1 am_addr \d$/m,
          /sent piconet DM1 -> AM 1 seqn \d (ACK|NAK) budget \d LMP DETACH$/m,
          /sent piconet POLL -> AM \d/m,
        ]) assert.match(info, want, `triple ${triple}, ${mode}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

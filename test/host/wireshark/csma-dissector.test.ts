// Tests for the CSMA/CA part of the Wireshark dissector (host/wireshark/picolink.lua): a capture of every
// CSMA frame type, natural and padded, built with firmware/mac/csma/frame.ts and written with
// hal/mw/pcap.ts, read by tshark through the dissector; fields, Info texts and malformed frames.
// Skipped with a message when tshark is absent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CsmaFrame } from '../../../firmware/mac/csma/frame.ts';
import { FT_ACK, FT_CTS, emitCtl, emitDataHdr, emitRts, parseCsma } from '../../../firmware/mac/csma/frame.ts';
import { CAP_PROTO } from '../../../hal/mw/pcap.ts';
import { matching, tshark, tsharkVersion, withCapture as shared } from './tshark.ts';
import type { Rec } from './tshark.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the CSMA dissector tests');

// ---------- the capture ----------


const buf = new Uint8Array(64);
/** A DATA frame: header by emitDataHdr, then the payload at the offset it returns. */
function data(retry: boolean, dur: number, ra: number, ta: number, seq: number, dataHdr: number, payload: number[]): number[] {
  const h = emitDataHdr(buf, retry, dur, ra, ta, seq, dataHdr);
  assert.is(h, dataHdr);
  buf.set(payload, h);
  return Array.from(buf.subarray(0, h + payload.length));
}
function ctl(type: number, dur: number, ra: number, onAir: number): number[] {
  return Array.from(buf.subarray(0, emitCtl(buf, type, dur, ra, onAir)));
}
function rts(dur: number, ra: number, ta: number, onAir: number): number[] {
  return Array.from(buf.subarray(0, emitRts(buf, dur, ra, ta, onAir)));
}
const zeros = (n: number): string => '00'.repeat(n);

const natural = data(false, 312, 7, 3, 12, 8, [0xaa, 0xbb]);

/** Well-formed frames, each with the fields and Info text the dissector should give it. */
const GOOD: (Rec & { fields: string; info: string })[] = [
  // fields: type, retry, version, duration, ra, ta, seq, data, padding
  { station: 3, sent: true, frame: natural, fields: '0,0,0,312,7,3,12,aabb,', info: 'station 3 sent csma DATA 3 -> 7 seq 12 dur 312' },
  { station: 7, sent: false, frame: natural, fields: '0,0,0,312,7,3,12,aabb,', info: 'station 7 received csma DATA 3 -> 7 seq 12 dur 312' },
  {
    station: 3, sent: true, frame: data(true, 312, 7, 3, 12, 8, [0xaa, 0xbb]),
    fields: '0,1,0,312,7,3,12,aabb,', info: 'station 3 sent csma DATA 3 -> 7 seq 12 retry dur 312',
  },
  {
    // Padded to 34: the dissector cannot know the padding, so it leads the payload.
    station: 3, sent: true, frame: data(true, 0, 0xffff, 3, 13, 34, [0x01, 0x02]),
    fields: `0,1,0,0,65535,3,13,${zeros(26)}0102,`, info: 'station 3 sent csma DATA 3 -> broadcast seq 13 retry dur 0',
  },
  {
    station: 9, sent: false, frame: data(false, 0xffff, 0xff05, 0x0102, 255, 8, [0x00]),
    fields: '0,0,0,65535,65285,258,255,00,', info: 'station 9 received csma DATA 258 -> group 0xff05 seq 255 dur 65535',
  },
  { station: 7, sent: true, frame: ctl(FT_ACK, 0, 3, 5), fields: '1,0,0,0,3,,,,', info: 'station 7 sent csma ACK -> 3 dur 0' },
  {
    station: 7, sent: true, frame: ctl(FT_ACK, 0, 3, 14),
    fields: `1,0,0,0,3,,,,${zeros(9)}`, info: 'station 7 sent csma ACK -> 3 dur 0',
  },
  { station: 3, sent: true, frame: rts(1234, 7, 3, 7), fields: '2,0,0,1234,7,3,,,', info: 'station 3 sent csma RTS 3 -> 7 dur 1234' },
  {
    station: 3, sent: true, frame: rts(1234, 7, 3, 20),
    fields: `2,0,0,1234,7,3,,,${zeros(13)}`, info: 'station 3 sent csma RTS 3 -> 7 dur 1234',
  },
  { station: 7, sent: true, frame: ctl(FT_CTS, 900, 3, 5), fields: '3,0,0,900,3,,,,', info: 'station 7 sent csma CTS -> 3 dur 900' },
  {
    station: 7, sent: true, frame: ctl(FT_CTS, 900, 3, 14),
    fields: `3,0,0,900,3,,,,${zeros(9)}`, info: 'station 7 sent csma CTS -> 3 dur 900',
  },
];

/** Malformed frames, each with the expert message and the Info text expected. */
const BAD: (Rec & { expert: RegExp; info: string })[] = [
  { station: 3, sent: false, frame: ctl(FT_ACK, 0, 3, 5).slice(0, 4), expert: /ACK frame of 4 bytes, shorter than its 5-byte minimum/, info: 'ACK [malformed: short]' },
  { station: 7, sent: false, frame: rts(1, 7, 3, 7).slice(0, 6), expert: /RTS frame of 6 bytes, shorter than its 7-byte minimum/, info: 'RTS [malformed: short]' },
  { station: 7, sent: false, frame: natural.slice(0, 8), expert: /DATA frame with no payload byte/, info: 'DATA [malformed: no payload]' },
  { station: 7, sent: false, frame: natural.slice(0, 5), expert: /DATA frame of 5 bytes, shorter than its 9-byte minimum/, info: 'DATA [malformed: short]' },
  { station: 3, sent: false, frame: [0x09, 0, 0, 0, 3], expert: /Reserved frame-control bits/, info: 'ACK [malformed: fc 0x09]' }, // bit 3
  { station: 3, sent: false, frame: [0x40, ...natural.slice(1)], expert: /version not 0/, info: 'DATA [malformed: fc 0x40]' }, // version 1
  { station: 3, sent: false, frame: [], expert: /empty/, info: '[malformed: empty]' },
];


const ALL: Rec[] = [...GOOD, ...BAD];

function withCapture(fn: (dir: string, file: string) => void): void {
  shared('csma', ALL, CAP_PROTO.CSMA, fn);
}


const run = TSHARK ? test : test.skip;
const label = TSHARK ?? 'tshark (absent)';

run(`${label}: CSMA fields and Info texts of every frame type`, () => {
  withCapture((dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-c', String(GOOD.length),
      '-e', 'picolink.csma.type', '-e', 'picolink.csma.retry', '-e', 'picolink.csma.version', '-e', 'picolink.csma.duration',
      '-e', 'picolink.csma.ra', '-e', 'picolink.csma.ta', '-e', 'picolink.csma.seq', '-e', 'data.data', '-e', 'picolink.csma.padding']);
    // Booleans print as 1/0 in tshark 4.0 and as True/False in later versions.
    const rows = out.trim().split('\n').map((l) => l.replace(/^(\d),(True|False),/, (_m, t, b) => `${t},${b === 'True' ? 1 : 0},`));
    assert.equal(rows, GOOD.map((g) => g.fields));

    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info', '-c', String(GOOD.length)]);
    assert.equal(info.trim().split('\n'), GOOD.map((g) => g.info));

    const proto = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Protocol', '-c', '1']);
    assert.is(proto.trim(), 'picolink-csma');

    const verbose = tshark(dir, file, ['-V', '-Y', 'frame.number == 4']);
    assert.match(verbose, /Type: DATA \(0\)/);
    assert.match(verbose, /Retry: (True|Set)/);
    assert.match(verbose, /Duration: 0 \(× aDurationUnitUs; 1 µs unless configured\)/);
    assert.match(verbose, /Receiver address: 65535 \(broadcast\)/);
    assert.match(verbose, /Payload: 28 bytes \(includes the padding when the network pads DATA headers\)/);
    assert.match(tshark(dir, file, ['-V', '-Y', 'frame.number == 5']), /Receiver address: 65285 \(group 0xff05\)/);
  });
});

run(`${label}: CSMA display filters`, () => {
  withCapture((dir, file) => {
    assert.equal(matching(dir, file, 'picolink.csma.type == 2 && !_ws.expert'), [8, 9], 'RTS');
    assert.equal(matching(dir, file, 'picolink.csma.retry == 1'), [3, 4]);
    assert.equal(matching(dir, file, 'picolink.csma.ra == 0xffff'), [4]);
    assert.equal(matching(dir, file, 'picolink.csma.padding'), [7, 9, 11]);
  });
});

run(`${label}: malformed CSMA frames are flagged, tshark exits 0`, () => {
  withCapture((dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;',
      '-e', 'frame.number', '-e', '_ws.expert.message', '-e', '_ws.col.Info']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, ALL.length, 'every record is dissected');
    GOOD.forEach((_g, i) => assert.is(rows[i][1], '', `frame ${i + 1} is well-formed`));
    BAD.forEach((b, j) => {
      const r = rows[GOOD.length + j];
      assert.match(r[1], b.expert, `frame ${r[0]}`);
      assert.is(r[2], `station ${b.station} received csma ${b.info}`, `frame ${r[0]}`);
    });

    // The dissector and the stations' parser agree on what is malformed (for unpadded DATA headers).
    const f: CsmaFrame = { type: 0, retry: false, dur: 0, ra: 0, ta: 0, seq: 0, off: 0 };
    ALL.forEach((rec, i) => {
      const accepted = parseCsma(new Uint8Array(rec.frame), rec.frame.length, 8, f);
      assert.is(accepted, rows[i][1] === '', `frame ${i + 1}: parseCsma ${accepted ? 'accepts' : 'rejects'} it`);
    });

    const first = GOOD.length + 1;
    assert.equal(matching(dir, file, 'picolink.csma.short'), [first, first + 1, first + 3, first + 6]);
    assert.equal(matching(dir, file, 'picolink.csma.nopayload'), [first + 2]);
    assert.equal(matching(dir, file, 'picolink.csma.badfc'), [first + 4, first + 5]);
  });
});

test.run();

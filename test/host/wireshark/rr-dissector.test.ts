// Tests for the request-reply part of the Wireshark dissector (host/wireshark/picolink.lua) and for the MAC
// service byte: captures of rr messages built with firmware/rr/frame.ts (CBOR bodies by firmware/codec/cbor.ts),
// and of CSMA DATA frames and piconet ACL packets whose payload leads with a service byte, written with
// hal/mw/pcap.ts and read by tshark through the dissector; fields, Info texts, malformed messages (the
// dissector and parseRr agree on which are refused), the service_byte preference.
// Skipped with a message when tshark is absent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cborEncode } from '../../../firmware/codec/cbor.ts';
import { emitTelemetry } from '../../../firmware/codec/telemetry.ts';
import { emitDataHdr } from '../../../firmware/mac/csma/frame.ts';
import type { PiconetHeader } from '../../../firmware/mac/piconet/frame.ts';
import { LMP_SCO, PT_DH1, PT_DH5, PT_DM1, PT_HV3, accessCode, emitHeader } from '../../../firmware/mac/piconet/frame.ts';
import type { RrHeader } from '../../../firmware/rr/frame.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA, RR_ACK, RR_ERROR, RR_REPLY, RR_REQUEST, emitRr, parseRr } from '../../../firmware/rr/frame.ts';
import { RR_E_BAD_ARGS, RR_E_BUSY, RR_E_HANDLER, RR_E_UNKNOWN_OP } from '../../../firmware/rr/rr.ts';
import { CAP_PROTO } from '../../../hal/mw/pcap.ts';
import { below, xoshiro } from '../../../hal/prng.ts';
import { matching, tshark, tsharkHasProtocol, tsharkVersion, withCapture, writeCapture } from './tshark.ts';
import type { Rec } from './tshark.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the request-reply dissector tests');
const CBOR = TSHARK !== null && tsharkHasProtocol('cbor');
if (TSHARK && !CBOR) console.log('  note: this tshark has no CBOR dissector; rr bodies are checked as bytes only');

// ---------- building messages ----------

const buf = new Uint8Array(64);

/** An rr message: header by emitRr (RR, no flags, zeros unless said), then `body` CBOR-encoded when given. */
function rr(h: Partial<RrHeader> & { type: number }, body?: unknown): number[] {
  const full: RrHeader = { proto: PROTO_RR, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0, ...h };
  let n = emitRr(buf, full);
  assert.is(n, h.type === RR_REQUEST || h.type === RR_ACK ? 8 : 4);
  if (body !== undefined) {
    n = cborEncode(body, buf, n);
    assert.ok(n > 0, 'body encodes');
  }
  return Array.from(buf.subarray(0, n));
}
const hex = (a: number[]): string => a.map((x) => x.toString(16).padStart(2, '0')).join('');
/** The body of a message as tshark prints picolink.rr.body: after 8 bytes for REQUEST and ACK (even types), else 4. */
const bodyHex = (m: number[]): string => hex(m.slice((m[0] & 1) === 0 ? 8 : 4));
/** Booleans print as 1/0 in tshark 4.0 and as True/False in later versions. */
const bool01 = (s: string): string => s.replace(/\bTrue\b/g, '1').replace(/\bFalse\b/g, '0');

const REQ = rr({ type: RR_REQUEST, amo: true, id: 513, op: 7, ack: 500, mask: 0x0005 }, { t: 21 });
const REP = rr({ type: RR_REPLY, amo: true, id: 513 }, 42);

/** Well-formed messages: fields (type, proto, retry, amo, id, op, code, ack, mask, body) and Info after "rr ". */
const GOOD: (Rec & { fields: string; info: string })[] = [
  { station: 3, sent: true, frame: REQ, fields: `0,1,0,1,513,7,,500,0x0005,${bodyHex(REQ)}`, info: 'REQUEST id 513 op 7 RR at-most-once' },
  {
    station: 3, sent: true, frame: rr({ type: RR_REQUEST, proto: PROTO_R, id: 1 }, [1, 2]),
    fields: '0,0,0,0,1,0,,0,0x0000,820102', info: 'REQUEST id 1 op 0 R',
  },
  {
    station: 3, sent: true, frame: rr({ type: RR_REQUEST, proto: PROTO_RRA, retry: true, amo: true, id: 65535, op: 255, ack: 65534, mask: 0x8001 }, 'x'),
    fields: '0,2,1,1,65535,255,,65534,0x8001,6178', info: 'REQUEST id 65535 op 255 RRA retry at-most-once',
  },
  {
    // At-least-once: a retry without the at-most-once flag; no arguments.
    station: 3, sent: true, frame: rr({ type: RR_REQUEST, retry: true, id: 2, op: 3, ack: 1 }),
    fields: '0,1,1,0,2,3,,1,0x0000,', info: 'REQUEST id 2 op 3 RR retry',
  },
  { station: 9, sent: true, frame: REP, fields: `1,1,0,1,513,,,,,${bodyHex(REP)}`, info: 'REPLY id 513 RR at-most-once' },
  { station: 9, sent: true, frame: rr({ type: RR_REPLY, proto: PROTO_RRA, id: 7 }), fields: '1,2,0,0,7,,,,,', info: 'REPLY id 7 RRA' },
  {
    station: 3, sent: true, frame: rr({ type: RR_ACK, proto: PROTO_RRA, ack: 512, mask: 0x0003 }),
    fields: '2,2,0,0,0,,,512,0x0003,', info: 'ACK up to 512 mask 0x0003',
  },
  {
    station: 9, sent: true, frame: rr({ type: RR_ERROR, id: 513, op: RR_E_UNKNOWN_OP }),
    fields: '3,1,0,0,513,,1,,,', info: 'ERROR id 513 unknown operation RR',
  },
  {
    station: 9, sent: true, frame: rr({ type: RR_ERROR, id: 513, op: RR_E_BAD_ARGS }, 'bad'),
    fields: '3,1,0,0,513,,2,,,63626164', info: 'ERROR id 513 malformed arguments RR',
  },
  {
    station: 9, sent: true, frame: rr({ type: RR_ERROR, proto: PROTO_RRA, id: 514, op: RR_E_HANDLER }),
    fields: '3,2,0,0,514,,3,,,', info: 'ERROR id 514 handler failure RRA',
  },
  {
    station: 9, sent: true, frame: rr({ type: RR_ERROR, amo: true, id: 513, op: RR_E_BUSY }),
    fields: '3,1,0,1,513,,4,,,', info: 'ERROR id 513 busy RR at-most-once',
  },
  {
    // A code this version does not define: shown by number, not flagged (parseRr takes it).
    station: 9, sent: true, frame: rr({ type: RR_ERROR, proto: PROTO_R, id: 5, op: 9 }),
    fields: '3,0,0,0,5,,9,,,', info: 'ERROR id 5 code 9 R',
  },
];

const withKind = (m: number[], k: number): number[] => [k, ...m.slice(1)];
const ACK = GOOD[6].frame;

/** Malformed messages: the expert message expected and the Info text after "rr". */
const BAD: (Rec & { expert: RegExp; info: string })[] = [
  { station: 4, sent: false, frame: [], expert: /rr message of 0 bytes, shorter than its 4-byte header/, info: ' [malformed: short]' },
  { station: 4, sent: false, frame: REP.slice(0, 3), expert: /rr message of 3 bytes, shorter than its 4-byte header/, info: ' [malformed: short]' },
  { station: 4, sent: false, frame: REQ.slice(0, 7), expert: /rr REQUEST of 7 bytes, shorter than its 8-byte header/, info: ' REQUEST id 513 [malformed: short]' },
  { station: 4, sent: false, frame: ACK.slice(0, 4), expert: /rr ACK of 4 bytes, shorter than its 8-byte header/, info: ' ACK id 0 [malformed: short]' },
  {
    station: 4, sent: false, frame: withKind(REQ, REQ[0] | 0x40),
    expert: /Kind bits 6-7 set \(version not 0\)/, info: ` [malformed: kind 0x${(REQ[0] | 0x40).toString(16)}]`,
  },
  {
    station: 4, sent: false, frame: withKind(REP, REP[0] | 0x80),
    expert: /Kind bits 6-7 set \(version not 0\)/, info: ` [malformed: kind 0x${(REP[0] | 0x80).toString(16)}]`,
  },
  {
    station: 4, sent: false, frame: rr({ type: RR_REQUEST, proto: 3, id: 513, op: 7 }),
    expert: /Protocol 3 is invalid/, info: ' REQUEST id 513 op 7 proto 3 [malformed: protocol 3]',
  },
  {
    station: 4, sent: false, frame: [...ACK, 0xa0],
    expert: /ACK with a body of 1 bytes/, info: ' ACK up to 512 mask 0x0003 [malformed: ACK body]',
  },
];
/** The experts of messages parseRr refuses (the ACK body is a warning: parseRr takes that message). */
const REFUSED = /shorter than its \d-byte header|Kind bits 6-7 set|Protocol 3 is invalid/;

const ALL: Rec[] = [...GOOD, ...BAD];
const run = TSHARK ? test : test.skip;
const label = TSHARK ?? 'tshark (absent)';
const sr = (r: Rec): string => `station ${r.station} ${r.sent ? 'sent' : 'received'}`;

run(`${label}: rr fields and Info texts of every type, protocol, flag and error code`, () => {
  withCapture('rr', ALL, CAP_PROTO.RR, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-c', String(GOOD.length),
      ...['type', 'proto', 'retry', 'amo', 'id', 'op', 'code', 'ack', 'mask', 'body'].flatMap((x) => ['-e', `picolink.rr.${x}`])]);
    assert.equal(out.trim().split('\n').map(bool01), GOOD.map((g) => g.fields));

    const info = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info', '-c', String(GOOD.length)]);
    assert.equal(info.trim().split('\n'), GOOD.map((g) => `picolink-rr|${sr(g)} rr ${g.info}`), 'the CBOR dissector leaves the columns alone');

    const v = tshark(dir, file, ['-V', '-Y', 'frame.number == 1']);
    assert.match(v, /Type: REQUEST \(0\)/);
    assert.match(v, /Protocol: RR \(1\)/);
    assert.match(v, /Retry: (False|Not set)/);
    assert.match(v, /At-most-once: (True|Set)/);
    assert.match(v, /Version: 0/);
    assert.match(v, /Request id: 513/);
    assert.match(v, /Operation: 7/);
    assert.match(v, /Acknowledged up to: 500/);
    assert.match(v, /Acknowledgement mask: 0x0005 \(also ids 501, 503\)/);
    assert.match(v, /picolink request-reply: REQUEST id 513 op 7 RR at-most-once/);
    assert.match(tshark(dir, file, ['-V', '-Y', 'frame.number == 11']), /Error code: busy \(4\)/);
    assert.match(tshark(dir, file, ['-V', '-Y', 'frame.number == 7']), /Unused \(0\): 0/);
    if (CBOR) {
      // The arguments {t: 21} and the result 42, decoded by Wireshark's CBOR dissector.
      assert.match(v, /Concise Binary Object Representation[\s\S]*Text String: t[\s\S]*Unsigned Integer: 21/);
      assert.match(tshark(dir, file, ['-V', '-Y', 'frame.number == 5']), /Concise Binary Object Representation[\s\S]*Unsigned Integer: 42/);
    }
  });
});

run(`${label}: rr display filters`, () => {
  withCapture('rr', ALL, CAP_PROTO.RR, (dir, file) => {
    const isGood = (n: number): boolean => n <= GOOD.length;
    assert.equal(matching(dir, file, 'picolink.rr.type == 3'), [8, 9, 10, 11, 12], 'ERROR');
    assert.equal(matching(dir, file, 'picolink.rr.proto == 2').filter(isGood), [3, 6, 7, 10], 'RRA');
    assert.equal(matching(dir, file, 'picolink.rr.amo == 1').filter(isGood), [1, 3, 5, 11]);
    assert.equal(matching(dir, file, 'picolink.rr.retry == 1').filter(isGood), [3, 4]);
    assert.equal(matching(dir, file, 'picolink.rr.code == 4'), [11]);
    assert.equal(matching(dir, file, 'picolink.rr.id == 513 && picolink.rr.type == 0 && !_ws.expert'), [1]);
    assert.equal(matching(dir, file, 'picolink.rr.body').filter(isGood), [1, 2, 3, 5, 9]);
  });
});

run(`${label}: malformed rr messages are flagged, tshark exits 0; refusals agree with parseRr`, () => {
  withCapture('rr', ALL, CAP_PROTO.RR, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;',
      '-e', 'frame.number', '-e', '_ws.expert.message', '-e', '_ws.col.Info']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, ALL.length, 'every record is dissected');
    GOOD.forEach((_g, i) => assert.is(rows[i][1], '', `frame ${i + 1} is well-formed`));
    BAD.forEach((b, j) => {
      const r = rows[GOOD.length + j];
      assert.match(r[1], b.expert, `frame ${r[0]}`);
      assert.is(r[2], `${sr(b)} rr${b.info}`, `frame ${r[0]}`);
    });

    const h: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
    ALL.forEach((rec, i) => {
      const accepted = parseRr(new Uint8Array(rec.frame), rec.frame.length, h);
      assert.is(accepted, !REFUSED.test(rows[i][1]), `frame ${i + 1}: parseRr ${accepted ? 'accepts' : 'rejects'} it`);
    });

    const first = GOOD.length + 1;
    assert.equal(matching(dir, file, 'picolink.rr.short'), [first, first + 1, first + 2, first + 3]);
    assert.equal(matching(dir, file, 'picolink.rr.reserved.set'), [first + 4, first + 5]);
    assert.equal(matching(dir, file, 'picolink.rr.badproto'), [first + 6]);
    assert.equal(matching(dir, file, 'picolink.rr.ackbody'), [first + 7]);
    assert.equal(matching(dir, file, '_ws.malformed'), BAD.map((_b, j) => first + j));
    assert.not.match(tshark(dir, file, ['-V']), /Lua Error|Dissector bug|Malformed Packet/, 'no script error or exception anywhere');
  });
});

run(`${label}: a truncated CBOR body is noted, the columns stay the dissector's`, () => {
  if (!CBOR) { console.log('  skip: no CBOR dissector in this tshark'); return; }
  const cut = REP.slice(0, 4).concat([0xa1]); // a map of one pair, with neither key nor value
  withCapture('rr-cbor', [{ station: 9, sent: true, frame: cut }], CAP_PROTO.RR, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info', '-e', 'picolink.rr.body']);
    assert.is(out.trim(), 'picolink-rr|station 9 sent rr REPLY id 513 RR at-most-once [malformed: CBOR]|a1');
    assert.equal(matching(dir, file, '_ws.malformed'), [1]);
  });
});

run(`${label}: 3 000 random rr messages: no script error, refusals agree with parseRr`, () => {
  const rng = xoshiro(42);
  const recs: Rec[] = [];
  for (let i = 0; i < 3000; i++) {
    const frame = Array.from({ length: below(rng, 21) }, () => below(rng, 256));
    // Most get a version-0 kind byte, so that the header and body decoders are reached too.
    if (frame.length > 0 && below(rng, 4) !== 0) frame[0] &= 0x3f;
    recs.push({ station: below(rng, 0x10000), sent: below(rng, 2) === 1, frame });
  }
  const dir = mkdtempSync(join(tmpdir(), 'picolink-rr-'));
  try {
    const file = join(dir, 'random.pcap');
    writeCapture(file, recs, CAP_PROTO.RR);
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;', '-e', 'frame.number', '-e', '_ws.expert.message']);
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, recs.length, 'every record is dissected');
    const h: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
    let accepted = 0;
    recs.forEach((rec, i) => {
      assert.not.match(rows[i][1], /Lua Error|Dissector bug/, `frame ${i + 1}`);
      const ok = parseRr(new Uint8Array(rec.frame), rec.frame.length, h);
      if (ok) accepted++;
      assert.is(ok, !REFUSED.test(rows[i][1]), `frame ${i + 1} (${hex(rec.frame)}): parseRr ${ok ? 'accepts' : 'rejects'} it`);
    });
    assert.ok(accepted > 1000, `enough sound messages to reach the body decoder (${accepted} of 3000)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- the service byte in MAC payloads ----------

/** A CSMA DATA frame 3 -> 7, seq 12, dur 312, unpadded, with this payload. */
function data(payload: number[]): number[] {
  const b = new Uint8Array(64);
  const h = emitDataHdr(b, false, 312, 7, 3, 12, 8);
  assert.is(h, 8);
  b.set(payload, h);
  return Array.from(b.subarray(0, h + payload.length));
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

/** CSMA DATA frames: payload, then the service, rr id, telemetry src and data expected, and the Info after "dur 312". */
const CSMA: { payload: number[]; fields: string; info: string }[] = [
  { payload: [CAP_PROTO.RR, ...REQ], fields: '4,513,,', info: ' rr REQUEST id 513 op 7 RR at-most-once' },
  { payload: [CAP_PROTO.RR, ...REP], fields: '4,513,,', info: ' rr REPLY id 513 RR at-most-once' },
  { payload: [CAP_PROTO.TELEMETRY, ...TM], fields: '1,,7,', info: ' telemetry src=7 seq=1' },
  // Not a service number: the payload is data, as before the convention.
  { payload: [0x09, 0xaa], fields: ',,,09aa', info: '' },
  // 0: an application's own bytes, even when a service number follows.
  { payload: [0x00, CAP_PROTO.RR, ...REP], fields: `,,,00${hex([CAP_PROTO.RR, ...REP])}`, info: '' },
  // 2 and 3 are MACs, not services.
  { payload: [CAP_PROTO.CSMA, 0x00], fields: ',,,0200', info: '' },
  { payload: [CAP_PROTO.PICONET, 0x00], fields: ',,,0300', info: '' },
  // A lone service byte: the protocol gets an empty message and calls it short.
  { payload: [CAP_PROTO.RR], fields: '4,,,', info: ' rr [malformed: short]' },
];
const CSMA_RECS: Rec[] = CSMA.map((c) => ({ station: 3, sent: true, frame: data(c.payload) }));
const CSMA_FIELDS = ['-e', 'picolink.service', '-e', 'picolink.rr.id', '-e', 'picolink.telemetry.src', '-e', 'data.data'];

run(`${label}: CSMA DATA payloads: a service byte hands the rest to rr or telemetry, anything else is data`, () => {
  withCapture('rr-csma', CSMA_RECS, CAP_PROTO.CSMA, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', ...CSMA_FIELDS]);
    assert.equal(out.trim().split('\n'), CSMA.map((c) => c.fields));
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']);
    assert.equal(info.trim().split('\n'), CSMA.map((c) => `station 3 sent csma DATA 3 -> 7 seq 12 dur 312${c.info}`));
    const proto = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Protocol', '-c', '4']);
    assert.equal(proto.trim().split('\n'), ['picolink-rr', 'picolink-rr', 'picolink-telemetry', 'picolink-csma']);
    const v = tshark(dir, file, ['-V', '-Y', 'frame.number == 1']);
    assert.match(v, /Service: rr \(4\)\n[\s\S]*picolink request-reply: REQUEST id 513 op 7 RR at-most-once/);
    assert.match(tshark(dir, file, ['-V', '-Y', 'frame.number == 3']), /Service: telemetry \(1\)/);
    assert.equal(matching(dir, file, '_ws.expert'), [8], 'only the lone service byte is flagged');
    assert.equal(matching(dir, file, 'picolink.rr.short'), [8]);
  });
});

run(`${label}: the service_byte preference off shows every payload as data`, () => {
  withCapture('rr-csma', CSMA_RECS, CAP_PROTO.CSMA, (dir, file) => {
    const off = ['-o', 'picolink.service_byte:FALSE'];
    const out = tshark(dir, file, [...off, '-T', 'fields', '-E', 'separator=,', ...CSMA_FIELDS]);
    assert.equal(out.trim().split('\n'), CSMA.map((c) => `,,,${hex(c.payload)}`));
    const info = tshark(dir, file, [...off, '-T', 'fields', '-e', '_ws.col.Info']);
    assert.equal(info.trim().split('\n'), CSMA.map(() => 'station 3 sent csma DATA 3 -> 7 seq 12 dur 312'));
    assert.equal(matching(dir, file, '_ws.expert', off), []);
    // The piconet preference still resolves with the picolink module's own preference beside it.
    assert.equal(matching(dir, file, 'picolink.service', ['-o', 'picolink.service_byte:TRUE', '-o', 'picolink.piconet.header:triple']), [1, 2, 3, 8]);
  });
});

run(`${label}: piconet ACL payloads take a service byte; LMP and SCO payloads do not`, () => {
  const AC = accessCode(0x0102);
  const pkt = (h: Partial<PiconetHeader> & { type: number }, payload: number[]): number[] => {
    const b = new Uint8Array(64);
    const full: PiconetHeader = { ac: AC, am: 3, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0, ...h };
    const n = emitHeader(b, full, false);
    assert.is(n, 5);
    b.set(payload, n);
    return Array.from(b.subarray(0, n + payload.length));
  };
  const recs: Rec[] = [
    { station: 1, sent: true, frame: pkt({ type: PT_DH1 }, [CAP_PROTO.RR, ...REP]) },
    { station: 1, sent: true, frame: pkt({ type: PT_DH5, seqn: 1, budget: 5 }, [CAP_PROTO.TELEMETRY, ...TM]) },
    { station: 1, sent: true, frame: pkt({ type: PT_DM1 }, [LMP_SCO, 6, 2]) }, // opcode 4 is not a service
    { station: 1, sent: true, frame: pkt({ am: 1, type: PT_HV3 }, [CAP_PROTO.RR, ...REP]) }, // voice bytes
  ];
  withCapture('rr-piconet', recs, CAP_PROTO.PICONET, (dir, file) => {
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']);
    assert.equal(info.trim().split('\n'), [
      'station 1 sent piconet DH1 -> AM 3 seqn 0 NAK budget 1 rr REPLY id 513 RR at-most-once',
      'station 1 sent piconet DH5 -> AM 3 seqn 1 NAK budget 5 telemetry src=7 seq=1',
      'station 1 sent piconet DM1 -> AM 3 seqn 0 NAK budget 1 LMP SCO interval 6 offset 2',
      'station 1 sent piconet HV3 -> AM 1 seqn 0 NAK budget 1',
    ]);
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-e', 'picolink.service', '-e', 'picolink.rr.id',
      '-e', 'picolink.telemetry.src', '-e', 'picolink.piconet.sco']);
    assert.equal(out.trim().split('\n'), ['4,513,,', '1,,7,', ',,,', `,,,${hex([CAP_PROTO.RR, ...REP])}`]);
    assert.equal(matching(dir, file, '_ws.expert'), []);
    const off = tshark(dir, file, ['-o', 'picolink.service_byte:FALSE', '-T', 'fields', '-e', 'data.data', '-c', '1']);
    assert.is(off.trim(), hex([CAP_PROTO.RR, ...REP]));
  });
});

test.run();

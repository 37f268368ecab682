// The Psync part of the Wireshark dissector (host/wireshark/picolink.lua): messages built by
// firmware/psync/frame.ts (an SC, an AN with two predecessors and data, an ACK, a resent AN, a named
// RTX, a short one, an SC notice), read by tshark field by field; and `picolink sim conversation --pcap`, whose
// capture tshark reads as SC and AN messages with the hosts as stations, sent and received. Skipped
// with a message when tshark is absent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAP_PROTO } from '../../../hal/mw/pcap.ts';
import { PS_AN, PS_RTX, PS_SC, emitPs, psHeader } from '../../../firmware/psync/frame.ts';
import { run as cli } from '../../../host/cli/main.ts';
import { matching, tshark, tsharkVersion, withCapture } from './tshark.ts';
import type { Rec } from './tshark.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the Psync dissector tests');
const run = TSHARK ? test : test.skip;

function msg(set: (h: ReturnType<typeof psHeader>) => void, data: number[] = []): number[] {
  const h = psHeader();
  h.cidAddr = 1;
  h.cidNum = 500;
  set(h);
  const b = new Uint8Array(64);
  const n = emitPs(b, h);
  assert.ok(n > 0);
  b.set(data, n);
  return Array.from(b.subarray(0, n + data.length));
}

run('Psync messages: kind, conversation, participants, predecessors, data and the Info text', () => {
  const recs: Rec[] = [
    { station: 1, sent: true, frame: msg((h) => { h.type = PS_SC; h.n = 3; h.addrs.set([1, 7, 9]); h.seq = 500; }, [0xaa]) },
    { station: 7, sent: true, frame: msg((h) => { h.type = PS_AN; h.idx = 1; h.seq = 4; h.mask = 0b101; h.seqs[0] = 501; h.seqs[2] = 3; }, [1, 2]) },
    { station: 9, sent: true, frame: msg((h) => { h.type = PS_AN; h.idx = 2; h.seq = 5; h.mask = 0b10; h.seqs[1] = 4; }) },
    { station: 9, sent: true, frame: msg((h) => { h.type = PS_AN; h.idx = 2; h.seq = 5; h.resent = true; h.mask = 0b10; h.seqs[1] = 4; }) },
    { station: 7, sent: true, frame: msg((h) => { h.type = PS_RTX; h.named = true; h.idx = 2; h.seq = 6; h.mask = 0b1; h.seqs[0] = 501; }) },
    { station: 7, sent: true, frame: [0x01, 0x00, 0x01, 0x01] },
    { station: 9, sent: true, frame: msg((h) => { h.type = PS_SC; h.named = true; h.n = 3; h.addrs.set([1, 7, 9]); h.seq = 500; }) },
  ];
  withCapture('psync', recs, CAP_PROTO.PSYNC, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=;', '-e', 'picolink.psync.type', '-e', 'picolink.psync.cid.addr', '-e', 'picolink.psync.cid.seq', '-e', 'picolink.psync.pid', '-e', 'picolink.psync.seq', '-e', 'picolink.psync.pseq', '-e', 'picolink.psync.data']);
    assert.equal(out.trim().split('\n'), ['0;1;500;7,9;;;aa', '1;1;500;;4;501,3;0102', '1;1;500;;5;4;', '1;1;500;;5;4;', '2;1;500;;6;501;', ';;;;;;', '0;1;500;7,9;;;']);
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']).trim().split('\n');
    assert.match(info[0], /SC conv 1:500, 3 participants \(7,9\), 1 data bytes$/);
    assert.match(info[1], /AN conv 1:500 from #1 seq 4 after \[0:501 2:3\], 2 data bytes$/);
    assert.match(info[2], /AN conv 1:500 from #2 seq 5 after \[1:4\], ACK$/);
    assert.match(info[3], /RESENT, ACK$/);
    assert.match(info[4], /RTX conv 1:500 #2 seq 6, frontier \[0:501\]$/);
    assert.match(info[5], /\[malformed: short\]$/);
    assert.equal(matching(dir, file, 'picolink.psync.short'), [6]);
    assert.match(info[6], /SC NOTICE conv 1:500, 3 participants \(7,9\)/);
  });
});

run('sim conversation --pcap: every host\'s Psync messages, sent and received, for Wireshark', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-convpcap-'));
  const file = join(dir, 'conv.pcap');
  let out = '';
  const code = await cli(['sim', 'conversation', '--nodes', '3', '--messages', '4', '--loss', '10%', '--seed', '2', '--pcap', file], { out: (s) => { out += s; }, err: () => {} });
  assert.is(code, 0, out);
  assert.match(out, new RegExp(`capture written to ${file}`));
  const rows = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-e', 'picolink.station', '-e', 'picolink.dir', '-e', 'picolink.psync.type']).trim().split('\n');
  const types = new Set(rows.map((r) => r.split(',')[2]));
  assert.ok(types.has('0') && types.has('1'), `SC and AN messages: ${[...types]}`);
  const stations = new Set(rows.map((r) => r.split(',')[0]));
  assert.equal([...stations].sort(), ['1', '2', '3']);
  assert.ok(rows.some((r) => r.split(',')[1] === '1') && rows.some((r) => r.split(',')[1] === '0'), 'sent and received');
});

test.run();

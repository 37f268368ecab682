// The device group part of the Wireshark dissector (host/wireshark/picolink.lua): CSMA DATA frames to a
// group address whose payload is service byte 6 and a message built by firmware/services/group.ts (sent
// through a recording MAC), read by tshark: origin, seq and data fields, the Info text, and a message
// shorter than its header flagged. Skipped with a message when tshark is absent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emitDataHdr } from '../../../firmware/mac/csma/frame.ts';
import { TX_OK } from '../../../hal/link.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { CAP_PROTO } from '../../../hal/mw/pcap.ts';
import { SVC_GROUP } from '../../../firmware/mac/ports.ts';
import { groupAddr, groupService } from '../../../firmware/services/group.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { matching, tshark, tsharkVersion, withCapture } from './tshark.ts';
import type { Rec } from './tshark.ts';

const TSHARK = tsharkVersion();
if (!TSHARK) console.log('  skip: tshark not found on PATH; install Wireshark\'s tshark to run the group dissector tests');
const run = TSHARK ? test : test.skip;

/** What groupService(mac) puts in MAC payloads, with the destination it chose. */
function groupMessages(): { dst: number; payload: number[] }[] {
  const out: { dst: number; payload: number[] }[] = [];
  const mac: Mac = {
    caps: { mtu: 23, carrierSense: true },
    addr: 2,
    send(dst, p, len) { out.push({ dst, payload: [SVC_GROUP, ...p.subarray(0, len)] }); return TX_OK; },
    onReceive() {},
    onSent() {},
    queued: () => 0,
  };
  const g = groupService(mac, xoshiro(1));
  assert.is(g.multicast(1, new Uint8Array([0xa1, 0x02, 0x03]), 3), TX_OK);
  assert.is(g.multicast(7, new Uint8Array([]), 0), TX_OK);
  return out;
}

/** A CSMA DATA frame 2 -> dst, seq 0, dur 0, unpadded, with this payload. */
function data(dst: number, payload: number[]): number[] {
  const b = new Uint8Array(64);
  const h = emitDataHdr(b, false, 0, dst, 2, 0, 8);
  b.set(payload, h);
  return Array.from(b.subarray(0, h + payload.length));
}

run('group messages inside CSMA DATA: origin, seq, data and the Info text; a short one is flagged', () => {
  const msgs = groupMessages();
  assert.equal(msgs.map((m) => m.dst), [groupAddr(1), groupAddr(7)]);
  const seq0 = (msgs[0].payload[3] << 8) | msgs[0].payload[4];
  const seq1 = (msgs[1].payload[3] << 8) | msgs[1].payload[4];
  assert.is(seq1, (seq0 + 1) & 0xffff, 'one sequence per origin');
  const recs: Rec[] = [
    ...msgs.map((m) => ({ station: 2, sent: true, frame: data(m.dst, m.payload) })),
    { station: 2, sent: true, frame: data(groupAddr(1), [SVC_GROUP, 0x00, 0x02, 0x01]) },
  ];
  withCapture('group', recs, CAP_PROTO.CSMA, (dir, file) => {
    const out = tshark(dir, file, ['-T', 'fields', '-E', 'separator=,', '-e', 'picolink.service', '-e', 'picolink.group.origin', '-e', 'picolink.group.seq', '-e', 'picolink.group.data']);
    assert.equal(out.trim().split('\n'), [`6,2,${seq0},a10203`, `6,2,${seq1},`, '6,,,']);
    const info = tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Info']).trim().split('\n');
    assert.match(info[0], new RegExp(`csma DATA 2 -> group 0xff01 .* group from 2 seq ${seq0}, 3 bytes$`));
    assert.match(info[1], new RegExp(`group from 2 seq ${seq1}, 0 bytes$`));
    assert.match(info[2], /\[malformed: short\]$/);
    assert.equal(matching(dir, file, 'picolink.group.short'), [3]);
    assert.equal(tshark(dir, file, ['-T', 'fields', '-e', '_ws.col.Protocol']).trim().split('\n'), ['picolink-group', 'picolink-group', 'picolink-group']);
  });
});

test.run();

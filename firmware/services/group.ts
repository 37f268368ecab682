// Device groups: a message multicast to a group reaches every node that joined the group's MAC
// address (0xFF00 + group, group 0..254; 0xFFFF stays broadcast), on the SVC_GROUP service port. The
// bridge (host/bridge/groups.ts) carries group messages between the device network and an IP
// multicast group, so one header field names the node that first sent a message and another numbers
// it: whoever carries a message keeps both, and a receiver that already has (origin, seq) drops the
// copy. That is how several bridges on one group make neither loops nor duplicates.
//
//   offset  field   size  meaning
//   0       origin  u16   the node that first multicast the message
//   2       seq     u16   the origin's message number; it starts at a random value, so that a node
//                         that restarted is not taken for a copy of its own old messages
//   4       data    ...   the application's bytes (CBOR by convention: the bridge decodes them)
//
// Board code: a transmit and a receive buffer and a ring of the last GROUP_SEEN (origin, seq) pairs, allocated at
// creation; nothing per message.

import type { Mac, MacRxInfo } from '../mac/mac.ts';
import { ADDR_BROADCAST, ADDR_GROUP_FIRST } from '../mac/mac.ts';
import type { Rng } from '../../hal/rng.ts';
import { TX_ERR } from '../../hal/link.ts';

export const GROUP_HDR = 4;
/** (origin, seq) pairs remembered to drop copies. */
export const GROUP_SEEN = 16;
/** The MAC address of group g (0..254). */
export function groupAddr(g: number): number {
  return ADDR_GROUP_FIRST + g;
}

export type GroupFn = (group: number, origin: number, seq: number, data: Uint8Array, len: number) => void;

export interface GroupStats {
  sent: number;
  received: number;
  /** Copies of messages already received (through another bridge or path), dropped. */
  duplicates: number;
  /** Frames shorter than the header, or not sent to a group address. */
  malformed: number;
}

export interface GroupService {
  readonly stats: GroupStats;
  /** Multicast data[0..len) to group g as this node's next message: a TX_* status from the MAC. */
  multicast(g: number, data: Uint8Array, len: number): number;
  /** Multicast a message that another node first sent, keeping its origin and number (bridges). */
  carry(g: number, origin: number, seq: number, data: Uint8Array, len: number): number;
  /** Messages to groups this node joined (the MAC's join), copies removed; data is valid during the call. */
  onMessage(fn: GroupFn | null): void;
  /** Remember (origin, seq) as seen: a copy arriving later is dropped. True when it was new. */
  mark(origin: number, seq: number): boolean;
}

export function groupService(mac: Mac, rng: Rng): GroupService {
  const tx = new Uint8Array(mac.caps.mtu);
  const rx = new Uint8Array(mac.caps.mtu);
  const seen = new Uint32Array(GROUP_SEEN);
  let seenAt = 0;
  let seenCount = 0;
  let seq = rng.u32() & 0xffff;
  let fn: GroupFn | null = null;
  const stats: GroupStats = { sent: 0, received: 0, duplicates: 0, malformed: 0 };

  function mark(origin: number, s: number): boolean {
    const key = ((origin & 0xffff) * 0x10000 + (s & 0xffff)) >>> 0;
    for (let i = 0; i < seenCount; i++) if (seen[i] === key) return false;
    seen[seenAt] = key;
    seenAt = (seenAt + 1) % GROUP_SEEN;
    if (seenCount < GROUP_SEEN) seenCount++;
    return true;
  }

  function carry(g: number, origin: number, s: number, data: Uint8Array, len: number): number {
    if (!(g >= 0 && g <= 254) || !(len >= 0 && len + GROUP_HDR <= tx.length) || len > data.length) return TX_ERR;
    tx[0] = (origin >>> 8) & 0xff;
    tx[1] = origin & 0xff;
    tx[2] = (s >>> 8) & 0xff;
    tx[3] = s & 0xff;
    for (let i = 0; i < len; i++) tx[GROUP_HDR + i] = data[i];
    mark(origin, s);
    const r = mac.send(groupAddr(g), tx, GROUP_HDR + len);
    if (r === 0) stats.sent++;
    return r;
  }

  mac.onReceive(function (p: Uint8Array, len: number, info: MacRxInfo) {
    if (len < GROUP_HDR || info.dst < ADDR_GROUP_FIRST || info.dst === ADDR_BROADCAST) {
      stats.malformed++;
      return;
    }
    const origin = (p[0] << 8) | p[1];
    const s = (p[2] << 8) | p[3];
    if (origin === mac.addr || !mark(origin, s)) {
      stats.duplicates++;
      return;
    }
    stats.received++;
    for (let i = GROUP_HDR; i < len; i++) rx[i - GROUP_HDR] = p[i];
    if (fn) fn(info.dst - ADDR_GROUP_FIRST, origin, s, rx, len - GROUP_HDR);
  });

  return {
    stats: stats,
    multicast(g: number, data: Uint8Array, len: number): number {
      const r = carry(g, mac.addr, seq, data, len);
      if (r === 0) seq = (seq + 1) & 0xffff;
      return r;
    },
    carry: carry,
    onMessage(f: GroupFn | null): void {
      fn = f;
    },
    mark: mark,
  };
}

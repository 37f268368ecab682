// The raw MAC: addressed datagrams straight onto a Link, unacknowledged and never retried (Contiki's
// nullmac; what UDP is to IP). Frames are [dst u16][src u16][payload]. Useful where the layer above
// recovers losses itself (request-reply over a lossy link in tests, an IP-like service), and as the
// smallest MAC on a board. Frames to a group address (0xFF00..0xFFFE) arrive once the group is joined.
// Board code: one transmit buffer and a one-slot wait queue, nothing per frame.

import type { Link, RxInfo } from '../../hal/link.ts';
import { TX_ERR, TX_OK, TX_QUEUE_FULL } from '../../hal/link.ts';
import type { Mac, MacCaps, MacRxInfo } from './mac.ts';
import { ADDR_BROADCAST, groupSet } from './mac.ts';
import type { GroupMember } from './mac.ts';
import { handUp } from './deliver.ts';
import { frameQueue } from '../queue.ts';

const HDR = 4;

/** Group addresses one raw MAC may join at most. */
export const RAW_MAX_GROUPS = 8;

export interface RawMac extends Mac, GroupMember {
  readonly stats: { sent: number; received: number; notForUs: number; malformed: number };
}

export function rawMac(link: Link, addr: number, depth?: number): RawMac {
  const mtu = link.caps.mtu - HDR;
  if (mtu < 1) throw new Error('rawMac: link mtu ' + link.caps.mtu + ' leaves no room after the 4-byte header');
  const q = frameQueue(depth || 4, link.caps.mtu);
  const rxBuf = new Uint8Array(mtu);
  const info: MacRxInfo = { src: 0, dst: 0, timeUs: 0, rssi: 0 };
  const stats = { sent: 0, received: 0, notForUs: 0, malformed: 0 };
  let onRx: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null = null;
  let onSentFn: ((status: number, transmissions: number, dst: number) => void) | null = null;
  let inFlight = false;
  const groups = groupSet(RAW_MAX_GROUPS);

  function pump(): void {
    if (inFlight || q.size() === 0) return;
    if (link.send(q.head(), q.headLen())) inFlight = true;
  }

  link.onSent(function (status) {
    inFlight = false;
    const head = q.head();
    const dst = (head[0] << 8) | head[1];
    q.drop();
    stats.sent++;
    pump();
    if (onSentFn) onSentFn(status === TX_OK ? TX_OK : TX_ERR, 1, dst);
  });
  link.onReceive(function (f: Uint8Array, len: number, rx: RxInfo) {
    if (len < HDR + 1) {
      stats.malformed++;
      return;
    }
    const dst = (f[0] << 8) | f[1];
    if (dst !== addr && dst !== ADDR_BROADCAST && groups.list.indexOf(dst) < 0) {
      stats.notForUs++;
      return;
    }
    stats.received++;
    handUp(onRx, rxBuf, info, f, HDR, len, (f[2] << 8) | f[3], dst, rx);
  });

  const caps: MacCaps = { mtu: mtu, carrierSense: link.caps.carrierSense };
  return {
    caps,
    addr,
    stats,
    send(dst: number, payload: Uint8Array, len: number): number {
      if (!(len >= 1 && len <= mtu) || len > payload.length) return TX_ERR;
      const slot = q.tail();
      if (slot === null) return TX_QUEUE_FULL;
      slot[0] = (dst >>> 8) & 0xff;
      slot[1] = dst & 0xff;
      slot[2] = (addr >>> 8) & 0xff;
      slot[3] = addr & 0xff;
      for (let i = 0; i < len; i++) slot[HDR + i] = payload[i];
      q.commit(HDR + len);
      pump();
      return TX_OK;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    queued: () => q.size(),
    join: groups.join,
    leave: groups.leave,
  };
}

// A MAC seen as a frame Link to one destination (a station, a group, or broadcast), so firmware written
// against hal/link.ts (telemetry, the gateway relay) runs over a MAC unchanged: send() queues to `dst`,
// onSent reports the MAC's outcome (TX_OK, or TX_NOACK after the retry limit), received payloads from
// any source arrive through onReceive, and busy() is true while a frame of ours is still queued, so a
// caller sends one frame at a time. A MAC has one receive and one sent callback: one macLink per MAC.
// Board code: the callbacks are wrapped once, when they are set.

import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn, TxStatus } from '../../hal/link.ts';
import { TX_OK } from '../../hal/link.ts';
import type { Mac } from './mac.ts';
import { ADDR_GROUP_FIRST } from './mac.ts';

export function macLink(mac: Mac, dst: number): Link {
  const caps: LinkCaps = { mtu: mac.caps.mtu, bitrate: 0, medium: 'radio', carrierSense: mac.caps.carrierSense, broadcast: dst >= ADDR_GROUP_FIRST }; // isGroupAddr(dst), written out: terser inlined that single call with a `var` after its use
  const info: RxInfo = { timeUs: 0, rssi: 0 };
  return {
    caps,
    send: (frame, len) => mac.send(dst, frame, len) === TX_OK,
    onReceive(fn: ReceiveFn | null): void {
      mac.onReceive(fn && function (payload, len, mi) {
        info.timeUs = mi.timeUs;
        info.rssi = mi.rssi;
        fn(payload, len, info);
      });
    },
    onSent(fn: SentFn | null): void {
      mac.onSent(fn && function (status) {
        fn(status as TxStatus);
      });
    },
    busy: () => mac.queued() > 0,
  };
}

// Handing a received payload up from a MAC: copy frame[off..len) into the MAC's own receive buffer
// (the link's buffer is only lent for the duration of its callback, and is shared by other
// stations in the simulator), fill the MAC's reused info object, and call the receiver.
// Board code: no allocation.

import type { RxInfo } from '../../hal/link.ts';
import type { MacRxInfo } from './mac.ts';

export function handUp(
  fn: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null,
  rxBuf: Uint8Array, info: MacRxInfo,
  frame: Uint8Array, off: number, len: number, src: number, dst: number, rx: RxInfo,
): void {
  if (!fn) return;
  const n = len - off;
  for (let i = 0; i < n; i++) rxBuf[i] = frame[off + i];
  info.src = src;
  info.dst = dst;
  info.timeUs = rx.timeUs;
  info.rssi = rx.rssi;
  fn(rxBuf, n, info);
}

// A MAC that can crash, for simulated crashes and restarts (`picolink sim conversation --crash` and the
// Psync tests): once `dead` it sends nothing and hears nothing, so an abandoned endpoint's timers go on
// running harmlessly while a restarted one uses the same station.
import { TX_ERR } from '../../hal/link.ts';
import type { Mac, MacRxInfo } from '../../firmware/mac/mac.ts';

export function crashable(inner: Mac): Mac & { dead: boolean } {
  const w = {
    dead: false,
    caps: inner.caps,
    addr: inner.addr,
    send: (dst: number, p: Uint8Array, len: number) => (w.dead ? TX_ERR : inner.send(dst, p, len)),
    onReceive: (fn: ((p: Uint8Array, len: number, info: MacRxInfo) => void) | null) =>
      inner.onReceive(fn && ((p, len, info) => { if (!w.dead) fn(p, len, info); })),
    onSent: (fn: ((status: number, transmissions: number, dst: number) => void) | null) => inner.onSent(fn),
    queued: () => inner.queued(),
  };
  return w;
}

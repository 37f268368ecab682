// Service ports: several services share one MAC (telemetry, request-reply, Psync), the way UDP ports
// share IP. Every payload on the MAC starts with one service byte; each port is a MAC of its own (the
// same contract, firmware/mac/mac.ts) whose payloads are one byte shorter. The service numbers are the
// capture PROTO numbers of hal/mw/pcap.ts, so the dissector follows a payload to its protocol.
//
//   offset  field    size  meaning
//   0       service  u8    SVC_APP 0 (an application's own bytes), SVC_TELEMETRY 1, SVC_RR 4, SVC_PSYNC 5,
//                              SVC_GROUP 6 (firmware/services/group.ts)
//   1       payload  ...   the service's message
//
// A payload whose service has no port open is dropped and counted (unknownService), as UDP drops a
// datagram for a closed port. Outcomes (onSent) go back to the port that sent the frame: a ring of the
// frames in flight remembers whose each is, and the first one for that destination takes the outcome
// (the MAC contract keeps per-destination order). When the ring is full, send() answers
// TX_QUEUE_FULL: the MAC's own queue is then as full as it gets in practice.
// Board code: the ring, the transmit and the receive buffers are allocated at creation.

import { TX_ERR, TX_QUEUE_FULL, TX_OK } from '../../hal/link.ts';
import type { Mac, MacCaps, MacRxInfo } from './mac.ts';

export const SVC_APP = 0;
export const SVC_TELEMETRY = 1;
export const SVC_RR = 4;
export const SVC_PSYNC = 5;
export const SVC_GROUP = 6;

type RxFn = (payload: Uint8Array, len: number, info: MacRxInfo) => void;
type SentFn = (status: number, transmissions: number, dst: number) => void;

export interface MacPorts {
  /** The MAC of service `svc` (0..255); the same object each time it is asked for. */
  port(svc: number): Mac;
  readonly stats: { unknownService: number; empty: number };
}

export function macPorts(mac: Mac, inFlight?: number): MacPorts {
  const mtu = mac.caps.mtu - 1;
  if (mtu < 1) throw new Error('macPorts: the MAC mtu ' + mac.caps.mtu + ' leaves no room after the service byte');
  const caps: MacCaps = { mtu: mtu, carrierSense: mac.caps.carrierSense };
  const tx = new Uint8Array(mac.caps.mtu);
  const rx = new Uint8Array(mtu);
  const n = inFlight || 16;
  // Frames in flight, a ring: service (column 0) and destination (column n), one typed array.
  const fSvc = new Uint16Array(2 * n);
  let fHead = 0;
  let fCount = 0;
  const svcs: number[] = [];
  const ports: Mac[] = [];
  const rxFns: (RxFn | null)[] = [];
  const sentFns: (SentFn | null)[] = [];
  const stats = { unknownService: 0, empty: 0 };

  function find(svc: number): number {
    for (let i = 0; i < svcs.length; i++) if (svcs[i] === svc) return i;
    return -1;
  }

  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    if (len < 2) {
      stats.empty++;
      return;
    }
    const i = find(payload[0]);
    const fn = i < 0 ? null : rxFns[i];
    if (!fn) {
      stats.unknownService++;
      return;
    }
    for (let j = 1; j < len; j++) rx[j - 1] = payload[j];
    fn(rx, len - 1, info);
  });

  mac.onSent(function (status: number, transmissions: number, dst: number) {
    // The oldest frame in flight to this destination is the one this outcome is for.
    let k = 0;
    while (k < fCount && fSvc[n + (fHead + k) % n] !== dst) k++;
    if (k === fCount) return;
    const svc = fSvc[(fHead + k) % n];
    for (let j = k; j > 0; j--) {
      fSvc[(fHead + j) % n] = fSvc[(fHead + j - 1) % n];
      fSvc[n + (fHead + j) % n] = fSvc[n + (fHead + j - 1) % n];
    }
    fHead = (fHead + 1) % n;
    fCount--;
    const i = find(svc);
    const fn = i < 0 ? null : sentFns[i];
    if (fn) fn(status, transmissions, dst);
  });

  function open(svc: number): Mac {
    const idx = svcs.length;
    svcs.push(svc);
    rxFns.push(null);
    sentFns.push(null);
    const m: Mac = {
      caps: caps,
      addr: mac.addr,
      send(dst: number, payload: Uint8Array, len: number): number {
        if (!(len >= 1 && len <= mtu && len <= payload.length)) return TX_ERR;
        if (fCount === n) return TX_QUEUE_FULL;
        tx[0] = svc;
        for (let j = 0; j < len; j++) tx[j + 1] = payload[j];
        // Recorded before sending, in case a MAC reports the outcome from inside send().
        const at = (fHead + fCount) % n;
        fSvc[at] = svc;
        fSvc[n + at] = dst;
        fCount++;
        const r = mac.send(dst, tx, len + 1);
        if (r !== TX_OK) fCount--;
        return r;
      },
      onReceive(fn: RxFn | null): void {
        rxFns[idx] = fn;
      },
      onSent(fn: SentFn | null): void {
        sentFns[idx] = fn;
      },
      queued(): number {
        let c = 0;
        for (let k = 0; k < fCount; k++) if (fSvc[(fHead + k) % n] === svc) c++;
        return c;
      },
    };
    ports.push(m);
    return m;
  }

  return {
    stats: stats,
    port(svc: number): Mac {
      if (!(svc >= 0 && svc <= 255)) throw new Error('macPorts: services are 0..255');
      const i = find(svc);
      return i >= 0 ? ports[i] : /* @__NOINLINE__ */ open(svc); // not inlined: bench/footprint.ts
    },
  };
}

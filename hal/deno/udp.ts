// UDP as a frame Link (hal/link.ts) under Deno, through Deno.listenDatagram (needs --unstable-net and
// --allow-net): the Deno twin of hal/node/udp.ts for unicast peers, so a Deno edge node runs the same
// firmware (a MAC, request-reply, conversations) over the same datagrams as Node hosts. Each frame is
// one datagram to every peer; loopback only unless another hostname is given; the mtu defaults to
// 1200 bytes (no IPv6 fragmentation). onSent reports TX_OK once every peer's send resolved, TX_ERR if
// one failed. Received datagrams larger than the mtu are dropped and counted.
/// <reference path="./deno.d.ts" />
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';
import { TX_ERR, TX_OK } from '../link.ts';

export interface DenoUdpEndpoint {
  address: string;
  port: number;
}

export interface DenoUdpLink extends Link {
  readonly stats: { sent: number; received: number; oversize: number; sendErrors: number };
  readonly local: DenoUdpEndpoint;
  setPeers(peers: DenoUdpEndpoint[]): void;
  close(): void;
}

export function denoUdpLink(o: { port?: number; hostname?: string; peers?: DenoUdpEndpoint[]; mtu?: number; maxInFlight?: number }): DenoUdpLink {
  const mtu = o.mtu ?? 1200;
  const maxInFlight = o.maxInFlight ?? 64;
  const caps: LinkCaps = { mtu, bitrate: 0, medium: 'ip', carrierSense: false, broadcast: true };
  const conn = Deno.listenDatagram({ port: o.port ?? 0, hostname: o.hostname ?? '127.0.0.1', transport: 'udp' });
  const stats = { sent: 0, received: 0, oversize: 0, sendErrors: 0 };
  const info: RxInfo = { timeUs: 0, rssi: 0 };
  let peers = o.peers ?? [];
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let inFlight = 0;
  let closed = false;

  (async () => {
    while (!closed) {
      let msg: Uint8Array;
      try {
        [msg] = await conn.receive();
      } catch {
        return; // closed
      }
      if (msg.length === 0) continue;
      if (msg.length > mtu) {
        stats.oversize++;
        continue;
      }
      stats.received++;
      info.timeUs = Math.floor(performance.now() * 1000);
      const fn = onRx as ReceiveFn | null; // set later, from outside this loop
      if (fn) fn(msg, msg.length, info);
    }
  })();

  return {
    caps,
    stats,
    local: { address: conn.addr.hostname, port: conn.addr.port },
    setPeers(p) {
      peers = p.slice();
    },
    send(frame: Uint8Array, len: number): boolean {
      if (closed || inFlight >= maxInFlight || peers.length === 0 || !(len >= 1 && len <= mtu && len <= frame.length)) return false;
      const copy = frame.slice(0, len);
      inFlight++;
      Promise.all(peers.map((p) => conn.send(copy, { transport: 'udp', hostname: p.address, port: p.port }))).then(
        () => {
          inFlight--;
          stats.sent++;
          if (onSentFn) onSentFn(TX_OK);
        },
        () => {
          inFlight--;
          stats.sendErrors++;
          if (onSentFn) onSentFn(TX_ERR);
        },
      );
      return true;
    },
    onReceive(fn) {
      onRx = fn;
    },
    onSent(fn) {
      onSentFn = fn;
    },
    busy: () => inFlight >= maxInFlight,
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

// UDP as a frame Link (hal/link.ts) for Node hosts: every frame is one datagram, sent to an IP
// multicast group (a shared medium: every node of the group hears every frame, as on a radio) or to a
// list of peer endpoints (unicast: two processes on loopback, a host and a board on a LAN). The MAC
// above (firmware/mac/raw.ts: [dst][src][payload]) addresses stations and filters frames for others,
// so UDP is just another medium to the firmware.
//
// Choices: the mtu defaults to 1200 bytes, under IPv6's 1280-byte minimum MTU with room for the IP and
// UDP headers, so no frame is ever fragmented. Loopback only unless another bind address is given.
// With a group, frames go out from a second socket on a port of its own: every node on a host binds
// the group's port, so only that sending port tells our own frames (looped back by the kernel so that
// several processes on one host hear each other) from a neighbour's; they are dropped, as a radio
// never hears itself. send() copies
// the frame into a fresh Buffer (dgram may hold it until the kernel takes it) and takes up to
// `maxInFlight` frames before onSent; onSent reports TX_OK once the datagram is handed to the socket
// (a refusal later shows only in stats.sendErrors), from one microtask for all frames sent in a turn.
// Destinations that are IPv4 literals are not resolved: dgram's default dns.lookup answers even a
// literal on the next tick, so the datagram would leave only after everything else the current
// callback and its microtasks do (measured: a loopback echo round trip 3-4 µs longer); here it leaves
// inside send(). UDP acknowledges nothing: losses are the MAC's or the
// protocol's to recover. Datagrams larger than the mtu are dropped and counted.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';
import { TX_OK } from '../link.ts';

export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface UdpLinkOptions {
  /** Local UDP port (0 or absent: any free port; see `bound()`). */
  port?: number;
  /** Local address to bind (default 127.0.0.1, loopback only). With a group, the interface to join on. */
  bindAddress?: string;
  /** Send every frame to these endpoints. */
  peers?: UdpEndpoint[];
  /** Or to this IPv4 multicast group (joined when bound; its port is the local port). */
  group?: string;
  mtu?: number;
  maxInFlight?: number;
  /** Time stamps of received frames, µs (default: performance.now()). */
  now?: () => number;
}

export interface UdpLinkStats {
  sent: number;
  received: number;
  oversize: number;
  sendErrors: number;
}

export interface UdpLink extends Link {
  readonly stats: UdpLinkStats;
  /** Resolves with the local endpoint once the socket is bound. */
  bound(): Promise<UdpEndpoint>;
  /** Replace the unicast peers. */
  setPeers(peers: UdpEndpoint[]): void;
  close(): Promise<void>;
}

function ownAddresses(): Set<string> {
  const s = new Set<string>(['127.0.0.1']);
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) s.add(i.address);
  return s;
}

/**
 * dgram resolves every destination before sending, and dns.lookup answers even an IP literal on the
 * next tick: the datagram would leave only after everything else the current callback does. An IPv4
 * literal is its own answer, given at once, so send() puts the datagram on the socket before it returns.
 */
function fastLookup(host: string, family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  if (isIPv4(host)) cb(null, host, 4);
  else dnsLookup(host, family as number, cb as never);
}

export function udpLink(o: UdpLinkOptions): UdpLink {
  const mtu = o.mtu ?? 1200;
  const maxInFlight = o.maxInFlight ?? 64;
  if (!o.group && !o.peers) throw new Error('udpLink: give a multicast group or a list of peers to send to');
  if (o.group && !o.port) throw new Error('udpLink: a multicast group needs a fixed port, the same on every node');
  const caps: LinkCaps = { mtu, bitrate: 0, medium: 'ip', carrierSense: false, broadcast: true };
  const now = o.now ?? ((): number => Math.floor(performance.now() * 1000));
  const stats: UdpLinkStats = { sent: 0, received: 0, oversize: 0, sendErrors: 0 };
  const info: RxInfo = { timeUs: 0, rssi: 0 };
  let peers = o.peers ?? [];
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let inFlight = 0;
  let closed = false;
  let txPort = -1;
  const own = o.group ? ownAddresses() : new Set<string>();
  // onSent for every frame taken since the last flush, from one microtask (no closure per frame).
  let sentDue = 0;
  const flushSent = (): void => {
    const n = sentDue;
    sentDue = 0; // a send from inside onSent queues a flush of its own
    for (let i = 0; i < n; i++) {
      inFlight--;
      stats.sent++;
      if (onSentFn) onSentFn(TX_OK);
    }
  };

  const sock: Socket = createSocket({ type: 'udp4', reuseAddr: !!o.group, lookup: fastLookup });
  const tx: Socket = o.group ? createSocket({ type: 'udp4', lookup: fastLookup }) : sock;
  const bindOne = (s: Socket, port: number, address: string | undefined): Promise<void> =>
    new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => {
        s.off('error', reject);
        s.on('error', () => { stats.sendErrors++; });
        resolve();
      });
    });
  const ready = (async (): Promise<UdpEndpoint> => {
    await bindOne(sock, o.port ?? 0, o.group ? undefined : (o.bindAddress ?? '127.0.0.1'));
    if (o.group) {
      sock.addMembership(o.group, o.bindAddress);
      await bindOne(tx, 0, o.bindAddress);
      tx.setMulticastLoopback(true);
      if (o.bindAddress) tx.setMulticastInterface(o.bindAddress);
      txPort = tx.address().port;
    }
    const a = sock.address();
    return { address: a.address, port: a.port };
  })();
  ready.catch(() => {}); // a bind failure is reported through bound()

  sock.on('message', (msg: Buffer, r: RemoteInfo) => {
    if (o.group && r.port === txPort && own.has(r.address)) return; // our own frame, looped back
    if (msg.length === 0) return;
    if (msg.length > mtu) {
      stats.oversize++;
      return;
    }
    stats.received++;
    if (!onRx) return;
    info.timeUs = now();
    onRx(msg, msg.length, info);
  });

  return {
    caps,
    stats,
    bound: () => ready,
    setPeers(p: UdpEndpoint[]): void {
      peers = p.slice();
    },
    send(frame: Uint8Array, len: number): boolean {
      if (closed || inFlight >= maxInFlight || !(len >= 1 && len <= mtu && len <= frame.length)) return false;
      const targets: UdpEndpoint[] = o.group ? [{ address: o.group, port: o.port! }] : peers;
      if (targets.length === 0) return false;
      const buf = Buffer.from(frame.subarray(0, len));
      // No send callback: with one, libuv queues a datagram sent from inside a receive handler until
      // the receive batch ends (a reply waits a loop turn); without one it goes out at once, and
      // errors arrive as the socket's 'error' events (counted in sendErrors).
      for (const ep of targets) tx.send(buf, ep.port, ep.address);
      inFlight++;
      if (sentDue++ === 0) queueMicrotask(flushSent);
      return true;
    },
    onReceive(fn: ReceiveFn | null): void {
      onRx = fn;
    },
    onSent(fn: SentFn | null): void {
      onSentFn = fn;
    },
    busy: () => inFlight >= maxInFlight,
    close(): Promise<void> {
      if (closed) return Promise.resolve();
      closed = true;
      const shut = (s: Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));
      return tx === sock ? shut(sock) : Promise.all([shut(sock), shut(tx)]).then(() => {});
    },
  };
}

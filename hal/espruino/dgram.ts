// UDP as a frame Link (hal/link.ts) on Espruino, through its `dgram` library: the Espruino twin of
// hal/node/udp.ts and hal/deno/udp.ts for unicast peers, so Espruino boards on a LAN (ESP32 and
// Espruino WiFi over Wi-Fi, WIZnet over Ethernet) and Espruino's Linux build run the same firmware as
// Node and Deno nodes over the same datagrams: one frame per datagram, sent to every peer endpoint; the
// raw MAC above (firmware/mac/raw.ts) addresses stations. Board code: Espruino's JavaScript.
//
// Espruino facts this relies on (2v29: libs/network/jswrap_net.c, socketserver.c, linux/network_linux.c,
// measured on the Linux build):
// - require("dgram").createSocket({ type: 'udp4', recvBufferSize }) returns a dgramSocket; bind(port, cb)
//   opens the socket at once (a port in use throws "Unable to create socket") and queues cb; a bound
//   socket sends from its own port. There is no address(): the port must be given.
// - Received datagrams are read into a buffer of max(536, recvBufferSize) bytes, less an 8-byte header,
//   and a longer one is cut short without notice (so a datagram cut to at most the mtu would pass as a
//   frame). recvBufferSize also sets SO_RCVBUF: asking for mtu + 9 on Linux made the kernel drop the
//   second of two large datagrams sent back to back (measured). So a link whose mtu + 9 exceeds 536
//   asks for 65536: every datagram arrives whole (IPv4 UDP carries at most 65507 bytes), one over the
//   mtu is dropped and counted, and the kernel buffer is 64 KB. The receive buffer is on the C stack
//   (alloca) at every idle pass: on boards with a small stack (ESP32) keep the mtu at 527 or less.
// - 'message' gives (msg, rinfo): msg is a string, one char (0..255) per byte, rinfo { address, port, size }.
// - send(str, offset, length, port, address) copies str[offset..offset+length) into the socket's queue
//   (the 3-argument form send(data, port, address) turns a Uint8Array into "1,2,3": only strings carry
//   bytes). The queue goes out from the idle loop, a datagram a pass; send throws "This socket is
//   closed" after close(). A host name that does not resolve sends to 0.0.0.0: give peers as IPs.
// - E.toString(Uint8Array) makes a new string of those bytes; E.toArrayBuffer(str) makes an ArrayBuffer
//   over that very string, by reference, not a copy. So the transmit buffer is one string of mtu bytes
//   allocated at creation with a Uint8Array over it: send() writes the frame into the view and hands the
//   string's first len bytes to dgram. Received frames are views over the message string (no copy).
// onSent reports TX_OK once the datagram is queued on the socket (UDP acknowledges nothing; the
// socket's 'drain' comes once per batch, and never when the network is gone), from a clock timer,
// never from inside send; up to maxInFlight frames wait for theirs (busy() meanwhile). A send the
// socket refused for some peers only is reported TX_ERR. Multicast (addMembership) is not used: frames
// go out from the bound socket, so a node could not tell its own looped-back frames from a neighbour's
// on the same host.

import type { Clock } from '../clock.ts';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn, TxStatus } from '../link.ts';
import { TX_ERR, TX_OK } from '../link.ts';

/** Where a datagram came from, as Espruino's 'message' event gives it. */
export interface EspruinoRinfo {
  address: string;
  port: number;
  size: number;
}

/** A dgramSocket, reduced to what this driver calls. */
export interface EspruinoDgramSocket {
  bind(port: number, cb?: () => void): EspruinoDgramSocket;
  /** Queue str[offset..offset+length) as one datagram to address:port. Throws once the socket is closed. */
  send(str: string, offset: number, length: number, port: number, address: string): void;
  on(event: 'message', fn: (msg: string, rinfo: EspruinoRinfo) => void): void;
  on(event: 'close', fn: (hadError: boolean) => void): void;
  on(event: 'error', fn: (err: unknown) => void): void;
  close(): void;
}

/** require("dgram"). */
export interface EspruinoDgram {
  createSocket(options: { type: 'udp4'; recvBufferSize?: number }): EspruinoDgramSocket;
}

/** The two conversions of Espruino's `E` this driver uses. */
export interface EspruinoBytes {
  /** A new string holding the bytes. */
  toString(bytes: Uint8Array): string;
  /** An ArrayBuffer over the string itself (by reference: writing into it changes the string). */
  toArrayBuffer(str: string): ArrayBuffer;
}

export interface DgramEndpoint {
  /** An IPv4 address ("192.168.1.20"). */
  address: string;
  port: number;
}

export interface DgramLinkOptions {
  /** The local UDP port to bind (required: Espruino cannot tell which port it picked). */
  port: number;
  peers: DgramEndpoint[];
  clock: Clock;
  /** Largest frame (default 1200, as hal/node/udp.ts: no IPv6 fragmentation). */
  mtu?: number;
  /** Frames taken before their onSent (default 8). */
  maxInFlight?: number;
  /** require("dgram") and E; tests pass fakes. */
  dgram?: EspruinoDgram;
  bytes?: EspruinoBytes;
}

export interface DgramLinkStats {
  sent: number;
  received: number;
  /** Datagrams over the mtu, dropped. */
  oversize: number;
  /** Sends the socket threw on, and its 'error' events. */
  sendErrors: number;
}

export interface DgramLink extends Link {
  readonly stats: DgramLinkStats;
  setPeers(peers: DgramEndpoint[]): void;
  /** Close the socket; later sends are refused. Frames already taken still get their onSent. */
  close(): void;
  /** False once closed (by close() or by the interpreter after a socket error). */
  open(): boolean;
}

declare function require(name: string): unknown;

/** Espruino's default receive buffer (chunkSize on Linux and ESP32), header included. */
const RX_DEFAULT = 536;
/** The receive buffer asked for beyond it: every UDP datagram whole. */
const RX_LARGE = 65536;

export function dgramLink(o: DgramLinkOptions): DgramLink {
  const mtu = o.mtu || 1200;
  const maxInFlight = o.maxInFlight || 8;
  if (!(o.port > 0 && o.port < 65536)) throw new Error('dgramLink: give the UDP port to bind (1..65535), not ' + o.port);
  const dg = o.dgram || (require('dgram') as EspruinoDgram);
  const by = o.bytes || (E as unknown as EspruinoBytes);
  const clock = o.clock;
  const caps: LinkCaps = { mtu: mtu, bitrate: 0, medium: 'ip', carrierSense: false, broadcast: true };
  const stats: DgramLinkStats = { sent: 0, received: 0, oversize: 0, sendErrors: 0 };
  const info: RxInfo = { timeUs: 0, rssi: 0 };
  // The one transmit buffer: a string of mtu bytes and a view that writes into it.
  const txStr = by.toString(new Uint8Array(mtu));
  const tx = new Uint8Array(by.toArrayBuffer(txStr));
  // Outcomes waiting for their onSent, in order: a ring of statuses.
  const outcome = new Uint8Array(maxInFlight);
  let head = 0;
  let count = 0;
  let armed = false;
  let peers = o.peers.slice();
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let closed = false;

  // The default receive buffer when it holds a frame over the mtu, else 64 KB (see above).
  const sock = dg.createSocket(mtu + 9 > RX_DEFAULT ? { type: 'udp4', recvBufferSize: RX_LARGE } : { type: 'udp4' });
  sock.on('message', function (msg: string, _r: EspruinoRinfo) {
    const n = msg.length;
    if (n === 0) return;
    if (n > mtu) {
      stats.oversize++;
      return;
    }
    stats.received++;
    if (!onRx) return;
    info.timeUs = clock.now();
    onRx(new Uint8Array(by.toArrayBuffer(msg)), n, info);
  });
  sock.on('error', function () { stats.sendErrors++; });
  sock.on('close', function () { closed = true; });
  try {
    sock.bind(o.port);
  } catch (e) {
    throw new Error('dgramLink: cannot bind UDP port ' + o.port + ' (' + e + '): is another process on it? Pick another port');
  }

  // Every outcome queued when the pass began; a send from inside onSent arms the next pass.
  function flush(): void {
    armed = false;
    let n = count;
    while (n-- > 0) {
      const st = outcome[head] as TxStatus;
      head = (head + 1) % maxInFlight;
      count--;
      if (st === TX_OK) stats.sent++;
      if (onSentFn) onSentFn(st);
    }
  }

  return {
    caps: caps,
    stats: stats,
    send(frame: Uint8Array, len: number): boolean {
      if (closed || count >= maxInFlight || peers.length === 0 || !(len >= 1 && len <= mtu && len <= frame.length)) return false;
      for (let i = 0; i < len; i++) tx[i] = frame[i];
      let ok = 0;
      for (let i = 0; i < peers.length; i++) {
        try {
          sock.send(txStr, 0, len, peers[i].port, peers[i].address);
          ok++;
        } catch (e) {
          stats.sendErrors++;
        }
      }
      if (ok === 0) return false;
      outcome[(head + count) % maxInFlight] = ok === peers.length ? TX_OK : TX_ERR;
      count++;
      if (!armed) {
        armed = true;
        clock.at(clock.now(), flush);
      }
      return true;
    },
    onReceive(fn: ReceiveFn | null): void {
      onRx = fn;
    },
    onSent(fn: SentFn | null): void {
      onSentFn = fn;
    },
    busy: function (): boolean {
      return count >= maxInFlight;
    },
    setPeers(p: DgramEndpoint[]): void {
      peers = p.slice();
    },
    close(): void {
      if (closed) return;
      closed = true;
      sock.close();
    },
    open: function (): boolean {
      return !closed;
    },
  };
}

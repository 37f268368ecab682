// The MAC tunnel: a gateway board lends its radio MAC to a host over a frame link (the framed serial
// line of hal/framing), the way a radio co-processor serves the stack that runs on its host. The
// gateway keeps no services of its own: every payload its MAC receives goes up with its source and
// destination, and every frame the host sends goes out from the gateway's address, so on the device
// network the host (the bridge) is the node at that address. Both ends are here:
// tunnelGateway(mac, uplink) runs on the gateway board; tunnelMac(link) is the host's end, a MAC (the
// contract of mac.ts) that request-reply, device groups and Psync run on unchanged.
//
// One tunnel message per frame, first byte the kind; u16 fields big-endian:
//
//   kind       dir             layout                                          meaning
//   TUN_RX     gateway->host   [1][src u16][dst u16][rssi i8][payload...]      a payload the MAC received
//   TUN_SENT   gateway->host   [2][status u8][transmissions u8][dst u16]       outcome of one TUN_TX
//   TUN_TX     host->gateway   [3][dst u16][payload...]                        send payload to dst
//   TUN_HELLO  both            host: [4]                                       who are you?
//                              gateway: [4][version u8][addr u16][mtu u8]      its address and MAC mtu
//   TUN_JOIN   host->gateway   [5][group u16][1 join | 0 leave]                group membership
//
// The gateway says hello when it starts and whenever asked. A TUN_TX the MAC refuses is answered at
// once by a TUN_SENT with the MAC's status (TX_QUEUE_FULL, TX_ERR), so the host learns every outcome.
// Up-going messages wait in one bounded queue (RX and SENT alike) until the uplink is idle; when it is
// full they are dropped and counted, and the protocols above recover as from radio loss. Frames that
// are too short, of unknown kind, or longer than the MAC takes are counted as malformed and dropped.
// The host's end remembers the groups it joined and joins them again whenever the gateway says hello
// (a gateway that restarted has forgotten them). On the host, queued() counts only frames not yet handed to the line: an outcome lost on the line
// (a CRC error) must not leave the MAC looking busy forever.
// Board code: queues and buffers allocated at creation, nothing per frame.

import type { Link, RxInfo } from '../../hal/link.ts';
import { TX_ERR, TX_OK, TX_QUEUE_FULL } from '../../hal/link.ts';
import type { Clock } from '../../hal/clock.ts';
import type { GroupMember, Mac, MacCaps, MacRxInfo } from './mac.ts';
import { groupSet } from './mac.ts';
import { handUp } from './deliver.ts';
import { frameQueue } from '../queue.ts';

export const TUN_RX = 1;
export const TUN_SENT = 2;
export const TUN_TX = 3;
export const TUN_HELLO = 4;
export const TUN_JOIN = 5;
export const TUN_VERSION = 1;
/** Bytes a TUN_RX adds before the payload: the uplink's mtu must be the MAC's mtu plus this. */
export const TUN_RX_HDR = 6;
const TX_HDR = 3;
/** Groups the host's end remembers, to join them again when the gateway restarts. */
export const TUN_MAX_GROUPS = 8;

export interface TunnelGatewayStats {
  /** Payloads sent up (TUN_RX) and frames sent down onto the radio (TUN_TX the MAC took). */
  up: number;
  down: number;
  /** Up-going messages dropped because the uplink's queue was full; TUN_TX the MAC refused. */
  upDropped: number;
  downDropped: number;
  malformed: number;
}

export interface TunnelGateway {
  readonly stats: TunnelGatewayStats;
}

/** Writes a u16 big-endian at b[o]. */
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/**
 * Serve `mac` to the host at the other end of `uplink`. The uplink's mtu must be at least the MAC's mtu
 * plus TUN_RX_HDR. `depth` up-going messages are queued (default 8); an uplink that refuses a frame is
 * offered it again after retryUs (default 2 ms).
 */
export function tunnelGateway(mac: Mac & Partial<GroupMember>, uplink: Link, clock: Clock, depth?: number, retryUs?: number): TunnelGateway {
  const mtu = mac.caps.mtu;
  if (uplink.caps.mtu < mtu + TUN_RX_HDR) {
    throw new Error('tunnelGateway: the uplink mtu ' + uplink.caps.mtu + ' is below the MAC mtu ' + mtu + ' plus ' + TUN_RX_HDR);
  }
  const q = frameQueue(depth || 8, mtu + TUN_RX_HDR);
  const tx = new Uint8Array(mtu);
  const stats: TunnelGatewayStats = { up: 0, down: 0, upDropped: 0, downDropped: 0, malformed: 0 };
  const wait = retryUs || 2000;
  let waiting = false; // a frame is in flight on the uplink, or a retry is set
  let sending = false; // inside uplink.send

  function retry(): void {
    waiting = false;
    pump();
  }
  function pump(): void {
    const len = q.headLen();
    if (waiting || sending || len === 0) return;
    waiting = true;
    sending = true;
    const ok = uplink.send(q.head(), len);
    sending = false;
    if (ok) q.drop();
    else clock.at(clock.now() + wait, retry);
  }
  uplink.onSent(function () {
    waiting = false;
    if (!sending) pump();
  });

  /** Queue a TUN_SENT for the host. */
  function sent(status: number, transmissions: number, dst: number): void {
    const s = q.tail();
    if (s === null) {
      stats.upDropped++;
      return;
    }
    s[0] = TUN_SENT;
    s[1] = status;
    s[2] = transmissions > 255 ? 255 : transmissions;
    put16(s, 3, dst);
    q.commit(5);
    pump();
  }
  function hello(): void {
    const s = q.tail();
    if (s === null) return;
    s[0] = TUN_HELLO;
    s[1] = TUN_VERSION;
    put16(s, 2, mac.addr);
    s[4] = mtu > 255 ? 255 : mtu;
    q.commit(5);
    pump();
  }

  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    const s = q.tail();
    if (s === null) {
      stats.upDropped++;
      return;
    }
    s[0] = TUN_RX;
    put16(s, 1, info.src);
    put16(s, 3, info.dst);
    s[5] = info.rssi & 0xff;
    for (let i = 0; i < len; i++) s[TUN_RX_HDR + i] = payload[i];
    q.commit(TUN_RX_HDR + len);
    stats.up++;
    pump();
  });
  mac.onSent(sent);

  uplink.onReceive(function (f: Uint8Array, len: number) {
    const k = f[0];
    if (k === TUN_TX && len > TX_HDR && len - TX_HDR <= mtu) {
      const dst = (f[1] << 8) | f[2];
      const n = len - TX_HDR;
      for (let i = 0; i < n; i++) tx[i] = f[TX_HDR + i];
      const r = mac.send(dst, tx, n);
      if (r === TX_OK) stats.down++;
      else {
        stats.downDropped++;
        sent(r, 0, dst);
      }
    } else if (k === TUN_HELLO && len === 1) hello();
    else if (k === TUN_JOIN && len === 4 && mac.join && mac.leave) {
      const g = (f[1] << 8) | f[2];
      if (f[3]) mac.join(g);
      else mac.leave(g);
    } else stats.malformed++;
  });
  hello();
  return { stats: stats };
}

export interface TunnelMacStats {
  /** Frames handed to the line, payloads received, outcomes received, hellos, malformed frames. */
  sent: number;
  received: number;
  outcomes: number;
  hellos: number;
  malformed: number;
}

/** The host's end: a MAC whose address and mtu are the gateway's (0 until its hello arrives). */
export interface TunnelMac extends Mac, GroupMember {
  /** The gateway's address (set by its hello). */
  addr: number;
  readonly stats: TunnelMacStats;
  /** Ask the gateway who it is; `fn` (set once) is called with each hello that arrives. */
  hello(fn?: (addr: number, mtu: number, version: number) => void): void;
  /** True once a hello has arrived. */
  ready(): boolean;
}

/**
 * The host's end of a tunnel over `link` (mtu at least the gateway MAC's mtu plus TUN_RX_HDR). caps.mtu
 * is the largest payload the link can carry down (link mtu less 3) until the gateway's hello says the
 * MAC's own, which is smaller. `depth` frames wait for the line (default 8).
 */
export function tunnelMac(link: Link, depth?: number): TunnelMac {
  const lmtu = link.caps.mtu;
  if (lmtu < TUN_RX_HDR + 1) throw new Error('tunnelMac: link mtu ' + lmtu + ' leaves no room for a payload');
  const q = frameQueue(depth || 8, lmtu);
  const caps = { mtu: lmtu - TX_HDR, carrierSense: true } as { mtu: number; carrierSense: boolean };
  const rxBuf = new Uint8Array(lmtu);
  const info: MacRxInfo = { src: 0, dst: 0, timeUs: 0, rssi: 0 };
  const at: RxInfo = { timeUs: 0, rssi: 0 };
  const stats: TunnelMacStats = { sent: 0, received: 0, outcomes: 0, hellos: 0, malformed: 0 };
  const ctl = new Uint8Array(4);
  const groups = groupSet(TUN_MAX_GROUPS);
  let onRx: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null = null;
  let onSentFn: ((status: number, transmissions: number, dst: number) => void) | null = null;
  let onHello: ((addr: number, mtu: number, version: number) => void) | null = null;
  let inFlight = false;

  function pump(): void {
    if (inFlight || q.size() === 0) return;
    if (link.send(q.head(), q.headLen())) {
      inFlight = true;
      q.drop();
      stats.sent++;
    }
  }
  function control(len: number): void {
    if (q.put(ctl, len)) pump();
  }
  function member(g: number, on: number): void {
    ctl[0] = TUN_JOIN;
    put16(ctl, 1, g);
    ctl[3] = on;
    control(4);
  }
  link.onSent(function () {
    inFlight = false;
    pump();
  });

  const m: TunnelMac = {
    caps: caps as MacCaps,
    addr: 0,
    stats: stats,
    send(dst: number, payload: Uint8Array, len: number): number {
      if (!(len >= 1 && len <= caps.mtu) || len > payload.length || !(dst >= 0 && dst <= 0xffff)) return TX_ERR;
      const s = q.tail();
      if (s === null) return TX_QUEUE_FULL;
      s[0] = TUN_TX;
      put16(s, 1, dst);
      for (let i = 0; i < len; i++) s[TX_HDR + i] = payload[i];
      q.commit(TX_HDR + len);
      pump();
      return TX_OK;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    queued: () => q.size() + (inFlight ? 1 : 0),
    join(g: number): boolean {
      if (!groups.join(g)) return false;
      member(g, 1);
      return true;
    },
    leave(g: number): void {
      groups.leave(g);
      member(g, 0);
    },
    hello(fn) {
      if (fn) onHello = fn;
      ctl[0] = TUN_HELLO;
      control(1);
    },
    ready: () => stats.hellos > 0,
  };

  link.onReceive(function (f: Uint8Array, len: number, rx: RxInfo) {
    const k = f[0];
    if (k === TUN_RX && len > TUN_RX_HDR) {
      stats.received++;
      at.timeUs = rx.timeUs;
      at.rssi = f[5] > 127 ? f[5] - 256 : f[5];
      handUp(onRx, rxBuf, info, f, TUN_RX_HDR, len, (f[1] << 8) | f[2], (f[3] << 8) | f[4], at);
    } else if (k === TUN_SENT && len === 5) {
      stats.outcomes++;
      if (onSentFn) onSentFn(f[1], f[2], (f[3] << 8) | f[4]);
    } else if (k === TUN_HELLO && len === 5 && f[4] >= 1) {
      // A gateway whose MAC carries more than this link can bring up is still heard: the mtu is
      // capped to what the link carries down, and the caller compares hello's mtu with linkMtu.
      stats.hellos++;
      m.addr = (f[2] << 8) | f[3];
      caps.mtu = f[4] < lmtu - TX_HDR ? f[4] : lmtu - TX_HDR;
      // A gateway says hello when it starts: one that restarted has forgotten the groups.
      for (let i = 0; i < groups.list.length; i++) member(groups.list[i], 1);
      if (onHello) onHello(m.addr, f[4], f[1]);
    } else stats.malformed++;
  });
  return m;
}

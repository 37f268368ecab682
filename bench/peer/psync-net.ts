// What `npm run bench -- psync` and its peer processes (bench/peer/psync-peer.ts) share: the station
// addressing, the Psync and MAC settings, the TCP greeting, and a Link that sends each frame of the raw
// MAC only to the station it names. The paper's Table II runs Psync on host-specific addresses, one
// IP datagram to each participating host (section 6.2); a udpLink with every participant as its peer
// would instead send each of Psync's N - 1 unicasts to all N - 1 hosts.
import type { Link } from '../../hal/link.ts';
import type { UdpEndpoint, UdpLink } from '../../hal/node/udp.ts';
import { PSYNC_DEFAULTS } from '../../firmware/psync/psync.ts';
import type { PsyncConfig } from '../../firmware/psync/psync.ts';

/** Process index i (0: the measuring process) is station i + 1 on the raw MAC. */
export const addrOf = (index: number): number => index + 1;

/**
 * The board-sized defaults (every table is a linear scan, see the scaling part of bench/psync.ts, so
 * small tables are also the fast ones), but a holding queue of 8. A token holder's datagrams to the
 * others leave one after another; if it is descheduled half-way (8 processes on a few CPUs), the
 * token runs on and a host may get up to N - 2 messages in the context of the one it still lacks.
 * With the default 4 a fifth is discarded, and when that was the token nothing later names it: the
 * ring stops, as the paper's last-ACK problem says (3.2.2), since only a timeout and resend by the
 * application would recover it. N - 1 entries are enough with one token in flight.
 */
export const BENCH_PSYNC: PsyncConfig = { ...PSYNC_DEFAULTS, hold: 8 };

/** Raw MAC queue depth: Psync queues N - 1 frames (up to 7) at once. */
export const MAC_DEPTH = 16;

/**
 * The last-ACK rule of the paper (3.2.2) as the benchmark's application applies it: a token holder that
 * has seen no later message in the conversation this long after sending resends its message (Psync's
 * resend), so a datagram the kernel drops delays one pass instead of stopping the ring. Far above a
 * pass's time (well under a millisecond to a few on a loaded machine), so it never fires in a run
 * that loses nothing.
 */
export const RESEND_MS = 300;

/**
 * Arms and disarms the resend of one process's last token message: `sent(mid)` after a send,
 * `heard()` when any later message of the conversation is delivered, `stop()` when the ring ends.
 */
export function lastAck(resend: (mid: number) => number): { sent(mid: number): void; heard(): void; stop(): void; readonly resends: number } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let resends = 0;
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return {
    sent(mid: number): void {
      stop();
      const again = (): void => {
        if (resend(mid) < 0) { timer = null; return; } // stable or gone: nothing to resend
        resends++;
        timer = setTimeout(again, RESEND_MS);
      };
      timer = setTimeout(again, RESEND_MS);
    },
    heard: stop,
    stop,
    get resends() { return resends; },
  };
}

/** First byte on a TCP connection: the connecting process's index, or this for a plain echo. */
export const TCP_ECHO = 0xff;

export interface RoutedLink extends Link {
  /** ports[i]: the UDP port of process index i (station addrOf(i)). */
  setRoutes(ports: number[]): void;
}

/** Frames of the raw MAC start with the destination station (u16, big-endian). */
export function routedLink(link: UdpLink): RoutedLink {
  let byAddr: UdpEndpoint[][] = [];
  let all: UdpEndpoint[] = [];
  return {
    caps: link.caps,
    setRoutes(ports: number[]): void {
      byAddr = [];
      all = [];
      ports.forEach((port, i) => {
        const ep = { address: '127.0.0.1', port };
        byAddr[addrOf(i)] = [ep];
        all.push(ep);
      });
    },
    send(frame: Uint8Array, len: number): boolean {
      if (len < 2) return false;
      const to = byAddr[(frame[0] << 8) | frame[1]] ?? all;
      link.setPeers(to);
      return link.send(frame, len);
    },
    onReceive: (fn) => link.onReceive(fn),
    onSent: (fn) => link.onSent(fn),
    busy: () => link.busy(),
  };
}

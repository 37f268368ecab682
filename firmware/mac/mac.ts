// MAC contract: a datagram service with addresses, the layer request-reply, conversations and apps
// use, whichever MAC (CSMA/CA, piconet) or host transport (UDP) is under it. Imports nothing.

/** Addresses are u16: 0x0000-0xFEFF stations, 0xFF00-0xFFFE groups, 0xFFFF broadcast. */
export const ADDR_BROADCAST = 0xffff;
export const ADDR_GROUP_FIRST = 0xff00;

/**
 * A station address (1..0xFEFF) from a text such as a chip's serial number, the same on every start:
 * a 16-bit hash, with 0 and the group and broadcast range mapped to 1.
 */
export function stationAddrOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = ((h << 5) - h + text.charCodeAt(i)) & 0xffff;
  return h === 0 || h >= ADDR_GROUP_FIRST ? 1 : h;
}

/** True for group and broadcast addresses (no RTS/CTS, no acknowledgement). */
export function isGroupAddr(a: number): boolean {
  return a >= ADDR_GROUP_FIRST;
}

export interface MacCaps {
  /** Largest payload `send` accepts, bytes. */
  readonly mtu: number;
  /** False when the radio cannot sense the medium: the MAC runs on virtual carrier sense (NAV) alone. */
  readonly carrierSense: boolean;
}

/** Who sent a received payload. The MAC reuses one object: read it during the callback. */
export interface MacRxInfo {
  src: number;
  dst: number;
  /** Clock time (µs) the frame's last bit arrived. */
  timeUs: number;
  rssi: number;
}

export interface Mac {
  readonly caps: MacCaps;
  /** This station's address. */
  readonly addr: number;
  /**
   * Queue payload[0..len) for `dst`. Returns TX_OK (hal/link.ts) when queued, a `sent` call follows;
   * TX_QUEUE_FULL when the queue is full, or TX_ERR when len is 0 or over caps.mtu: nothing was taken.
   * The payload is copied before it returns.
   */
  send(dst: number, payload: Uint8Array, len: number): number;
  /** Set the receive callback; payload[0..len) is valid during the call only. */
  onReceive(fn: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null): void;
  /**
   * Set the callback told the outcome of each queued frame: TX_OK (acknowledged, or sent for group
   * frames) or TX_NOACK (retry limit reached), the number of transmissions it took, and its
   * destination. Outcomes come in the order frames were queued for each destination (a MAC with one
   * queue, like CSMA/CA, keeps the global order; a piconet master has a queue per slave).
   */
  onSent(fn: ((status: number, transmissions: number, dst: number) => void) | null): void;
  /** Frames waiting (including the one being sent). */
  queued(): number;
}

/** A MAC that can receive frames sent to group addresses. */
export interface GroupMember {
  /** Receive frames for group address g (0xFF00..0xFFFE); false when g is not one or the table is full. Broadcast is always received. */
  join(group: number): boolean;
  leave(group: number): void;
}

/** The joined groups of one MAC, at most `max`: `list` for the receive filter, join/leave for the MAC's API. */
export function groupSet(max: number): GroupMember & { readonly list: number[] } {
  const list: number[] = [];
  return {
    list: list,
    join(g: number): boolean {
      if (!(g >= ADDR_GROUP_FIRST && g < ADDR_BROADCAST)) return false;
      if (list.indexOf(g) >= 0) return true;
      if (list.length >= max) return false;
      list.push(g);
      return true;
    },
    leave(g: number): void {
      const i = list.indexOf(g);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

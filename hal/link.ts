// Frame link contract: the one interface every MAC and service is written against (design §3).
// A radio, a framed serial port, a wired segment, a UDP socket and every middleware are Links.
// This file imports nothing and holds no code that runs; it is safe for board bundles.

/** Outcome of one transmission. Passed to `onSent` here and to a MAC's `sent(status, transmissions)`. */
export type TxStatus = 0 | 1 | 2 | 3 | 4 | 5;
/** The frame left the station (radio: last bit on air; serial: last byte written out). Done. */
export const TX_OK = 0;
/** The medium reported a collision (only media with collision detection say so). Retry after backoff. */
export const TX_COLLISION = 1;
/** No acknowledgement after the retry limit (MAC level). The frame is dropped; retry is the caller's call. */
export const TX_NOACK = 2;
/** Not sent yet, still queued behind a busy medium or a reservation (MAC level). Wait for a later status. */
export const TX_DEFERRED = 3;
/** The transmit queue was full; nothing was taken. Retry after a later `sent`. */
export const TX_QUEUE_FULL = 4;
/** The link failed the frame (driver error, link closed). Do not retry blindly. */
export const TX_ERR = 5;

/** What a frame travels over. */
export type Medium = 'radio' | 'serial' | 'wired' | 'ip';

export interface LinkCaps {
  /** Largest frame, in bytes, that `send` accepts and a receive can deliver. */
  readonly mtu: number;
  /** Raw bit rate in bit/s seen by frames (8N1 serial at 115200 baud: 92160). 0 when unknown. */
  readonly bitrate: number;
  readonly medium: Medium;
  /** True when `busy()` reports energy on the medium (real carrier sense), not only our own transmission. */
  readonly carrierSense: boolean;
  /** True when one transmission reaches every station in range (radio, wired bus); false for point-to-point. */
  readonly broadcast: boolean;
}

/** Facts about one received frame. The link reuses one object: read it during the callback only. */
export interface RxInfo {
  /** Clock time (integer µs) at which the last bit arrived. */
  timeUs: number;
  /** Received power in dBm; 0 when the link cannot tell. */
  rssi: number;
}

export type ReceiveFn = (frame: Uint8Array, len: number, info: RxInfo) => void;
export type SentFn = (status: TxStatus) => void;

export interface Link {
  readonly caps: LinkCaps;
  /**
   * Start transmitting `frame[0..len)`. Returns true if the link took the frame, false if it cannot
   * take it now (a transmission is in progress, no buffer room, len > mtu, link closed); a link never
   * takes a frame and fails it later without calling `onSent`. The link copies the bytes before it
   * returns: the caller may reuse `frame` at once. Exactly one `onSent` call follows every true, and
   * never from inside `send` itself (so a caller can finish its bookkeeping after `send` returns).
   */
  send(frame: Uint8Array, len: number): boolean;
  /**
   * Set (or clear with null) the receive callback. `frame[0..len)` is valid only during the call,
   * belongs to the link and is read-only (other stations may share it): copy what you keep. Frames
   * with a failed checksum are never delivered, and len is always at least 1.
   */
  onReceive(fn: ReceiveFn | null): void;
  /** Set (or clear) the transmit-done callback: once per accepted frame, after it left the station. */
  onSent(fn: SentFn | null): void;
  /**
   * True while this station senses the medium busy: its own transmission, and (when
   * `caps.carrierSense`) any transmission it can hear. Links without carrier sense report only their
   * own transmission. Cheap; a MAC may call it every slot.
   */
  busy(): boolean;
  /**
   * Optional: set (or clear) a callback told each time `busy()` changes, with the new value (the
   * radio's clear-channel-assessment indication, 802.11's PHY-CCA.indication). Links that can only be
   * polled leave this out; a MAC then polls `busy()` once a slot. When a frame ends, its onReceive may
   * come just before or just after the carrier-idle call: radios raise the two in either order.
   */
  onCarrier?(fn: ((busy: boolean) => void) | null): void;
}

// Turns any hal/serial.ts byte stream into a hal/link.ts frame Link, with the framing of cobs.ts.
// One frame is in flight at a time: send() encodes into a buffer allocated once and hands all of it
// to the serial port, or refuses (returns false) if the port cannot take all of it now; onSent(TX_OK)
// follows when the port reports it drained, never from inside send() (a port that drains inside
// write() breaks its contract; the link then defers onSent through the clock instead of recursing).
// The port must be able to take a whole MTU-sized frame: creating the link on a smaller port throws.
// Board code: runs on Espruino.

import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';
import { TX_OK } from '../link.ts';
import type { Clock } from '../clock.ts';
import type { Serial } from '../serial.ts';
import { encodedMax, frameDecoder, frameEncode } from './cobs.ts';
import type { DecoderStats } from './cobs.ts';

export interface FramedLinkOptions {
  /** Largest payload in bytes. */
  mtu: number;
  /** Stamps RxInfo.timeUs; defers onSent if the port drains synchronously. */
  clock: Clock;
  /** Line bits per byte for caps.bitrate (10 for 8N1). */
  bitsPerByte?: number;
}

export interface FramedLink extends Link {
  readonly stats: DecoderStats & { sent: number; refused: number };
}

export function framedLink(serial: Serial, opts: FramedLinkOptions): FramedLink {
  const mtu = opts.mtu;
  const clock = opts.clock;
  const tx = new Uint8Array(encodedMax(mtu));
  if (serial.writable() < tx.length) {
    throw new Error('framedLink: the serial port takes ' + serial.writable() + ' bytes at once but an mtu of ' + mtu +
      ' needs ' + tx.length + ' (encodedMax); give the port a larger transmit buffer or lower the mtu');
  }
  const info: RxInfo = { timeUs: 0, rssi: 0 };
  let onRx: ReceiveFn | null = null;
  let onSent: SentFn | null = null;
  let inflight = false;
  let writing = false; // inside serial.write: a drain now must not call onSent synchronously
  const done = (): void => {
    inflight = false;
    if (onSent) onSent(TX_OK);
  };
  const caps: LinkCaps = {
    mtu,
    bitrate: Math.floor((serial.baud * 8) / (opts.bitsPerByte || 10)),
    medium: 'serial',
    carrierSense: false,
    broadcast: false,
  };
  const dec = frameDecoder(mtu, (frame, len) => {
    if (onRx) {
      info.timeUs = clock.now();
      onRx(frame, len, info);
    }
  });
  const stats = dec.stats as DecoderStats & { sent: number; refused: number };
  stats.sent = 0;
  stats.refused = 0;

  serial.onData((bytes, len) => dec.push(bytes, len));
  serial.onDrain(() => {
    if (!inflight) return;
    if (writing) clock.at(clock.now(), done);
    else done();
  });

  return {
    caps,
    stats,
    send(frame: Uint8Array, len: number): boolean {
      if (inflight || !(len > 0) || len > mtu || len > frame.length) {
        stats.refused++;
        return false;
      }
      const n = frameEncode(frame, len, tx);
      if (serial.writable() < n) {
        stats.refused++;
        return false;
      }
      inflight = true;
      writing = true;
      const took = serial.write(tx, n);
      writing = false;
      if (took !== n) {
        // The port broke its writable() promise; the frame is cut short and the receiver's CRC
        // will reject it. Report the loss rather than hang.
        inflight = false;
        return false;
      }
      stats.sent++;
      return true;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSent = fn; },
    busy: () => inflight,
  };
}

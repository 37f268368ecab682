// Capture middleware: wraps a Link, is a Link, and records every frame the station sends and receives
// into a classic libpcap file (LINKTYPE_USER0) that Wireshark opens with host/wireshark/picolink.lua.
// Implements the libpcap file format (version 2.4, microsecond timestamps) and the picolink capture
// pseudo-header below, which the simulator, the CLI and the dissector share.
//
// Choices: the file is written little-endian (the magic tells readers the byte order); the global header
// goes out as soon as the writer is made, so a capture with no frames is still a valid file; each record
// reaches the sink in one write() as a fresh array the sink may keep (stream sinks hold on to it).
// Records are appended in the order frames are seen, which across several links sharing one writer is
// virtual-time order in the simulator; Wireshark does not require sorted timestamps.
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../clock.ts';
import type { Link, Medium, ReceiveFn, RxInfo } from '../link.ts';

/** libpcap global header values (the "classic" format, not pcapng). */
export const PCAP_MAGIC = 0xa1b2c3d4;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_SNAPLEN = 65535;
/** LINKTYPE_USER0: reserved for private use; Wireshark calls this encapsulation "USER0". */
export const LINKTYPE_USER0 = 147;
/** Global header and per-record header sizes in bytes. */
export const PCAP_GLOBAL_HDR = 24;
export const PCAP_RECORD_HDR = 16;

/**
 * Picolink capture pseudo-header: byte offsets of its fields (big-endian), HDR its size. Every record's
 * data is this header followed by the frame bytes.
 */
export const CAP = { VERSION: 0, FLAGS: 1, STATION: 2, PROTO: 4, MEDIUM: 5, LEN: 6, HDR: 8 } as const;
/** Value of the version field written by this code. */
export const CAP_VERSION = 1;
/** FLAGS bit 0: set when the capturing station sent the frame, clear when it received it. */
export const CAP_FLAG_SENT = 0x01;
/** Longest frame a record can carry: the snap length less the pseudo-header. */
export const CAP_MAX_FRAME = PCAP_SNAPLEN - CAP.HDR;

/**
 * PROTO field: what the frame carries. New protocols take the next free number here and in the
 * dissector. PSYNC records hold one Psync message (firmware/psync/frame.ts) without a MAC header, as
 * `sim conversation --pcap` writes them.
 */
export const CAP_PROTO = { RAW: 0, TELEMETRY: 1, CSMA: 2, PICONET: 3, RR: 4, PSYNC: 5, GROUP: 6, TUNNEL: 7 } as const;
/** MEDIUM field numbers, keyed by the Link contract's medium names. */
export const CAP_MEDIUM: { readonly [M in Medium]: number } = { radio: 0, serial: 1, wired: 2, ip: 3 };

export interface PcapSink {
  /** Take one chunk of the file. The array is not reused by the writer: the sink may keep it. */
  write(bytes: Uint8Array): void;
}

export interface PcapWriter {
  /**
   * Append one record holding `bytes[0..len)`, stamped `tUs` (integer microseconds, >= 0). Data past the
   * snap length is cut off in the file; the record still says how long the original was.
   */
  record(tUs: number, bytes: Uint8Array, len: number): void;
}

function putU32le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

function putU16le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

/** Make a writer; the 24-byte global header goes to `sink` at once. */
export function pcapWriter(sink: PcapSink): PcapWriter {
  const g = new Uint8Array(PCAP_GLOBAL_HDR);
  putU32le(g, 0, PCAP_MAGIC);
  putU16le(g, 4, PCAP_VERSION_MAJOR);
  putU16le(g, 6, PCAP_VERSION_MINOR);
  putU32le(g, 8, 0); // thiszone: timestamps are UTC (or virtual time)
  putU32le(g, 12, 0); // sigfigs: always 0 in practice
  putU32le(g, 16, PCAP_SNAPLEN);
  putU32le(g, 20, LINKTYPE_USER0);
  sink.write(g);

  return {
    record(tUs: number, bytes: Uint8Array, len: number): void {
      if (!Number.isSafeInteger(tUs) || tUs < 0) throw new RangeError(`pcap: timestamp ${tUs} is not a non-negative integer of µs`);
      if (!Number.isInteger(len) || len < 0 || len > bytes.length) throw new RangeError(`pcap: len ${len} outside the ${bytes.length}-byte buffer`);
      const sec = Math.floor(tUs / 1e6);
      if (sec > 0xffffffff) throw new RangeError(`pcap: timestamp ${tUs} µs does not fit the 32-bit seconds field`);
      const usec = tUs - sec * 1e6;
      const incl = Math.min(len, PCAP_SNAPLEN);
      const r = new Uint8Array(PCAP_RECORD_HDR + incl);
      putU32le(r, 0, sec);
      putU32le(r, 4, usec);
      putU32le(r, 8, incl);
      putU32le(r, 12, len);
      r.set(bytes.subarray(0, incl), PCAP_RECORD_HDR);
      sink.write(r);
    },
  };
}

export interface FileSink extends PcapSink {
  /** Close the file. Further writes throw; closing twice does nothing. */
  close(): void;
}

/**
 * mkdir -p, one level at a time: Node's mkdirSync(dir, { recursive: true }) never returns for a
 * directory under /proc (measured on Node 20: it retries ENOENT for good), where this throws ENOENT.
 */
function makeDirs(dir: string): void {
  if (existsSync(dir)) return;
  const up = dirname(dir);
  if (up !== dir) makeDirs(up);
  mkdirSync(dir);
}

/**
 * A sink writing synchronously to a file (created or truncated, its directory created if missing), so
 * a crash loses no earlier record.
 */
export function fileSink(path: string): FileSink {
  makeDirs(dirname(path));
  let fd: number | null = openSync(path, 'w');
  return {
    write(bytes: Uint8Array): void {
      if (fd === null) throw new Error(`pcap: write to ${path} after close()`);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    close(): void {
      if (fd === null) return;
      closeSync(fd);
      fd = null;
    },
  };
}

/**
 * One record with the pseudo-header, for callers that pick the protocol frame by frame (`picolink
 * capture` tells a gateway's tunnel messages from bare telemetry frames). Allocates the record.
 */
export function captureRecord(writer: PcapWriter, tUs: number, sent: boolean, station: number, proto: number, medium: number, frame: Uint8Array, len: number): void {
  checkByteField('station', station, 0xffff);
  checkByteField('proto', proto, 0xff);
  checkByteField('medium', medium, 0xff);
  const n = Math.min(len, CAP_MAX_FRAME);
  const r = new Uint8Array(CAP.HDR + n);
  r[CAP.VERSION] = CAP_VERSION;
  r[CAP.FLAGS] = sent ? CAP_FLAG_SENT : 0;
  r[CAP.STATION] = station >>> 8;
  r[CAP.STATION + 1] = station & 0xff;
  r[CAP.PROTO] = proto;
  r[CAP.MEDIUM] = medium;
  r[CAP.LEN] = n >>> 8;
  r[CAP.LEN + 1] = n & 0xff;
  r.set(frame.subarray(0, n), CAP.HDR);
  writer.record(tUs, r, r.length);
}

export interface PcapOptions {
  /** Where records go; several links may share one writer to get one file for a whole network. */
  writer: PcapWriter;
  /** Stamps sent frames (received frames carry their own arrival time in RxInfo). */
  clock: Clock;
  /** The capturing station's id, 0..65535. */
  station: number;
  /** PROTO field for every frame of this link (a CAP_PROTO value), 0..255. */
  proto: number;
  /** MEDIUM field, 0..255; by default the CAP_MEDIUM number of `link.caps.medium`. */
  medium?: number;
}

function checkByteField(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`pcap: ${name} ${v} is not an integer in 0..${max}`);
}

/**
 * Wrap `link` so that every frame it accepts for sending (send() returned true; stamped clock.now())
 * and every frame it delivers (stamped info.timeUs) is recorded with the pseudo-header. Everything
 * else (caps, busy, onSent, the frames themselves) passes through unchanged.
 */
export function pcap(link: Link, opts: PcapOptions): Link {
  const { writer, clock, station, proto } = opts;
  const medium = opts.medium ?? CAP_MEDIUM[link.caps.medium];
  checkByteField('station', station, 0xffff);
  checkByteField('proto', proto, 0xff);
  checkByteField('medium', medium, 0xff);
  if (link.caps.mtu > CAP_MAX_FRAME) throw new RangeError(`pcap: mtu ${link.caps.mtu} exceeds the ${CAP_MAX_FRAME}-byte capture limit`);

  // One scratch record, grown only if a link ever delivers more than its mtu.
  let scratch = new Uint8Array(CAP.HDR + link.caps.mtu);
  scratch[CAP.VERSION] = CAP_VERSION;
  scratch[CAP.STATION] = station >>> 8;
  scratch[CAP.STATION + 1] = station & 0xff;
  scratch[CAP.PROTO] = proto;
  scratch[CAP.MEDIUM] = medium;

  function rec(tUs: number, flags: number, frame: Uint8Array, len: number): void {
    const n = Math.min(len, CAP_MAX_FRAME);
    if (CAP.HDR + n > scratch.length) {
      const bigger = new Uint8Array(CAP.HDR + n);
      bigger.set(scratch.subarray(0, CAP.HDR));
      scratch = bigger;
    }
    scratch[CAP.FLAGS] = flags;
    scratch[CAP.LEN] = n >>> 8;
    scratch[CAP.LEN + 1] = n & 0xff;
    scratch.set(frame.subarray(0, n), CAP.HDR);
    writer.record(tUs, scratch, CAP.HDR + n);
  }

  let userRx: ReceiveFn | null = null;
  const tap: ReceiveFn = (frame: Uint8Array, len: number, info: RxInfo): void => {
    rec(info.timeUs, 0, frame, len);
    if (userRx) userRx(frame, len, info);
  };

  return {
    caps: link.caps,
    send(frame: Uint8Array, len: number): boolean {
      const ok = link.send(frame, len);
      // The link copied the bytes before returning, and the caller gets them back only after us.
      if (ok) rec(clock.now(), CAP_FLAG_SENT, frame, len);
      return ok;
    },
    onReceive(fn: ReceiveFn | null): void {
      userRx = fn;
      // Mirror the caller's choice: a link with no receiver is left without one.
      link.onReceive(fn ? tap : null);
    },
    onSent(fn) {
      link.onSent(fn);
    },
    busy(): boolean {
      return link.busy();
    },
    onCarrier: link.onCarrier ? (fn) => link.onCarrier!(fn) : undefined,
  };
}

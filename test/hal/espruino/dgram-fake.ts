// A fake of exactly the part of Espruino's `dgram` library and `E` that hal/espruino/dgram.ts calls,
// on a fake network of sockets driven by the simulator's scheduler (a datagram arrives `latencyUs`
// after it was queued, as Espruino's idle loop sends and reads one later). It copies the Espruino 2v29
// behaviours the driver must cope with (libs/network/jswrap_net.c, socketserver.c, measured on the
// Linux build):
// - send(str, offset, length, port, address) copies str[offset..offset+length) when called; the
//   3-argument form send(data, port, address) turns anything but a string into text first (a
//   Uint8Array becomes "1,2,3", as jsvAsString joins it); send throws "This socket is closed" after close.
// - Received datagrams come as binary strings (one char 0..255 per byte) with rinfo { address, port,
//   size }, cut to max(536, recvBufferSize) - 8 bytes without notice.
// - bind(port) on a port already bound throws "Unable to create socket".
// - E.toString(bytes) returns a new string; E.toArrayBuffer(str) is a view over that very string. JS
//   strings are immutable, so the fake's E.toString returns a FlatString (an object standing for the
//   string, typed as one) whose bytes E.toArrayBuffer hands out by reference; send reads it by charCodeAt.
// Every datagram put on the network is recorded in `wire` (from, to, bytes) for the tests.
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import type { EspruinoBytes, EspruinoDgram, EspruinoDgramSocket, EspruinoRinfo } from '../../../hal/espruino/dgram.ts';

/** A mutable string of bytes, as an Espruino flat string under E.toArrayBuffer. */
export class FlatString {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get length(): number {
    return this.bytes.length;
  }
  charCodeAt(i: number): number {
    return i >= 0 && i < this.bytes.length ? this.bytes[i] : NaN;
  }
  toString(): string {
    return String.fromCharCode(...this.bytes);
  }
}

type StrLike = string | FlatString;

function isStr(v: unknown): v is StrLike {
  return typeof v === 'string' || v instanceof FlatString;
}

/** jsvAsString: strings as they are, numbers as text, arrays and typed arrays joined with ",". */
function asString(v: unknown): StrLike {
  if (isStr(v)) return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as Uint8Array).join(',');
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

function bytesOf(s: StrLike, from: number, count: number): Uint8Array {
  const out: number[] = [];
  for (let i = from; i < from + count && i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
  return new Uint8Array(out);
}

export const fakeBytes: EspruinoBytes = {
  toString(bytes: Uint8Array): string {
    return new FlatString(new Uint8Array(bytes)) as unknown as string;
  },
  toArrayBuffer(str: string): ArrayBuffer {
    const s = str as unknown as StrLike;
    if (s instanceof FlatString) return s.bytes.buffer as ArrayBuffer;
    if (typeof s !== 'string') throw new Error('E.toArrayBuffer: not a string');
    return bytesOf(s, 0, s.length).buffer as ArrayBuffer;
  },
};

export interface WireDatagram {
  fromPort: number;
  to: string;
  port: number;
  bytes: Uint8Array;
}

type Handler = (...args: unknown[]) => void;

/** Stands for an EspruinoDgramSocket (its overloaded on() is typed loosely here). */
export class FakeSocket {
  readonly net: FakeNet;
  readonly recvBufferSize: number;
  port = 0;
  closed = false;
  readonly handlers: Record<string, Handler[]> = {};
  constructor(net: FakeNet, recvBufferSize: number) {
    this.net = net;
    this.recvBufferSize = recvBufferSize;
  }
  bind(port: number, cb?: () => void): EspruinoDgramSocket {
    if (this.net.bound.has(port)) throw new Error('InternalError: Unable to create socket');
    this.port = port;
    this.net.bound.set(port, this);
    if (cb) this.net.clock.after(0, cb);
    return this as unknown as EspruinoDgramSocket;
  }
  send(...a: unknown[]): void {
    if (this.closed) throw new Error('Error: This socket is closed');
    if (!isStr(a[0]) && typeof a[3] === 'number') throw new Error('fake dgram: the 5-argument send needs a string (Espruino asserts it)');
    let bytes: Uint8Array;
    let port: number;
    let address: unknown;
    if (typeof a[3] === 'number') {
      bytes = bytesOf(a[0] as StrLike, Number(a[1]), Number(a[2]));
      port = a[3];
      address = a[4];
    } else {
      const s = asString(a[0]);
      bytes = bytesOf(s, 0, s.length);
      port = Number(a[1]);
      address = a[2];
    }
    if (typeof address !== 'string') throw new Error('fake dgram: the address must be a string');
    if (!this.port) {
      // Espruino opens an unbound socket on demand, at a port of the system's choosing.
      this.port = this.net.ephemeral++;
      this.net.bound.set(this.port, this);
    }
    this.net.put({ fromPort: this.port, to: address, port, bytes });
  }
  on(event: string, fn: Handler): void {
    (this.handlers[event] ??= []).push(fn);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.net.bound.get(this.port) === this) this.net.bound.delete(this.port);
    this.net.clock.after(0, () => this.emit('close', false));
  }
  emit(event: string, ...args: unknown[]): void {
    for (const fn of this.handlers[event] ?? []) fn(...args);
  }
}

/** A network of fake sockets on 127.0.0.1 (or any address: ports alone name sockets). */
export class FakeNet {
  readonly clock: Scheduler;
  readonly latencyUs: number;
  readonly bound = new Map<number, FakeSocket>();
  readonly sockets: FakeSocket[] = [];
  readonly wire: WireDatagram[] = [];
  ephemeral = 50000;
  /** The sender's address as receivers see it. */
  address = '127.0.0.1';
  constructor(clock: Scheduler, latencyUs = 100) {
    this.clock = clock;
    this.latencyUs = latencyUs;
  }
  readonly dgram: EspruinoDgram = {
    createSocket: (o: { type: 'udp4'; recvBufferSize?: number }): EspruinoDgramSocket => {
      if (o.type !== 'udp4') throw new Error('fake dgram: only udp4');
      const s = new FakeSocket(this, o.recvBufferSize ?? 0);
      this.sockets.push(s);
      return s as unknown as EspruinoDgramSocket;
    },
  };
  put(d: WireDatagram): void {
    this.wire.push(d);
    this.clock.after(this.latencyUs, () => this.arrive(d));
  }
  /** A datagram from outside (a Node node, say) to the socket on `port`. */
  inject(port: number, bytes: Uint8Array, fromPort = 40000): void {
    this.put({ fromPort, to: this.address, port, bytes });
  }
  private arrive(d: WireDatagram): void {
    const s = this.bound.get(d.port);
    if (!s || s.closed) return;
    const room = Math.max(536, s.recvBufferSize) - 8;
    const n = Math.min(room, d.bytes.length);
    const msg = String.fromCharCode(...d.bytes.subarray(0, n));
    const rinfo: EspruinoRinfo = { address: this.address, port: d.fromPort, size: n };
    s.emit('message', msg, rinfo);
  }
}

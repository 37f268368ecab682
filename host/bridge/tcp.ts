// The bridge's TCP front: one port, two ways to talk, told apart by a connection's first byte.
//   Frames (for programs): each request and reply is a 2-byte big-endian length, 1..ENVELOPE_MAX, then
//     that many bytes of one CBOR envelope (envelope.ts). A length of 0 or beyond the limit means the
//     stream is out of step: the bridge answers with an error and closes the connection.
//   Lines (for people, `nc localhost PORT`): a connection whose first byte is "{" (or white space)
//     speaks newline-delimited JSON, one request object per line and one reply or push per line.
//     Byte strings travel in JSON as {"hex": "0a1b..."} both ways (an object {"hex": x} whose x is
//     not hex digits in pairs stays a map with one text key: a map is a value too). A line longer than LINE_MAX is
//     refused with an error and skipped up to its newline.
// A frame's first byte is a length's high byte, at most 0x04, so it is never "{" (0x7b).
//
// A client may half-close its side once it has sent its requests (`nc -N`, shutdown(SHUT_WR)): the
// bridge still sends the replies of the calls that are running, then closes its side too, so
// `echo '{...}' | nc -N host port` prints the reply and ends.
// Subscriptions ({"sub": "events"} or {"sub": "groups", "group"?: g}) push {"ev": ...} messages on the
// connection until it closes or unsubscribes. Bounds: at most `connections` at once (more are closed
// at once with an error); a connection whose unread output passes `maxBuffered` bytes (a client that
// does not read its pushes) is closed, with a log line; requests are read only while fewer than
// `perClient` calls are in progress (the core's bound) and the reading side is bounded by the frame
// and line limits.
import { createServer, type Server, type Socket } from 'node:net';
import type { BridgeClient, BridgeCore } from './core.ts';
import { BR_E_BUSY, BR_E_MALFORMED, ENVELOPE_MAX, errReply } from './envelope.ts';
import { hostDecode } from '../codec/cbor.ts';

export const LINE_MAX = 4096;

export interface BridgeTcpOptions {
  port?: number;
  host?: string;
  connections?: number;
  maxBuffered?: number;
}

export interface BridgeTcp {
  bound(): Promise<{ address: string; port: number }>;
  /** Open connections now. */
  connections(): number;
  readonly stats: { accepted: number; refused: number; slowClosed: number; framingErrors: number };
  close(): Promise<void>;
}

/** JSON for a decoded CBOR value: byte strings as {"hex": ...}, integers beyond 2^53 (bigint) as decimal text. */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? { hex: Buffer.from(x).toString('hex') } : typeof x === 'bigint' ? x.toString() : x));
}

/** A JSON value with {"hex": ...} objects turned back into byte strings. */
export function fromJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === 'hex' && typeof o.hex === 'string' && /^(?:[0-9a-fA-F]{2})*$/.test(o.hex)) {
      return new Uint8Array(Buffer.from(o.hex, 'hex'));
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = fromJson(o[k]);
    return out;
  }
  return v;
}

const MODE_UNKNOWN = 0;
const MODE_FRAMES = 1;
const MODE_LINES = 2;

export function bridgeTcp(core: BridgeCore, o: BridgeTcpOptions = {}): BridgeTcp {
  const maxConn = o.connections ?? 64;
  const maxBuffered = o.maxBuffered ?? 1 << 20;
  const stats = { accepted: 0, refused: 0, slowClosed: 0, framingErrors: 0 };
  const open = new Set<Socket>();
  let next = 1;

  function serve(sock: Socket): void {
    if (open.size >= maxConn) {
      stats.refused++;
      core.log(`bridge tcp: refused ${sock.remoteAddress}:${sock.remotePort}: ${maxConn} connections already`);
      sock.end(frame(errReply(null, BR_E_BUSY, `the bridge takes ${maxConn} connections at most; retry later`)));
      sock.destroySoon();
      return;
    }
    open.add(sock);
    stats.accepted++;
    sock.setNoDelay(true);
    let mode = MODE_UNKNOWN;
    let buf: Buffer = Buffer.alloc(0);
    let skipping = false; // lines: inside an over-long line, dropping up to its newline
    const label = `${sock.remoteAddress}:${sock.remotePort}`;
    const c: BridgeClient = {
      key: `tcp ${next++}`,
      label,
      stream: true,
      send(bytes: Uint8Array): void {
        if (sock.destroyed) return;
        if (sock.writableLength > maxBuffered) {
          stats.slowClosed++;
          core.log(`bridge tcp: closed ${label}: more than ${maxBuffered} bytes unread`);
          sock.destroy();
          return;
        }
        if (sock.writableEnded) return;
        if (mode === MODE_LINES) {
          let text: string;
          try {
            text = toJson(hostDecode(bytes));
          } catch {
            text = toJson({ hex: Buffer.from(bytes).toString('hex') });
          }
          sock.write(text + '\n');
        } else {
          sock.write(frame(bytes));
        }
        if (halfClosed) endWhenDone();
      },
    };
    // The client's side has ended: close ours once no call of its is running (replies first).
    let halfClosed = false;
    function endWhenDone(): void {
      if (!sock.writableEnded && core.running(c) === 0) sock.end();
    }

    function frames(): void {
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n === 0 || n > ENVELOPE_MAX) {
          stats.framingErrors++;
          c.send(errReply(null, BR_E_MALFORMED, `frame length ${n}: frames are a 2-byte big-endian length 1..${ENVELOPE_MAX} then one CBOR envelope; closing`));
          core.log(`bridge tcp: ${label} sent a frame length of ${n}; closed`);
          sock.end();
          buf = Buffer.alloc(0);
          return;
        }
        if (buf.length < 2 + n) return;
        const body = new Uint8Array(buf.buffer, buf.byteOffset + 2, n).slice();
        buf = buf.subarray(2 + n);
        core.request(c, body);
      }
    }

    function lines(): void {
      for (;;) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > LINE_MAX) {
            if (!skipping) core.refuse(c, `a line longer than ${LINE_MAX} bytes; skipped`);
            skipping = true;
            buf = Buffer.alloc(0);
          }
          return;
        }
        const line = buf.subarray(0, nl).toString('utf8').trim();
        buf = buf.subarray(nl + 1);
        if (skipping) {
          skipping = false;
          continue;
        }
        if (nl > LINE_MAX) {
          core.refuse(c, `a line longer than ${LINE_MAX} bytes; skipped`);
          continue;
        }
        if (line === '') continue;
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch (e) {
          core.refuse(c, `not JSON: ${(e as Error).message.slice(0, 80)}`);
          continue;
        }
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          core.refuse(c, 'each line is one JSON object: {"id":1,"to":"name","op":1,"args":...}');
          continue;
        }
        core.requestMap(c, fromJson(v) as Record<string, unknown>);
      }
    }

    sock.on('data', (d: Buffer) => {
      if (mode === MODE_UNKNOWN) {
        const b = d[0];
        mode = b === 0x7b || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 ? MODE_LINES : MODE_FRAMES;
      }
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (mode === MODE_FRAMES) frames();
      else lines();
    });
    sock.on('end', () => {
      halfClosed = true;
      // After this tick: a request in the last data may still be on its way into the core.
      setImmediate(endWhenDone);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      open.delete(sock);
      core.drop(c);
    });
  }

  const server: Server = createServer({ allowHalfOpen: true }, serve);
  const ready = new Promise<{ address: string; port: number }>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', rej);
      const a = server.address() as { address: string; port: number };
      res({ address: a.address, port: a.port });
    });
  });
  ready.catch(() => {});
  return {
    stats,
    bound: () => ready,
    connections: () => open.size,
    close(): Promise<void> {
      for (const s of open) s.destroy();
      return new Promise<void>((res) => server.close(() => res()));
    },
  };
}

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

// The bridge's WebSocket front, for browsers (host/web/) and any WebSocket client: the requests,
// replies and pushes of the TCP front (envelope.ts, tcp.ts), one per WebSocket message.
//   Text messages carry JSON, one request object each, byte strings as {"hex": "0a1b..."} both ways
//     (tcp.ts toJson/fromJson); a message longer than LINE_MAX, not JSON or not an object gets an error
//     reply and the connection stays open.
//   Binary messages carry one CBOR envelope each, answered in binary.
// Replies go back in the kind of message the client sent first (as the TCP front tells frames from lines
// by the first byte).
//
// One more topic besides the core's "events" and "groups": {"id", "sub": "traffic"} pushes every payload
// the bridge's node sends or receives on the device network, decoded for people (host/monitor/decode.ts):
//   {"ev": "traffic", "dir": "rx" | "tx", "src", "dst", "len", "text", "count": {"rx", "tx"}}
// with the running counts of the device at the other end; the reply to the subscription carries the
// counts so far, {"ok": {"counts": [{"addr", "rx", "tx"}, ...]}}. The counts come from macTap(), which
// bridge.ts wraps around the bridge node's MAC. Traffic is for watching: a connection whose unread output
// passes a quarter of `maxBuffered` gets no traffic pushes until it drains (they are counted as dropped);
// replies and event pushes still go, and past `maxBuffered` the connection is closed, as on TCP.
//
// Safety, as the other fronts: requests go through the core, which checks the token when the bridge has
// one (the traffic topic checks it here, the same way). A browser also sends an Origin: without a token,
// a connection from a page of another origin than this server's own (or `origins`) is refused with 403,
// so a web site a user happens to visit cannot drive the devices through a bridge on their loopback.
// Programs (no Origin header) are served as on the TCP front. At most `connections` at once; more are
// answered with a busy error and closed. Messages beyond MESSAGE_MAX bytes close the connection (1009,
// the ws library's limit); anything smaller is read.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { BridgeClient, BridgeCore } from './core.ts';
import { BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED, errReply } from './envelope.ts';
import { fromJson, LINE_MAX, toJson } from './tcp.ts';
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import { describePayload } from '../monitor/decode.ts';
import type { GroupMember, Mac, MacRxInfo } from '../../firmware/mac/mac.ts';

/** Largest message the ws library reads before closing the connection (1009). */
export const MESSAGE_MAX = 64 * 1024;

/** Per-device frame counts at the bridge's node. */
export interface TrafficCount {
  rx: number;
  tx: number;
}

/** One payload the bridge's node sent or received. `payload[0..len)` is valid during the call only. */
export type TrafficFn = (dir: 'rx' | 'tx', src: number, dst: number, payload: Uint8Array, len: number) => void;

export interface MacTap {
  /** The MAC to give the bridge's services: the tapped one, with every other member the original's. */
  readonly mac: Mac & Partial<GroupMember>;
  /** Counts by device (the other end), at most `maxPeers` devices (later ones are not counted). */
  count(addr: number): TrafficCount | null;
  counts(): { addr: number; rx: number; tx: number }[];
  /** Set the listener (one; null removes it). */
  onFrame(fn: TrafficFn | null): void;
}

/**
 * Wrap `mac` so every payload through it is counted and shown to a listener. The wrapper inherits from
 * the MAC (Object.create), so fields the MAC changes later (a tunnel's address and mtu, set by the
 * gateway's hello) read through.
 */
export function macTap(mac: Mac & Partial<GroupMember>, maxPeers = 1024): MacTap {
  const counts = new Map<number, TrafficCount>();
  let listener: TrafficFn | null = null;
  const bump = (addr: number, dir: 'rx' | 'tx'): void => {
    let c = counts.get(addr);
    if (!c) {
      if (counts.size >= maxPeers) return;
      counts.set(addr, c = { rx: 0, tx: 0 });
    }
    c[dir]++;
  };
  const tapped = Object.create(mac) as Mac & Partial<GroupMember>;
  Object.defineProperties(tapped, {
    send: {
      value(dst: number, payload: Uint8Array, len: number): number {
        const r = mac.send(dst, payload, len);
        if (r === 0) {
          bump(dst, 'tx');
          listener?.('tx', mac.addr, dst, payload, len);
        }
        return r;
      },
    },
    onReceive: {
      value(fn: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null): void {
        mac.onReceive(fn === null ? null : (payload, len, info) => {
          bump(info.src, 'rx');
          listener?.('rx', info.src, info.dst, payload, len);
          fn(payload, len, info);
        });
      },
    },
  });
  return {
    mac: tapped,
    count: (addr) => counts.get(addr) ?? null,
    counts: () => [...counts].map(([addr, c]) => ({ addr, rx: c.rx, tx: c.tx })).sort((a, b) => a.addr - b.addr),
    onFrame(fn) { listener = fn; },
  };
}

export interface BridgeWsOptions {
  /** Serve on this HTTP server (its upgrades; plain requests stay the server's). Absent: a server of its own. */
  server?: Server;
  /** With a server of its own: the port (default 0: any free one) and address (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** Plain HTTP requests on a server of its own (the page); default: 426, "connect with a WebSocket". */
  http?: (req: IncomingMessage, res: ServerResponse) => void;
  /** The bridge's token (for the traffic topic, and to decide whether Origin is checked). */
  token?: string;
  /** Page origins allowed besides the server's own (e.g. "http://localhost:5173"). */
  origins?: string[];
  connections?: number;
  maxBuffered?: number;
  /** The bridge node's traffic (macTap), for the "traffic" topic. */
  traffic?: MacTap;
}

export interface BridgeWs {
  bound(): Promise<{ address: string; port: number }>;
  connections(): number;
  readonly stats: { accepted: number; refused: number; forbidden: number; slowClosed: number; trafficPushed: number; trafficDropped: number };
  close(): Promise<void>;
}

const MODE_UNKNOWN = 0;
const MODE_TEXT = 1;
const MODE_BINARY = 2;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Is `origin` the page of the server the request came to (same host and port), or one allowed? */
function originOk(req: IncomingMessage, allowed: Set<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.has(origin)) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === req.headers.host;
  } catch {
    return false;
  }
}

/** A CBOR envelope that asks for the traffic topic, as a map; null for anything else (the core's). */
function trafficRequest(bytes: Uint8Array): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = hostDecode(bytes);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return null;
  const m = v as Record<string, unknown>;
  return (m.sub === 'traffic' || m.unsub === 'traffic') && Number.isInteger(m.id) && (m.id as number) >= 0 && (m.id as number) <= 0xffffffff ? m : null;
}

export function bridgeWs(core: BridgeCore, o: BridgeWsOptions = {}): BridgeWs {
  const maxConn = o.connections ?? 64;
  const maxBuffered = o.maxBuffered ?? 1 << 20;
  const allowed = new Set(o.origins ?? []);
  const tokenHash = o.token ? digest(o.token) : null;
  const stats = { accepted: 0, refused: 0, forbidden: 0, slowClosed: 0, trafficPushed: 0, trafficDropped: 0 };
  const open = new Set<WebSocket>();
  /** Connections subscribed to traffic, and how to push to each. */
  const watchers = new Map<WebSocket, (v: Record<string, unknown>) => void>();
  let next = 1;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MESSAGE_MAX });

  o.traffic?.onFrame((dir, src, dst, payload, len) => {
    if (watchers.size === 0) return;
    const peer = dir === 'rx' ? src : dst;
    const d = describePayload(payload, 0, len);
    const ev = { ev: 'traffic', dir, src, dst, len, text: d.text, count: o.traffic!.count(peer) ?? { rx: 0, tx: 0 } };
    for (const push of watchers.values()) push(ev);
  });

  function serve(ws: WebSocket, req: IncomingMessage): void {
    const label = `${req.socket.remoteAddress}:${req.socket.remotePort} (websocket)`;
    let mode = MODE_UNKNOWN;
    const write = (text: string | Uint8Array): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > maxBuffered) {
        stats.slowClosed++;
        core.log(`bridge ws: closed ${label}: more than ${maxBuffered} bytes unread`);
        ws.terminate();
        return;
      }
      ws.send(text);
    };
    /** A value of this front's own (not the core's), in the connection's kind of message. */
    const value = (v: Record<string, unknown>): void => write(mode === MODE_BINARY ? hostEncode(v) : JSON.stringify(v));
    const c: BridgeClient = {
      key: `ws ${next++}`,
      label,
      stream: true,
      send(bytes: Uint8Array): void {
        if (mode === MODE_BINARY) {
          write(bytes);
          return;
        }
        let text: string;
        try {
          text = toJson(hostDecode(bytes));
        } catch {
          text = toJson({ hex: Buffer.from(bytes).toString('hex') });
        }
        write(text);
      },
    };
    if (open.size >= maxConn) {
      stats.refused++;
      core.log(`bridge ws: refused ${label}: ${maxConn} connections already`);
      mode = MODE_TEXT;
      c.send(errReply(null, BR_E_BUSY, `the bridge takes ${maxConn} connections at most; retry later`));
      ws.close(1013, 'busy');
      return;
    }
    open.add(ws);
    stats.accepted++;

    /** The traffic topic, kept here (the core knows only its own topics). */
    function traffic(m: Record<string, unknown>): void {
      const id = m.id as number;
      const extra = Object.keys(m).filter((k) => k !== 'id' && k !== 'sub' && k !== 'unsub' && k !== 'token');
      if (extra.length > 0) {
        core.refuse(c, `unknown field "${extra[0].slice(0, 32)}" in a traffic subscription`);
        return;
      }
      if (tokenHash && !(typeof m.token === 'string' && timingSafeEqual(digest(m.token), tokenHash))) {
        core.log(`bridge ws: traffic subscription from ${label} with ${m.token === undefined ? 'no' : 'a wrong'} token`);
        c.send(errReply(id, BR_E_DENIED, 'this bridge needs the right "token" in every request'));
        return;
      }
      if (!o.traffic) {
        c.send(errReply(id, BR_E_MALFORMED, 'this bridge has no traffic to show (no tapped node)'));
        return;
      }
      if (m.sub !== undefined) {
        watchers.set(ws, (ev) => {
          if (ws.bufferedAmount > maxBuffered / 4) {
            stats.trafficDropped++;
            return;
          }
          stats.trafficPushed++;
          value(ev);
        });
        value({ id, ok: { counts: o.traffic.counts() } });
      } else {
        watchers.delete(ws);
        value({ id, ok: null });
      }
    }

    function text(s: string): void {
      if (s.length > LINE_MAX) {
        core.refuse(c, `a message longer than ${LINE_MAX} characters; skipped`);
        return;
      }
      let v: unknown;
      try {
        v = JSON.parse(s);
      } catch (e) {
        core.refuse(c, `not JSON: ${(e as Error).message.slice(0, 80)}`);
        return;
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        core.refuse(c, 'each message is one JSON object: {"id":1,"to":"name","op":1,"args":...}');
        return;
      }
      const m = v as Record<string, unknown>;
      if ((m.sub === 'traffic' || m.unsub === 'traffic') && Number.isInteger(m.id) && (m.id as number) >= 0 && (m.id as number) <= 0xffffffff) {
        traffic(m);
        return;
      }
      core.requestMap(c, fromJson(m) as Record<string, unknown>);
    }

    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (mode === MODE_UNKNOWN) mode = isBinary ? MODE_BINARY : MODE_TEXT;
      if (!isBinary) {
        text(buf.toString('utf8'));
        return;
      }
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length).slice();
      const m = trafficRequest(bytes);
      if (m) traffic(m);
      else core.request(c, bytes);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      open.delete(ws);
      watchers.delete(ws);
      core.drop(c);
    });
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!tokenHash && !originOk(req, allowed)) {
      stats.forbidden++;
      core.log(`bridge ws: refused a page from ${String(req.headers.origin).slice(0, 80)}: only this server's own page may connect without a token`);
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
        'this bridge serves WebSocket connections from its own page only; give the bridge a token, or allow the origin\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req));
  }

  const own = o.server === undefined;
  const server = o.server ?? createServer((req, res) => {
    if (o.http) o.http(req, res);
    else {
      res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
      res.end('this is the picolink bridge\'s WebSocket front: connect with a WebSocket\n');
    }
  });
  server.on('upgrade', upgrade);
  const ready = new Promise<{ address: string; port: number }>((res, rej) => {
    const done = (): void => {
      const a = server.address() as { address: string; port: number };
      res({ address: a.address, port: a.port });
    };
    if (!own) {
      if (server.listening) done();
      else server.once('listening', done);
      return;
    }
    server.once('error', rej);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
      server.off('error', rej);
      done();
    });
  });
  ready.catch(() => {});
  return {
    stats,
    bound: () => ready,
    connections: () => open.size,
    close(): Promise<void> {
      o.traffic?.onFrame(null);
      server.off('upgrade', upgrade);
      for (const ws of open) ws.terminate();
      wss.close();
      if (!own) return Promise.resolve();
      return new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
    },
  };
}

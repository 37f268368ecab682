// The bridge's UDP front: a datagram carrying a request envelope (envelope.ts) becomes a request-reply
// call from the bridge's own node on the device network (host/rr/endpoint.ts over any MAC), and the
// reply goes back to the datagram's sender.
//
// At-most-once through the bridge: the device side is the firmware's at-most-once (duplicate filter
// and reply history at the device); the IP side is a reply cache keyed by (client address, port, id).
// A repeated request whose call is still running is dropped (its reply will come); one whose call has
// finished gets the cached reply again, without a second call. So an IP client that retries with the
// same id never runs an operation twice, as long as its entry is cached (`cacheMs`, and the bounds).
//
// Bounds (nothing a client sends makes the bridge hold unbounded memory): at most `clients` clients
// (the least recently seen one without calls in progress is forgotten first), at most `perClient`
// entries each (the oldest finished one is forgotten first), at most `inFlight` calls in all; past a
// bound the request gets a BR_E_BUSY error reply. Entries expire after `cacheMs`.
//
// Safety: binds 127.0.0.1 unless told otherwise; any other address needs a token, which every request
// must carry (compared in constant time). Malformed input gets an error reply with a code and one log
// line per second at most (the rest counted), never an exception.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HostRr } from '../rr/endpoint.ts';
import { RR_ERROR_NAMES, RrError } from '../rr/endpoint.ts';
import { RR_E_TIMEOUT } from '../../firmware/rr/rr.ts';
import { PROTO_R } from '../../firmware/rr/frame.ts';
import {
  BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED, BR_E_UNKNOWN_DEVICE, BR_ERROR_NAMES, EnvelopeError, errReply, okReply, parseRequest,
} from './envelope.ts';
import type { Request } from './envelope.ts';

export interface BridgeUdpOptions {
  /** The bridge's request-reply node on the device network. */
  rr: HostRr;
  /** Directory lookup: a device's address from its name, or null. */
  resolve(name: string): number | null;
  /** Port to listen on (0: any free one, see bound()). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). Anything else needs `token`. */
  host?: string;
  /** Shared secret every request must carry in "token". */
  token?: string;
  clients?: number;
  perClient?: number;
  inFlight?: number;
  cacheMs?: number;
  /** Log lines (malformed input and the like, rate-limited); default none. */
  log?: (line: string) => void;
}

export interface BridgeUdpStats {
  requests: number;
  calls: number;
  /** Repeated requests answered from the cache, and repeats of calls still running (dropped). */
  replayed: number;
  inProgress: number;
  malformed: number;
  denied: number;
  busy: number;
  errors: number;
  /** Log lines left out by the rate limit. */
  logSuppressed: number;
}

export interface BridgeUdp {
  bound(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  /** Clients and cache entries held now. */
  held(): { clients: number; entries: number; inFlight: number };
  readonly stats: BridgeUdpStats;
}

interface Entry {
  /** The reply once the call finished, null while it runs. */
  reply: Uint8Array | null;
  at: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function bridgeUdp(o: BridgeUdpOptions): BridgeUdp {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !o.token) {
    throw new Error(`bridge: listening on ${host} lets other hosts drive devices; give a token (--token) that clients must send, or listen on 127.0.0.1`);
  }
  const maxClients = o.clients ?? 256;
  const perClient = o.perClient ?? 64;
  const maxInFlight = o.inFlight ?? 256;
  const cacheMs = o.cacheMs ?? 30_000;
  const tokenHash = o.token ? digest(o.token) : null;
  const stats: BridgeUdpStats = { requests: 0, calls: 0, replayed: 0, inProgress: 0, malformed: 0, denied: 0, busy: 0, errors: 0, logSuppressed: 0 };
  /** Clients in order of last use (a Map keeps insertion order: re-inserted on use). */
  const clients = new Map<string, Map<number, Entry>>();
  let inFlight = 0;
  let entries = 0;
  let logAt = -Infinity;
  const sock: Socket = createSocket('udp4');
  let closed = false;

  function log(line: string): void {
    if (!o.log) return;
    const now = performance.now();
    if (now - logAt < 1000) {
      stats.logSuppressed++;
      return;
    }
    logAt = now;
    o.log(line);
  }

  function send(bytes: Uint8Array, r: RemoteInfo): void {
    if (!closed) sock.send(bytes, r.port, r.address);
  }

  function fail(r: RemoteInfo, id: number | null, code: number, msg: string): void {
    send(errReply(id, code, msg), r);
  }

  function expire(m: Map<number, Entry>, now: number): void {
    for (const [id, e] of m) {
      if (e.reply !== null && now - e.at > cacheMs) {
        m.delete(id);
        entries--;
      }
    }
  }

  /** The client's entry table, making room by the rules of the header; null when there is none. */
  function tableOf(key: string, now: number): Map<number, Entry> | null {
    let m = clients.get(key);
    if (m) {
      clients.delete(key);
      clients.set(key, m);
      return m;
    }
    if (clients.size >= maxClients) {
      for (const [k, t] of clients) {
        expire(t, now);
        let running = false;
        for (const e of t.values()) if (e.reply === null) running = true;
        if (running) continue;
        entries -= t.size;
        clients.delete(k);
        break;
      }
      if (clients.size >= maxClients) return null;
    }
    m = new Map();
    clients.set(key, m);
    return m;
  }

  function tokenOk(t: string | undefined): boolean {
    if (!tokenHash) return true;
    if (t === undefined) return false;
    return timingSafeEqual(digest(t), tokenHash);
  }

  function onRequest(req: Request, r: RemoteInfo): void {
    if (!tokenOk(req.token)) {
      stats.denied++;
      log(`bridge: request from ${r.address}:${r.port} with ${req.token === undefined ? 'no' : 'a wrong'} token`);
      fail(r, req.id, BR_E_DENIED, 'this bridge needs the right "token" in every request');
      return;
    }
    const dst = typeof req.to === 'number' ? req.to : o.resolve(req.to);
    if (dst === null) {
      fail(r, req.id, BR_E_UNKNOWN_DEVICE, `no device named "${String(req.to).slice(0, 64)}" (list them with: picolink devices)`);
      return;
    }
    const now = performance.now();
    const m = tableOf(`${r.address}:${r.port}`, now);
    if (!m) {
      stats.busy++;
      fail(r, req.id, BR_E_BUSY, `the bridge serves ${maxClients} clients at most; retry later`);
      return;
    }
    const old = m.get(req.id);
    if (old && old.reply === null) {
      stats.inProgress++; // its reply is on the way
      return;
    }
    if (old && now - old.at <= cacheMs) {
      stats.replayed++;
      send(old.reply!, r);
      return;
    }
    if (old) {
      m.delete(req.id);
      entries--;
    }
    if (m.size >= perClient) {
      expire(m, now);
      for (const [id, e] of m) {
        if (m.size < perClient) break;
        if (e.reply !== null) {
          m.delete(id);
          entries--;
        }
      }
    }
    if (m.size >= perClient || inFlight >= maxInFlight) {
      stats.busy++;
      fail(r, req.id, BR_E_BUSY, `too many requests in progress (${m.size >= perClient ? `${perClient} per client` : `${maxInFlight} in all`}); retry later`);
      return;
    }
    const e: Entry = { reply: null, at: now };
    m.set(req.id, e);
    entries++;
    inFlight++;
    stats.calls++;
    const done = (bytes: Uint8Array): void => {
      inFlight--;
      e.reply = bytes;
      e.at = performance.now();
      send(bytes, r);
    };
    o.rr.call(dst, req.op, req.args, { proto: req.proto }).then(
      (result) => done(okReply(req.id, req.proto === PROTO_R ? null : result)),
      (err: unknown) => {
        stats.errors++;
        const code = err instanceof RrError ? err.code : RR_E_TIMEOUT;
        const msg = err instanceof RrError ? (RR_ERROR_NAMES[code] ?? err.message) : String(err);
        done(errReply(req.id, code, msg));
      },
    );
  }

  sock.on('message', (msg: Buffer, r: RemoteInfo) => {
    stats.requests++;
    let req: Request;
    try {
      req = parseRequest(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    } catch (e) {
      stats.malformed++;
      const ee = e instanceof EnvelopeError ? e : new EnvelopeError(BR_E_MALFORMED, String(e), null);
      log(`bridge: ${BR_ERROR_NAMES[ee.code]} from ${r.address}:${r.port}: ${ee.message}`);
      fail(r, ee.id, ee.code, ee.message);
      return;
    }
    onRequest(req, r);
  });
  sock.on('error', (e) => log(`bridge: socket error: ${e.message}`));
  const ready = new Promise<{ address: string; port: number }>((res, rej) => {
    sock.once('error', rej);
    sock.bind(o.port ?? 0, host, () => {
      sock.off('error', rej);
      const a = sock.address();
      res({ address: a.address, port: a.port });
    });
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const m of clients.values()) expire(m, now);
  }, Math.max(1000, cacheMs / 2));
  sweep.unref();

  return {
    stats,
    bound: () => ready,
    held: () => ({ clients: clients.size, entries, inFlight }),
    close(): Promise<void> {
      closed = true;
      clearInterval(sweep);
      return new Promise<void>((res) => sock.close(() => res()));
    },
  };
}

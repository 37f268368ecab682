// The bridge's core: what every front (UDP, TCP frames, TCP lines) shares. A front hands it a client
// (a key, a way to send bytes back, whether it is a stream) and a request; the core checks the token,
// turns calls into request-reply calls from the bridge's node on the device network, answers directory
// and group queries, sends multicasts to device groups, and keeps subscriptions for stream clients.
//
// At-most-once through the bridge: the device side is the firmware's at-most-once (duplicate filter
// and reply history at the device); the IP side is a reply cache keyed by (client, id). A repeated
// call whose call is still running is dropped (its reply will come); one whose call has finished gets
// the cached reply again, without a second call. So an IP client that retries with the same id never
// runs an operation twice, as long as its entry is cached (`cacheMs`, and the bounds).
//
// Bounds (nothing a client sends makes the bridge hold unbounded memory): at most `clients` clients
// (the least recently seen one without calls in progress is forgotten first), at most `perClient`
// entries each (the oldest finished one is forgotten first), at most `inFlight` calls in all; past a
// bound the request gets a BR_E_BUSY error reply. Entries expire after `cacheMs`. Subscriptions live
// as long as their stream and are at most one per topic and group.
//
// Safety: a token, when the bridge has one, must come with every request (compared in constant time).
// Malformed input gets an error reply with a code and one log line per second at most (the rest
// counted), never an exception.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HostRr } from '../rr/endpoint.ts';
import { RR_ERROR_NAMES, RrError } from '../rr/endpoint.ts';
import { RR_E_TIMEOUT } from '../../firmware/rr/rr.ts';
import { PROTO_R } from '../../firmware/rr/frame.ts';
import {
  BR_E_BUSY, BR_E_DENIED, BR_E_MALFORMED, BR_E_NO_STREAM, BR_E_UNKNOWN_DEVICE, BR_ERROR_NAMES, EnvelopeError, checkRequest, decodeMap,
  errReply, okReply,
} from './envelope.ts';
import type { CallRequest, Request } from './envelope.ts';
import type { Directory } from './directory.ts';
import { hostEncode } from '../codec/cbor.ts';

/** What a front knows of one client. */
export interface BridgeClient {
  /** Unique per client: "udp 127.0.0.1:5000", "tcp 7". */
  readonly key: string;
  /** Where it is, for log lines. */
  readonly label: string;
  /** True for stream clients, which can take subscriptions' pushes. */
  readonly stream: boolean;
  send(bytes: Uint8Array): void;
}

/** The device groups, as the core needs them (groups.ts). */
export interface GroupsPort {
  /** Multicast `data` to device group g from the bridge (and onto its IP group); false when it cannot go. */
  multicast(g: number, data: unknown): boolean;
  list(): { group: number; ip: string; port: number }[];
}

export interface BridgeCoreOptions {
  /** The bridge's request-reply node on the device network. */
  rr: HostRr;
  directory: Directory;
  groups?: GroupsPort;
  /** Shared secret every request must carry in "token". */
  token?: string;
  clients?: number;
  perClient?: number;
  inFlight?: number;
  cacheMs?: number;
  /** Log lines (malformed input and the like, rate-limited); default none. */
  log?: (line: string) => void;
}

export interface BridgeStats {
  requests: number;
  calls: number;
  /** Repeated requests answered from the cache. */
  replayed: number;
  /** Repeats of calls still running (dropped: the reply is on its way). */
  inProgress: number;
  malformed: number;
  denied: number;
  busy: number;
  /** Calls that ended in an error reply or a timeout. */
  errors: number;
  queries: number;
  multicasts: number;
  /** Pushes sent to subscribers. */
  pushed: number;
  /** Log lines left out by the rate limit. */
  logSuppressed: number;
}

export interface BridgeCore {
  readonly stats: BridgeStats;
  /** A request's bytes (one CBOR envelope) from a client. */
  request(c: BridgeClient, bytes: Uint8Array): void;
  /** A request already decoded to a map (the JSON line front). */
  requestMap(c: BridgeClient, m: Record<string, unknown>): void;
  /** A device event (OP_EVENT) for the "events" subscribers. */
  publishEvent(from: number, data: unknown): void;
  /** A group message for the "groups" subscribers. */
  publishGroup(group: number, from: number, data: unknown): void;
  /** Refuse input a front could not turn into a request (counted as malformed, logged, answered). */
  refuse(c: BridgeClient, msg: string): void;
  /** The client went away: its subscriptions and cache entries go too. */
  drop(c: BridgeClient): void;
  /** Calls of this client still running (their replies are still to come). */
  running(c: BridgeClient): number;
  held(): { clients: number; entries: number; inFlight: number; subscribers: number };
  /** Rate-limited log. */
  log(line: string): void;
  close(): void;
}

interface Entry {
  /** The reply once the call finished, null while it runs. */
  reply: Uint8Array | null;
  at: number;
}

interface Subs {
  c: BridgeClient;
  events: boolean;
  /** Groups subscribed to; -1 is all. */
  groups: Set<number>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function bridgeCore(o: BridgeCoreOptions): BridgeCore {
  const maxClients = o.clients ?? 256;
  const perClient = o.perClient ?? 64;
  const maxInFlight = o.inFlight ?? 256;
  const cacheMs = o.cacheMs ?? 30_000;
  const tokenHash = o.token ? digest(o.token) : null;
  const stats: BridgeStats = {
    requests: 0, calls: 0, replayed: 0, inProgress: 0, malformed: 0, denied: 0, busy: 0, errors: 0, queries: 0, multicasts: 0, pushed: 0,
    logSuppressed: 0,
  };
  /** Clients in order of last use (a Map keeps insertion order: re-inserted on use). */
  const clients = new Map<string, Map<number, Entry>>();
  const subs = new Map<string, Subs>();
  let inFlight = 0;
  let entries = 0;
  let logAt = -Infinity;
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

  function send(c: BridgeClient, bytes: Uint8Array): void {
    if (!closed) c.send(bytes);
  }

  function fail(c: BridgeClient, id: number | null, code: number, msg: string): void {
    send(c, errReply(id, code, msg));
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

  function call(c: BridgeClient, req: CallRequest): void {
    const dst = typeof req.to === 'number' ? req.to : o.directory.resolve(req.to);
    if (dst === null) {
      fail(c, req.id, BR_E_UNKNOWN_DEVICE, `no device named "${String(req.to).slice(0, 64)}" (list them with: picolink devices)`);
      return;
    }
    const now = performance.now();
    const m = tableOf(c.key, now);
    if (!m) {
      stats.busy++;
      fail(c, req.id, BR_E_BUSY, `the bridge serves ${maxClients} clients at most; retry later`);
      return;
    }
    const old = m.get(req.id);
    if (old && old.reply === null) {
      stats.inProgress++; // its reply is on the way
      return;
    }
    if (old && now - old.at <= cacheMs) {
      stats.replayed++;
      send(c, old.reply!);
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
      fail(c, req.id, BR_E_BUSY, `too many requests in progress (${m.size >= perClient ? `${perClient} per client` : `${maxInFlight} in all`}); retry later`);
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
      // A client dropped meanwhile (its stream closed) no longer has this entry: nothing to send to.
      if (clients.get(c.key) === m) send(c, bytes);
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

  function subscribe(c: BridgeClient, req: Request & { kind: 'sub' | 'unsub' }): void {
    if (!c.stream) {
      fail(c, req.id, BR_E_NO_STREAM, 'subscriptions need a stream: connect to the bridge\'s TCP port');
      return;
    }
    let s = subs.get(c.key);
    if (req.kind === 'sub') {
      if (!s) subs.set(c.key, s = { c, events: false, groups: new Set() });
      if (req.topic === 'events') s.events = true;
      else s.groups.add(req.group);
    } else if (s) {
      if (req.topic === 'events') s.events = false;
      else if (req.group === -1) s.groups.clear();
      else s.groups.delete(req.group);
      if (!s.events && s.groups.size === 0) subs.delete(c.key);
    }
    send(c, okReply(req.id, null));
  }

  function handle(c: BridgeClient, req: Request): void {
    if (!tokenOk(req.token)) {
      stats.denied++;
      log(`bridge: request from ${c.label} with ${req.token === undefined ? 'no' : 'a wrong'} token`);
      fail(c, req.id, BR_E_DENIED, 'this bridge needs the right "token" in every request');
      return;
    }
    switch (req.kind) {
      case 'call':
        call(c, req);
        return;
      case 'devices':
        stats.queries++;
        send(c, okReply(req.id, o.directory.query({ name: req.name, type: req.type, has: req.has })
          .map((d) => ({ name: d.name, addr: d.addr, type: d.type, ops: d.ops }))));
        return;
      case 'groups':
        stats.queries++;
        send(c, okReply(req.id, o.groups ? o.groups.list() : []));
        return;
      case 'multicast':
        if (!o.groups) {
          fail(c, req.id, BR_E_UNKNOWN_DEVICE, 'this bridge maps no device groups');
          return;
        }
        if (!o.groups.multicast(req.group, req.data)) {
          stats.busy++;
          fail(c, req.id, BR_E_BUSY, `the message did not go to group ${req.group} (too large for a device frame, or the queue is full)`);
          return;
        }
        stats.multicasts++;
        send(c, okReply(req.id, null));
        return;
      default:
        subscribe(c, req);
    }
  }

  function rejected(c: BridgeClient, e: unknown): void {
    stats.malformed++;
    const ee = e instanceof EnvelopeError ? e : new EnvelopeError(BR_E_MALFORMED, String(e), null);
    log(`bridge: ${BR_ERROR_NAMES[ee.code]} from ${c.label}: ${ee.message}`);
    fail(c, ee.id, ee.code, ee.message);
  }

  function push(filter: (s: Subs) => boolean, value: unknown): void {
    if (subs.size === 0) return;
    let bytes: Uint8Array | null = null;
    for (const s of subs.values()) {
      if (!filter(s)) continue;
      bytes ??= hostEncode(value);
      stats.pushed++;
      send(s.c, bytes);
    }
  }

  const sweep = setInterval(() => {
    const now = performance.now();
    for (const m of clients.values()) expire(m, now);
  }, Math.max(1000, cacheMs / 2));
  sweep.unref();

  return {
    stats,
    log,
    request(c: BridgeClient, bytes: Uint8Array): void {
      stats.requests++;
      let req: Request;
      try {
        req = checkRequest(decodeMap(bytes));
      } catch (e) {
        rejected(c, e);
        return;
      }
      handle(c, req);
    },
    requestMap(c: BridgeClient, m: Record<string, unknown>): void {
      stats.requests++;
      let req: Request;
      try {
        req = checkRequest(m);
      } catch (e) {
        rejected(c, e);
        return;
      }
      handle(c, req);
    },
    refuse(c: BridgeClient, msg: string): void {
      stats.requests++;
      rejected(c, new EnvelopeError(BR_E_MALFORMED, msg, null));
    },
    publishEvent(from: number, data: unknown): void {
      const name = o.directory.nameOf(from);
      push((s) => s.events, name === null ? { ev: 'event', from, data } : { ev: 'event', from, name, data });
    },
    publishGroup(group: number, from: number, data: unknown): void {
      push((s) => s.groups.has(-1) || s.groups.has(group), { ev: 'group', group, from, data });
    },
    drop(c: BridgeClient): void {
      subs.delete(c.key);
      const m = clients.get(c.key);
      if (m) {
        // Calls still running finish into the forgotten table (done() keeps inFlight right).
        entries -= m.size;
        clients.delete(c.key);
      }
    },
    running(c: BridgeClient): number {
      let n = 0;
      for (const e of clients.get(c.key)?.values() ?? []) if (e.reply === null) n++;
      return n;
    },
    held: () => ({ clients: clients.size, entries, inFlight, subscribers: subs.size }),
    close(): void {
      closed = true;
      clearInterval(sweep);
    },
  };
}

// A client of a running bridge over UDP (the envelope of envelope.ts): what `picolink call`, `devices`
// and `groups` use, and a small example of talking to the bridge from a program.
//
// Choices: one socket per client; request ids start at a random value and count up, so two runs of
// the command do not reuse each other's ids within the bridge's reply cache. A request with no answer
// is sent again with the same id every `resendMs`: the bridge answers a repeated id from its cache
// without calling the device again, so resending keeps at-most-once. After `timeoutMs` the request
// fails with BridgeUnreachable, whose message says whether anything answered at all. A request larger
// than the bridge takes (ENVELOPE_MAX) fails at once with RequestTooLarge, before anything is sent.
// A reply whose id is null is the bridge refusing a datagram it could not read the id from: with one
// request in progress it can only be that one's, which fails with the bridge's error; with several
// it cannot be told which, so none fails at once (the others' answers would be lost), and the
// bridge's error is named in the message of any of them that then times out. Host only.

import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import { BR_ERROR_NAMES, ENVELOPE_MAX } from './envelope.ts';
import { RR_ERROR_NAMES } from '../rr/endpoint.ts';

/** The port `npm start` and `picolink bridge` listen on unless told otherwise (UDP and TCP). */
export const BRIDGE_PORT = 47910;

export interface BridgeClientOptions {
  host?: string;
  port?: number;
  token?: string;
  /** Give up on a request after this long, ms (default 5000). */
  timeoutMs?: number;
  /** Send an unanswered request again this often, ms (default 1000). */
  resendMs?: number;
}

/** The bridge answered with an error: code and message as it sent them. */
export class BridgeError extends Error {
  constructor(readonly code: number, readonly detail: string) {
    const name = BR_ERROR_NAMES[code] ?? RR_ERROR_NAMES[code] ?? `error ${code}`;
    // The detail often is the name itself ("timeout: timeout"): say it once.
    super(detail && detail !== name ? `${name}: ${detail}` : name);
  }
}

/** Nothing answered in time. */
export class BridgeUnreachable extends Error {}

/** The request is larger than a bridge takes; nothing was sent. */
export class RequestTooLarge extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    super(`the request is ${bytes} bytes as CBOR, and a bridge takes at most ${limit} bytes per request: send smaller arguments, or split them over several calls`);
  }
}

/** After a request timed out with nothing heard: how long a quick query waits to tell "no bridge" from "slow device", ms. */
const PROBE_MS = 700;

export interface BridgeClient {
  /** Send `fields` (id and token are added) and resolve with the reply's "ok" value. */
  request(fields: Record<string, unknown>): Promise<unknown>;
  close(): void;
}

export async function bridgeClient(o: BridgeClientOptions = {}): Promise<BridgeClient> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? BRIDGE_PORT;
  const sock: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  /** Requests in progress: called with the reply, or with null when the client closes. */
  const waiting = new Map<number, (reply: Record<string, unknown> | null) => void>();
  let answered = false;
  /** The last error the bridge sent with no id (it could not read one), for a request that then times out. */
  let unread: { msg: string; at: number } | null = null;
  let nextId = randomInt(0, 0x7fffffff);
  sock.on('message', (m, from) => {
    let r: Record<string, unknown>;
    try {
      r = hostDecode(new Uint8Array(m)) as Record<string, unknown>;
    } catch {
      return; // not the bridge's
    }
    if (r === null || typeof r !== 'object') return;
    answered = true;
    if (r.id === null && 'err' in r && from.port === port) {
      // The bridge refused a datagram without reading its id: only a request in progress can be it.
      const e = (r.err ?? {}) as { code?: number; msg?: string };
      unread = { msg: new BridgeError(Number(e.code), String(e.msg ?? '')).message, at: Date.now() };
      if (waiting.size === 1) [...waiting.values()][0](r);
      return;
    }
    const fn = waiting.get(r.id as number);
    if (fn) fn(r);
  });
  // A refused datagram (nothing listening on a local port) shows up as an error on the socket.
  let refused = false;
  sock.on('error', () => { refused = true; });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, () => { sock.off('error', reject); resolve(); });
  });
  return {
    request(fields) {
      const id = nextId;
      nextId = (nextId + 1) % 0x100000000;
      const bytes = hostEncode(o.token === undefined ? { ...fields, id } : { ...fields, id, token: o.token });
      if (bytes.length > ENVELOPE_MAX) return Promise.reject(new RequestTooLarge(bytes.length, ENVELOPE_MAX));
      const since = Date.now();
      return new Promise((resolve, reject) => {
        // A host name that does not resolve fails the send itself: say so at once, not after the timeout.
        const send = (): void => {
          sock.send(bytes, port, host, (err) => {
            const code = (err as NodeJS.ErrnoException | null)?.code;
            if (!err || !waiting.has(id) || !(code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME')) return;
            finish();
            reject(new BridgeUnreachable(`cannot find the host "${host}" (${code}): give the bridge's address as --bridge host:port, for example 127.0.0.1:47910`));
          });
        };
        const finish = (): void => {
          clearInterval(again);
          clearTimeout(limit);
          waiting.delete(id);
        };
        waiting.set(id, (r) => {
          finish();
          if (r === null) reject(new Error(`request ${id}: the client closed before the bridge answered`));
          else if ('err' in r) {
            const e = (r.err ?? {}) as { code?: number; msg?: string };
            reject(new BridgeError(Number(e.code), String(e.msg ?? '')));
          } else resolve(r.ok);
        });
        const again = setInterval(send, o.resendMs ?? 1000);
        const ms = o.timeoutMs ?? 5000;
        const limit = setTimeout(() => {
          finish();
          if (unread !== null && unread.at >= since) {
            reject(new BridgeUnreachable(`the bridge at ${host}:${port} did not answer request ${id} within ${ms} ms; meanwhile it refused a request of this client it could not read (${unread.msg}), maybe this one`));
            return;
          }
          if (answered || refused) {
            reject(new BridgeUnreachable(answered
              ? `the bridge at ${host}:${port} did not answer request ${id} within ${ms} ms (it answered others): the device may be slow or unreachable, or the bridge overloaded; try again or raise --timeout`
              : `no bridge answered at ${host}:${port} within ${ms} ms (nothing listens there): start one (npm start, or picolink bridge), or give its address with --bridge host:port`));
            return;
          }
          // Nothing came back: is the bridge there at all, and only the device slow? A quick query says.
          const probe = nextId;
          nextId = (nextId + 1) % 0x100000000;
          const probeBytes = hostEncode(o.token === undefined ? { id: probe, q: 'groups' } : { id: probe, q: 'groups', token: o.token });
          const done = (there: boolean): void => {
            clearTimeout(wait);
            waiting.delete(probe);
            reject(new BridgeUnreachable(there
              ? `the bridge at ${host}:${port} is running, but request ${id} had no answer within ${ms} ms: the device is slow or unreachable (the bridge tries it for about 8 s, then answers with a timeout error: raise --timeout to see it)`
              : `no bridge answered at ${host}:${port} within ${ms} ms: start one (npm start, or picolink bridge), or give its address with --bridge host:port`));
          };
          const wait = setTimeout(() => done(false), PROBE_MS);
          waiting.set(probe, (r) => done(r !== null));
          sock.send(probeBytes, port, host, () => {});
        }, ms);
        send();
      });
    },
    close() {
      for (const fn of [...waiting.values()]) fn(null);
      sock.close();
    },
  };
}

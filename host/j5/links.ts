// How the johnny-five IO plugin (picolink-io.ts) reaches a device's pins service
// (firmware/services/pins.ts): a PinsLink makes request-reply calls to the device and hands up the
// reports the device sends (R calls to OP_EVENT). Two of them:
//
// - bridgeLink('host:port'): through a running bridge (`npm start`, `picolink bridge`), over one TCP
//   connection speaking the bridge's frames (a 2-byte big-endian length, then one CBOR envelope;
//   host/bridge/tcp.ts): calls are {"id", "to", "op", "args"} and the reports arrive as the pushes of
//   an {"sub": "events"} subscription ({"ev": "event", "from", "data"}), since the bridge's node is the
//   requester the device reports to. One connection keeps calls and pushes in one ordered stream; the
//   bridge retries towards the device (at-most-once), so the link itself never resends. A device given
//   by name is looked up in the bridge's directory. Closing the connection fails the calls in flight.
// - directLink(rr): on the device network itself, through the host's own request-reply node (a
//   HostRr over a UDP link, the simulator, a gateway board's tunnel): calls are rr.call, and the node
//   serves OP_EVENT, handing each report to every link on that node. That node must be the plugin's
//   own: a bridge's node already serves OP_EVENT for its subscribers (use bridgeLink there).
// Host only.

import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import type { HostRr } from '../rr/endpoint.ts';
import { RR_ERROR_NAMES, RrError } from '../rr/endpoint.ts';
import { OP_EVENT } from '../../firmware/services/directory.ts';
import { BR_ERROR_NAMES, ENVELOPE_MAX } from '../bridge/envelope.ts';
import { BRIDGE_PORT } from '../bridge/client.ts';

export type ReportFn = (from: number, data: unknown) => void;

export interface PinsLink {
  /** Connect and find the device: its address on the device network. */
  open(device: number | string): Promise<number>;
  /** One request-reply call to the device; rejects with an Error whose `code` is the bridge's or rr's. */
  call(op: number, args: unknown): Promise<unknown>;
  /** Reports (OP_EVENT calls) from any device; the plugin keeps its device's. */
  onReport(fn: ReportFn): void;
  /** Told once when the link is gone (the bridge closed the connection): calls fail from then on. */
  onClose(fn: (why: Error) => void): void;
  close(): Promise<void>;
  /** What the link is, for messages: "bridge 127.0.0.1:47910". */
  readonly label: string;
}

/** An error the device or the bridge answered with (code: rr's 1-9 or the bridge's 16-20). */
export class PinsCallError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'PinsCallError';
  }
}

function parseAddress(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`bridge address "${s}": give host:port, for example 127.0.0.1:${BRIDGE_PORT}`);
  const port = m[3] === undefined ? BRIDGE_PORT : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) throw new Error(`bridge address "${s}": the port must be 1..65535`);
  return { host: m[1] ?? m[2], port };
}

export interface BridgeLinkOptions {
  /** The bridge's token, when it listens beyond loopback. */
  token?: string;
  /** Give up connecting after this long, ms (default 5000). */
  connectMs?: number;
}

export function bridgeLink(address: string, o: BridgeLinkOptions = {}): PinsLink {
  const { host, port } = parseAddress(address);
  const label = `bridge ${host}:${port}`;
  let sock: Socket | null = null;
  let nextId = 1;
  let closed: Error | null = null;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let reportFn: ReportFn | null = null;
  let closeFn: ((why: Error) => void) | null = null;
  let buf: Buffer = Buffer.alloc(0);
  let to = 0;

  function gone(why: Error): void {
    if (closed) return;
    closed = why;
    for (const w of waiting.values()) w.reject(why);
    waiting.clear();
    closeFn?.(why);
  }

  function onFrame(bytes: Uint8Array): void {
    let m: Record<string, unknown>;
    try {
      m = hostDecode(bytes) as Record<string, unknown>;
    } catch {
      return; // not an envelope: nothing to do with it
    }
    if (m === null || typeof m !== 'object') return;
    if (m.ev === 'event') {
      if (typeof m.from === 'number') reportFn?.(m.from, m.data);
      return;
    }
    const w = typeof m.id === 'number' ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m.id as number);
    if ('err' in m) {
      const e = (m.err ?? {}) as { code?: number; msg?: string };
      const code = Number(e.code);
      const name = BR_ERROR_NAMES[code] ?? RR_ERROR_NAMES[code] ?? `error ${code}`;
      w.reject(new PinsCallError(code, e.msg && e.msg !== name ? `${name}: ${e.msg}` : name));
    } else w.resolve(m.ok);
  }

  function request(fields: Record<string, unknown>): Promise<unknown> {
    if (closed) return Promise.reject(closed);
    if (!sock) return Promise.reject(new Error(`${label}: not connected yet`));
    const id = nextId;
    nextId = (nextId + 1) % 0x100000000;
    const bytes = hostEncode(o.token === undefined ? { id, ...fields } : { id, ...fields, token: o.token });
    if (bytes.length > ENVELOPE_MAX) return Promise.reject(new Error(`${label}: a request of ${bytes.length} bytes; the bridge takes ${ENVELOPE_MAX}`));
    const head = Buffer.alloc(2);
    head.writeUInt16BE(bytes.length, 0);
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      sock!.write(Buffer.concat([head, bytes]));
    });
  }

  return {
    label,
    async open(device) {
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host, port });
        const limit = setTimeout(() => {
          s.destroy();
          reject(new Error(`${label}: no connection within ${o.connectMs ?? 5000} ms; is a bridge running there (npm start, picolink bridge)?`));
        }, o.connectMs ?? 5000);
        s.once('error', (e) => {
          clearTimeout(limit);
          reject(new Error(`${label}: ${e.message}; start a bridge (npm start, or picolink bridge --sim) or give its address`));
        });
        s.once('connect', () => {
          clearTimeout(limit);
          s.removeAllListeners('error');
          s.setNoDelay(true);
          sock = s;
          resolve();
        });
      });
      const s = sock!;
      s.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        while (buf.length >= 2) {
          const n = buf.readUInt16BE(0);
          if (buf.length < 2 + n) break;
          onFrame(new Uint8Array(buf.subarray(2, 2 + n)));
          buf = buf.subarray(2 + n);
        }
      });
      s.on('error', (e) => gone(new Error(`${label}: ${e.message}`)));
      s.on('close', () => gone(new Error(`${label}: the connection closed`)));
      await request({ sub: 'events' });
      if (typeof device === 'number') return (to = device);
      const found = (await request({ q: 'devices', name: device })) as { name: string; addr: number }[];
      const hit = found.find((d) => d.name === device);
      if (!hit) throw new Error(`${label}: no device named "${device}" in the bridge's directory (list them with: picolink devices)`);
      return (to = hit.addr);
    },
    call(op, args) {
      return request(args === undefined ? { to, op } : { to, op, args });
    },
    onReport(fn) {
      reportFn = fn;
    },
    onClose(fn) {
      closeFn = fn;
    },
    async close() {
      const s = sock;
      gone(new Error(`${label}: closed`));
      if (s && !s.destroyed) await new Promise<void>((resolve) => s.end(resolve));
    },
  };
}

/** One OP_EVENT handler per node, handing reports to every direct link on it. */
const dispatchers = new WeakMap<HostRr, Set<ReportFn>>();

export function directLink(rr: HostRr): PinsLink {
  let addr = -1;
  let closed = false;
  let fn: ReportFn | null = null;
  const mine: ReportFn = (from, data) => fn?.(from, data);
  return {
    label: 'the device network',
    async open(device) {
      if (typeof device !== 'number') throw new Error(`device "${device}": on the device network give its address (a number); names live in a bridge's directory`);
      addr = device;
      let set = dispatchers.get(rr);
      if (!set) {
        const s = new Set<ReportFn>();
        set = s;
        dispatchers.set(rr, s);
        rr.register(OP_EVENT, (args, src) => {
          for (const f of s) f(src, args);
          return null;
        });
      }
      set.add(mine);
      return device;
    },
    async call(op, args) {
      if (closed) throw new Error('the link is closed');
      try {
        return await rr.call(addr, op, args);
      } catch (e) {
        if (e instanceof RrError) throw new PinsCallError(e.code, e.message);
        throw e;
      }
    },
    onReport(f) {
      fn = f;
    },
    onClose() {},
    async close() {
      closed = true;
      dispatchers.get(rr)?.delete(mine);
    },
  };
}

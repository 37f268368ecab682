// The bridge's envelope: what an IP client sends to reach a device, and what comes back. One CBOR map
// per UDP datagram or TCP frame (JSON on a TCP line: host/bridge/tcp.ts). Every field is checked here,
// since the bytes come from anyone who can reach the port: a request that fails a check gets an error
// reply naming the field.
//
// Requests (every one has "id": uint < 2^32, and "token"?: text, required beyond loopback):
//   call     {"to": device address 1..0xfffe or a name, "op": 0..255, "args"?: any,
//             "proto"?: "R" | "RR" | "RRA" (default "RR")}      -> {"id", "ok": the device's result}
//                                                                  (R: null once the request is sent)
//   devices  {"q": "devices", "name"?: text, "type"?: text, "has"?: op}  the directory: white pages by
//             name, yellow pages by type and operation  -> {"id", "ok": [{name, addr, type, ops}, ...]}
//   groups   {"q": "groups"}                  -> {"id", "ok": [{group, ip, port}, ...]} (groups.ts)
//   multicast {"group": 0..254, "data": any}  to the device group (and the IP group)  -> {"id", "ok": null}
//   sub      {"sub": "events" | "groups", "group"?: 0..254}   (TCP only) -> {"id", "ok": null}, then
//             pushes {"ev": "event", "from", "name"?, "data"} or {"ev": "group", "group", "from", "data"}
//   unsub    {"unsub": "events" | "groups", "group"?}
// Errors   {"id": ..., "err": {"code": uint, "msg": text}}  (codes 1-9: firmware/rr/rr.ts; 16 up: below)
// The id is the client's: the bridge answers a repeated (client, id) call from its reply cache without
// calling the device again, so at-most-once holds from the IP client to the device (core.ts).
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA } from '../../firmware/rr/frame.ts';

/** The datagram is not a CBOR map of the fields above (the message says which and why). */
export const BR_E_MALFORMED = 16;
/** No device has that name. */
export const BR_E_UNKNOWN_DEVICE = 17;
/** Missing or wrong token. */
export const BR_E_DENIED = 18;
/** Too many requests in progress for this client or in all. */
export const BR_E_BUSY = 19;

/** A subscription needs a stream: the UDP front has none. */
export const BR_E_NO_STREAM = 20;

export const BR_ERROR_NAMES: Record<number, string> = {
  [BR_E_MALFORMED]: 'malformed request', [BR_E_UNKNOWN_DEVICE]: 'unknown device', [BR_E_DENIED]: 'denied',
  [BR_E_BUSY]: 'bridge busy', [BR_E_NO_STREAM]: 'needs a stream',
};

/** Largest envelope accepted, bytes (a UDP datagram under the IPv6 minimum MTU). */
export const ENVELOPE_MAX = 1200;
/** Device groups are MAC addresses 0xFF00 + group (0xFFFF is broadcast, not a group). */
export const GROUP_MAX = 254;

export interface CallRequest {
  kind: 'call';
  id: number;
  to: number | string;
  op: number;
  args: unknown;
  proto: number;
  token: string | undefined;
}
export interface QueryRequest {
  kind: 'devices' | 'groups';
  id: number;
  name: string | undefined;
  type: string | undefined;
  has: number | undefined;
  token: string | undefined;
}
export interface MulticastRequest {
  kind: 'multicast';
  id: number;
  group: number;
  data: unknown;
  token: string | undefined;
}
export interface SubRequest {
  kind: 'sub' | 'unsub';
  id: number;
  topic: 'events' | 'groups';
  /** groups: one group, or -1 for all. */
  group: number;
  token: string | undefined;
}
export type Request = CallRequest | QueryRequest | MulticastRequest | SubRequest;

export class EnvelopeError extends Error {
  readonly code: number;
  /** The request's id when it could be read (so the reply can carry it), else null. */
  readonly id: number | null;
  constructor(code: number, message: string, id: number | null) {
    super(message);
    this.code = code;
    this.id = id;
  }
}

const PROTOS: Record<string, number> = { R: PROTO_R, RR: PROTO_RR, RRA: PROTO_RRA };
const FIELDS: Record<string, Set<string>> = {
  call: new Set(['id', 'token', 'to', 'op', 'args', 'proto']),
  q: new Set(['id', 'token', 'q', 'name', 'type', 'has']),
  multicast: new Set(['id', 'token', 'group', 'data']),
  sub: new Set(['id', 'token', 'sub', 'unsub', 'group']),
};

function isUint(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
}

function bad(msg: string, id: number | null): EnvelopeError {
  return new EnvelopeError(BR_E_MALFORMED, msg, id);
}

function text(m: Record<string, unknown>, k: string, max: number, id: number): string | undefined {
  const v = m[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length < 1 || v.length > max) throw bad(`"${k}" must be text of 1..${max} characters`, id);
  return v;
}

/** The map of a decoded request, or an error that says what to send instead. */
export function decodeMap(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length === 0) throw bad('empty request: send a CBOR map {id, to, op, args?, proto?}', null);
  if (bytes.length > ENVELOPE_MAX) throw bad(`request of ${bytes.length} bytes: at most ${ENVELOPE_MAX}`, null);
  let v: unknown;
  try {
    v = hostDecode(bytes);
  } catch (e) {
    throw bad(`not CBOR: ${(e as Error).message}`, null);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw bad('not a CBOR map: send {id, to, op, args?, proto?}', null);
  }
  return v instanceof Map ? Object.fromEntries(v as Map<unknown, unknown>) as Record<string, unknown> : v as Record<string, unknown>;
}

/** Decode and check a request; throws EnvelopeError (code BR_E_MALFORMED) saying what is wrong. */
export function parseRequest(bytes: Uint8Array): Request {
  return checkRequest(decodeMap(bytes));
}

/** Check a decoded request map (the NDJSON front decodes JSON itself). */
export function checkRequest(m: Record<string, unknown>): Request {
  const id = isUint(m.id, 0xffffffff) ? m.id : null;
  if (id === null) throw bad('"id" must be an unsigned integer below 2^32', null);
  const shape = m.q !== undefined ? 'q' : m.sub !== undefined || m.unsub !== undefined ? 'sub' : m.group !== undefined ? 'multicast' : 'call';
  for (const k of Object.keys(m)) if (!FIELDS[shape].has(k)) throw bad(`unknown field "${k.slice(0, 32)}" in a ${shape === 'q' ? 'query' : shape} request`, id);
  if (m.token !== undefined && (typeof m.token !== 'string' || m.token.length > 256)) {
    throw bad('"token" must be text of at most 256 characters', id);
  }
  const token = m.token as string | undefined;
  if (shape === 'q') {
    if (m.q !== 'devices' && m.q !== 'groups') throw bad('"q" must be "devices" or "groups"', id);
    const has = m.has;
    if (has !== undefined && !isUint(has, 255)) throw bad('"has" must be an operation number 0..255', id);
    return { kind: m.q, id, name: text(m, 'name', 64, id), type: text(m, 'type', 32, id), has: has as number | undefined, token };
  }
  if (shape === 'sub') {
    if (m.sub !== undefined && m.unsub !== undefined) throw bad('give "sub" or "unsub", not both', id);
    const topic = m.sub ?? m.unsub;
    if (topic !== 'events' && topic !== 'groups') throw bad(`"${m.sub !== undefined ? 'sub' : 'unsub'}" must be "events" or "groups"`, id);
    if (m.group !== undefined && (topic !== 'groups' || !isUint(m.group, GROUP_MAX))) throw bad(`"group" must be a group 0..${GROUP_MAX}, with "groups"`, id);
    return { kind: m.sub !== undefined ? 'sub' : 'unsub', id, topic, group: m.group === undefined ? -1 : m.group as number, token };
  }
  if (shape === 'multicast') {
    if (!isUint(m.group, GROUP_MAX)) throw bad(`"group" must be a group 0..${GROUP_MAX}`, id);
    return { kind: 'multicast', id, group: m.group, data: m.data === undefined ? null : m.data, token };
  }
  const to = m.to;
  if (!(isUint(to, 0xfffe) && to >= 1) && !(typeof to === 'string' && to.length >= 1 && to.length <= 64)) {
    throw bad('"to" must be a device address 1..65534 or a name of 1..64 characters', id);
  }
  if (!isUint(m.op, 255)) throw bad('"op" must be an operation number 0..255', id);
  let proto = PROTO_RR;
  if (m.proto !== undefined) {
    if (typeof m.proto !== 'string' || !(m.proto in PROTOS)) throw bad('"proto" must be "R", "RR" or "RRA"', id);
    proto = PROTOS[m.proto];
  }
  return { kind: 'call', id, to: to as number | string, op: m.op, args: m.args, proto, token };
}

export function okReply(id: number, result: unknown): Uint8Array {
  return hostEncode({ id, ok: result === undefined ? null : result });
}

export function errReply(id: number | null, code: number, msg: string): Uint8Array {
  return hostEncode({ id, err: { code, msg } });
}

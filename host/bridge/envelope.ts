// The bridge's envelope: what an IP client sends to reach a device, and what comes back. One CBOR map
// per UDP datagram (and, later, per TCP frame). Every field is checked here, since the bytes come from
// anyone who can reach the port: a request that fails a check gets an error reply naming the field.
//
// Request  {"id": uint < 2^32, "to": device address 1..0xfffe or a name, "op": 0..255,
//           "args"?: any CBOR value, "proto"?: "R" | "RR" | "RRA" (default "RR"),
//           "token"?: text (required when the bridge listens beyond loopback)}
// Reply    {"id": the request's id, "ok": result}              (RR and RRA: the device's result;
//                                                                R: null once the request is sent)
//          {"id": ..., "err": {"code": uint, "msg": text}}   (codes 1-9: firmware/rr/rr.ts; 16 up: below)
// The id is the client's: the bridge answers a repeated (client, id) from its reply cache without
// calling the device again, so at-most-once holds from the IP client to the device (see udp.ts).
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

export const BR_ERROR_NAMES: Record<number, string> = {
  [BR_E_MALFORMED]: 'malformed request', [BR_E_UNKNOWN_DEVICE]: 'unknown device', [BR_E_DENIED]: 'denied',
  [BR_E_BUSY]: 'bridge busy',
};

/** Largest envelope accepted, bytes (a UDP datagram under the IPv6 minimum MTU). */
export const ENVELOPE_MAX = 1200;

export interface Request {
  id: number;
  to: number | string;
  op: number;
  args: unknown;
  proto: number;
  token: string | undefined;
}

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
const FIELDS = new Set(['id', 'to', 'op', 'args', 'proto', 'token']);

function isUint(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= max;
}

/** Decode and check a request; throws EnvelopeError (code BR_E_MALFORMED) saying what is wrong. */
export function parseRequest(bytes: Uint8Array): Request {
  if (bytes.length === 0) throw new EnvelopeError(BR_E_MALFORMED, 'empty datagram: send a CBOR map {id, to, op, args?, proto?}', null);
  if (bytes.length > ENVELOPE_MAX) throw new EnvelopeError(BR_E_MALFORMED, `request of ${bytes.length} bytes: at most ${ENVELOPE_MAX}`, null);
  let v: unknown;
  try {
    v = hostDecode(bytes);
  } catch (e) {
    throw new EnvelopeError(BR_E_MALFORMED, `not CBOR: ${(e as Error).message}`, null);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw new EnvelopeError(BR_E_MALFORMED, 'not a CBOR map: send {id, to, op, args?, proto?}', null);
  }
  const m = v instanceof Map ? Object.fromEntries(v as Map<unknown, unknown>) as Record<string, unknown> : v as Record<string, unknown>;
  const id = isUint(m.id, 0xffffffff) ? m.id : null;
  if (id === null) throw new EnvelopeError(BR_E_MALFORMED, '"id" must be an unsigned integer below 2^32', null);
  for (const k of Object.keys(m)) if (!FIELDS.has(k)) throw new EnvelopeError(BR_E_MALFORMED, `unknown field "${k.slice(0, 32)}"`, id);
  const to = m.to;
  if (!(isUint(to, 0xfffe) && to >= 1) && !(typeof to === 'string' && to.length >= 1 && to.length <= 64)) {
    throw new EnvelopeError(BR_E_MALFORMED, '"to" must be a device address 1..65534 or a name of 1..64 characters', id);
  }
  if (!isUint(m.op, 255)) throw new EnvelopeError(BR_E_MALFORMED, '"op" must be an operation number 0..255', id);
  let proto = PROTO_RR;
  if (m.proto !== undefined) {
    if (typeof m.proto !== 'string' || !(m.proto in PROTOS)) throw new EnvelopeError(BR_E_MALFORMED, '"proto" must be "R", "RR" or "RRA"', id);
    proto = PROTOS[m.proto];
  }
  if (m.token !== undefined && (typeof m.token !== 'string' || m.token.length > 256)) {
    throw new EnvelopeError(BR_E_MALFORMED, '"token" must be text of at most 256 characters', id);
  }
  return { id, to: to as number | string, op: m.op, args: m.args, proto, token: m.token as string | undefined };
}

export function okReply(id: number, result: unknown): Uint8Array {
  return hostEncode({ id, ok: result === undefined ? null : result });
}

export function errReply(id: number | null, code: number, msg: string): Uint8Array {
  return hostEncode({ id, err: { code, msg } });
}

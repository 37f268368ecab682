// What a frame on a gateway's serial line says, for people (`picolink monitor`) and programs (--json):
// the MAC tunnel's messages (firmware/mac/tunnel.ts) with the MAC payload inside followed through its
// service byte (telemetry readings, request-reply messages, group messages), and the bare telemetry
// frames a relaying gateway (firmware/gateway.ts) sends up. Anything else is shown as bytes. Every
// length is checked before a field is read: the bytes come off a wire. Host only.

import { hostDecode } from '../codec/cbor.ts';
import { toJson } from '../bridge/tcp.ts';
import { parseTelemetry, TELEMETRY_TYPE } from '../../firmware/codec/telemetry.ts';
import { parseRr, RR_ACK, RR_ERROR, RR_REPLY, RR_REQUEST } from '../../firmware/rr/frame.ts';
import type { RrHeader } from '../../firmware/rr/frame.ts';
import { SVC_APP, SVC_GROUP, SVC_PSYNC, SVC_RR, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { TUN_HELLO, TUN_JOIN, TUN_RX, TUN_RX_HDR, TUN_SENT, TUN_TX } from '../../firmware/mac/tunnel.ts';
import { RR_ERROR_NAMES } from '../rr/endpoint.ts';

export interface Decoded {
  /** One line for people. */
  text: string;
  /** The same as fields, for --json. */
  fields: Record<string, unknown>;
}

const hex = (b: Uint8Array, from: number, to: number): string => Buffer.from(b.subarray(from, to)).toString('hex');
const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const STATUS = ['ok', 'collision', 'no ack', 'deferred', 'queue full', 'error'];
const RR_TYPES: Record<number, string> = { [RR_REQUEST]: 'REQUEST', [RR_REPLY]: 'REPLY', [RR_ACK]: 'ACK', [RR_ERROR]: 'ERROR' };
const RR_PROTOS = ['R', 'RR', 'RRA'];

/** A CBOR body as JSON text, or its bytes when it is not CBOR. */
function body(b: Uint8Array, from: number, to: number): { text: string; value: unknown } {
  if (to <= from) return { text: '', value: undefined };
  try {
    const v = hostDecode(b.slice(from, to));
    return { text: toJson(v), value: v };
  } catch {
    return { text: `0x${hex(b, from, to)}`, value: { hex: hex(b, from, to) } };
  }
}

/** A telemetry frame at b[from..to): "telemetry 2 #17 {...}". */
function telemetry(b: Uint8Array, from: number, to: number): Decoded | null {
  const h = { src: 0, seq: 0 };
  const view = b.subarray(from, to);
  const off = parseTelemetry(view, view.length, h);
  if (!off) return null;
  const v = body(view, off, view.length);
  return { text: `telemetry from ${h.src} #${h.seq} ${v.text}`, fields: { proto: 'telemetry', src: h.src, seq: h.seq, data: v.value } };
}

/** A MAC payload led by its service byte. */
export function describePayload(b: Uint8Array, from: number, to: number): Decoded {
  if (to <= from) return { text: 'empty payload', fields: { proto: 'empty' } };
  const svc = b[from];
  const p = from + 1;
  if (svc === SVC_TELEMETRY) {
    const t = telemetry(b, p, to);
    if (t) return t;
  } else if (svc === SVC_RR) {
    const h: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
    const view = b.subarray(p, to);
    if (parseRr(view, view.length, h)) {
      const v = body(view, h.off, view.length);
      const what = h.type === RR_REQUEST ? ` op ${h.op}` : h.type === RR_ERROR ? ` ${RR_ERROR_NAMES[h.op] ?? `code ${h.op}`}` : '';
      const text = `rr ${RR_TYPES[h.type]} id ${h.id}${what} ${RR_PROTOS[h.proto] ?? ''}${h.retry ? ' retry' : ''}${h.amo ? ' at-most-once' : ''}${v.text ? ' ' + v.text : ''}`;
      return { text, fields: { proto: 'rr', type: RR_TYPES[h.type], id: h.id, op: h.op, rrProto: RR_PROTOS[h.proto], retry: h.retry, amo: h.amo, data: v.value } };
    }
  } else if (svc === SVC_GROUP && to - p >= 4) {
    const v = body(b, p + 4, to);
    return { text: `group from ${u16(b, p)} #${u16(b, p + 2)} ${v.text}`, fields: { proto: 'group', origin: u16(b, p), seq: u16(b, p + 2), data: v.value } };
  } else if (svc === SVC_PSYNC) {
    return { text: `psync ${to - p} bytes 0x${hex(b, p, to)}`, fields: { proto: 'psync', hex: hex(b, p, to) } };
  } else if (svc === SVC_APP) {
    return { text: `app 0x${hex(b, p, to)}`, fields: { proto: 'app', hex: hex(b, p, to) } };
  }
  return { text: `service ${svc}: 0x${hex(b, p, to)}`, fields: { proto: 'unknown', service: svc, hex: hex(b, p, to) } };
}

const addr = (a: number): string => (a === 0xffff ? 'broadcast' : a >= 0xff00 ? `group ${a - 0xff00}` : String(a));

/** One frame from a gateway's line (b[0..len)). */
export function describeFrame(b: Uint8Array, len: number): Decoded {
  const k = b[0];
  if (k === TUN_RX && len > TUN_RX_HDR) {
    const src = u16(b, 1);
    const dst = u16(b, 3);
    const rssi = b[5] > 127 ? b[5] - 256 : b[5];
    const p = describePayload(b, TUN_RX_HDR, len);
    return { text: `rx ${src} -> ${addr(dst)} ${rssi} dBm: ${p.text}`, fields: { kind: 'rx', src, dst, rssi, ...p.fields } };
  }
  if (k === TUN_SENT && len === 5) {
    const st = STATUS[b[1]] ?? `status ${b[1]}`;
    return { text: `sent to ${addr(u16(b, 3))}: ${st} after ${b[2]} transmission${b[2] === 1 ? '' : 's'}`, fields: { kind: 'sent', dst: u16(b, 3), status: st, transmissions: b[2] } };
  }
  if (k === TUN_TX && len > 3) {
    const p = describePayload(b, 3, len);
    return { text: `tx -> ${addr(u16(b, 1))}: ${p.text}`, fields: { kind: 'tx', dst: u16(b, 1), ...p.fields } };
  }
  if (k === TUN_HELLO && len === 5) {
    return { text: `hello: gateway at address ${u16(b, 2)}, tunnel v${b[1]}, ${b[4]}-byte payloads`, fields: { kind: 'hello', addr: u16(b, 2), version: b[1], mtu: b[4] } };
  }
  if (k === TUN_HELLO && len === 1) return { text: 'hello?', fields: { kind: 'hello?' } };
  if (k === TUN_JOIN && len === 4) {
    return { text: `${b[3] ? 'join' : 'leave'} ${addr(u16(b, 1))}`, fields: { kind: b[3] ? 'join' : 'leave', group: u16(b, 1) - 0xff00 } };
  }
  if (k === TELEMETRY_TYPE) {
    const t = telemetry(b, 0, len);
    if (t) return t;
  }
  return { text: `frame of ${len} bytes 0x${hex(b, 0, len)}`, fields: { kind: 'unknown', hex: hex(b, 0, len) } };
}

// The page's decoder of a gateway's serial line (host/web/): one line of text per frame, as `picolink
// monitor` shows it (host/monitor/decode.ts), made of the firmware's own parsers and CBOR decoder so it
// runs in a browser (the monitor's uses cbor-x and Node's Buffer). Frames are the MAC tunnel's
// (firmware/mac/tunnel.ts); a payload is followed through its service byte (firmware/mac/ports.ts):
// telemetry readings, request-reply messages, group messages. Every length is checked before a field
// is read: the bytes come off a wire. Byte strings show as {"hex": ...}, as on the bridge's fronts.

import { cborDecode, cborState, CBOR_OK } from '../../firmware/codec/cbor.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { parseRr, RR_ACK, RR_ERROR, RR_REPLY, RR_REQUEST } from '../../firmware/rr/frame.ts';
import type { RrHeader } from '../../firmware/rr/frame.ts';
import { SVC_APP, SVC_GROUP, SVC_PSYNC, SVC_RR, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { TUN_HELLO, TUN_JOIN, TUN_RX, TUN_RX_HDR, TUN_SENT, TUN_TX } from '../../firmware/mac/tunnel.ts';

/** What one frame on the line was, for the live view. */
export interface LineFrame {
  /** rx: a payload the gateway's MAC received; tx: one the page sends; sent: an outcome; hello, join, other. */
  kind: string;
  /** The device at the other end (0 when the frame is the tunnel's own). */
  peer: number;
  text: string;
}

const RR_TYPES: Record<number, string> = { [RR_REQUEST]: 'REQUEST', [RR_REPLY]: 'REPLY', [RR_ACK]: 'ACK', [RR_ERROR]: 'ERROR' };
const RR_PROTOS = ['R', 'RR', 'RRA'];
const STATUS = ['ok', 'collision', 'no ack', 'deferred', 'queue full', 'error'];
const st = cborState(8, 256);

export function hex(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return s;
}

/** JSON text of a decoded value: byte strings as {"hex": ...}. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? { hex: hex(x, 0, x.length) } : x)) ?? 'undefined';
}

function body(b: Uint8Array, from: number, to: number): string {
  if (to <= from) return '';
  const v = cborDecode(b, from, to, st);
  return st.err === CBOR_OK ? jsonText(v) : `0x${hex(b, from, to)}`;
}

const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const addr = (a: number): string => (a === 0xffff ? 'broadcast' : a >= 0xff00 ? `group ${a - 0xff00}` : String(a));

/** A MAC payload b[from..to) led by its service byte. */
export function describePayload(b: Uint8Array, from: number, to: number): string {
  if (to <= from) return 'empty payload';
  const svc = b[from];
  const p = from + 1;
  if (svc === SVC_TELEMETRY) {
    const h = { src: 0, seq: 0 };
    const view = b.subarray(p, to);
    const off = parseTelemetry(view, view.length, h);
    if (off) return `telemetry from ${h.src} #${h.seq} ${body(view, off, view.length)}`;
  } else if (svc === SVC_RR) {
    const h: RrHeader = { type: 0, proto: 0, retry: false, amo: false, id: 0, op: 0, ack: 0, mask: 0, off: 0 };
    const view = b.subarray(p, to);
    if (parseRr(view, view.length, h)) {
      const what = h.type === RR_REQUEST ? ` op ${h.op}` : h.type === RR_ERROR ? ` code ${h.op}` : '';
      const v = body(view, h.off, view.length);
      return `rr ${RR_TYPES[h.type]} id ${h.id}${what} ${RR_PROTOS[h.proto] ?? ''}${h.retry ? ' retry' : ''}${v ? ' ' + v : ''}`;
    }
  } else if (svc === SVC_GROUP && to - p >= 4) {
    return `group from ${u16(b, p)} #${u16(b, p + 2)} ${body(b, p + 4, to)}`;
  } else if (svc === SVC_PSYNC) {
    return `psync ${to - p} bytes`;
  } else if (svc === SVC_APP) {
    return `app 0x${hex(b, p, to)}`;
  }
  return `service ${svc}: 0x${hex(b, p, to)}`;
}

/** One tunnel frame b[0..len). */
export function describeFrame(b: Uint8Array, len: number): LineFrame {
  const k = b[0];
  if (k === TUN_RX && len > TUN_RX_HDR) {
    const src = u16(b, 1);
    const rssi = b[5] > 127 ? b[5] - 256 : b[5];
    return { kind: 'rx', peer: src, text: `rx ${src} -> ${addr(u16(b, 3))} ${rssi} dBm: ${describePayload(b, TUN_RX_HDR, len)}` };
  }
  if (k === TUN_TX && len > 3) {
    const dst = u16(b, 1);
    return { kind: 'tx', peer: dst, text: `tx -> ${addr(dst)}: ${describePayload(b, 3, len)}` };
  }
  if (k === TUN_SENT && len === 5) {
    return { kind: 'sent', peer: u16(b, 3), text: `sent to ${addr(u16(b, 3))}: ${STATUS[b[1]] ?? `status ${b[1]}`} after ${b[2]} transmission${b[2] === 1 ? '' : 's'}` };
  }
  if (k === TUN_HELLO && len === 5) return { kind: 'hello', peer: 0, text: `hello: gateway at address ${u16(b, 2)}, tunnel v${b[1]}, ${b[4]}-byte payloads` };
  if (k === TUN_HELLO && len === 1) return { kind: 'hello', peer: 0, text: 'hello?' };
  if (k === TUN_JOIN && len === 4) return { kind: 'join', peer: 0, text: `${b[3] ? 'join' : 'leave'} ${addr(u16(b, 1))}` };
  return { kind: 'other', peer: 0, text: `frame of ${len} bytes 0x${hex(b, 0, len)}` };
}

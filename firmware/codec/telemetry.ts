// Telemetry frame: a device's readings, broadcast on the device network (proto 1 in captures;
// host/wireshark/picolink.lua dissects it).
//
//   offset  field  size  meaning
//   0       type   u8    0x54 ('T')
//   1       src    u16   sending device id, big-endian
//   3       seq    u16   sequence number, big-endian, wraps at 65536
//   5       body   ...   one CBOR map (firmware/codec/cbor.ts subset): the readings
//
// Board code. parse/emit pairs as everywhere in firmware/codec: lengths checked first, no throw.

export const TELEMETRY_TYPE = 0x54;
/** Field offsets. */
export const TM_TYPE = 0;
export const TM_SRC = 1;
export const TM_SEQ = 3;
export const TM_HDR = 5;

export interface TelemetryHeader {
  src: number;
  seq: number;
}

/** Write the header into buf; returns the offset of the body (TM_HDR), or 0 if buf is too short. */
export function emitTelemetry(h: TelemetryHeader, buf: Uint8Array): number {
  if (buf.length < TM_HDR) return 0;
  buf[TM_TYPE] = TELEMETRY_TYPE;
  buf[TM_SRC] = (h.src >>> 8) & 0xff;
  buf[TM_SRC + 1] = h.src & 0xff;
  buf[TM_SEQ] = (h.seq >>> 8) & 0xff;
  buf[TM_SEQ + 1] = h.seq & 0xff;
  return TM_HDR;
}

/** Read the header of buf[0..len) into h. Returns the body offset, or 0 if this is not a telemetry frame. */
export function parseTelemetry(buf: Uint8Array, len: number, h: TelemetryHeader): number {
  if (len < TM_HDR + 1 || len > buf.length || buf[TM_TYPE] !== TELEMETRY_TYPE) return 0;
  h.src = (buf[TM_SRC] << 8) | buf[TM_SRC + 1];
  h.seq = (buf[TM_SEQ] << 8) | buf[TM_SEQ + 1];
  return TM_HDR;
}

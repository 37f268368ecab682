// The host's one CBOR configuration (RFC 8949, through cbor-x): the bridge and every host tool encode and
// decode with these two functions, so that what they write is byte for byte what firmware/codec/cbor.ts
// writes for the same value (design §5: the CBOR envelope between IP programs and devices).
//
// Options, and why:
//   useRecords: false       plain CBOR maps, not cbor-x's record extension (tag 0xdfff...), which the
//                           firmware does not speak.
//   tagUint8Array: false    Uint8Array as a bare byte string (major type 2), not wrapped in tag 64.
//   variableMapSize: true   the shortest map head (0xa0 + n below 24 entries); without it cbor-x writes
//                           every object with a 2-byte length (0xb9 nn nn) so it can back-patch the count.
//   useFloat32: NEVER       every non-integer as float64 (0xfb). cbor-x's float32 modes pick float32 by a
//                           decimal-rounding test; float64 always is exact and is the rule the firmware
//                           mirrors, with no rounding table to carry on a board.
//   mapsAsObjects: true     maps decode to plain objects, as on the board.
//   int64AsNumber: true     64-bit integer heads decode to numbers (exact up to 2^53), not BigInt.
//   copyBuffers: true       decoded byte strings are copies, not views into the input buffer.
// Integers: cbor-x writes integers in [-2^32, 2^32) with the shortest head and everything else as float64;
// that, not an option, is why the firmware writes no 64-bit integer heads.
// These throw on bad input (host code); the firmware decoder is the one that returns error codes.
import { Encoder, FLOAT32_OPTIONS, type Options } from 'cbor-x';
import { CBOR_MALFORMED, CBOR_OK } from '../../firmware/codec/cbor.ts';
import type { CborState } from '../../firmware/codec/cbor.ts';
import type { RrCodec } from '../../firmware/rr/rr.ts';

const options: Options & { int64AsNumber: boolean } = {
  useRecords: false,
  tagUint8Array: false,
  variableMapSize: true,
  useFloat32: FLOAT32_OPTIONS.NEVER,
  mapsAsObjects: true,
  int64AsNumber: true,
  copyBuffers: true,
};

const codec = new Encoder(options);

/** Encodes `value` as CBOR. The result is a plain Uint8Array view that later calls do not overwrite. */
export function hostEncode(value: unknown): Uint8Array {
  const b = codec.encode(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes exactly one CBOR item filling `bytes`; throws on malformed, truncated or trailing input. */
export function hostDecode(bytes: Uint8Array): unknown {
  // A Buffer input would make the copied byte strings Buffers too (slice follows the species).
  const src = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  return codec.decode(src);
}

/** The host's codec for request-reply (firmware/rr/rr.ts): cbor-x, with the endpoint's error contract. */
export const hostRrCodec: RrCodec = {
  encode(value: unknown, out: Uint8Array, off: number): number {
    let b: Uint8Array;
    try {
      b = hostEncode(value);
    } catch {
      return -1;
    }
    if (b.length > out.length - off) return -1;
    out.set(b, off);
    return off + b.length;
  },
  decode(buf: Uint8Array, off: number, end: number, st: CborState): unknown {
    try {
      const v = hostDecode(buf.subarray(off, end));
      st.err = CBOR_OK;
      return v;
    } catch {
      st.err = CBOR_MALFORMED;
      return undefined;
    }
  },
};

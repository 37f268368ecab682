// The host endpoint's codec for request-reply arguments and results: the firmware's CBOR subset codec
// (firmware/codec/cbor.ts) first, cbor-x (host/codec/cbor.ts) for whatever the subset refuses.
//
// Why: on a 15-byte reading ({t, h, mv}) cbor-x takes 0.2-0.7 µs to encode and 0.4-1.0 µs to decode
// in Node 20 (short batches to a long loop, where its garbage shows: an output buffer, a view of it, a
// copy, its decoder's per-call setup), and a request-reply round trip pays two of each. The firmware
// codec writes into the frame buffer and reads from it in place: about 0.1 µs and 0.13 µs. Measured
// on the whole round trip (host/rr/endpoint.ts), the switch saves 1.1 µs of CPU against a 35-40 µs
// loopback UDP echo.
//
// Same bytes, same values: the firmware codec writes, for every value inside its subset, byte for byte
// what cbor-x writes with the host's configuration (that is its contract, and
// test/host/rr/codec.test.ts checks it against cbor-x on generated values), and refuses everything
// else, so encode falls back to cbor-x exactly where the bytes could differ. Decoding is likewise
// first the firmware decoder (strict: exactly one item, no tags, no undefined, text keys, valid UTF-8,
// at most CBOR_MAX_DEPTH deep), then cbor-x for any input it refuses, which either decodes it as
// before (tags, undefined, integer keys, deep nesting) or fails as before. A caller therefore sees
// what hostRrCodec alone gave it, only sooner.
import { CBOR_MALFORMED, CBOR_MAX_DEPTH, CBOR_OK, cborDecode, cborEncode, cborState } from '../../firmware/codec/cbor.ts';
import type { CborState } from '../../firmware/codec/cbor.ts';
import type { RrCodec } from '../../firmware/rr/rr.ts';
import { hostRrCodec } from '../codec/cbor.ts';

// Byte strings come back as copies (a handler may keep its arguments after the frame is reused),
// any length the frame holds, exactly one item.
const st: CborState = cborState(CBOR_MAX_DEPTH, 0x7fffffff);
st.copy = true;

export const fastRrCodec: RrCodec = {
  encode(value: unknown, out: Uint8Array, off: number): number {
    const n = cborEncode(value, out, off);
    return n >= 0 ? n : hostRrCodec.encode(value, out, off);
  },
  decode(buf: Uint8Array, off: number, end: number, state: CborState): unknown {
    const v = cborDecode(buf, off, end, st);
    if (st.err === CBOR_OK) {
      state.err = CBOR_OK;
      return v;
    }
    const w = hostRrCodec.decode(buf, off, end, state);
    if (state.err !== CBOR_OK) state.err = CBOR_MALFORMED;
    return w;
  },
};

// Splitting what a serial line carries into frames and text, for `picolink monitor`: a board's line
// carries picolink frames (0x00-delimited COBS + CRC-16, hal/framing/cobs.ts) and, around them, whatever
// the board prints (Espruino's banner and REPL, a program's console.log).
//
// Choices: bytes go through the frame decoder one at a time, so each delimiter can be matched to
// whether a frame ended there. Bytes since the last delimiter are text while every one of them is
// printable ASCII, tab, CR or LF: a text line is emitted at each LF (and what is pending, like a prompt
// with no newline, on flush()). A span that was neither a good frame nor text (line noise, a frame that
// failed its CRC) is reported as noise with its length. Text in a span is held to TEXT_MAX bytes; a longer
// line is emitted in pieces. A frame whose bytes are all printable and that contains a LF would be
// shown as text: frames on a picolink line start with a code byte and a kind (1..5) or 'T', so this
// does not happen with picolink's own traffic. Host only.

import { frameDecoder } from '../../hal/framing/cobs.ts';
import type { DecoderStats } from '../../hal/framing/cobs.ts';

export const TEXT_MAX = 1024;

export interface StreamHandlers {
  frame(frame: Uint8Array, len: number): void;
  text(line: string): void;
  noise(bytes: number): void;
}

export interface LineSplitter {
  push(bytes: Uint8Array, len: number): void;
  /** Emit pending text (a prompt without a newline). */
  flush(): void;
  readonly stats: DecoderStats & { textLines: number; noiseBytes: number };
}

export function lineSplitter(mtu: number, h: StreamHandlers): LineSplitter {
  let framed = false;
  const dec = frameDecoder(mtu, (f, len) => {
    framed = true;
    h.frame(f, len);
  });
  const stats = Object.assign(dec.stats, { textLines: 0, noiseBytes: 0 });
  const span: number[] = [];
  let spanLen = 0; // bytes since the last delimiter (span holds them while they may be text)
  let printable = true;
  const one = new Uint8Array(1);

  const text = (): void => {
    let s = String.fromCharCode(...span);
    span.length = 0;
    s = s.replace(/\r?\n$/, '').replace(/\r$/, '');
    stats.textLines++;
    h.text(s);
  };
  const endSpan = (): void => {
    if (!framed && spanLen > 0) {
      if (printable && span.length > 0) text();
      else if (!printable) {
        stats.noiseBytes += spanLen;
        h.noise(spanLen);
      }
    }
    span.length = 0;
    spanLen = 0;
    printable = true;
    framed = false;
  };

  return {
    stats,
    push(bytes, len) {
      for (let i = 0; i < len; i++) {
        const b = bytes[i];
        one[0] = b;
        dec.push(one, 1);
        if (b === 0) {
          endSpan();
          continue;
        }
        spanLen++;
        if (!printable) continue;
        if (!((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13)) {
          // Not text after all: what was held as text so far is part of the noise (or of a frame).
          printable = false;
          span.length = 0;
          continue;
        }
        span.push(b);
        if (b === 10 || span.length >= TEXT_MAX) text();
      }
    },
    flush() {
      if (printable && span.length > 0) text();
    },
  };
}

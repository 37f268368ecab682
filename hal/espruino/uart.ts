// UART driver for Espruino boards: the hal/serial.ts contract over an Espruino Serial object (Serial1,
// Serial2, USB, LoopbackA...). hal/framing turns it into a frame link. Board code.
//
// Espruino facts this relies on (Espruino 2v29 sources; the Serial pages of espruino.com/Reference are
// generated from src/jswrap_serial.c):
// - Serial.setup(baud, options) takes a baud rate of 101..10 000 000 (else it throws) and pins rx/tx;
//   omitted pins take the port's default ones (src/jsserial.c). Without a `flow` option XON/XOFF is off.
//   That matters: on STM32 boards the default console UART starts at 9600 baud with XON/XOFF on
//   (jshResetPeripherals in targets/stm32/jshardware.c), and with it on Espruino slips XOFF/XON bytes
//   into what it sends.
// - on('data', fn) passes a string of one or more received bytes, one char (code 0..255) per byte, as a
//   fresh string per IO event, at most IOEVENT_MAX_LEN (64) bytes on most boards, more on nRF52 builds
//   (src/jsdevices.c). If the handler throws, Espruino removes it and the port goes deaf
//   (jswrap_stream_pushData in src/jswrap_stream.c): this driver catches, and rethrows from a timer.
// - While the port is the REPL console, received bytes go to the REPL and no 'data' event fires (jsiIdle
//   in src/jsinteractive.c). A board with USB keeps the console on USB while USB is connected and moves
//   it to its default console UART when not, unless the console was forced (jshIdle in
//   targets/stm32/jshardware.c): on the Pico that is Serial1 on B6/B7 (boards/PICO_R1_3.py). Option
//   `moveConsoleTo` calls X.setConsole(true) before setup: pass USB when the link is on Serial1 (the REPL
//   stays on USB, plugged in or not), LoopbackA when the link is on USB (code can then reach the REPL
//   through LoopbackB). Moving prints "-> X" lines to the old console, which the peer may see as noise
//   before picolink starts; framing discards it. The REPL comes back with USB.setConsole() (unforced:
//   it follows the USB connection again) or E.setConsole(...), called from code, or after a reset; if
//   picolink starts from saved code, holding BTN1 as Espruino starts skips it (targets/stm32/main.c; on
//   a Pico press BTN1 just after plugging in, since holding it while plugging in enters the bootloader).
// - Serial.write(data) copies the bytes into one transmit ring shared by every port (TXBUFFERMASK+1
//   entries: 32, 128 on boards with 20 KB RAM or more such as the Pico, 256 from 128 KB; from
//   scripts/build_platform_config.py) and, when the ring is full, busy-waits until the UART interrupt
//   frees room (jshTransmit in src/jsdevices.c): it never drops, it blocks the interpreter. USB that is
//   not connected discards the bytes. There is no drain event, and the ring's fill level is visible only
//   through process.memory() from 2v30 on, which builds an object per call.
//
// So this driver paces writes itself from the baud rate: 10 symbols per byte (8N1), a byte leaves every
// 10/baud s. It lets at most `txBuf` bytes be in flight by that estimate (default 64, half a Pico's ring,
// leaving room for console output), so Serial.write never has to wait; writable() is that budget minus
// the bytes the estimate says are still queued, and onDrain runs once the estimated time of the last
// byte has passed (at most one clock timer pending, none per write). The estimate starts the clock at
// write(); output queued by other code on the same ring makes the real end later. For USB the baud rate
// is nominal: it sets the pace picolink keeps, not the wire's.
// Received bytes are copied into one Uint8Array of `rxBuf` bytes and handed on in chunks of at most its
// size: no allocation per byte or per chunk.

import type { Clock } from '../clock.ts';
import type { DataFn, Serial } from '../serial.ts';
import { espruinoClock } from './clock.ts';
import type { EspruinoConsolePort, EspruinoPin, EspruinoSerial, EspruinoSerialOptions } from './espruino.d.ts';

export interface EspruinoUartOptions {
  /** Line rate in baud, 8N1. */
  baud: number;
  /** Receive pin; the port's default when absent. */
  rx?: EspruinoPin;
  /** Transmit pin; the port's default when absent. */
  tx?: EspruinoPin;
  /** Receive buffer in bytes, the largest chunk onData sees (default 64, Espruino's IOEVENT_MAX_LEN). */
  rxBuf?: number;
  /** Bytes allowed in flight by the transmit estimate (default 64); keep under the board's transmit ring. */
  txBuf?: number;
  /** Port to force the REPL console onto before setup (USB, LoopbackA...), so this port's bytes arrive. */
  moveConsoleTo?: EspruinoConsolePort;
  /** Clock for transmit pacing and onDrain; pass the board's clock (default: a new espruinoClock()). */
  clock?: Clock;
}

const DEFAULT_RX_BUF = 64;
const DEFAULT_TX_BUF = 64;
/** Symbols per byte with 8N1 framing: start bit, 8 data bits, stop bit. */
const SYMBOLS_PER_BYTE = 10;
/** Absorbs floating-point noise when turning remaining time into whole bytes. */
const BYTE_EPSILON = 1e-6;

/** A Serial on an Espruino Serial object: sets it up at once and takes its 'data' events. */
export function espruinoUart(port: EspruinoSerial, opts: EspruinoUartOptions): Serial {
  const baud = opts.baud;
  const clock = opts.clock || espruinoClock();
  const rx = new Uint8Array(opts.rxBuf || DEFAULT_RX_BUF);
  const txBuf = opts.txBuf || DEFAULT_TX_BUF;
  const byteUs = (SYMBOLS_PER_BYTE * 1e6) / baud;

  let idleAtUs = 0; // estimated time at which the last written byte has left
  let dataFn: DataFn | null = null;
  let drainFn: (() => void) | null = null;
  let drainArmed = false;
  let rxErr: unknown = null;
  let rxErrPending = false;

  /** Bytes the estimate says are still queued at `nowUs`, rounded up. */
  const queued = (nowUs: number): number => {
    const q = Math.ceil((idleAtUs - nowUs) / byteUs - BYTE_EPSILON);
    return q > 0 ? q : 0;
  };

  const drainCheck = (): void => {
    drainArmed = false;
    if (clock.now() < idleAtUs) armDrain(); // written to again meanwhile
    else if (drainFn !== null) drainFn();
  };

  const armDrain = (): void => {
    if (drainArmed) return;
    drainArmed = true;
    clock.at(Math.ceil(idleAtUs), drainCheck);
  };

  const rethrow = (): void => {
    const e = rxErr;
    rxErr = null;
    rxErrPending = false;
    throw e;
  };

  const deliver = (n: number): void => {
    if (dataFn === null) return;
    try {
      dataFn(rx, n);
    } catch (e) {
      // Thrown on to Espruino, the handler would be removed for good; report it from a timer instead.
      if (!rxErrPending) {
        rxErrPending = true;
        rxErr = e;
        clock.at(clock.now(), rethrow);
      }
    }
  };

  const onPortData = (s: string): void => {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      rx[n++] = s.charCodeAt(i);
      if (n === rx.length) {
        deliver(n);
        n = 0;
      }
    }
    if (n > 0) deliver(n);
  };

  const write = (bytes: Uint8Array, len: number): number => {
    const nowUs = clock.now();
    let n = txBuf - queued(nowUs);
    if (n > len) n = len;
    if (n <= 0) return 0;
    port.write(n === bytes.length ? bytes : bytes.subarray(0, n));
    idleAtUs = (idleAtUs > nowUs ? idleAtUs : nowUs) + n * byteUs;
    if (drainFn !== null) armDrain();
    return n;
  };

  const writable = (): number => {
    const w = txBuf - queued(clock.now());
    return w > 0 ? w : 0;
  };

  const onData = (fn: DataFn | null): void => {
    dataFn = fn;
  };

  const onDrain = (fn: (() => void) | null): void => {
    drainFn = fn;
    if (fn !== null && clock.now() < idleAtUs) armDrain();
  };

  if (opts.moveConsoleTo) opts.moveConsoleTo.setConsole(true);
  const setupOpts: EspruinoSerialOptions = {};
  if (opts.rx !== undefined) setupOpts.rx = opts.rx;
  if (opts.tx !== undefined) setupOpts.tx = opts.tx;
  port.setup(baud, setupOpts);
  port.on('data', onPortData);

  return { baud, write, writable, onData, onDrain };
}

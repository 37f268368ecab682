// Types of the few Espruino built-ins that the hal/espruino drivers call, and nothing else.
// Reference: Espruino's API reference (espruino.com/Reference), generated from the JSON blocks in
// src/jswrap_interactive.c (getTime, setTimeout, clearTimeout), src/jswrap_espruino.c (E.hwRand) and
// src/jswrap_serial.c (Serial). Checked against Espruino 2v29.
//
// Why a module of interfaces and not a set of globals: the project also compiles with @types/node, whose
// setTimeout/clearTimeout return Timeout objects (Espruino returns integers), and host code must not see
// board-only names. So each driver takes its Espruino API as an optional parameter (tests pass fakes)
// and reads the real built-ins in one place when it is absent. Only the two names that Node lacks,
// getTime and E, are declared globally, for that one read.

/** getTime/setTimeout/clearTimeout as Espruino has them. */
export interface EspruinoTimers {
  /** Seconds (a float) since 1970 if the time was set, else since boot; setTime() steps it. */
  getTime(): number;
  /** Calls fn once after `ms` milliseconds (a float; below 0.1 it is raised to 0.1). Returns an integer id. */
  setTimeout(fn: () => void, ms: number): number;
  /** Forgets the timer with that id; an unknown id is ignored. Never pass undefined, never call it bare. */
  clearTimeout(id: number): void;
}

/** The part of Espruino's `E` object the random driver uses. */
export interface EspruinoE {
  /** A signed 32-bit integer from the board's noise source; absent from SAVE_ON_FLASH builds. */
  hwRand?: () => number;
}

/** A pin: a Pin value such as B6 (an integer to JavaScript) or its name as a string ("B6"). */
export type EspruinoPin = number | string;

/** The options of Serial.setup that the UART driver passes. */
export interface EspruinoSerialOptions {
  rx?: EspruinoPin;
  tx?: EspruinoPin;
}

/** A port that can take the REPL console: any hardware Serial object (USB, Serial1, LoopbackA...). */
export interface EspruinoConsolePort {
  /** Moves the console here; `force` keeps it here when USB or Bluetooth connect or disconnect. */
  setConsole(force: boolean): void;
}

/** An Espruino Serial object (USB, Serial1, Serial2, LoopbackA...), reduced to what the UART driver calls. */
export interface EspruinoSerial extends EspruinoConsolePort {
  setup(baud: number, options: EspruinoSerialOptions): void;
  /** 'data' delivers a string of one or more received bytes, one char (code 0..255) per byte. */
  on(event: 'data', fn: (data: string) => void): void;
  /** Queues the bytes for sending; busy-waits while Espruino's transmit buffer is full. */
  write(data: Uint8Array): void;
}

/**
 * The part of require("Storage") the store driver calls (src/jswrap_storage.c): plain files of fixed
 * size in flash, as opposed to StorageFile (open()), which cannot hold the byte 0xFF.
 */
export interface EspruinoStorage {
  /**
   * Write data (a string, or an array/typed array written as bytes) into file `name` (at most 28
   * characters). offset 0 creates the file anew with `size` bytes, all 0xFF until written; another
   * offset writes into the existing file, and only bytes still 0xFF may be written. True on success.
   */
  write(name: string, data: Uint8Array, offset: number, size?: number): boolean;
  /** length bytes from offset as a string (one char per byte, memory-mapped), or undefined without the file. */
  read(name: string, offset: number, length: number): string | undefined;
  erase(name: string): void;
}

declare global {
  /** Espruino built-in (absent under Node): see EspruinoTimers.getTime. */
  function getTime(): number;
  /** Espruino built-in object (absent under Node): see EspruinoE. */
  var E: EspruinoE | undefined;
}

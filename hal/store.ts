// Non-volatile storage contract: one fixed-size region of bytes that survives a reset, written the
// way flash is (each byte once between erases; unwritten bytes read as 0xFF). A board implements it
// over Espruino's Storage (hal/espruino/storage.ts), the host over a file (hal/node/file-store.ts),
// the simulator in memory (hal/sim/store.ts). Psync's log (firmware/psync/log.ts) writes through it.
// Board code; imports nothing.

export interface Store {
  /** Size of the region in bytes. */
  capacity(): number;
  /**
   * Write buf[0..len) at offset. False when it does not fit, when it would write a byte already written
   * since the last erase, or when the medium refused; nothing may be assumed written then.
   */
  write(offset: number, buf: Uint8Array, len: number): boolean;
  /** Read up to n bytes from offset into out[0..); returns how many (0 at or past the end). */
  read(offset: number, out: Uint8Array, n: number): number;
  /** Every byte back to 0xFF. */
  erase(): void;
}

// Serial contract: a byte stream with back-pressure (UART, USB CDC, a pseudo-terminal, a simulated wire).
// hal/framing turns one of these into a frame Link. This file imports nothing.

export type DataFn = (bytes: Uint8Array, len: number) => void;

export interface Serial {
  /** Line rate in baud (symbols per second); with 8N1 framing a byte takes 10 symbols. */
  readonly baud: number;
  /**
   * Queue `bytes[0..len)` for transmission. Returns how many bytes were taken (0..len), in order, from
   * the start; the rest were not taken and the caller keeps them. Taken bytes are copied before return.
   */
  write(bytes: Uint8Array, len: number): number;
  /** How many bytes `write` would take right now. */
  writable(): number;
  /**
   * Set the receive callback. `bytes[0..len)` is valid only during the call (the driver reuses the
   * buffer); chunk boundaries carry no meaning.
   */
  onData(fn: DataFn | null): void;
  /**
   * Set the drain callback: called each time every written byte has left and the buffer is empty.
   * Neither onDrain nor onData is ever called from inside `write`.
   */
  onDrain(fn: (() => void) | null): void;
}

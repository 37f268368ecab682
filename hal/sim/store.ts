// The simulator's non-volatile store (the hal/store.ts contract) in memory, with flash's rule enforced:
// a byte is written once between erases, so code that works here also works on a board's Storage.
// It survives a simulated crash because the test keeps the object and hands it to the restarted node.

import type { Store } from '../store.ts';

export interface MemoryStore extends Store {
  /** The region itself, for tests. */
  readonly bytes: Uint8Array;
  /** Writes refused (overlapping written bytes or out of range). */
  refused: number;
}

export function memoryStore(capacity: number): MemoryStore {
  const bytes = new Uint8Array(capacity).fill(0xff);
  const written = new Uint8Array(capacity);
  const st: MemoryStore = {
    bytes,
    refused: 0,
    capacity: () => capacity,
    write(offset, buf, len) {
      if (!(offset >= 0 && len >= 0 && offset + len <= capacity && len <= buf.length)) {
        st.refused++;
        return false;
      }
      for (let i = 0; i < len; i++) {
        if (written[offset + i]) {
          st.refused++;
          return false;
        }
      }
      for (let i = 0; i < len; i++) {
        bytes[offset + i] = buf[i];
        written[offset + i] = 1;
      }
      return true;
    },
    read(offset, out, n) {
      if (!(offset >= 0) || offset >= capacity) return 0;
      const k = Math.min(n, capacity - offset, out.length);
      for (let i = 0; i < k; i++) out[i] = bytes[offset + i];
      return k;
    },
    erase() {
      bytes.fill(0xff);
      written.fill(0);
    },
  };
  return st;
}

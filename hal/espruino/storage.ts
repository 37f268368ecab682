// The board's non-volatile store (the hal/store.ts contract) over one plain file of Espruino's Storage
// library: require("Storage").write(name, data, offset, size) creates the file at offset 0 with its full
// size, each later write fills bytes that are still 0xFF, read(name, offset, length) returns them as a
// string (src/jswrap_storage.c; espruino.com/Reference#Storage). Plain files are used rather than
// StorageFile (open()) because a StorageFile cannot contain the byte 0xFF and Psync's log is binary.
// The file is created by the first write at offset 0, which the log always makes first after erase().
// Board code.

import type { Store } from '../store.ts';
import type { EspruinoStorage } from './espruino.d.ts';

declare function require(name: string): unknown;

export function storageStore(name: string, capacity: number, storage?: EspruinoStorage): Store {
  const st = storage || (require('Storage') as EspruinoStorage);
  return {
    capacity: () => capacity,
    write(offset: number, buf: Uint8Array, len: number): boolean {
      if (!(offset >= 0 && len > 0 && offset + len <= capacity && len <= buf.length)) return false;
      const data = len === buf.length ? buf : buf.subarray(0, len);
      return offset === 0 ? st.write(name, data, 0, capacity) : st.write(name, data, offset);
    },
    read(offset: number, out: Uint8Array, n: number): number {
      if (!(offset >= 0) || offset >= capacity) return 0;
      let k = n;
      if (k > capacity - offset) k = capacity - offset;
      if (k > out.length) k = out.length;
      const s = st.read(name, offset, k);
      if (s === undefined) {
        // No file yet: as erased.
        for (let i = 0; i < k; i++) out[i] = 0xff;
        return k;
      }
      if (s.length < k) k = s.length;
      for (let i = 0; i < k; i++) out[i] = s.charCodeAt(i);
      return k;
    },
    erase(): void {
      st.erase(name);
    },
  };
}

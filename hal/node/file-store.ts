// The host's non-volatile store (the hal/store.ts contract) over one file of fixed size: Psync's log on
// a host. The file is created filled with 0xFF (like erased flash) when missing or of another size;
// writes go straight to the file with positioned writes, so what was written survives a crash of the
// process. Flash's write-once rule is not enforced here (the firmware never relies on overwriting).

import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { Store } from '../store.ts';

export interface FileStore extends Store {
  close(): void;
}

export function fileStore(path: string, capacity: number): FileStore {
  if (!(Number.isInteger(capacity) && capacity > 0)) throw new Error(`file store: capacity must be a positive integer, not ${capacity}`);
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch {
    fd = openSync(path, 'w+');
  }
  const blank = (): void => {
    const ff = Buffer.alloc(Math.min(capacity, 65536), 0xff);
    for (let o = 0; o < capacity; o += ff.length) writeSync(fd, ff, 0, Math.min(ff.length, capacity - o), o);
  };
  if (fstatSync(fd).size !== capacity) blank();
  return {
    capacity: () => capacity,
    write(offset, buf, len) {
      if (!(offset >= 0 && len >= 0 && offset + len <= capacity && len <= buf.length)) return false;
      try {
        return writeSync(fd, buf, 0, len, offset) === len;
      } catch {
        return false;
      }
    },
    read(offset, out, n) {
      if (!(offset >= 0) || offset >= capacity) return 0;
      return readSync(fd, out, 0, Math.min(n, capacity - offset, out.length), offset);
    },
    erase: blank,
    close: () => closeSync(fd),
  };
}

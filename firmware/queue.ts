// A bounded FIFO of frames in one buffer allocated at creation (depth slots of mtu bytes each), for
// board code: no allocation per frame, and a full queue refuses (put returns false) instead of growing.

export interface FrameQueue {
  /** Copy frame[0..len) in at the tail; false if the queue is full or len does not fit a slot. */
  put(frame: Uint8Array, len: number): boolean;
  /** The head frame's bytes (a view valid until the next put/drop), or null when empty. */
  peek(): Uint8Array | null;
  /** Remove the head frame. */
  drop(): void;
  size(): number;
  readonly depth: number;
}

export function frameQueue(depth: number, mtu: number): FrameQueue {
  const buf = new Uint8Array(depth * mtu);
  const lens = new Uint16Array(depth);
  let head = 0;
  let count = 0;
  return {
    depth,
    put(frame, len) {
      if (count === depth || len > mtu || len > frame.length) return false;
      const slot = (head + count) % depth;
      buf.set(len === frame.length ? frame : frame.subarray(0, len), slot * mtu);
      lens[slot] = len;
      count++;
      return true;
    },
    peek() {
      return count === 0 ? null : buf.subarray(head * mtu, head * mtu + lens[head]);
    },
    drop() {
      if (count === 0) return;
      head = (head + 1) % depth;
      count--;
    },
    size: () => count,
  };
}

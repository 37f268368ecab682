// A bounded FIFO of frames in one buffer allocated at creation (depth slots of mtu bytes each, with a
// view per slot made once), for board code: no allocation per frame, and a full queue refuses (put
// returns false) instead of growing. Empty frames and frames longer than a slot are refused too.

export interface FrameQueue {
  /** Copy frame[0..len) in at the tail; false if the queue is full or len is not in 1..mtu. */
  put(frame: Uint8Array, len: number): boolean;
  /** Length of the head frame, or 0 when the queue is empty. */
  headLen(): number;
  /** The head frame's slot (mtu bytes; the frame is [0, headLen())), valid until drop(); check headLen first. */
  head(): Uint8Array;
  /** The free slot at the tail (mtu bytes) to build a frame in place, or null when full. */
  tail(): Uint8Array | null;
  /** Make the frame built in tail() (its first len bytes) the new last frame; false if len is not 1..mtu or full. */
  commit(len: number): boolean;
  /** Remove the head frame (nothing when empty). */
  drop(): void;
  size(): number;
  readonly depth: number;
}

export function frameQueue(depth: number, mtu: number): FrameQueue {
  const buf = new Uint8Array(depth * mtu);
  const lens = new Uint16Array(depth);
  const slots: Uint8Array[] = [];
  for (let i = 0; i < depth; i++) slots.push(buf.subarray(i * mtu, (i + 1) * mtu));
  let first = 0;
  let count = 0;
  return {
    depth,
    put(frame, len) {
      if (count === depth || !(len >= 1 && len <= mtu) || len > frame.length) return false;
      const slot = (first + count) % depth;
      const o = slot * mtu;
      for (let i = 0; i < len; i++) buf[o + i] = frame[i];
      lens[slot] = len;
      count++;
      return true;
    },
    tail: () => (count === depth ? null : slots[(first + count) % depth]),
    commit(len) {
      if (count === depth || !(len >= 1 && len <= mtu)) return false;
      lens[(first + count) % depth] = len;
      count++;
      return true;
    },
    headLen: () => (count === 0 ? 0 : lens[first]),
    head: () => slots[first],
    drop() {
      if (count === 0) return;
      first = (first + 1) % depth;
      count--;
    },
    size: () => count,
  };
}

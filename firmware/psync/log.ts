// Psync's local log (the Psync paper, section 5.1): every message of one conversation, as it joins this
// host's image, written to non-volatile storage (hal/store.ts) asynchronously, so that a restarted host
// rebuilds most of its image from the log and asks the other hosts only for the rest. The paper allows
// the stored copy to lag behind the image ("there is no requirement that the volatile and nonvolatile
// images be updated atomically or even that the changes ... keep pace"): a crash loses what is still
// queued here, and the RS/RTX mechanisms recover it from the others.
//
// Layout of the store (big-endian):
//   0   magic 'P' (0x50), version 1
//   2   cid       u16 address + u16 number (the SC's mid)
//   6   n         u8 participants, then 2n bytes of addresses in the SC's order
//   7+2n records  [len u8 (1..254)][the frame as psync sent or received it], in attach order (a
//                 topological order of the context graph: predecessors come first); a len byte of 0xFF
//                 is unwritten flash, the end of the log
// Frames are appended to a queue of `queueBytes` in the attach path (no storage access there) and
// written by a timer every flushUs. When the queue is full a frame is not logged (counted in `dropped`;
// the others supply it at restart); when the store is full logging stops (`full`): take a checkpoint
// (psync.frontier()) and call reset(), which erases the store and starts a new log, as the paper's
// "close the current conversation and start a new one" or explicit freeing would.
// replayLog() reads a log back into a restarted endpoint through psync.inject(), frame by frame.
// Serving (section 5.1, the paper keeps stable messages on disk so that others can rebuild from them):
// unless config.serve is false, the log registers itself with psync (ps.serveFrom) as the source of
// messages whose buffer copies were freed or whose graph nodes were reclaimed. When an RTX or RS asks,
// psync calls seek() with the requester's frontier (per participant, the newest message in its view:
// a view is closed under context and FIFO per sender, so a record is lacking exactly when its ordinal
// is above the frontier of its sender) and then next() until it returns 0 or the MAC refuses. The
// walk goes through the records in log order (a topological order: the oldest first, as psync
// answers from its buffers) and returns the ones the requester lacks; the queue is flushed first, so
// what was attached is in the store. Bounded work: one cursor per requester (a participant index),
// the offset of the first record not known to be in its view, and at most `scan` records read per
// seek. The cursor only moves over records the requester has, and a view only grows, so it stays valid
// across answers (a requester whose frontier went back, having restarted, starts again from the first
// record; one that restarted with a frontier at least as far still has what the cursor passed); the
// requester asks again with its new frontier and the walk resumes. A walk that read its `scan` records
// leaves a second mark where it stopped, and the next walk for that requester starts there (the one
// after that at the cursor again): records it lacks that psync sends from its buffers instead, which
// the cursor cannot pass, never keep it from the rest of the log. Chosen over
// an index of offsets every k records: constant work per answer whatever the log's size, 36 bytes of
// state per participant, and nothing to rebuild when a restarted host resumes its log. One read
// buffer of 255 bytes; the frames are not copied elsewhere.
// complete(conv) says whether the log holds every message of the image (started on an empty image or
// resumed after a replay, nothing dropped, and no message taken without content since): then psync's
// answer to an RS reports nothing as stable without content, and the restarted host fetches all of it.
// Board code: the queue and the read buffer are allocated once; one timer.

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Store } from '../../hal/store.ts';
import { K_RESENT, PS_MAX_PARTICIPANTS, PS_SC } from './frame.ts';
import type { Psync, PsyncOlder } from './psync.ts';
import { midOf, midSender, midSeq } from './psync.ts';

export const LOG_MAGIC = 0x50;
export const LOG_VERSION = 1;
const END = 0xff;

export interface LogConfig {
  /** Bytes queued between writes to the store. */
  queueBytes: number;
  /** Wait between writes, µs. */
  flushUs: number;
  /** Serve messages this host freed from the log (psync.serveFrom); default true. */
  serve?: boolean;
  /** Records read at most per answer; default 32. */
  scan?: number;
}

export const LOG_DEFAULTS: LogConfig = { queueBytes: 512, flushUs: 50_000, serve: true, scan: 32 };

export interface LogStats {
  /** Frames queued, and written to the store. */
  logged: number;
  written: number;
  /** Frames not logged: the queue was full, or the store was. */
  dropped: number;
  /** Store writes refused (full): logging has stopped until reset(). */
  full: number;
  /** Serving: answers that read the log, and frames it gave psync to send (the last of an answer may be refused by the MAC). */
  seeks: number;
  served: number;
}

export interface PsyncLog {
  /** Log conversation conv from now on (erases the store and writes the header). */
  start(conv: number): void;
  /** After a restart: go on appending to the log read back (end: LogHeader.end after replayLog). */
  resume(conv: number, end: number): void;
  /** After a checkpoint: erase and start again for the same conversation. */
  reset(): void;
  /** Stop logging; what is queued is dropped (a board's crash does this too). */
  stop(): void;
  /** Write what is queued now (also called by the timer). */
  flush(): void;
  /** Bytes of the store in use. */
  used(): number;
  readonly stats: LogStats;
}

export interface LogOptions {
  ps: Psync;
  store: Store;
  clock: Clock;
  config?: LogConfig;
}

export function psyncLog(o: LogOptions): PsyncLog {
  const ps = o.ps;
  const store = o.store;
  const clock = o.clock;
  const cfg = o.config || LOG_DEFAULTS;
  const Q = cfg.queueBytes;
  const q = new Uint8Array(Q);
  const hdr = new Uint8Array(7 + 2 * PS_MAX_PARTICIPANTS);
  const addrs = new Uint16Array(PS_MAX_PARTICIPANTS);
  const stats: LogStats = { logged: 0, written: 0, dropped: 0, full: 0, seeks: 0, served: 0 };
  const scan = cfg.scan || 32;
  // Serving: per requester (participant index) a cursor and the frontier it was last seen with.
  const cur = new Uint32Array(PS_MAX_PARTICIPANTS);
  // Where a walk that ran out of records to read stopped (0: none): the next one goes on from there.
  const resume = new Uint32Array(PS_MAX_PARTICIPANTS);
  const curFront = new Uint16Array(PS_MAX_PARTICIPANTS * PS_MAX_PARTICIPANTS);
  const want = new Uint16Array(PS_MAX_PARTICIPANTS);
  const rb = new Uint8Array(1);
  let base = 0; // offset of the first record
  let cidNum = 0;
  let np = 0;
  let wR = -1; // the walk: requester, offset, records left to read, still moving the cursor
  let wAt = 0;
  let wLeft = 0;
  let wMove = false;
  let whole = false;
  let droppedAt = 0;
  let skippedAt = 0;
  let conv = -1;
  let qHead = 0; // bytes queued: q[0..qHead)
  let qFrames = 0;
  let off = 0; // next write offset in the store
  let stopped = false;
  let timer: Timer | null = null;

  function flush(): void {
    timer = null;
    if (qHead === 0) return;
    if (!stopped && store.write(off, q, qHead)) {
      off += qHead;
      stats.written += qFrames;
    } else {
      if (!stopped) stats.full++;
      stopped = true;
      stats.dropped += qFrames;
    }
    qHead = 0;
    qFrames = 0;
  }

  /** Reading starts afresh: the header's facts, every cursor at the first record. */
  function serving(w: boolean): void {
    const cid = ps.cid(conv);
    cidNum = midSeq(cid);
    np = ps.participants(conv, addrs);
    base = 7 + 2 * np;
    cur.fill(base);
    resume.fill(0);
    curFront.fill(0);
    wR = -1;
    whole = w;
    droppedAt = stats.dropped;
    skippedAt = ps.stats.skipped;
  }

  function begin(): void {
    store.erase();
    stopped = false;
    qHead = 0;
    qFrames = 0;
    const cid = ps.cid(conv);
    const n = ps.participants(conv, addrs);
    hdr[0] = LOG_MAGIC;
    hdr[1] = LOG_VERSION;
    const a = midSender(cid);
    const s = midSeq(cid);
    hdr[2] = a >>> 8;
    hdr[3] = a & 0xff;
    hdr[4] = s >>> 8;
    hdr[5] = s & 0xff;
    hdr[6] = n;
    for (let i = 0; i < n; i++) {
      hdr[7 + 2 * i] = addrs[i] >>> 8;
      hdr[8 + 2 * i] = addrs[i] & 0xff;
    }
    off = 7 + 2 * n;
    if (!store.write(0, hdr, off)) {
      stopped = true;
      stats.full++;
    }
  }

  const source: PsyncOlder = {
    complete(c: number): boolean {
      return c === conv && whole && !stopped && stats.dropped === droppedAt && ps.stats.skipped === skippedAt;
    },
    seek(c: number, r: number, front: ArrayLike<number>): void {
      wR = -1;
      if (c !== conv || !(r >= 0 && r < np)) return;
      flush();
      let back = false;
      for (let i = 0; i < np; i++) {
        want[i] = front[i];
        if (front[i] < curFront[r * PS_MAX_PARTICIPANTS + i]) back = true;
        curFront[r * PS_MAX_PARTICIPANTS + i] = front[i];
      }
      if (back) {
        cur[r] = base;
        resume[r] = 0;
      }
      wR = r;
      wAt = resume[r] > cur[r] ? resume[r] : cur[r];
      resume[r] = 0;
      wLeft = scan;
      wMove = wAt === cur[r];
      stats.seeks++;
    },
    next(buf: Uint8Array): number {
      while (wR >= 0 && wLeft > 0 && wAt < off) {
        wLeft--;
        if (store.read(wAt, rb, 1) < 1) break;
        const len = rb[0];
        if (len === END || len < 6 || len > buf.length || store.read(wAt + 1, buf, len) < len) break;
        wAt += 1 + len;
        // The sender's index and the ordinal of its sequence number (participant 0 counts from the cid).
        const k = buf[0];
        const q = (k & 3) === PS_SC ? 0 : (k >>> 3) & 7;
        const seq = (k & 3) === PS_SC ? cidNum : (buf[5] << 8) | buf[6];
        const ord = ((seq - (q === 0 ? cidNum : 1)) & 0xffff) + 1;
        if (q < np && ord <= want[q]) {
          if (wMove) cur[wR] = wAt;
          continue;
        }
        wMove = false;
        // One this host keeps a copy of: psync sends it from there, with the rest of its buffers.
        if (q < np && ps.hasCopy(conv, midOf(addrs[q], seq))) continue;
        buf[0] &= ~K_RESENT;
        stats.served++;
        return len;
      }
      if (wR >= 0 && wLeft === 0 && wAt < off) resume[wR] = wAt;
      wR = -1;
      return 0;
    },
  };
  if (cfg.serve !== false) ps.serveFrom(source);

  ps.onAttach(function (c: number, frame: Uint8Array, len: number) {
    if (c !== conv) return;
    if (stopped || len < 1 || len >= END || qHead + 1 + len > Q) {
      stats.dropped++;
      return;
    }
    q[qHead] = len;
    for (let i = 0; i < len; i++) q[qHead + 1 + i] = frame[i];
    qHead += 1 + len;
    qFrames++;
    stats.logged++;
    if (timer === null) timer = clock.at(clock.now() + cfg.flushUs, flush);
  });

  return {
    stats,
    start(c: number): void {
      conv = c;
      begin();
      serving(ps.frontier(c, want) === 0);
    },
    resume(c: number, end: number): void {
      conv = c;
      stopped = false;
      qHead = 0;
      qFrames = 0;
      off = end;
      // What the crash lost from the log's tail comes back from the others and is appended as it
      // attaches: the log is whole again unless some of it comes without content.
      serving(true);
    },
    reset(): void {
      if (timer !== null) clock.cancel(timer);
      timer = null;
      begin();
      serving(false);
    },
    flush(): void {
      if (timer !== null) clock.cancel(timer);
      flush();
    },
    stop(): void {
      if (timer !== null) clock.cancel(timer);
      timer = null;
      conv = -1;
      wR = -1;
      qHead = 0;
      qFrames = 0;
    },
    used: () => off,
  };
}

/** What a log's header says; filled by readLogHeader. */
export interface LogHeader {
  cid: number;
  n: number;
  participants: Uint16Array;
  /** Offset of the first record, and (after replayLog) of the end of the log. */
  off: number;
  end: number;
}

export function logHeader(): LogHeader {
  return { cid: 0, n: 0, participants: new Uint16Array(PS_MAX_PARTICIPANTS), off: 0, end: 0 };
}

/** Read the header of the log in store into h; false when there is no valid log. */
export function readLogHeader(store: Store, h: LogHeader, buf: Uint8Array): boolean {
  if (buf.length < 7 + 2 * PS_MAX_PARTICIPANTS) return false;
  const k = store.read(0, buf, 7);
  if (k < 7 || buf[0] !== LOG_MAGIC || buf[1] !== LOG_VERSION) return false;
  const n = buf[6];
  if (!(n >= 1 && n <= PS_MAX_PARTICIPANTS)) return false;
  h.cid = midOf((buf[2] << 8) | buf[3], (buf[4] << 8) | buf[5]);
  h.n = n;
  if (store.read(7, buf, 2 * n) < 2 * n) return false;
  for (let i = 0; i < n; i++) h.participants[i] = (buf[2 * i] << 8) | buf[2 * i + 1];
  h.off = 7 + 2 * n;
  return true;
}

/**
 * Feed the records of the log in store (header already read into h) to a restarted endpoint's
 * conversation conv, in order; buf holds one record (at least 255 bytes). Stops at the end of the log
 * or at a record cut short, and leaves that offset in h.end. Returns the frames injected.
 */
export function replayLog(store: Store, h: LogHeader, ps: Psync, conv: number, buf: Uint8Array): number {
  let off = h.off;
  let n = 0;
  const cap = store.capacity();
  while (off < cap) {
    if (store.read(off, buf, 1) < 1) break;
    const len = buf[0];
    if (len === END || len === 0) break;
    if (store.read(off + 1, buf, len) < len) break;
    ps.inject(conv, buf, len);
    n++;
    off += 1 + len;
  }
  h.end = off;
  return n;
}


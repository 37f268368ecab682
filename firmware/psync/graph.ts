// One host's image of a Psync context graph (the Psync paper, sections 2, 3.1.1 and 3.3): the messages
// of one conversation as a directed acyclic graph kept as the transitive reduction of "in the context
// of" (each message lists only its immediate predecessors), with the leaves of the view, stability,
// n-stability and the message buffers.
//
// Participants are indices 0..p-1 (0 is the initiator); a participant's messages are numbered by
// ordinals 1, 2, ... in the order it sent them (the wire's sequence numbers map onto these), and every
// message is in the context of its sender's previous one. An image is closed under predecessors (a
// message is attached only once all its predecessors are), so it holds a prefix of each participant's
// chain: have[q] says how many, and a message (q, o) is in the image exactly when o <= have[q], even
// after its node has been reclaimed. The view is the image: messages are delivered as they attach.
//
// Acknowledgement bits: when a message from q attaches, every message before it gets bit q (a walk
// up the predecessors that stops at messages that already have it, so each bit is set once per
// message). A message is stable when every participant other than its sender, or masked out, has its
// bit; n-stable when n - 1 participants other than the sender have. Stability, and the set of messages
// that have ever been stable, are closed under predecessors.
//
// Memory (3.3): a buffer holds a copy of the message (its whole frame, so it can be sent again) until
// the message is stable; then it is freed. attach keeps a copy only while more than `reserve` buffers
// are free (the caller reserves some for its own messages), and refuses when it must keep one and
// cannot. Graph nodes stay until the node table is full: then the oldest node that has been stable
// is reclaimed (the paper's threshold: queries answer for the last `nodes` messages), or earlier
// through freeNode. Both keep the reclaimed set closed under predecessors, so a path between two
// retained messages never runs through a reclaimed one, and a walk may stop at a reclaimed node
// (everything before it is stable). When every node holds a message that has not been stable,
// attach refuses (the caller discards the message, and the retransmission mechanisms recover it).
// Board code: every table is a typed array allocated at creation; no allocation after that.

import { PS_MAX_PARTICIPANTS } from './frame.ts';

const MAXP = PS_MAX_PARTICIPANTS;

/** check(): attachable now. */
export const G_OK = 0;
/** check(): already in the image. */
export const G_DUP = 1;
/** check(): some predecessor is not in the image yet: hold it. */
export const G_MISSING = 2;
/** check(): inconsistent (bad index or ordinal, a predecessor list no honest sender writes). */
export const G_BAD = 3;
/** attach(): no free buffer. */
export const G_E_BUFS = -1;
/** attach(): every node holds a message that has not been stable. */
export const G_E_NODES = -2;

export interface GraphConfig {
  /** Graph nodes (the threshold of section 3.3); at least bufs. */
  nodes: number;
  /** Message buffers; each holds one frame of up to frameSize bytes. */
  bufs: number;
  frameSize: number;
}

export interface Image {
  /** Empty the image for a conversation of p participants (1..8). */
  reset(p: number): void;
  /** Participants. */
  count(): number;
  /** have[q]: messages of participant q in the image (ordinals 1..have[q]). */
  readonly have: Uint16Array;
  /** leaf[q]: the ordinal of q's message that is a leaf of the view, or 0. */
  readonly leaf: Uint16Array;
  /** done[q]: q's messages that have been stable here (a prefix of its chain: stability is closed under predecessors). */
  readonly done: Uint16Array;
  /**
   * Take every message up to cut[q] of each participant q as in the image without its content
   * (section 5: a restart's view, or messages stable elsewhere whose copies are gone). The cut must be
   * closed under predecessors. Returns how many messages this added.
   */
  raise(cut: ArrayLike<number>): number;
  /** Participants excluded from stability (mask_out), as a bit mask. Call collect() after changing it. */
  setMasked(bits: number): void;
  /** Can message (q, o) with predecessor ordinals pred[0..p) (0: none) attach? G_OK, G_DUP, G_MISSING, G_BAD. */
  check(q: number, o: number, pred: Uint16Array): number;
  /**
   * Attach a message check() said G_OK to. frame[0..len) is copied when more than `reserve` buffers
   * are free; with reserve 0 a copy is required (G_E_BUFS when none is free). Node index, G_E_BUFS or
   * G_E_NODES.
   */
  attach(q: number, o: number, pred: Uint16Array, frame: Uint8Array, len: number, reserve: number): number;
  /** Node of (q, o), or -1 (not in the image, or reclaimed). */
  find(q: number, o: number): number;
  sender(node: number): number;
  ord(node: number): number;
  /** Ordinal of node's immediate predecessor from participant q, or 0. */
  pred(node: number, q: number): number;
  /** The node's frame, or null when no copy is kept (freed on stability, or never kept). */
  frame(node: number): Uint8Array | null;
  frameLen(node: number): number;
  /** Attach order (larger is later). */
  age(node: number): number;
  /** The retained node attached next after age a (-1 for the oldest), or -1. */
  nextByAge(a: number): number;
  /** Is (q1, o1) before (q2, o2) in the context relation? False when (q2, o2) is not retained. */
  precedes(q1: number, o1: number, q2: number, o2: number): boolean;
  stable(node: number): boolean;
  /** The largest n for which the node is n-stable (1 + participants other than the sender that acknowledged it). */
  nStable(node: number): number;
  /** Free the buffers of stable messages; returns how many. */
  collect(): number;
  /** Reclaim the node of (q, o) and of its predecessors, those that have been stable. Returns how many. */
  freeNode(q: number, o: number): number;
  /** Write the nodes that have `node` as immediate predecessor into out; returns how many. */
  successors(node: number, out: Int16Array): number;
  /** Mark the predecessors (transitively) of node; then marked(i) tells. */
  markAncestors(node: number): void;
  marked(node: number): boolean;
  nodesUsed(): number;
  bufsUsed(): number;
  readonly stats: GraphStats;
}

/** Counters an image adds to; several images may share one object. */
export interface GraphStats {
  freed: number;
  reclaimed: number;
}

export function graphImage(cfg: GraphConfig, shared?: GraphStats): Image {
  const N = cfg.nodes;
  const B = cfg.bufs;
  const F = cfg.frameSize;
  if (!(N >= 1 && N <= 0x7fff && B >= 1 && B <= N && F >= 1)) throw new Error('psync graph: need 1 <= bufs <= nodes <= 32767');
  const nSender = new Int8Array(N).fill(-1);
  const nOrd = new Uint16Array(N);
  const nPred = new Uint16Array(N * MAXP);
  const nAck = new Uint8Array(N);
  // Node of (q, o) at slot q * N + o % N: a participant's retained messages are a suffix of its chain
  // (reclaiming keeps the reclaimed set closed under predecessors) of at most N, so the slot is unique;
  // find() checks it, so stale slots need no clearing. Constant-time lookups for 16 bytes a node.
  const nIdx = new Int16Array(MAXP * N).fill(-1);
  const nBuf = new Int16Array(N).fill(-1);
  /** Has been stable (its buffer freed): only such nodes are reclaimed. */
  const nDone = new Uint8Array(N);
  const nAge = new Float64Array(N);
  const nMark = new Uint16Array(N);
  const stack = new Int16Array(N);
  // Nodes that gained an acknowledgement bit in the last attach: only they can have become stable.
  const touched = new Int16Array(N);
  let nTouched = 0;
  let hint = 0;
  /** Slots without a node. */
  let nFree = N;
  // Nodes in attach order (age), oldest at rHead: the oldest stable node is found from the front
  // without a scan of the table. Entries of nodes reclaimed elsewhere (freeNode) go stale and are
  // skipped; rAge tells a stale entry from the slot's next node. Twice the table, compacted when full.
  const R = 2 * N;
  const ring = new Int16Array(R);
  const rAge = new Float64Array(R);
  let rHead = 0;
  let rLen = 0;
  const bAll = new Uint8Array(B * F);
  const bLen = new Uint16Array(B);
  const bUsed = new Uint8Array(B);
  const bView: Uint8Array[] = [];
  for (let i = 0; i < B; i++) bView.push(bAll.subarray(i * F, (i + 1) * F));
  const have = new Uint16Array(MAXP);
  const leaf = new Uint16Array(MAXP);
  const done = new Uint16Array(MAXP);
  const stats: GraphStats = shared || { freed: 0, reclaimed: 0 };
  let p = 1;
  let all = 1;
  let masked = 0;
  let clock = 0;
  let stamp = 0;

  function find(q: number, o: number): number {
    if (o === 0 || !(q >= 0 && q < MAXP)) return -1;
    const i = nIdx[q * N + (o % N)];
    return i >= 0 && nSender[i] === q && nOrd[i] === o ? i : -1;
  }

  function isStable(i: number): boolean {
    return ((nAck[i] | (1 << nSender[i]) | masked) & all) === all;
  }

  function freeBuf(i: number): void {
    bUsed[nBuf[i]] = 0;
    nBuf[i] = -1;
    stats.freed++;
  }

  /** Node i has become stable: record it and free its buffer; true when a buffer was freed. */
  function settle(i: number): boolean {
    nDone[i] = 1;
    if (nOrd[i] > done[nSender[i]]) done[nSender[i]] = nOrd[i];
    if (nBuf[i] < 0) return false;
    freeBuf(i);
    return true;
  }

  function collect(): number {
    let n = 0;
    for (let i = 0; i < N; i++) if (nSender[i] >= 0 && !nDone[i] && isStable(i) && settle(i)) n++;
    return n;
  }

  /** Give bit `bit` to every predecessor of node x, transitively, stopping where it is set already. */
  function acknowledge(x: number, bit: number): void {
    let top = 0;
    stack[top++] = x;
    while (top > 0) {
      const i = stack[--top];
      for (let q = 0; q < p; q++) {
        const j = find(q, nPred[i * MAXP + q]);
        if (j >= 0 && (nAck[j] & bit) === 0) {
          nAck[j] |= bit;
          stack[top++] = j;
          touched[nTouched++] = j;
        }
      }
    }
  }

  function newStamp(): void {
    stamp = (stamp + 1) & 0xffff;
    if (stamp === 0) {
      nMark.fill(0);
      stamp = 1;
    }
  }

  function markAncestors(x: number): void {
    newStamp();
    let top = 0;
    stack[top++] = x;
    while (top > 0) {
      const i = stack[--top];
      for (let q = 0; q < p; q++) {
        const j = find(q, nPred[i * MAXP + q]);
        if (j >= 0 && nMark[j] !== stamp) {
          nMark[j] = stamp;
          stack[top++] = j;
        }
      }
    }
  }

  /** Ring position of the k-th entry from the front. */
  function at(k: number): number {
    return rHead + k < R ? rHead + k : rHead + k - R;
  }

  function live(pos: number): boolean {
    const i = ring[pos];
    return i >= 0 && nSender[i] >= 0 && nAge[i] === rAge[pos];
  }

  function push(i: number): void {
    if (rLen === R) {
      // Compact: keep the live entries, in order.
      let n = 0;
      for (let k = 0; k < R; k++) {
        const pos = at(k);
        if (live(pos)) {
          ring[n] = ring[pos];
          rAge[n] = rAge[pos];
          n++;
        }
      }
      rHead = 0;
      rLen = n;
    }
    const pos = at(rLen);
    ring[pos] = i;
    rAge[pos] = nAge[i];
    rLen++;
  }

  /** A node slot for a new message: a free one, else the oldest that has been stable; -1 if none. */
  function nodeSlot(): number {
    if (nFree > 0) {
      // Searched from where the last one was found: amortized constant while the table fills.
      for (let k = 0; k < N; k++) {
        const i = hint + k < N ? hint + k : hint + k - N;
        if (nSender[i] < 0) {
          hint = i + 1 < N ? i + 1 : 0;
          nFree--;
          return i;
        }
      }
    }
    // The oldest node that has been stable: its predecessors are older and stable too, so they are
    // gone already and the reclaimed set stays closed under predecessors. Usually the front entry.
    while (rLen > 0 && !live(rHead)) {
      rHead = rHead + 1 < R ? rHead + 1 : 0;
      rLen--;
    }
    for (let k = 0; k < rLen; k++) {
      const pos = at(k);
      if (!live(pos) || !nDone[ring[pos]]) continue;
      const i = ring[pos];
      ring[pos] = -1;
      nSender[i] = -1;
      stats.reclaimed++;
      return i;
    }
    return -1;
  }

  return {
    have,
    leaf,
    done,
    stats,
    raise(cut: ArrayLike<number>): number {
      let n = 0;
      for (let q = 0; q < p; q++) {
        const o = cut[q];
        if (!(o > have[q])) continue;
        n += o - have[q];
        have[q] = o;
        // Possibly not a leaf (a later message of another may follow it); a send lists it anyway,
        // which is harmless: the next send's predecessors clear every leaf.
        leaf[q] = o;
        if (o > done[q]) done[q] = o;
      }
      return n;
    },
    reset(n: number): void {
      p = n;
      all = (1 << n) - 1;
      masked = 0;
      clock = 0;
      nSender.fill(-1);
      nFree = N;
      rHead = 0;
      rLen = 0;
      nBuf.fill(-1);
      bUsed.fill(0);
      have.fill(0);
      leaf.fill(0);
      done.fill(0);
    },
    count: () => p,
    setMasked(b: number): void {
      masked = b & all;
    },
    check(q: number, o: number, pred: Uint16Array): number {
      if (!(q >= 0 && q < p) || o === 0) return G_BAD;
      if (o <= have[q]) return G_DUP;
      let any = false;
      let missing = false;
      for (let r = 0; r < MAXP; r++) {
        const x = pred[r];
        if (x === 0) continue;
        if (r >= p) return G_BAD;
        // The sender's own immediate predecessor can only be its previous message (section 2).
        if (r === q && x !== o - 1) return G_BAD;
        any = true;
        if (x > have[r]) missing = true;
      }
      // Only the SC (participant 0's first message) has no predecessors.
      if (any === (q === 0 && o === 1)) return G_BAD;
      if (missing) return G_MISSING;
      // All predecessors present means the sender's previous message is too.
      return o === have[q] + 1 ? G_OK : G_BAD;
    },
    attach(q: number, o: number, pred: Uint16Array, frame: Uint8Array, len: number, reserve: number): number {
      let b = -1;
      let free = 0;
      for (let k = 0; k < B; k++) {
        if (bUsed[k]) continue;
        free++;
        if (b < 0) b = k;
      }
      if (free <= reserve || len > F) b = -1;
      if (b < 0 && reserve === 0) return G_E_BUFS;
      const i = nodeSlot();
      if (i < 0) return G_E_NODES;
      if (b >= 0) {
        bUsed[b] = 1;
        bLen[b] = len;
        const v = bView[b];
        for (let k = 0; k < len; k++) v[k] = frame[k];
      }
      nSender[i] = q;
      nOrd[i] = o;
      nIdx[q * N + (o % N)] = i;
      nAck[i] = 0;
      nDone[i] = 0;
      nBuf[i] = b;
      nAge[i] = ++clock;
      push(i);
      for (let r = 0; r < MAXP; r++) {
        const x = r < p ? pred[r] : 0;
        nPred[i * MAXP + r] = x;
        // A predecessor that was a leaf is one no longer; the new message is the sender's leaf.
        if (x !== 0 && leaf[r] === x) leaf[r] = 0;
      }
      leaf[q] = o;
      have[q] = o;
      nTouched = 0;
      touched[nTouched++] = i;
      acknowledge(i, 1 << q);
      for (let k = 0; k < nTouched; k++) {
        const j = touched[k];
        if (!nDone[j] && isStable(j)) settle(j);
      }
      return i;
    },
    find,
    sender: (i) => nSender[i],
    ord: (i) => nOrd[i],
    pred: (i, q) => nPred[i * MAXP + q],
    frame: (i) => (nBuf[i] >= 0 ? bView[nBuf[i]] : null),
    frameLen: (i) => (nBuf[i] >= 0 ? bLen[nBuf[i]] : 0),
    age: (i) => nAge[i],
    nextByAge(a: number): number {
      let best = -1;
      for (let i = 0; i < N; i++) if (nSender[i] >= 0 && nAge[i] > a && (best < 0 || nAge[i] < nAge[best])) best = i;
      return best;
    },
    precedes(q1: number, o1: number, q2: number, o2: number): boolean {
      if (q1 === q2) return o1 < o2 && o2 <= have[q2];
      const x = find(q2, o2);
      if (x < 0 || o1 === 0) return false;
      newStamp();
      let top = 0;
      stack[top++] = x;
      while (top > 0) {
        const i = stack[--top];
        for (let q = 0; q < p; q++) {
          const y = nPred[i * MAXP + q];
          if (y === 0) continue;
          if (q === q1) {
            // q1's messages form a chain: reaching one at or after o1 settles it; an earlier one
            // (and everything before it) cannot follow o1.
            if (y >= o1) return true;
            continue;
          }
          const j = find(q, y);
          if (j >= 0 && nMark[j] !== stamp) {
            nMark[j] = stamp;
            stack[top++] = j;
          }
        }
      }
      return false;
    },
    stable: isStable,
    nStable(i: number): number {
      let n = 1;
      const others = nAck[i] & all & ~(1 << nSender[i]);
      for (let q = 0; q < p; q++) if ((others >>> q) & 1) n++;
      return n;
    },
    collect,
    freeNode(q: number, o: number): number {
      const x = find(q, o);
      if (x < 0) return 0;
      markAncestors(x);
      nMark[x] = stamp;
      let n = 0;
      for (let i = 0; i < N; i++) {
        if (nSender[i] >= 0 && nMark[i] === stamp && nDone[i]) {
          nSender[i] = -1;
          nFree++;
          stats.reclaimed++;
          n++;
        }
      }
      return n;
    },
    successors(x: number, out: Int16Array): number {
      const q = nSender[x];
      const o = nOrd[x];
      let n = 0;
      for (let i = 0; i < N; i++) if (nSender[i] >= 0 && nPred[i * MAXP + q] === o && n < out.length) out[n++] = i;
      return n;
    },
    markAncestors,
    marked: (i) => nMark[i] === stamp,
    nodesUsed(): number {
      let n = 0;
      for (let i = 0; i < N; i++) if (nSender[i] >= 0) n++;
      return n;
    },
    bufsUsed(): number {
      let n = 0;
      for (let i = 0; i < B; i++) n += bUsed[i];
      return n;
    },
  };
}

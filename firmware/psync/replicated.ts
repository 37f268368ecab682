// A replicated object over a Psync conversation (the Psync paper, section 4.3): a counter modulo 65521
// with add (commutative with other adds) and mul and set (not commutative with anything), each operation
// one message sent through the library (firmware/psync/library.ts).
//
// The paper's rule: adds (its α operations) are applied as they join the view, in any order, unless
// they follow a mul or set (β) not applied yet; β operations are applied one at a time in the total
// order of the waves, each only once it is stable. Stability is what ends the run of adds before a β:
// once every participant has sent in its context, every operation not after it is in the view, so
// every add that does not follow it has been applied first. An add that follows several β operations
// waits for all of them, so it lands just after the last of them in the total order: every replica
// applies the same β sequence and puts each add between the same two β operations, and adds commute
// among themselves, so replicas end in the same state.
// Which β operations an add waits for is settled when the add joins the view (a bit per β slot), so
// later reclaiming of graph nodes cannot change the answer.
// The counter takes the library's onDeliver, onCommit and onProgress (one handler each): the
// conversation is the counter's, and handlers an application set before are replaced.
// Board code: tables allocated at creation; nothing allocated per operation.

import type { Psync } from './psync.ts';
import { PS_E_ARG } from './psync.ts';
import type { PsyncLib } from './library.ts';

export const RC_ADD = 0x61;
export const RC_MUL = 0x6d;
export const RC_SET = 0x73;
/** The counter's values are 0..RC_MOD-1 (a prime below 2^16: products stay exact in a double). */
export const RC_MOD = 65521;

export interface CounterConfig {
  /** β operations in the view not applied yet (at most 32). */
  betas: number;
  /** Adds waiting for a β operation. */
  waiting: number;
}

export const COUNTER_DEFAULTS: CounterConfig = { betas: 16, waiting: 32 };

export interface CounterStats {
  applied: number;
  /** Adds applied before their wave was committed here. */
  early: number;
  /** Adds that had to wait for a β operation. */
  waited: number;
  /** Operations that found no free slot (the replica is then wrong: size the tables up). */
  lost: number;
  /** Messages that are not counter operations. */
  malformed: number;
}

export interface ReplicatedCounter {
  /** Invoke an operation (arg 0..65535); returns the message id or a negative code from the library. */
  add(k: number): number;
  mul(k: number): number;
  set(x: number): number;
  value(): number;
  /** Each operation as this replica applies it, with the value after it. */
  onApply(fn: ((mid: number, op: number, arg: number, value: number) => void) | null): void;
  /** β operations not applied yet plus waiting adds. */
  pending(): number;
  readonly stats: CounterStats;
}

export interface CounterOptions {
  lib: PsyncLib;
  ps: Psync;
  config?: CounterConfig;
}

export function replicatedCounter(o: CounterOptions): ReplicatedCounter {
  const lib = o.lib;
  const ps = o.ps;
  const cfg = o.config || COUNTER_DEFAULTS;
  const B = cfg.betas > 32 ? 32 : cfg.betas;
  const W = cfg.waiting;
  const stats: CounterStats = { applied: 0, early: 0, waited: 0, lost: 0, malformed: 0 };
  let v = 0;

  const bMid = new Float64Array(B).fill(-1);
  const bOp = new Uint8Array(B);
  const bArg = new Uint16Array(B);
  /** Position in the commit order (0: not committed yet). */
  const bOrder = new Float64Array(B);
  let order = 0;
  const wMid = new Float64Array(W).fill(-1);
  const wArg = new Uint16Array(W);
  const wMask = new Uint32Array(W);
  const tx = new Uint8Array(3);
  let applyFn: ((mid: number, op: number, arg: number, value: number) => void) | null = null;
  let running = false;

  function apply(mid: number, op: number, arg: number): void {
    if (op === RC_ADD) {
      v = (v + arg) % RC_MOD;
      if (!lib.isCommitted(mid)) stats.early++;
    } else if (op === RC_MUL) {
      v = (v * arg) % RC_MOD;
    } else {
      v = arg % RC_MOD;
    }
    stats.applied++;
    if (applyFn) applyFn(mid, op, arg, v);
  }

  /** Does β message b precede x? x has just joined the view, so it is retained. */
  function before(b: number, x: number): boolean {
    const conv = lib.conv();
    // A reclaimed node was stable: everything that joins the view after it follows it.
    if (ps.nStable(conv, b) === 0) return true;
    return ps.precedes(conv, b, x);
  }

  function onOp(mid: number, op: number, arg: number): void {
    if (op === RC_MUL || op === RC_SET) {
      let i = 0;
      while (i < B && bMid[i] >= 0) i++;
      if (i === B) {
        stats.lost++;
        return;
      }
      bMid[i] = mid;
      bOp[i] = op;
      bArg[i] = arg;
      bOrder[i] = 0;
      return;
    }
    let mask = 0;
    for (let i = 0; i < B; i++) if (bMid[i] >= 0 && before(bMid[i], mid)) mask |= 1 << i;
    if (mask === 0) {
      apply(mid, op, arg);
      return;
    }
    stats.waited++;
    let k = 0;
    while (k < W && wMid[k] >= 0) k++;
    if (k === W) {
      stats.lost++;
      return;
    }
    wMid[k] = mid;
    wArg[k] = arg;
    wMask[k] = mask;
  }

  /** Apply committed β operations in commit order while the next one is stable, each followed by the adds it released. */
  function run(): void {
    if (running) return;
    running = true;
    for (;;) {
      let i = -1;
      for (let j = 0; j < B; j++) if (bMid[j] >= 0 && bOrder[j] > 0 && (i < 0 || bOrder[j] < bOrder[i])) i = j;
      if (i < 0 || !lib.complete(bMid[i])) break;
      const mid = bMid[i];
      bMid[i] = -1;
      apply(mid, bOp[i], bArg[i]);
      for (let k = 0; k < W; k++) {
        if (wMid[k] < 0) continue;
        wMask[k] &= ~(1 << i);
        if (wMask[k] !== 0) continue;
        const m = wMid[k];
        wMid[k] = -1;
        apply(m, RC_ADD, wArg[k]);
      }
    }
    running = false;
  }

  function invoke(op: number, arg: number): number {
    if (!(arg >= 0 && arg <= 0xffff)) return PS_E_ARG;
    tx[0] = op;
    tx[1] = arg >> 8;
    tx[2] = arg & 0xff;
    const mid = lib.send(tx, 3);
    if (mid >= 0) {
      onOp(mid, op, arg);
      run();
    }
    return mid;
  }

  lib.onDeliver(function (_conv: number, mid: number, d: Uint8Array, len: number) {
    if (len !== 3 || (d[0] !== RC_ADD && d[0] !== RC_MUL && d[0] !== RC_SET)) {
      stats.malformed++;
      return;
    }
    onOp(mid, d[0], (d[1] << 8) | d[2]);
  });
  lib.onCommit(function (_conv: number, mid: number, d: Uint8Array, len: number) {
    if (len !== 3 || (d[0] !== RC_MUL && d[0] !== RC_SET)) return;
    for (let i = 0; i < B; i++) {
      if (bMid[i] === mid) {
        bOrder[i] = ++order;
        break;
      }
    }
    run();
  });
  lib.onProgress(function () {
    run();
  });

  return {
    stats,
    add: (k: number) => invoke(RC_ADD, k),
    mul: (k: number) => invoke(RC_MUL, k),
    set: (x: number) => invoke(RC_SET, x),
    value: () => v,
    onApply(fn) { applyFn = fn; },
    pending(): number {
      let n = 0;
      for (let i = 0; i < B; i++) if (bMid[i] >= 0) n++;
      for (let k = 0; k < W; k++) if (wMid[k] >= 0) n++;
      return n;
    },
  };
}

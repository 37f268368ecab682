// Fault injection: a Link that wraps a Link and damages what the wrapped station receives: drop,
// duplicate, reorder, corrupt one bit, delay (with jitter). Every decision comes from the seeded Rng,
// so a failing scenario replays exactly. Faults apply to received frames only; wrap the link at each
// end to damage both directions. Held frames (delayed or reordered) sit in a bounded list; when it is
// full a frame that should be held is dropped and counted, so memory stays bounded.
// Host-side test tool (like smoltcp's FaultInjector); not for board bundles.

import type { Link, ReceiveFn, RxInfo } from '../link.ts';
import type { Clock } from '../clock.ts';
import type { Rng } from '../rng.ts';
import { below, chance } from '../prng.ts';

export interface FaultOptions {
  clock: Clock;
  rng: Rng;
  /** Percent of frames dropped. */
  dropPct?: number;
  /** Percent of frames delivered twice. */
  dupPct?: number;
  /** Percent of frames held back and delivered after the next frame (or after holdUs). */
  reorderPct?: number;
  /** Percent of frames with one random bit flipped. */
  corruptPct?: number;
  /** Fixed delay added to every frame, µs. */
  delayUs?: number;
  /** Extra random delay in [0, jitterUs], µs (can reorder frames by itself). */
  jitterUs?: number;
  /** Longest a reordered frame waits for a successor, µs. Default 10 000. */
  holdUs?: number;
  /** Most frames held at once (delayed or reordered). Default 16. */
  maxHeld?: number;
}

export interface FaultStats {
  passed: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  delayed: number;
  /** Frames dropped because too many were already held. */
  overflow: number;
}

export interface FaultyLink extends Link {
  readonly stats: FaultStats;
}

export function faulty(link: Link, o: FaultOptions): FaultyLink {
  const { clock, rng } = o;
  const delayUs = o.delayUs ?? 0;
  const jitterUs = o.jitterUs ?? 0;
  const holdUs = o.holdUs ?? 10_000;
  const maxHeld = o.maxHeld ?? 16;
  let onRx: ReceiveFn | null = null;
  let held = 0;
  let reorderSlot: { bytes: Uint8Array; rssi: number; timer: unknown } | null = null;
  const stats: FaultStats = { passed: 0, dropped: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0, overflow: 0 };
  const info: RxInfo = { timeUs: 0, rssi: 0 };

  const deliver = (bytes: Uint8Array, rssi: number): void => {
    if (!onRx) return;
    info.timeUs = clock.now();
    info.rssi = rssi;
    onRx(bytes, bytes.length, info);
  };

  const later = (bytes: Uint8Array, rssi: number): void => {
    const wait = delayUs + (jitterUs > 0 ? below(rng, jitterUs + 1) : 0);
    if (wait === 0) return deliver(bytes, rssi);
    if (held >= maxHeld) {
      stats.overflow++;
      return;
    }
    held++;
    stats.delayed++;
    clock.at(clock.now() + wait, () => {
      held--;
      deliver(bytes, rssi);
    });
  };

  const releaseReordered = (): void => {
    if (!reorderSlot) return;
    const r = reorderSlot;
    reorderSlot = null;
    clock.cancel(r.timer as never);
    held--;
    later(r.bytes, r.rssi);
  };

  link.onReceive((frame, len, rx) => {
    if (chance(rng, o.dropPct ?? 0)) {
      stats.dropped++;
      return;
    }
    const bytes = frame.slice(0, len);
    if (len > 0 && chance(rng, o.corruptPct ?? 0)) {
      const bit = below(rng, len * 8);
      bytes[bit >> 3] ^= 1 << (bit & 7);
      stats.corrupted++;
    }
    const dup = chance(rng, o.dupPct ?? 0);
    if (!reorderSlot && chance(rng, o.reorderPct ?? 0) && held < maxHeld) {
      held++;
      stats.reordered++;
      const slot = { bytes, rssi: rx.rssi, timer: null as unknown };
      slot.timer = clock.at(clock.now() + holdUs, releaseReordered);
      reorderSlot = slot;
      if (dup) {
        stats.duplicated++;
        later(bytes.slice(), rx.rssi);
      }
      return;
    }
    stats.passed++;
    later(bytes, rx.rssi);
    if (dup) {
      stats.duplicated++;
      later(bytes.slice(), rx.rssi);
    }
    releaseReordered();
  });

  return {
    caps: link.caps,
    stats,
    send: (frame, len) => link.send(frame, len),
    onReceive(fn) { onRx = fn; },
    onSent: (fn) => link.onSent(fn),
    busy: () => link.busy(),
    onCarrier: link.onCarrier ? (fn) => link.onCarrier!(fn) : undefined,
  };
}

// Seeded pseudo-random generator (xoshiro128**, Blackman & Vigna) behind the hal/rng.ts contract.
// Used by the simulator, by fault injection and by tests; boards may use it too (seeded from hardware).
// Written with shifts and adds only: Espruino has no Math.imul, and x*5, x*9 are (x<<2)+x, (x<<3)+x.

import type { Rng } from './rng.ts';

export interface SeededRng extends Rng {
  /** The seed this generator started from (for traces and summaries). */
  readonly seed: number;
}

export function xoshiro(seed: number): SeededRng {
  // Spread the 32-bit seed over four words with xorshift32 steps; the state is never all zero
  // because each word is a xorshift32 output of a non-zero value.
  let x = (seed >>> 0) ^ 0x9e3779b9;
  if (x === 0) x = 0x6d2b79f5;
  const w = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    w[i] = x >>> 0;
  }
  let s0 = w[0], s1 = w[1], s2 = w[2], s3 = w[3];
  const u32 = (): number => {
    const a = (s1 + (s1 << 2)) >>> 0;            // s1 * 5
    const r = ((a << 7) | (a >>> 25)) >>> 0;      // rotl(.., 7)
    const result = (r + (r << 3)) >>> 0;          // * 9
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  for (let i = 0; i < 8; i++) u32();
  return { seed: seed >>> 0, u32 };
}

const TWO32 = 0x100000000;

/** Uniform integer in [0, n) for 1 <= n <= 2^32, without modulo bias (rejection sampling). */
export function below(rng: Rng, n: number): number {
  const limit = TWO32 - (TWO32 % n);
  let v = rng.u32();
  while (v >= limit) v = rng.u32();
  return v % n;
}

/** True with probability pct/100 (pct in [0, 100]); draws nothing when pct is 0 or 100. */
export function chance(rng: Rng, pct: number): boolean {
  if (pct <= 0) return false;
  if (pct >= 100) return true;
  return rng.u32() < (pct / 100) * TWO32;
}

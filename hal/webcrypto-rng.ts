// An Rng (hal/rng.ts) for edge and host runtimes that have Web Crypto (Deno, Node 19 and later):
// crypto.getRandomValues seeds the project's generator (hal/prng.ts, xoshiro128**), so a node draws
// backoffs and jitter from the same code as everywhere else, and a given seed (--seed) replays it.
// Not for board bundles: Espruino has no crypto object (hal/espruino/rng.ts uses E.hwRand).

import type { SeededRng } from './prng.ts';
import { xoshiro } from './prng.ts';

/** A generator seeded from `seed`, or from the runtime's cryptographic source when it is null. */
export function webCryptoRng(seed?: number | null): SeededRng {
  if (seed !== undefined && seed !== null) return xoshiro(seed);
  const c = (globalThis as { crypto?: { getRandomValues(a: Uint32Array): Uint32Array } }).crypto;
  if (!c) throw new Error('webCryptoRng: this runtime has no crypto.getRandomValues; give a seed');
  const w = new Uint32Array(1);
  c.getRandomValues(w);
  return xoshiro(w[0]);
}

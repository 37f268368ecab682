// Random-number contract. Firmware draws backoffs and jitter only from an Rng it is handed: seeded in
// the simulator and in tests (hal/prng.ts), from the hardware generator on a board. Imports nothing.

export interface Rng {
  /** A uniformly distributed integer in [0, 2^32). */
  u32(): number;
}

// Saturation throughput of the 802.11 DCF by Bianchi's model: G. Bianchi, "Performance Analysis of the
// IEEE 802.11 Distributed Coordination Function", IEEE JSAC 18(3), March 2000, Section IV (eqs. 7, 9,
// 10-13, 14-17). Pure functions; the csma benchmarks compare the simulated MAC against them.
//
// Units: frame lengths in bits, times in µs. At the default 1 Mbit/s a bit lasts 1 µs, as in the
// paper's Table II; `bitrateBps` rescales the frame lengths for other rates.
// Frame lengths follow Table II's convention: ACK, RTS and CTS are given as MAC bits and the PHY header
// is added to each of them here; H (the DATA frame's overhead) = PHY header + MAC header.
// E[P*] (the longest payload in a collision) equals E[P]: every station sends payloads of one length.

export interface BianchiParams {
  /** Stations, all saturated and in range of each other. */
  n: number;
  /** Initial contention window W = CWmin + 1 (backoff uniform in [0, W-1]). */
  W: number;
  /** Maximum backoff stage: CWmax + 1 = 2^m W. */
  m: number;
  /** E[P], payload bits of a DATA frame. */
  payloadBits: number;
  macHeaderBits: number;
  phyHeaderBits: number;
  /** MAC bits of ACK, RTS and CTS (the PHY header is added to each). */
  ackBits: number;
  rtsBits: number;
  ctsBits: number;
  /** sigma, the empty slot. */
  slotUs: number;
  sifsUs: number;
  difsUs: number;
  /** delta, the propagation delay. */
  propUs: number;
  access: 'basic' | 'rts';
  /** Channel bit rate, bit/s; default 1e6. */
  bitrateBps?: number;
}

export interface BianchiResult {
  /** Probability that a station transmits in a randomly chosen slot. */
  tau: number;
  /** Conditional collision probability seen by a transmitted frame. */
  p: number;
  /** Normalized throughput: fraction of channel time carrying payload bits successfully. */
  S: number;
  /** Probability that a slot holds at least one transmission (eq. 10). */
  Ptr: number;
  /** Probability that a transmission is successful (eq. 11). */
  Ps: number;
  /** Busy time of a success and of a collision, µs (eqs. 14-17). */
  Ts: number;
  Tc: number;
}

/**
 * Eq. (7): tau as a function of p, written as 2 / (1 + W + pW sum_{i<m} (2p)^i), the same expression
 * with the (1 - 2p) factor cancelled, so it stays finite at p = 1/2.
 */
export function tauOf(p: number, W: number, m: number): number {
  let sum = 0;
  let term = 1;
  for (let i = 0; i < m; i++) {
    sum += term;
    term *= 2 * p;
  }
  return 2 / (1 + W + p * W * sum);
}

/**
 * Solves eqs. (7) and (9) together: p = 1 - (1 - tau(p))^(n-1). The right side decreases in p and the
 * left increases, so the root in [0, 1) is unique; bisection finds it without a starting guess.
 */
export function fixedPoint(n: number, W: number, m: number): { tau: number; p: number } {
  if (!(n >= 1) || !(W >= 1) || !(m >= 0)) throw new Error('bianchi: need n >= 1, W >= 1, m >= 0');
  if (n === 1) return { tau: tauOf(0, W, m), p: 0 };
  const g = (p: number): number => p - (1 - Math.pow(1 - tauOf(p, W, m), n - 1));
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) < 0) lo = mid;
    else hi = mid;
  }
  const p = (lo + hi) / 2;
  return { tau: tauOf(p, W, m), p };
}

/** Busy times of one success and one collision, µs (eqs. 14-15 basic access, 16-17 RTS/CTS). */
export function busyTimes(o: BianchiParams): { Ts: number; Tc: number } {
  const us = 1e6 / (o.bitrateBps ?? 1e6);
  const H = (o.phyHeaderBits + o.macHeaderBits) * us;
  const P = o.payloadBits * us;
  const ack = (o.ackBits + o.phyHeaderBits) * us;
  const rts = (o.rtsBits + o.phyHeaderBits) * us;
  const cts = (o.ctsBits + o.phyHeaderBits) * us;
  const d = o.propUs, sifs = o.sifsUs, difs = o.difsUs;
  if (o.access === 'basic') {
    return { Ts: H + P + sifs + d + ack + difs + d, Tc: H + P + difs + d };
  }
  return {
    Ts: rts + sifs + d + cts + sifs + d + H + P + sifs + d + ack + difs + d,
    Tc: rts + difs + d,
  };
}

/** The model's saturation throughput (eq. 13) with tau and p of the fixed point. */
export function bianchiThroughput(o: BianchiParams): BianchiResult {
  const { tau, p } = fixedPoint(o.n, o.W, o.m);
  const { Ts, Tc } = busyTimes(o);
  const Ptr = 1 - Math.pow(1 - tau, o.n);
  const Ps = (o.n * tau * Math.pow(1 - tau, o.n - 1)) / Ptr;
  const P = (o.payloadBits * 1e6) / (o.bitrateBps ?? 1e6);
  const S = (Ps * Ptr * P) / ((1 - Ptr) * o.slotUs + Ptr * Ps * Ts + Ptr * (1 - Ps) * Tc);
  return { tau, p, S, Ptr, Ps, Ts, Tc };
}

/** Table II of the paper (802.11 FHSS at 1 Mbit/s), with W = 32 and m = 5 (CW 32..1024). */
export const BIANCHI_FHSS: Omit<BianchiParams, 'n' | 'access'> = {
  W: 32,
  m: 5,
  payloadBits: 8184,
  macHeaderBits: 272,
  phyHeaderBits: 128,
  ackBits: 112,
  rtsBits: 160,
  ctsBits: 112,
  slotUs: 50,
  sifsUs: 28,
  difsUs: 128,
  propUs: 1,
};

// Closed forms for a Bluetooth-like piconet (textbook 3.5.3; Bluetooth Core 1.1 baseband: 625 µs
// slots, DH1/DH3/DH5 ACL packets of 1/3/5 slots, HV3 links reserving 2 slots in every 6): aggregate
// ACL goodput of round-robin polling, the ACL capacity left between SCO reservations, and the mean
// delay of round-robin and exhaustive polling under Poisson arrivals. Pure functions; bench/piconet.ts
// compares the simulated MAC against them.
//
// Slot arithmetic of one visit (the master sends at a slot boundary, the slave answers in the slot
// right after the master's packet ends, and the next master packet starts right after the reply):
// - down: n-slot data packet + 1-slot NULL reply = n + 1 slots, one payload;
// - up: 1-slot POLL + n-slot data reply = n + 1 slots, one payload;
// - both: n-slot data each way = 2n slots, two payloads;
// - an idle slave: POLL + NULL = 2 slots, nothing delivered.
// Payload bits are counted at the application (the payload only, no header, no access code).

export type AclType = 'DH1' | 'DH3' | 'DH5';
export type Direction = 'down' | 'up' | 'both';

export const SLOT_US = 625;
/** Active slaves of a piconet (3-bit AM_ADDR, 0 = broadcast). */
export const MAX_ACTIVE = 7;
/** HV3: a reserved master slot and its reply slot every 6 slots. */
export const HV3_INTERVAL = 6;
export const HV3_SLOTS = 2;

/** Largest payload (bytes) and length (slots) of each ACL type, Bluetooth's DH1/DH3/DH5. */
export const ACL: Record<AclType, { payload: number; slots: number }> = {
  DH1: { payload: 27, slots: 1 },
  DH3: { payload: 183, slots: 3 },
  DH5: { payload: 339, slots: 5 },
};
export const ACL_TYPES: AclType[] = ['DH1', 'DH3', 'DH5'];
export const DIRECTIONS: Direction[] = ['down', 'up', 'both'];

/** Payloads a visit carries: two when both sides send. */
export const waysOf = (dir: Direction): number => (dir === 'both' ? 2 : 1);

/** Slots one visit to a saturated slave takes. */
export function visitSlots(type: AclType, dir: Direction): number {
  const n = ACL[type].slots;
  return dir === 'both' ? 2 * n : n + 1;
}

/**
 * Aggregate goodput, kbit/s (payload bits per ms), of pure round-robin polling with k saturated slaves
 * and n - k idle ones (each costing a POLL and a NULL per round):
 *   k * payload * 8 * ways / ((k * visitSlots + (n - k) * 2) * slotUs).
 */
export function roundRobinKbps(type: AclType, dir: Direction, k: number, n = MAX_ACTIVE, slotUs = SLOT_US): number {
  if (!(k >= 1 && k <= n && Number.isInteger(k) && Number.isInteger(n))) throw new Error('polling: need integers 1 <= k <= n');
  const roundUs = (k * visitSlots(type, dir) + (n - k) * 2) * slotUs;
  return (k * ACL[type].payload * 8 * waysOf(dir) * 1000) / roundUs;
}

/**
 * Free slots in a row between reservations with `links` HV3 links placed back to back (offsets 0, 2,
 * 4 of the 6-slot interval; any two of those leave one gap): 6 - 2 * links. Infinity without SCO.
 */
export function scoGap(links: number): number {
  if (!(links >= 0 && links <= HV3_INTERVAL / HV3_SLOTS && Number.isInteger(links))) throw new Error('polling: 0..3 HV3 links');
  return links === 0 ? Infinity : HV3_INTERVAL - HV3_SLOTS * links;
}

/**
 * What one ACL slave (saturated, and the only one the master serves between reservations) gets in a
 * gap of g free slots, as exchanges per gap and payloads per exchange. The master packet and the
 * reply must both end before the next reserved slot, so an exchange fits only whole:
 * - one way (down or up) with n-slot packets: an exchange is n + 1 slots; floor(g / (n + 1)) per gap.
 *   One HV3 link (g = 4): DH3 + 1-slot reply fills the gap, DH5 + reply (6) does not fit, two DH1
 *   exchanges fit. Two HV3 links (g = 2): only DH1 + reply.
 * - both ways: an exchange of n-slot packets each way is 2n slots; floor(g / 2n) per gap, two
 *   payloads each. When 2n > g but n + 1 <= g (DH3 with one HV3 link) the master's data packet fits
 *   and leaves a 1-slot reply budget, too short for the slave's n-slot payload: the slave answers
 *   NULL, so only the downlink payload moves (the master sends its data whenever it has some).
 * - a payload never goes in a shorter packet type than its length needs (no segmentation at this
 *   layer), so a type whose exchange does not fit the gap carries nothing.
 * Without SCO (g = Infinity) this is back to back exchanges: payload * 8 * ways / (visitSlots * slot).
 */
export function scoExchange(type: AclType, dir: Direction, links: number): { perGap: number; payloads: number } {
  const g = scoGap(links);
  const n = ACL[type].slots;
  if (g === Infinity) return { perGap: Infinity, payloads: waysOf(dir) };
  if (dir !== 'both') return { perGap: Math.floor(g / (n + 1)), payloads: 1 };
  if (2 * n <= g) return { perGap: Math.floor(g / (2 * n)), payloads: 2 };
  return { perGap: Math.floor(g / (n + 1)), payloads: 1 };
}

/** ACL goodput, kbit/s, left to one saturated slave with `links` HV3 links reserved (see scoExchange). */
export function scoAclKbps(type: AclType, dir: Direction, links: number, slotUs = SLOT_US): number {
  const bits = ACL[type].payload * 8;
  if (links === 0) return (bits * waysOf(dir) * 1000) / (visitSlots(type, dir) * slotUs);
  const e = scoExchange(type, dir, links);
  return (e.perGap * e.payloads * bits * 1000) / (HV3_INTERVAL * slotUs);
}

/** The ACL type that gets the most out of the gaps, and its goodput (the "capacity left"). */
export function scoBest(dir: Direction, links: number): { type: AclType; kbps: number } {
  let best: { type: AclType; kbps: number } = { type: 'DH1', kbps: scoAclKbps('DH1', dir, links) };
  for (const t of ACL_TYPES) {
    const k = scoAclKbps(t, dir, links);
    if (k > best.kbps) best = { type: t, kbps: k };
  }
  return best;
}

/**
 * Mean waiting time, µs, from a Poisson arrival to the decision epoch that starts its transmission,
 * when every visit takes the same `visitUs` whether or not it carries data (round-robin, or limited
 * with k = 1, on a piconet whose idle and busy visits are both 2 slots, e.g. DH1 one way): each of the
 * n slaves has one transmission opportunity per cycle T = n * visitUs, so a slave's queue is a
 * slotted M/D/1 queue with per-cycle load rho = lambda T; the queue length Q at an opportunity obeys
 * Q' = max(Q - 1, 0) + A with A ~ Poisson(rho), so E[Q] = rho (2 - rho) / (2 (1 - rho)), and by
 * Little's law on the time-average backlog (E[Q] - rho/2) the wait is T / (2 (1 - rho)).
 */
export function roundRobinWaitUs(lambdaPerSlavePerUs: number, n: number, visitUs: number): number {
  const T = n * visitUs;
  const rho = lambdaPerSlavePerUs * T;
  if (!(rho >= 0 && rho < 1)) throw new Error('polling: round-robin load must be below 1');
  return T / (2 * (1 - rho));
}

/**
 * Mean waiting time, µs, of a symmetric exhaustive polling system (H. Takagi, "Analysis of Polling
 * Systems", MIT Press 1986; the pseudo-conservation law): n queues, Poisson arrivals lambda each,
 * service time b (second moment b2), deterministic switchover r per queue (R = n r, no variance):
 *   W = (n lambda b2 + R (1 - rho / n)) / (2 (1 - rho)),  rho = n lambda b.
 * The piconet's uplink under exhaustive polling is this system: a slave's data reply (POLL + DH1, 2
 * slots) is a service, and the POLL + NULL that ends every visit is the switchover (2 slots).
 */
export function exhaustiveWaitUs(lambdaPerQueuePerUs: number, n: number, serviceUs: number, switchoverUs: number): number {
  const rho = n * lambdaPerQueuePerUs * serviceUs;
  if (!(rho >= 0 && rho < 1)) throw new Error('polling: exhaustive load must be below 1');
  const R = n * switchoverUs;
  return (n * lambdaPerQueuePerUs * serviceUs * serviceUs + R * (1 - rho / n)) / (2 * (1 - rho));
}

// Piconet MAC (textbook 3.5.3, Bluetooth BR baseband): a master owns the channel and polls up to 7
// active slaves; slaves never contend. Behind the firmware/mac/mac.ts contract, over any radio Link.
//
// - Slots of config.slotUs. The master transmits at the start of even slots; a packet occupies 1, 3 or
//   5 slots (POLL, NULL, DM1, DH1, HV3: 1; DH3: 3; DH5: 5) and the slave it addressed answers at the
//   slot boundary right after it, with at most the reply budget the master gave (1, 3 or 5 slots).
//   A slave times its reply from the packet it received, so it needs no clock of its own.
// - ARQ (one outstanding data packet each way per slave): SEQN alternates with each new data packet;
//   ARQN in the next packet from the other side acknowledges it; an unacknowledged packet is sent again
//   at the next visit, up to maxTransmissions (then TX_NOACK); a receiver recognises a resent packet by
//   its unchanged SEQN and delivers it once. The master takes a missing reply as a NAK.
// - Flow: the FLOW bit says "my receive side can take data"; the master sends only POLLs to a slave
//   that said stop (and a slave answers only NULL to a master that said stop). setFlow() sets ours.
// - Polling policies: round-robin (one exchange per visit), limited (up to k exchanges per visit while
//   there is traffic), exhaustive (stay while there is traffic), adaptive (round-robin that skips a
//   slave for 1, 3, 7 ... up to adaptiveMaxSkip rounds after it has been idle, at once back to every
//   round when either side has data).
// - Synchronous (SCO-like) links: a reserved pair of slots every `interval` slots (HV3: 6) where the
//   master sends 30 bytes of HV3 to the slave and the slave answers with 30 bytes; no ARQ. ACL packets
//   are fitted into the slots between reservations (smaller types, shorter reply budgets, or a wait);
//   a frame too large for any gap they leave is dropped with TX_ERR (there is no segmentation here).
//   The master's own data takes the gap first, so with one HV3 link and DH3 both ways the slave's
//   replies get a 1-slot budget: uplink data larger than DH1 waits until the master has none.
// - Association: inquiry (the master sends inquiry packets under GIAC; nodes in standby answer with
//   their address after a random number of inquiry packets) and page (under the paged node's own
//   access code, the master offers an AM_ADDR; the node answers in the next slot, naming the master it
//   answers (so two masters paging one node cannot both take one reply), and is connected).
//   Park (LMP, acknowledged) frees the AM_ADDR and gives a parked address; unpark is a broadcast,
//   repeated three times. Beacons (broadcast NULLs) keep parked slaves' supervision alive.
// - Supervision: a slave unheard for supervisionUs is dropped by the master (onSlaveLost); a slave
//   that hears nothing from its master for supervisionUs goes back to standby and reports it (onLost).
// - Broadcast (AM_ADDR 0) from the master is sent once, unacknowledged, with the slave slot after it
//   left empty.
// Board code: queues and buffers are allocated at creation; timers use functions bound once.

import type { Link, RxInfo } from '../../../hal/link.ts';
import { TX_ERR, TX_NOACK, TX_OK, TX_QUEUE_FULL } from '../../../hal/link.ts';
import type { Clock, Timer } from '../../../hal/clock.ts';
import type { Rng } from '../../../hal/rng.ts';
import type { Mac, MacCaps, MacRxInfo } from '../mac.ts';
import { ADDR_BROADCAST } from '../mac.ts';
import type { PiconetConfig } from './config.ts';
import type { PiconetHeader } from './frame.ts';
import {
  GIAC, LMP_DETACH, LMP_PARK, LMP_UNPARK, PT_DH1, PT_DH3, PT_DH5, PT_DM1, PT_FHS, PT_HV3, PT_NULL, PT_POLL,
  accessCode, emitHeader, parseHeader, typeSlots,
} from './frame.ts';
import { frameQueue } from '../../queue.ts';
import { handUp } from '../deliver.ts';
import type { FrameQueue } from '../../queue.ts';

export const HV3_BYTES = 30;
export const POLICY_ROUND_ROBIN = 0;
export const POLICY_LIMITED = 1;
export const POLICY_EXHAUSTIVE = 2;
export const POLICY_ADAPTIVE = 3;

type SentFn = (status: number, transmissions: number, dst: number) => void;
type RxFn = (payload: Uint8Array, len: number, info: MacRxInfo) => void;

export interface LinkStats {
  /** Data packets sent, first transmissions and retransmissions. */
  dataTx: number;
  retransmissions: number;
  acked: number;
  dropped: number;
  /** Data packets received and delivered, and resent copies recognised by SEQN. */
  delivered: number;
  duplicates: number;
  polls: number;
  nulls: number;
  /** Expected replies that did not come (master), or master packets with a bad header (slave). */
  missed: number;
  sco: number;
}

const newStats = (): LinkStats => ({ dataTx: 0, retransmissions: 0, acked: 0, dropped: 0, delivered: 0, duplicates: 0, polls: 0, nulls: 0, missed: 0, sco: 0 });

interface Common {
  cfg: PiconetConfig;
  link: Link;
  clock: Clock;
  triple: boolean;
  hdr: number;
  mtu: number;
  air: (len: number) => number;
  /** The data packet type for a payload of len bytes within `slots`, or -1. */
  typeFor: (len: number, slots: number) => number;
}

function common(link: Link, clock: Clock, cfg: PiconetConfig): Common {
  if (!(link.caps.bitrate > 0)) throw new Error('piconet: the link must report its bitrate');
  const triple = cfg.tripleHeader;
  const hdr = triple ? 11 : 5;
  const mtu = Math.max(cfg.dh1, cfg.dh3, cfg.dh5);
  if (!(mtu >= 1) || hdr + mtu > link.caps.mtu) {
    throw new Error('piconet: the largest payload (' + mtu + ') plus a ' + hdr + '-byte header does not fit the link mtu ' + link.caps.mtu);
  }
  const air = (len: number): number => Math.ceil(((cfg.phyHeaderBits + 8 * (cfg.frameBytes || len)) * 1e6) / link.caps.bitrate);
  const fits = (payload: number, slots: number): boolean => payload > 0 && air(hdr + payload) <= slots * cfg.slotUs - 50;
  if (!fits(cfg.dh1, 1) || (cfg.dh3 > 0 && !fits(cfg.dh3, 3)) || (cfg.dh5 > 0 && !fits(cfg.dh5, 5))) {
    throw new Error('piconet: a DH packet does not fit its slots at this bitrate; lengthen slotUs or shrink the payloads');
  }
  const typeFor = (len: number, slots: number): number => {
    if (len <= cfg.dh1) return PT_DH1;
    if (slots >= 3 && len <= cfg.dh3) return PT_DH3;
    if (slots >= 5 && len <= cfg.dh5) return PT_DH5;
    return -1;
  };
  return { cfg, link, clock, triple, hdr, mtu, air, typeFor };
}

// ============================================================================================
// Master
// ============================================================================================

export interface SlaveInfo {
  addr: number;
  am: number;
  /** Parked address, or 0 when active. */
  pm: number;
  stats: LinkStats;
}

export interface PiconetMaster extends Mac {
  readonly stats: { hecErrors: number; broadcasts: number; beacons: number; slaves: LinkStats[] };
  /** Find nodes in standby within range for durationUs; cb gets their addresses. */
  inquiry(durationUs: number, cb: (found: number[]) => void): boolean;
  /** Connect the node with this address; cb(true) once it answered, cb(false) after pageTimeoutUs. */
  page(addr: number, cb: (ok: boolean) => void): boolean;
  park(addr: number): boolean;
  unpark(addr: number): boolean;
  detach(addr: number): boolean;
  /** Reserve a synchronous link to a slave: 2 slots every `interval` slots (HV3: 6), at `offset`. */
  addSco(addr: number, interval: number, offset: number): boolean;
  removeSco(addr: number): void;
  /** Where SCO data comes from (fill 30 bytes) and where it goes. */
  onSco(source: ((addr: number, buf: Uint8Array) => void) | null, sink: ((addr: number, payload: Uint8Array) => void) | null): void;
  setPolicy(policy: number, k: number): void;
  setFlow(go: boolean): void;
  slaves(): SlaveInfo[];
  onSlaveLost(fn: ((addr: number) => void) | null): void;
}

export interface PiconetOptions {
  link: Link;
  clock: Clock;
  rng: Rng;
  /** This node's device address (0..0xFEFF). */
  addr: number;
  config: PiconetConfig;
}

const M_POLLING = 0;
const M_INQUIRY = 1;
const M_PAGING = 2;
const MAX_SCO = 3;
/** Wait after the mid-slot check before a reply counts as missing (a reply ending then is taken first). */
const REPLY_GRACE_US = 20;
const MAX_PARKED = 255;

export function piconetMaster(o: PiconetOptions): PiconetMaster {
  const c = common(o.link, o.clock, o.config);
  const cfg = o.config;
  const link = o.link;
  const clock = o.clock;
  const me = o.addr;
  const ac = accessCode(me);
  const slot = cfg.slotUs;
  const t0 = clock.now();

  // Per AM_ADDR 0..7 (0 = broadcast queue).
  const devAddr = new Int32Array(8).fill(-1);
  const queues: FrameQueue[] = [];
  const stats = { hecErrors: 0, broadcasts: 0, beacons: 0, slaves: [] as LinkStats[] };
  for (let i = 0; i < 8; i++) {
    queues.push(frameQueue(cfg.queueDepth, c.mtu + 1)); // +1: the packet type (DH or DM1) goes first
    stats.slaves.push(newStats());
  }
  const txSeqn = new Uint8Array(8);
  const txCount = new Uint8Array(8);
  const rxSeqn = new Int8Array(8).fill(-1);
  const ackOut = new Uint8Array(8);
  const peerFlow = new Uint8Array(8);
  const lastHeard = new Float64Array(8);
  const lastData = new Uint8Array(8); // the slave's last reply carried data
  const skipLeft = new Uint8Array(8);
  const idleRounds = new Uint8Array(8);
  const parkedAddr = new Int32Array(MAX_PARKED + 1).fill(-1); // by PM_ADDR
  const scoAm = new Int8Array(MAX_SCO).fill(-1);
  const scoInterval = new Uint16Array(MAX_SCO);
  const scoOffset = new Uint16Array(MAX_SCO);
  const tx = new Uint8Array(c.hdr + c.mtu);
  const rxBuf = new Uint8Array(c.mtu);
  const scoBuf = new Uint8Array(HV3_BYTES);
  const h: PiconetHeader = { ac: 0, am: 0, type: 0, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0 };
  const out: PiconetHeader = { ac: 0, am: 0, type: 0, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0 };
  const info: MacRxInfo = { src: 0, dst: 0, timeUs: 0, rssi: 0 };
  const txEpoch = new Uint8Array(8);
  const rxEpoch = new Int8Array(8).fill(-1);
  // ARQ state of parked slaves, kept so that unpark continues where park left off.
  const parkedTx = new Uint8Array(MAX_PARKED + 1);
  const parkedRx = new Int8Array(MAX_PARKED + 1);
  const parkedEpoch = new Uint8Array(MAX_PARKED + 1);
  const parkedRxEpoch = new Int8Array(MAX_PARKED + 1);

  let onRx: RxFn | null = null;
  let onSentFn: SentFn | null = null;
  let onLostFn: ((addr: number) => void) | null = null;
  let scoSource: ((addr: number, buf: Uint8Array) => void) | null = null;
  let scoSink: ((addr: number, payload: Uint8Array) => void) | null = null;
  let policy = POLICY_ROUND_ROBIN;
  let limitK = 1;
  let myFlow = true;

  let mode = M_POLLING;
  let nextMode = M_POLLING; // inquiry or page asked for, starting at the next tick
  let slotNo = 0; // the next master slot (even)
  let tickTimer: Timer | null = null;
  let checkTimer: Timer | null = null;
  let cur = 0; // AM being visited
  let visits = 0; // exchanges in the current visit
  // The exchange in progress.
  let expectAm = -1; // AM whose reply we wait for (-1: none)
  let expectAc = 0;
  let sentData = false; // our packet carried data (awaiting ARQN)
  let replyFrom = 0; // first slot of the reply
  let replyBudget = 1;
  let lastBroadcastAt = t0;
  let unparkRepeats = 0;
  let unparkPm = 0;
  let unparkAm = 0;
  // Inquiry and page.
  let modeEnd = 0;
  let found: number[] = [];
  let inquiryCb: ((found: number[]) => void) | null = null;
  let pageAddr = -1;
  let pageAm = 0;
  let pageCb: ((ok: boolean) => void) | null = null;

  const slotTime = (n: number): number => t0 + n * slot;

  function activeCount(): number {
    let n = 0;
    for (let a = 1; a <= 7; a++) if (devAddr[a] >= 0) n++;
    return n;
  }
  function parkedCount(): number {
    let n = 0;
    for (let p = 1; p <= MAX_PARKED; p++) if (parkedAddr[p] >= 0) n++;
    return n;
  }
  function amOf(addr: number): number {
    for (let a = 1; a <= 7; a++) if (devAddr[a] === addr) return a;
    return -1;
  }

  /** Slots from slot s up to the next reserved SCO slot (Infinity when none). */
  function freeFrom(s: number): number {
    let best = Infinity;
    for (let i = 0; i < MAX_SCO; i++) {
      if (scoAm[i] < 0) continue;
      const iv = scoInterval[i];
      const d = (((scoOffset[i] - s) % iv) + iv) % iv;
      if (d < best) best = d;
    }
    return best;
  }
  /** The longest run of free slots between reservations (Infinity when none): what any frame can get. */
  let maxFree = Infinity;
  function updateMaxFree(): void {
    let any = false;
    let period = 2;
    for (let i = 0; i < MAX_SCO; i++) {
      if (scoAm[i] < 0) continue;
      any = true;
      period *= scoInterval[i];
    }
    if (!any) {
      maxFree = Infinity;
      return;
    }
    let best = 0;
    for (let s = 0; s < period && s < 4096; s += 2) {
      const f = freeFrom(s);
      if (f > best) best = f;
    }
    maxFree = best;
  }

  /** Drop the head of queue a if it can never fit between reservations; true if it did. */
  function dropUnfit(a: number, len: number): boolean {
    const t = c.typeFor(len, 5);
    if (t >= 0 && typeSlots(t) + (a === 0 ? 1 : 1) <= maxFree) return false;
    const q = queues[a];
    const n = txCount[a];
    q.drop();
    txCount[a] = 0;
    stats.slaves[a].dropped++;
    if (onSentFn) onSentFn(TX_ERR, n, a === 0 ? ADDR_BROADCAST : devAddr[a]);
    return true;
  }

  function scoAt(s: number): number {
    for (let i = 0; i < MAX_SCO; i++) if (scoAm[i] >= 0 && s % scoInterval[i] === scoOffset[i]) return i;
    return -1;
  }

  /** Keep ticking while there is anything to do; otherwise stop until something arrives. */
  function busyMaster(): boolean {
    return mode !== M_POLLING || nextMode !== M_POLLING || activeCount() > 0 || queues[0].size() > 0 || parkedCount() > 0 || unparkRepeats > 0;
  }
  function schedule(s: number): void {
    // Never a slot already past (a deferred judgement can end after it): the first even slot from now.
    const now = clock.now();
    if (slotTime(s) < now) {
      s = Math.ceil((now - t0) / slot);
      if (s & 1) s++;
    }
    slotNo = s;
    tickTimer = clock.at(slotTime(s), tick);
  }
  let inside = false; // in tick or reply handling: they schedule the next tick themselves

  function wake(): void {
    if (inside || tickTimer !== null || expectAm >= 0 || checkTimer !== null) return;
    // Next even slot not in the past.
    let s = Math.ceil((clock.now() - t0) / slot);
    if (s & 1) s++;
    if (s < slotNo) s = slotNo;
    schedule(s);
  }

  function send(am: number, type: number, payload: Uint8Array | null, off: number, len: number, arqn: boolean, seqn: number, budget: number, acode: number): boolean {
    out.ac = acode;
    out.am = am;
    out.type = type;
    out.flow = myFlow;
    out.arqn = arqn;
    out.seqn = seqn;
    out.epoch = txEpoch[am];
    out.budget = budget;
    const n = emitHeader(tx, out, c.triple);
    for (let i = 0; i < len; i++) tx[n + i] = payload![off + i];
    return link.send(tx, n + len);
  }

  function hasTraffic(a: number): boolean {
    return (queues[a].size() > 0 && peerFlow[a] === 1) || lastData[a] === 1;
  }

  function nextVisit(): number {
    if (cur > 0 && devAddr[cur] >= 0) {
      if (policy === POLICY_LIMITED && visits < limitK && hasTraffic(cur)) return cur;
      if (policy === POLICY_EXHAUSTIVE && hasTraffic(cur)) return cur;
    }
    for (let k = 1; k <= 7; k++) {
      const a = ((cur + k - 1) % 7) + 1;
      if (devAddr[a] < 0) continue;
      if (policy === POLICY_ADAPTIVE && skipLeft[a] > 0 && !hasTraffic(a)) {
        skipLeft[a]--;
        continue;
      }
      visits = 0;
      return a;
    }
    return -1;
  }

  function supervise(now: number): void {
    for (let a = 1; a <= 7; a++) {
      if (devAddr[a] >= 0 && now - lastHeard[a] > cfg.supervisionUs) dropSlave(a);
    }
  }

  function dropSlave(a: number): void {
    const addr = devAddr[a];
    flush(a);
    if (onLostFn) onLostFn(addr);
  }

  /** Free AM_ADDR a; frames still queued for it are reported as not delivered (LMP ones silently). */
  function flush(a: number): void {
    const addr = devAddr[a];
    devAddr[a] = -1;
    let sco = false;
    for (let i = 0; i < MAX_SCO; i++) {
      if (scoAm[i] === a) {
        scoAm[i] = -1; // a reservation goes with its slave
        sco = true;
      }
    }
    if (sco) updateMaxFree();
    const q = queues[a];
    while (q.size() > 0) {
      const n = txCount[a];
      const head = q.head();
      const lmpFrame = head[0] === PT_DM1;
      if (lmpFrame && head[1] === LMP_PARK && parkedAddr[head[2]] === addr) parkedAddr[head[2]] = -1; // never parked
      q.drop();
      txCount[a] = 0;
      stats.slaves[a].dropped++;
      if (!lmpFrame && onSentFn) onSentFn(TX_NOACK, n, addr);
    }
  }

  function tick(): void {
    tickTimer = null;
    inside = true;
    tickBody();
    inside = false;
  }

  function tickBody(): void {
    const s = slotNo;
    const now = clock.now();
    if (nextMode !== M_POLLING && mode === M_POLLING) {
      // Inquiry and page start here, between exchanges, never in the middle of one.
      mode = nextMode;
      nextMode = M_POLLING;
    }
    if (mode === M_INQUIRY) return inquiryTick(s, now);
    if (mode === M_PAGING) return pageTick(s, now);
    supervise(now);
    const r = scoAt(s);
    if (r >= 0) {
      const a = scoAm[r];
      scoBuf.fill(0);
      if (scoSource) scoSource(devAddr[a], scoBuf);
      send(a, PT_HV3, scoBuf, 0, HV3_BYTES, ackOut[a] === 1, txSeqn[a], 1, ac);
      stats.slaves[a].sco++;
      expect(a, s, 1, 1, false);
      return;
    }
    const free = freeFrom(s);
    if (free < 2) return schedule(s + 2); // cannot happen with even offsets; keeps the slots honest
    // Broadcasts first: unpark commands, queued broadcasts, beacons for parked slaves.
    if (unparkRepeats > 0 && free >= 2) {
      unparkRepeats--;
      scoBuf[0] = LMP_UNPARK;
      scoBuf[1] = unparkPm;
      scoBuf[2] = unparkAm;
      send(0, PT_DM1, scoBuf, 0, 3, false, 0, 1, ac);
      lastBroadcastAt = now;
      return schedule(s + 2);
    }
    const bq = queues[0];
    if (bq.size() > 0 && bq.head()[0] !== PT_DM1) dropUnfit(0, bq.headLen() - 1); // one per tick: onSent may refill
    if (bq.size() > 0) {
      const len = bq.headLen() - 1;
      const head = bq.head();
      const type = head[0] === PT_DM1 ? PT_DM1 : c.typeFor(len, free - 1);
      if (type >= 0) {
        send(0, type, head, 1, len, false, 0, 1, ac);
        bq.drop();
        stats.broadcasts++;
        lastBroadcastAt = now;
        if (onSentFn) onSentFn(TX_OK, 1, ADDR_BROADCAST);
        return schedule(s + typeSlots(type) + 1);
      }
    } else if (parkedCount() > 0 && now - lastBroadcastAt >= cfg.beaconUs) {
      send(0, PT_NULL, null, 0, 0, false, 0, 1, ac);
      stats.beacons++;
      lastBroadcastAt = now;
      return schedule(s + 2);
    }
    const a = nextVisit();
    if (a < 0) {
      if (busyMaster()) schedule(s + 2);
      return;
    }
    cur = a;
    visits++;
    const q = queues[a];
    let type = PT_POLL;
    let len = 0;
    // A frame larger than any gap the reservations leave could never go: report it instead of waiting.
    if (q.size() > 0 && q.head()[0] !== PT_DM1) dropUnfit(a, q.headLen() - 1); // one per visit: onSent may refill
    if (q.size() > 0 && peerFlow[a] === 1) {
      len = q.headLen() - 1;
      const want = q.head()[0] === PT_DM1 ? PT_DM1 : c.typeFor(len, free - 1);
      // The reply needs a slot too: a packet that would run into a reserved slot waits for a longer gap.
      if (want >= 0 && typeSlots(want) + 1 <= free) type = want;
    }
    const n = typeSlots(type);
    const budget = free - n >= 5 ? 5 : free - n >= 3 ? 3 : 1;
    const st = stats.slaves[a];
    if (type === PT_POLL) {
      send(a, PT_POLL, null, 0, 0, ackOut[a] === 1, txSeqn[a], budget, ac);
      st.polls++;
    } else {
      send(a, type, q.head(), 1, len, ackOut[a] === 1, txSeqn[a], budget, ac);
      if (txCount[a] > 0) st.retransmissions++;
      txCount[a]++;
      st.dataTx++;
    }
    expect(a, s, n, budget, type !== PT_POLL);
  }

  /** Wait for the reply of `a` in the slot after our n-slot packet sent at slot s. */
  function expect(a: number, s: number, n: number, budget: number, data: boolean): void {
    expectAm = a;
    expectAc = ac;
    sentData = data;
    replyFrom = s + n;
    replyBudget = budget;
    checkTimer = clock.at(slotTime(replyFrom) + (slot >> 1), replyCheck);
  }

  function replyCheck(): void {
    checkTimer = null;
    if (expectAm < 0) return;
    // A reply arriving now is still on the air; one that ends at this very instant may not have been
    // handed over yet. Either way, judge later: after the longest reply allowed, or a moment from now.
    checkTimer = clock.at(link.busy() ? slotTime(replyFrom + replyBudget) : clock.now() + REPLY_GRACE_US, replyMissing);
  }

  function replyMissing(): void {
    checkTimer = null;
    if (expectAm < 0) return;
    inside = true;
    missing();
    inside = false;
  }

  function missing(): void {
    const a = expectAm;
    expectAm = -1;
    if (mode === M_POLLING && devAddr[a] >= 0) {
      stats.slaves[a].missed++;
      ackOut[a] = 0;
      lastData[a] = 0;
      if (sentData) nak(a);
    }
    const busyReply = link.busy();
    schedule(busyReply ? replyFrom + replyBudget : replyFrom + 1);
  }

  /** Our data packet to `a` was not acknowledged: try again next visit, or give up. */
  function nak(a: number): void {
    if (txCount[a] >= cfg.maxTransmissions) finishHead(a, TX_NOACK);
  }

  function finishHead(a: number, status: number): void {
    const q = queues[a];
    const n = txCount[a];
    const head = q.head();
    const lmp = head[0] === PT_DM1 ? head[1] : 0;
    q.drop();
    txCount[a] = 0;
    txSeqn[a] ^= 1;
    if (status !== TX_OK) txEpoch[a] ^= 1; // the receiver may or may not have it: a new epoch tells
    const st = stats.slaves[a];
    if (status === TX_OK) st.acked++;
    else st.dropped++;
    const addr = devAddr[a];
    if (lmp === LMP_PARK) {
      const p = head[2];
      parkedTx[p] = txSeqn[a];
      parkedRx[p] = rxSeqn[a];
      parkedEpoch[p] = txEpoch[a];
      parkedRxEpoch[p] = rxEpoch[a];
    }
    if (lmp === LMP_PARK || lmp === LMP_DETACH) {
      // Parked (or gone) whether or not the slave confirmed: a parked slave listens to broadcasts
      // from now on, and one that missed the command loses us to supervision.
      flush(a);
      return;
    }
    if (lmp === 0 && onSentFn) onSentFn(status, n, addr);
  }

  function onReply(frame: Uint8Array, len: number, rx: RxInfo): void {
    const a = expectAm;
    if (checkTimer !== null) clock.cancel(checkTimer);
    checkTimer = null;
    expectAm = -1;
    const m = typeSlots(h.type);
    lastHeard[a] = rx.timeUs;
    peerFlow[a] = h.flow ? 1 : 0;
    const st = stats.slaves[a];
    if (sentData) {
      if (h.arqn) finishHead(a, TX_OK);
      else nak(a);
    }
    if (h.type === PT_HV3) {
      if (scoSink) scoSink(devAddr[a], frame.subarray(h.off, len));
    } else if (h.type === PT_NULL) {
      st.nulls++;
      lastData[a] = 0;
    } else if (h.type === PT_DH1 || h.type === PT_DH3 || h.type === PT_DH5) {
      lastData[a] = 1;
      ackOut[a] = 1;
      idleRounds[a] = 0;
      skipLeft[a] = 0;
      if (rxSeqn[a] === h.seqn && rxEpoch[a] === h.epoch) st.duplicates++;
      else {
        rxSeqn[a] = h.seqn;
        rxEpoch[a] = h.epoch;
        st.delivered++;
        deliver(frame, len, devAddr[a], me, rx);
      }
    }
    if (policy === POLICY_ADAPTIVE && lastData[a] === 0 && queues[a].size() === 0) {
      if (idleRounds[a] < 7) idleRounds[a]++;
      const sk = (1 << idleRounds[a]) - 1;
      skipLeft[a] = sk > cfg.adaptiveMaxSkip ? cfg.adaptiveMaxSkip : sk;
    }
    schedule(replyFrom + m);
  }

  function deliver(frame: Uint8Array, len: number, src: number, dst: number, rx: RxInfo): void {
    handUp(onRx, rxBuf, info, frame, h.off, len, src, dst, rx);
  }

  // ---- inquiry and page ----------------------------------------------------------------------

  function inquiryTick(s: number, now: number): void {
    if (now >= modeEnd) {
      mode = M_POLLING;
      const cb = inquiryCb;
      inquiryCb = null;
      const f = found;
      found = [];
      if (cb) cb(f);
      if (busyMaster()) schedule(s);
      return;
    }
    scoBuf[0] = (me >>> 8) & 0xff;
    scoBuf[1] = me & 0xff;
    send(0, PT_POLL, scoBuf, 0, 2, false, 0, 1, GIAC);
    schedule(s + 2);
  }

  function pageTick(s: number, now: number): void {
    if (now >= modeEnd) {
      mode = M_POLLING;
      const cb = pageCb;
      pageCb = null;
      pageAddr = -1;
      if (cb) cb(false);
      if (busyMaster()) schedule(s);
      return;
    }
    scoBuf[0] = (me >>> 8) & 0xff;
    scoBuf[1] = me & 0xff;
    scoBuf[2] = pageAm;
    send(pageAm, PT_FHS, scoBuf, 0, 3, false, 0, 1, accessCode(pageAddr));
    schedule(s + 2);
  }

  function connect(a: number, addr: number): void {
    devAddr[a] = addr;
    txSeqn[a] = 0;
    txEpoch[a] = 0;
    txCount[a] = 0;
    rxSeqn[a] = -1;
    rxEpoch[a] = -1;
    ackOut[a] = 0;
    peerFlow[a] = 1;
    lastData[a] = 0;
    skipLeft[a] = 0;
    idleRounds[a] = 0;
    lastHeard[a] = clock.now();
  }

  o.link.onReceive((frame, len, rx) => {
    if (!parseHeader(frame, len, c.triple, h)) {
      stats.hecErrors++;
      return;
    }
    if (mode === M_INQUIRY) {
      if (h.ac === GIAC && h.type === PT_FHS && len - h.off >= 2) {
        const addr = (frame[h.off] << 8) | frame[h.off + 1];
        if (found.indexOf(addr) < 0 && found.length < 32) found.push(addr);
      }
      return;
    }
    if (mode === M_PAGING) {
      // The page response names the master it answers: two masters paging one node must not both
      // take the reply meant for one of them.
      if (h.ac === accessCode(pageAddr) && h.type === PT_NULL && h.am === pageAm && len - h.off >= 2 &&
          ((frame[h.off] << 8) | frame[h.off + 1]) === me) {
        connect(pageAm, pageAddr);
        mode = M_POLLING;
        const cb = pageCb;
        pageCb = null;
        pageAddr = -1;
        if (cb) cb(true);
      }
      return;
    }
    if (h.ac !== ac || expectAm < 0 || h.am !== expectAm || h.ac !== expectAc) return;
    inside = true;
    onReply(frame, len, rx);
    inside = false;
  });
  o.link.onSent(() => {});

  function lmp(a: number, op: number, arg: number): boolean {
    const q = queues[a];
    const slotBuf = q.tail();
    if (slotBuf === null) return false;
    slotBuf[0] = PT_DM1;
    slotBuf[1] = op;
    slotBuf[2] = arg;
    q.commit(3);
    wake();
    return true;
  }

  const caps: MacCaps = { mtu: c.mtu, carrierSense: link.caps.carrierSense };
  return {
    caps,
    addr: me,
    stats,
    send(dst: number, payload: Uint8Array, len: number): number {
      const a = dst === ADDR_BROADCAST ? 0 : amOf(dst);
      if (a < 0 || !(len >= 1 && len <= c.mtu) || len > payload.length) return TX_ERR;
      const q = queues[a];
      const slotBuf = q.tail();
      if (slotBuf === null) return TX_QUEUE_FULL;
      slotBuf[0] = PT_DH1;
      for (let i = 0; i < len; i++) slotBuf[1 + i] = payload[i];
      q.commit(len + 1);
      wake();
      return TX_OK;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    queued(): number {
      let n = 0;
      for (let a = 0; a < 8; a++) n += queues[a].size();
      return n;
    },
    inquiry(durationUs, cb): boolean {
      if (mode !== M_POLLING || nextMode !== M_POLLING) return false;
      nextMode = M_INQUIRY;
      modeEnd = clock.now() + durationUs;
      found = [];
      inquiryCb = cb;
      wake();
      return true;
    },
    page(addr, cb): boolean {
      if (mode !== M_POLLING || nextMode !== M_POLLING || amOf(addr) >= 0) return false;
      let a = 1;
      while (a <= 7 && devAddr[a] >= 0) a++;
      if (a > 7) return false;
      nextMode = M_PAGING;
      modeEnd = clock.now() + cfg.pageTimeoutUs;
      pageAddr = addr;
      pageAm = a;
      pageCb = cb;
      wake();
      return true;
    },
    park(addr): boolean {
      const a = amOf(addr);
      if (a < 0) return false;
      let p = 1;
      while (p <= MAX_PARKED && parkedAddr[p] >= 0) p++;
      if (p > MAX_PARKED) return false;
      if (!lmp(a, LMP_PARK, p)) return false;
      parkedAddr[p] = addr;
      return true;
    },
    unpark(addr): boolean {
      let p = 1;
      while (p <= MAX_PARKED && parkedAddr[p] !== addr) p++;
      if (p > MAX_PARKED || unparkRepeats > 0) return false;
      let a = 1;
      while (a <= 7 && devAddr[a] >= 0) a++;
      if (a > 7) return false;
      parkedAddr[p] = -1;
      connect(a, addr);
      txSeqn[a] = parkedTx[p]; // the link goes on where park left it: nothing is resent or lost
      rxSeqn[a] = parkedRx[p];
      txEpoch[a] = parkedEpoch[p];
      rxEpoch[a] = parkedRxEpoch[p];
      unparkPm = p;
      unparkAm = a;
      unparkRepeats = 3;
      wake();
      return true;
    },
    detach(addr): boolean {
      const a = amOf(addr);
      return a >= 0 && lmp(a, LMP_DETACH, 0);
    },
    addSco(addr, interval, offset): boolean {
      const a = amOf(addr);
      if (a < 0 || interval < 4 || interval & 1 || offset & 1 || offset >= interval) return false;
      for (let i = 0; i < MAX_SCO; i++) {
        if (scoAm[i] >= 0) continue;
        // The new pair must not land on another reservation, anywhere in their common period.
        let period = interval;
        for (let j = 0; j < MAX_SCO; j++) if (scoAm[j] >= 0) period *= scoInterval[j];
        for (let s = offset; s < period && s < 65536; s += interval) {
          if (scoAt(s) >= 0) return false;
        }
        scoAm[i] = a;
        scoInterval[i] = interval;
        scoOffset[i] = offset;
        updateMaxFree();
        return true;
      }
      return false;
    },
    removeSco(addr): void {
      const a = amOf(addr);
      for (let i = 0; i < MAX_SCO; i++) if (scoAm[i] === a) scoAm[i] = -1;
      updateMaxFree();
    },
    onSco(source, sink): void {
      scoSource = source;
      scoSink = sink;
    },
    setPolicy(p, k): void {
      policy = p;
      limitK = k > 0 ? k : 1;
    },
    setFlow(go): void { myFlow = go; },
    slaves(): SlaveInfo[] {
      const list: SlaveInfo[] = [];
      for (let a = 1; a <= 7; a++) if (devAddr[a] >= 0) list.push({ addr: devAddr[a], am: a, pm: 0, stats: stats.slaves[a] });
      for (let p = 1; p <= MAX_PARKED; p++) if (parkedAddr[p] >= 0) list.push({ addr: parkedAddr[p], am: 0, pm: p, stats: newStats() });
      return list;
    },
    onSlaveLost(fn) { onLostFn = fn; },
  };
}

// ============================================================================================
// Slave
// ============================================================================================

export const S_STANDBY = 0;
export const S_ACTIVE = 1;
export const S_PARKED = 2;

export interface PiconetSlave extends Mac {
  readonly stats: LinkStats & { hecErrors: number; inquiryReplies: number };
  /** S_STANDBY, S_ACTIVE or S_PARKED. */
  state(): number;
  /** The master's address while connected, else -1. */
  master(): number;
  setFlow(go: boolean): void;
  onSco(source: ((buf: Uint8Array) => void) | null, sink: ((payload: Uint8Array) => void) | null): void;
  /** Told when the master is gone (supervision timeout) or detached us: 'timeout' or 'detached'. */
  onLost(fn: ((reason: string) => void) | null): void;
  /** Answer inquiries and pages (default true). */
  setScan(on: boolean): void;
}

export function piconetSlave(o: PiconetOptions): PiconetSlave {
  const c = /* @__NOINLINE__ */ common(o.link, o.clock, o.config);
  const cfg = o.config;
  const link = o.link;
  const clock = o.clock;
  const rng = o.rng;
  const me = o.addr;
  const dac = accessCode(me);
  const slot = cfg.slotUs;

  const q = /* @__NOINLINE__ */ frameQueue(cfg.queueDepth, c.mtu); // not inlined: bench/footprint.ts
  const tx = new Uint8Array(c.hdr + c.mtu);
  const rxBuf = new Uint8Array(c.mtu);
  const scoBuf = new Uint8Array(HV3_BYTES);
  const h: PiconetHeader = { ac: 0, am: 0, type: 0, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0 };
  const out: PiconetHeader = { ac: 0, am: 0, type: 0, flow: true, arqn: false, seqn: 0, epoch: 0, budget: 1, off: 0 };
  const info: MacRxInfo = { src: 0, dst: 0, timeUs: 0, rssi: 0 };
  let txEpoch = 0;
  let rxEpoch = -1;
  const stats = Object.assign(newStats(), { hecErrors: 0, inquiryReplies: 0 });

  let onRx: RxFn | null = null;
  let onSentFn: SentFn | null = null;
  let onLostFn: ((reason: string) => void) | null = null;
  let scoSource: ((buf: Uint8Array) => void) | null = null;
  let scoSink: ((payload: Uint8Array) => void) | null = null;
  let st = S_STANDBY;
  let scan = true;
  let ac = 0;
  let masterAddr = -1;
  let am = 0;
  let pm = 0;
  let myFlow = true;
  let peerFlow = true;
  let txSeqn = 0;
  let txCount = 0;
  let outstanding = false;
  let rxSeqn = -1;
  let inqBackoff = rng.u32() % (cfg.inquiryBackoff + 1); // inquiry packets to let pass before answering
  let afterReply = 0; // LMP action to take once our reply is on the air
  let supTimer: Timer | null = null;
  // The reply being prepared.
  let replyLen = 0;
  let replyTimer: Timer | null = null;

  function header(acode: number, amAddr: number, type: number, arqn: boolean, seqn: number): number {
    out.ac = acode;
    out.am = amAddr;
    out.type = type;
    out.flow = myFlow;
    out.arqn = arqn;
    out.seqn = seqn;
    out.epoch = txEpoch;
    out.budget = 1;
    return emitHeader(tx, out, c.triple);
  }

  function sendReply(): void {
    replyTimer = null;
    if (replyLen > 0 && link.send(tx, replyLen)) {
      replyLen = 0;
      if (afterReply !== 0) lmpAction();
    }
    replyLen = 0;
  }
  function replyAt(t: number, len: number): void {
    replyLen = len;
    if (replyTimer !== null) clock.cancel(replyTimer);
    replyTimer = clock.at(t, sendReply);
  }

  function supervisionExpired(): void {
    supTimer = null;
    lose('timeout');
  }
  function heard(): void {
    if (supTimer !== null) clock.cancel(supTimer);
    supTimer = clock.at(clock.now() + cfg.supervisionUs, supervisionExpired);
  }

  function lose(reason: string): void {
    const was = masterAddr;
    st = S_STANDBY;
    ac = 0;
    masterAddr = -1;
    if (supTimer !== null) clock.cancel(supTimer);
    supTimer = null;
    if (replyTimer !== null) clock.cancel(replyTimer);
    replyTimer = null;
    while (q.size() > 0) {
      const n = txCount;
      q.drop();
      txCount = 0;
      stats.dropped++;
      if (onSentFn) onSentFn(TX_NOACK, n, was);
    }
    outstanding = false;
    if (onLostFn) onLostFn(reason);
  }

  function lmpAction(): void {
    const op = afterReply;
    afterReply = 0;
    if (op === LMP_PARK) {
      st = S_PARKED;
      am = 0;
    } else if (op === LMP_DETACH) {
      lose('detached');
    }
  }

  function deliver(frame: Uint8Array, len: number, dst: number, rx: RxInfo): void {
    stats.delivered++;
    handUp(onRx, rxBuf, info, frame, h.off, len, masterAddr, dst, rx);
  }

  // A bitmask rather than a chain of comparisons: terser inlines the chain with a temporary `var`
  // declared after its use, which Espruino (no hoisting) would turn into a global.
  const DATA_TYPES = (1 << PT_DH1) | (1 << PT_DH3) | (1 << PT_DH5) | (1 << PT_DM1);
  /** Answer a page (FHS under our own access code): connect to that master with the AM_ADDR it offers. */
  function join(frame: Uint8Array, len: number, start: number): void {
    masterAddr = (frame[h.off] << 8) | frame[h.off + 1];
    am = frame[h.off + 2] & 7;
    pm = 0;
    ac = accessCode(masterAddr);
    st = S_ACTIVE;
    txSeqn = 0;
    txEpoch = 0;
    txCount = 0;
    outstanding = false;
    rxSeqn = -1;
    rxEpoch = -1;
    peerFlow = true;
    afterReply = 0;
    const k = header(dac, am, PT_NULL, false, 0);
    tx[k] = (masterAddr >>> 8) & 0xff; // echo the master's address: whose page this answers
    tx[k + 1] = masterAddr & 0xff;
    replyAt(start + slot, k + 2);
    heard();
  }

  function isData(t: number): boolean {
    return ((DATA_TYPES >> t) & 1) === 1;
  }

  link.onReceive((frame, len, rx) => {
    if (!parseHeader(frame, len, c.triple, h)) {
      stats.hecErrors++;
      return;
    }
    const start = rx.timeUs - c.air(len); // when the packet began (at our antenna)
    const n = typeSlots(h.type);
    if (st === S_STANDBY) {
      if (!scan) return;
      if (h.ac === GIAC && h.type === PT_POLL) {
        if (inqBackoff > 0) {
          inqBackoff--;
          return;
        }
        inqBackoff = rng.u32() % (cfg.inquiryBackoff + 1);
        const k = header(GIAC, 0, PT_FHS, false, 0);
        tx[k] = (me >>> 8) & 0xff;
        tx[k + 1] = me & 0xff;
        stats.inquiryReplies++;
        replyAt(start + slot, k + 2);
      } else if (h.ac === dac && h.type === PT_FHS && len - h.off >= 3) {
        join(frame, len, start);
      }
      return;
    }
    if (h.ac === dac && h.type === PT_FHS && len - h.off >= 3 && scan && ((frame[h.off] << 8) | frame[h.off + 1]) === masterAddr) {
      // Paged by our own master while we think we are connected: it dropped us. Join anew. (A page from
      // another master is ignored: a bridge is one device in two piconets, and each link stays.)
      join(frame, len, start);
      return;
    }
    if (h.ac !== ac) return; // another piconet
    // Supervision: only packets for us prove the master still serves us (a parked slave: broadcasts).
    if (h.am === 0 ? st === S_PARKED : st === S_ACTIVE && h.am === am) heard();
    if (h.am === 0) {
      // Broadcast: unpark commands, data, beacons. No reply.
      if (h.type === PT_DM1 && len - h.off >= 3 && frame[h.off] === LMP_UNPARK) {
        if (st === S_PARKED && frame[h.off + 1] === pm) {
          st = S_ACTIVE;
          am = frame[h.off + 2] & 7;
          pm = 0;
          // The master keeps the link's ARQ state across park and unpark, and so do we.
        }
      } else if (h.type === PT_DH1 || h.type === PT_DH3 || h.type === PT_DH5) {
        deliver(frame, len, ADDR_BROADCAST, rx);
      }
      return;
    }
    if (st !== S_ACTIVE || h.am !== am) return;
    peerFlow = h.flow;
    if (h.type === PT_HV3) {
      stats.sco++;
      if (scoSink) scoSink(frame.subarray(h.off, len));
      scoBuf.fill(0);
      if (scoSource) scoSource(scoBuf);
      const k = header(ac, am, PT_HV3, false, 0);
      for (let i = 0; i < HV3_BYTES; i++) tx[k + i] = scoBuf[i];
      replyAt(start + slot, k + HV3_BYTES);
      return;
    }
    // Our outstanding data packet is acknowledged (or not) by this packet's ARQN.
    if (outstanding) {
      outstanding = false;
      if (h.arqn) {
        const cnt = txCount;
        q.drop();
        txCount = 0;
        txSeqn ^= 1;
        stats.acked++;
        if (onSentFn) onSentFn(TX_OK, cnt, masterAddr);
      } else if (txCount >= cfg.maxTransmissions) {
        const cnt = txCount;
        q.drop();
        txCount = 0;
        txSeqn ^= 1;
        txEpoch ^= 1; // the master may or may not have it: a new epoch tells
        stats.dropped++;
        if (onSentFn) onSentFn(TX_NOACK, cnt, masterAddr);
      }
    }
    let arqn = false;
    if (isData(h.type)) {
      arqn = true;
      if (h.seqn === rxSeqn && h.epoch === rxEpoch) stats.duplicates++;
      else {
        rxSeqn = h.seqn;
        rxEpoch = h.epoch;
        if (h.type === PT_DM1) {
          const op = frame[h.off];
          if (op === LMP_PARK) {
            pm = frame[h.off + 1];
            afterReply = LMP_PARK;
          } else if (op === LMP_DETACH) afterReply = LMP_DETACH;
        } else deliver(frame, len, me, rx);
      }
    } else if (h.type === PT_POLL) stats.polls++;
    // Reply in the slot after the master's packet, within the budget it gave.
    const at = start + n * slot;
    const len2 = q.headLen();
    const type = len2 > 0 && peerFlow ? c.typeFor(len2, h.budget) : -1;
    if (type >= 0) {
      const k = header(ac, am, type, arqn, txSeqn);
      const head = q.head();
      for (let i = 0; i < len2; i++) tx[k + i] = head[i];
      if (txCount > 0) stats.retransmissions++;
      txCount++;
      stats.dataTx++;
      outstanding = true;
      replyAt(at, k + len2);
    } else {
      stats.nulls++;
      replyAt(at, header(ac, am, PT_NULL, arqn, txSeqn));
    }
  });
  link.onSent(() => {});

  const caps: MacCaps = { mtu: c.mtu, carrierSense: link.caps.carrierSense };
  return {
    caps,
    addr: me,
    stats,
    send(dst: number, payload: Uint8Array, len: number): number {
      // A slave talks only to its master: frames for the master or "broadcast" both go to it.
      if (st === S_STANDBY || (dst !== masterAddr && dst !== ADDR_BROADCAST) || !(len >= 1 && len <= c.mtu) || len > payload.length) return TX_ERR;
      if (!q.put(payload, len)) return TX_QUEUE_FULL;
      return TX_OK;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    queued: () => q.size(),
    state: () => st,
    master: () => masterAddr,
    setFlow(go) { myFlow = go; },
    onSco(source, sink) {
      scoSource = source;
      scoSink = sink;
    },
    onLost(fn) { onLostFn = fn; },
    setScan(on) { scan = on; },
  };
}

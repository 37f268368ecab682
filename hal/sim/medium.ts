// Simulated shared medium: a radio channel (positions and ranges, or an explicit who-hears-whom
// matrix for exact hidden-station set-ups) or an Ethernet-like wired segment. Each station gets a
// hal/link.ts Link.
//
// Model (per receiver, as in the textbook's CSMA/CA discussion, 3.5.2):
// - A transmission of len bytes lasts ceil((preambleBits + 8*len) * 1e6 / bitrate) µs and reaches each
//   station that hears the sender after a propagation delay (distance / c, or a fixed value).
// - Carrier sense: a station senses the medium busy while it transmits or while any signal it hears
//   is arriving.
// - A receiver decodes a frame only if the medium at that receiver was idle when the frame began and
//   stays free of other signals until it ends, and the receiver does not transmit meanwhile
//   (half duplex). Overlap destroys every frame involved, at that receiver only: a hidden station
//   collides at the receiver in the middle and nowhere else. No capture effect.
// - A frame occupies [start, end): one that ends at t and one that begins at t do not overlap,
//   whatever order the events at t run in (decisions compare end times, not event order).
// - Who hears a frame is fixed when it is sent: moving a station affects later frames only.
// - A frame that survived is then lost with the link's loss probability (seeded).
// - A wired segment (collisionDetect) tells the sender TX_COLLISION when its frame overlapped another
//   signal at the sender, like Ethernet's collision detection; a radio cannot, and reports TX_OK.
// Everything random comes from the seeded Rng, and events run in (time, sequence) order, so one
// seed and one scenario give one trace.

import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn, TxStatus } from '../link.ts';
import { TX_COLLISION, TX_OK } from '../link.ts';
import type { Rng } from '../rng.ts';
import { chance } from '../prng.ts';
import type { Scheduler } from './scheduler.ts';
import { hexBytes } from '../mw/trace.ts';

/** Light travels 299.792458 m per µs. */
const C_M_PER_US = 299.792458;

export interface MediumOptions {
  /** Bit rate of the channel in bit/s. */
  bitrate: number;
  /** Largest frame in bytes. */
  mtu: number;
  /** Per-frame physical-layer overhead in bits (preamble, sync word, PHY header). Default 0. */
  preambleBits?: number;
  /** Fixed propagation delay in µs for every pair; default: computed from positions (distance / c). */
  propagationUs?: number;
  /** Frame loss in percent on every link that has no loss of its own. Default 0. */
  lossPct?: number;
  /** Seeded random generator for loss decisions. Required when any loss is set. */
  rng?: Rng;
  /** 'radio' (default) or 'wired'. */
  medium?: 'radio' | 'wired';
  /** Senders learn of collisions (TX_COLLISION); default true for 'wired', false for 'radio'. */
  collisionDetect?: boolean;
  /** Received power reported in RxInfo.rssi for every frame, dBm. Default -60. */
  rssiDbm?: number;
  /** Receives one line per medium event (tx, rx, collision, loss), for deterministic traces. */
  trace?: (line: string) => void;
}

export interface StationOptions {
  /** Station id, used in traces and captures. Default: the next free index. */
  id?: number;
  x?: number;
  y?: number;
  /** Transmit range in metres. Default Infinity: heard by every station. */
  range?: number;
}

export interface StationStats {
  txFrames: number;
  txBytes: number;
  rxFrames: number;
  rxBytes: number;
  /** Frames that reached this station but were destroyed by an overlapping signal. */
  rxCollisions: number;
  /** Frames that arrived while this station was transmitting (half duplex). */
  rxMissedWhileTx: number;
  /** Frames lost to the link's loss probability. */
  rxLost: number;
  /** Own transmissions reported as collided (wired segments only). */
  txCollisions: number;
}

export interface Station {
  readonly id: number;
  readonly link: Link;
  readonly stats: StationStats;
  /** Move the station (metres); hearing and delays are recomputed for frames sent from now on. */
  moveTo(x: number, y: number): void;
}

export interface Medium {
  readonly caps: LinkCaps;
  station(opts?: StationOptions): Station;
  readonly stations: readonly Station[];
  /** Override whether `to` hears `from` (one direction). Takes precedence over positions. */
  setHears(from: number, to: number, hears: boolean): void;
  /** Frame loss in percent on the link from `from` to `to` (one direction). */
  setLoss(from: number, to: number, pct: number): void;
  /** Does `to` hear `from`? */
  hears(from: number, to: number): boolean;
  /** Transmission time in µs of a frame of `len` bytes. */
  airtimeUs(len: number): number;
}

interface Tx {
  src: St;
  bytes: Uint8Array;
  len: number;
}

const INTACT = 0, COLLIDED = 1, MISSED = 2;

/** One frame as it arrives at one receiver: its state there and when its last bit arrives. */
interface Rec {
  tx: Tx;
  state: number;
  end: number;
}

interface Edge {
  to: St;
  delayUs: number;
  lossPct: number;
}

interface St {
  id: number;
  index: number;
  x: number;
  y: number;
  range: number;
  transmitting: boolean;
  /** When this station's current (or last) transmission ends. */
  txEnd: number;
  txCollided: boolean;
  /** Signals arriving at this station whose end has not been processed yet. */
  active: Rec[];
  /** The frame this station is locked on to (decoding), if any. */
  rx: Rec | null;
  onRx: ReceiveFn | null;
  onSent: SentFn | null;
  onCarrier: ((busy: boolean) => void) | null;
  /** busy() as last told to onCarrier. */
  lastBusy: boolean;
  info: RxInfo;
  stats: StationStats;
  edges: Edge[] | null;
}

export function medium(sched: Scheduler, opts: MediumOptions): Medium {
  if (!(opts.bitrate > 0)) throw new Error('medium: bitrate must be a positive number of bit/s');
  if (!(opts.mtu > 0)) throw new Error('medium: mtu must be a positive number of bytes');
  const kind = opts.medium ?? 'radio';
  const cd = opts.collisionDetect ?? kind === 'wired';
  const preamble = opts.preambleBits ?? 0;
  const defaultLoss = opts.lossPct ?? 0;
  const rng = opts.rng;
  const trace = opts.trace;
  const rssi = opts.rssiDbm ?? -60;
  if (defaultLoss > 0 && !rng) throw new Error('medium: lossPct needs an rng (a seeded generator) to decide losses');
  const sts: St[] = [];
  const stations: Station[] = [];
  const hearOverride: Record<string, boolean> = {};
  const lossOverride: Record<string, number> = {};
  const caps: LinkCaps = { mtu: opts.mtu, bitrate: opts.bitrate, medium: kind, carrierSense: true, broadcast: true };

  const airtimeUs = (len: number): number => Math.ceil(((preamble + 8 * len) * 1e6) / opts.bitrate);
  const key = (a: number, b: number): string => a + '>' + b;
  const log = (s: string): void => {
    if (trace) trace(`${String(sched.now()).padStart(10)} ${s}`);
  };
  const hex = (b: Uint8Array, len: number): string => hexBytes(b, len, 12);

  function heard(from: St, to: St): boolean {
    const o = hearOverride[key(from.id, to.id)];
    if (o !== undefined) return o;
    return Math.hypot(from.x - to.x, from.y - to.y) <= from.range;
  }

  function invalidate(): void {
    for (const s of sts) s.edges = null;
  }

  function edgesOf(s: St): Edge[] {
    if (s.edges) return s.edges;
    const out: Edge[] = [];
    for (const r of sts) {
      if (r === s || !heard(s, r)) continue;
      const d = opts.propagationUs ?? Math.round(Math.hypot(s.x - r.x, s.y - r.y) / C_M_PER_US);
      const l = lossOverride[key(s.id, r.id)];
      out.push({ to: r, delayUs: d, lossPct: l === undefined ? defaultLoss : l });
    }
    s.edges = out;
    return out;
  }

  /** Is this arrival still on the air now? (An arrival ending now is over: [start, end).) */
  const live = (rec: Rec): boolean => rec.end > sched.now();
  const hearsSignal = (r: St, except: Rec | null): boolean => {
    for (const a of r.active) if (a !== except && live(a)) return true;
    return false;
  };

  const busyOf = (s: St): boolean => s.txEnd > sched.now() || hearsSignal(s, null);
  /** Tell the station's onCarrier if its carrier-sense state changed. */
  function carrier(s: St): void {
    const b = busyOf(s);
    if (b === s.lastBusy) return;
    s.lastBusy = b;
    if (s.onCarrier) s.onCarrier(b);
  }

  function arrivalStart(r: St, rec: Rec): void {
    lockOrCollide(r, rec);
    carrier(r);
  }

  function lockOrCollide(r: St, rec: Rec): void {
    r.active.push(rec);
    if (r.txEnd > sched.now()) {
      rec.state = MISSED;
      if (cd) r.txCollided = true;
    } else if (!hearsSignal(r, rec)) {
      r.rx = rec; // the medium was idle here: lock on to this frame
    } else {
      rec.state = COLLIDED; // began while another signal was present
      if (r.rx && live(r.rx)) r.rx.state = COLLIDED; // and destroys the one being decoded
    }
  }

  function arrivalEnd(r: St, rec: Rec, e: Edge): void {
    endOfArrival(r, rec, e);
    carrier(r); // after delivery: a MAC sees the frame before it sees the medium go idle
  }

  function endOfArrival(r: St, rec: Rec, e: Edge): void {
    const tx = rec.tx;
    r.active.splice(r.active.indexOf(rec), 1);
    if (r.rx === rec) r.rx = null;
    if (rec.state === MISSED) {
      r.stats.rxMissedWhileTx++;
      log(`miss st=${r.id} from=${tx.src.id} len=${tx.len} (transmitting)`);
      return;
    }
    if (rec.state === COLLIDED) {
      r.stats.rxCollisions++;
      log(`coll st=${r.id} from=${tx.src.id} len=${tx.len}`);
      return;
    }
    if (e.lossPct > 0) {
      if (chance(rng!, e.lossPct)) {
        r.stats.rxLost++;
        log(`lost st=${r.id} from=${tx.src.id} len=${tx.len}`);
        return;
      }
    }
    r.stats.rxFrames++;
    r.stats.rxBytes += tx.len;
    log(`rx   st=${r.id} from=${tx.src.id} len=${tx.len} ${hex(tx.bytes, tx.len)}`);
    if (r.onRx) {
      r.info.timeUs = sched.now();
      r.info.rssi = rssi;
      r.onRx(tx.bytes, tx.len, r.info);
    }
  }

  function txEnd(s: St): void {
    s.transmitting = false;
    carrier(s);
    const status: TxStatus = s.txCollided ? TX_COLLISION : TX_OK;
    if (s.txCollided) s.stats.txCollisions++;
    s.txCollided = false;
    if (s.onSent) s.onSent(status);
  }

  function send(s: St, frame: Uint8Array, len: number): boolean {
    if (s.transmitting || !(len > 0) || len > opts.mtu || len > frame.length) return false;
    const tx: Tx = { src: s, bytes: frame.slice(0, len), len };
    const dur = airtimeUs(len);
    s.transmitting = true;
    s.txEnd = sched.now() + dur;
    s.txCollided = cd && hearsSignal(s, null);
    if (s.rx && live(s.rx)) s.rx.state = MISSED; // half duplex: our own transmission ruins what we were receiving
    s.rx = null;
    s.stats.txFrames++;
    s.stats.txBytes += len;
    log(`tx   st=${s.id} len=${len} dur=${dur} ${hex(tx.bytes, len)}`);
    carrier(s);
    for (const e of edgesOf(s)) {
      const r = e.to;
      const rec: Rec = { tx, state: INTACT, end: sched.now() + dur + e.delayUs };
      if (e.delayUs === 0) arrivalStart(r, rec);
      else sched.at(sched.now() + e.delayUs, () => arrivalStart(r, rec));
      sched.at(sched.now() + dur + e.delayUs, () => arrivalEnd(r, rec, e));
    }
    sched.at(sched.now() + dur, () => txEnd(s));
    return true;
  }

  function station(o: StationOptions = {}): Station {
    const id = o.id ?? sts.length;
    if (sts.some((s) => s.id === id)) throw new Error(`medium: station id ${id} is taken`);
    const s: St = {
      id, index: sts.length, x: o.x ?? 0, y: o.y ?? 0, range: o.range ?? Infinity,
      transmitting: false, txEnd: 0, txCollided: false, active: [], rx: null,
      onRx: null, onSent: null, onCarrier: null, lastBusy: false, info: { timeUs: 0, rssi: 0 },
      stats: { txFrames: 0, txBytes: 0, rxFrames: 0, rxBytes: 0, rxCollisions: 0, rxMissedWhileTx: 0, rxLost: 0, txCollisions: 0 },
      edges: null,
    };
    sts.push(s);
    invalidate();
    const link: Link = {
      caps,
      send: (frame, len) => send(s, frame, len),
      onReceive: (fn) => { s.onRx = fn; },
      onSent: (fn) => { s.onSent = fn; },
      busy: () => busyOf(s),
      onCarrier: (fn) => { s.onCarrier = fn; s.lastBusy = busyOf(s); },
    };
    const st: Station = {
      id, link, stats: s.stats,
      moveTo(x: number, y: number): void { s.x = x; s.y = y; invalidate(); },
    };
    stations.push(st);
    return st;
  }

  const byId = (id: number): St => {
    const s = sts.find((t) => t.id === id);
    if (!s) throw new Error(`medium: no station with id ${id}`);
    return s;
  };

  return {
    caps,
    station,
    stations,
    setHears(from, to, h) { byId(from); byId(to); hearOverride[key(from, to)] = h; invalidate(); },
    setLoss(from, to, pct) {
      if (!(pct >= 0 && pct <= 100)) throw new Error('medium: loss must be a percentage in [0, 100]');
      if (pct > 0 && !rng) throw new Error('medium: setLoss needs the medium to have an rng (a seeded generator)');
      byId(from); byId(to); lossOverride[key(from, to)] = pct; invalidate();
    },
    hears: (from, to) => heard(byId(from), byId(to)),
    airtimeUs,
  };
}

/** An Ethernet-like wired segment: everyone hears everyone, collisions are detected by the sender. */
export function segment(sched: Scheduler, opts: Partial<MediumOptions> = {}): Medium {
  return medium(sched, { bitrate: 10_000_000, mtu: 1500, preambleBits: 64, propagationUs: 1, ...opts, medium: 'wired', collisionDetect: true });
}

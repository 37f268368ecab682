// CSMA/CA against Bianchi's saturation model (issue "Validation against the model"; G. Bianchi, IEEE
// JSAC 18(3), 2000, Table II parameters = the CSMA_FHSS preset). n saturated stations, all in range,
// on the simulated radio medium at 1 Mbit/s (128-bit PHY header, 1 µs propagation), each running
// firmware/mac/csma with no retry limit (255) and 1023-byte payloads, so a DATA frame is 34 + 1023
// bytes on the air (8184 payload bits). Throughput S = payload bits newly delivered / channel time,
// measured after a warm-up; the reference is the model's S (bench/model/bianchi.ts) for the same n and
// access mode. Headline: the largest |relative error| over all points (smaller is better; the target
// is 1.5 %, the tolerance ns-3 uses for the same check).
// Options: --seconds=S channel time per point (100), --warmup=S (2), --n=5,10 and --access=basic|rts
// to run a subset, --seed=K, --quick (10 s per point, n = 5 and 20), --json.
import type { BenchResult, BenchRow } from './run.ts';
import { bianchiThroughput, BIANCHI_FHSS } from './model/bianchi.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import { medium } from '../hal/sim/medium.ts';
import { xoshiro } from '../hal/prng.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_FHSS } from '../firmware/mac/csma/config.ts';

export type Access = 'basic' | 'rts';

export const PAYLOAD_BYTES = 1023;

export interface SaturatedResult {
  /** Payload bits newly delivered per µs of channel time in the measured window. */
  S: number;
  /** Collision probability seen by an attempt (RTS, or DATA in basic access): attempts without response / attempts. */
  p: number;
  /** Attempts per station per second, measured window. */
  attemptsPerSec: number;
  /** Payloads delivered twice to the application (the MAC's duplicate filter should make this 0). */
  duplicates: number;
  /** Frames dropped at the retry limit, whole run. */
  drops: number;
  /** Simulated seconds (warm-up included). */
  simSeconds: number;
  events: number;
}

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : undefined;
}

/** One point: n saturated stations, station i sending to (i + 1) % n. */
export function saturated(n: number, access: Access, seconds: number, warmupSeconds: number, seed: number): SaturatedResult {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, preambleBits: 128, propagationUs: 1, mtu: 1100 });
  const config = {
    ...CSMA_FHSS,
    dot11ShortRetryLimit: 255,
    dot11LongRetryLimit: 255,
    dot11RTSThreshold: access === 'rts' ? 0 : 100_000,
  };
  const macs: CsmaMac[] = [];
  // Each payload starts with the sender's frame counter (u32), so deliveries are counted once each
  // here, whatever the MAC's own duplicate filter does.
  const lastSeen = new Float64Array(n * n).fill(-1);
  let deliveredBits = 0;
  let duplicates = 0;
  for (let i = 0; i < n; i++) {
    const st = m.station({ id: i });
    const mac = csma({ link: st.link, clock: s, rng: xoshiro(seed * 7919 + i), addr: i, config });
    const payload = new Uint8Array(PAYLOAD_BYTES);
    let counter = 0;
    const dst = (i + 1) % n;
    const push = (): void => {
      const v = new DataView(payload.buffer);
      while (mac.queued() < config.queueDepth) {
        v.setUint32(0, counter);
        if (mac.send(dst, payload, PAYLOAD_BYTES) !== 0) break;
        counter++;
      }
    };
    mac.onSent(() => push());
    mac.onReceive((buf, len, info) => {
      if (len !== PAYLOAD_BYTES) return;
      const c = new DataView(buf.buffer, buf.byteOffset, len).getUint32(0);
      const k = info.src * n + i;
      if (c <= lastSeen[k]) { duplicates++; return; }
      lastSeen[k] = c;
      deliveredBits += 8 * len;
    });
    macs.push(mac);
    push();
  }
  const attempts = (): number => macs.reduce((a, x) => a + (access === 'rts' ? x.stats.rtsTx : x.stats.dataTx), 0);
  const failures = (): number => macs.reduce((a, x) => a + x.stats.noResponse, 0);
  const w = Math.round(warmupSeconds * 1e6);
  s.runUntil(w);
  const bits0 = deliveredBits, att0 = attempts(), fail0 = failures();
  s.runUntil(w + Math.round(seconds * 1e6));
  const att = attempts() - att0;
  return {
    S: (deliveredBits - bits0) / (seconds * 1e6),
    p: att > 0 ? (failures() - fail0) / att : 0,
    attemptsPerSec: att / n / seconds,
    duplicates,
    drops: macs.reduce((a, x) => a + x.stats.dropNoAck, 0),
    simSeconds: warmupSeconds + seconds,
    events: s.executed,
  };
}

export function modelFor(n: number, access: Access): { S: number; p: number; tau: number } {
  return bianchiThroughput({ ...BIANCHI_FHSS, n, access });
}

export interface Point { n: number; access: Access; simulated: number; model: number; error: number }

export function bench(args: string[]): BenchResult & { points: Point[]; simSecondsPerWallSecond: number } {
  const quick = args.includes('--quick');
  const seconds = Number(arg(args, 'seconds') ?? (quick ? 10 : 100));
  const warmup = Number(arg(args, 'warmup') ?? (quick ? 1 : 2));
  const seed = Number(arg(args, 'seed') ?? 1);
  const ns = (arg(args, 'n') ?? (quick ? '5,20' : '5,10,15,20,30,50')).split(',').map(Number);
  const modes: Access[] = arg(args, 'access') ? [arg(args, 'access') as Access] : ['basic', 'rts'];
  if (!(seconds > 0) || !(warmup >= 0) || ns.some((n) => !(n >= 2)) || modes.some((a) => a !== 'basic' && a !== 'rts')) {
    throw new Error('csma bench: --seconds > 0, --warmup >= 0, --n=list of station counts >= 2, --access=basic|rts');
  }
  const points: Point[] = [];
  const rows: BenchRow[] = [];
  let simSeconds = 0;
  const t0 = performance.now();
  for (const access of modes) {
    for (const n of ns) {
      const r = saturated(n, access, seconds, warmup, seed);
      const model = modelFor(n, access);
      const error = (r.S - model.S) / model.S;
      simSeconds += r.simSeconds;
      points.push({ n, access, simulated: r.S, model: model.S, error });
      const extra = (r.duplicates ? `, ${r.duplicates} duplicates` : '') + (r.drops ? `, ${r.drops} drops` : '');
      rows.push({
        name: `${access === 'rts' ? 'RTS/CTS' : 'basic'} n=${n}`,
        value: r.S,
        unit: 'S',
        note: `model ${model.S.toFixed(4)}, error ${(100 * error).toFixed(2)} %; p ${r.p.toFixed(4)} (model ${model.p.toFixed(4)})${extra}`,
      });
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const simSecondsPerWallSecond = simSeconds / wall;
  rows.push({ name: 'simulator speed', value: simSecondsPerWallSecond, unit: 'sim s / wall s', note: `${seconds} s per point after ${warmup} s warm-up` });
  const worst = Math.max(...points.map((p) => Math.abs(p.error)));
  return {
    points,
    simSecondsPerWallSecond,
    name: 'csma',
    rows,
    headline: { label: 'largest |relative error| of simulated vs model throughput (smaller is better, target 0.015)', ratio: worst },
  };
}

// CSMA/CA with hidden stations (textbook 3.5.2; Bianchi, Fratta, Oliveri on RTS/CTS with hidden
// terminals): A and C both reach B but cannot hear each other, and both keep a full queue of 1023-byte
// payloads for B. Carrier sense cannot keep A and C apart, so with basic access their long DATA frames
// overlap at B; with RTS/CTS only the short RTS frames can collide, and B's CTS sets the NAV of the
// station that did not win. Same medium and preset as the csma bench (CSMA_FHSS, 1 Mbit/s), with the
// preset's own retry limits so that drops show. Headline: RTS/CTS goodput / basic-access goodput.
// Options: --seconds=S (100), --seed=K, --quick (10 s), --json.
import type { BenchResult, BenchRow } from './run.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import { medium } from '../hal/sim/medium.ts';
import { xoshiro } from '../hal/prng.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_FHSS } from '../firmware/mac/csma/config.ts';

const PAYLOAD = 1023;
const A = 0, B = 1, C = 2;

interface HiddenResult {
  /** Payload bits per second newly delivered to B. */
  goodputBps: number;
  /** Frames destroyed by overlap at B (medium's count). */
  collisionsAtB: number;
  retries: number;
  drops: number;
  /** Delivered payloads from A and from C (fairness). */
  fromA: number;
  fromC: number;
}

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : undefined;
}

function hidden(access: 'basic' | 'rts', seconds: number, seed: number): HiddenResult {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, preambleBits: 128, propagationUs: 1, mtu: 1100 });
  const config = { ...CSMA_FHSS, dot11RTSThreshold: access === 'rts' ? 0 : 100_000 };
  const stations = [m.station({ id: A }), m.station({ id: B }), m.station({ id: C })];
  m.setHears(A, C, false);
  m.setHears(C, A, false);
  const macs: CsmaMac[] = stations.map((st, i) => csma({ link: st.link, clock: s, rng: xoshiro(seed * 7919 + i), addr: i, config }));
  const lastSeen = [-1, -1, -1];
  const got = [0, 0, 0];
  macs[B].onReceive((buf, len, info) => {
    const c = new DataView(buf.buffer, buf.byteOffset, len).getUint32(0);
    if (c <= lastSeen[info.src]) return;
    lastSeen[info.src] = c;
    got[info.src]++;
  });
  for (const i of [A, C]) {
    const mac = macs[i];
    const payload = new Uint8Array(PAYLOAD);
    const v = new DataView(payload.buffer);
    let counter = 0;
    const push = (): void => {
      while (mac.queued() < config.queueDepth) {
        v.setUint32(0, counter);
        if (mac.send(B, payload, PAYLOAD) !== 0) break;
        counter++;
      }
    };
    mac.onSent(() => push());
    push();
  }
  s.runUntil(Math.round(seconds * 1e6));
  return {
    goodputBps: ((got[A] + got[C]) * PAYLOAD * 8) / seconds,
    collisionsAtB: stations[B].stats.rxCollisions,
    retries: macs[A].stats.retries + macs[C].stats.retries,
    drops: macs[A].stats.dropNoAck + macs[C].stats.dropNoAck,
    fromA: got[A],
    fromC: got[C],
  };
}

export function bench(args: string[]): BenchResult & { basic: HiddenResult; rts: HiddenResult } {
  const quick = args.includes('--quick');
  const seconds = Number(arg(args, 'seconds') ?? (quick ? 10 : 100));
  const seed = Number(arg(args, 'seed') ?? 1);
  if (!(seconds > 0)) throw new Error('csma-hidden bench: --seconds must be > 0');
  const basic = hidden('basic', seconds, seed);
  const rts = hidden('rts', seconds, seed);
  const rows: BenchRow[] = [];
  for (const [label, r] of [['basic', basic], ['RTS/CTS', rts]] as const) {
    rows.push({ name: `${label}: goodput at B`, value: Math.round(r.goodputBps), unit: 'bit/s', note: `${r.fromA} from A, ${r.fromC} from C` });
    rows.push({ name: `${label}: collisions at B`, value: r.collisionsAtB, unit: 'frames' });
    rows.push({ name: `${label}: retries (A + C)`, value: r.retries, unit: 'attempts' });
    rows.push({ name: `${label}: drops at retry limit`, value: r.drops, unit: 'frames' });
  }
  return {
    basic,
    rts,
    name: 'csma-hidden',
    rows,
    headline: { label: `RTS/CTS goodput / basic goodput, hidden stations (${seconds} s)`, ratio: rts.goodputBps / basic.goodputBps },
  };
}

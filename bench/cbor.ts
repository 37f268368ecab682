// Benchmark of the firmware CBOR codec (firmware/codec/cbor.ts) against cbor-x as the host configures it
// (host/codec/cbor.ts): encode + decode round trips per second of a typical telemetry map and of a larger
// nested value, measured in the same run in alternating rounds. Headline: firmware / cbor-x throughput on
// the telemetry map. Also checks that both encoders write the same bytes (RFC 8949 subset) and reports
// the encoded sizes. `npm run bench -- cbor [--ms=300] [--rounds=5]`.
import type { BenchResult, BenchRow } from './run.ts';
import { CBOR_MAX_DEPTH, cborDecode, cborEncode, cborState } from '../firmware/codec/cbor.ts';
import { hostDecode, hostEncode } from '../host/codec/cbor.ts';

const telemetry = {
  id: 17,
  seq: 40213,
  t: 1718000000,
  rssi: -71,
  temp: 21.375,
  name: 'puck-7',
  raw: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
};

const nested = {
  node: 'gateway-2',
  uptime: 123456789,
  firmware: { version: [0, 1, 0], build: 'b1f00d', flags: { csma: true, rts: false, piconet: null } },
  peers: Array.from({ length: 8 }, (_, i) => ({
    addr: i + 1,
    rssi: -40 - i * 3,
    lq: 0.5 + i / 20,
    tags: ['mesh', `relay-${i}`],
    last: new Uint8Array(6).fill(i),
  })),
  stats: { tx: 98765, rx: 87654, drop: 12, retries: 305, ratio: 0.9873, airtimeUs: 6000000000 },
  log: Array.from({ length: 6 }, (_, i) => ({ at: 1718000000 + i * 60, level: i % 3, msg: `link ${i} up, µs ${i * 625}` })),
};

function arg(args: string[], name: string, dflt: number): number {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** Round trips per second of `once`, over about `ms` milliseconds. */
function rate(once: () => void, ms: number): number {
  let n = 0;
  let batch = 16;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) once();
    n += batch;
    if (batch < 4096) batch *= 2;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return (n * 1000) / elapsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export async function bench(args: string[]): Promise<BenchResult> {
  const ms = arg(args, 'ms', 300);
  const rounds = arg(args, 'rounds', 5);
  const out = new Uint8Array(4096);
  const st = cborState(CBOR_MAX_DEPTH, 4096);
  st.copy = true; // cbor-x is configured with copyBuffers: the same work on both sides
  const rows: BenchRow[] = [];
  const ratios: number[] = [];
  for (const [label, value] of [['telemetry', telemetry], ['nested', nested]] as const) {
    const end = cborEncode(value, out, 0);
    if (end < 0) throw new Error(`firmware encoder failed on ${label}: ${-end}`);
    const cx = hostEncode(value);
    if (Buffer.compare(Buffer.from(out.subarray(0, end)), Buffer.from(cx)) !== 0) {
      throw new Error(`${label}: firmware and cbor-x bytes differ`);
    }
    const fw = (): void => {
      const e = cborEncode(value, out, 0);
      cborDecode(out, 0, e, st);
    };
    const host = (): void => {
      hostDecode(hostEncode(value));
    };
    rate(fw, ms / 2); // warm up both before measuring
    rate(host, ms / 2);
    const fwRates: number[] = [];
    const hostRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      fwRates.push(rate(fw, ms));
      hostRates.push(rate(host, ms));
    }
    const f = median(fwRates);
    const h = median(hostRates);
    ratios.push(f / h);
    rows.push({ name: `${label} size`, value: end, unit: 'bytes', note: `cbor-x: ${cx.length}, identical` });
    rows.push({ name: `${label} firmware`, value: Math.round(f), unit: 'round trips/s', note: 'encode + decode' });
    rows.push({ name: `${label} cbor-x`, value: Math.round(h), unit: 'round trips/s', note: 'encode + decode' });
    rows.push({ name: `${label} ratio`, value: f / h, unit: 'x', note: 'firmware / cbor-x' });
  }
  return {
    name: 'cbor',
    rows,
    headline: { label: 'firmware CBOR / cbor-x round trips per second (telemetry map)', ratio: ratios[0] },
  };
}

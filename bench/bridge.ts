// The bridge's cost: calls through the bridge to a device against the same calls made directly by the
// bridge's own node, in one run. The device is a picolink request-reply endpoint in its own process
// (bench/peer/rr-server.ts --ports: operation 1 echoes its argument) on a unicast UDP link, as an edge node on
// a LAN is; the bridge (host/bridge/) runs in this process with its node on that link, and the IP
// client (a plain dgram socket, and a TCP connection speaking length-prefixed CBOR frames) runs here too.
//   direct  bridge.rr.call(device, 1, reading): the device network's round trip, the floor;
//   udp     a CBOR envelope datagram to the bridge's UDP port, the reply datagram back;
//   tcp     the same envelope as a frame on a TCP connection.
// Latency: one call at a time, the kinds interleaved in rounds so drift hits all alike; median and
// 99th percentile in µs, and the median the bridge adds over direct. Throughput: calls per second
// with 16 in flight, each kind in turn. The headline is udp's median over direct's.
// Flags: --quick, --rounds=N, --calls=N (per kind per round), --ms=N (throughput window), --json.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import type { BenchResult, BenchRow } from './run.ts';
import { udpLink } from '../hal/node/udp.ts';
import { realClock } from '../hal/node/clock.ts';
import { xoshiro } from '../hal/prng.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import { hostDecode, hostEncode } from '../host/codec/cbor.ts';
import { startBridge } from '../host/bridge/bridge.ts';

const KINDS = ['direct', 'udp', 'tcp'] as const;
type Kind = (typeof KINDS)[number];

function arg(args: string[], name: string): string | undefined {
  return args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function bench(args: string[]): Promise<BenchResult> {
  const quick = args.includes('--quick');
  const rounds = Number(arg(args, 'rounds') ?? (quick ? 2 : 10));
  const calls = Number(arg(args, 'calls') ?? (quick ? 50 : 300));
  const windowMs = Number(arg(args, 'ms') ?? (quick ? 100 : 1000));
  const value = { t: 215, h: 48, mv: 2950 };

  const link = udpLink({ peers: [] });
  const local = await link.bound();
  const device = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'peer/rr-server.ts'), String(local.port), '--ports'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const clock = realClock();
  const udp = createSocket('udp4');
  let bridge: Awaited<ReturnType<typeof startBridge>> | null = null;
  let tcp: ReturnType<typeof connect> | null = null;
  try {
    const out = createInterface({ input: device.stdout! });
    const ports = JSON.parse(await new Promise<string>((res, rej) => {
      out.once('line', res);
      device.once('exit', (c) => rej(new Error(`the benchmark's device process exited (${c}) before it was ready`)));
    })) as { picolink: number };
    link.setPeers([{ address: '127.0.0.1', port: ports.picolink }]);
    bridge = await startBridge({
      mac: rawMac(link, 1, 64), clock, rng: xoshiro(1), rr: { timeoutUs: 1_000_000 }, names: [{ name: 'dev', addr: 2 }], clients: 16, perClient: 64,
    });
    const b = bridge;
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const t = connect(b.tcp.port, '127.0.0.1');
    tcp = t;
    t.setNoDelay(true);
    await new Promise<void>((r) => t.once('connect', () => r()));

    // Replies by id, for both fronts.
    const waiting = new Map<number, () => void>();
    const settle = (bytes: Uint8Array): void => {
      const m = hostDecode(bytes) as { id: number; ok?: unknown; err?: unknown };
      if (m.err !== undefined) throw new Error(`bench bridge: an error reply ${JSON.stringify(m.err)}`);
      const f = waiting.get(m.id);
      waiting.delete(m.id);
      if (f) f();
    };
    udp.on('message', (m) => settle(new Uint8Array(m)));
    let buf: Buffer = Buffer.alloc(0);
    t.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        settle(new Uint8Array(buf.subarray(2, 2 + n)));
        buf = buf.subarray(2 + n);
      }
    });
    let nextId = 1;
    const viaBridge = (front: 'udp' | 'tcp'): Promise<void> => new Promise<void>((res) => {
      const id = nextId++ >>> 0;
      waiting.set(id, res);
      const env = hostEncode({ id, to: 2, op: 1, args: value });
      if (front === 'udp') udp.send(env, b.udp.port, '127.0.0.1');
      else {
        const h = Buffer.allocUnsafe(2 + env.length);
        h.writeUInt16BE(env.length, 0);
        h.set(env, 2);
        t.write(h);
      }
    });
    const once: Record<Kind, () => Promise<unknown>> = {
      direct: () => b.rr.call(2, 1, value),
      udp: () => viaBridge('udp'),
      tcp: () => viaBridge('tcp'),
    };

    const lat: Record<Kind, number[]> = { direct: [], udp: [], tcp: [] };
    const cps: Record<Kind, number> = { direct: 0, udp: 0, tcp: 0 };
    for (const k of KINDS) for (let i = 0; i < 200; i++) await once[k](); // warm-up
    for (let r = 0; r < rounds; r++) {
      for (const k of KINDS) {
        for (let i = 0; i < calls; i++) {
          const t0 = process.hrtime.bigint();
          await once[k]();
          lat[k].push(Number(process.hrtime.bigint() - t0) / 1000);
        }
      }
    }
    for (const k of KINDS) {
      let done = 0;
      const t0 = performance.now();
      const end = t0 + windowMs;
      const worker = async (): Promise<void> => {
        while (performance.now() < end) {
          await once[k]();
          done++;
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      cps[k] = Math.round(done / ((performance.now() - t0) / 1000));
    }

    const med: Record<Kind, number> = { direct: 0, udp: 0, tcp: 0 };
    const rows: BenchRow[] = [];
    const sum: Record<string, unknown> = {};
    for (const k of KINDS) {
      const s = lat[k].sort((x, y) => x - y);
      med[k] = pct(s, 50);
      sum[k] = { p50Us: Math.round(med[k]), p99Us: Math.round(pct(s, 99)), callsPerSecond: cps[k] };
      rows.push({ name: `${k} p50`, value: Math.round(med[k]), unit: 'µs', note: k === 'direct' ? 'reference' : `${(med[k] / med.direct).toFixed(3)}× direct, +${Math.round(med[k] - med.direct)} µs` });
      rows.push({ name: `${k} p99`, value: Math.round(pct(s, 99)), unit: 'µs' });
    }
    for (const k of KINDS) rows.push({ name: `${k} calls/s`, value: cps[k], unit: '/s', note: '16 in flight' });
    sum.addedUs = { udp: Math.round(med.udp - med.direct), tcp: Math.round(med.tcp - med.direct) };
    sum.udpOverDirect = Number((med.udp / med.direct).toFixed(3));
    sum.tcpOverDirect = Number((med.tcp / med.direct).toFixed(3));
    sum.calls = rounds * calls;
    return { name: 'bridge', rows, headline: { label: 'call through the bridge (UDP) median / direct call median', ratio: med.udp / med.direct }, json: sum };
  } finally {
    tcp?.destroy();
    udp.close();
    await bridge?.close();
    clock.close();
    await link.close();
    device.stdin!.end();
    device.kill();
  }
}

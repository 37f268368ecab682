// Request-reply round trips between two Node processes on loopback UDP (issue: R, RR and RRA against
// the nearest standard peer). In one run, against a server process (bench/peer/rr-server.ts), it
// measures with the same small payload (a CBOR reading, 15 bytes):
//   udp   a raw UDP echo: the floor any protocol on UDP pays;
//   udpnow  the same echo with both sockets sending as hal/node/udp.ts does (an IPv4 literal goes out
//         inside send(), not after dns.lookup's next tick): the floor for picolink's own send path,
//         about 3-4 µs under udp's; not the headline's reference, printed so the two can be told apart;
//   r     a picolink R call: done once the request is handed to the socket (no reply);
//   rr    a picolink RR call, at-most-once: request, reply;
//   rra   a picolink RRA call: request, reply, and the acknowledgement sent (not waited for);
//   coap  a confirmable CoAP POST with the `coap` package, answered piggy-backed on the ACK.
// Latency: one call at a time, the kinds interleaved in rounds so drift hits all alike; median and
// 99th percentile in µs. Throughput: calls per second with 16 calls in flight, for each kind in turn.
// CoAP runs last, its server and client started only then: while the `coap` package is loaded and
// running in a process, that process's other UDP replies are slower (measured: about 10 µs on a
// 40 µs round trip), which would be charged to picolink.
// The headline is RR's median over raw UDP's (target: at most 1.15), and the table gives CoAP's.
// Flags: --quick (fewer calls), --rounds=N, --calls=N (per kind per round), --ms=N (throughput
// window per kind), --json (the summary object below instead of the table).
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import * as coap from 'coap';
import type { BenchResult, BenchRow } from './run.ts';
import { udpLink } from '../hal/node/udp.ts';
import { realClock } from '../hal/node/clock.ts';
import { xoshiro } from '../hal/prng.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA } from '../firmware/rr/frame.ts';
import { hostRr } from '../host/rr/endpoint.ts';
import { hostEncode } from '../host/codec/cbor.ts';

const KINDS = ['udp', 'udpnow', 'r', 'rr', 'rra', 'coap'] as const;
type Kind = (typeof KINDS)[number];

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function bench(args: string[]): Promise<BenchResult> {
  const quick = args.includes('--quick');
  const rounds = Number(arg(args, 'rounds') ?? (quick ? 2 : 10));
  const calls = Number(arg(args, 'calls') ?? (quick ? 50 : 500));
  const windowMs = Number(arg(args, 'ms') ?? (quick ? 100 : 1000));
  const value = { t: 215, h: 48, mv: 2950 };
  const payload = Buffer.from(hostEncode(value));

  // picolink's client end first: the server needs its port.
  const link = udpLink({ peers: [] });
  const local = await link.bound();
  const server = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'peer/rr-server.ts'), String(local.port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const clock = realClock();
  const raw = createSocket('udp4');
  // As hal/node/udp.ts sends: an IPv4 literal is its own address, no dns.lookup and its next tick.
  const literal = (host: string, family: unknown, cb: (e: Error | null, a: string, f: number) => void): void => cb(null, host, 4);
  const rawNow = createSocket({ type: 'udp4', lookup: literal as never });
  try {
    const out = createInterface({ input: server.stdout! });
    const nextLine = (): Promise<string> => new Promise<string>((res, rej) => {
      out.once('line', res);
      server.once('exit', (c) => rej(new Error(`the benchmark's server process exited (${c}) before it was ready`)));
    });
    const ports = JSON.parse(await nextLine()) as { echo: number; echoNow: number; picolink: number; coap: number };
    link.setPeers([{ address: '127.0.0.1', port: ports.picolink }]);
    const client = hostRr({ mac: rawMac(link, 1, 64), clock, rng: xoshiro(1), config: { timeoutUs: 1_000_000 } });
    await new Promise<void>((res) => raw.bind(0, '127.0.0.1', () => res()));
    await new Promise<void>((res) => rawNow.bind(0, '127.0.0.1', () => res()));
    let onEcho: (() => void) | null = null;
    let agent: coap.Agent | null = null;

    const once: Record<Kind, () => Promise<unknown>> = {
      udp: () => new Promise<void>((res) => {
        onEcho = res;
        raw.send(payload, ports.echo, '127.0.0.1');
      }),
      udpnow: () => new Promise<void>((res) => {
        onEcho = res;
        rawNow.send(payload, ports.echoNow, '127.0.0.1');
      }),
      r: () => client.call(2, 1, value, { proto: PROTO_R }),
      rr: () => client.call(2, 1, value, { proto: PROTO_RR }),
      rra: () => client.call(2, 1, value, { proto: PROTO_RRA }),
      coap: () => new Promise<void>((res, rej) => {
        const req = coap.request({ hostname: '127.0.0.1', port: ports.coap, pathname: '/echo', method: 'POST', confirmable: true, agent: agent! });
        req.on('response', (m: coap.IncomingMessage) => {
          if (m.payload.length !== payload.length) rej(new Error('coap: wrong echo'));
          else res();
        });
        req.on('error', rej);
        req.end(payload);
      }),
    };
    // Raw UDP echo in flight several at a time needs matching: count replies instead.
    let echoes = 0;
    let echoWait: (() => void) | null = null;

    const lat: Record<Kind, number[]> = { udp: [], udpnow: [], r: [], rr: [], rra: [], coap: [] };
    const cps: Record<Kind, number> = { udp: 0, udpnow: 0, r: 0, rr: 0, rra: 0, coap: 0 };
    const measure = async (kinds: readonly Kind[]): Promise<void> => {
      for (const k of kinds) for (let i = 0; i < 200; i++) await once[k](); // warm-up
      for (let r = 0; r < rounds; r++) {
        for (const k of kinds) {
          for (let i = 0; i < calls; i++) {
            const t0 = process.hrtime.bigint();
            await once[k]();
            lat[k].push(Number(process.hrtime.bigint() - t0) / 1000);
          }
        }
      }

      // Throughput: 16 in flight for windowMs.
      for (const k of kinds) {
        let done = 0;
        const end = performance.now() + windowMs;
        const t0 = performance.now();
        const worker = async (): Promise<void> => {
          while (performance.now() < end) {
            if (k === 'udp' || k === 'udpnow') {
              const before = echoes;
              if (k === 'udp') raw.send(payload, ports.echo, '127.0.0.1');
              else rawNow.send(payload, ports.echoNow, '127.0.0.1');
              while (echoes === before) await new Promise<void>((res) => { echoWait = res; });
            } else await once[k]();
            done++;
          }
        };
        if (k === 'udp' || k === 'udpnow') await worker(); // one echo socket: in-flight echoes cannot be told apart
        else await Promise.all(Array.from({ length: 16 }, worker));
        cps[k] = Math.round(done / ((performance.now() - t0) / 1000));
        // R floods the server faster than it reads: let its socket buffer drain, or the next kind's
        // first requests are dropped there and wait out a whole timeout (seen: RR at 11 calls/s).
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const echoed = (): void => {
      echoes++;
      const g = onEcho;
      onEcho = null;
      if (g) g();
      const f = echoWait;
      echoWait = null;
      if (f) f();
    };
    raw.on('message', echoed);
    rawNow.on('message', echoed);
    await measure(['udp', 'udpnow', 'r', 'rr', 'rra']);
    server.stdin!.write('coap\n');
    ports.coap = (JSON.parse(await nextLine()) as { coap: number }).coap;
    agent = new coap.Agent({ type: 'udp4' });
    await measure(['coap']);
    agent.close?.();

    const sum: Record<string, unknown> = {};
    const rows: BenchRow[] = [];
    const med: Record<Kind, number> = { udp: 0, udpnow: 0, r: 0, rr: 0, rra: 0, coap: 0 };
    for (const k of KINDS) {
      const s = lat[k].sort((a, b) => a - b);
      med[k] = pct(s, 50);
      sum[k] = { p50Us: Math.round(pct(s, 50)), p99Us: Math.round(pct(s, 99)) };
    }
    for (const k of KINDS) {
      const s = sum[k] as { p50Us: number; p99Us: number };
      rows.push({ name: `${k} p50`, value: s.p50Us, unit: 'µs', note: k === 'udp' ? 'reference' : `${(med[k] / med.udp).toFixed(3)}× udp` });
      rows.push({ name: `${k} p99`, value: s.p99Us, unit: 'µs' });
    }
    for (const k of KINDS) rows.push({ name: `${k} calls/s`, value: cps[k], unit: '/s', note: k === 'udp' || k === 'udpnow' ? 'one in flight' : '16 in flight' });
    rows.push({ name: 'rr p50 / udpnow p50', value: Number((med.rr / med.udpnow).toFixed(3)), unit: '×' });
    rows.push({ name: 'coap p50 / rr p50', value: Number((med.coap / med.rr).toFixed(3)), unit: '×' });
    sum.callsPerSecond = cps;
    sum.rrOverUdp = Number((med.rr / med.udp).toFixed(3));
    sum.rrOverUdpNow = Number((med.rr / med.udpnow).toFixed(3));
    sum.coapOverRr = Number((med.coap / med.rr).toFixed(3));
    sum.calls = rounds * calls;
    return { name: 'rr', rows, headline: { label: 'RR median round trip / raw UDP echo (target <= 1.15)', ratio: med.rr / med.udp }, json: sum };
  } finally {
    clock.close();
    raw.close();
    rawNow.close();
    await link.close();
    server.stdin!.end();
    server.kill();
  }
}

// Psync against UDP, request-reply and TCP (the Psync paper, section 6), between Node processes on
// loopback, plus the cost of send and receive as the context graph grows (section 6.2).
//   Table I: round trip of a one-byte message, one at a time, against a peer process
//     (bench/peer/psync-peer.ts): a raw UDP echo; a picolink RR call (host endpoint, raw MAC over
//     UDP) whose operation echoes its argument (the paper's RPC row); Psync, where process 0 sends one
//     byte in a two-party conversation, the peer sends one byte in its context when that is
//     delivered, and the round trip ends when the peer's message is delivered at process 0; and a
//     one-byte echo over one TCP connection with Nagle off. The kinds are interleaved in rounds so
//     drift hits all alike; median and 99th percentile in µs.
//   Table II: a token passed around N = 2, 4, 6, 8 processes. Psync: one conversation of all N; the
//     holder sends a one-byte message (one datagram to each other host, as the paper's host-specific
//     addressing) and the next process takes the token when that message is delivered to it. TCP: a
//     connection between every pair; the holder writes one byte on each of its N - 1 connections and
//     the next takes the token when its byte arrives. Process 0 times each round of N passes; the
//     figure is the median round over N, the time per token pass: the paper's "average delay per
//     message", which for N = 2 is half of Table I's round trip.
//   Scaling: in one process, two endpoints over an in-memory MAC exchange messages in turn, with a
//     node table large enough that nothing is reclaimed; the median µs of one send() and of one
//     receive (parse, attach, deliver) over a window of messages once the graph holds 10^2 .. 10^5
//     messages. The paper says both are independent of the graph's size; graph.ts looks nodes up in
//     constant time and checks stability only where an attach acknowledged, so they are while the table
//     fills, but graph.ts caps the table at 32767 nodes, so at 10^5 messages the image holds the last
//     32767 (older stable ones reclaimed from the front of an age-ordered ring) and the entry says so in
//     `nodes`. Sizes past half the cap share one image with
//     the largest table, so its long build is paid once.
// The headline is Psync's median round trip over raw UDP's (the paper: 4.0 / 2.9 = 1.38): UDP is the
// floor every protocol here pays, and the paper offers the one-to-one round trip as the measure of
// the overhead Psync adds to sending and receiving. Psync over TCP (paper 0.87) is in the table;
// here TCP is the kernel's and Psync runs in JavaScript over UDP, unlike the paper's x-kernel.
// Flags: --quick (short run: Table II with 2 and 4 hosts, scaling to 10^3), --rounds=N and --calls=N
// (Table I: rounds, calls per kind per round), --passes=N (Table II: token passes per protocol per
// N), --hosts=2,4,6,8, --sizes=100,1000,... (scaling; empty: none), --window=N (messages timed per
// size), --loss=P (process 0 drops P % of the Psync frames it receives), --json (the summary object
// below instead of the table). Every token holder resends its message when nothing follows it within
// RESEND_MS (the paper's last-ACK rule, 3.2.2; bench/peer/psync-net.ts), so one lost datagram costs a
// pass 300 ms instead of stopping the ring; process 0's resends are a row of the table.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import type { BenchResult, BenchRow } from './run.ts';
import { TX_ERR, TX_OK, TX_QUEUE_FULL } from '../hal/link.ts';
import { udpLink } from '../hal/node/udp.ts';
import { realClock } from '../hal/node/clock.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import { xoshiro } from '../hal/prng.ts';
import type { Mac, MacRxInfo } from '../firmware/mac/mac.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import { PSYNC_DEFAULTS, psync } from '../firmware/psync/psync.ts';
import type { Psync } from '../firmware/psync/psync.ts';
import { hostRr } from '../host/rr/endpoint.ts';
import { faulty } from '../hal/mw/faulty.ts';
import { BENCH_PSYNC, MAC_DEPTH, TCP_ECHO, addrOf, lastAck, routedLink } from './peer/psync-net.ts';

/** The paper's Table I (ms) and Table II (ms per message). */
const PAPER_I = { udp: 2.9, rpc: 3.4, psync: 4.0, tcp: 4.6 };
const PAPER_II: Record<number, { psync: number; tcp: number }> = {
  2: { psync: 2.0, tcp: 2.3 }, 4: { psync: 3.0, tcp: 3.6 }, 6: { psync: 3.8, tcp: 4.8 }, 8: { psync: 4.5, tcp: 7.0 },
};
/** graph.ts refuses larger node tables (node indices are Int16). */
const NODE_CAP = 0x7fff;
/** A wait longer than this is a lost message or a dead peer: fail rather than hang. */
const STALL_MS = 3000;

const KINDS = ['udp', 'rr', 'psync', 'tcp'] as const;
type Kind = (typeof KINDS)[number];

export interface ScaleEntry { messages: number; nodes: number; sendUs: number; receiveUs: number }

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

function list(s: string | undefined, dflt: number[]): number[] {
  if (s === undefined) return dflt;
  return s.split(',').filter((x) => x.trim() !== '').map(Number);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (xs: number[]): number => pct([...xs].sort((a, b) => a - b), 50);
const r1 = (x: number): number => Math.round(x * 10) / 10;

// ---- peer processes ----------------------------------------------------------------------------

interface Peer {
  proc: ChildProcess;
  next(): Promise<Record<string, unknown>>;
  tell(m: unknown): void;
}

function startPeer(index: number, rrPort: number, onDeath: (e: Error) => void): Peer {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'peer/psync-peer.ts'), String(index), String(rrPort)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { res: (l: string) => void; rej: (e: Error) => void }[] = [];
  let dead: Error | null = null;
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w.res(l);
    else lines.push(l);
  });
  const die = (e: Error): void => {
    if (dead) return;
    dead = e;
    for (const w of waiters.splice(0)) w.rej(e);
    onDeath(e);
  };
  proc.on('exit', (code, sig) => die(new Error(`psync benchmark: peer process ${index} exited (${code ?? sig})`)));
  proc.on('error', (e) => die(e));
  proc.stdin!.on('error', () => {});
  return {
    proc,
    next(): Promise<Record<string, unknown>> {
      const l = lines.shift();
      if (l !== undefined) return Promise.resolve(JSON.parse(l) as Record<string, unknown>);
      if (dead) return Promise.reject(dead);
      return new Promise<string>((res, rej) => waiters.push({ res, rej })).then((x) => JSON.parse(x) as Record<string, unknown>);
    },
    tell(m: unknown): void {
      proc.stdin!.write(JSON.stringify(m) + '\n');
    },
  };
}

// ---- scaling: two endpoints over an in-memory MAC ------------------------------------------------

interface MemMac {
  mac: Mac;
  /** Hand this station's oldest queued frame to `to`; false when none is queued. */
  deliverTo(to: MemMac): boolean;
  receive(src: number, frame: Uint8Array, len: number): void;
}

function memMac(addr: number, mtu: number): MemMac {
  const DEPTH = 4;
  const slots = Array.from({ length: DEPTH }, () => new Uint8Array(mtu));
  const lens = new Uint16Array(DEPTH);
  let head = 0;
  let size = 0;
  const info: MacRxInfo = { src: 0, dst: addr, timeUs: 0, rssi: 0 };
  let rx: ((p: Uint8Array, len: number, info: MacRxInfo) => void) | null = null;
  const self: MemMac = {
    mac: {
      caps: { mtu, carrierSense: false },
      addr,
      send(_dst: number, p: Uint8Array, len: number): number {
        if (!(len >= 1 && len <= mtu)) return TX_ERR;
        if (size === DEPTH) return TX_QUEUE_FULL;
        const k = (head + size) % DEPTH;
        slots[k].set(p.subarray(0, len));
        lens[k] = len;
        size++;
        return TX_OK;
      },
      onReceive(fn) { rx = fn; },
      onSent() {},
      queued: () => size,
    },
    deliverTo(to: MemMac): boolean {
      if (size === 0) return false;
      const k = head;
      head = (head + 1) % DEPTH;
      size--;
      to.receive(addr, slots[k], lens[k]);
      return true;
    },
    receive(src: number, frame: Uint8Array, len: number): void {
      info.src = src;
      if (rx) rx(frame, len, info);
    },
  };
  return self;
}

interface Pair {
  nodes: number;
  sent: number;
  /** Exchange messages (in turn) until `total` have been sent in the conversation. */
  grow(total: number): void;
  /** Median send and receive times (µs) over the next `n` messages; retained nodes before them. */
  measure(n: number): ScaleEntry;
}

function pair(nodes: number): Pair {
  const clock = scheduler(); // hold timers never fire: messages arrive in order
  const config = { ...PSYNC_DEFAULTS, conversations: 1, nodes };
  const ma = memMac(1, 64);
  const mb = memMac(2, 64);
  const a = psync({ mac: ma.mac, clock, rng: xoshiro(1), config });
  const b = psync({ mac: mb.mac, clock, rng: xoshiro(2), config });
  let convB = -1;
  let delivered = 0;
  b.onOpen((c) => { convB = c; });
  a.onDeliver(() => { delivered++; });
  b.onDeliver(() => { delivered++; });
  b.passiveOpen();
  const convA = a.activeOpen([1, 2], 2);
  const one = new Uint8Array([1]);
  let sendNs = 0;
  let recvNs = 0;

  function step(): void {
    const fromA = p.sent % 2 === 0;
    const ep: Psync = fromA ? a : b;
    const t0 = process.hrtime.bigint();
    const r = ep.send(fromA ? convA : convB, one, 1);
    const t1 = process.hrtime.bigint();
    if (r < 0) throw new Error(`psync benchmark: send refused (${r}) after ${p.sent} messages`);
    const before = delivered;
    const t2 = process.hrtime.bigint();
    (fromA ? ma : mb).deliverTo(fromA ? mb : ma);
    const t3 = process.hrtime.bigint();
    if (delivered !== before + 1) throw new Error(`psync benchmark: message ${p.sent + 1} was not delivered`);
    sendNs = Number(t1 - t0);
    recvNs = Number(t3 - t2);
    p.sent++;
  }

  const p: Pair = {
    nodes,
    sent: 0,
    grow(total: number): void {
      while (p.sent < total) step();
    },
    measure(n: number): ScaleEntry {
      const retained = a.nodesUsed(convA);
      const at = p.sent;
      const s: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < n; i++) {
        step();
        s.push(sendNs / 1000);
        r.push(recvNs / 1000);
      }
      return { messages: at, nodes: retained, sendUs: r1(median(s)), receiveUs: r1(median(r)) };
    },
  };
  return p;
}

function scaling(sizes: number[], window: number): ScaleEntry[] {
  const out: ScaleEntry[] = [];
  let big: Pair | null = null;
  for (const size of [...sizes].sort((x, y) => x - y)) {
    const want = size + window + 8;
    let pr: Pair;
    if (want > NODE_CAP / 2) pr = big ??= pair(NODE_CAP);
    else pr = pair(want);
    pr.grow(size);
    out.push(pr.measure(window));
  }
  return out;
}

// ---- the benchmark -----------------------------------------------------------------------------

export async function bench(args: string[]): Promise<BenchResult> {
  const quick = args.includes('--quick');
  const rounds = Number(arg(args, 'rounds') ?? (quick ? 1 : 10));
  const calls = Number(arg(args, 'calls') ?? (quick ? 50 : 400));
  const passes = Number(arg(args, 'passes') ?? (quick ? 200 : 4000));
  const hosts = list(arg(args, 'hosts'), quick ? [2, 4] : [2, 4, 6, 8]);
  const sizes = list(arg(args, 'sizes'), quick ? [100, 1000] : [100, 1000, 10_000, 100_000]);
  const window = Number(arg(args, 'window') ?? (quick ? 200 : 1000));
  const warm = quick ? 20 : 200;
  const loss = Number(arg(args, 'loss') ?? 0);
  if (!(loss >= 0 && loss < 50)) throw new Error(`psync benchmark: --loss=${arg(args, 'loss')} is not a percentage in [0, 50)`);
  if (hosts.some((h) => !(h >= 2 && h <= 8 && Number.isInteger(h)))) throw new Error('psync benchmark: --hosts takes 2..8');
  if (!hosts.includes(2)) hosts.unshift(2); // Table I runs on the two-party ring
  const peers = Math.max(...hosts) - 1;

  const clock = realClock();
  const rrLink = udpLink({ peers: [] });
  const psLink = udpLink({ peers: [] });
  const raw = createSocket('udp4');
  const kids: Peer[] = [];
  const tcp: Socket[] = [];
  let echoTcp: Socket | null = null;
  let watchdog: ReturnType<typeof setInterval> | null = null;
  let stopResends = (): void => {};
  let resendCount = (): number => 0;

  // One wait at a time: the measured exchange calls done(); a stall or a dead peer fails it.
  let wake: (() => void) | null = null;
  let fail: ((e: Error) => void) | null = null;
  let waitSince = 0;
  let what = '';
  let death: Error | null = null;
  const done = (): void => {
    const w = wake;
    wake = null;
    fail = null;
    if (w) w();
  };
  const waitDone = (label: string): Promise<void> => new Promise<void>((res, rej) => {
    if (death) return rej(death);
    wake = res;
    fail = rej;
    what = label;
    waitSince = performance.now();
  });
  const onDeath = (e: Error): void => {
    death = e;
    if (fail) fail(e);
  };

  let tableI: Record<Kind, { p50: number; p99: number }>;
  const tableII: { hosts: number; psync: number; tcp: number }[] = [];
  try {
    const rrPort = (await rrLink.bound()).port;
    const psPort = (await psLink.bound()).port;
    for (let i = 1; i <= peers; i++) kids.push(startPeer(i, rrPort, onDeath));
    const ports = (await Promise.all(kids.map((k) => k.next()))) as { echo: number; rr: number; psync: number; tcp: number }[];
    watchdog = setInterval(() => {
      if (fail && performance.now() - waitSince > STALL_MS) fail(new Error(`psync benchmark: no answer in ${STALL_MS} ms (${what})`));
    }, 500);

    // Process 0's ends: RR client to peer 1, Psync on a routed link, TCP to every peer and an echo.
    rrLink.setPeers([{ address: '127.0.0.1', port: ports[0].rr }]);
    const client = hostRr({ mac: rawMac(rrLink, addrOf(0), 64), clock, rng: xoshiro(100), config: { timeoutUs: 1_000_000 } });
    const routed = routedLink(psLink);
    routed.setRoutes([psPort, ...ports.map((p) => p.psync)]);
    // --loss=P: process 0 loses P % of the Psync frames it receives (the last-ACK resends and Psync's
    // retransmission requests recover them; the numbers are then not the paper's).
    const lossy = loss > 0 ? faulty(routed, { clock, rng: xoshiro(99), dropPct: loss }) : routed;
    const ps = psync({ mac: rawMac(lossy, addrOf(0), MAC_DEPTH), clock, rng: xoshiro(0), config: BENCH_PSYNC });
    let n = 2;
    let conv = -1;
    const ack = lastAck((mid) => ps.resend(conv, mid));
    stopResends = ack.stop;
    resendCount = () => ack.resends;
    ps.onDeliver((c, sender) => {
      if (c !== conv) return;
      ack.heard();
      if (sender === addrOf(n - 1)) done();
    });
    await new Promise<void>((res) => raw.bind(0, '127.0.0.1', () => res()));
    raw.on('message', done);
    const open = (port: number, hello: number): Promise<Socket> => new Promise<Socket>((res, rej) => {
      const s = connect(port, '127.0.0.1', () => {
        s.setNoDelay(true);
        s.off('error', rej);
        s.on('error', () => {}); // a peer that dies shows as its exit
        s.write(Buffer.from([hello]));
        res(s);
      });
      s.once('error', rej);
    });
    for (let j = 1; j <= peers; j++) {
      const s = await open(ports[j - 1].tcp, 0);
      const from = j;
      s.on('data', (d: Buffer) => {
        if (from === n - 1) for (let k = 0; k < d.length; k++) done();
      });
      tcp[j] = s;
    }
    echoTcp = await open(ports[0].tcp, TCP_ECHO);
    echoTcp.on('data', (d: Buffer) => { for (let k = 0; k < d.length; k++) done(); });
    for (const k of kids) k.tell({ cmd: 'peers', psync: [psPort, ...ports.map((p) => p.psync)], tcp: [0, ...ports.map((p) => p.tcp)] });
    for (const k of kids) await k.next();

    /** A new token ring of processes 0..size-1 (a new conversation for Psync). */
    const ring = async (size: number): Promise<void> => {
      for (const k of kids) k.tell({ cmd: 'n', n: size });
      for (const k of kids) await k.next();
      ack.stop();
      if (conv >= 0) ps.close(conv);
      n = size;
      conv = ps.activeOpen(Array.from({ length: size }, (_, i) => addrOf(i)), size);
      if (conv < 0) throw new Error(`psync benchmark: activeOpen refused (${conv})`);
    };

    const one = new Uint8Array([1]);
    const ONE = Buffer.from([1]);
    const psyncRound = (): Promise<void> => {
      const w = waitDone(`psync, ${n} hosts`);
      const r = ps.send(conv, one, 1);
      if (r < 0) throw new Error(`psync benchmark: send refused (${r})`);
      ack.sent(r);
      return w;
    };
    const tcpRound = (): Promise<void> => {
      const w = waitDone(`tcp, ${n} hosts`);
      for (let j = 1; j < n; j++) tcp[j].write(ONE);
      return w;
    };
    const once: Record<Kind, () => Promise<unknown>> = {
      udp: () => {
        const w = waitDone('udp echo');
        raw.send(ONE, ports[0].echo, '127.0.0.1');
        return w;
      },
      rr: () => client.call(addrOf(1), 1, 1),
      psync: psyncRound,
      tcp: () => {
        const w = waitDone('tcp echo');
        echoTcp!.write(ONE);
        return w;
      },
    };
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await f();
      return Number(process.hrtime.bigint() - t0) / 1000;
    };

    // Table I.
    await ring(2);
    const lat: Record<Kind, number[]> = { udp: [], rr: [], psync: [], tcp: [] };
    for (const k of KINDS) for (let i = 0; i < warm; i++) await once[k]();
    for (let r = 0; r < rounds; r++) for (const k of KINDS) for (let i = 0; i < calls; i++) lat[k].push(await timed(once[k]));
    tableI = {} as Record<Kind, { p50: number; p99: number }>;
    for (const k of KINDS) {
      const s = lat[k].sort((x, y) => x - y);
      tableI[k] = { p50: r1(pct(s, 50)), p99: r1(pct(s, 99)) };
    }

    // Table II: psync and TCP in alternating blocks for each ring size.
    for (const size of hosts) {
      await ring(size);
      const rounds2 = Math.max(5, Math.ceil(passes / size));
      const blocks = quick ? 2 : 5;
      const per = Math.ceil(rounds2 / blocks);
      for (let i = 0; i < Math.ceil(warm / size) + 5; i++) {
        await psyncRound();
        await tcpRound();
      }
      const pr: number[] = [];
      const tr: number[] = [];
      for (let b = 0; b < blocks; b++) {
        for (let i = 0; i < per; i++) pr.push(await timed(psyncRound));
        for (let i = 0; i < per; i++) tr.push(await timed(tcpRound));
      }
      tableII.push({ hosts: size, psync: r1(median(pr) / size), tcp: r1(median(tr) / size) });
    }
  } finally {
    stopResends();
    if (watchdog) clearInterval(watchdog);
    for (const k of kids) {
      k.proc.stdin!.end();
      k.proc.kill();
    }
    for (const s of tcp) s?.destroy();
    echoTcp?.destroy();
    clock.close();
    raw.close();
    await rrLink.close();
    await psLink.close();
  }

  const scale = scaling(sizes, window);

  const rows: BenchRow[] = [];
  const ti = tableI;
  const paperRatio = (x: number, y: number): string => `paper ${(x / y).toFixed(2)}`;
  for (const k of KINDS) {
    const paper = k === 'rr' ? PAPER_I.rpc : PAPER_I[k];
    rows.push({ name: `I ${k} p50`, value: ti[k].p50, unit: 'µs', note: k === 'udp' ? `reference; paper ${paper} ms` : `${(ti[k].p50 / ti.udp.p50).toFixed(3)}× udp, paper ${(paper / PAPER_I.udp).toFixed(2)}×` });
    rows.push({ name: `I ${k} p99`, value: ti[k].p99, unit: 'µs' });
  }
  rows.push({ name: 'I psync / udp', value: Number((ti.psync.p50 / ti.udp.p50).toFixed(3)), unit: '×', note: paperRatio(PAPER_I.psync, PAPER_I.udp) });
  rows.push({ name: 'I psync / tcp', value: Number((ti.psync.p50 / ti.tcp.p50).toFixed(3)), unit: '×', note: paperRatio(PAPER_I.psync, PAPER_I.tcp) });
  rows.push({ name: 'I rr / udp', value: Number((ti.rr.p50 / ti.udp.p50).toFixed(3)), unit: '×', note: `RPC: ${paperRatio(PAPER_I.rpc, PAPER_I.udp)}` });
  for (const e of tableII) {
    const p = PAPER_II[e.hosts];
    rows.push({ name: `II ${e.hosts} hosts psync`, value: e.psync, unit: 'µs/pass', note: p ? `paper ${p.psync} ms` : undefined });
    rows.push({ name: `II ${e.hosts} hosts tcp`, value: e.tcp, unit: 'µs/pass', note: p ? `paper ${p.tcp} ms` : undefined });
    rows.push({ name: `II ${e.hosts} hosts psync / tcp`, value: Number((e.psync / e.tcp).toFixed(3)), unit: '×', note: p ? paperRatio(p.psync, p.tcp) : undefined });
  }
  rows.push({ name: 'last-ACK resends', value: resendCount(), unit: 'resends', note: `by process 0; ${loss}% of its Psync frames lost (--loss)` });
  for (const e of scale) {
    const note = e.nodes < e.messages ? `${e.nodes} nodes retained: the table's cap` : `${e.nodes} nodes`;
    rows.push({ name: `scale ${e.messages} send`, value: e.sendUs, unit: 'µs', note });
    rows.push({ name: `scale ${e.messages} receive`, value: e.receiveUs, unit: 'µs' });
  }
  if (scale.length >= 2) {
    const a = scale[0];
    const z = scale[scale.length - 1];
    rows.push({
      name: 'scale send+receive growth', value: Number(((z.sendUs + z.receiveUs) / (a.sendUs + a.receiveUs)).toFixed(2)), unit: '×',
      note: `${z.messages} against ${a.messages} messages; the paper: 1 (independent of graph size)`,
    });
  }

  const json = {
    tableI: { udp: ti.udp.p50, rr: ti.rr.p50, psync: ti.psync.p50, tcp: ti.tcp.p50 },
    tableII,
    scaling: scale,
  };
  return {
    name: 'psync',
    rows,
    headline: { label: 'Psync median round trip / raw UDP echo (paper 1.38)', ratio: ti.psync.p50 / ti.udp.p50 },
    json,
  };
}

// The `picolink sim conversation` scenario: N hosts hold one Psync conversation (the Psync paper,
// sections 2-3) and each sends M data messages through the library's ordered broadcast by waves
// (section 4.2, firmware/psync/library.ts) over a lossy simulated network; the run records what every
// application saw as a trace, and checks the protocol's promises from that trace.
//
// - Network: hosts 1..N on one simulated medium (20 Mbit/s, 64-byte frames, 50 µs propagation: fast
//   enough that collisions are rare and the faults below dominate), each behind the raw MAC
//   (firmware/mac/raw.ts: unacknowledged, never retried) and a fault injector on what it receives
//   (hal/mw/faulty.ts): every frame is dropped with probability `loss`, duplicated with `dup`, held back
//   behind the next frame with `reorder`, and delayed by 0-2 ms of jitter. Psync and the library recover.
// - Traffic: host 1 opens the conversation of everyone; its first data message is the SC. Each host
//   tries to send at a random time in 1-11 ms, then every 5-25 ms; a try that finds two of its own
//   messages not yet committed (or the library out of room) sends nothing and waits for the next one,
//   as an application that paces itself by commits would. The run ends as soon as every host has
//   committed every message, or when the virtual time limit passes.
// - Trace: one event per line, in the order they happened (times in virtual µs, never decreasing):
//     {"t":T,"node":"2","ev":"send","mid":"2:17"}                 host 2 sends its 17th message
//     {"t":T,"node":"3","ev":"deliver","mid":"2:17","from":"2"}   handed to host 3's application
//     {"t":T,"node":"3","ev":"commit","mid":"2:17"}               committed at host 3 (own ones too)
//   A node id is the host's MAC address in decimal ("1".."N"). A mid is "<node>:<n>" for that node's
//   n-th data message (1-based, counted by the application and carried in the first two data bytes),
//   not Psync's wire sequence number: ACKs and the initiator's random starting number leave gaps there.
//   Only what the application sees appears: ACKs (empty messages) and the library's control messages
//   stay below it, as the paper's sort routine weeds ACKs out (4.2). A node's own message is sent, not
//   delivered, to it; every node commits every message, its own included.
// - Checks (checkTrace): every message is delivered to every other node exactly once, and to no node
//   before every message in its context (the sender's view when it sent it, recorded in memory at the
//   send: for each node, how many of its messages, 1..k, the sender had sent or been delivered); every
//   node commits every sent message once, in the same sequence, each after its context; and the bytes
//   delivered and committed are the bytes sent.
// Everything random comes from the one seed, so one seed gives one trace, byte for byte.

import { scheduler } from '../../hal/sim/scheduler.ts';
import { medium } from '../../hal/sim/medium.ts';
import { faulty } from '../../hal/mw/faulty.ts';
import { xoshiro, below } from '../../hal/prng.ts';
import type { Station } from '../../hal/sim/medium.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import type { Mac } from '../../firmware/mac/mac.ts';
import type { Clock } from '../../hal/clock.ts';
import { CAP_MEDIUM, CAP_PROTO, captureRecord } from '../../hal/mw/pcap.ts';
import type { PcapWriter } from '../../hal/mw/pcap.ts';
import { PSYNC_DEFAULTS, PS_OK, midSender, psync } from '../../firmware/psync/psync.ts';
import type { Psync } from '../../firmware/psync/psync.ts';
import { LIB_DEFAULTS, psyncLib } from '../../firmware/psync/library.ts';
import type { PsyncLib } from '../../firmware/psync/library.ts';

export const CONV_LIMITS = { nodesMin: 2, nodesMax: 8, messagesMin: 1, messagesMax: 1000, lossMax: 0.3 };
/** 8 hosts x 1000 messages under 30 % loss (the most the options allow) take about 62 s of virtual time. */
export const CONV_DEFAULT_LIMIT_US = 600_000_000;

export interface ConversationOptions {
  /** Participants, 2..8 (Psync's limit per conversation). */
  nodes: number;
  /** Data messages each node sends, 1..1000. */
  messages: number;
  /** Fraction of frames each receiver drops, 0..0.3. */
  loss: number;
  /** Fraction of frames received twice, and held back behind the next one. Defaults 0.05 and 0.1. */
  dup?: number;
  reorder?: number;
  seed: number;
  /** Virtual time limit, µs. Default 10 minutes: a run that stalls costs little to simulate that far. */
  limitUs?: number;
  /**
   * Capture every Psync message each host sends and receives (after the fault injector: what its
   * endpoint saw), as proto PSYNC records stamped with virtual time; station = the host's address.
   */
  pcap?: PcapWriter;
}

/** `mac` with what it sends and receives recorded as Psync messages (proto 5) by `station`. */
function capturedMac(mac: Mac, w: PcapWriter, clock: Clock, station: number): Mac {
  return {
    caps: mac.caps,
    addr: mac.addr,
    send(dst, p, len) {
      const r = mac.send(dst, p, len);
      captureRecord(w, clock.now(), true, station, CAP_PROTO.PSYNC, CAP_MEDIUM.radio, p, len);
      return r;
    },
    onReceive(fn) {
      mac.onReceive(fn === null ? null : (p, len, info) => {
        captureRecord(w, clock.now(), false, station, CAP_PROTO.PSYNC, CAP_MEDIUM.radio, p, len);
        fn(p, len, info);
      });
    },
    onSent: (fn) => mac.onSent(fn),
    queued: () => mac.queued(),
  };
}

export type TraceEvent =
  | { t: number; node: string; ev: 'send'; mid: string }
  | { t: number; node: string; ev: 'deliver'; mid: string; from: string }
  | { t: number; node: string; ev: 'commit'; mid: string };

export interface Check {
  name: string;
  ok: boolean;
  /** What was verified, or the first problems found. */
  detail: string;
}

export interface ConversationSummary {
  scenario: 'conversation';
  nodes: number;
  messagesPerNode: number;
  loss: number;
  dup: number;
  reorder: number;
  seed: number;
  limitUs: number;
  sent: number;
  delivered: number;
  committed: number;
  /** When the last node committed the last message, or the limit when that never happened. */
  virtualUs: number;
  /** Every node committed every message before the limit. */
  finished: boolean;
  sameSequence: boolean;
  /** Frames on the medium; ACKs sent, watchdog resends and RTXs (retransmission requests), all hosts. */
  network: { frames: number; acks: number; watchdogResends: number; rtx: number };
  checks: Check[];
  ok: boolean;
}

export interface ConversationRun {
  /** The trace, in order. */
  events: TraceEvent[];
  /** Each mid's context: element i is how many messages of node ids[i] the sender had in its view. */
  contexts: Map<string, number[]>;
  summary: ConversationSummary;
}

/** One trace line (no newline), keys in the documented order. */
export function traceLine(e: TraceEvent): string {
  return JSON.stringify(e);
}

const DATA_LEN = 4;
const WINDOW = 2;

/**
 * A node's view as counts: for each node, the longest run 1..k of its messages present. Kept as
 * counts because each sender's messages form a chain (each is in the context of the next), so a view
 * that obeys context order holds a prefix of each; a message past a gap does not count, and the gap
 * is caught when that message is delivered.
 */
function viewOf(ids: string[]): { have: Set<string>; prefix: number[]; add(mid: string): void } {
  const index = new Map(ids.map((id, i) => [id, i]));
  const prefix = ids.map(() => 0);
  const have = new Set<string>();
  return {
    have,
    prefix,
    add(mid: string): void {
      have.add(mid);
      const node = mid.slice(0, mid.indexOf(':'));
      const i = index.get(node);
      if (i === undefined) return;
      while (have.has(`${node}:${prefix[i] + 1}`)) prefix[i]++;
    },
  };
}

function listed(problems: string[], more = 3): string {
  const head = problems.slice(0, more).join('; ');
  return problems.length > more ? `${head}; and ${problems.length - more} more` : head;
}

/**
 * The scenario's promises, read from a trace and the contexts recorded at each send. Works on any
 * trace of this format (the tests feed it doctored ones to see each check fail).
 */
export function checkTrace(ids: string[], events: readonly TraceEvent[], contexts: Map<string, number[]>): Check[] {
  const sentBy = new Map<string, string>();
  const views = new Map(ids.map((id) => [id, viewOf(ids)]));
  const commits = new Map<string, string[]>(ids.map((id) => [id, []]));
  const delivery: string[] = [];
  const order: string[] = [];
  for (const e of events) {
    const v = views.get(e.node);
    if (!v) {
      delivery.push(`line for unknown node ${e.node}`);
      continue;
    }
    if (e.ev === 'send') {
      if (sentBy.has(e.mid) || !e.mid.startsWith(`${e.node}:`)) delivery.push(`node ${e.node} sent ${e.mid} (sent before, or another node's id)`);
      sentBy.set(e.mid, e.node);
      v.add(e.mid);
    } else if (e.ev === 'deliver') {
      const from = sentBy.get(e.mid);
      if (from === undefined) delivery.push(`node ${e.node} got ${e.mid}, not sent before`);
      else if (from !== e.from) delivery.push(`node ${e.node} got ${e.mid} from ${e.from}, sent by ${from}`);
      else if (from === e.node) delivery.push(`node ${e.node} got its own ${e.mid}`);
      if (v.have.has(e.mid)) delivery.push(`node ${e.node} got ${e.mid} twice`);
      const ctx = contexts.get(e.mid);
      if (!ctx) order.push(`no context recorded for ${e.mid}`);
      else {
        for (let i = 0; i < ids.length; i++) {
          if (v.prefix[i] < ctx[i]) {
            order.push(`node ${e.node} got ${e.mid} before ${ids[i]}:${v.prefix[i] + 1} in its context`);
            break;
          }
        }
      }
      v.add(e.mid);
    } else {
      commits.get(e.node)!.push(e.mid);
    }
  }
  for (const [mid, from] of sentBy) {
    for (const id of ids) if (id !== from && !views.get(id)!.have.has(mid)) delivery.push(`${mid} never delivered at node ${id}`);
  }

  const all: string[] = [];
  for (const id of ids) {
    const seq = commits.get(id)!;
    const seen = new Set<string>();
    for (const m of seq) {
      if (seen.has(m)) all.push(`node ${id} committed ${m} twice`);
      else if (!sentBy.has(m)) all.push(`node ${id} committed ${m}, never sent`);
      seen.add(m);
    }
    const missing = [...sentBy.keys()].filter((m) => !seen.has(m));
    if (missing.length > 0) all.push(`node ${id} never committed ${missing.length} message(s), first ${missing[0]}`);
  }

  const same: string[] = [];
  const ref = commits.get(ids[0])!;
  for (const id of ids.slice(1)) {
    const seq = commits.get(id)!;
    const n = Math.max(seq.length, ref.length);
    for (let i = 0; i < n; i++) {
      if (seq[i] !== ref[i]) {
        same.push(`node ${id} differs from node ${ids[0]} at commit ${i + 1}: ${seq[i] ?? 'nothing'} against ${ref[i] ?? 'nothing'}`);
        break;
      }
    }
  }

  const after: string[] = [];
  for (const id of ids) {
    const seq = commits.get(id)!;
    const pos = new Map<string, number>();
    seq.forEach((m, i) => { if (!pos.has(m)) pos.set(m, i); });
    for (const [m, i] of pos) {
      const ctx = contexts.get(m);
      if (!ctx) continue;
      for (let j = 0; j < ids.length; j++) {
        if (ctx[j] === 0) continue;
        const x = `${ids[j]}:${ctx[j]}`;
        const p = pos.get(x);
        if (p === undefined || p > i) {
          after.push(`node ${id} committed ${m} before ${x} in its context`);
          break;
        }
      }
    }
  }

  const n = ids.length;
  const sent = sentBy.size;
  return [
    { name: 'delivered exactly once', ok: delivery.length === 0, detail: delivery.length === 0 ? `each of ${sent} messages reached each of the ${n - 1} other nodes once` : listed(delivery) },
    { name: 'context order', ok: order.length === 0, detail: order.length === 0 ? 'no node got a message before one in its context' : listed(order) },
    { name: 'all committed', ok: all.length === 0, detail: all.length === 0 ? `each of ${n} nodes committed each of ${sent} messages once` : listed(all) },
    { name: 'same commit sequence', ok: same.length === 0, detail: same.length === 0 ? `all ${n} commit sequences are identical` : listed(same) },
    { name: 'commits follow context', ok: after.length === 0, detail: after.length === 0 ? 'every message was committed after every message in its context' : listed(after) },
  ];
}

interface Host {
  id: string;
  addr: number;
  ep: Psync;
  lib: PsyncLib;
  station: Station;
  conv: number;
  sent: number;
  ownCommitted: number;
  view: ReturnType<typeof viewOf>;
}

export function conversation(o: ConversationOptions): ConversationRun {
  const L = CONV_LIMITS;
  const n = o.nodes;
  const dup = o.dup ?? 0.05;
  const reorder = o.reorder ?? 0.1;
  const limitUs = o.limitUs ?? CONV_DEFAULT_LIMIT_US;
  if (!(Number.isInteger(n) && n >= L.nodesMin && n <= L.nodesMax)) throw new Error(`conversation: nodes must be ${L.nodesMin}..${L.nodesMax}`);
  if (!(Number.isInteger(o.messages) && o.messages >= L.messagesMin && o.messages <= L.messagesMax)) throw new Error(`conversation: messages must be ${L.messagesMin}..${L.messagesMax}`);
  if (!(o.loss >= 0 && o.loss <= L.lossMax)) throw new Error(`conversation: loss must be 0..${L.lossMax}`);
  if (!(dup >= 0 && dup <= 1 && reorder >= 0 && reorder <= 1)) throw new Error('conversation: dup and reorder must be 0..1');

  const s = scheduler();
  // One generator per purpose, each seeded from the run's seed in a fixed order.
  const master = xoshiro(o.seed);
  const sub = () => xoshiro(master.u32());
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const faultRng = sub();
  const trafficRng = sub();
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) ids.push(String(i));
  const events: TraceEvent[] = [];
  const contexts = new Map<string, number[]>();
  /** Psync mid -> the application's mid and data, as sent; to recognise what comes back. */
  const sentData = new Map<number, { mid: string; hex: string }>();
  const dataErrors: string[] = [];
  const target = n * n * o.messages;
  let commits = 0;
  let delivered = 0;
  let finished = false;
  const hex = (b: Uint8Array, len: number) => Buffer.from(b.subarray(0, len)).toString('hex');

  // Sized for up to 8 hosts under 30 % loss: library records for every host's window of data and the
  // ACKs that wait with it (peaks near 6 x hosts); Psync buffers enough that received messages keep
  // their copies (none went without one from 2 to 8 hosts at 0-30 % loss). With fewer copies a host
  // can miss the last ACK of a message it holds no copy of: the watchdog cannot resend that message to
  // draw the ACK out again, and the host never commits it.
  const config = { ...PSYNC_DEFAULTS, nodes: 96, bufs: Math.max(32, 8 * n), hold: Math.max(8, 2 * n) };
  const lconfig = { ...LIB_DEFAULTS, records: Math.max(LIB_DEFAULTS.records, 10 * n) };

  /** The application's reading of data handed up by the library: its mid, or null if malformed. */
  const appMid = (h: Host, what: string, mid: number, d: Uint8Array, len: number): string | null => {
    const want = sentData.get(mid);
    if (!want) {
      dataErrors.push(`node ${h.id} ${what} a message nobody sent`);
      return null;
    }
    if (hex(d, len) !== want.hex) dataErrors.push(`node ${h.id} ${what} ${want.mid} with other data`);
    if (len < 2) return null;
    return `${midSender(mid)}:${(d[0] << 8) | d[1]}`;
  };

  const hosts: Host[] = [];
  for (let i = 1; i <= n; i++) {
    const station = m.station({ id: i });
    const link = faulty(station.link, { clock: s, rng: faultRng, dropPct: o.loss * 100, dupPct: dup * 100, reorderPct: reorder * 100, jitterUs: 2_000 });
    const raw = rawMac(link, i, 16);
    const mac = o.pcap ? capturedMac(raw, o.pcap, s, i) : raw;
    const ep = psync({ mac, clock: s, rng: sub(), config });
    const lib = psyncLib({ ps: ep, addr: i, clock: s, rng: sub(), config: lconfig });
    const h: Host = { id: String(i), addr: i, ep, lib, station, conv: -1, sent: 0, ownCommitted: 0, view: viewOf(ids) };
    ep.onOpen((conv) => {
      h.conv = conv;
      lib.attach(conv);
    });
    lib.onDeliver((_conv, mid, d, len) => {
      const am = appMid(h, 'got', mid, d, len);
      if (am === null) return;
      delivered++;
      events.push({ t: s.now(), node: h.id, ev: 'deliver', mid: am, from: String(midSender(mid)) });
      h.view.add(am);
    });
    lib.onCommit((_conv, mid, d, len) => {
      const am = appMid(h, 'committed', mid, d, len);
      if (am === null) return;
      events.push({ t: s.now(), node: h.id, ev: 'commit', mid: am });
      if (midSender(mid) === h.addr) h.ownCommitted++;
      if (++commits === target) {
        finished = true;
        s.stop();
      }
    });
    hosts.push(h);
  }

  const payload = new Uint8Array(DATA_LEN);
  for (const h of hosts) {
    if (h.addr !== 1) h.ep.passiveOpen();
    const trySend = (): void => {
      if (h.sent >= o.messages) return;
      if (h.addr === 1 && h.conv < 0) {
        h.conv = h.ep.activeOpen(hosts.map((x) => x.addr), n);
        if (h.conv < 0 || h.lib.attach(h.conv) !== PS_OK) throw new Error('conversation: host 1 could not open the conversation');
      }
      if (h.conv >= 0 && h.sent - h.ownCommitted < WINDOW) {
        const k = h.sent + 1;
        payload[0] = k >> 8;
        payload[1] = k & 0xff;
        payload[2] = below(trafficRng, 256);
        payload[3] = below(trafficRng, 256);
        const ctx = h.view.prefix.slice();
        const mid = h.lib.send(payload, DATA_LEN);
        if (mid >= 0) {
          const am = `${h.id}:${k}`;
          h.sent = k;
          sentData.set(mid, { mid: am, hex: hex(payload, DATA_LEN) });
          contexts.set(am, ctx);
          events.push({ t: s.now(), node: h.id, ev: 'send', mid: am });
          h.view.add(am);
        }
      }
      s.after(5_000 + below(trafficRng, 20_000), trySend);
    };
    s.after(1_000 + below(trafficRng, 10_000), trySend);
  }

  s.runUntil(limitUs);
  const virtualUs = finished ? s.now() : limitUs;

  const checks = checkTrace(ids, events, contexts);
  checks.push({
    name: 'data intact', ok: dataErrors.length === 0,
    detail: dataErrors.length === 0 ? 'every message delivered and committed carried the bytes its sender sent' : listed(dataErrors),
  });
  const sameSequence = checks.find((c) => c.name === 'same commit sequence')!.ok;
  const sum = (f: (h: Host) => number) => hosts.reduce((a, h) => a + f(h), 0);
  const summary: ConversationSummary = {
    scenario: 'conversation', nodes: n, messagesPerNode: o.messages, loss: o.loss, dup, reorder, seed: o.seed, limitUs,
    sent: contexts.size, delivered, committed: commits, virtualUs, finished, sameSequence,
    network: {
      frames: sum((h) => h.station.stats.txFrames),
      acks: sum((h) => h.lib.stats.acksSent), watchdogResends: sum((h) => h.lib.stats.resent), rtx: sum((h) => h.ep.stats.rtxSent),
    },
    checks,
    ok: checks.every((c) => c.ok),
  };
  return { events, contexts, summary };
}

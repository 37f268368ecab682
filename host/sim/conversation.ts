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
//   delivered and committed are the bytes sent. One more, of the run rather than the trace: every
//   host sent all M of its messages (a run cut short by the time limit fails there). A crash whose
//   restart would come at or after the time limit is refused.
// - Crash (option crash, `--crash NODE@TIME+DOWN`): the node's MAC goes silent at TIME and its
//   endpoint and library are abandoned; DOWN later it restarts from the root (Psync restart, no local
//   log: the image comes from the others) and the library rejoins (firmware/psync/library.ts). The
//   library's failure detection is on (suspectUs 3 s), so the others remove a node down longer than
//   that and take it back in on its restart. The application's message counter survives the crash
//   (the mids go on), its pacing window restarts empty. Trace lines {"ev":"crash"}, {"ev":"restart"}
//   and {"ev":"rejoin","position":P} (P: data commits before its next one); the restarted node's
//   replay shows again as deliveries (own messages included) and commits. The checks then ask: of
//   the nodes that ran throughout, everything as above; of the restarted one, its commits after the
//   restart are their sequence less one stretch ending at P (what it could not replay: stable
//   elsewhere, copies gone), and it has everything sent once it was back, after its context. Messages
//   the crashed node sent that nobody received are lost with it (3.2.3, case 1) and not asked for.
//   Measured: 4 and 6 nodes at 10 and 30 % loss, seeds 1-4, a 4 s crash: every check passes; 8 nodes
//   at 30 % loss fail 3 seeds in 4 (the failure detection removes live nodes, which then stop).
// - Logs (option log, `--log`): every host also writes Psync's log (firmware/psync/log.ts) to a flash
//   store in memory and serves from it the messages whose copies it freed (section 5.1). The crashed
//   host replays its own log at its restart and the others serve the rest: its replay has no gap, it
//   skips nothing (missed 0) and its commits are exactly the others'. Without logs the stretch it
//   cannot replay is what the checks allow for. Measured (4 and 6 nodes, 10 and 30 % loss, seeds 1-4,
//   crash 2@400ms+4s, 30 messages each): all 16 runs pass with 0 skipped, at 1.3-1.8x the frames of
//   the same run without logs (which skips 77-167 commits); 4 nodes at 30 %, seeds 1-6, all pass too.
//   Seeds 1 and 6 once stalled: the restarted host's log held an own message nobody had received, its
//   replay's waves waited for the JOINs to say whether it counted, and its 48 records filled first (the
//   REMOVE markers now settle it; see the library's header).
// - False suspicion (option suspectUs, `--suspect`; option rejoinRemovedUs): a live host that reads
//   its own address in a REMOVE marker is out of the conversation, and stays out unless it acts. Here
//   it does what a device application would: 1 s later it ends that life in the conversation (trace
//   {"ev":"removed"}), flushes its log, closes the conversation on its endpoint and restarts it from
//   the root on the same endpoint (the same steps as after a crash, {"ev":"restart"}, then
//   {"ev":"rejoin"}); the checks treat it as a restarted host. Measured at 4 hosts, 30 % loss, suspectUs
//   150 ms (a false removal every second or so): seeds 3 and 6 pass with 4 and 6 such restarts, and fail
//   without them; seeds 1 and 4 fail, as two hosts removed two others within 30 ms of each other (two
//   failures at once, which the library does not handle). A host removed before it ever had the
//   conversation (its SC lost until the others, no longer waiting for it, freed the SC) is sent an SC
//   notice when it asks for the conversation and restarts into it (trace: removed, restart, rejoin;
//   8 hosts, 30 %, suspectUs 500 ms, seed 2: host 4; it never took part before the notice).
// Everything random comes from the one seed, so one seed gives one trace, byte for byte.

import { crashable } from './crashable.ts';
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
import { LOG_DEFAULTS, logHeader, psyncLog, readLogHeader, replayLog } from '../../firmware/psync/log.ts';
import type { PsyncLog } from '../../firmware/psync/log.ts';
import { memoryStore } from '../../hal/sim/store.ts';
import type { MemoryStore } from '../../hal/sim/store.ts';

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
   * Crash host `node` at atUs (its MAC goes silent; its endpoint and library are abandoned) and restart
   * it downUs later: Psync's restart() from the root, without a local log (the image comes from the
   * others), and the library's rejoin(). The hosts use failure detection (the library's suspectUs) so
   * that waves go on without it while it is down.
   */
  crash?: { node: number; atUs: number; downUs: number };
  /**
   * Every host logs the conversation (log.ts, a flash store in memory) and serves what it freed from
   * the log; a crashed host replays its own log at its restart. Default false.
   */
  log?: boolean;
  /**
   * The library's unstableMax (data waits while Psync's image holds this many messages not yet stable).
   * Default: half of Psync's nodes; 0 turns it off.
   */
  unstableMax?: number;
  /** The library's failure detector (suspectUs), µs; default 3 s with a crash, else 0 (off). */
  suspectUs?: number;
  /**
   * A live host that learns it was removed (its own address in a REMOVE marker: a false suspicion)
   * restarts its conversation on the same endpoint this long after (close, restart, its log replayed,
   * the library's rejoin), as after a crash with nothing lost; µs, default 1 s. Negative: it stays out.
   */
  rejoinRemovedUs?: number;
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
  | { t: number; node: string; ev: 'commit'; mid: string }
  | { t: number; node: string; ev: 'crash' }
  | { t: number; node: string; ev: 'removed' }
  | { t: number; node: string; ev: 'restart' }
  | { t: number; node: string; ev: 'rejoin'; position: number };

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
  /** Every node committed every message before the limit (with a crash: the run came to rest before it). */
  finished: boolean;
  /** The crash asked for, and when the node was back, where its commits resumed and how many it skipped. */
  crash?: { node: number; atUs: number; downUs: number; rejoinedUs: number | null; position: number | null; missed: number | null };
  sameSequence: boolean;
  /** Frames on the medium; ACKs sent, watchdog resends and RTXs (retransmission requests), all hosts. */
  network: { frames: number; acks: number; watchdogResends: number; rtx: number };
  /**
   * With a crash or suspectUs: removals by failure detection at each host, switches back in, and each
   * host's restarts after it was removed while running (a false suspicion).
   */
  membership?: { suspected: number[]; joined: number[]; rejoinedRemoved: number[] };
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
  /** Position of each send in the trace, and where each node's last restart and rejoin happened. */
  const sentAt = new Map<string, number>();
  const views = new Map(ids.map((id) => [id, viewOf(ids)]));
  /** Each node's commit sequence per life (a restart starts a new one). */
  const lives = new Map<string, string[][]>(ids.map((id) => [id, [[]]]));
  const restartAt = new Map<string, number>();
  const rejoinAt = new Map<string, { i: number; position: number }>();
  const dead = new Set<string>();
  const deliveredTo = new Map<string, Set<string>>();
  const delivery: string[] = [];
  const order: string[] = [];
  events.forEach((e, i) => {
    const v = views.get(e.node);
    if (!v) {
      delivery.push(`line for unknown node ${e.node}`);
      return;
    }
    if (e.ev === 'crash' || e.ev === 'removed') {
      dead.add(e.node);
      return;
    }
    if (e.ev === 'restart') {
      if (!dead.has(e.node)) delivery.push(`node ${e.node} restarted without a crash`);
      dead.delete(e.node);
      views.set(e.node, viewOf(ids));
      lives.get(e.node)!.push([]);
      restartAt.set(e.node, i);
      rejoinAt.delete(e.node);
      return;
    }
    if (dead.has(e.node)) delivery.push(`node ${e.node} ${e.ev} while crashed`);
    if (e.ev === 'rejoin') {
      rejoinAt.set(e.node, { i, position: e.position });
      return;
    }
    const replaying = restartAt.has(e.node) && !rejoinAt.has(e.node);
    if (e.ev === 'send') {
      if (sentBy.has(e.mid) || !e.mid.startsWith(`${e.node}:`)) delivery.push(`node ${e.node} sent ${e.mid} (sent before, or another node's id)`);
      sentBy.set(e.mid, e.node);
      sentAt.set(e.mid, i);
      v.add(e.mid);
    } else if (e.ev === 'deliver') {
      const from = sentBy.get(e.mid);
      if (from === undefined) delivery.push(`node ${e.node} got ${e.mid}, not sent before`);
      else if (from !== e.from) delivery.push(`node ${e.node} got ${e.mid} from ${e.from}, sent by ${from}`);
      else if (from === e.node && !replaying) delivery.push(`node ${e.node} got its own ${e.mid}`);
      if (v.have.has(e.mid)) delivery.push(`node ${e.node} got ${e.mid} twice`);
      let to = deliveredTo.get(e.mid);
      if (!to) deliveredTo.set(e.mid, to = new Set());
      to.add(e.node);
      const ctx = contexts.get(e.mid);
      if (!ctx) order.push(`no context recorded for ${e.mid}`);
      else if (!replaying) {
        // A restarted node may lack, for good, what was sent before it was back (taken as stable
        // without content); anything sent later it must have first.
        const back = rejoinAt.get(e.node);
        for (let j = 0; j < ids.length; j++) {
          let bad = '';
          for (let k = v.prefix[j] + 1; k <= ctx[j] && bad === ''; k++) {
            const x = `${ids[j]}:${k}`;
            if (!v.have.has(x) && !(back && (sentAt.get(x) ?? Infinity) < back.i)) bad = x;
          }
          if (bad !== '') {
            order.push(`node ${e.node} got ${e.mid} before ${bad} in its context`);
            break;
          }
        }
      }
      v.add(e.mid);
    } else {
      const l = lives.get(e.node)!;
      l[l.length - 1].push(e.mid);
    }
  });
  const restarted = (id: string) => restartAt.has(id);
  /** Sent by a host before its crash and received by nobody: lost with it (case 1 of 3.2.3). */
  const lost = (m: string): boolean => {
    const from = sentBy.get(m)!;
    return restarted(from) && sentAt.get(m)! < restartAt.get(from)! && !(deliveredTo.get(m)?.size);
  };
  const finalOf = (id: string) => lives.get(id)!.at(-1)!;
  for (const [mid, from] of sentBy) {
    if (lost(mid)) continue;
    for (const id of ids) {
      if (id === from || views.get(id)!.have.has(mid)) continue;
      // A restarted host need have only what was sent after it was back (the rest it took as stable).
      const back = rejoinAt.get(id);
      if (restarted(id) && (!back || sentAt.get(mid)! < back.i)) continue;
      delivery.push(`${mid} never delivered at node ${id}`);
    }
  }

  const steady = ids.filter((id) => !restarted(id));
  const all: string[] = [];
  for (const id of ids) {
    const seq = finalOf(id);
    const seen = new Set<string>();
    for (const m of seq) {
      if (seen.has(m)) all.push(`node ${id} committed ${m} twice`);
      else if (!sentBy.has(m)) all.push(`node ${id} committed ${m}, never sent`);
      seen.add(m);
    }
    const back = rejoinAt.get(id);
    const missing = [...sentBy.keys()].filter((m) => !seen.has(m) && !lost(m) && (!restarted(id) || (back !== undefined && sentAt.get(m)! > back.i)));
    if (restarted(id) && !back) all.push(`node ${id} restarted and never rejoined`);
    if (missing.length > 0) all.push(`node ${id} never committed ${missing.length} message(s), first ${missing[0]}`);
  }

  const same: string[] = [];
  /** For a restarted node: the stretch of the sequence its final life left out, [from, to). */
  const skipped = new Map<string, [number, number]>();
  const ref = finalOf(steady[0] ?? ids[0]);
  for (const id of ids) {
    if (id === (steady[0] ?? ids[0])) continue;
    const seq = finalOf(id);
    if (restarted(id)) {
      // The sequence less one stretch, which ends where onRejoin said the commits resume.
      let k = 0;
      while (k < seq.length && seq[k] === ref[k]) k++;
      const d = ref.length - seq.length;
      const back = rejoinAt.get(id);
      const rest = ref.slice(k + d);
      if (d < 0 || seq.slice(k).join() !== rest.join()) same.push(`node ${id} (restarted) differs from node ${ref === finalOf(id) ? id : steady[0]} after commit ${k}: ${seq[k] ?? 'nothing'} against ${ref[k] ?? 'nothing'}`);
      else if (d > 0 && back && back.position !== k + d) same.push(`node ${id} (restarted) resumed at commit ${k + d + 1}, its rejoin said ${back.position + 1}`);
      else skipped.set(id, [k, k + d]);
      continue;
    }
    const n = Math.max(seq.length, ref.length);
    for (let i = 0; i < n; i++) {
      if (seq[i] !== ref[i]) {
        same.push(`node ${id} differs from node ${steady[0]} at commit ${i + 1}: ${seq[i] ?? 'nothing'} against ${ref[i] ?? 'nothing'}`);
        break;
      }
    }
  }

  const after: string[] = [];
  const refPos = new Map(ref.map((m, i) => [m, i]));
  for (const id of ids) {
    const seq = finalOf(id);
    const gap = skipped.get(id);
    const pos = new Map<string, number>();
    seq.forEach((m, i) => { if (!pos.has(m)) pos.set(m, i); });
    for (const [m, i] of pos) {
      const ctx = contexts.get(m);
      if (!ctx) continue;
      for (let j = 0; j < ids.length; j++) {
        if (ctx[j] === 0) continue;
        const x = `${ids[j]}:${ctx[j]}`;
        const p = pos.get(x);
        const r = refPos.get(x);
        if (gap && p === undefined && r !== undefined && r >= gap[0] && r < gap[1]) continue; // in the stretch it skipped
        if (p === undefined || p > i) {
          after.push(`node ${id} committed ${m} before ${x} in its context`);
          break;
        }
      }
    }
  }

  const n = ids.length;
  const sent = sentBy.size;
  const crashNote = restartAt.size > 0 ? ` (a restarted node: what was sent after it was back)` : '';
  return [
    { name: 'delivered exactly once', ok: delivery.length === 0, detail: delivery.length === 0 ? `each of ${sent} messages reached each of the ${n - 1} other nodes once${crashNote}` : listed(delivery) },
    { name: 'context order', ok: order.length === 0, detail: order.length === 0 ? 'no node got a message before one in its context' : listed(order) },
    { name: 'all committed', ok: all.length === 0, detail: all.length === 0 ? `each of ${n} nodes committed each of ${sent} messages once${crashNote}` : listed(all) },
    { name: 'same commit sequence', ok: same.length === 0, detail: same.length === 0 ? (restartAt.size > 0 ? `the ${steady.length} nodes that ran throughout have one sequence; ${restartAt.size === 1 ? 'the restarted one has it' : `each of the ${restartAt.size} restarted ones has it`}, less the stretch it could not replay` : `all ${n} commit sequences are identical`) : listed(same) },
    { name: 'commits follow context', ok: after.length === 0, detail: after.length === 0 ? 'every message was committed after every message in its context' : listed(after) },
  ];
}

interface Host {
  id: string;
  addr: number;
  ep: Psync;
  lib: PsyncLib;
  log: PsyncLog | null;
  store: MemoryStore | null;
  station: Station;
  /** The MAC as this life sees it: silent once `dead` (a crash); inner is the station's own. */
  mac: Mac & { dead: boolean };
  inner: Mac;
  conv: number;
  sent: number;
  /** Own messages sent in this life and not yet committed in it (the pacing window). */
  pending: Set<string>;
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
  if (o.crash && !(Number.isInteger(o.crash.node) && o.crash.node >= 1 && o.crash.node <= n && o.crash.atUs >= 0 && o.crash.downUs > 0)) {
    throw new Error(`conversation: crash a node 1..${n} at a time >= 0 for a time > 0`);
  }
  if (o.crash && o.crash.atUs + o.crash.downUs >= limitUs) {
    throw new Error(`conversation: the crash's restart (${(o.crash.atUs + o.crash.downUs) / 1e6} s) is not before the time limit (${limitUs / 1e6} s): crash earlier or raise the limit (--for)`);
  }
  let commits = 0;
  let delivered = 0;
  let finished = false;
  let lastCommitUs = 0;
  let rejoined: { us: number; position: number; missed: number } | null = null;
  const rejoinRemovedUs = o.rejoinRemovedUs ?? 1_000_000;
  const rejoinedRemoved = new Array<number>(n).fill(0);
  const hex = (b: Uint8Array, len: number) => Buffer.from(b.subarray(0, len)).toString('hex');

  // Sized for up to 8 hosts under 30 % loss: library records for every host's window of data and the
  // ACKs that wait with it (peaks near 6 x hosts); Psync buffers enough that received messages keep
  // their copies (none went without one from 2 to 8 hosts at 0-30 % loss). With fewer copies a host
  // can miss the last ACK of a message it holds no copy of: the watchdog cannot resend that message to
  // draw the ACK out again, and the host never commits it. Graph nodes: 16 per host (96 at least), and
  // the library holds data back while half of them are unstable (unstableMax). Messages stay unstable
  // while a restarted host, masked back in at its RS, replays and acknowledges nothing; with 96 nodes
  // at 8 hosts a host's image filled with them and the predecessors of the restarted host's first ACK
  // could not attach (8 hosts, 30 %, seed 3 with --log stalled so once log serving was rate-limited).
  const config = { ...PSYNC_DEFAULTS, nodes: Math.max(96, 16 * n), bufs: Math.max(32, 8 * n), hold: Math.max(8, 2 * n) };
  // With a crash, a host silent for 3 s while the others wait for it is removed (so the waves go on
  // without it) until it rejoins.
  const lconfig = { ...LIB_DEFAULTS, records: Math.max(LIB_DEFAULTS.records, 10 * n), suspectUs: o.suspectUs ?? (o.crash ? 3_000_000 : 0), unstableMax: o.unstableMax ?? config.nodes >> 1 };

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
  /** Endpoint and library for host h over its MAC (a new life after a crash). */
  const life = (h: Host, mac: Mac): void => {
    const ep = psync({ mac, clock: s, rng: sub(), config });
    const lib = psyncLib({ ps: ep, addr: h.addr, clock: s, rng: sub(), config: lconfig });
    // A queue of 4 KB written every 20 ms: 8 hosts at full pace fill the default 512 bytes within its 50 ms,
    // and a log that dropped a frame no longer holds the whole image (it serves, but says not LOGGED).
    const log = h.store ? psyncLog({ ps: ep, store: h.store, clock: s, config: { ...LOG_DEFAULTS, queueBytes: 4096, flushUs: 20_000 } }) : null;
    h.ep = ep;
    h.lib = lib;
    h.log = log;
    h.pending = new Set();
    h.view = viewOf(ids);
    ep.onOpen((conv) => {
      h.conv = conv;
      if (ep.recovering(conv)) {
        // Opened by restarting into it: removed before it ever had the SC, it was sent a notice.
        events.push({ t: s.now(), node: h.id, ev: 'removed' });
        events.push({ t: s.now(), node: h.id, ev: 'restart' });
      }
      lib.attach(conv);
      if (log) log.start(conv);
    });
    lib.onDeliver((_conv, mid, d, len) => {
      if (h.ep !== ep || h.mac.dead) return; // an abandoned life, or one that crashed
      const am = appMid(h, 'got', mid, d, len);
      if (am === null) return;
      delivered++;
      events.push({ t: s.now(), node: h.id, ev: 'deliver', mid: am, from: String(midSender(mid)) });
      h.view.add(am);
    });
    lib.onCommit((_conv, mid, d, len) => {
      if (h.ep !== ep || h.mac.dead) return; // an abandoned life, or one that crashed
      const am = appMid(h, 'committed', mid, d, len);
      if (am === null) return;
      events.push({ t: s.now(), node: h.id, ev: 'commit', mid: am });
      lastCommitUs = s.now();
      h.pending.delete(am);
      if (++commits === target && !o.crash) {
        finished = true;
        s.stop();
      }
    });
    lib.onRejoin((_conv, position) => {
      events.push({ t: s.now(), node: h.id, ev: 'rejoin', position });
      if (o.crash && h.addr === o.crash.node) rejoined = { us: s.now(), position, missed: lib.stats.missed };
    });
    // Removed while running (a false suspicion): its life in the conversation ends; it restarts the
    // conversation on the same endpoint, as a device would, and rejoins like a restarted host.
    lib.onRemoved((c, addr) => {
      if (addr !== h.addr || rejoinRemovedUs < 0) return;
      s.after(rejoinRemovedUs, () => {
        if (h.ep !== ep || h.mac.dead || h.conv !== c) return;
        events.push({ t: s.now(), node: h.id, ev: 'removed' });
        rejoinedRemoved[h.addr - 1]++;
        if (log) log.flush();
        ep.close(c);
        restartConv(h);
      });
    });
  };
  /** Host h's conversation from the root again (Psync restart, its own log, the library's rejoin). */
  const restartConv = (h: Host): void => {
    if (cid < 0) throw new Error(`conversation: node ${h.id} restarted before the conversation was open; crash it later`);
    if (h.log) h.log.stop();
    events.push({ t: s.now(), node: h.id, ev: 'restart' });
    h.pending = new Set();
    h.view = viewOf(ids);
    h.conv = h.ep.restart(cid, hosts.map((x) => x.addr), n, [], 0);
    if (h.conv < 0 || h.lib.rejoin(h.conv) !== PS_OK) throw new Error(`conversation: node ${h.id} could not restart (${h.conv})`);
    if (h.store && h.log) {
      // Its own log first (5.1), then the others through the RS.
      const hd = logHeader();
      const buf = new Uint8Array(256);
      if (readLogHeader(h.store, hd, buf) && hd.cid === cid) {
        replayLog(h.store, hd, h.ep, h.conv, buf);
        h.log.resume(h.conv, hd.end);
      } else {
        h.log.start(h.conv);
      }
    }
  };
  for (let i = 1; i <= n; i++) {
    const station = m.station({ id: i });
    const link = faulty(station.link, { clock: s, rng: faultRng, dropPct: o.loss * 100, dupPct: dup * 100, reorderPct: reorder * 100, jitterUs: 2_000 });
    const raw = rawMac(link, i, 16);
    const inner = o.pcap ? capturedMac(raw, o.pcap, s, i) : raw;
    const mac = crashable(inner);
    // Room for every frame of the run (64 bytes at most, ACKs about as many as data), so logging never stops.
    const store = o.log ? memoryStore(1024 + 65 * 3 * n * o.messages) : null;
    const h = { id: String(i), addr: i, station, mac, inner, store, conv: -1, sent: 0 } as Host;
    life(h, mac);
    hosts.push(h);
  }

  let cid = -1;
  if (o.crash) {
    const c = o.crash;
    const h = hosts[c.node - 1];
    s.at(c.atUs, () => {
      h.mac.dead = true;
      if (h.log) h.log.stop(); // what it had queued is lost with it
      events.push({ t: s.now(), node: h.id, ev: 'crash' });
      s.after(c.downUs, () => {
        h.mac = crashable(h.inner);
        life(h, h.mac);
        restartConv(h);
      });
    });
  }

  const payload = new Uint8Array(DATA_LEN);
  for (const h of hosts) {
    if (h.addr !== 1) h.ep.passiveOpen();
    const trySend = (): void => {
      if (h.sent >= o.messages) return;
      if (h.addr === 1 && h.conv < 0) {
        h.conv = h.ep.activeOpen(hosts.map((x) => x.addr), n);
        if (h.conv < 0 || h.lib.attach(h.conv) !== PS_OK) throw new Error('conversation: host 1 could not open the conversation');
        if (h.log) h.log.start(h.conv);
      }
      if (h.conv >= 0 && !h.mac.dead && !h.lib.rejoining() && h.pending.size < WINDOW) {
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
          if (cid < 0) cid = h.ep.cid(h.conv);
          sentData.set(mid, { mid: am, hex: hex(payload, DATA_LEN) });
          contexts.set(am, ctx);
          events.push({ t: s.now(), node: h.id, ev: 'send', mid: am });
          h.view.add(am);
          h.pending.add(am);
        }
      }
      s.after(5_000 + below(trafficRng, 20_000), trySend);
    };
    s.after(1_000 + below(trafficRng, 10_000), trySend);
  }

  s.runUntil(limitUs);
  // With a crash the run ends when nothing is left to do (the checks say whether all was committed).
  // So too when a live host restarted after it was removed (what it had sent and nobody received is lost).
  const restarts = rejoinedRemoved.reduce((a, b) => a + b, 0);
  if ((o.crash || restarts > 0) && s.pending() === 0) finished = true;
  const virtualUs = finished ? (o.crash || restarts > 0 ? lastCommitUs : s.now()) : limitUs;

  const checks = checkTrace(ids, events, contexts);
  // The trace's checks hold for what was sent; whether everything meant to be sent was is this run's.
  const unsent = hosts.filter((h) => h.sent < o.messages);
  checks.push({
    name: 'all sent', ok: unsent.length === 0,
    detail: unsent.length === 0 ? `each of ${n} nodes sent its ${o.messages} messages` : listed(unsent.map((h) => `node ${h.id} sent ${h.sent} of ${o.messages}`)),
  });
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
  if (o.crash || lconfig.suspectUs > 0) summary.membership = { suspected: hosts.map((h) => h.lib.stats.suspected), joined: hosts.map((h) => h.lib.stats.joined), rejoinedRemoved };
  const rj = rejoined as { us: number; position: number; missed: number } | null; // set from onRejoin
  if (o.crash) summary.crash = { ...o.crash, rejoinedUs: rj ? rj.us : null, position: rj ? rj.position : null, missed: rj ? rj.missed : null };
  return { events, contexts, summary };
}

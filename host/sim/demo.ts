// The demonstration network `npm start` runs: sensors send telemetry to the gateway over a simulated
// radio (nRF24L01+-like: 250 kbit/s, 32-byte frames) through the CSMA/CA MAC (acknowledged, retried),
// the gateway relays what it receives over a simulated 115200-baud serial wire (COBS + CRC-16 framing,
// with a little line corruption) to the host, and the host's status frame goes back down once a
// second as a broadcast. Sensors sit on a circle around the gateway with a range that leaves opposite
// sensors hidden from each other, so collisions happen as in real life and the MAC recovers them.
// A hub near the gateway is also the master of a piconet (its own channel, Bluetooth BR timing) of
// wearables: it pages them in, polls them, and relays their readings over CSMA/CA to the gateway.
// The gateway also calls the sensors with request-reply (over the same CSMA/CA MAC, through service
// ports): a fresh reading over RR, and an at-most-once counter over RRA, one call at a time in turn.
// The sensors also hold a Psync conversation (the Psync paper; up to 6 of them, as many as a 32-byte
// frame carries, sensor 1 initiating): about once a second each proposes an alarm threshold (its last
// reading plus 3 °C), the proposals are committed in one order at every sensor by the library's
// ordered broadcast by waves, and the last committed one is the shared threshold. Sensors out of each
// other's range get what they missed from those between them (Psync's retransmission requests); the
// summary says what each committed and whether every two committed the same prefix.
// Everything is seeded: the same seed gives the same trace, byte for byte (its SHA-256 is printed).
// Later issues grow this into the full network with MACs and the bridge.

import { createHash } from 'node:crypto';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import { medium } from '../../hal/sim/medium.ts';
import type { Station } from '../../hal/sim/medium.ts';
import { wire } from '../../hal/sim/wire.ts';
import type { Wire } from '../../hal/sim/wire.ts';
import { framedLink } from '../../hal/framing/link.ts';
import type { FramedLink } from '../../hal/framing/link.ts';
import { xoshiro, below } from '../../hal/prng.ts';
import type { Link } from '../../hal/link.ts';
import { CAP_PROTO, fileSink, pcap, pcapWriter } from '../../hal/mw/pcap.ts';
import type { FileSink } from '../../hal/mw/pcap.ts';
import { create as sourceCreate } from '../../boards/sim.ts';
import { withVirtualPins } from './virtual-pins.ts';
import { CONV_MAX } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import type { Telemetry } from '../../firmware/telemetry.ts';
import type { Gateway } from '../../firmware/gateway.ts';
import type { PiconetMaster } from '../../firmware/mac/piconet/piconet.ts';
import { emitTelemetry, parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import { SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { csma } from '../../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../../firmware/mac/csma/config.ts';

export interface DemoOptions {
  seed: number;
  /** Number of sensors (1..32). Default 5. */
  sensors?: number;
  /** Number of wearables in the hub's piconet (0..7). Default 3. */
  wearables?: number;
  /** Write a pcap capture of every station here. */
  pcapPath?: string;
  /** Receives every trace line (medium and wire events), in order. */
  trace?: (line: string) => void;
  /** How often the gateway calls a sensor, µs (default 250 ms; 0: no calls). */
  callUs?: number;
  /** How often each sensor in the conversation proposes an alarm threshold, mean µs (default 1 s; 0: no conversation). */
  proposeUs?: number;
  /**
   * Add a station for the bridge (BRIDGE_STATION, next to the gateway, with its own CSMA/CA MAC run by
   * the host: the bridge's node on the simulated radio); Demo.bridgeMac is its MAC. Default false.
   */
  bridgeStation?: boolean;
  /** Called with each reading the host decodes (source address and value): the bridge publishes them as events. */
  onReading?: (src: number, value: unknown) => void;
  /** The sim board's create(): by default from source (boards/sim.ts); a test passes the one from dist/sim.js. */
  create?: (env: SimEnv) => SimDevice;
}

/** Radio: nRF24L01+ at 250 kbit/s; per-frame overhead 1 preamble + 5 address + 9-bit control + 2 CRC bytes. */
export const DEMO_RADIO = { bitrate: 250_000, mtu: 32, preambleBits: 8 + 40 + 9 + 16 };
export const DEMO_SERIAL = { baud: 115_200, corruptPct: 0.1 };
export const HOST_ID = 0xfffe;
export const HUB_ID = 40;
export const WEARABLE_FIRST = 41;
/** The piconet channel: Bluetooth BR at 1 Mbit/s (72 bits of access code and payload CRC besides the bytes). */
export const DEMO_PICONET = { bitrate: 1_000_000, mtu: 400, preambleBits: 72 };
const GATEWAY_STATION = 0;
/** Most radio hops between two participants of the conversation (see participantsOf). */
export const MAX_HOPS = 3;
const HOST_STATION = 100;
/** The bridge's station on the simulated radio (when DemoOptions.bridgeStation). */
export const BRIDGE_STATION = 50;

export interface SensorSummary {
  id: number;
  sent: number;
  skipped: number;
  backoffs: number;
  /** MAC retransmissions and frames dropped at its retry limit. */
  retries: number;
  noAck: number;
  atHost: number;
  heardHost: number;
  collisionsHere: number;
}

export interface DemoConversationSummary {
  /** Each participant: proposals it sent and skipped (see ConversationStats), proposals it committed, waves, the threshold it holds (-1: none yet). */
  participants: { id: number; proposed: number; skipped: number; committed: number; waves: number; threshold: number }[];
  /** Psync messages sent by all participants: proposals, acknowledgements (empty messages) and the SC. */
  sent: number;
  /** Messages Psync delivered, summed over participants (each message is delivered at every other one). */
  delivered: number;
  /** Proposals committed by the participant furthest ahead, and by the one furthest behind. */
  committed: number;
  commonPrefix: number;
  /** Waves committed by the participant furthest ahead. */
  waves: number;
  /** Messages sent again (answers to retransmission requests, watchdog resends, successors sent back for a resent duplicate), and the requests. */
  retransmissions: number;
  rtxRequests: number;
  /** Messages Psync dropped for full tables, and messages the library found no record for (both should stay near 0). */
  flowDiscarded: number;
  recordsLost: number;
  /**
   * Every pair of participants committed the same sequence up to the shorter of the two (compared by
   * the devices' checksums of their committed prefixes). null: some pair could not be compared (one
   * was more than DIGESTS commits ahead of the other) and none differed.
   */
  agree: boolean | null;
}

export interface DemoSummary {
  seed: number;
  simulatedUs: number;
  events: number;
  sensors: SensorSummary[];
  gateway: { heard: number; collisions: number; up: number; upDropped: number; down: number; acks: number };
  piconet: { connected: number; wearables: { id: number; sent: number; atHost: number; polls: number; retransmissions: number }[]; relayedUp: number };
  serial: { bytesUp: number; bytesDown: number; corrupted: number; framesAtHost: number; crcErrors: number; malformed: number };
  host: { decoded: number; decodeErrors: number; statusSent: number; lastReadings: Record<number, unknown> };
  /** The gateway's request-reply calls to the sensors, and what the sensors' servers saw. */
  calls: {
    calls: number; ok: number; errors: number; timeouts: number; retries: number;
    /** OP_COUNT replies not above the previous one (0 unless a call ran twice). */
    repeats: number;
    /** OP_COUNT executions at the sensors, and duplicates their servers filtered. */
    counted: number; duplicatesFiltered: number; repliesResent: number;
  };
  /** The sensors' Psync conversation on a shared alarm threshold; null when it is off. */
  conversation: DemoConversationSummary | null;
  captureRecords: number;
  traceLines: number;
  traceSha256: string;
}

/** Radio hops between two participants, at most, within the set (Infinity when it is not connected). */
function hopDiameter(ids: number[], hears: (from: number, to: number) => boolean): number {
  let worst = 0;
  for (const s of ids) {
    const dist = new Map<number, number>([[s, 0]]);
    const queue = [s];
    while (queue.length > 0) {
      const u = queue.shift()!;
      for (const v of ids) {
        if (!dist.has(v) && hears(u, v) && hears(v, u)) {
          dist.set(v, dist.get(u)! + 1);
          queue.push(v);
        }
      }
    }
    worst = Math.max(worst, dist.size < ids.length ? Infinity : Math.max(...dist.values()));
  }
  return worst;
}

/**
 * Who holds the conversation. Psync brings a participant a message it did not hear from any
 * participant that has it, so sensors out of each other's range still converse through those between
 * them, but each hop costs a round of messages (the one between must send in the context of what it
 * passes on), and a long chain commits slowly and piles up uncommitted messages. So: the first sensors,
 * as many as a frame carries (CONV_MAX), when no two are more than MAX_HOPS hops apart; otherwise
 * sensor 1 and the sensors it hears. With fewer than 5 sensors on the circle no sensor hears another,
 * and there is no conversation.
 */
export function participantsOf(ids: number[], hears: (from: number, to: number) => boolean): number[] {
  const first = ids.slice(0, CONV_MAX);
  if (first.length >= 2 && hopDiameter(first, hears) <= MAX_HOPS) return first;
  const star = ids.slice(0, 1);
  for (const id of ids.slice(1)) if (star.length < CONV_MAX && hears(ids[0], id) && hears(id, ids[0])) star.push(id);
  return star.length >= 2 ? star : [];
}

function conversationSummary(devs: SimDevice[]): DemoConversationSummary {
  const cs = devs.map((d) => d.conversation!);
  const sum = (f: (c: NonNullable<SimDevice['conversation']>) => number): number => cs.reduce((a, c) => a + f(c), 0);
  let agree: boolean | null = true;
  for (let i = 0; i < cs.length; i++) {
    for (let j = i + 1; j < cs.length; j++) {
      const k = Math.min(cs[i].stats.committed, cs[j].stats.committed);
      const a = cs[i].digestAt(k), b = cs[j].digestAt(k);
      if (a < 0 || b < 0) {
        if (agree) agree = null;
      } else if (a !== b) agree = false;
    }
  }
  return {
    participants: devs.map((d) => {
      const c = d.conversation!;
      return { id: d.mac!.addr, proposed: c.stats.proposed, skipped: c.stats.skipped, committed: c.stats.committed, waves: c.lib.stats.waves, threshold: c.stats.threshold };
    }),
    sent: sum((c) => c.ps.stats.sent),
    delivered: sum((c) => c.ps.stats.delivered),
    committed: Math.max(...cs.map((c) => c.stats.committed)),
    commonPrefix: Math.min(...cs.map((c) => c.stats.committed)),
    waves: Math.max(...cs.map((c) => c.lib.stats.waves)),
    retransmissions: sum((c) => c.ps.stats.rtxResent + c.ps.stats.resent + c.ps.stats.successorsResent),
    rtxRequests: sum((c) => c.ps.stats.rtxSent),
    flowDiscarded: sum((c) => c.ps.stats.flowDiscarded),
    recordsLost: sum((c) => c.lib.stats.lost),
    agree,
  };
}

export interface Demo {
  readonly sched: Scheduler;
  /** The bridge station's MAC (DemoOptions.bridgeStation), else null. */
  readonly bridgeMac: CsmaMac | null;
  /** The sensors' addresses. */
  readonly sensorIds: number[];
  runUntil(us: number): void;
  summary(): DemoSummary;
  close(): void;
}

export function demo(o: DemoOptions): Demo {
  const n = o.sensors ?? 5;
  if (!(n >= 1 && n <= 32)) throw new Error('demo: sensors must be between 1 and 32');
  // Sensors serve virtual pins (host/sim/virtual-pins.ts) for the johnny-five plugin (host/j5/): handlers
  // only, nothing sent or drawn until a host asks, so the demonstration's trace is unchanged.
  const create = withVirtualPins(o.create ?? sourceCreate);
  const sched = scheduler();
  const rng = xoshiro(o.seed);
  const hash = createHash('sha256');
  let traceLines = 0;
  const trace = (line: string): void => {
    traceLines++;
    hash.update(line + '\n');
    if (o.trace) o.trace(line);
  };

  const air = medium(sched, { ...DEMO_RADIO, rng, trace });
  const pico = medium(sched, { ...DEMO_PICONET, rng, trace: (l) => trace('p' + l.trimStart()) });
  const line: Wire = wire(sched, { ...DEMO_SERIAL, rng, trace });

  let sink: FileSink | null = o.pcapPath ? fileSink(o.pcapPath) : null;
  let records = 0;
  let headerWritten = false;
  const writer = sink
    ? pcapWriter({
        write: (b) => {
          if (headerWritten) records++;
          headerWritten = true;
          sink!.write(b);
        },
      })
    : null;
  const cap = (link: Link, station: number): Link =>
    writer ? pcap(link, { writer, clock: sched, station, proto: link.caps.medium === 'radio' ? CAP_PROTO.CSMA : CAP_PROTO.TELEMETRY }) : link;
  const capPico = (link: Link, station: number): Link =>
    writer ? pcap(link, { writer, clock: sched, station, proto: CAP_PROTO.PICONET }) : link;

  // The gateway at the centre; sensors on a circle of 50 m, range 70 m: neighbours hear each other,
  // sensors across the circle do not (hidden stations), everyone reaches the gateway.
  const gwStation = air.station({ id: GATEWAY_STATION, x: 0, y: 0, range: 70 });
  const sensors: { st: Station; dev: SimDevice; app: Telemetry; mac: NonNullable<SimDevice['mac']>; heardHost: number; atHost: number }[] = [];
  const stations: Station[] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    stations.push(air.station({ id: i + 1, x: Math.round(50 * Math.cos(a)), y: Math.round(50 * Math.sin(a)), range: 70 }));
  }
  const proposeUs = o.proposeUs ?? 1_000_000;
  const talkers = proposeUs > 0 ? participantsOf(stations.map((x) => x.id), air.hears) : [];
  const conversation = talkers.length >= 2 ? talkers : undefined;
  for (let i = 0; i < n; i++) {
    const st = stations[i];
    const link = cap(st.link, st.id);
    const id = st.id;
    let mv = 3000;
    let t = 220;
    const dev = create({
      role: 'sensor', id, radio: link, clock: sched, rng, periodUs: 250_000, sink: GATEWAY_STATION,
      read: () => {
        mv -= below(rng, 3);
        t = 180 + below(rng, 80); // 0.1 °C
        return { t, h: 40 + below(rng, 20), mv };
      },
      conversation, proposeUs, propose: () => t + 30,
    });
    const rec = { st, dev, app: dev.telemetry!, mac: dev.mac!, heardHost: 0, atHost: 0 };
    const h = { src: 0, seq: 0 };
    dev.ports!.port(SVC_TELEMETRY).onReceive((f, len) => {
      if (parseTelemetry(f, len, h) && h.src === HOST_ID) rec.heardHost++;
    });
    sensors.push(rec);
  }

  // The hub: a CSMA/CA station next to the gateway, and the master of the wearables' piconet.
  const nw = o.wearables ?? 3;
  if (!(nw >= 0 && nw <= 7)) throw new Error('demo: wearables must be between 0 and 7');
  const hubSt = air.station({ id: HUB_ID, x: 10, y: 0, range: 70 });
  const hubPico = pico.station({ id: HUB_ID, x: 0, y: 0, range: 10 });
  const wearables: { id: number; app: Telemetry; dev: SimDevice; atHost: number }[] = [];
  const peers: number[] = [];
  for (let i = 0; i < nw; i++) {
    const id = WEARABLE_FIRST + i;
    peers.push(id);
    const st = pico.station({ id, x: 1 + i, y: 1, range: 10 });
    let steps = 0;
    const dev = create({
      role: 'wearable', id, radio: capPico(st.link, id), clock: sched, rng, periodUs: 500_000,
      read: () => {
        steps += below(rng, 12);
        return { hr: 55 + below(rng, 40), steps };
      },
    });
    wearables.push({ id, app: dev.telemetry!, dev, atHost: 0 });
  }
  const hub = create({ role: 'hub', id: HUB_ID, radio: cap(hubSt.link, HUB_ID), radio2: capPico(hubPico.link, HUB_ID), peers, clock: sched, rng, sink: GATEWAY_STATION });

  const gwRadio = cap(gwStation.link, GATEWAY_STATION);
  const gwUplink: FramedLink = framedLink(line.a, { mtu: DEMO_RADIO.mtu, clock: sched });
  const callUs = o.callUs ?? 250_000;
  const gwDev = create({
    role: 'gateway', id: GATEWAY_STATION, radio: gwRadio, uplink: gwUplink, clock: sched, rng,
    callees: callUs > 0 ? sensors.map((x) => x.st.id) : [], callUs: callUs || undefined,
  });
  const gw: Gateway = gwDev.gateway!;

  // The host end of the serial wire.
  const hostFramed = framedLink(line.b, { mtu: DEMO_RADIO.mtu, clock: sched });
  const hostLink = cap(hostFramed, HOST_STATION);
  const host = { decoded: 0, decodeErrors: 0, statusSent: 0, lastReadings: {} as Record<number, unknown> };
  const hh = { src: 0, seq: 0 };
  hostLink.onReceive((f, len) => {
    const body = parseTelemetry(f, len, hh);
    if (!body) return;
    try {
      const v = hostDecode(f.subarray(body, len));
      host.lastReadings[hh.src] = v;
      host.decoded++;
      if (o.onReading) o.onReading(hh.src, v);
      const s = sensors[hh.src - 1];
      if (s) s.atHost++;
      const w = wearables[hh.src - WEARABLE_FIRST];
      if (w) w.atHost++;
    } catch {
      host.decodeErrors++;
    }
  });
  const status = new Uint8Array(DEMO_RADIO.mtu);
  let statusSeq = 0;
  const sendStatus = (): void => {
    const body = emitTelemetry({ src: HOST_ID, seq: statusSeq++ & 0xffff }, status);
    const cbor = hostEncode({ up: Math.floor(sched.now() / 1e6), heard: host.decoded });
    status.set(cbor, body);
    if (hostLink.send(status, body + cbor.length)) host.statusSent++;
    sched.after(1_000_000, sendStatus);
  };
  hostLink.onSent(() => {});
  sched.after(1_000_000, sendStatus);

  // The bridge's station: a CSMA/CA MAC the host runs, next to the gateway, on its own random stream
  // (the bridge's calls come from outside, at times the seed does not decide).
  let bridgeMac: CsmaMac | null = null;
  if (o.bridgeStation) {
    const st = air.station({ id: BRIDGE_STATION, x: 0, y: 5, range: 70 });
    bridgeMac = csma({ link: cap(st.link, BRIDGE_STATION), clock: sched, rng: xoshiro(o.seed ^ 0x5eed), addr: BRIDGE_STATION, config: CSMA_NRF24 });
  }

  return {
    sched,
    bridgeMac,
    sensorIds: sensors.map((x) => x.st.id),
    runUntil: (us) => { sched.runUntil(us); },
    close(): void {
      if (sink) sink.close();
      sink = null;
    },
    summary(): DemoSummary {
      const gs = gwStation.stats;
      return {
        seed: o.seed,
        simulatedUs: sched.now(),
        events: sched.executed,
        sensors: sensors.map((s) => ({
          id: s.st.id,
          sent: s.app.stats.sent,
          skipped: s.app.stats.skipped,
          backoffs: s.app.stats.backoffs,
          retries: s.mac.stats.retries,
          noAck: s.mac.stats.dropNoAck,
          atHost: s.atHost,
          heardHost: s.heardHost,
          collisionsHere: s.st.stats.rxCollisions,
        })),
        gateway: { heard: gs.rxFrames, collisions: gs.rxCollisions, up: gw.stats.up, upDropped: gw.stats.upDropped, down: gw.stats.down, acks: gwDev.mac!.stats.ackTx },
        piconet: {
          connected: (hub.piconet as PiconetMaster).slaves().length,
          wearables: wearables.map((w) => {
            const ls = (hub.piconet as PiconetMaster).slaves().find((x) => x.addr === w.id);
            return { id: w.id, sent: w.app.stats.sent, atHost: w.atHost, polls: ls ? ls.stats.polls : 0, retransmissions: ls ? ls.stats.retransmissions : 0 };
          }),
          relayedUp: hub.gateway!.stats.up,
        },
        serial: {
          bytesUp: line.a.stats.bytesSent,
          bytesDown: line.b.stats.bytesSent,
          corrupted: line.a.stats.bytesCorrupted + line.b.stats.bytesCorrupted,
          framesAtHost: hostFramed.stats.frames,
          crcErrors: hostFramed.stats.crcErrors + gwUplink.stats.crcErrors,
          malformed: hostFramed.stats.malformed + gwUplink.stats.malformed,
        },
        host: { ...host, lastReadings: { ...host.lastReadings } },
        calls: {
          calls: gwDev.caller!.calls, ok: gwDev.caller!.ok, errors: gwDev.caller!.errors, timeouts: gwDev.caller!.timeouts,
          retries: gwDev.rr!.stats.retries, repeats: gwDev.caller!.repeats,
          counted: sensors.reduce((a, x) => a + x.dev.counter(), 0),
          duplicatesFiltered: sensors.reduce((a, x) => a + x.dev.rr!.stats.duplicatesFiltered, 0),
          repliesResent: sensors.reduce((a, x) => a + x.dev.rr!.stats.repliesResent, 0),
        },
        conversation: conversation ? conversationSummary(sensors.map((x) => x.dev).filter((x) => x.conversation)) : null,
        captureRecords: records,
        traceLines,
        traceSha256: hash.copy().digest('hex'),
      };
    },
  };
}

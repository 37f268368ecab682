// The simulator board: a virtual device whose drivers the simulator hands in (a medium station's link,
// the scheduler as clock, a seeded Rng). Its bundle (dist/sim.js) is the same firmware a real board
// runs, minified and checked against Espruino's language; the host loads it and calls create().
// Roles: "sensor" sends telemetry over CSMA/CA; "gateway" relays between its radio and an uplink link
// (or, with `tunnel`, lends its MAC to the host: firmware/mac/tunnel.ts);
// "wearable" sends telemetry as a piconet slave; "hub" is a piconet master whose slaves' readings it
// relays into the CSMA/CA network (and what it hears there down to them as piconet broadcasts).
// On CSMA/CA, services share the MAC through service ports (firmware/mac/ports.ts): telemetry, and
// request-reply. Sensors serve two operations: OP_READ (idempotent: a fresh reading) and OP_COUNT
// (at-most-once: adds one to a counter and returns it, so a call that ran twice would show). The
// gateway, given `callees`, calls them in turn every callUs: OP_READ over RR, OP_COUNT over RRA.
// Given env.pins (virtual pins), a sensor also serves its pins (firmware/services/pins.ts) when the
// bundle carries the pins role (ROLE_PINS: the main sim bundle does, sim-sensor does not).
// Given `conversation` (participant addresses, the initiator first), a sensor takes part in one Psync
// conversation (the Psync paper; firmware/psync/) on the SVC_PSYNC port: the sensors agree on a shared
// alarm threshold. Every proposeUs or so a sensor proposes one (env.propose, e.g. its last reading plus
// a margin); proposals go out through the library's ordered broadcast by waves (section 4.2), and the
// last committed proposal is the threshold. Proposals cross on the air, so taking the last one received
// would leave sensors disagreeing; the waves commit them in one order at every participant. The device
// keeps a running checksum of the committed sequence (each message id and its data) and the checksums
// of its last DIGESTS committed prefixes, so a host compares participants without storing sequences.

import type { BoardInfo } from './board.ts';
import type { Link } from '../hal/link.ts';
import type { Clock } from '../hal/clock.ts';
import type { Rng } from '../hal/rng.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';
import { gateway } from '../firmware/gateway.ts';
import type { Gateway } from '../firmware/gateway.ts';
import { tunnelGateway } from '../firmware/mac/tunnel.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../firmware/mac/csma/config.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST } from '../firmware/mac/mac.ts';
import { piconetMaster, piconetSlave } from '../firmware/mac/piconet/piconet.ts';
import type { PiconetMaster, PiconetSlave } from '../firmware/mac/piconet/piconet.ts';
import { PICONET_BT } from '../firmware/mac/piconet/config.ts';
import { macPorts, SVC_PSYNC, SVC_RR, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import type { MacPorts } from '../firmware/mac/ports.ts';
import { PROTO_RR, PROTO_RRA } from '../firmware/rr/frame.ts';
import { RR_E_TIMEOUT, RR_OK, rr } from '../firmware/rr/rr.ts';
import type { Rr } from '../firmware/rr/rr.ts';
import type { Mac } from '../firmware/mac/mac.ts';
import { midSender, midSeq, psync } from '../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../firmware/psync/psync.ts';
import { psyncLib } from '../firmware/psync/library.ts';
import type { LibConfig, PsyncLib } from '../firmware/psync/library.ts';
import { PS_MAX_PARTICIPANTS } from '../firmware/psync/frame.ts';
import { pinsService } from '../firmware/services/pins.ts';
import type { PinsHal, PinsService } from '../firmware/services/pins.ts';

export const OP_READ = 1;
export const OP_COUNT = 2;
/**
 * Sensors in a conversation: args n (a number) returns [committed, checksum of the first n committed
 * proposals or -1] (null when the sensor takes part in none), so a host compares what participants
 * committed without reading their sequences. Idempotent.
 */
export const OP_DIGEST = 3;

export const board: BoardInfo = {
  name: 'sim',
  title: 'Simulated device (hal/sim radio, serial wire)',
  jsvars: 0,
  // Every role, both MACs, request-reply and Psync (telemetry, relay, CBOR, CSMA/CA, piconet, ports,
  // R/RR/RRA, Psync conversations and their library): the simulator runs them all. No board carries
  // this bundle: a board is flashed with its role's bundle (`bundles` below), whose budgets are the
  // ones that matter; this one only catches runaway growth. It was 64 KB until the role bundles came,
  // 72 KB until Psync's log serving (section 5.1) and the library's failure-detector and rejoin fixes.
  budgetBytes: 74752,
  mtu: 32,
  radio: 'simulated media: CSMA/CA (nRF24L01+ timing), piconet (Bluetooth BR timing)',
  roles: ['sensor', 'gateway', 'hub', 'wearable'],
  autostart: false,
  bundles: [
    // A sensor's own code: CSMA/CA, request-reply, telemetry, Psync and its library (52 KB since the
    // library's rejoin after a restart, about 3.3 kB of it; 53 KB since Psync's SC notice, 440 bytes,
    // which brings back a participant removed before it ever had the SC).
    { name: 'sim-sensor', roles: ['sensor'], budgetBytes: 54272 },
    // The gateway that lends its MAC to the host (the tunnel): what a gateway board is flashed with;
    // held to the Pico's budget.
    { name: 'sim-gateway', roles: ['tunnel'], budgetBytes: 12288 },
  ],
};

/**
 * Psync for the conversation, sized for a board: one conversation of up to CONV_MAX participants, every
 * table allocated at creation. With the library's below, about 5.8 kB of typed arrays per device
 * (about 5 kB in Psync: 56 graph nodes, 34 message buffers of 27 bytes, 6 holding-queue entries of 59;
 * 0.8 kB in the library: 30 records of 26 bytes), in 92 arrays and 65 views: on Espruino about 490
 * JsVars of data at 12 bytes a block and 2 to 3 per array or view, so some 870 JsVars, a third of a
 * Puck.js. The library gives each participant records / participants records (5 of 30 for six) and
 * sends only while its own hold one less; with 24 records (4 each) a participant that fell behind
 * under the gateway's collisions caught up too slowly (seed 6 of the demonstration's test). Frames go to the broadcast address, one per message: a unicast to each participant would cost an
 * acknowledged CSMA/CA exchange per participant on a channel shared with telemetry, and one to a
 * participant out of range would exhaust its retries for nothing. A participant that did not hear a
 * message (out of range, or a collision: broadcasts are not acknowledged) gets it through Psync's
 * retransmission requests from a participant in range that has it, so every participant relays for the
 * others: `bufs` exceeds `records` + `reserve` so that a participant keeps a copy of every message it
 * holds that is not stable (a copy it lacked could not be had from anyone else in range, and a
 * participant relying on it would stall for good).
 */
export const CONV_PSYNC: PsyncConfig = {
  conversations: 1, nodes: 56, bufs: 34, reserve: 2, hold: 6, pending: 1, forget: 2,
  holdUs: 20000, rtxUs: 40000, rtxTries: 3, rtxAllTries: 4, group: ADDR_BROADCAST,
};
/**
 * The library: a record per uncommitted message, 2 bytes of data (a threshold). Sensors propose about
 * every second, and each proposal carries the context of what its sender has seen, so it acknowledges
 * the others' proposals: an empty acknowledgement follows only after ackUs without one (each would be
 * one more broadcast and more retransmission requests at the participants out of range). The watchdog
 * resends once a second, at most `retries` times in a row while nothing commits: proposals are what
 * moves the conversation on.
 */
export const CONV_LIB: LibConfig = {
  records: 30, dataBytes: 2, ackUs: 3000000, tickUs: 1000000, retries: 4, stableSlots: 1, stableUs: 300000, stableTries: 6,
};
/**
 * Participants the 32-byte radio carries. Psync's largest frame is an AN naming one predecessor per
 * participant: 8 + 2n header bytes, then the library's kind byte and a 2-byte threshold; the CSMA/CA
 * payload (24 bytes) less the service byte leaves 23, so n <= 6.
 */
export const CONV_MAX = 6;
/** Checksums of the last DIGESTS committed prefixes kept (a power of two). */
export const DIGESTS = 32;

export interface SimEnv {
  role: string;
  /** Station address on the device network (0..0xFEFF). */
  id: number;
  /** The raw radio; the board runs the CSMA/CA MAC on it. */
  radio: Link;
  clock: Clock;
  rng: Rng;
  /** Gateway role: the link to the host. */
  uplink?: Link;
  /**
   * Gateway role: lend the MAC to the host (firmware/mac/tunnel.ts) instead of relaying telemetry; the
   * uplink then carries tunnel messages, and the host is the node at this address (the bridge).
   */
  tunnel?: boolean;
  /** Sensor role: the readings. */
  read?: () => unknown;
  /** Sensor role: mean reading interval, µs (default 1 s). */
  periodUs?: number;
  /** Sensor and hub roles: the address readings go to (default 0, the gateway). */
  sink?: number;
  /** Hub role: the piconet radio, and the wearables to page into the piconet. */
  radio2?: Link;
  peers?: number[];
  /** Gateway role: the sensors to call, and how often, µs (default 2 s). */
  callees?: number[];
  callUs?: number;
  /** Sensor role: the conversation's participants (2..CONV_MAX addresses, the initiator first); this sensor takes part when listed. */
  conversation?: number[];
  /** Sensor role in a conversation: mean time between proposals, µs (default 1 s). */
  proposeUs?: number;
  /** Sensor role in a conversation: the threshold to propose (0..65535; default 250). */
  propose?: () => number;
  /** Sensor role: group addresses (0xFF00..0xFFFE) whose frames it receives, such as a request to them all. */
  groups?: number[];
  /**
   * Sensor role: the device's pins (virtual pins: host/sim/virtual-pins.ts); given, and in a bundle
   * with the pins role, the sensor serves them over request-reply (firmware/services/pins.ts).
   */
  pins?: PinsHal;
}

/** A device's part in the conversation. */
export interface ConversationStats {
  /**
   * Proposals sent, and proposals skipped: before the conversation opened here, or while it lags (more
   * than half the library's records in use; proposing then would only pile up uncommitted messages).
   */
  proposed: number;
  skipped: number;
  /** Proposals committed here (anyone's, in the waves' order). */
  committed: number;
  /** The agreed threshold: the last committed proposal (-1 before the first). */
  threshold: number;
  /** Running checksum of the committed sequence (0 when empty). */
  digest: number;
}

export interface SimConversation {
  ps: Psync;
  lib: PsyncLib;
  stats: ConversationStats;
  /** Checksum of the first n committed proposals; -1 when n is above `committed` or more than DIGESTS below. */
  digestAt(n: number): number;
}

/** What the gateway's calls came to. `counts[i]`: the last OP_COUNT result from callees[i] (0: none yet). */
export interface CallerStats {
  calls: number;
  ok: number;
  errors: number;
  timeouts: number;
  /** OP_COUNT replies that were not above the previous one from the same sensor (a call that ran twice). */
  repeats: number;
  counts: number[];
}

export interface SimDevice {
  /** The CSMA/CA MAC (sensor, gateway, hub), or null for a wearable. */
  mac: CsmaMac | null;
  piconet: PiconetMaster | PiconetSlave | null;
  telemetry: Telemetry | null;
  gateway: Gateway | null;
  ports: MacPorts | null;
  rr: Rr | null;
  /** Sensor role: the OP_COUNT counter (calls executed). */
  counter(): number;
  /** Gateway role with callees. */
  caller: CallerStats | null;
  /** Sensor listed in env.conversation. */
  conversation: SimConversation | null;
  /** Sensor given env.pins: its pins service. */
  pins?: PinsService | null;
}

/** Call each callee in turn, one call at a time, alternating OP_READ (RR) and OP_COUNT (RRA). */
function callAround(r: Rr, clock: Clock, callees: number[], every: number): CallerStats {
  const st: CallerStats = { calls: 0, ok: 0, errors: 0, timeouts: 0, repeats: 0, counts: [] };
  for (let i = 0; i < callees.length; i++) st.counts.push(0);
  let k = 0;
  let op = OP_COUNT;
  function done(err: number, result: unknown): void {
    if (err === RR_OK) {
      st.ok++;
      if (op === OP_COUNT) {
        const c = result as number;
        if (!(c > st.counts[k])) st.repeats++;
        st.counts[k] = c;
      }
    } else if (err === RR_E_TIMEOUT) st.timeouts++;
    else st.errors++;
    clock.at(clock.now() + every, next);
  }
  function next(): void {
    if (op === OP_COUNT) {
      op = OP_READ;
      k = (k + 1) % callees.length;
    } else op = OP_COUNT;
    st.calls++;
    if (r.call(callees[k], op, null, { proto: op === OP_COUNT ? PROTO_RRA : PROTO_RR }, done) !== RR_OK) {
      st.errors++;
      clock.at(clock.now() + every, next);
    }
  }
  if (callees.length > 0) clock.at(clock.now() + every, next);
  return st;
}

function zero(): number {
  return 0;
}

/** Page each peer in turn; a peer that does not answer is paged again a second later. */
function pageAll(m: PiconetMaster, clock: Clock, peers: number[]): void {
  let i = 0;
  function next(): void {
    if (i >= peers.length) return;
    const addr = peers[i];
    if (!m.page(addr, function (ok) {
      if (ok) i++;
      else peers.push(peers.splice(i, 1)[0]);
      clock.at(clock.now() + (ok ? 1000 : 1000000), next);
    })) clock.at(clock.now() + 100000, next);
  }
  next();
}

/**
 * Psync needs a MAC whose mtu carries the predecessor list of 8 participants (24 bytes); the port has
 * 23. This view of the port reports 24 and refuses longer frames (the port itself does): with at most
 * CONV_MAX participants and the library limited to 2 data bytes, no frame is longer than 23.
 */
function psyncPort(port: Mac): Mac {
  const need = 8 + 2 * PS_MAX_PARTICIPANTS;
  return {
    caps: { mtu: port.caps.mtu < need ? need : port.caps.mtu, carrierSense: port.caps.carrierSense },
    addr: port.addr,
    send: port.send,
    onReceive: port.onReceive,
    onSent: port.onSent,
    queued: port.queued,
  };
}

/**
 * Join the conversation on `port`: the first listed opens it, the others wait for its SC; all propose.
 * Exported for a host that takes part in the sensors' conversation through a gateway (picolink hil).
 */
export function converse(env: Pick<SimEnv, 'id' | 'clock' | 'rng' | 'proposeUs' | 'propose'>, port: Mac, list: number[]): SimConversation {
  const n = list.length;
  // The largest frame: an AN naming a predecessor of each participant, the kind byte and a threshold.
  if (!(n >= 2 && n <= PS_MAX_PARTICIPANTS && 11 + 2 * n <= port.caps.mtu)) {
    throw new Error('sim board: a conversation of ' + n + ' participants; this radio carries 2..' + CONV_MAX);
  }
  const clock = env.clock;
  const rng = env.rng;
  const ps = psync({ mac: psyncPort(port), clock: clock, rng: rng, config: CONV_PSYNC });
  const lib = psyncLib({ ps: ps, addr: env.id, clock: clock, rng: rng, config: CONV_LIB });
  const st: ConversationStats = { proposed: 0, skipped: 0, committed: 0, threshold: -1, digest: 0 };
  const ring = new Uint32Array(DIGESTS);
  const tx = new Uint8Array(2);
  const every = env.proposeUs || 1000000;
  let h = 0;
  function mix(b: number): void {
    h = ((h << 5) - h + b) | 0; // h * 31 + b, modulo 2^32
  }
  lib.onCommit(function (_conv, mid, data, len) {
    const s = midSender(mid);
    const q = midSeq(mid);
    mix(s >> 8);
    mix(s & 0xff);
    mix(q >> 8);
    mix(q & 0xff);
    for (let i = 0; i < len; i++) mix(data[i]);
    if (len === 2) st.threshold = (data[0] << 8) | data[1];
    st.committed++;
    st.digest = h >>> 0;
    ring[st.committed & (DIGESTS - 1)] = st.digest;
  });
  if (list[0] === env.id) {
    const conv = ps.activeOpen(list, n);
    if (conv < 0 || lib.attach(conv) < 0) throw new Error('sim board: cannot open the conversation (' + conv + ')');
  } else {
    ps.onOpen(function (conv) { lib.attach(conv); });
    ps.passiveOpen();
  }
  function propose(): void {
    const t = env.propose ? env.propose() : 250;
    tx[0] = (t >> 8) & 0xff;
    tx[1] = t & 0xff;
    if (lib.recordsUsed() <= CONV_LIB.records >> 1 && lib.send(tx, 2) >= 0) st.proposed++;
    else st.skipped++;
    // Uniform over 0.5..1.5 of the mean, so that proposals of different sensors cross.
    clock.at(clock.now() + Math.floor(every / 2) + (rng.u32() % (every + 1)), propose);
  }
  // The initiator's first proposal is the SC: it goes soon, so the others can take part from their first.
  clock.at(clock.now() + (list[0] === env.id ? rng.u32() % (Math.floor(every / 8) + 1) : Math.floor(every / 2) + (rng.u32() % (every + 1))), propose);
  return {
    ps: ps,
    lib: lib,
    stats: st,
    digestAt(k: number): number {
      if (k === 0) return 0;
      if (!(k <= st.committed && k > st.committed - DIGESTS)) return -1;
      return ring[k & (DIGESTS - 1)];
    },
  };
}

// Which roles a bundle carries: the build defines each ROLE_<ROLE> true or false (rollup.config.js,
// board.bundles) and drops the code of the roles left out; run from source, none is defined: every role.
declare const ROLE_SENSOR: boolean, ROLE_GATEWAY: boolean, ROLE_TUNNEL: boolean, ROLE_HUB: boolean, ROLE_WEARABLE: boolean, ROLE_PINS: boolean;

export function create(env: SimEnv): SimDevice {
  const read = env.read || function () { return {}; };
  const period = env.periodUs || 1000000;
  if ((typeof ROLE_WEARABLE === 'undefined' || ROLE_WEARABLE) && env.role === 'wearable') {
    const slave = piconetSlave({ link: env.radio, clock: env.clock, rng: env.rng, addr: env.id, config: PICONET_BT });
    return {
      mac: null,
      piconet: slave,
      // A slave talks only to its master: readings addressed "broadcast" go to the hub.
      telemetry: telemetry({
        link: macLink(slave, ADDR_BROADCAST), clock: env.clock, rng: env.rng, id: env.id,
        periodUs: period, jitterUs: Math.floor(period / 2.5), backoffUs: 4000, maxTries: 8, read: read,
      }),
      gateway: null,
      ports: null,
      rr: null,
      counter: zero,
      caller: null,
      conversation: null,
    };
  }
  const mac = csma({ link: env.radio, clock: env.clock, rng: env.rng, addr: env.id, config: CSMA_NRF24 });
  if ((typeof ROLE_TUNNEL === 'undefined' || ROLE_TUNNEL) && env.tunnel) {
    if (env.role !== 'gateway' || !env.uplink) throw new Error('sim board: a tunnel is the gateway role\'s, with an uplink link');
    return {
      mac: mac, piconet: null, telemetry: null, gateway: tunnelGateway(mac, env.uplink, env.clock),
      ports: null, rr: null, counter: zero, caller: null, conversation: null,
    };
  }
  const sensor = typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR;
  const relay = typeof ROLE_GATEWAY === 'undefined' || ROLE_GATEWAY;
  const hub = typeof ROLE_HUB === 'undefined' || ROLE_HUB;
  if (!sensor && !relay && !hub) throw new Error('sim board: this bundle has no role "' + env.role + '"' + (env.tunnel ? '' : ' (without a tunnel)'));
  const ports = macPorts(mac);
  const r = rr({ mac: ports.port(SVC_RR), clock: env.clock, rng: env.rng });
  const list = env.conversation;
  const talk = sensor && list && list.indexOf(env.id) >= 0 && env.role === 'sensor' ? converse(env, ports.port(SVC_PSYNC), list) : null;
  if (sensor && env.role === 'sensor') {
    let counter = 0;
    r.register(OP_READ, function (args, req) {
      r.reply(req, RR_OK, read());
    }, true);
    r.register(OP_COUNT, function (args, req) {
      r.reply(req, RR_OK, ++counter);
    });
    r.register(OP_DIGEST, function (args, req) {
      r.reply(req, RR_OK, talk ? [talk.stats.committed, talk.digestAt(args as number)] : null);
    }, true);
    const gs = env.groups || [];
    for (let i = 0; i < gs.length; i++) mac.join(gs[i]);
    const pins = (typeof ROLE_PINS === 'undefined' || ROLE_PINS) && env.pins ? pinsService(r, env.clock, env.pins) : null;
    return {
      mac: mac,
      piconet: null,
      telemetry: telemetry({
        link: macLink(ports.port(SVC_TELEMETRY), env.sink || 0), clock: env.clock, rng: env.rng, id: env.id,
        periodUs: period, jitterUs: Math.floor(period / 2.5), backoffUs: 4000, maxTries: 8, read: read,
      }),
      gateway: null,
      ports: ports,
      rr: r,
      counter: function () { return counter; },
      caller: null,
      conversation: talk,
      pins: pins,
    };
  }
  if (relay && env.role === 'gateway') {
    if (!env.uplink) throw new Error('sim board: the gateway role needs an uplink link');
    // Readings from any sensor go up; what the host sends comes down as broadcast.
    const radio = macLink(ports.port(SVC_TELEMETRY), ADDR_BROADCAST);
    return {
      mac: mac, piconet: null, telemetry: null, gateway: gateway({ radio: radio, uplink: env.uplink, clock: env.clock, depth: 8, retryUs: 2000 }),
      ports: ports, rr: r, counter: zero, caller: callAround(r, env.clock, env.callees || [], env.callUs || 2000000), conversation: null,
    };
  }
  if (hub && env.role === 'hub') {
    if (!env.radio2) throw new Error('sim board: the hub role needs radio2, its piconet radio');
    const master = piconetMaster({ link: env.radio2, clock: env.clock, rng: env.rng, addr: env.id, config: PICONET_BT });
    pageAll(master, env.clock, (env.peers || []).slice());
    // The relay of the gateway role, between the two MACs: piconet readings up to the sink over
    // CSMA/CA, what the hub receives there down to its piconet as broadcasts.
    const relay = gateway({ radio: macLink(master, ADDR_BROADCAST), uplink: macLink(ports.port(SVC_TELEMETRY), env.sink || 0), clock: env.clock, depth: 8, retryUs: 2000 });
    return { mac: mac, piconet: master, telemetry: null, gateway: relay, ports: ports, rr: r, counter: zero, caller: null, conversation: null };
  }
  throw new Error('sim board: unknown role "' + env.role + '"; roles are ' + board.roles.join(', '));
}

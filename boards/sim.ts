// The simulator board: a virtual device whose drivers the simulator hands in (a medium station's link,
// the scheduler as clock, a seeded Rng). Its bundle (dist/sim.js) is the same firmware a real board
// runs, minified and checked against Espruino's language; the host loads it and calls create().
// Roles: "sensor" sends telemetry over CSMA/CA; "gateway" relays between its radio and an uplink link;
// "wearable" sends telemetry as a piconet slave; "hub" is a piconet master whose slaves' readings it
// relays into the CSMA/CA network (and what it hears there down to them as piconet broadcasts).
// On CSMA/CA, services share the MAC through service ports (firmware/mac/ports.ts): telemetry, and
// request-reply. Sensors serve two operations: OP_READ (idempotent: a fresh reading) and OP_COUNT
// (at-most-once: adds one to a counter and returns it, so a call that ran twice would show). The
// gateway, given `callees`, calls them in turn every callUs: OP_READ over RR, OP_COUNT over RRA.

import type { BoardInfo } from './board.ts';
import type { Link } from '../hal/link.ts';
import type { Clock } from '../hal/clock.ts';
import type { Rng } from '../hal/rng.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';
import { gateway } from '../firmware/gateway.ts';
import type { Gateway } from '../firmware/gateway.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../firmware/mac/csma/config.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST } from '../firmware/mac/mac.ts';
import { piconetMaster, piconetSlave } from '../firmware/mac/piconet/piconet.ts';
import type { PiconetMaster, PiconetSlave } from '../firmware/mac/piconet/piconet.ts';
import { PICONET_BT } from '../firmware/mac/piconet/config.ts';
import { macPorts, SVC_RR, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import type { MacPorts } from '../firmware/mac/ports.ts';
import { PROTO_RR, PROTO_RRA } from '../firmware/rr/frame.ts';
import { RR_E_TIMEOUT, RR_OK, rr } from '../firmware/rr/rr.ts';
import type { Rr } from '../firmware/rr/rr.ts';

export const OP_READ = 1;
export const OP_COUNT = 2;

export const board: BoardInfo = {
  name: 'sim',
  title: 'Simulated device (hal/sim radio, serial wire)',
  jsvars: 0,
  // Every role, both MACs and request-reply (telemetry, relay, CBOR, CSMA/CA, piconet, ports, R/RR/RRA):
  // the simulator runs them all. A real board carries only its own role's code.
  budgetBytes: 40960,
  mtu: 32,
  radio: 'simulated media: CSMA/CA (nRF24L01+ timing), piconet (Bluetooth BR timing)',
  roles: ['sensor', 'gateway', 'hub', 'wearable'],
  autostart: false,
};

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

export function create(env: SimEnv): SimDevice {
  const read = env.read || function () { return {}; };
  const period = env.periodUs || 1000000;
  if (env.role === 'wearable') {
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
    };
  }
  const mac = csma({ link: env.radio, clock: env.clock, rng: env.rng, addr: env.id, config: CSMA_NRF24 });
  const ports = macPorts(mac);
  const r = rr({ mac: ports.port(SVC_RR), clock: env.clock, rng: env.rng });
  if (env.role === 'sensor') {
    let counter = 0;
    r.register(OP_READ, function (args, req) {
      r.reply(req, RR_OK, read());
    }, true);
    r.register(OP_COUNT, function (args, req) {
      r.reply(req, RR_OK, ++counter);
    });
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
    };
  }
  if (env.role === 'gateway') {
    if (!env.uplink) throw new Error('sim board: the gateway role needs an uplink link');
    // Readings from any sensor go up; what the host sends comes down as broadcast.
    const radio = macLink(ports.port(SVC_TELEMETRY), ADDR_BROADCAST);
    return {
      mac: mac, piconet: null, telemetry: null, gateway: gateway({ radio: radio, uplink: env.uplink, clock: env.clock, depth: 8, retryUs: 2000 }),
      ports: ports, rr: r, counter: zero, caller: callAround(r, env.clock, env.callees || [], env.callUs || 2000000),
    };
  }
  if (env.role === 'hub') {
    if (!env.radio2) throw new Error('sim board: the hub role needs radio2, its piconet radio');
    const master = piconetMaster({ link: env.radio2, clock: env.clock, rng: env.rng, addr: env.id, config: PICONET_BT });
    pageAll(master, env.clock, (env.peers || []).slice());
    // The relay of the gateway role, between the two MACs: piconet readings up to the sink over
    // CSMA/CA, what the hub receives there down to its piconet as broadcasts.
    const relay = gateway({ radio: macLink(master, ADDR_BROADCAST), uplink: macLink(ports.port(SVC_TELEMETRY), env.sink || 0), clock: env.clock, depth: 8, retryUs: 2000 });
    return { mac: mac, piconet: master, telemetry: null, gateway: relay, ports: ports, rr: r, counter: zero, caller: null };
  }
  throw new Error('sim board: unknown role "' + env.role + '"; roles are ' + board.roles.join(', '));
}

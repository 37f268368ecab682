// The simulator board: a virtual device whose drivers the simulator hands in (a medium station's link,
// the scheduler as clock, a seeded Rng). Its bundle (dist/sim.js) is the same firmware a real board
// runs, minified and checked against Espruino's language; the host loads it and calls create().
// Roles: "sensor" broadcasts telemetry; "gateway" relays between its radio and an uplink link.

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

export const board: BoardInfo = {
  name: 'sim',
  title: 'Simulated device (hal/sim radio, serial wire)',
  jsvars: 0,
  budgetBytes: 16384, // telemetry, gateway relay, CBOR and the CSMA/CA MAC
  mtu: 32,
  radio: 'simulated medium, CSMA/CA MAC (nRF24L01+ timing)',
  roles: ['sensor', 'gateway'],
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
  /** Sensor role: the address readings go to (default 0, the gateway). */
  sink?: number;
}

export interface SimDevice {
  mac: CsmaMac;
  telemetry: Telemetry | null;
  gateway: Gateway | null;
}

export function create(env: SimEnv): SimDevice {
  const mac = csma({ link: env.radio, clock: env.clock, rng: env.rng, addr: env.id, config: CSMA_NRF24 });
  if (env.role === 'sensor') {
    const period = env.periodUs || 1000000;
    return {
      mac: mac,
      telemetry: telemetry({
        link: macLink(mac, env.sink || 0), clock: env.clock, rng: env.rng, id: env.id,
        periodUs: period, jitterUs: Math.floor(period / 2.5), backoffUs: 4000, maxTries: 8,
        read: env.read || function () { return {}; },
      }),
      gateway: null,
    };
  }
  if (env.role === 'gateway') {
    if (!env.uplink) throw new Error('sim board: the gateway role needs an uplink link');
    // Readings from any sensor go up; what the host sends comes down as broadcast.
    const radio = macLink(mac, ADDR_BROADCAST);
    return { mac: mac, telemetry: null, gateway: gateway({ radio: radio, uplink: env.uplink, clock: env.clock, depth: 8, retryUs: 2000 }) };
  }
  throw new Error('sim board: unknown role "' + env.role + '"; roles are ' + board.roles.join(', '));
}

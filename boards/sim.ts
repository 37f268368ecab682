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

export const board: BoardInfo = {
  name: 'sim',
  title: 'Simulated device (hal/sim radio, serial wire)',
  jsvars: 0,
  budgetBytes: 8192,
  mtu: 32,
  radio: 'simulated medium',
  roles: ['sensor', 'gateway'],
  autostart: false,
};

export interface SimEnv {
  role: string;
  id: number;
  radio: Link;
  clock: Clock;
  rng: Rng;
  /** Gateway role: the link to the host. */
  uplink?: Link;
  /** Sensor role: the readings. */
  read?: () => unknown;
  /** Sensor role: mean reading interval, µs (default 1 s). */
  periodUs?: number;
}

export interface SimDevice {
  telemetry: Telemetry | null;
  gateway: Gateway | null;
}

export function create(env: SimEnv): SimDevice {
  if (env.role === 'sensor') {
    const period = env.periodUs || 1000000;
    return {
      telemetry: telemetry({
        link: env.radio, clock: env.clock, rng: env.rng, id: env.id,
        periodUs: period, jitterUs: Math.floor(period / 2.5), backoffUs: 4000, maxTries: 8,
        read: env.read || function () { return {}; },
      }),
      gateway: null,
    };
  }
  if (env.role === 'gateway') {
    if (!env.uplink) throw new Error('sim board: the gateway role needs an uplink link');
    return { telemetry: null, gateway: gateway({ radio: env.radio, uplink: env.uplink, clock: env.clock, depth: 8, retryUs: 2000 }) };
  }
  throw new Error('sim board: unknown role "' + env.role + '"; roles are ' + board.roles.join(', '));
}

// A simulated gateway network in this process, paced to the wall clock: the sensors of tunnel-net.ts
// behind a simulated serial wire, opened from the host's end through the MAC tunnel exactly as a
// gateway board on a port is (host/bridge/gateway.ts). `picolink bridge --sim`, `picolink call --sim`
// and `picolink hil`'s simulator target run on it. Its sensors also serve virtual pins (the pins
// service, for the johnny-five IO plugin host/j5/). `wrap` puts a link of the caller's (a capture, a
// loss switch) between the wire's framing and the tunnel. Host only.

import type { Link } from '../../hal/link.ts';
import type { Clock } from '../../hal/clock.ts';
import { framedLink } from '../../hal/framing/link.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import { wire } from '../../hal/sim/wire.ts';
import { OP_COUNT, OP_READ, create as sourceCreate } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import { GATEWAY_LINE_MTU, openGateway } from '../bridge/gateway.ts';
import type { GatewayInfo } from '../bridge/gateway.ts';
import type { TunnelMac } from '../../firmware/mac/tunnel.ts';
import { tunnelNet } from './tunnel-net.ts';
import { withVirtualPins } from './virtual-pins.ts';
import type { TunnelNet } from './tunnel-net.ts';

export interface SimGatewayOptions {
  seed?: number;
  sensors?: number;
  /** The serial wire's rate (default 115 200 baud). */
  baud?: number;
  /** The board's create() (default: the firmware's sources, sensors with virtual pins: host/sim/virtual-pins.ts). */
  create?: (env: SimEnv) => SimDevice;
  /** The sensors converse with the host (tunnel-net.ts, TunnelNetOptions.conversation). */
  conversation?: boolean;
  /** A link to put between the host's framing and the tunnel. */
  wrap?: (link: Link, clock: Clock) => Link;
}

export interface SimGateway {
  mac: TunnelMac & { info: GatewayInfo };
  net: TunnelNet;
  sched: Scheduler;
  stop(): void;
}

export async function startSimGateway(o: SimGatewayOptions = {}): Promise<SimGateway> {
  const sched = scheduler();
  const line = wire(sched, { baud: o.baud ?? 115_200 });
  const net = tunnelNet({ seed: o.seed ?? 1, serial: line.a, sched, sensors: o.sensors ?? 2, create: o.create ?? withVirtualPins(sourceCreate), conversation: o.conversation });
  const t0 = performance.now();
  const timer = setInterval(() => sched.runUntil(Math.floor((performance.now() - t0) * 1000)), 2);
  try {
    const framed = framedLink(line.b, { mtu: GATEWAY_LINE_MTU, clock: sched });
    const mac = await openGateway(o.wrap ? o.wrap(framed, sched) : framed, { where: 'the simulated line' });
    return { mac, net, sched, stop: () => clearInterval(timer) };
  } catch (e) {
    clearInterval(timer);
    throw e;
  }
}

/** Directory entries for the sensors: sensor-1, sensor-2, ... with their operations. */
export function simNames(sensorIds: number[]): { name: string; addr: number; type: string; ops: number[] }[] {
  return sensorIds.map((id, i) => ({ name: `sensor-${i + 1}`, addr: id, type: 'sensor', ops: [OP_READ, OP_COUNT] }));
}

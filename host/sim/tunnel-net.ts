// A simulated device network behind a tunnel gateway: sensors (the sim board's sensor role, serving
// OP_READ and OP_COUNT over request-reply) on a simulated CSMA/CA radio around a gateway whose MAC is
// lent over a serial line (the sim board's gateway role with `tunnel`, firmware/mac/tunnel.ts). The
// serial line is any hal/serial.ts port: a simulated wire for deterministic tests, or a real port (a
// pseudo-terminal, a USB adapter) when the network is paced to the wall clock, which makes it a
// virtual gateway board that a host reaches exactly as it reaches a real one.
//
// The other end of the line runs tunnelMac (host/bridge/gateway.ts opens it), and the host is then
// the node at the gateway's address: GATEWAY_ADDR, which the sensors' telemetry is addressed to.

import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import { medium } from '../../hal/sim/medium.ts';
import { framedLink } from '../../hal/framing/link.ts';
import type { FramedLink } from '../../hal/framing/link.ts';
import { xoshiro, below } from '../../hal/prng.ts';
import type { Serial } from '../../hal/serial.ts';
import { CONV_MAX, create as sourceCreate } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import type { TunnelGateway } from '../../firmware/mac/tunnel.ts';
import { TUN_RX_HDR } from '../../firmware/mac/tunnel.ts';

/** The radio: the demonstration's (250 kbit/s, 32-byte frames, 24-byte CSMA/CA payloads). */
export const TUNNEL_RADIO = { bitrate: 250_000, mtu: 32, preambleBits: 8 + 40 + 9 + 16 };
/** The gateway's address on the device network, which the host takes on. */
export const GATEWAY_ADDR = 1;
/** Frames on the serial line: the CSMA/CA payload (24) plus the tunnel's receive header, rounded up. */
export const TUNNEL_LINE_MTU = 32;
/** The group the first, third, ... sensors join (the others do not): a host's request to it reaches them. */
export const SENSOR_GROUP = 0xff01;

export interface TunnelNetOptions {
  seed: number;
  /** The gateway's end of the serial line. */
  serial: Serial;
  /** The scheduler to run on (default a new one). */
  sched?: Scheduler;
  /** Sensors on the radio (default 2), at addresses GATEWAY_ADDR + 1 onwards. */
  sensors?: number;
  /** Mean telemetry interval of each sensor, µs (default 2 s). */
  periodUs?: number;
  /** The gateway's create(): the source (default) or a bundle's (dist/sim.js, dist/sim-gateway.js). */
  create?: (env: SimEnv) => SimDevice;
  /** The sensors' create() (default: `create` when given, else the source). */
  createSensor?: (env: SimEnv) => SimDevice;
  /**
   * The sensors hold a Psync conversation (boards/sim.ts) with the host as a participant: the first
   * sensor opens it, the host (GATEWAY_ADDR, listed last) joins through the tunnel. At most
   * CONV_MAX - 1 sensors.
   */
  conversation?: boolean;
}

export interface TunnelNet {
  sched: Scheduler;
  gateway: SimDevice;
  tunnel: TunnelGateway;
  line: FramedLink;
  sensors: SimDevice[];
  sensorIds: number[];
}

export function tunnelNet(o: TunnelNetOptions): TunnelNet {
  const n = o.sensors ?? 2;
  if (!(n >= 1 && n <= 32)) throw new Error('tunnel network: sensors must be between 1 and 32');
  const create = o.create ?? sourceCreate;
  const createSensor = o.createSensor ?? create;
  const sched = o.sched ?? scheduler();
  const rng = xoshiro(o.seed);
  const air = medium(sched, { ...TUNNEL_RADIO, rng });
  const line = framedLink(o.serial, { mtu: TUNNEL_LINE_MTU, clock: sched });
  const gwSt = air.station({ id: GATEWAY_ADDR, x: 0, y: 0, range: 70 });
  const gateway = create({ role: 'gateway', tunnel: true, id: GATEWAY_ADDR, radio: gwSt.link, uplink: line, clock: sched, rng });
  const sensors: SimDevice[] = [];
  const sensorIds: number[] = [];
  if (o.conversation && n > CONV_MAX - 1) throw new Error(`tunnel network: a conversation has at most ${CONV_MAX} participants: ${CONV_MAX - 1} sensors and the host`);
  const list: number[] = [];
  for (let i = 0; i < n; i++) list.push(GATEWAY_ADDR + 1 + i);
  list.push(GATEWAY_ADDR);
  for (let i = 0; i < n; i++) {
    const id = GATEWAY_ADDR + 1 + i;
    const a = (2 * Math.PI * i) / n;
    const st = air.station({ id, x: Math.round(30 * Math.cos(a)), y: Math.round(30 * Math.sin(a)), range: 70 });
    let mv = 3000;
    sensors.push(createSensor({
      role: 'sensor', id, radio: st.link, clock: sched, rng, periodUs: o.periodUs ?? 2_000_000, sink: GATEWAY_ADDR,
      read: () => ({ t: 180 + below(rng, 80), h: 40 + below(rng, 20), mv: (mv -= below(rng, 3)) }),
      groups: i % 2 === 0 ? [SENSOR_GROUP] : [],
      conversation: o.conversation ? list : undefined,
    }));
    sensorIds.push(id);
  }
  if (TUNNEL_LINE_MTU < gateway.mac!.caps.mtu + TUN_RX_HDR) throw new Error('tunnel network: the line mtu is below the MAC mtu plus the tunnel header');
  return { sched, gateway, tunnel: gateway.gateway as unknown as TunnelGateway, line, sensors, sensorIds };
}

// Simulated devices with pins, for the johnny-five IO plugin's tests, its benchmark and its example,
// paced to the wall clock (johnny-five runs on real timers). Two ways in:
//
// - pinsNet(): the device network itself. Pins devices (the sim board's sensor role with virtual pins,
//   host/sim/virtual-pins.ts, at addresses 2, 3, ...) and the host's own node (address HOST_ADDR, a
//   CSMA/CA station running the firmware's MAC, with request-reply on its service port) on one
//   simulated 250 kbit/s radio; `rr` is that node, for the plugin's direct link.
// - pinsBridge(): the same devices behind a simulated gateway on a serial wire (sim-gateway.ts, the MAC
//   tunnel), with a bridge in front (host/bridge/bridge.ts) whose TCP port the plugin connects to.
//   Devices are in its directory as pins-1, pins-2, ...
//
// Loss: `lossPct` of the frames each pins device's radio receives are dropped (requests, and the
// MAC's acknowledgements of its reports and replies), and as many of what the host receives: on the
// host's radio (pinsNet) or on its end of the serial line (pinsBridge). Seeded: hal/mw/faulty.ts.
// Host only.

import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import { medium } from '../../hal/sim/medium.ts';
import { faulty } from '../../hal/mw/faulty.ts';
import type { FaultyLink } from '../../hal/mw/faulty.ts';
import { xoshiro } from '../../hal/prng.ts';
import { realClock } from '../../hal/node/clock.ts';
import type { RealClock } from '../../hal/node/clock.ts';
import { csma } from '../../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../../firmware/mac/csma/config.ts';
import { macPorts, SVC_RR } from '../../firmware/mac/ports.ts';
import { create as sourceCreate } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import { OP_PINS_INFO, OP_PIN_MODE, OP_DIGITAL_WRITE, OP_ANALOG_READ } from '../../firmware/services/pins.ts';
import { hostRr } from '../rr/endpoint.ts';
import type { HostRr } from '../rr/endpoint.ts';
import { startBridge } from '../bridge/bridge.ts';
import type { Bridge } from '../bridge/bridge.ts';
import { startSimGateway } from './sim-gateway.ts';
import { TUNNEL_RADIO } from './tunnel-net.ts';
import { virtualPins } from './virtual-pins.ts';
import type { VirtualPins } from './virtual-pins.ts';

/** The host's node on a pinsNet radio. */
export const HOST_ADDR = 1;

export interface PinsNetOptions {
  seed?: number;
  /** Pins devices (default 1). */
  devices?: number;
  /** Percent of received frames dropped at each device and at the host (default 0). */
  lossPct?: number;
}

export interface PinsNet {
  sched: Scheduler;
  /** The device addresses, and each one's virtual pins and board. */
  ids: number[];
  pins: VirtualPins[];
  devices: SimDevice[];
  /** The faulty links under the devices' radios and the host's. */
  faults: FaultyLink[];
  stop(): Promise<void>;
}

export interface PinsDirect extends PinsNet {
  /** The host's request-reply node on the radio. */
  rr: HostRr;
}

export interface PinsBridged extends PinsNet {
  bridge: Bridge;
  /** "127.0.0.1:port" of the bridge's TCP front. */
  address: string;
  /** Directory names of the devices, in order. */
  names: string[];
}

function pace(sched: Scheduler): () => void {
  const t0 = performance.now();
  const timer = setInterval(() => sched.runUntil(Math.floor((performance.now() - t0) * 1000)), 2);
  return () => clearInterval(timer);
}

export function pinsNet(o: PinsNetOptions = {}): PinsDirect {
  const n = o.devices ?? 1;
  const sched = scheduler();
  const rng = xoshiro(o.seed ?? 1);
  const air = medium(sched, { ...TUNNEL_RADIO, rng });
  const faults: FaultyLink[] = [];
  const lossy = (l: Parameters<typeof faulty>[0]): FaultyLink => {
    const f = faulty(l, { clock: sched, rng, dropPct: o.lossPct ?? 0 });
    faults.push(f);
    return f;
  };
  const hostSt = air.station({ id: HOST_ADDR, x: 0, y: 0, range: 70 });
  const hostMac = csma({ link: lossy(hostSt.link), clock: sched, rng, addr: HOST_ADDR, config: CSMA_NRF24 });
  const rr = hostRr({ mac: macPorts(hostMac).port(SVC_RR), clock: sched, rng });
  const ids: number[] = [];
  const pins: VirtualPins[] = [];
  const devices: SimDevice[] = [];
  for (let i = 0; i < n; i++) {
    const id = HOST_ADDR + 1 + i;
    const a = (2 * Math.PI * i) / n;
    const st = air.station({ id, x: Math.round(20 * Math.cos(a)), y: Math.round(20 * Math.sin(a)), range: 70 });
    const vp = virtualPins(sched);
    devices.push(sourceCreate({ role: 'sensor', id, radio: lossy(st.link), clock: sched, rng, periodUs: 10_000_000, sink: HOST_ADDR, pins: vp }));
    ids.push(id);
    pins.push(vp);
  }
  const unpace = pace(sched);
  return { sched, rr, ids, pins, devices, faults, stop: async () => unpace() };
}

export async function pinsBridge(o: PinsNetOptions = {}): Promise<PinsBridged> {
  const seed = o.seed ?? 1;
  const rng = xoshiro(seed ^ 0x5eed);
  const pins: VirtualPins[] = [];
  const devices: SimDevice[] = [];
  const faults: FaultyLink[] = [];
  let sched: Scheduler | null = null;
  const create = (env: SimEnv): SimDevice => {
    if (env.role !== 'sensor') return sourceCreate(env);
    sched = env.clock as Scheduler;
    const vp = virtualPins(env.clock);
    const f = faulty(env.radio, { clock: env.clock, rng, dropPct: o.lossPct ?? 0 });
    faults.push(f);
    const d = sourceCreate({ ...env, radio: f, pins: vp, periodUs: 10_000_000 });
    pins.push(vp);
    devices.push(d);
    return d;
  };
  const g = await startSimGateway({
    seed, sensors: o.devices ?? 1, create,
    wrap: (l, c) => {
      const f = faulty(l, { clock: c, rng, dropPct: o.lossPct ?? 0 });
      faults.push(f);
      return f;
    },
  });
  const clock: RealClock = realClock();
  const names = g.net.sensorIds.map((_, i) => `pins-${i + 1}`);
  const bridge = await startBridge({
    mac: g.mac, clock, rng: xoshiro(seed + 1),
    names: g.net.sensorIds.map((addr, i) => ({ name: names[i], addr, type: 'pins', ops: [OP_PINS_INFO, OP_PIN_MODE, OP_DIGITAL_WRITE, OP_ANALOG_READ] })),
  });
  return {
    sched: sched ?? g.sched, ids: g.net.sensorIds, pins, devices, faults, bridge, names,
    address: `${bridge.tcp.address}:${bridge.tcp.port}`,
    async stop() {
      await bridge.close();
      clock.close();
      g.stop();
    },
  };
}

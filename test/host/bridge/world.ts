// A small device network for the bridge's tests, on real sockets: a UDP multicast group on loopback is
// the medium (as edge nodes on a LAN use it), the bridge's node and the devices each sit on it under
// the raw MAC with service ports, and devices serve request-reply operations and take part in device
// groups. Device 2 registers itself in the directory ("kitchen", a lamp); device 3 is named by the
// bridge's configuration ("porch"). Every world takes fresh ports, so tests in one process do not meet.
import { udpLink } from '../../../hal/node/udp.ts';
import type { UdpLink } from '../../../hal/node/udp.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { RawMac } from '../../../firmware/mac/raw.ts';
import { macPorts, SVC_GROUP, SVC_RR } from '../../../firmware/mac/ports.ts';
import { groupAddr, groupService } from '../../../firmware/services/group.ts';
import type { GroupService } from '../../../firmware/services/group.ts';
import { announce } from '../../../firmware/services/directory.ts';
import { hostRr } from '../../../host/rr/endpoint.ts';
import type { HostRr } from '../../../host/rr/endpoint.ts';
import { hostDecode } from '../../../host/codec/cbor.ts';
import { startBridge } from '../../../host/bridge/bridge.ts';
import type { Bridge, BridgeOptions } from '../../../host/bridge/bridge.ts';

export interface Device {
  addr: number;
  mac: RawMac;
  rr: HostRr;
  group: GroupService;
  /** Group messages this device received: [group, origin, decoded data]. */
  heard: [number, number, unknown][];
}

export interface World {
  bridges: Bridge[];
  devices: Device[];
  /** Times device 2's counter operation ran. */
  ran: { n: number };
  mediumPort: number;
  close(): Promise<void>;
}

let nextPort = 40_000 + (process.pid % 2000) * 8;
/** A fresh port for a test's own use. */
export function freshPort(): number {
  return nextPort++;
}

export interface WorldOptions {
  /** Options for each bridge (one bridge per entry; default one bridge with no options). */
  bridges?: Partial<BridgeOptions>[];
  /** Device addresses (default 2 and 3). */
  devices?: number[];
  /** Device groups every device joins. */
  join?: number[];
  /** Bridges on separate media (one device network each, joined only by IP). */
  separate?: boolean;
  /** With `separate`: the network (bridge index) of each device, in the order of `devices` (default 0). */
  networks?: number[];
}

export async function world(o: WorldOptions = {}): Promise<World> {
  const clock = realClock();
  const rng = xoshiro(3);
  const links: UdpLink[] = [];
  const mediumPort = freshPort();
  const medium = (k: number): UdpLink => {
    const l = udpLink({ group: '239.255.42.98', port: o.separate ? mediumPort + 100 * k : mediumPort, bindAddress: '127.0.0.1' });
    links.push(l);
    return l;
  };
  const devices: Device[] = [];
  const ran = { n: 0 };
  const addrs = o.devices ?? [2, 3];
  for (let i = 0; i < addrs.length; i++) {
    const addr = addrs[i];
    const mac = rawMac(medium(o.networks?.[i] ?? 0), addr, 64);
    const ports = macPorts(mac);
    const r = hostRr({ mac: ports.port(SVC_RR), clock, rng });
    const group = groupService(ports.port(SVC_GROUP), rng);
    const d: Device = { addr, mac, rr: r, group, heard: [] };
    group.onMessage((g, origin, _s, data, len) => {
      let v: unknown;
      try {
        v = hostDecode(data.slice(0, len));
      } catch {
        v = data.slice(0, len);
      }
      d.heard.push([g, origin, v]);
    });
    for (const g of o.join ?? []) mac.join(groupAddr(g));
    if (addr === 2) r.register(1, () => ++ran.n);
    r.register(2, (a) => ({ from: addr, echo: a }));
    devices.push(d);
  }
  const bridges: Bridge[] = [];
  const specs = o.bridges ?? [{}];
  for (let k = 0; k < specs.length; k++) {
    const mac = rawMac(medium(k), 1 + k * 0x100, 64);
    bridges.push(await startBridge({
      mac, clock, rng, rr: { timeoutUs: 100_000, retries: 3 }, names: [{ name: 'porch', addr: 3 }], ...specs[k],
    }));
  }
  await Promise.all(links.map((l) => l.bound()));
  const ann = devices.find((d) => d.addr === 2)
    ? announce(devices.find((d) => d.addr === 2)!.rr.endpoint, clock, 1, { name: 'kitchen', type: 'lamp', ops: [1, 2], leaseS: 30 })
    : null;
  // The announcement goes out as soon as the medium is up; wait for the bridge to hold it.
  const t0 = Date.now();
  while (ann && bridges[0].directory.resolve('kitchen') === null && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
  return {
    bridges, devices, ran, mediumPort,
    async close() {
      ann?.stop();
      await Promise.all(bridges.map((b) => b.close()));
      clock.close();
      await Promise.all(links.map((l) => l.close()));
    },
  };
}

// The bridge: a node of the device network (request-reply, groups, the directory's server side) with
// its IP fronts (UDP datagrams, a TCP port for frames and JSON lines, IP multicast groups). Give it the
// MAC of its node, whatever carries it: a UDP multicast medium shared with edge nodes, the simulator
// in the same process, or (later) a gateway board on a serial port.
//
// The bridge's node serves two operations to devices (firmware/services/directory.ts):
// OP_DIR_REGISTER, a device's name, type and operations with a lease, and OP_EVENT, an event for the
// "events" subscribers. Everything listens on 127.0.0.1 unless `host` says otherwise, and then only
// with a token (design §5: nothing lets a remote host drive devices without an explicit option and a
// credential).
// With `web`, the bridge also has a WebSocket front (ws.ts) on an HTTP server of its own, whose plain
// requests go to `web.http` (npm start serves the browser page there, host/web/): the bridge node's MAC
// is then tapped (ws.ts macTap) so the page can watch the traffic, with per-device counts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import type { GroupMember, Mac } from '../../firmware/mac/mac.ts';
import { macPorts, SVC_GROUP, SVC_RR } from '../../firmware/mac/ports.ts';
import type { MacPorts } from '../../firmware/mac/ports.ts';
import type { RrConfig } from '../../firmware/rr/rr.ts';
import { groupAddr, groupService, GROUP_HDR } from '../../firmware/services/group.ts';
import { OP_DIR_REGISTER, OP_EVENT } from '../../firmware/services/directory.ts';
import { hostRr } from '../rr/endpoint.ts';
import type { HostRr } from '../rr/endpoint.ts';
import { bridgeCore } from './core.ts';
import type { BridgeCore } from './core.ts';
import { directory } from './directory.ts';
import type { Directory } from './directory.ts';
import { bridgeGroups, GROUP_IP_PORT } from './groups.ts';
import type { BridgeGroups } from './groups.ts';
import { bridgeUdp } from './udp.ts';
import type { BridgeUdp } from './udp.ts';
import { bridgeTcp } from './tcp.ts';
import type { BridgeTcp } from './tcp.ts';
import { bridgeWs, macTap } from './ws.ts';
import type { BridgeWs, MacTap } from './ws.ts';

export interface BridgeOptions {
  /** The bridge node's MAC on the device network (service ports are opened on it). */
  mac: Mac & Partial<GroupMember>;
  clock: Clock;
  rng: Rng;
  rr?: Partial<RrConfig>;
  /** Address the IP fronts listen on (default 127.0.0.1; anything else needs `token`). */
  host?: string;
  token?: string;
  /** UDP and TCP ports (default 0: any free one; see the bridge's `udp` and `tcp` endpoints). */
  udpPort?: number;
  tcpPort?: number;
  /** Device groups to map to IP multicast (default none), and where. */
  groups?: number[];
  groupPort?: number;
  groupIp?: (g: number) => string;
  /** Interface for IP multicast (default 127.0.0.1; give the LAN address to reach other hosts). */
  groupIface?: string;
  /** Names given by configuration. */
  names?: { name: string; addr: number; type?: string; ops?: number[] }[];
  clients?: number;
  perClient?: number;
  inFlight?: number;
  cacheMs?: number;
  connections?: number;
  log?: (line: string) => void;
  /**
   * A WebSocket front on an HTTP server (default none): its port (0: any free one), the handler of plain
   * HTTP requests (default: 426), and page origins allowed besides the server's own (ws.ts).
   */
  web?: { port?: number; http?: (req: IncomingMessage, res: ServerResponse) => void; origins?: string[] };
}

export interface Bridge {
  readonly core: BridgeCore;
  readonly directory: Directory;
  readonly rr: HostRr;
  readonly ports: MacPorts;
  readonly groups: BridgeGroups | null;
  readonly udp: { address: string; port: number };
  readonly tcp: { address: string; port: number };
  readonly tcpFront: BridgeTcp;
  /** The WebSocket front's HTTP server, when `web` was given. */
  readonly web: { address: string; port: number } | null;
  readonly wsFront: BridgeWs | null;
  /** The bridge node's traffic counts (with `web`). */
  readonly traffic: MacTap | null;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startBridge(o: BridgeOptions): Promise<Bridge> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !o.token) {
    throw new Error(`bridge: listening on ${host} lets other hosts drive devices; give a token (--token) that clients must send, or listen on 127.0.0.1`);
  }
  const log = o.log ?? (() => {});
  const dir = directory();
  for (const n of o.names ?? []) dir.add(n.name, n.addr, n.type, n.ops);
  const traffic = o.web ? macTap(o.mac) : null;
  const mac = traffic ? traffic.mac : o.mac;
  const ports = macPorts(mac);
  const node = hostRr({ mac: ports.port(SVC_RR), clock: o.clock, rng: o.rng, config: o.rr });
  let groups: BridgeGroups | null = null;
  const core = bridgeCore({
    rr: node, directory: dir, token: o.token, clients: o.clients, perClient: o.perClient, inFlight: o.inFlight, cacheMs: o.cacheMs, log,
    groups: { multicast: (g, d) => groups !== null && groups.multicast(g, d), list: () => groups?.list() ?? [] },
  });
  node.register(OP_DIR_REGISTER, (args, src) => dir.register(src, args));
  node.register(OP_EVENT, (args, src) => {
    core.publishEvent(src, args);
    return null;
  });
  if (o.groups && o.groups.length > 0) {
    const gport = ports.port(SVC_GROUP);
    const svc = groupService(gport, o.rng);
    const join = mac.join?.bind(mac);
    groups = bridgeGroups({
      svc, addr: o.mac.addr, groups: o.groups, port: o.groupPort ?? GROUP_IP_PORT, ipOf: o.groupIp, iface: o.groupIface,
      joinMac: (g) => (join ? join(groupAddr(g)) : false), mtu: gport.caps.mtu - GROUP_HDR,
      onMessage: (g, from, data) => core.publishGroup(g, from, data), log,
    });
    await groups.ready();
  }
  const udpFront: BridgeUdp = bridgeUdp(core, { port: o.udpPort, host });
  const tcpFront = bridgeTcp(core, { port: o.tcpPort, host, connections: o.connections });
  const wsFront = o.web
    ? bridgeWs(core, { port: o.web.port, host, http: o.web.http, origins: o.web.origins, token: o.token, connections: o.connections, traffic: traffic ?? undefined })
    : null;
  let bound;
  try {
    bound = await Promise.all([udpFront.bound(), tcpFront.bound(), wsFront ? wsFront.bound() : null]);
  } catch (e) {
    // A port in use: let the fronts that did start go, and say what failed.
    core.close();
    await Promise.allSettled([udpFront.close(), tcpFront.close(), groups?.close(), wsFront?.close()]);
    throw e;
  }
  const [udp, tcp, web] = bound;
  return {
    core, directory: dir, rr: node, ports, groups, udp, tcp, tcpFront, web, wsFront, traffic,
    async close(): Promise<void> {
      core.close();
      await Promise.all([udpFront.close(), tcpFront.close(), groups?.close(), wsFront?.close()]);
    },
  };
}

// Device groups on IP multicast: each device group the bridge maps (group g, MAC address 0xFF00 + g,
// firmware/services/group.ts) is an IPv4 multicast group, by default 239.255.80.g on port 47800 in
// the organisation-local scope (RFC 2365), with TTL 1 so nothing leaves the link unless configured.
// What a device multicasts to its group goes out on the IP group; a datagram sent to the IP group
// reaches the devices of the group. Several bridges joined to the same IP groups make one device
// network.
//
// On the IP group, bridges speak one CBOR map per datagram:
//   {"b": bridge id (u32, random per bridge), "g": group, "o": origin node, "s": the origin's number,
//    "d": the message (the device's CBOR bytes decoded; a byte string when they were not CBOR),
//    "x"?: true when "d" holds bytes that were not CBOR}
// Anything else that arrives on an IP group is an IP client's message: a CBOR map {"d": value} gives
// the value, any other datagram is taken as raw bytes. It goes into the device network as a message of
// the bridge's own (origin: the bridge's node) and to its subscribers; it is not sent on to IP, where
// every member already has it.
//
// No loops, no duplicates: a bridge drops its own datagrams (looped back by the kernel; "b" is its
// id), and every bridge remembers the (origin, seq) pairs it has seen (the group service's ring on the
// device side): a message it already carried in either direction is not carried again. Devices drop
// copies by the same pair, so two bridges on one device network deliver a message to a device once.
// Two bridges on one device network: each hears the devices' messages, so both would put them on IP,
// and both would carry IP messages into the network. A bridge that gets back from IP, from another
// bridge, a message it heard on its own device network learns that this bridge shares its network; of
// bridges sharing a network the one with the lowest id forwards, and the others defer to it for
// PEER_MS after they last saw it do so: they hold each device message for `holdMs` and send it to IP
// only if the forwarder's copy has not come by then (so a forwarder that went away loses nothing), and
// they leave carrying IP messages into the network to it. Until they find each other (the first
// message or two), IP may see a message twice; devices never do.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { hostDecode, hostEncode } from '../codec/cbor.ts';
import type { GroupService } from '../../firmware/services/group.ts';
import { ENVELOPE_MAX, GROUP_MAX } from './envelope.ts';
import type { GroupsPort } from './core.ts';

export const GROUP_IP_BASE = '239.255.80.';
export const GROUP_IP_PORT = 47800;
/** How long a bridge defers to a forwarder on its network after it last saw it forward, ms. */
export const PEER_MS = 30_000;

export interface BridgeGroupsOptions {
  /** The bridge node's group service on the device network. */
  svc: GroupService;
  /** The bridge node's address (the origin of its own messages). */
  addr: number;
  /** Joins the device group's MAC address on the bridge node's MAC; false when it cannot. */
  joinMac(g: number): boolean;
  /** Device groups to map (each needs a MAC group slot: the raw MAC has 8, CSMA/CA 4). */
  groups: number[];
  /** IP group of device group g (default GROUP_IP_BASE + g). */
  ipOf?: (g: number) => string;
  port?: number;
  /** Interface address to join and send on (default 127.0.0.1). */
  iface?: string;
  ttl?: number;
  /** While deferring to another bridge on the same network: how long a device message waits for its copy, ms (default 100). */
  holdMs?: number;
  /** Room for a message's bytes in a device frame (the group port's mtu minus GROUP_HDR). */
  mtu: number;
  /** Group messages for subscribers, from devices and from IP. */
  onMessage(g: number, from: number, data: unknown): void;
  log(line: string): void;
}

export interface BridgeGroupsStats {
  /** Device -> IP, IP -> device (from other bridges and from IP clients). */
  up: number;
  down: number;
  fromClients: number;
  /** Copies dropped: our own datagrams and (origin, seq) pairs already carried. */
  duplicates: number;
  malformed: number;
  /** Messages that did not fit a device frame or found the MAC queue full. */
  dropped: number;
  /** Device messages left to another bridge on the same network (its copy came within holdMs). */
  deferred: number;
  /** Held device messages sent after all, because the other bridge's copy did not come. */
  heldSent: number;
}

export interface BridgeGroups extends GroupsPort {
  readonly stats: BridgeGroupsStats;
  readonly id: number;
  ready(): Promise<void>;
  close(): Promise<void>;
}

function toBytes(data: unknown, raw: boolean): Uint8Array {
  return raw && data instanceof Uint8Array ? data : hostEncode(data);
}

export function bridgeGroups(o: BridgeGroupsOptions): BridgeGroups {
  const port = o.port ?? GROUP_IP_PORT;
  const iface = o.iface ?? '127.0.0.1';
  const ipOf = o.ipOf ?? ((g: number) => GROUP_IP_BASE + g);
  const id = randomInt(0, 0xffffffff);
  const stats: BridgeGroupsStats = { up: 0, down: 0, fromClients: 0, duplicates: 0, malformed: 0, dropped: 0, deferred: 0, heldSent: 0 };
  const holdMs = o.holdMs ?? 100;
  /** (origin, seq) keys heard on our device network lately, bounded. */
  const fromDevice = new Set<number>();
  /** Bridges seen forwarding messages of our device network: id -> when last seen (ms). */
  const peers = new Map<number, number>();
  /** Device messages held while deferring: key -> timer. Bounded by HELD_MAX. */
  const held = new Map<number, ReturnType<typeof setTimeout>>();
  const HELD_MAX = 256;
  const keyOf = (origin: number, s: number): number => origin * 0x10000 + s;
  function deferring(): boolean {
    const now = performance.now();
    let d = false;
    for (const [pid, t] of peers) {
      if (now - t > PEER_MS) peers.delete(pid);
      else if (pid < id) d = true;
    }
    return d;
  }
  let seq = randomInt(0, 0x10000);
  const socks = new Map<number, Socket>();
  const tx = createSocket('udp4');
  let closed = false;

  for (const g of o.groups) {
    if (!(Number.isInteger(g) && g >= 0 && g <= GROUP_MAX)) throw new Error(`bridge groups: ${g} is not a group 0..${GROUP_MAX}`);
    if (!o.joinMac(g)) throw new Error(`bridge groups: the bridge's MAC cannot join group ${g} (too many groups for it)`);
  }

  function toIp(g: number, origin: number, s: number, data: unknown, raw: boolean): void {
    if (closed || !socks.has(g)) return;
    const m: Record<string, unknown> = { b: id, g, o: origin, s, d: data };
    if (raw) m.x = true;
    const bytes = hostEncode(m);
    if (bytes.length > ENVELOPE_MAX) {
      stats.dropped++;
      return;
    }
    tx.send(bytes, port, ipOf(g));
  }

  function decodeDevice(data: Uint8Array, len: number): { v: unknown; raw: boolean } {
    const bytes = data.slice(0, len);
    try {
      return { v: hostDecode(bytes), raw: false };
    } catch {
      return { v: bytes, raw: true };
    }
  }

  // Device -> subscribers and IP. The service has already dropped copies by (origin, seq).
  o.svc.onMessage((g, origin, s, data, len) => {
    const { v, raw } = decodeDevice(data, len);
    const key = keyOf(origin, s);
    fromDevice.add(key);
    if (fromDevice.size > 1024) fromDevice.delete(fromDevice.values().next().value!);
    stats.up++;
    o.onMessage(g, origin, v);
    if (deferring() && held.size < HELD_MAX && !held.has(key)) {
      held.set(key, setTimeout(() => {
        held.delete(key);
        stats.heldSent++;
        toIp(g, origin, s, v, raw);
      }, holdMs));
      return;
    }
    toIp(g, origin, s, v, raw);
  });

  function intoDevices(g: number, origin: number, s: number, bytes: Uint8Array): boolean {
    if (bytes.length > o.mtu || o.svc.carry(g, origin, s, bytes, bytes.length) !== 0) {
      stats.dropped++;
      return false;
    }
    return true;
  }

  function fromIp(g: number, msg: Buffer): void {
    const b = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    let v: unknown = undefined;
    try {
      v = hostDecode(b);
    } catch {
      // not CBOR: an IP client's raw bytes
    }
    const m = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? v as Record<string, unknown> : null;
    if (m && m.b !== undefined) {
      if (m.b === id) return; // our own, looped back
      const ok = Number.isInteger(m.o) && (m.o as number) >= 0 && (m.o as number) <= 0xffff && Number.isInteger(m.s) && (m.s as number) >= 0
        && (m.s as number) <= 0xffff && m.g === g && 'd' in m;
      if (!ok) {
        stats.malformed++;
        o.log(`bridge groups: a bridge datagram on group ${g} without a valid g, o, s and d`);
        return;
      }
      const key = keyOf(m.o as number, m.s as number);
      if (fromDevice.has(key) && typeof m.b === 'number') {
        // Another bridge forwarded a message of our own device network: it shares the network.
        peers.set(m.b, performance.now());
        const t = held.get(key);
        if (t !== undefined) {
          clearTimeout(t);
          held.delete(key);
          stats.deferred++;
        }
      }
      if (!o.svc.mark(m.o as number, m.s as number)) {
        stats.duplicates++;
        return;
      }
      stats.down++;
      o.onMessage(g, m.o as number, m.d);
      if (!deferring()) intoDevices(g, m.o as number, m.s as number, toBytes(m.d, m.x === true));
      return;
    }
    // An IP client's message.
    const data = m && Object.keys(m).length === 1 && 'd' in m ? m.d : b.slice();
    const bytes = toBytes(data, !(m && 'd' in m));
    stats.fromClients++;
    const s = seq;
    seq = (seq + 1) & 0xffff;
    o.onMessage(g, o.addr, data);
    if (!deferring()) intoDevices(g, o.addr, s, bytes);
  }

  async function open(g: number): Promise<void> {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      // Bound to the group's address: this socket hears that group only, though all share one port.
      s.bind(port, ipOf(g), () => {
        s.off('error', rej);
        res();
      });
    });
    s.addMembership(ipOf(g), iface);
    s.on('error', (e) => o.log(`bridge groups: group ${g}: ${e.message}`));
    s.on('message', (msg: Buffer) => {
      if (msg.length === 0 || msg.length > ENVELOPE_MAX) {
        stats.malformed++;
        return;
      }
      fromIp(g, msg);
    });
    socks.set(g, s);
  }

  const ready = (async () => {
    await new Promise<void>((res, rej) => {
      tx.once('error', rej);
      tx.bind(0, iface, () => {
        tx.off('error', rej);
        res();
      });
    });
    tx.setMulticastInterface(iface);
    tx.setMulticastLoopback(true);
    tx.setMulticastTTL(o.ttl ?? 1);
    tx.on('error', (e) => o.log(`bridge groups: ${e.message}`));
    for (const g of o.groups) await open(g);
  })();
  ready.catch(() => {});

  return {
    stats,
    id,
    ready: () => ready,
    multicast(g: number, data: unknown): boolean {
      if (!socks.has(g)) return false;
      const bytes = hostEncode(data);
      const s = seq;
      seq = (seq + 1) & 0xffff;
      if (!intoDevices(g, o.addr, s, bytes)) return false;
      o.onMessage(g, o.addr, data);
      toIp(g, o.addr, s, data, false);
      return true;
    },
    list: () => [...socks.keys()].sort((a, b) => a - b).map((g) => ({ group: g, ip: ipOf(g), port })),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const t of held.values()) clearTimeout(t);
      held.clear();
      await ready.catch(() => {});
      const shut = (s: Socket): Promise<void> => new Promise((res) => s.close(() => res()));
      await Promise.all([...socks.values()].map(shut).concat([shut(tx)]));
    },
  };
}

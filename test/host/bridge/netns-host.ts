// One host of the network-namespace test (netns.test.ts), run inside a namespace with
// `ip netns exec`. Two modes:
//   --bridge <iface address> --addr <device>: a device network of its own (world.ts: a UDP multicast
//     medium on this namespace's loopback) with one device joined to device group 1, and a bridge
//     mapping group 1 to its IP group on the interface with that address;
//   --client <iface address>: a plain IP program joined to group 1's IP group on that interface.
// Both print one JSON object per line: {"ready": true} once set up, then {"heard": [group, origin,
// data]} for each message the device hears (bridge mode) or {"ip": datagram} for each datagram heard
// (client mode). A line "send <json>" on stdin multicasts the value: from the device to group 1, or as
// {"d": value} to the IP group. Not a test file itself.
import { createInterface } from 'node:readline';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { hostDecode, hostEncode } from '../../../host/codec/cbor.ts';
import { GROUP_IP_BASE, GROUP_IP_PORT } from '../../../host/bridge/groups.ts';
import { world } from './world.ts';

const say = (v: unknown): void => { process.stdout.write(JSON.stringify(v) + '\n'); };
const v = parseArgs({ options: { bridge: { type: 'string' }, client: { type: 'string' }, addr: { type: 'string', default: '2' } } }).values;
const lines = createInterface({ input: process.stdin });

if (v.bridge) {
  const w = await world({ bridges: [{ groups: [1], groupIface: v.bridge }], devices: [Number(v.addr)], join: [1] });
  const dev = w.devices[0];
  let told = 0;
  const poll = setInterval(() => { while (told < dev.heard.length) say({ heard: dev.heard[told++] }); }, 5);
  lines.on('line', (l) => {
    if (!l.startsWith('send ')) return;
    const p = hostEncode(JSON.parse(l.slice(5)));
    dev.group.multicast(1, p, p.length);
  });
  lines.on('close', () => { clearInterval(poll); void w.close().then(() => process.exit(0)); });
  say({ ready: true, bridge: w.bridges[0].groups!.id });
} else if (v.client) {
  const iface = v.client;
  const sock = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((r) => sock.bind(GROUP_IP_PORT, GROUP_IP_BASE + 1, () => r()));
  sock.addMembership(GROUP_IP_BASE + 1, iface);
  sock.setMulticastInterface(iface);
  sock.setMulticastLoopback(false);
  sock.on('message', (m) => {
    let d: unknown;
    try { d = hostDecode(new Uint8Array(m)); } catch { d = { raw: [...m] }; }
    say({ ip: d });
  });
  lines.on('line', (l) => {
    if (l.startsWith('send ')) sock.send(hostEncode({ d: JSON.parse(l.slice(5)) }), GROUP_IP_PORT, GROUP_IP_BASE + 1);
  });
  lines.on('close', () => sock.close(() => process.exit(0)));
  say({ ready: true });
} else {
  process.stderr.write('netns-host: give --bridge <iface address> or --client <iface address>\n');
  process.exit(2);
}

// The Node host board: the edge node of boards/deno-edge.ts for a Node host (a PC, a server, a
// Raspberry Pi with Node), on the UDP medium of hal/node/udp.ts: unicast peers, or an IP multicast
// group as a shared medium (--group, every node binding the same --port). The same stack
// (firmware/edge/node.ts: raw MAC, request-reply server and client, a Psync conversation participant),
// the same command line (firmware/edge/options.ts), the real clock and an Rng seeded from Web Crypto.
// Built as an ES module (dist/node-host.js, runtime 'node', Node's built-ins left as imports) that
// starts itself:   node dist/node-host.js --addr 2 --port 47002 --peer 127.0.0.1:47001
// or from source:   node --import tsx boards/node-host.ts --addr 2 ...
// create(args, io) also runs it in-process (tests), with the output and exit injected.

import { readFileSync } from 'node:fs';
import type { BoardInfo } from './board.ts';
import type { Link } from '../hal/link.ts';
import { udpLink } from '../hal/node/udp.ts';
import type { UdpLink } from '../hal/node/udp.ts';
import { realClock } from '../hal/node/clock.ts';
import type { RealClock } from '../hal/node/clock.ts';
import { webCryptoRng } from '../hal/webcrypto-rng.ts';
import { faulty } from '../hal/mw/faulty.ts';
import { xoshiro } from '../hal/prng.ts';
import { edgeNode, runCalls } from '../firmware/edge/node.ts';
import type { EdgeNode } from '../firmware/edge/node.ts';
import { edgeArgsOrExit } from '../host/edge/options.ts';
import type { EdgeIo } from '../host/edge/options.ts';

export const board: BoardInfo = {
  name: 'node-host',
  title: 'Node host node on UDP (unicast peers or an IP multicast group): raw MAC, request-reply, a Psync conversation participant',
  jsvars: 0,
  // Unminified ES module, as deno-edge.
  budgetBytes: 131072,
  mtu: 1200,
  radio: 'UDP datagrams to unicast peers or an IPv4 multicast group (node:dgram); raw MAC; services: request-reply, Psync',
  roles: ['node'],
  autostart: true,
  runtime: 'node',
};

export interface NodeHost {
  node: EdgeNode;
  link: UdpLink;
  clock: RealClock;
  /** Resolves with the local port once bound (after the ready line); rejects when binding failed. */
  ready: Promise<number>;
  close(): Promise<void>;
}

const processIo: EdgeIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
  exit: (code) => process.exit(code),
};

/** Start the node from a command line (default: process.argv); null after --help or a usage error. */
export function create(args?: string[], io?: EdgeIo): NodeHost | null {
  const out = io ?? processIo;
  const o = edgeArgsOrExit('node-host', args ?? process.argv.slice(2), 'node', out, (p) => readFileSync(p, 'utf8'));
  if (!o) return null;
  const link = udpLink(o.group
    ? { port: o.port, group: o.group, bindAddress: o.bind === '127.0.0.1' ? undefined : o.bind }
    : { port: o.port, bindAddress: o.bind, peers: o.peers });
  const clock = realClock();
  const rng = webCryptoRng(o.seed);
  const medium: Link = o.dropPct > 0 ? faulty(link, { clock, rng: xoshiro(rng.u32()), dropPct: o.dropPct }) : link;
  const node = edgeNode({
    link: medium, clock, rng, addr: o.addr, runtime: 'node ' + process.versions.node,
    conversation: o.conversation ? { participants: o.conversation, messages: o.messages, everyUs: o.everyMs * 1000 } : null,
    trace: o.trace, print: out.out,
  });
  const ready = link.bound().then((local) => {
    out.out(JSON.stringify({
      ev: 'ready', node: String(o.addr), runtime: 'node ' + process.versions.node, bind: local.address, port: local.port,
      peers: o.peers.map((p) => `${p.address}:${p.port}`), group: o.group, conversation: o.conversation,
    }));
    runCalls(node, o.calls);
    return local.port;
  }, (e: Error) => {
    // A --bind that is not this machine's is the user's mistake (exit 2, naming the flag); a port
    // taken is the machine's state (exit 1).
    const code = (e as NodeJS.ErrnoException).code;
    out.err(code === 'EADDRNOTAVAIL'
      ? `node-host: --bind ${o.bind}: no interface of this machine has that address (${e.message}); give one of its addresses, or leave --bind out (127.0.0.1)`
      : `node-host: cannot listen on ${o.bind}:${o.port} (${e.message})${code === 'EADDRINUSE' ? '; the port is in use: give another --port, or 0 for any' : ''}`);
    node.stop();
    clock.close();
    out.exit(code === 'EADDRNOTAVAIL' ? 2 : 1);
    throw e;
  });
  return {
    node, link, clock, ready,
    close(): Promise<void> {
      node.stop();
      clock.close();
      return link.close();
    },
  };
}

// Run from source (node --import tsx boards/node-host.ts ...): start, as the bundle's entry does.
if (/[\\/]boards[\\/]node-host\.ts$/.test(process.argv[1] ?? '')) create()?.ready.catch(() => {});

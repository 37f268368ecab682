// The Deno edge board: a picolink node that runs under Deno on a gateway, a router or a single-board
// computer, on the UDP medium (hal/deno/udp.ts: each frame one datagram to every unicast peer). It
// carries the raw MAC, request-reply server and client and a Psync conversation participant
// (firmware/edge/node.ts: echo, at-most-once counter, the conversation's digest, info), with the real
// clock (hal/node/clock.ts, which runs on Deno too) and an Rng seeded from crypto.getRandomValues.
// Built as an ES module (dist/deno-edge.js, runtime 'deno': no Espruino language gate; the byte budget
// still holds) that starts itself:
//   deno run --unstable-net --allow-net --allow-read dist/deno-edge.js --addr 7 --port 47001 --peer 127.0.0.1:47002
// From source: deno run --unstable-net --allow-net --allow-read boards/deno-edge.ts ... (the same, unbundled).
// The command line (firmware/edge/options.ts) is node-host's; --group is refused here (Deno has no
// multicast datagrams). --allow-read is only needed for --config.
/// <reference path="../hal/deno/deno.d.ts" />

import type { BoardInfo } from './board.ts';
import type { Link } from '../hal/link.ts';
import { denoUdpLink } from '../hal/deno/udp.ts';
import type { DenoUdpLink } from '../hal/deno/udp.ts';
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
  name: 'deno-edge',
  title: 'Deno edge node on UDP: raw MAC, request-reply (server and client), a Psync conversation participant',
  jsvars: 0,
  // Unminified ES module (readable stack traces on the device); about 75 kB now.
  budgetBytes: 131072,
  // hal/deno/udp.ts: 1200-byte datagrams, under IPv6's minimum MTU, never fragmented.
  mtu: 1200,
  radio: 'UDP datagrams to unicast peers (Deno.listenDatagram, --unstable-net); raw MAC; services: request-reply, Psync',
  roles: ['node'],
  autostart: true,
  runtime: 'deno',
};

export interface DenoEdge {
  node: EdgeNode;
  link: DenoUdpLink;
  clock: RealClock;
  /** The local UDP port (the one asked for, or the one the system gave for --port 0). */
  port: number;
  close(): void;
}

const denoIo: EdgeIo = {
  out: (line) => console.log(line),
  err: (text) => console.error(text),
  exit: (code) => Deno.exit(code),
};

/** Start the node from a command line (default: Deno.args); null after --help or a usage error. */
export function create(args?: string[], io?: EdgeIo): DenoEdge | null {
  const out = io ?? denoIo;
  const o = edgeArgsOrExit('deno-edge', args ?? Deno.args, 'deno', out, (p) => Deno.readTextFileSync(p));
  if (!o) return null;
  let link: DenoUdpLink;
  try {
    link = denoUdpLink({ port: o.port, hostname: o.bind, peers: o.peers });
  } catch (e) {
    // Deno's errors by name: AddrNotAvailable (--bind not this machine's: the user's mistake, exit 2),
    // AddrInUse, PermissionDenied/NotCapable (--allow-net missing); no Deno.listenDatagram without
    // --unstable-net (a TypeError).
    const err = e as Error;
    const why = err.name === 'AddrNotAvailable' ? `; --bind ${o.bind}: no interface of this machine has that address: give one of its addresses, or leave --bind out (127.0.0.1)`
      : err.name === 'AddrInUse' ? '; the port is in use: give another --port, or 0 for any'
      : /PermissionDenied|NotCapable/.test(err.name) ? '; run deno with --allow-net'
      : err instanceof TypeError ? '; run deno with --unstable-net (UDP is unstable in Deno)'
      : '; is the port in use, or --unstable-net / --allow-net missing?';
    out.err(`deno-edge: cannot listen on ${o.bind}:${o.port} (${err.message})${why}`);
    out.exit(err.name === 'AddrNotAvailable' ? 2 : 1);
    return null;
  }
  const clock = realClock();
  const rng = webCryptoRng(o.seed);
  // Loss for trying the node out: its own generator, so the node's draws do not depend on it.
  const medium: Link = o.dropPct > 0 ? faulty(link, { clock, rng: xoshiro(rng.u32()), dropPct: o.dropPct }) : link;
  const node = edgeNode({
    link: medium, clock, rng, addr: o.addr, runtime: 'deno ' + Deno.version.deno,
    conversation: o.conversation ? { participants: o.conversation, messages: o.messages, everyUs: o.everyMs * 1000 } : null,
    trace: o.trace, print: out.out,
  });
  out.out(JSON.stringify({
    ev: 'ready', node: String(o.addr), runtime: 'deno ' + Deno.version.deno, bind: link.local.address, port: link.local.port,
    peers: o.peers.map((p) => `${p.address}:${p.port}`), conversation: o.conversation,
  }));
  runCalls(node, o.calls);
  return {
    node, link, clock, port: link.local.port,
    close(): void {
      node.stop();
      clock.close();
      link.close();
    },
  };
}

// Run from source (deno run boards/deno-edge.ts): start, as the bundle's entry does.
if ((import.meta as { main?: boolean }).main && import.meta.url.endsWith('/boards/deno-edge.ts')) create();

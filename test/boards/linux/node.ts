// A Node node of the device network for test/boards/linux.test.ts: UDP to a list of peers
// (hal/node/udp.ts), with loss injected on what it receives (hal/mw/faulty.ts), the raw MAC, service
// ports, the host's request-reply endpoint serving OP_ECHO and OP_COUNT (a counter per calling
// station, so each caller's answers must run 1, 2, 3...), and a Psync conversation participant built
// as boards/sim.ts's `converse` builds one (the same tables, library and checksum of the committed
// sequence), which also logs the committed message ids so the test can check their order against the
// image's context relation.
import { udpLink } from '../../../hal/node/udp.ts';
import type { UdpEndpoint, UdpLink } from '../../../hal/node/udp.ts';
import type { Clock } from '../../../hal/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { macPorts, SVC_PSYNC, SVC_RR } from '../../../firmware/mac/ports.ts';
import { hostRr } from '../../../host/rr/endpoint.ts';
import type { HostRr } from '../../../host/rr/endpoint.ts';
import { midSender, midSeq, psync } from '../../../firmware/psync/psync.ts';
import type { Psync } from '../../../firmware/psync/psync.ts';
import { psyncLib } from '../../../firmware/psync/library.ts';
import { CONV_LIB, CONV_PSYNC, DIGESTS } from '../../../boards/sim.ts';
import { OP_COUNT, OP_ECHO } from '../../../boards/linux.ts';

export interface NodeNode {
  addr: number;
  udp: UdpLink;
  rpc: HostRr;
  /** Executions of OP_COUNT per calling station. */
  counts: Map<number, number>;
  conv: NodeParticipant | null;
  close(): Promise<void>;
}

export interface NodeParticipant {
  ps: Psync;
  conv: () => number;
  /** Committed message ids, in commit order. */
  committed: number[];
  digestAt(n: number): number;
  proposed: number;
}

/** A UDP link bound on loopback, its port known, peers set later. */
export async function nodeUdp(): Promise<{ udp: UdpLink; port: number }> {
  const udp = udpLink({ peers: [], mtu: 512 }); // the linux board's mtu
  return { udp, port: (await udp.bound()).port };
}

export function nodeNode(o: {
  addr: number; udp: UdpLink; peers: UdpEndpoint[]; clock: Clock; seed: number; dropPct: number;
  conversation?: number[]; proposeUs?: number;
}): NodeNode {
  const rng = xoshiro(o.seed);
  o.udp.setPeers(o.peers);
  const lossy = faulty(o.udp, { clock: o.clock, rng: xoshiro(o.seed + 1), dropPct: o.dropPct, dupPct: 2 });
  const mac = rawMac(lossy, o.addr, 64);
  const ports = macPorts(mac, 64);
  const rpc = hostRr({ mac: ports.port(SVC_RR), clock: o.clock, rng, config: { timeoutUs: 150_000, retries: 8 } });
  const counts = new Map<number, number>();
  rpc.register(OP_ECHO, (args) => args, true);
  rpc.register(OP_COUNT, (_args, src) => {
    const n = (counts.get(src) ?? 0) + 1;
    counts.set(src, n);
    return n;
  });
  const list = o.conversation;
  const conv = list && list.includes(o.addr) ? participant(o.addr, ports.port(SVC_PSYNC), o.clock, xoshiro(o.seed + 2), list, o.proposeUs ?? 400_000) : null;
  let closed = false;
  return {
    addr: o.addr, udp: o.udp, rpc, counts, conv,
    async close() {
      if (closed) return;
      closed = true;
      conv?.stop();
      await o.udp.close();
    },
  };
}

function participant(addr: number, port: ReturnType<ReturnType<typeof macPorts>['port']>, clock: Clock, rng: ReturnType<typeof xoshiro>, list: number[], every: number): NodeParticipant & { stop(): void } {
  const ps = psync({ mac: port, clock, rng, config: CONV_PSYNC });
  const lib = psyncLib({ ps, addr, clock, rng, config: CONV_LIB });
  const ring = new Uint32Array(DIGESTS);
  const committed: number[] = [];
  let h = 0;
  let handle = -1;
  let stopped = false;
  const mix = (b: number): void => { h = ((h << 5) - h + b) | 0; };
  const self: NodeParticipant & { stop(): void } = {
    ps, committed, proposed: 0,
    conv: () => handle,
    digestAt(k: number): number {
      if (k === 0) return 0;
      if (!(k <= committed.length && k > committed.length - DIGESTS)) return -1;
      return ring[k & (DIGESTS - 1)];
    },
    stop() { stopped = true; },
  };
  // The same checksum as boards/sim.ts converse: sender, sequence number and data of each commit.
  lib.onCommit((_c, mid, data, len) => {
    const s = midSender(mid);
    const q = midSeq(mid);
    mix(s >> 8); mix(s & 0xff); mix(q >> 8); mix(q & 0xff);
    for (let i = 0; i < len; i++) mix(data[i]);
    committed.push(mid);
    ring[committed.length & (DIGESTS - 1)] = h >>> 0;
  });
  if (list[0] === addr) {
    handle = ps.activeOpen(list, list.length);
    if (handle < 0 || lib.attach(handle) < 0) throw new Error(`node ${addr}: cannot open the conversation (${handle})`);
  } else {
    ps.onOpen((c) => { handle = c; lib.attach(c); });
    ps.passiveOpen();
  }
  const tx = new Uint8Array(2);
  const propose = (): void => {
    if (stopped) return;
    const t = 100 + (rng.u32() % 400);
    tx[0] = t >> 8; tx[1] = t & 0xff;
    if (lib.recordsUsed() <= CONV_LIB.records >> 1 && lib.send(tx, 2) >= 0) self.proposed++;
    clock.at(clock.now() + Math.floor(every / 2) + (rng.u32() % (every + 1)), propose);
  };
  clock.at(clock.now() + (list[0] === addr ? 10_000 : Math.floor(every / 2) + (rng.u32() % (every + 1))), propose);
  return self;
}

// Espruino's Linux build as a full node of the device network, with UDP as the medium: the raw MAC
// (firmware/mac/raw.ts, [dst][src][payload]) over Espruino's dgram (hal/espruino/dgram.ts), one frame
// per datagram to every peer, the datagrams of hal/node/udp.ts and hal/deno/udp.ts. So several
// interpreter processes, Node nodes (udpLink({ peers })) and Deno nodes on one host or a LAN form one
// network. Service ports (firmware/mac/ports.ts) share the MAC:
// - request-reply (SVC_RR, firmware/rr/rr.ts) server: OP_ECHO (idempotent: the arguments back),
//   OP_COUNT (at-most-once: adds one to a counter per calling station, returns it), OP_DIGEST (as the
//   simulator board's: [committed, checksum of the first n committed proposals]) and OP_INFO (idempotent:
//   runtime, counters, the caller's results, memory);
// - request-reply client: given `callees`, it calls them in turn every `callUs`, OP_ECHO over RR with
//   a sequence number (the answer must be that number) and OP_COUNT over RRA (each answer must be above
//   the last from that callee, or the call ran twice); results in OP_INFO's `caller`;
// - a Psync conversation participant (SVC_PSYNC), given `conversation` (2..8 station addresses, the
//   initiator first): boards/sim.ts's `converse`, proposals committed in one order everywhere by the
//   library's waves, and a running checksum of the committed sequence that OP_DIGEST reports.
//
// Configuration: the file picolink.json in the interpreter's working directory, read once at start
// (require("fs")), or the object given to create(). Fields:
//   addr          station address, 1..0xFEFF (required)
//   port          local UDP port (required; Espruino cannot report a port it picked)
//   peers         ["127.0.0.1:5001", ...] or [{ "address": "...", "port": 5001 }]: every frame goes to each
//   callees       stations to call (optional); callUs: the interval, µs (default 500000)
//   conversation  participant addresses, the initiator first (optional); proposeUs: mean interval (default 1 s)
//   seed          mixed into the random generator (optional; see below)
// Run: cd a directory holding picolink.json, then `espruino /path/to/dist/linux.js`. A bad file: one
// line naming the field, and nothing starts (the interpreter stays at its prompt: Espruino has no exit
// a bundle could call). Running: one JSON line, {"ev":"ready",...}. The bundle starts itself (autostart).
// Randomness: the Linux build's E.hwRand is C rand(), never seeded, so every interpreter draws the same
// numbers; the board seeds hal/prng.ts's xoshiro from it mixed with the station address, port and seed.
// Budget: the Linux build grows its JsVars as needed (process.memory().total starts at 4096 and
// grows), so memory is not what limits this bundle; the budget (64 KB) holds it near the simulator
// sensor bundle's size (the same MAC-independent firmware plus the UDP driver), to catch runaway growth.

import type { BoardInfo } from './board.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { dgramLink } from '../hal/espruino/dgram.ts';
import type { DgramEndpoint, DgramLink } from '../hal/espruino/dgram.ts';
import { xoshiro } from '../hal/prng.ts';
import type { Clock } from '../hal/clock.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import type { RawMac } from '../firmware/mac/raw.ts';
import { macPorts, SVC_PSYNC, SVC_RR } from '../firmware/mac/ports.ts';
import { PROTO_RR, PROTO_RRA } from '../firmware/rr/frame.ts';
import { RR_E_TIMEOUT, RR_OK, rr } from '../firmware/rr/rr.ts';
import type { Rr } from '../firmware/rr/rr.ts';
import { converse, OP_DIGEST } from './sim.ts';
import type { SimConversation } from './sim.ts';

export const board: BoardInfo = {
  name: 'linux',
  title: 'Espruino\'s Linux build: a full node (raw MAC, request-reply, Psync) on UDP through dgram',
  jsvars: 0,
  budgetBytes: 65536,
  // 512, not hal/node/udp.ts's 1200: Espruino views cannot start 64 KB or more into a buffer, and the
  // request-reply history (64 entries) and Psync's buffers hold an mtu each. Node nodes on this network
  // use udpLink({ mtu: 512 }); a longer datagram is dropped here and counted.
  mtu: 512,
  radio: 'UDP datagrams to a list of peers (hal/espruino/dgram.ts), as hal/node/udp.ts',
  roles: ['node'],
  autostart: true,
};

export const OP_ECHO = 1;
export const OP_COUNT = 2;
export { OP_DIGEST };
export const OP_INFO = 4;

/** Where the configuration is read from, in the working directory. */
export const CONFIG_FILE = 'picolink.json';

export interface LinuxConfig {
  addr: number;
  port: number;
  peers: (string | DgramEndpoint)[];
  callees?: number[];
  callUs?: number;
  conversation?: number[];
  proposeUs?: number;
  seed?: number;
}

/** The caller's results (OP_INFO's `caller`). */
export interface CallerStats {
  calls: number;
  ok: number;
  timeouts: number;
  errors: number;
  /** OP_ECHO answers that were not the number sent. */
  mismatches: number;
  /** OP_COUNT answers not above the last from the same callee: a call that ran twice. */
  repeats: number;
  /** The last OP_COUNT answer from each callee (0: none yet). */
  counts: number[];
}

export interface LinuxNode {
  config: LinuxConfig;
  link: DgramLink;
  mac: RawMac;
  rr: Rr;
  caller: CallerStats;
  conversation: SimConversation | null;
}

/** The Espruino built-ins this board reads beyond the drivers'. */
interface LinuxBuiltins {
  process: { version: string; memory(): { usage: number; total: number } };
}

declare function require(name: string): unknown;

function fail(what: string): never {
  throw new Error('picolink linux: ' + what + ' (see boards/linux.ts for the fields of ' + CONFIG_FILE + ')');
}

function endpoint(p: string | DgramEndpoint): DgramEndpoint {
  if (typeof p === 'string') {
    const i = p.lastIndexOf(':');
    const port = Number(p.slice(i + 1));
    if (i < 1 || !(port > 0 && port < 65536)) fail('peer "' + p + '" is not "address:port"');
    return { address: p.slice(0, i), port: port };
  }
  if (!p || typeof p.address !== 'string' || !(p.port > 0 && p.port < 65536)) fail('peer ' + JSON.stringify(p) + ' needs an address and a port 1..65535');
  return { address: p.address, port: p.port };
}

function station(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v >= 1 && v <= 0xfeff) || Math.floor(v) !== v) fail(what + ' ' + JSON.stringify(v) + ' is not a station address 1..65279');
  return v as number;
}

/** Read and check the configuration: the object given, or picolink.json in the working directory. */
export function readConfig(given?: LinuxConfig): LinuxConfig {
  let c = given;
  if (!c) {
    let text: string;
    try {
      text = (require('fs') as { readFileSync(f: string): string }).readFileSync(CONFIG_FILE);
    } catch (e) {
      return fail('cannot read ' + CONFIG_FILE + ' in the working directory (' + e + '); write one there');
    }
    try {
      c = JSON.parse(text) as LinuxConfig;
    } catch (e) {
      return fail(CONFIG_FILE + ' is not JSON (' + e + ')');
    }
  }
  station(c.addr, 'addr');
  if (!(c.port > 0 && c.port < 65536)) fail('port ' + c.port + ' is not a UDP port 1..65535');
  if (!Array.isArray(c.peers) || c.peers.length === 0) fail('peers must list at least one "address:port"');
  const cs = c.callees || [];
  for (let i = 0; i < cs.length; i++) station(cs[i], 'callee');
  const cv = c.conversation || [];
  for (let i = 0; i < cv.length; i++) station(cv[i], 'conversation participant');
  return c;
}

/** Call each callee in turn: OP_ECHO over RR, then OP_COUNT over RRA, one call at a time. */
function callAround(r: Rr, clock: Clock, callees: number[], every: number): CallerStats {
  const st: CallerStats = { calls: 0, ok: 0, timeouts: 0, errors: 0, mismatches: 0, repeats: 0, counts: [] };
  for (let i = 0; i < callees.length; i++) st.counts.push(0);
  let k = 0;
  let op = OP_COUNT;
  let seq = 0;
  function done(err: number, result: unknown): void {
    if (err === RR_OK) {
      st.ok++;
      if (op === OP_COUNT) {
        const c = result as number;
        if (!(c > st.counts[k])) st.repeats++;
        st.counts[k] = c;
      } else if (result !== seq) st.mismatches++;
    } else if (err === RR_E_TIMEOUT) st.timeouts++;
    else st.errors++;
    clock.at(clock.now() + every, next);
  }
  function next(): void {
    if (op === OP_COUNT) {
      op = OP_ECHO;
      k = (k + 1) % callees.length;
    } else op = OP_COUNT;
    st.calls++;
    seq++;
    if (r.call(callees[k], op, op === OP_ECHO ? seq : null, { proto: op === OP_COUNT ? PROTO_RRA : PROTO_RR }, done) !== RR_OK) {
      st.errors++;
      clock.at(clock.now() + every, next);
    }
  }
  if (callees.length > 0) clock.at(clock.now() + every, next);
  return st;
}

export function create(given?: LinuxConfig, g?: LinuxBuiltins): LinuxNode | null {
  const b = g || (globalThis as unknown as LinuxBuiltins);
  let c: LinuxConfig;
  const peers: DgramEndpoint[] = [];
  try {
    c = readConfig(given);
    for (let i = 0; i < c.peers.length; i++) peers.push(endpoint(c.peers[i]));
  } catch (e) {
    if (given) throw e;
    // Started on its own from picolink.json: the message alone, one line (uncaught, the interpreter
    // would follow it with the minified source and a caret), and nothing started.
    console.log((e as Error).message);
    return null;
  }
  const clock = espruinoClock();
  const rng = xoshiro((espruinoRng().u32() ^ (c.addr << 16) ^ c.port ^ (c.seed || 0)) >>> 0);
  const link = dgramLink({ port: c.port, peers: peers, clock: clock, mtu: board.mtu, maxInFlight: 16 });
  const mac = rawMac(link, c.addr, 16);
  const ports = macPorts(mac, 16);
  // A node serves several clients (Node hosts, other interpreters): 16 history entries per client keep
  // at-most-once exact for 4 clients (firmware/rr/rr.ts); 64 entries of 507 bytes stay under the 64 KB
  // an Espruino view may start at.
  const r = rr({
    mac: ports.port(SVC_RR), clock: clock, rng: rng,
    config: { maxCalls: 4, timeoutUs: 100000, maxTimeoutUs: 1000000, retries: 8, historyEntries: 64, historyUs: 30000000, maxPending: 4, clients: 4 },
  });
  const list = c.conversation;
  const talk = list && list.indexOf(c.addr) >= 0 ? converse({ id: c.addr, clock: clock, rng: rng, proposeUs: c.proposeUs || 1000000 }, ports.port(SVC_PSYNC), list) : null;
  const counters: number[] = [];
  const counted: number[] = [];
  const caller = callAround(r, clock, c.callees || [], c.callUs || 500000);
  r.register(OP_ECHO, function (args, req) {
    r.reply(req, RR_OK, args);
  }, true);
  r.register(OP_COUNT, function (_args, req, src) {
    let i = counted.indexOf(src);
    if (i < 0) {
      if (counted.length >= 16) {
        r.reply(req, 4); // RR_E_BUSY: a counter per caller, 16 callers at most
        return;
      }
      i = counted.length;
      counted.push(src);
      counters.push(0);
    }
    r.reply(req, RR_OK, ++counters[i]);
  });
  r.register(OP_DIGEST, function (args, req) {
    r.reply(req, RR_OK, talk ? [talk.stats.committed, talk.digestAt(args as number)] : null);
  }, true);
  r.register(OP_INFO, function (_args, req) {
    const m = b.process.memory();
    r.reply(req, RR_OK, {
      runtime: 'espruino ' + b.process.version, addr: c.addr, caller: caller, link: link.stats, mac: mac.stats,
      executions: r.stats.executions, duplicates: r.stats.duplicatesFiltered, committed: talk ? talk.stats.committed : -1,
      proposed: talk ? talk.stats.proposed : -1, usage: m.usage, total: m.total,
    });
  }, true);
  // One line when it is running, as the Node and Deno nodes print (firmware/edge/options.ts).
  console.log(JSON.stringify({ ev: 'ready', node: String(c.addr), runtime: 'espruino ' + b.process.version, port: c.port, peers: c.peers, conversation: list || null }));
  return { config: c, link: link, mac: mac, rr: r, caller: caller, conversation: talk };
}

// The hardware-in-the-loop harness: one scenario suite, written once, run against every target of a
// map: a gateway board on a serial port, a virtual board (a process on a pseudo-terminal that starts
// as Espruino's console and runs the bundle flashed onto it: host/sim/virtual-gateway.ts --storage), or
// the simulator in this process. Every target is reached the same way, through the MAC tunnel (host/bridge/gateway.ts), so
// the suite exercises the host's real path: serialport, framing, tunnel, request-reply.
//
// Map (JSON): {"targets": [{"name", "board", "port"? | "virtual"?: true | "simulator"?: true,
//   "sensors"?: n (virtual and simulator, default 2), "flash"?: false, "bundle"?: "<board>-<role>"}]}
// For each target: build its bundle (the same rollup configuration as `npm run build`): "bundle", or
// for a virtual board the sim board's tunnel gateway, sim-gateway (its sensors run sim-sensor), or the
// board's main bundle (the simulator: sim, every role); flash
// it (host/flash: to .bootcde, verified, then load(); a board on a port and a virtual board alike;
// skipped for the simulator, and with --no-flash or "flash": false, when a board must already run the
// gateway bundle and a virtual board loads it directly); connect; run the scenarios:
//   ping               the gateway answers hello; an RR call of OP_READ to the first sensor returns a reading
//   rr-loss            20 OP_COUNT calls over RRA with 20 % of the frames the host receives dropped:
//                      every call completes and the counter rises by exactly one per call
//                      (at-most-once: lost replies come back from the device's history, never re-run)
//   group              an R request of OP_COUNT to SENSOR_GROUP, which every other sensor joined: each
//                      member's counter rises by one, no other sensor's (counters read before and after)
//   conversation       the host joins the sensors' Psync conversation (and leaves it after the step): once
//                      it has committed 8 proposals, every sensor's checksum of the first k commits
//                      (OP_DIGEST) equals the host's: all committed the same sequence
//   (group and conversation are skipped for a board on a port: the sensors around it are not the
//   harness's to set up)
//   reset              virtual boards: the board's process is killed and started again on the same line
//                      (a flashed one boots .bootcde from its Storage, as a board powering up does);
//                      the host hears its hello, and a call goes through again. Other targets: skipped.
// Results: one JUnit XML file (testsuite per target, testcase per step, <skipped> with the reason,
// <failure> with the message, the step's log as system-out), a JSON file of the same, and a log file
// per step, in the output directory (created; one that cannot be created or written is an error
// before anything runs: reportDir). Host only.

import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boardNames, buildBoard } from '../build/board.ts';
import { realClock } from '../../hal/node/clock.ts';
import type { RealClock } from '../../hal/node/clock.ts';
import { chance, xoshiro } from '../../hal/prng.ts';
import { framedLink } from '../../hal/framing/link.ts';
import type { Link, ReceiveFn } from '../../hal/link.ts';
import { openSerial } from '../../hal/node/serial.ts';
import type { NodeSerial } from '../../hal/node/serial.ts';
import { ptyPair } from '../../hal/node/pty.ts';
import { macPorts, SVC_PSYNC, SVC_RR } from '../../firmware/mac/ports.ts';
import type { MacPorts } from '../../firmware/mac/ports.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA } from '../../firmware/rr/frame.ts';
import type { TunnelMac } from '../../firmware/mac/tunnel.ts';
import { OP_COUNT, OP_DIGEST, OP_READ, converse } from '../../boards/sim.ts';
import type { SimConversation } from '../../boards/sim.ts';
import { hostRr } from '../rr/endpoint.ts';
import { GATEWAY_LINE_MTU, openGateway } from '../bridge/gateway.ts';
import { GATEWAY_ADDR, SENSOR_GROUP } from '../sim/tunnel-net.ts';
import { bundleCreate, killVirtualGateway, spawnVirtualGateway } from '../sim/virtual-gateway.ts';
import { flash } from '../flash/flash.ts';
import { startSimGateway } from '../sim/sim-gateway.ts';

export interface HilTarget {
  name: string;
  board: string;
  port?: string;
  virtual?: boolean;
  simulator?: boolean;
  sensors?: number;
  flash?: boolean;
  /** The bundle to build and flash: one of the board's (default: targetBundle()). */
  bundle?: string;
}

export interface HilMap {
  targets: HilTarget[];
}

export type StepStatus = 'passed' | 'failed' | 'skipped';

export interface StepResult {
  name: string;
  status: StepStatus;
  ms: number;
  /** Why it failed or was skipped. */
  message?: string;
  log: string[];
}

export interface TargetResult {
  target: string;
  kind: 'port' | 'virtual' | 'simulator';
  steps: StepResult[];
}

/** A virtual board is the sim board's tunnel gateway (what a gateway board is flashed with)... */
export const VIRTUAL_GATEWAY_BUNDLE = 'sim-gateway';
/** ...with simulated sensors around it, each running the sim board's sensor bundle. */
export const VIRTUAL_SENSOR_BUNDLE = 'sim-sensor';

/** The bundle a target is built and flashed with: "bundle", else a virtual board's gateway, else the board's. */
export function targetBundle(t: HilTarget): string {
  return t.bundle ?? (t.virtual ? VIRTUAL_GATEWAY_BUNDLE : t.board);
}

/** Checks a map read from JSON; throws an error naming the field. */
export function checkMap(v: unknown): HilMap {
  const m = v as HilMap;
  if (!m || typeof m !== 'object' || !Array.isArray(m.targets) || m.targets.length === 0) throw new Error('the map needs "targets": a list of {"name", "board", and one of "port", "virtual": true, "simulator": true}');
  const boards = boardNames();
  const names = new Set<string>();
  m.targets.forEach((t, i) => {
    const where = `targets[${i}]`;
    if (!t || typeof t.name !== 'string' || !/^[\w.-]+$/.test(t.name)) throw new Error(`${where}: "name" must be letters, digits, _ . or -`);
    if (names.has(t.name)) throw new Error(`${where}: the name ${t.name} is used twice`);
    names.add(t.name);
    if (!boards.includes(t.board)) throw new Error(`${where} (${t.name}): "board" must be one of ${boards.join(', ')}`);
    const kinds = [t.port !== undefined, t.virtual === true, t.simulator === true].filter(Boolean).length;
    if (kinds !== 1) throw new Error(`${where} (${t.name}): give exactly one of "port": "/dev/...", "virtual": true, "simulator": true`);
    if (t.port !== undefined && typeof t.port !== 'string') throw new Error(`${where} (${t.name}): "port" must be a path`);
    if (t.sensors !== undefined && !(Number.isInteger(t.sensors) && t.sensors >= 1 && t.sensors <= 8)) throw new Error(`${where} (${t.name}): "sensors" must be 1..8`);
    if ((t.virtual || t.simulator) && t.board !== 'sim') throw new Error(`${where} (${t.name}): virtual boards and the simulator run the sim board's bundle; "board" must be "sim"`);
    if (t.bundle !== undefined && !(typeof t.bundle === 'string' && (t.bundle === t.board || t.bundle.startsWith(t.board + '-')))) {
      throw new Error(`${where} (${t.name}): "bundle" must be one of board ${t.board}'s bundles (${t.board}, or a role bundle ${t.board}-<role>)`);
    }
  });
  return m;
}

/** The host's link, dropping DROP_PCT % of what it receives while `lossy` is on (a scenario turns it on). */
interface Switchable extends Link {
  lossy: boolean;
  dropped: number;
}

/** Frames the host receives that the loss scenario drops, percent. */
export const DROP_PCT = 20;

function switchable(link: Link): Switchable {
  const rng = xoshiro(7);
  let rx: ReceiveFn | null = null;
  const s: Switchable = {
    lossy: false,
    dropped: 0,
    caps: link.caps,
    send: (f, len) => link.send(f, len),
    onReceive(fn) { rx = fn; },
    onSent: (fn) => link.onSent(fn),
    busy: () => link.busy(),
  };
  link.onReceive((f, len, info) => {
    if (s.lossy && chance(rng, DROP_PCT)) {
      s.dropped++;
      return;
    }
    if (rx) rx(f, len, info);
  });
  return s;
}

/** A connected target: the tunnel's MAC and how to reset the board. */
interface Conn {
  mac: TunnelMac;
  /** The host's link, whose loss the loss scenario turns on. */
  link: Switchable;
  sensors: number[];
  reset?: (log: (s: string) => void) => Promise<void>;
  close(): Promise<void>;
}

async function build(board: string, log: (s: string) => void): Promise<string> {
  const b = await buildBoard(board);
  if (b.runtime !== 'espruino') throw new Error(`${board} runs under ${b.runtime === 'deno' ? 'Deno' : 'Node'}, not on an Espruino board: it cannot be flashed; give an Espruino board or bundle`);
  log(`built ${b.file} (${b.bytes} bytes)`);
  return b.file;
}

/**
 * A target's serial line: a port, or a pseudo-terminal whose other end a virtual board holds. A
 * virtual board that is to be flashed starts as an Espruino console with its Storage in a fresh
 * directory (virtual-gateway.ts --storage); otherwise it loads the bundle directly (--bundle).
 */
interface Line {
  serial: NodeSerial;
  path: string;
  /** Power-cycle a virtual board: its process is killed and started again on the same line. */
  restart?: (log: (s: string) => void) => Promise<void>;
  close(): Promise<void>;
}

async function openLine(t: HilTarget, bundle: string, sensorBundle: string, flashing: boolean, log: (s: string) => void): Promise<Line> {
  if (t.port !== undefined) {
    const serial = await openSerial(t.port, { baud: 115_200, pace: false });
    return { serial, path: t.port, close: () => serial.close() };
  }
  const sensors = t.sensors ?? 2;
  const pty = await ptyPair();
  const storage = flashing ? mkdtempSync(join(tmpdir(), 'picolink-hil-')) : undefined;
  const start = (l: (s: string) => void): Promise<ChildProcess> =>
    spawnVirtualGateway(pty.a, { ...(storage ? { storage } : { bundle }), sensorBundle, sensors, conversation: true, log: (x) => l(`board: ${x}`) });
  let child: ChildProcess | null = null;
  try {
    child = await start(log);
    const serial = await openSerial(pty.b, { baud: 115_200, pace: true });
    return {
      serial, path: pty.b,
      restart: async (l) => {
        await killVirtualGateway(child!);
        l('board: killed');
        child = await start(l);
      },
      close: async () => {
        await serial.close();
        if (child) await killVirtualGateway(child);
        await pty.close();
        if (storage) rmSync(storage, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child) await killVirtualGateway(child);
    await pty.close();
    if (storage) rmSync(storage, { recursive: true, force: true });
    throw e;
  }
}

async function connect(t: HilTarget, bundle: string, sensorBundle: string, line: Line | null, clock: RealClock, log: (s: string) => void): Promise<Conn> {
  const sensors = t.sensors ?? 2;
  const ids = Array.from({ length: sensors }, (_, i) => GATEWAY_ADDR + 1 + i);
  if (t.simulator) {
    let lossy: Switchable | null = null;
    const g = await startSimGateway({ sensors, create: bundleCreate(bundle), conversation: true, wrap: (l) => (lossy = switchable(l)) });
    log(`connected: simulator, gateway ${g.mac.addr}, sensors ${ids.join(', ')}`);
    return { mac: g.mac, link: lossy!, sensors: ids, close: async () => g.stop() };
  }
  const l = line ?? await openLine(t, bundle, sensorBundle, false, log);
  try {
    const link = framedLink(l.serial, { mtu: GATEWAY_LINE_MTU, clock });
    const lossy = switchable(link);
    const mac = await openGateway(lossy, { where: l.path, timeoutMs: 5000 });
    log(`connected: ${l.path}, gateway ${mac.addr}, sensors ${ids.join(', ')}`);
    return { mac, link: lossy, sensors: ids, reset: l.restart, close: () => l.close() };
  } catch (e) {
    await l.close();
    throw e;
  }
}

/**
 * Once the host (tk) has committed 8 proposals of the sensors' conversation, every sensor's checksum of
 * the first k commits (OP_DIGEST) must equal the host's: all committed the same sequence.
 */
async function conversationCheck(tk: SimConversation, c: Conn, r: ReturnType<typeof hostRr>, log: (s: string) => void): Promise<void> {
  await until(() => tk.stats.committed >= 8, 30_000, 'the host committed 8 proposals of the conversation');
  const k = tk.stats.committed;
  const want = tk.digestAt(k);
  log(`host: ${k} committed (its own proposals: ${tk.stats.proposed} sent), checksum of the first ${k}: ${want}`);
  for (const s of c.sensors) {
    let v: [number, number] | null = null;
    const t0 = Date.now();
    for (;;) {
      v = (await r.call(s, OP_DIGEST, k, { proto: PROTO_RR })) as [number, number] | null;
      if (v === null) throw new Error(`sensor ${s} takes part in no conversation`);
      if (v[0] >= k || Date.now() - t0 > 15_000) break;
      await new Promise((res) => setTimeout(res, 300));
    }
    log(`sensor ${s}: ${v[0]} committed, checksum of the first ${k}: ${v[1]}`);
    if (v[0] < k) throw new Error(`sensor ${s} committed ${v[0]} proposals in 15 s, fewer than the host's ${k}`);
    if (v[1] === -1) throw new Error(`sensor ${s} is more than its checksum history ahead of the host (${v[0]} committed)`);
    if (v[1] !== want) throw new Error(`sensor ${s} committed a different sequence from the host's: checksums ${v[1]} and ${want} of the first ${k}`);
  }
}

/** Progress as log lines at every quarter. */
function progressLog(log: (s: string) => void): (done: number, total: number) => void {
  let next = 0;
  return (done, total) => {
    if (total > 0 && done * 4 >= next * total) {
      log(`sent ${done}/${total} B`);
      next = Math.floor((done * 4) / total) + 1;
    }
  };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface HilOptions {
  /** Where reports go (created). */
  out: string;
  /** Skip the flash step everywhere. */
  noFlash?: boolean;
  /** One line per event, as the run goes. */
  progress?: (line: string) => void;
}

export interface HilReport {
  targets: TargetResult[];
  passed: number;
  failed: number;
  skipped: number;
  junit: string;
  json: string;
}

/**
 * Create the report directory `dir` if needed and check that it can be written; throws an Error that
 * says why not and what to give instead.
 */
export function reportDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`cannot write reports to ${dir} (${code}): give a directory that exists or can be created, and that you can write`);
  }
}

export async function runHil(map: HilMap, o: HilOptions): Promise<HilReport> {
  reportDir(o.out);
  const results: TargetResult[] = [];
  for (const t of map.targets) {
    const kind = t.port !== undefined ? 'port' : t.virtual ? 'virtual' : 'simulator';
    const tr: TargetResult = { target: t.name, kind, steps: [] };
    results.push(tr);
    let bundle = '';
    let sensorBundle = '';
    let conn: Conn | null = null;
    const clock = realClock();
    const step = async (name: string, fn: (log: (s: string) => void) => Promise<string | void>, skip?: string): Promise<boolean> => {
      const log: string[] = [];
      const t0 = performance.now();
      let r: StepResult;
      if (skip) r = { name, status: 'skipped', ms: 0, message: skip, log };
      else {
        try {
          const why = await fn((s) => log.push(s));
          r = why ? { name, status: 'skipped', ms: 0, message: why, log } : { name, status: 'passed', ms: performance.now() - t0, log };
        } catch (e) {
          r = { name, status: 'failed', ms: performance.now() - t0, message: (e as Error).message, log };
        }
      }
      r.ms = Math.round(r.ms);
      tr.steps.push(r);
      writeFileSync(join(o.out, `${t.name}.${name}.log`), log.join('\n') + (log.length ? '\n' : '') + (r.message ? `${r.status}: ${r.message}\n` : `${r.status}\n`));
      o.progress?.(`${t.name} ${name}: ${r.status}${r.message ? ` (${r.message})` : ''}`);
      return r.status !== 'failed';
    };
    let rr: ReturnType<typeof hostRr> | null = null;
    let ports: MacPorts | null = null;
    let line: Line | null = null;
    const flashing = kind !== 'simulator' && !o.noFlash && t.flash !== false;
    const ok = (await step('build', async (log) => {
      bundle = await build(targetBundle(t), log);
      if (t.virtual) sensorBundle = await build(VIRTUAL_SENSOR_BUNDLE, log);
    }))
      && (await step('flash', async (log) => {
        line = await openLine(t, bundle, sensorBundle, true, log);
        const r = await flash(line.serial, new Uint8Array(readFileSync(bundle)), {
          target: { to: 'boot' },
          onStep: log,
          onProgress: progressLog(log),
        });
        log(`flashed ${r.bytes} B to ${r.target} by ${r.protocol} in ${r.ms} ms (Espruino ${r.board.version} on ${r.board.board}), verified by ${r.verified}, ${r.resends} resends, started`);
      }, kind === 'simulator' ? 'the simulator loads the bundle directly' : !flashing ? 'not asked for (--no-flash or "flash": false)' : undefined))
      && (await step('connect', async (log) => {
        conn = await connect(t, bundle, sensorBundle, line, clock, log);
        ports = macPorts(conn.mac);
        rr = hostRr({ mac: ports.port(SVC_RR), clock, rng: xoshiro(11), config: { timeoutUs: 150_000, retries: 6 } });
      }));
    if (!conn && line) await (line as Line).close();
    const c = conn as Conn | null;
    const r = rr as ReturnType<typeof hostRr> | null;
    const dead = ok && c && r ? undefined : 'not connected';
    await step('ping', async (log) => {
      const before = c!.mac.stats.hellos;
      c!.mac.hello();
      await until(() => c!.mac.stats.hellos > before, 3000, 'hello answered');
      log(`hello answered: gateway ${c!.mac.addr}, ${c!.mac.caps.mtu}-byte payloads`);
      const v = await r!.call(c!.sensors[0], OP_READ, undefined, { proto: PROTO_RR });
      log(`sensor ${c!.sensors[0]} OP_READ -> ${JSON.stringify(v)}`);
      if (typeof v !== 'object' || v === null) throw new Error(`OP_READ returned ${JSON.stringify(v)}, not a reading`);
    }, dead);
    await step('rr-loss', async (log) => {
      const lossy = c!.link;
      lossy.lossy = true;
      const dropped0 = lossy.dropped;
      try {
        const dst = c!.sensors[c!.sensors.length - 1];
        const first = (await r!.call(dst, OP_COUNT, undefined, { proto: PROTO_RRA })) as number;
        let last = first;
        for (let i = 1; i < 20; i++) {
          const n = (await r!.call(dst, OP_COUNT, undefined, { proto: PROTO_RRA })) as number;
          if (n !== last + 1) throw new Error(`call ${i + 1}: the counter went from ${last} to ${n}: a call ran ${n > last + 1 ? 'twice' : 'not at all'}`);
          last = n;
        }
        const st = r!.endpoint.stats;
        const dropped = lossy.dropped - dropped0;
        log(`20 calls to ${dst}, counter ${first}..${last}; ${dropped} frames from the gateway dropped (${DROP_PCT} %), ${st.retries} retransmissions`);
        if (dropped === 0) throw new Error('no frame was dropped: the loss was not injected');
      } finally {
        lossy.lossy = false;
      }
    }, dead);
    await step('group', async (log) => {
      // A request to the group runs once on each member and on no other sensor: each sensor's
      // OP_COUNT counter is read before and after (each read adds one), with the group's call between.
      const members = c!.sensors.filter((_, i) => i % 2 === 0);
      if (kind === 'port') return 'the sensors around a board on a port are not set up by the harness (which of them joined a group is unknown)';
      const count = (s: number): Promise<number> => r!.call(s, OP_COUNT, undefined, { proto: PROTO_RRA }) as Promise<number>;
      const before: number[] = [];
      for (const s of c!.sensors) before.push(await count(s));
      // R is done once the MAC takes it; a full queue refuses it whole ("not sent"), so trying again
      // cannot send it twice.
      for (let k = 1; ; k++) {
        try {
          await r!.call(SENSOR_GROUP, OP_COUNT, undefined, { proto: PROTO_R });
          break;
        } catch (e) {
          if (k >= 5 || !/not sent/.test((e as Error).message)) throw e;
          log('the host\'s queue to the gateway was full: the group call was not sent; again in 100 ms');
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      log(`OP_COUNT sent once to group 0x${SENSOR_GROUP.toString(16)} (members ${members.join(', ')}) as R`);
      await new Promise((res) => setTimeout(res, 400));
      const bad: string[] = [];
      for (let i = 0; i < c!.sensors.length; i++) {
        const s = c!.sensors[i];
        const d = (await count(s)) - before[i];
        const member = members.includes(s);
        log(`sensor ${s} (${member ? 'member' : 'not a member'}): counter +${d}`);
        if (d !== (member ? 2 : 1)) bad.push(`sensor ${s} ran the group's call ${d - 1} times${member ? ' (a member runs it once; a group frame is not acknowledged, so a collision loses it)' : ' (it is not a member)'}`);
      }
      if (bad.length) throw new Error(bad.join('; '));
      return undefined;
    }, dead);
    await step('conversation', async (log) => {
      // The host is a participant of the sensors' Psync conversation (proposals committed by the
      // ordered broadcast by waves): every sensor must have committed the same sequence as the host,
      // compared by the checksum of the first k commits (OP_DIGEST).
      if (kind === 'port') return 'the sensors around a board on a port are not set up by the harness to converse with it';
      // The host joins now: the sensors opened the conversation when they started and wait for it (their
      // waves need every participant); what it missed comes back through Psync's retransmission requests.
      let mine = 0;
      const tk = converse({ id: GATEWAY_ADDR, clock, rng: xoshiro(12), proposeUs: 1_000_000, propose: () => 1000 + ++mine }, ports!.port(SVC_PSYNC), [...c!.sensors, GATEWAY_ADDR]);
      try {
        await conversationCheck(tk, c!, r!, log);
      } finally {
        // Leave it, so that its traffic does not outlive the step (its handles are its table's slots).
        for (let cv = 0; cv < 8; cv++) tk.ps.close(cv);
      }
      return undefined;
    }, dead);
    await step('reset', async (log) => {
      if (!c!.reset) return `a ${kind === 'simulator' ? 'simulator target has no board process to reset' : 'board on a port is not power-cycled by the harness'}`;
      const before = c!.mac.stats.hellos;
      await c!.reset(log);
      await until(() => c!.mac.stats.hellos > before, 5000, 'the restarted board says hello');
      log('hello after the reset');
      const v = await r!.call(c!.sensors[0], OP_COUNT, undefined, { proto: PROTO_RRA });
      log(`OP_COUNT after the reset -> ${v}`);
      if (v !== 1) throw new Error(`the counter after a reset is ${v}, expected 1 (a fresh board)`);
      return undefined;
    }, dead);
    if (c) await c.close();
    clock.close();
  }
  const all = results.flatMap((x) => x.steps);
  const report: HilReport = {
    targets: results,
    passed: all.filter((s) => s.status === 'passed').length,
    failed: all.filter((s) => s.status === 'failed').length,
    skipped: all.filter((s) => s.status === 'skipped').length,
    junit: join(o.out, 'hil.junit.xml'),
    json: join(o.out, 'hil.json'),
  };
  writeFileSync(report.junit, junit(results));
  writeFileSync(report.json, JSON.stringify({ targets: results, passed: report.passed, failed: report.failed, skipped: report.skipped }, null, 2) + '\n');
  return report;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: one testsuite per target, one testcase per step. */
export function junit(results: TargetResult[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const n = (s: StepStatus): number => results.flatMap((r) => r.steps).filter((x) => x.status === s).length;
  out.push(`<testsuites name="picolink hil" tests="${results.reduce((a, r) => a + r.steps.length, 0)}" failures="${n('failed')}" skipped="${n('skipped')}">`);
  for (const r of results) {
    const f = r.steps.filter((s) => s.status === 'failed').length;
    const sk = r.steps.filter((s) => s.status === 'skipped').length;
    const time = (r.steps.reduce((a, s) => a + s.ms, 0) / 1000).toFixed(3);
    out.push(`  <testsuite name="${esc(r.target)}" tests="${r.steps.length}" failures="${f}" skipped="${sk}" time="${time}">`);
    for (const s of r.steps) {
      out.push(`    <testcase classname="hil.${esc(r.target)}" name="${esc(s.name)}" time="${(s.ms / 1000).toFixed(3)}">`);
      if (s.status === 'failed') out.push(`      <failure message="${esc(s.message ?? '')}"/>`);
      if (s.status === 'skipped') out.push(`      <skipped message="${esc(s.message ?? '')}"/>`);
      if (s.log.length) out.push(`      <system-out>${esc(s.log.join('\n'))}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

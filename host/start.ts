// `npm start`: runs the demonstration network (host/sim/demo.ts) on the simulator, paced to the wall
// clock, printing a status line each simulated second and a summary at the end.
//   npm start -- [--for 5s] [--seed N] [--sensors N] [--speed 1|10|max] [--pcap file.pcap] [--trace] [--json]
// Without --for it runs until Ctrl-C. Exit codes: 0 done, 2 bad arguments.
// While it runs paced, the bridge (host/bridge/) listens on 127.0.0.1 (UDP and TCP, --bridge-port,
// default 47910) with its node on the simulated radio next to the gateway: the sensors are in its
// directory as sensor-1..N, and every reading the host decodes is an event for subscribers. It is left
// out with --speed max (the run is over before anyone could call) and with --no-bridge; a port already
// in use is reported and the demonstration runs without it.
// With the bridge, the browser page (host/web/) is served on 127.0.0.1 at --web-port (default the
// bridge's port + 2, 47912), with the bridge's WebSocket front on the same port: the page lists the
// devices, calls them and shows the traffic live. The page is built in memory at start (about a second);
// if it cannot be built or the port is taken, that is reported and the rest runs without it.
// startDemo (everything after the arguments are read) is shared with `picolink sim demo`.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { demo } from './sim/demo.ts';
import type { DemoSummary } from './sim/demo.ts';
import { parseDuration } from './cli/duration.ts';
import { BRIDGE_STATION } from './sim/demo.ts';
import { OP_COUNT, OP_READ } from '../boards/sim.ts';
import { startBridge } from './bridge/bridge.ts';
import { BRIDGE_PORT } from './bridge/client.ts';
import type { Bridge } from './bridge/bridge.ts';
import { xoshiro } from '../hal/prng.ts';
import { buildPage, pageHandler } from './web/build.ts';

const usage = `usage: npm start -- [options]
  --for <duration>   stop after this much simulated time (e.g. 500ms, 5s, 2m); default: run until Ctrl-C
  --seed <n>         random seed (default 1): the same seed replays the same run
  --sensors <n>      sensors in the network, 1..32 (default 5)
  --wearables <n>    wearables in the hub's piconet, 0..7 (default 3)
  --speed <x|max>    simulated seconds per wall second (default 1); max runs as fast as it can
  --pcap <file>      write a capture (open with: tshark -X lua_script:host/wireshark/picolink.lua -r <file>)
  --trace            print every medium and wire event
  --json             print the summary as one JSON object
  --bridge-port <n>  the bridge's UDP and TCP port on 127.0.0.1 (default 47910)
  --web-port <n>     the browser page and the bridge's WebSocket on 127.0.0.1 (default: the bridge's port + 2, 47912)
  --no-bridge        run without the bridge (and the page)
example: npm start -- --for 5s --seed 7 --pcap out/demo.pcap`;

export { BRIDGE_PORT };
/** The device group the demonstration's bridge maps to IP multicast. */
const DEMO_GROUPS = [1];

/** A usage error: the message and the usage; or, with withUsage false, the message alone (the options were fine). */
function fail(msg: string, withUsage = true): never {
  console.error(`picolink: ${msg}` + (withUsage ? `\n${usage}` : ''));
  process.exit(2);
}

function table(s: DemoSummary): string {
  const out: string[] = [];
  const sec = (s.simulatedUs / 1e6).toFixed(3);
  out.push(`picolink demo: ${s.sensors.length} sensors${s.piconet.wearables.length > 0 ? ' and a piconet hub' : ''} -> CSMA/CA radio 250 kbit/s -> gateway -> serial 115200 baud -> host`);
  out.push(`seed ${s.seed}, ${sec} s simulated, ${s.events} events`);
  out.push('sensor  readings  mac-retries  mac-drops  at-host  heard-host  collisions-here');
  for (const x of s.sensors) {
    out.push(`${String(x.id).padStart(6)}${String(x.sent).padStart(10)}${String(x.retries).padStart(13)}${String(x.noAck).padStart(11)}${String(x.atHost).padStart(9)}${String(x.heardHost).padStart(12)}${String(x.collisionsHere).padStart(17)}`);
  }
  const g = s.gateway;
  out.push(`gateway: received ${g.heard} frames (${g.acks} acknowledged readings), lost to collisions ${g.collisions}, relayed up ${g.up} (dropped ${g.upDropped}), down ${g.down}`);
  const p = s.piconet;
  if (p.wearables.length > 0) {
    out.push(`piconet: hub ${p.connected} of ${p.wearables.length} wearables connected, ${p.relayedUp} readings relayed over CSMA/CA`);
    out.push(p.wearables.map((x) => `  wearable ${x.id}: ${x.sent} sent, ${x.atHost} at host, ${x.polls} polls, ${x.retransmissions} retransmissions`).join('\n'));
  }
  const c = s.calls;
  out.push(`calls:   gateway -> sensors ${c.calls} (${c.ok} ok, ${c.timeouts} timed out, ${c.errors} errors, ${c.retries} retransmissions); counter ran ${c.counted} times, ${c.duplicatesFiltered} duplicates filtered, ${c.repliesResent} replies resent from history, ${c.repeats} double executions`);
  const v = s.conversation;
  if (v && v.participants.length > 0) {
    const th = [...new Set(v.participants.map((x) => (x.threshold < 0 ? 'none yet' : String(x.threshold))))].join('/');
    const agree = v.agree === null ? 'not comparable yet' : v.agree ? 'identical at every sensor' : 'DIFFERENT between sensors';
    out.push(`conversation: ${v.participants.length} sensors in one Psync conversation, ${v.committed} threshold proposals committed (${v.commonPrefix} by all) in ${v.waves} waves, order ${agree}; threshold ${th}; ${v.sent} messages, ${v.retransmissions} retransmissions`);
  }
  const w = s.serial;
  out.push(`serial:  ${w.bytesUp} bytes up, ${w.bytesDown} down, ${w.corrupted} bytes corrupted on the line, ${w.framesAtHost} frames at host, ${w.crcErrors} rejected by CRC, ${w.malformed} malformed`);
  out.push(`host:    ${s.host.decoded} readings decoded, ${s.host.decodeErrors} undecodable, ${s.host.statusSent} status frames sent down`);
  const last = Object.entries(s.host.lastReadings).slice(0, 3).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  if (last) out.push(`         last readings: ${last}`);
  if (s.captureRecords) out.push(`capture: ${s.captureRecords} records`);
  out.push(`trace:   ${s.traceLines} lines, sha256 ${s.traceSha256}`);
  return out.join('\n');
}

/** A demonstration run as `npm start` and `picolink sim demo` describe it, their arguments read. */
export interface DemoRunOptions {
  seed: number;
  sensors: number;
  wearables: number;
  /** Stop after this much simulated time, µs; Infinity: run until Ctrl-C. */
  forUs: number;
  /** Simulated seconds per wall second; Infinity: as fast as it can (needs forUs). */
  speed: number;
  pcap?: string;
  /** Receives every medium and wire event line. */
  trace?: (line: string) => void;
  json: boolean;
  /** Receives each line of status and summary. */
  out: (line: string) => void;
  /** Run the bridge on this port while paced (0: any free port); absent: no bridge. */
  bridgePort?: number;
  /** With the bridge: serve the browser page and the WebSocket front on this port (0: any); absent: no page. */
  webPort?: number;
  /** Receives warnings (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * Starts the demonstration network and returns the function that runs it to the end. Throws an Error
 * saying what is wrong when the options cannot run (a usage error for the caller to report).
 */
export function startDemo(o: DemoRunOptions): () => Promise<void> {
  const { forUs, speed, out } = o;
  if (speed === Infinity && forUs === Infinity) throw new Error('--speed max needs --for, or it would never stop');
  let d: ReturnType<typeof demo>;
  let bridge: Bridge | null = null;
  const withBridge = o.bridgePort !== undefined && speed !== Infinity;
  try {
    d = demo({
      seed: o.seed, sensors: o.sensors, wearables: o.wearables, pcapPath: o.pcap, trace: o.trace, bridgeStation: withBridge,
      onReading: (src, v) => bridge?.core.publishEvent(src, v),
    });
  } catch (e) {
    throw new Error(`cannot start the demo: ${(e as Error).message}`);
  }
  const finish = async (): Promise<void> => {
    d.close();
    const s = d.summary();
    const b = bridge;
    if (b) await b.close();
    if (o.json) {
      out(JSON.stringify(b ? { ...s, bridge: { ...b.core.stats, rr: b.rr.stats } } : s));
    } else {
      out(table(s));
      if (b) {
        const st = b.core.stats;
        out(`bridge:  ${st.requests} requests, ${st.calls} calls to devices (${st.errors} ended in an error or timeout), ${st.replayed} answered from the reply cache, ${st.malformed} malformed, ${st.pushed} pushes to subscribers`);
      }
    }
    if (o.pcap && !o.json) out(`capture written to ${o.pcap}; open it with: tshark -X lua_script:host/wireshark/picolink.lua -r ${o.pcap}`);
  };

  return async () => {
    if (speed === Infinity) {
      d.runUntil(forUs);
      await finish();
      return;
    }
    if (withBridge) {
      const warn = o.warn ?? ((l: string) => console.error(l));
      let web: { port: number; http: ReturnType<typeof pageHandler> } | undefined;
      if (o.webPort !== undefined) {
        try {
          web = { port: o.webPort, http: pageHandler(await buildPage({ minify: false })) };
        } catch (e) {
          warn(`picolink: the web page did not build (${(e as Error).message}); running without it`);
        }
      }
      // The bridge's own lines while it starts are held back: a port in use is reported once, below,
      // with what to do, rather than by each attempt's socket first.
      let held: string[] | null = [];
      const log = (l: string): void => { if (held) held.push(l); else warn(l); };
      const start = (withWeb: boolean): Promise<Bridge> => startBridge({
        mac: d.bridgeMac!, clock: d.sched, rng: xoshiro(o.seed ^ 0xb1d9e), udpPort: o.bridgePort, tcpPort: o.bridgePort,
        groups: DEMO_GROUPS,
        names: d.sensorIds.map((id) => ({ name: `sensor-${id}`, addr: id, type: 'sensor', ops: [OP_READ, OP_COUNT] })),
        log, web: withWeb ? web : undefined,
      });
      let failed = '';
      try {
        bridge = await start(web !== undefined);
      } catch (e) {
        failed = (e as Error).message;
        if (web) {
          // Perhaps only the page's port is taken: the bridge alone may still start.
          try {
            bridge = await start(false);
            warn(`picolink: the web page did not start (${failed}); try --web-port <n>`);
          } catch {
            // reported below
          }
        }
      }
      const lines = held;
      held = null;
      // Started: its lines, less the first attempt's bind failure (the page's port, said above).
      if (bridge) for (const l of lines) if (!failed || !l.includes(failed)) warn(l);
      if (!bridge) warn(`picolink: the bridge did not start (${failed}); the demonstration runs without it. Another picolink may hold the port: try --bridge-port <n>, or --no-bridge`);
      if (bridge && !o.json) {
        const port = bridge.tcp.port;
        const g = bridge.groups!.list().map((x) => `${x.group} -> ${x.ip}:${x.port}`).join(', ');
        const where = bridge.udp.port === port ? `udp and tcp 127.0.0.1:${port}` : `udp 127.0.0.1:${bridge.udp.port}, tcp 127.0.0.1:${port}`;
        out(`bridge:  node ${BRIDGE_STATION} on the radio; ${where} (tcp: CBOR frames or JSON lines); groups ${g}`);
        out(`         devices sensor-1..sensor-${d.sensorIds.length} (ops ${OP_READ} read, ${OP_COUNT} count); from another terminal:`);
        out(`         echo '{"id":1,"to":"sensor-1","op":${OP_READ}}' | nc -N 127.0.0.1 ${port}         (live readings: '{"id":2,"sub":"events"}')`);
        if (bridge.web) out(`web page: http://127.0.0.1:${bridge.web.port}/   (devices, calls and live traffic in a browser; its WebSocket is the bridge's)`);
      }
    }
    // Paced: every 20 ms of wall time, run the simulation up to where the wall clock says it should be.
    const t0 = performance.now();
    let nextStatus = 1_000_000;
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearInterval(timer);
        process.off('SIGINT', stop);
        resolve();
      };
      const timer = setInterval(() => {
        const target = Math.min(forUs, Math.floor((performance.now() - t0) * 1000 * speed));
        d.runUntil(target);
        while (target >= nextStatus && !o.json) {
          const s = d.summary();
          const sent = s.sensors.reduce((a, x) => a + x.sent, 0);
          out(`t=${(nextStatus / 1e6).toFixed(0)}s  sent ${sent}  at host ${s.host.decoded}  collisions at gateway ${s.gateway.collisions}  crc rejects ${s.serial.crcErrors}`);
          nextStatus += 1_000_000;
        }
        if (target >= forUs) stop();
      }, 20);
      process.on('SIGINT', stop);
    });
    await finish();
  };
}

async function main(): Promise<void> {
  let v;
  try {
    v = parseArgs({
      options: {
        for: { type: 'string' }, seed: { type: 'string', default: '1' }, sensors: { type: 'string', default: '5' }, wearables: { type: 'string', default: '3' },
        speed: { type: 'string', default: '1' }, pcap: { type: 'string' }, trace: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
        'bridge-port': { type: 'string', default: String(BRIDGE_PORT) }, 'no-bridge': { type: 'boolean', default: false },
        'web-port': { type: 'string' },
      },
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (v.help) {
    console.log(usage);
    return;
  }
  let forUs = Infinity;
  try {
    if (v.for !== undefined) forUs = parseDuration(v.for);
  } catch (e) {
    fail(`--for: ${(e as Error).message}`);
  }
  const seed = Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail(`--seed must be an integer from 0 to 4294967295, not "${v.seed}"`);
  const sensors = Number(v.sensors);
  if (!Number.isInteger(sensors) || sensors < 1 || sensors > 32) fail(`--sensors must be an integer from 1 to 32, not "${v.sensors}"`);
  const wearables = Number(v.wearables);
  if (!Number.isInteger(wearables) || wearables < 0 || wearables > 7) fail(`--wearables must be an integer from 0 to 7, not "${v.wearables}"`);
  const speed = v.speed === 'max' ? Infinity : Number(v.speed);
  if (!(speed > 0)) fail(`--speed must be a positive number or "max", not "${v.speed}"`);

  const bridgePort = Number(v['bridge-port']);
  if (!Number.isInteger(bridgePort) || bridgePort < 0 || bridgePort > 65535) fail(`--bridge-port must be a port number 0..65535, not "${v['bridge-port']}"`);
  const webPort = v['web-port'] === undefined ? (bridgePort === 0 ? 0 : bridgePort + 2) : Number(v['web-port']);
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65535) fail(`--web-port must be a port number 0..65535, not "${v['web-port']}"`);

  let go;
  try {
    go = startDemo({
      seed, sensors, wearables, forUs, speed, pcap: v.pcap, json: v.json, bridgePort: v['no-bridge'] ? undefined : bridgePort, webPort,
      trace: v.trace ? (l) => console.log(l) : undefined, out: (l) => console.log(l),
    });
  } catch (e) {
    const msg = (e as Error).message;
    // Options startDemo refuses are usage errors; a file it cannot open is not (the options were fine).
    const opening = msg.startsWith('cannot start the demo');
    fail(msg + (opening && v.pcap ? ' (--pcap: give a file in a directory you can write)' : ''), !opening);
  }
  await go();
}

/** Is this file the program node was started with (not a module `picolink sim demo` imports)? */
function isProgram(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isProgram()) {
  // `npm start -- --trace | head`: the reader went away; stop quietly, as a shell pipeline expects.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  await main();
}

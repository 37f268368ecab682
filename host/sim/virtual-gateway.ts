// A virtual gateway board: the simulated network behind a tunnel gateway (tunnel-net.ts), paced to
// the wall clock, with the gateway's serial line on a real serial port, normally one end of a
// pseudo-terminal pair (hal/node/pty.ts). A host opens the other end exactly as it opens a real
// gateway board on USB (host/bridge/gateway.ts), so the serialport path, the framing and the tunnel
// are the ones a board uses; only the radio and the sensors are simulated.
//
// Run on its own:
//   node --import tsx host/sim/virtual-gateway.ts --port /dev/pts/5 [--sensors 2] [--seed 1] [--baud 115200]
//     [--bundle dist/sim.js]
// With --bundle the devices run the board's built bundle (its create()); without it, the firmware's
// sources. --sensor-bundle gives the sensors a bundle of their own (dist/sim-sensor.js), as on a
// network of boards each flashed with its role's bundle. --conversation has the sensors hold a Psync
// conversation with the host (at the gateway's address) as a participant.
// It prints one line with the gateway's address and the sensors, then runs until SIGINT or SIGTERM.
// With --storage DIR it is a virtual Espruino board instead (host/sim/espruino-repl.ts): its line
// starts as Espruino's console, with Storage kept in DIR, so `picolink flash` can put a bundle on it;
// load() (or a start with .bootcde in DIR, like a board powering up) runs the bundle, whose gateway
// then takes the line over, as on a real board. It prints "virtual board: ..." when its console is up.
// Pacing: every `tickMs` (default 2 ms) the scheduler runs up to the wall clock; bytes that arrive in
// between are handled at the scheduler's last time, at most a tick behind, which the protocols above
// (timeouts of tens of ms) do not notice. Host only.

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openSerial } from '../../hal/node/serial.ts';
import type { NodeSerial } from '../../hal/node/serial.ts';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { OP_COUNT, OP_READ, create as sourceCreate } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import { GATEWAY_ADDR, tunnelNet } from './tunnel-net.ts';
import type { TunnelNet } from './tunnel-net.ts';
import { virtualEspruino } from './espruino-repl.ts';
import type { VirtualEspruino } from './espruino-repl.ts';

export interface VirtualGatewayOptions {
  /** The serial port the gateway's line is on. */
  port: string;
  /** The port, already open (port is then only its name). */
  serial?: NodeSerial;
  baud?: number;
  seed?: number;
  sensors?: number;
  periodUs?: number;
  tickMs?: number;
  /** The gateway's create() (default: from source). */
  create?: (env: SimEnv) => SimDevice;
  /** The sensors' create() (default: `create`, or the source). */
  createSensor?: (env: SimEnv) => SimDevice;
  /** The sensors converse with the host (TunnelNetOptions.conversation). */
  conversation?: boolean;
}

/** create() from a built sim bundle (dist/sim.js). */
export function bundleCreate(file: string): (env: SimEnv) => SimDevice {
  return codeCreate(readFileSync(file, 'utf8'), file);
}

/** create() from a sim bundle's code; `what` names it in the error. */
export function codeCreate(code: string, what: string): (env: SimEnv) => SimDevice {
  let p: { create?: (env: SimEnv) => SimDevice } | undefined;
  try {
    p = new Function(`${code}\nreturn typeof picolink === "undefined" ? undefined : picolink;`)() as typeof p;
  } catch (e) {
    throw new Error(`${what} does not run: ${(e as Error).message}`);
  }
  if (typeof p?.create !== 'function') throw new Error(`${what} is not a sim board bundle (no create()): build it with npm run build`);
  return p.create;
}

export interface VirtualGateway {
  net: TunnelNet;
  serial: NodeSerial;
  stop(): Promise<void>;
}

export async function virtualGateway(o: VirtualGatewayOptions): Promise<VirtualGateway> {
  const serial = o.serial ?? await openSerial(o.port, { baud: o.baud ?? 115_200, pace: true });
  const net = tunnelNet({ seed: o.seed ?? 1, serial, sensors: o.sensors, periodUs: o.periodUs, create: o.create, createSensor: o.createSensor, conversation: o.conversation });
  const t0 = performance.now();
  const timer = setInterval(() => net.sched.runUntil(Math.floor((performance.now() - t0) * 1000)), o.tickMs ?? 2);
  return {
    net,
    serial,
    async stop() {
      clearInterval(timer);
      await serial.close();
    },
  };
}

/**
 * Run a virtual gateway in its own process (this file, through tsx) on `port`; resolves once it says
 * it runs, with its lines passed to `log`; rejects with its error output if it exits first.
 */
export function spawnVirtualGateway(port: string, o: { bundle?: string; sensorBundle?: string; storage?: string; sensors?: number; seed?: number; conversation?: boolean; log?: (line: string) => void } = {}): Promise<ChildProcess> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--port', port, '--sensors', String(o.sensors ?? 2), '--seed', String(o.seed ?? 1)];
  if (o.bundle) args.push('--bundle', o.bundle);
  if (o.storage) args.push('--storage', o.storage);
  if (o.sensorBundle) args.push('--sensor-bundle', o.sensorBundle);
  if (o.conversation) args.push('--conversation');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    child.stdout!.on('data', (d) => {
      const s = String(d);
      o.log?.(s.trim());
      if (s.includes('virtual gateway: address') || s.includes('virtual board: ')) resolve(child);
    });
    child.once('exit', (c) => reject(new Error(`the virtual gateway exited (${c}): ${err.trim()}`)));
  });
}

/** Kill a virtual gateway's process (as pulling a board's power) and wait until it is gone. */
export async function killVirtualGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

const USAGE = 'usage: virtual-gateway --port <serial port> [--sensors N] [--seed S] [--baud B] [--bundle dist/sim.js | --storage DIR] [--sensor-bundle dist/sim-sensor.js] [--conversation]';

async function main(): Promise<void> {
  let v;
  try {
    v = parseArgs({ options: { help: { type: 'boolean', short: 'h' }, port: { type: 'string' }, baud: { type: 'string', default: '115200' }, seed: { type: 'string', default: '1' }, sensors: { type: 'string', default: '2' }, bundle: { type: 'string' }, storage: { type: 'string' }, 'sensor-bundle': { type: 'string' }, conversation: { type: 'boolean' } } }).values;
  } catch (e) {
    process.stderr.write(`virtual-gateway: ${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (v.help) {
    process.stdout.write(`${USAGE}\nA virtual gateway board on a serial port (one end of a socat pseudo-terminal pair): with --bundle or\nnothing it runs the gateway at once; with --storage DIR it starts as an Espruino console for picolink flash.\n`);
    process.exit(0);
  }
  if (!v.port) {
    process.stderr.write(`virtual-gateway: --port is required: the serial port (a pseudo-terminal end) for the gateway's line\n${USAGE}\n`);
    process.exit(2);
  }
  const sensors = Number(v.sensors);
  const port = v.port;
  const o = { port, baud: Number(v.baud), seed: Number(v.seed), sensors, conversation: v.conversation === true, createSensor: v['sensor-bundle'] ? bundleCreate(v['sensor-bundle']) : undefined };
  let g: VirtualGateway | null = null;
  let repl: VirtualEspruino | null = null;
  const started = (gw: VirtualGateway): void => {
    g = gw;
    process.stdout.write(`virtual gateway: address ${GATEWAY_ADDR} on ${port}; sensors ${gw.net.sensorIds.join(', ')} (ops ${OP_READ} read, ${OP_COUNT} count)\n`);
  };
  const stop = (): void => {
    repl?.stop();
    void (g ? g.stop() : Promise.resolve()).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    if (v.storage) {
      const serial = await openSerial(port, { baud: o.baud, pace: true });
      const dir = v.storage;
      let loaded = false;
      repl = virtualEspruino(serial, {
        seed: o.seed,
        storageDir: dir,
        onLoad: (code, file) => {
          loaded = true;
          let create;
          try {
            create = codeCreate(new TextDecoder('latin1').decode(code), `Storage file ${file}`);
          } catch (e) {
            process.stderr.write(`virtual-gateway: ${(e as Error).message}\n`);
            process.exit(1);
          }
          void virtualGateway({ ...o, serial, create, createSensor: o.createSensor ?? sourceCreate }).then(started);
        },
      });
      process.stdout.write(loaded
        ? `virtual board: started .bootcde from ${dir} on ${port}\n`
        : `virtual board: Espruino console on ${port}, Storage in ${dir}\n`);
    } else {
      started(await virtualGateway({ ...o, create: v.bundle ? bundleCreate(v.bundle) : undefined }));
    }
  } catch (e) {
    process.stderr.write(`virtual-gateway: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();

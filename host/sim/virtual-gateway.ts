// A virtual gateway board: the simulated network behind a tunnel gateway (tunnel-net.ts), paced to
// the wall clock, with the gateway's serial line on a real serial port, normally one end of a
// pseudo-terminal pair (hal/node/pty.ts). A host opens the other end exactly as it opens a real
// gateway board on USB (host/bridge/gateway.ts), so the serialport path, the framing and the tunnel
// are the ones a board uses; only the radio and the sensors are simulated.
//
// Run on its own:
//   node --import tsx host/sim/virtual-gateway.ts --port /dev/pts/5 [--sensors 2] [--seed 1] [--baud 115200]
//     [--bundle dist/sim.js]
// With --bundle the devices run the board's built bundle (its create()), as the HIL suite's virtual
// boards do; without it, the firmware's sources.
// It prints one line with the gateway's address and the sensors, then runs until SIGINT or SIGTERM.
// Pacing: every `tickMs` (default 2 ms) the scheduler runs up to the wall clock; bytes that arrive in
// between are handled at the scheduler's last time, at most a tick behind, which the protocols above
// (timeouts of tens of ms) do not notice. Host only.

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { openSerial } from '../../hal/node/serial.ts';
import type { NodeSerial } from '../../hal/node/serial.ts';
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { OP_COUNT, OP_READ } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';
import { GATEWAY_ADDR, tunnelNet } from './tunnel-net.ts';
import type { TunnelNet } from './tunnel-net.ts';

export interface VirtualGatewayOptions {
  /** The serial port the gateway's line is on. */
  port: string;
  baud?: number;
  seed?: number;
  sensors?: number;
  periodUs?: number;
  tickMs?: number;
  /** The board's create() (default: from source). */
  create?: (env: SimEnv) => SimDevice;
}

/** create() from a built sim bundle (dist/sim.js). */
export function bundleCreate(file: string): (env: SimEnv) => SimDevice {
  const code = readFileSync(file, 'utf8');
  const p = new Function(`${code}\nreturn picolink;`)() as { create?: (env: SimEnv) => SimDevice };
  if (typeof p?.create !== 'function') throw new Error(`${file} is not a sim board bundle (no create()): build it with npm run build`);
  return p.create;
}

export interface VirtualGateway {
  net: TunnelNet;
  serial: NodeSerial;
  stop(): Promise<void>;
}

export async function virtualGateway(o: VirtualGatewayOptions): Promise<VirtualGateway> {
  const serial = await openSerial(o.port, { baud: o.baud ?? 115_200, pace: true });
  const net = tunnelNet({ seed: o.seed ?? 1, serial, sensors: o.sensors, periodUs: o.periodUs, create: o.create });
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
export function spawnVirtualGateway(port: string, o: { bundle?: string; sensors?: number; seed?: number; log?: (line: string) => void } = {}): Promise<ChildProcess> {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--port', port, '--sensors', String(o.sensors ?? 2), '--seed', String(o.seed ?? 1)];
  if (o.bundle) args.push('--bundle', o.bundle);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    child.stdout!.on('data', (d) => {
      const s = String(d);
      o.log?.(s.trim());
      if (s.includes('virtual gateway: address')) resolve(child);
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

async function main(): Promise<void> {
  let v;
  try {
    v = parseArgs({ options: { port: { type: 'string' }, baud: { type: 'string', default: '115200' }, seed: { type: 'string', default: '1' }, sensors: { type: 'string', default: '2' }, bundle: { type: 'string' } } }).values;
  } catch (e) {
    process.stderr.write(`virtual-gateway: ${(e as Error).message}\nusage: virtual-gateway --port <serial port> [--sensors N] [--seed S] [--baud B]\n`);
    process.exit(2);
  }
  if (!v.port) {
    process.stderr.write('virtual-gateway: --port is required: the serial port (a pseudo-terminal end) for the gateway\'s line\n');
    process.exit(2);
  }
  const sensors = Number(v.sensors);
  try {
    const g = await virtualGateway({ port: v.port, baud: Number(v.baud), seed: Number(v.seed), sensors, create: v.bundle ? bundleCreate(v.bundle) : undefined });
    process.stdout.write(`virtual gateway: address ${GATEWAY_ADDR} on ${v.port}; sensors ${g.net.sensorIds.join(', ')} (ops ${OP_READ} read, ${OP_COUNT} count)\n`);
    const stop = (): void => { void g.stop().then(() => process.exit(0)); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    process.stderr.write(`virtual-gateway: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();

// `picolink call`, `picolink devices`, `picolink groups`: requests to a running bridge over UDP
// (host/bridge/client.ts), the bridge that `npm start` or `picolink bridge` runs. The bridge is found at
// --bridge host:port (default 127.0.0.1:47910, or the PICOLINK_BRIDGE environment variable); a token
// comes from --token or PICOLINK_TOKEN. With --sim the command starts a bridge of its own on a
// simulated gateway network (host/sim/sim-gateway.ts, --sensors N) and stops it after the answer, so
// a first try needs nothing running. Exit 1 when the bridge answers with an error or nothing answers,
// with a message saying which and what to try (denied: how to give the token); 2 for a wrong command
// line, and for arguments too large for a bridge request (said at once, not after the timeout).

import { Option } from 'commander';
import type { Command } from 'commander';
import { BRIDGE_PORT, BridgeError, RequestTooLarge, bridgeClient } from '../bridge/client.ts';
import { BR_E_DENIED } from '../bridge/envelope.ts';
import { RR_E_TIMEOUT } from '../../firmware/rr/rr.ts';
import { toJson } from '../bridge/tcp.ts';
import type { BridgeClient } from '../bridge/client.ts';
import { startBridge } from '../bridge/bridge.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { simNames, startSimGateway } from '../sim/sim-gateway.ts';
import { durationArg, intArg } from './args.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

interface Common {
  bridge: string;
  sim?: boolean;
  sensors: number;
  token?: string;
  timeout: number;
  json?: boolean;
}

/** "host:port", "host", ":port", "port" or "[v6]:port" to a host and port (defaults 127.0.0.1, BRIDGE_PORT). */
export function bridgeAddress(s: string): { host: string; port: number } | null {
  const t = s.trim();
  let host = '127.0.0.1';
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (/^\d+$/.test(t)) portText = t;
  else {
    const i = t.lastIndexOf(':');
    if (i >= 0) {
      host = t.slice(0, i) || host;
      portText = t.slice(i + 1);
    } else if (t) host = t;
  }
  const port = portText === undefined ? BRIDGE_PORT : /^\d+$/.test(portText) ? Number(portText) : NaN;
  return port >= 1 && port <= 65535 ? { host, port } : null;
}

function where(cmd: Command, s: string): { host: string; port: number } {
  const at = bridgeAddress(s);
  if (!at) usageError(cmd, `--bridge ${s}: write host:port, like 127.0.0.1:${BRIDGE_PORT}`);
  return at;
}

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--bridge <host:port>', 'where the bridge listens').default(process.env.PICOLINK_BRIDGE ?? `127.0.0.1:${BRIDGE_PORT}`))
    .addOption(new Option('--token <token>', 'the token the bridge asks for (when it listens beyond loopback)').default(process.env.PICOLINK_TOKEN))
    .addOption(new Option('--timeout <duration>', 'give up after this long without an answer (500ms, 5s)').argParser(durationArg).default(10_000_000, '10s'))
    .addOption(new Option('--json', 'print the answer as JSON'))
    .addOption(new Option('--sim', 'no bridge running? start a simulated one for this command (a gateway with --sensors sensors, named sensor-1...)').conflicts('bridge'))
    .addOption(new Option('--sensors <n>', 'with --sim: sensors on the simulated radio, 1..32').argParser(intArg(1, 32)).default(2));
}

/** A bridge on a simulated gateway network, on loopback ports of its own, for one command (--sim). */
async function simBridge(sensors: number): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const g = await startSimGateway({ sensors });
  const clock = realClock();
  try {
    const b = await startBridge({ mac: g.mac, clock, rng: xoshiro(Date.now() >>> 0), udpPort: 0, tcpPort: 0, groups: [1], names: simNames(g.net.sensorIds) });
    return { host: '127.0.0.1', port: b.udp.port, stop: async () => { await b.close(); g.stop(); clock.close(); } };
  } catch (e) {
    g.stop();
    clock.close();
    throw e;
  }
}

/** Run one request; print the error and set exit 1 when it fails. */
async function ask(cmd: Command, ctx: VerbContext, o: Common, fields: Record<string, unknown>): Promise<{ ok: true; value: unknown } | { ok: false }> {
  let at = where(cmd, o.bridge);
  let c: BridgeClient | null = null;
  let sim: Awaited<ReturnType<typeof simBridge>> | null = null;
  try {
    if (o.sim) at = sim = await simBridge(o.sensors);
    c = await bridgeClient({ ...at, token: o.token, timeoutMs: Math.ceil(o.timeout / 1000) });
    return { ok: true, value: await c.request(fields) };
  } catch (e) {
    if (e instanceof RequestTooLarge) usageError(cmd, e.message);
    if (e instanceof BridgeError) {
      const fix = e.code === RR_E_TIMEOUT && fields.to !== undefined ? `; device ${JSON.stringify(fields.to)} did not answer: is it on the device network? \`picolink devices\` lists the devices the bridge knows`
        : e.code !== BR_E_DENIED ? ''
        : o.token === undefined ? '; it needs a token: give --token <token> or set PICOLINK_TOKEN'
        : '; the token given is not its token: give the one the bridge was started with (--token <token> or PICOLINK_TOKEN)';
      ctx.io.err(`picolink: the bridge answered: ${e.message} (code ${e.code})${fix}\n`);
      if (o.json) ctx.io.out(JSON.stringify({ err: { code: e.code, msg: e.detail } }) + '\n');
    } else ctx.io.err(`picolink: ${(e as Error).message}\n`);
    ctx.exit(EXIT_FAILED);
    return { ok: false };
  } finally {
    c?.close();
    await sim?.stop();
  }
}


export function registerDevices(program: Command, ctx: VerbContext): void {
  const { io } = ctx;

  const call = verb(program, 'call', 'call an operation on a device through a running bridge, and print its result', [
    ['picolink call sensor-1 1', 'operation 1 (a reading) on the device named sensor-1, over request-reply'],
    ['picolink call sensor-2 2 --sim', 'no bridge running: start a simulated one for this call'],
    ['picolink call 3 2 --proto RRA --json', 'operation 2 on device 3 with an acknowledged exchange; the result as JSON'],
    ['picolink call kitchen 5 \'{"level": 80}\' --bridge 10.0.0.2:47910 --token s3cret', 'with arguments, to a bridge on another host'],
  ]);
  common(call
    .argument('<device>', 'a device address (1..65279) or a name from `picolink devices`')
    .argument('<operation>', 'the operation number, 0..255', intArg(0, 255))
    .argument('[arguments]', 'the arguments as JSON (a number, a string in quotes, an array or an object)')
    .addOption(new Option('--proto <p>', 'R (request only), RR (request, reply) or RRA (request, reply, acknowledgement)').choices(['R', 'RR', 'RRA']).default('RR')))
    .addHelpText('after', '\nThe result is printed as JSON. Exit 1 when the device or the bridge answers with an error or nothing answers.')
    .action(async (device: string, op: number, args: string | undefined, o: Common & { proto: string }) => {
      const to = /^\d+$/.test(device) ? Number(device) : device;
      if (typeof to === 'number' && !(to >= 1 && to <= 0xfeff)) usageError(call, `device ${device}: an address is 1..65279; or give a name`);
      let a: unknown;
      if (args !== undefined) {
        try {
          a = JSON.parse(args);
        } catch {
          usageError(call, `arguments ${args}: not JSON; write a number (5), a string in quotes ('"on"'), an array or an object ('{"level": 80}')`);
        }
      }
      const r = await ask(call, ctx, o, { to, op, proto: o.proto, ...(a === undefined ? {} : { args: a }) });
      if (!r.ok) return;
      io.out((o.json ? toJson({ ok: r.value }) : toJson(r.value) ?? 'null') + '\n');
    });

  const devices = verb(program, 'devices', "list the devices in a running bridge's directory", [
    ['picolink devices', 'every device the bridge knows: name, address, type, operations'],
    ['picolink devices --type lamp --has 2 --json', 'lamps that have operation 2, as JSON'],
  ]);
  common(devices
    .addOption(new Option('--name <name>', 'only this name'))
    .addOption(new Option('--type <type>', 'only devices of this type'))
    .addOption(new Option('--has <op>', 'only devices with this operation').argParser(intArg(0, 255))))
    .action(async (o: Common & { name?: string; type?: string; has?: number }) => {
      const r = await ask(devices, ctx, o, { q: 'devices', ...(o.name ? { name: o.name } : {}), ...(o.type ? { type: o.type } : {}), ...(o.has !== undefined ? { has: o.has } : {}) });
      if (!r.ok) return;
      const list = (r.value ?? []) as { name: string; addr: number; type?: string; ops?: number[] }[];
      if (o.json) {
        io.out(toJson(list) + '\n');
        return;
      }
      if (list.length === 0) {
        io.out('no devices' + (o.name || o.type || o.has !== undefined ? ' match' : ' in the directory yet') + '\n');
        return;
      }
      const rows = [['NAME', 'ADDRESS', 'TYPE', 'OPERATIONS'], ...list.map((d) => [d.name, String(d.addr), d.type ?? '', (d.ops ?? []).join(',')])];
      io.out(table(rows));
    });

  const groups = verb(program, 'groups', 'list the device groups a running bridge maps to IP multicast', [
    ['picolink groups', 'each group with its IP multicast address and port'],
    ['picolink groups --json', 'the same as JSON'],
  ]);
  common(groups).action(async (o: Common) => {
    const r = await ask(groups, ctx, o, { q: 'groups' });
    if (!r.ok) return;
    const list = (r.value ?? []) as { group: number; ip: string; port: number }[];
    if (o.json) io.out(toJson(list) + '\n');
    else if (list.length === 0) io.out('no groups mapped\n');
    else io.out(table([['GROUP', 'IP MULTICAST'], ...list.map((g) => [String(g.group), `${g.ip}:${g.port}`])]));
  });
}

/** Rows as columns two spaces apart. */
export function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')).join('\n') + '\n';
}

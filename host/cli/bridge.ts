// `picolink bridge`: puts the device network on UDP/TCP sockets and IP multicast (host/bridge/), with
// its device side either a gateway board on a serial port (--port: the MAC tunnel,
// host/bridge/gateway.ts) or a simulated gateway network in this process (--sim: the sensors of
// host/sim/tunnel-net.ts behind a simulated serial wire, run at wall-clock pace). It prints where it
// listens and how to reach it, then runs until Ctrl-C (or for --for). A port that is taken, a gateway
// that does not answer, or a non-loopback address without a token are errors that say what to do (exit 1
// for the first two, 2 for the last). With a token, the suggested commands show where it goes
// (--token <token>) but never the token itself. It also serves the browser page (host/web/) with the bridge's
// WebSocket front on --web-port (default the UDP port + 2, as npm start does; --no-web: neither).

import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { xoshiro } from '../../hal/prng.ts';
import { realClock } from '../../hal/node/clock.ts';
import { startBridge } from '../bridge/bridge.ts';
import { buildPage, pageHandler } from '../web/build.ts';
import type { Bridge } from '../bridge/bridge.ts';
import { BRIDGE_PORT } from '../bridge/client.ts';
import { captured, serialGateway } from '../bridge/gateway.ts';
import { fileSink, pcapWriter } from '../../hal/mw/pcap.ts';
import type { SerialGateway } from '../bridge/gateway.ts';
import { simNames, startSimGateway } from '../sim/sim-gateway.ts';
import { durationArg, intArg, seedArg } from './args.ts';
import { resolvePort } from './ports.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

interface BridgeVerbOptions {
  port?: string;
  sim?: boolean;
  baud: number;
  pace?: boolean;
  sensors: number;
  seed: number;
  listen: string;
  token?: string;
  udpPort: number;
  tcpPort?: number;
  groups: number[];
  name: string[];
  for?: number;
  pcap?: string;
  webPort?: number;
  web: boolean;
}

/** "1,2,5" to device groups 0..254. */
function groupsArg(s: string): number[] {
  const parts = s.split(',').map((x) => x.trim()).filter((x) => x);
  const g = parts.map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (g.some((x) => !(x >= 0 && x <= 254))) throw new InvalidArgumentError('Write device groups 0..254 separated by commas, like 1,2.');
  return g;
}

export function registerBridge(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'bridge', 'reach the device network from IP programs: UDP, TCP and IP multicast', [
    ['picolink bridge --port /dev/ttyUSB0', 'through the gateway board on that serial port, on 127.0.0.1:47910'],
    ['picolink bridge --sim --sensors 3', 'a simulated gateway with three sensors, no board needed'],
    ['picolink bridge --port /dev/ttyACM0 --listen 0.0.0.0 --token s3cret --groups 1,2', 'for other hosts too, with a token; device groups 1 and 2 on IP multicast'],
  ]);
  cmd
    .addOption(new Option('--port <path>', 'the serial port of a gateway board running the gateway bundle, or serial:<USB serial number>').conflicts('sim'))
    .addOption(new Option('--sim', 'a simulated gateway network in this process instead of a board'))
    .addOption(new Option('--baud <rate>', 'the gateway line\'s baud rate').argParser(intArg(300, 4_000_000)).default(115_200))
    .addOption(new Option('--pace', 'pace what the host sends as a UART would (for a pseudo-terminal, e.g. a virtual gateway)'))
    .addOption(new Option('--sensors <n>', 'with --sim: sensors on the simulated radio, 1..32').argParser(intArg(1, 32)).default(2))
    .addOption(new Option('--seed <s>', 'with --sim: random seed').argParser(seedArg).default(1))
    .addOption(new Option('--listen <address>', 'address the UDP and TCP fronts listen on (beyond loopback needs --token)').default('127.0.0.1'))
    .addOption(new Option('--token <token>', 'a token every IP request must carry').default(process.env.PICOLINK_TOKEN))
    .addOption(new Option('--udp-port <n>', 'UDP port (0: any free one)').argParser(intArg(0, 65535)).default(BRIDGE_PORT))
    .addOption(new Option('--tcp-port <n>', 'TCP port (default: the UDP port)').argParser(intArg(0, 65535)))
    .addOption(new Option('--groups <list>', 'device groups to map to IP multicast 239.255.80.<g>:47800').argParser(groupsArg).default([1]))
    .addOption(new Option('--name <name=address...>', 'name a device in the directory, like kitchen=3 (repeatable)').default([]))
    .addOption(new Option('--for <duration>', 'stop after this long (500ms, 5s, 2m); default: until Ctrl-C').argParser(durationArg))
    .addOption(new Option('--web-port <n>', 'the browser page and the WebSocket front on this port (default: the UDP port + 2; 0: any free one)').argParser(intArg(0, 65535)))
    .addOption(new Option('--no-web', 'no browser page and no WebSocket front'))
    .addOption(new Option('--pcap <file>', 'record the gateway line, both ways, for Wireshark (tshark -X lua_script:host/wireshark/picolink.lua -r <file>)'))
    .addHelpText('after', `
Then, from another terminal:  picolink devices;  picolink call <name or address> <operation>;
or  echo '{"id":1,"to":"sensor-1","op":1}' | nc -N 127.0.0.1 ${BRIDGE_PORT}   (README: "The bridge").`)
    .action(async (o: BridgeVerbOptions) => {
      if (!o.port && !o.sim) usageError(cmd, 'say where the devices are: --port <serial port> for a gateway board, or --sim for a simulated one');
      const names: { name: string; addr: number; type?: string; ops?: number[] }[] = [];
      for (const n of o.name) {
        const m = /^([^=\s]+)=(\d+)$/.exec(n);
        if (!m || !(Number(m[2]) >= 1 && Number(m[2]) <= 0xfeff)) usageError(cmd, `--name ${n}: write name=address with an address 1..65279, like kitchen=3`);
        names.push({ name: m[1], addr: Number(m[2]) });
      }
      let sink;
      try {
        sink = o.pcap ? fileSink(o.pcap) : null;
      } catch (e) {
        usageError(cmd, `cannot write ${o.pcap} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a file in a directory that exists`);
      }
      const writer = sink ? pcapWriter(sink) : undefined;
      const clock = realClock();
      const stops: (() => Promise<void> | void)[] = [() => sink?.close(), () => clock.close()];
      const stopAll = async (): Promise<void> => {
        for (const s of stops.reverse()) await s();
      };
      let mac;
      let what: string;
      try {
        if (o.sim) {
          const g = await startSimGateway({ seed: o.seed, sensors: o.sensors, baud: o.baud, wrap: (l, c) => captured(l, c, writer) });
          stops.push(() => g.stop());
          mac = g.mac;
          names.push(...simNames(g.net.sensorIds).filter((x) => !names.some((n) => n.addr === x.addr)));
          what = `a simulated gateway (address ${mac.addr}) with sensors ${g.net.sensorIds.join(', ')} on a 250 kbit/s CSMA/CA radio`;
        } else {
          const g: SerialGateway = await serialGateway(await resolvePort(o.port!), { clock, baud: o.baud, pace: !!o.pace, capture: writer });
          stops.push(() => g.close());
          mac = g.mac;
          what = `the gateway at address ${mac.addr} on ${o.port} (${o.baud} baud, ${g.mac.info.mtu}-byte payloads)`;
        }
      } catch (e) {
        await stopAll();
        io.err(`picolink: ${(e as Error).message}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      // The browser page (host/web/) on the WebSocket front's HTTP server, as npm start serves it.
      let web: { port: number; http: ReturnType<typeof pageHandler> } | undefined;
      if (o.web) {
        try {
          web = { port: o.webPort ?? (o.udpPort === 0 ? 0 : o.udpPort + 2), http: pageHandler(await buildPage({ minify: false })) };
        } catch (e) {
          io.err(`picolink: the web page did not build (${(e as Error).message}); running without it\n`);
        }
      }
      let bridge: Bridge;
      try {
        bridge = await startBridge({
          mac, clock, rng: xoshiro(Date.now() >>> 0), host: o.listen, token: o.token, udpPort: o.udpPort, tcpPort: o.tcpPort ?? o.udpPort,
          // The bridge's lines carry their own prefix ("bridge: ", "bridge tcp: "...).
          groups: o.groups, names, log: (l) => io.err(`${l}\n`), web,
        });
      } catch (e) {
        await stopAll();
        const m = (e as Error).message;
        if (/token/.test(m)) usageError(cmd, m);
        io.err(`picolink: the bridge did not start: ${m}${/EADDRINUSE|in use/i.test(m) ? ' (another bridge, or npm start, may hold the port: try --udp-port <n>, and --web-port <n> or --no-web)' : ''}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      stops.push(() => bridge.close());
      // Where a client on this host reaches it: a wildcard address is not one to send to everywhere.
      const reach = o.listen === '0.0.0.0' ? '127.0.0.1' : o.listen === '::' ? '::1' : o.listen;
      const hostPort = (h: string, p: number): string => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);
      const at = bridge.udp.port === bridge.tcp.port ? `udp and tcp ${o.listen}:${bridge.udp.port}` : `udp ${o.listen}:${bridge.udp.port}, tcp ${o.listen}:${bridge.tcp.port}`;
      io.out(`bridge: ${what}\n`);
      io.out(`bridge: ${at} (tcp: CBOR frames or JSON lines); groups ${(bridge.groups?.list() ?? []).map((x) => `${x.group} -> ${x.ip}:${x.port}`).join(', ') || 'none'}\n`);
      if (bridge.web) io.out(`bridge: web page http://${o.listen}:${bridge.web.port}/ (devices, calls and live traffic; its WebSocket is the bridge's)\n`);
      // The token is a secret: the suggestion names where it goes, not what it is.
      const tok = o.token === undefined ? '' : ' --token <token>';
      io.out(`bridge: try  picolink devices --bridge ${hostPort(reach, bridge.udp.port)}${tok}   or   echo '{"id":1,"q":"devices"${o.token === undefined ? '' : ',"token":"<token>"'}}' | nc -N ${reach} ${bridge.tcp.port}\n`);
      if (o.token !== undefined) io.out('bridge: every request must carry this bridge\'s token (<token> above: the one given with --token or PICOLINK_TOKEN; with PICOLINK_TOKEN set, the picolink commands send it)\n');
      await new Promise<void>((resolve) => {
        const done = (): void => {
          process.off('SIGINT', done);
          process.off('SIGTERM', done);
          if (limit) clearTimeout(limit);
          resolve();
        };
        const limit = o.for !== undefined ? setTimeout(done, Math.ceil(o.for / 1000)) : null;
        process.on('SIGINT', done);
        process.on('SIGTERM', done);
      });
      await stopAll();
      io.out('bridge: stopped\n');
    });
}

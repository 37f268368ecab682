// An ESP32 running Espruino (its ESP32 build) as a node on a LAN: it joins a Wi-Fi network through
// require("Wifi"), then speaks the device network's UDP datagrams (hal/espruino/dgram.ts, one frame per
// datagram to every peer, as hal/node/udp.ts) under the raw MAC (firmware/mac/raw.ts). Roles: a
// telemetry sensor (readings every periodUs to `sink`, by default the broadcast address, so any Node
// gateway among the peers takes them) and a request-reply server (OP_ECHO, OP_INFO: what the linux
// board serves under those numbers), both on service ports (firmware/mac/ports.ts).
//
// Configuration: the Storage file picolink.json, written at flash time (e.g. `require("Storage").write(
// "picolink.json", {...})` at the console, or picolink flash's file target), read once at start:
//   ssid, password   the Wi-Fi network (required; password may be "" for an open network)
//   addr             station address 1..0xFEFF (required); port: local UDP port (default 5000)
//   peers            ["192.168.1.20:5000", ...]: every frame goes to each (IP addresses, not names)
//   sink             where readings go (default 0xFFFF, broadcast); periodUs (default 5 s)
// Wi-Fi facts (Espruino 2v29 libs/network/jswrap_wifi.c): Wifi.connect(ssid, { password }, cb) calls
// cb(null) once an address is obtained (DHCP), or cb("error text"); the only error it reports is a
// bad password: an access point that is missing or a DHCP timeout just keep it retrying, with no
// callback. So the board waits connectTimeoutUs (20 s) for the callback itself; a failure or timeout
// is printed with the SSID and the attempt number and retried after a delay that doubles from 2 s, at
// most wifiTries (6) times; then it gives up with a message saying what to check. After a
// 'disconnected' event it connects again under the same bound. The UDP link is made once, on the
// first connection: Espruino's sockets belong to the network, so while Wi-Fi is down sends fail and
// the frames are lost, as on a radio out of range.
// Budget: the ESP32 build's 'variables' is 16383 (boards/ESP32.py), the most its 14-byte JsVars
// address; at boot it takes what the heap leaves (targets/esp32/main.c: (free heap - ESP_HEAP_SIZE) /
// 14), so the figure below is that ceiling, not a measurement. The board uses an mtu of 256 (so the
// socket keeps Espruino's default 536-byte receive buffer, which lives on the C stack at every idle
// pass), 8 request-reply history entries, a raw MAC queue of 4: a few hundred JsVars of tables.
// The bundle is held to 24 KB: code is kept as JsVars on the board too, and an ESP32 has room for it
// next to the tables many times over; the budget catches growth.

import type { BoardInfo } from './board.ts';
import type { Clock, Timer } from '../hal/clock.ts';
import type { Rng } from '../hal/rng.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { dgramLink } from '../hal/espruino/dgram.ts';
import type { DgramEndpoint, DgramLink, EspruinoBytes, EspruinoDgram } from '../hal/espruino/dgram.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import type { RawMac } from '../firmware/mac/raw.ts';
import { ADDR_BROADCAST } from '../firmware/mac/mac.ts';
import { macPorts, SVC_RR, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { macLink } from '../firmware/mac/link.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';
import { RR_OK, rr } from '../firmware/rr/rr.ts';
import type { Rr } from '../firmware/rr/rr.ts';

export const board: BoardInfo = {
  name: 'esp32',
  title: 'ESP32 (Espruino ESP32 build): a telemetry sensor and request-reply server on Wi-Fi UDP',
  jsvars: 16383,
  budgetBytes: 24576,
  mtu: 256,
  radio: 'Wi-Fi station (require("Wifi")), UDP datagrams to a list of peers (hal/espruino/dgram.ts)',
  roles: ['sensor'],
  autostart: true,
};

export const CONFIG_FILE = 'picolink.json';
export const OP_ECHO = 1;
export const OP_INFO = 4;

export interface Esp32Config {
  ssid: string;
  password: string;
  addr: number;
  port?: number;
  peers: string[];
  sink?: number;
  periodUs?: number;
}

/** require("Wifi"), reduced to what this board calls. */
export interface EspruinoWifi {
  connect(ssid: string, options: { password: string }, cb: (err: string | null) => void): void;
  disconnect(cb?: () => void): void;
  on(event: 'disconnected', fn: (details: { reason?: string }) => void): void;
  getIP(): { ip: string };
}

/** require("Storage"), the one call this board makes. */
export interface EspruinoStorageJson {
  readJSON(name: string, noExceptions: boolean): unknown;
}

/** The Espruino built-ins this board reads; tests pass fakes (and may pass a clock and an rng). */
export interface Esp32Builtins {
  require(name: string): unknown;
  print(...a: unknown[]): void;
  process: { memory(): { free: number } };
  E: EspruinoBytes;
  clock?: Clock;
  rng?: Rng;
}

export interface Esp32Node {
  config: Esp32Config;
  /** 'connecting', 'up', 'down' (lost, reconnecting) or 'failed' (gave up). */
  wifi(): string;
  /** Wi-Fi connection attempts so far. */
  attempts(): number;
  /** Set once Wi-Fi first came up. */
  link: DgramLink | null;
  mac: RawMac | null;
  telemetry: Telemetry | null;
  rr: Rr | null;
}

const CONNECT_TIMEOUT_US = 20000000;
const FIRST_RETRY_US = 2000000;
const WIFI_TRIES = 6;

declare function require(name: string): unknown;
declare function print(...a: unknown[]): void;

function fail(what: string): never {
  throw new Error('picolink esp32: ' + what + ' (write the Storage file ' + CONFIG_FILE + ': see boards/esp32.ts)');
}

/** Read and check picolink.json from Storage. */
export function readConfig(storage: EspruinoStorageJson): Esp32Config {
  const c = storage.readJSON(CONFIG_FILE, true) as Esp32Config | undefined;
  if (!c || typeof c !== 'object') return fail('no ' + CONFIG_FILE + ' in Storage, or it is not JSON');
  if (typeof c.ssid !== 'string' || c.ssid === '') fail('ssid is missing');
  if (typeof c.password !== 'string') fail('password is missing (use "" for an open network)');
  if (typeof c.addr !== 'number' || !(c.addr >= 1 && c.addr <= 0xfeff)) fail('addr ' + c.addr + ' is not a station address 1..65279');
  if (!Array.isArray(c.peers) || c.peers.length === 0) fail('peers must list at least one "ip:port"');
  return c;
}

function endpoint(p: string): DgramEndpoint {
  const i = p.lastIndexOf(':');
  const port = Number(p.slice(i + 1));
  if (i < 1 || !(port > 0 && port < 65536)) fail('peer "' + p + '" is not "ip:port"');
  return { address: p.slice(0, i), port: port };
}

export function create(g?: Esp32Builtins): Esp32Node {
  const b = g || ({ require: require, print: print, process: process, E: E } as unknown as Esp32Builtins);
  const c = readConfig(b.require('Storage') as EspruinoStorageJson);
  const peers: DgramEndpoint[] = [];
  for (let i = 0; i < c.peers.length; i++) peers.push(endpoint(c.peers[i]));
  const clock = b.clock || espruinoClock();
  const rng = b.rng || espruinoRng();
  const wifi = b.require('Wifi') as EspruinoWifi;
  let state = 'connecting';
  let attempts = 0;
  let failures = 0;
  let waiting: Timer | null = null; // the connect timeout's timer
  let callbackFor = 0; // the attempt a connect callback answers; older ones are ignored

  const node: Esp32Node = {
    config: c,
    wifi: function () { return state; },
    attempts: function () { return attempts; },
    link: null, mac: null, telemetry: null, rr: null,
  };

  function up(): void {
    if (node.link) return;
    const link = dgramLink({ port: c.port || 5000, peers: peers, clock: clock, mtu: board.mtu, maxInFlight: 4, dgram: b.require('dgram') as EspruinoDgram, bytes: b.E });
    const mac = rawMac(link, c.addr, 4);
    const ports = macPorts(mac, 4);
    const r = rr({
      mac: ports.port(SVC_RR), clock: clock, rng: rng,
      config: { maxCalls: 1, timeoutUs: 200000, maxTimeoutUs: 2000000, retries: 4, historyEntries: 8, historyUs: 30000000, maxPending: 2, clients: 2 },
    });
    r.register(OP_ECHO, function (args, req) { r.reply(req, RR_OK, args); }, true);
    r.register(OP_INFO, function (_a, req) {
      r.reply(req, RR_OK, { runtime: 'esp32', addr: c.addr, free: b.process.memory().free, sent: node.telemetry ? node.telemetry.stats.sent : 0, attempts: attempts });
    }, true);
    let n = 0;
    const period = c.periodUs || 5000000;
    node.telemetry = telemetry({
      link: macLink(ports.port(SVC_TELEMETRY), c.sink === undefined ? ADDR_BROADCAST : c.sink), clock: clock, rng: rng, id: c.addr,
      periodUs: period, jitterUs: Math.floor(period / 5), backoffUs: 10000, maxTries: 4,
      read: function () {
        return { n: ++n, f: b.process.memory().free };
      },
    });
    node.link = link;
    node.mac = mac;
    node.rr = r;
  }

  function attempt(): void {
    attempts++;
    const mine = ++callbackFor;
    waiting = clock.at(clock.now() + CONNECT_TIMEOUT_US, function () {
      waiting = null;
      callbackFor++; // a callback after the timeout is too late
      failed('no connection after ' + CONNECT_TIMEOUT_US / 1000000 + ' s (access point out of range, or no DHCP answer?)');
    });
    wifi.connect(c.ssid, { password: c.password }, function (err) {
      if (mine !== callbackFor) return;
      if (waiting !== null) clock.cancel(waiting);
      waiting = null;
      if (err) {
        failed(String(err));
        return;
      }
      failures = 0;
      state = 'up';
      b.print('picolink esp32: Wi-Fi "' + c.ssid + '" up, station ' + c.addr + ' on UDP port ' + (c.port || 5000));
      up();
    });
  }

  function failed(why: string): void {
    failures++;
    if (failures >= WIFI_TRIES) {
      state = 'failed';
      b.print('picolink esp32: Wi-Fi "' + c.ssid + '" failed ' + failures + ' times (' + why + '); giving up: check ssid and password in ' + CONFIG_FILE + ' and reset');
      wifi.disconnect();
      return;
    }
    const delay = FIRST_RETRY_US * (1 << (failures - 1));
    state = node.link ? 'down' : 'connecting';
    b.print('picolink esp32: Wi-Fi "' + c.ssid + '" attempt ' + failures + ' of ' + WIFI_TRIES + ' failed: ' + why + '; again in ' + delay / 1000000 + ' s');
    clock.at(clock.now() + delay, attempt);
  }

  wifi.on('disconnected', function (d) {
    if (state !== 'up') return;
    state = 'down';
    b.print('picolink esp32: Wi-Fi "' + c.ssid + '" lost (' + (d && d.reason) + '); reconnecting');
    clock.at(clock.now() + FIRST_RETRY_US, attempt);
  });
  attempt();
  return node;
}

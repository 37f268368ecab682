// Espruino Pico (STM32F401CDU6, 5 100 JsVars) with an nRF24L01+ module on SPI2, as a CSMA/CA telemetry
// sensor on the device network: readings (temperature in 0.1 °C, reference voltage in mV, free JsVars) broadcast every
// second through the CSMA/CA MAC (nRF24 preset) over the radio driver (hal/espruino/nrf24.ts).
// Wiring, from the Pico's pin headers and its chip's alternate functions (Espruino's
// boards/PICO_R1_3.py and boards/pins/stm32f401_af.csv): SPI2 on the top header, B13 SCK, B14 MISO,
// B15 MOSI (AF5); CSN on B10, CE on B1, IRQ on A8; the module's VCC on 3.3 V (not BAT_IN) and GND.
// SPI mode 0 at 4 MHz (the chip takes up to 10). The console stays on USB. Radio: channel 76,
// 250 kbit/s, the network address e7e7e7e7e7 shared by every station (the MAC addresses frames).
// The readings go to the broadcast address, so any gateway in range relays them and none has to
// acknowledge; request-reply and Psync are not carried (they would not fit the budget).
// Role bundles: pico-nrf24-sensor (the sensor alone) and pico-nrf24-gateway, the same board as a gateway for the host's bridge. It lends its
// CSMA/CA MAC over USB (the MAC tunnel, firmware/mac/tunnel.ts: `picolink bridge --port /dev/ttyACM0`
// opens it), 115200 baud nominal, COBS + CRC-16 frames, and forces the REPL console onto LoopbackA so
// USB carries only frames. The way back to the REPL for flashing: reset the Pico holding BTN1 (press
// it just after plugging in; the saved code is skipped) and flash at once.
// pico-nrf24-slave: a piconet slave (firmware/mac/piconet/, PICONET_NRF24 with 26-byte DH1 payloads
// and 1 650 µs slots for this driver: piconetPico) that waits in standby, answers a master's inquiry
// and page, and serves request-reply calls (firmware/rr/) on the piconet directly: no service byte (a
// piconet carries nothing else here), no CSMA/CA, no client. Its operations: OP_READ (idempotent: the
// readings, as the sensor's) and OP_ECHO (its arguments back). Its server uses RR_RAW (firmware/rr/
// raw.ts): arguments are checked as CBOR but passed through undecoded, results are integers and ASCII
// keys, so the bundle carries no CBOR decoder (the wire stays CBOR). pico-nrf24-node: the full node, CSMA/CA
// with service ports, request-reply server (the same two operations) and client on SVC_RR, and a Psync
// participant on SVC_PSYNC (PICO_PSYNC: one conversation of up to 8, tables sized for the Pico) that
// waits for a conversation to open and delivers through app.psync.onDeliver; the application opens its
// own with app.psync.activeOpen. Both roles keep their tables small (PICO_RR, PICO_PSYNC) so that their
// JsVars leave the Pico's application most of its 5 100. create() calls each factory with NOINLINE:
// inlined by terser, a factory becomes an IIFE inside create(), and each closure it makes costs a
// JsVar more (bench/footprint.ts): 121 JsVars less on the node, 7 on the slave.

import type { BoardInfo } from './board.ts';
import type { EspruinoPin } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { nrf24 } from '../hal/espruino/nrf24.ts';
import type { EspruinoPinsApi, Nrf24Link } from '../hal/espruino/nrf24.ts';
import { espruinoUart } from '../hal/espruino/uart.ts';
import { framedLink } from '../hal/framing/link.ts';
import { encodedMax } from '../hal/framing/cobs.ts';
import type { EspruinoConsolePort, EspruinoSerial } from '../hal/espruino/espruino.d.ts';
import { tunnelGateway } from '../firmware/mac/tunnel.ts';
import type { TunnelGateway } from '../firmware/mac/tunnel.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../firmware/mac/csma/config.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST, stationAddrOf } from '../firmware/mac/mac.ts';
import { macPorts, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';
import { piconetSlave } from '../firmware/mac/piconet/piconet.ts';
import type { PiconetSlave } from '../firmware/mac/piconet/piconet.ts';
import { PICONET_NRF24 } from '../firmware/mac/piconet/config.ts';
import type { PiconetConfig } from '../firmware/mac/piconet/config.ts';
import { SVC_PSYNC, SVC_RR } from '../firmware/mac/ports.ts';
import { RR_OK, rr, rrServerWith } from '../firmware/rr/rr.ts';
import { RR_RAW } from '../firmware/rr/raw.ts';
import type { Rr, RrConfig, RrServer } from '../firmware/rr/rr.ts';
import { psync } from '../firmware/psync/psync.ts';
import type { Psync, PsyncConfig } from '../firmware/psync/psync.ts';
import type { Mac } from '../firmware/mac/mac.ts';

export const board: BoardInfo = {
  name: 'pico-nrf24',
  title: 'Espruino Pico (STM32F401CDU6) with an nRF24L01+ on SPI2: a CSMA/CA telemetry sensor',
  jsvars: 5100,
  // Every role, for tests and the simulator; a Pico is flashed with its role's bundle (below).
  budgetBytes: 59392,
  mtu: 31,
  radio: 'nRF24L01+ on SPI2 (B13 SCK, B14 MISO, B15 MOSI), CSN B10, CE B1, IRQ A8; channel 76, 250 kbit/s',
  roles: ['sensor', 'gateway', 'slave', 'node'],
  autostart: true,
  bundles: [
    // The sensor alone.
    { name: 'pico-nrf24-sensor', roles: ['sensor'], budgetBytes: 16384 },
    // The gateway alone: what a Pico on the host's USB is flashed with.
    { name: 'pico-nrf24-gateway', roles: ['tunnel'], budgetBytes: 16384 },
    // A piconet slave with a request-reply server (the target: 6 KB; 17 885 bytes, where it
    // stands and what would close the gap: bench/footprint.ts).
    { name: 'pico-nrf24-slave', roles: ['slave'], budgetBytes: 18432 },
    // The full node: CSMA/CA, request-reply server and client, Psync (the target: 12 KB; 44 459
    // bytes, Psync 20 KB of them). The margin leaves room for Psync work under way.
    { name: 'pico-nrf24-node', roles: ['node'], budgetBytes: 46080 },
  ],
};

// Request-reply operations both the slave and the node serve.
/** Idempotent: no arguments; the readings { t: 0.1 °C, mv: reference mV, f: free JsVars }. */
export const OP_READ = 1;
/** Its arguments back (at-most-once, so a duplicate is answered from the history). */
export const OP_ECHO = 2;

/**
 * Request-reply sized for a Pico: two calls out at once, 8 replies of history (fewer than the 16 per
 * client that make at-most-once exact, firmware/rr/rr.ts: when it is full the oldest finished reply
 * is evicted and counted in stats.historyEvictions), two requests executing, four clients remembered.
 */
export const PICO_RR: RrConfig = {
  maxCalls: 2, timeoutUs: 200000, maxTimeoutUs: 2000000, retries: 4, historyEntries: 8, historyUs: 30000000, maxPending: 2, clients: 4,
};
/** Psync sized for a Pico: one conversation, 16 graph nodes, 8 message copies (see firmware/psync/psync.ts, Memory). */
export const PICO_PSYNC: PsyncConfig = {
  conversations: 1, nodes: 16, bufs: 8, reserve: 2, hold: 4, pending: 1, forget: 2,
  holdUs: 20000, rtxUs: 40000, rtxTries: 4, rtxAllTries: 4, group: 0,
};
/**
 * The piconet preset for this driver: DH1 payloads of 26 bytes (its frames are 31 bytes, beside the
 * 5-byte header), every packet 32 bytes on the air (the driver pads to the chip's fixed payload
 * width), 106 PHY bits (the chip's 73, and 33 that stand for the 130 µs it settles into TX before a
 * packet leaves, at 250 kbit/s) and 1 650 µs slots. A slave dates the master's packet from its end less
 * its airtime and answers one slot after it began; its own chip settles 130 µs more before the reply
 * leaves: 130 + 1 316 µs of a full frame must end inside the slot, with room for the master's check.
 */
export function piconetPico(): PiconetConfig {
  return Object.assign({}, PICONET_NRF24, { dh1: 26, frameBytes: 32, phyHeaderBits: 106, slotUs: 1650 });
}

/** Frames on the USB line: a tunnel message of the MAC's largest payload fits (it is about 30 bytes). */
const LINE_MTU = 64;

/** The SPI port the module is on, as Espruino's SPI2 object. */
interface EspruinoSpiPort {
  setup(o: { sck: EspruinoPin; miso: EspruinoPin; mosi: EspruinoPin; baud: number; mode: number }): void;
  send(data: Uint8Array, nss: EspruinoPin): Uint8Array;
}

/** The Espruino built-ins this board reads, beyond what the drivers declare. */
interface PicoRadioBuiltins extends EspruinoPinsApi {
  getSerial(): string;
  E: { getTemperature(): number; getAnalogVRef(): number };
  process: { memory(): { free: number } };
  SPI2: EspruinoSpiPort;
  B13: EspruinoPin; B14: EspruinoPin; B15: EspruinoPin; B10: EspruinoPin; B1: EspruinoPin; A8: EspruinoPin;
  /** The gateway role's line, and where its console goes. */
  USB: EspruinoSerial;
  LoopbackA: EspruinoConsolePort;
}


export interface PicoRadio {
  radio: Nrf24Link;
  /** CSMA/CA (sensor, gateway, node) or the piconet slave (slave). */
  mac: CsmaMac | PiconetSlave;
  /** The sensor role's. */
  telemetry: Telemetry | null;
  /** The gateway role's. */
  gateway: TunnelGateway | null;
  /** The node's request-reply endpoint. */
  rr: Rr | null;
  /** The slave's request-reply server (it makes no calls). */
  server: RrServer | null;
  /** The node's Psync endpoint. */
  psync: Psync | null;
}

// Which roles this bundle carries (rollup.config.js defines them per bundle; from source: every role).
declare const ROLE_SENSOR: boolean, ROLE_TUNNEL: boolean, ROLE_SLAVE: boolean, ROLE_NODE: boolean;

/** The role a bundle starts in: the first it carries of sensor, gateway, slave, node. */
function defaultRole(): string {
  if (typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR) return 'sensor';
  if (ROLE_TUNNEL) return 'gateway';
  return ROLE_SLAVE ? 'slave' : 'node';
}

/** Register the operations the slave and the node serve. */
function serve(r: RrServer, read: () => unknown): void {
  r.register(OP_READ, function (_args, req) {
    r.reply(req, RR_OK, read());
  }, true);
  r.register(OP_ECHO, function (args, req) {
    r.reply(req, RR_OK, args);
  });
}

export function create(g?: PicoRadioBuiltins, role?: string): PicoRadio {
  const b = g || (globalThis as unknown as PicoRadioBuiltins);
  const clock = /* @__NOINLINE__ */ espruinoClock();
  const rng = /* @__NOINLINE__ */ espruinoRng();
  b.SPI2.setup({ sck: b.B13, miso: b.B14, mosi: b.B15, baud: 4000000, mode: 0 });
  const radio = /* @__NOINLINE__ */ nrf24({
    spi: b.SPI2,
    pins: { digitalWrite: b.digitalWrite, setWatch: b.setWatch },
    csn: b.B10, ce: b.B1, irq: b.A8, clock: clock, channel: 76, bitrate: 250000,
  });
  const id = stationAddrOf(b.getSerial());
  const r = role || defaultRole();
  // Short keys and integers, as the demonstration's sensors: a CSMA/CA payload here has 17 bytes
  // for the reading after the MAC, port and telemetry headers.
  const read = function () {
    return {
      t: Math.round(b.E.getTemperature() * 10), // 0.1 °C
      mv: Math.round(b.E.getAnalogVRef() * 1000),
      f: b.process.memory().free,
    };
  };
  if ((typeof ROLE_SLAVE === 'undefined' || ROLE_SLAVE) && r === 'slave') {
    const sl = /* @__NOINLINE__ */ piconetSlave({ link: radio, clock: clock, rng: rng, addr: id, config: piconetPico() });
    // Its handlers pass arguments through unread (OP_ECHO): RR_RAW checks them as CBOR without
    // decoding them, so this bundle carries no CBOR decoder.
    const sr = /* @__NOINLINE__ */ rrServerWith({ mac: sl, clock: clock, rng: rng, config: PICO_RR }, RR_RAW);
    /* @__NOINLINE__ */ serve(sr, read);
    return { radio: radio, mac: sl, telemetry: null, gateway: null, rr: null, server: sr, psync: null };
  }
  // A slave-only bundle carries no CSMA/CA: the build drops what follows.
  if (!(typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR || ROLE_TUNNEL || ROLE_NODE)) throw new Error('pico-nrf24: this bundle has no role "' + r + '"');
  const mac = /* @__NOINLINE__ */ csma({ link: radio, clock: clock, rng: rng, addr: id, config: CSMA_NRF24 });
  if ((typeof ROLE_TUNNEL === 'undefined' || ROLE_TUNNEL) && r === 'gateway') {
    const uart = /* @__NOINLINE__ */ espruinoUart(b.USB, { baud: 115200, txBuf: encodedMax(LINE_MTU), clock: clock, moveConsoleTo: b.LoopbackA });
    const line = /* @__NOINLINE__ */ framedLink(uart, { mtu: LINE_MTU, clock: clock });
    return { radio: radio, mac: mac, telemetry: null, gateway: tunnelGateway(mac, line, clock), rr: null, server: null, psync: null };
  }
  if ((typeof ROLE_NODE === 'undefined' || ROLE_NODE) && r === 'node') {
    const ports = /* @__NOINLINE__ */ macPorts(mac);
    const nr = /* @__NOINLINE__ */ rr({ mac: ports.port(SVC_RR), clock: clock, rng: rng, config: PICO_RR });
    /* @__NOINLINE__ */ serve(nr, read);
    // Psync wants room for a full predecessor list (8 + 2 x 8 bytes) in its MAC's mtu, 2 bytes more than
    // the port's 22: a frame longer than those the port refuses (counted in psync's stats.macRefused),
    // so an application sends at most maxPayload(conv) - 2 bytes.
    const pp = ports.port(SVC_PSYNC);
    const pm: Mac = { caps: { mtu: 24, carrierSense: true }, addr: pp.addr, send: pp.send, onReceive: pp.onReceive, onSent: pp.onSent, queued: pp.queued };
    const ps = /* @__NOINLINE__ */ psync({ mac: pm, clock: clock, rng: rng, config: PICO_PSYNC });
    ps.passiveOpen(); // take part in the first conversation that lists this node
    return { radio: radio, mac: mac, telemetry: null, gateway: null, rr: nr, server: null, psync: ps };
  }
  if (!(typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR) || r !== 'sensor') throw new Error('pico-nrf24: this bundle has no role "' + r + '"');
  const tm = /* @__NOINLINE__ */ telemetry({
    link: macLink(macPorts(mac).port(SVC_TELEMETRY), ADDR_BROADCAST), clock: clock, rng: rng, id: id,
    periodUs: 1000000, jitterUs: 200000, backoffUs: 10000, maxTries: 8, read: read,
  });
  return { radio: radio, mac: mac, telemetry: tm, gateway: null, rr: null, server: null, psync: null };
}

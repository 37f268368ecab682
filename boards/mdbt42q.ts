// MDBT42Q (Raytac's nRF52832 module with Espruino, 2 950 JsVars; the breakout board or the bare module)
// on BLE advertising (hal/espruino/ble.ts: manufacturer data 0x0590, 26-byte frames, 3 events at 100 ms
// each) with the raw MAC ([dst][src][payload], no carrier sense, no acknowledgement), in two roles:
// - sensor: every 10 s ± 1 s its readings (temperature in 0.1 °C from E.getTemperature(), the chip's
//   own sensor; supply in mV from NRF.getBattery(); free JsVars) to the broadcast address. It only
//   sends, so it does not scan (scanning keeps the radio listening, about 12 mA).
// - gateway: the bridge's gateway. It scans for every station's frames and lends its raw MAC to the
//   host over Serial1 (the MAC tunnel, firmware/mac/tunnel.ts; COBS + CRC-16 frames, 115200 baud 8N1),
//   so `picolink bridge --port /dev/ttyUSB0` on the host sees the sensors around it (Puck.js and
//   MDBT42Q sensors). Serial1 is on D6 (the module's TX) and D8 (its RX), the pins Espruino gives it
//   by default (boards/MDBT42Q.py; RX and TX on the breakout's bottom header): wire a 3.3 V USB-serial
//   adapter's RX to D6, its TX to D8, and GND. The REPL console is forced onto LoopbackA first, so
//   Serial1 carries only frames and a Bluetooth connection does not take the console either.
// Espruino facts (2v29 sources): at power-up Espruino puts its console on Serial1 at 9600 baud only if
// D8 is high (an adapter's TX idles high), and moves it to Bluetooth while a central is connected
// unless it is forced with setConsole(true). E.getBattery() does not exist on this board (it is only
// built for Puck.js, Pixl.js, Bangle.js and boards with CUSTOM_GETBATTERY), hence NRF.getBattery().
// getSerial() is the chip's FICR DEVICEID as hex, which gives the station address.
// Bundles: mdbt42q-sensor (9.6 KB) in 10 KB and mdbt42q-gateway (10.1 KB) in 11 KB; the main bundle
// carries both (14.8 KB of 16 KB). RAM on Espruino's Linux build, code loaded as text: the sensor 910
// JsVars loaded, 1 850 after create(), about 1 380 running; the gateway 920, 2 150 and about 1 640,
// of the module's 2 950 (from flash, function text can stay there; not measured on a module). Frames
// on Serial1: a tunnel message up is the raw MAC's 22-byte payload plus 6 bytes of tunnel header, so
// the line's frames are 32 bytes at most.
// Flashing: `picolink flash --board mdbt42q-gateway --port /dev/ttyUSB0 --baud 9600` through the same
// adapter, while the console is still on Serial1 (power the module up with the adapter connected,
// D8 high); or over Bluetooth from the Web IDE or EspruinoTools (`espruino -p <address> --storage
// .bootcde:dist/mdbt42q-sensor.js`), as for a Puck: the sensor's idle advertisement is Espruino's
// default, connectable one. The way back to the REPL once a gateway holds Serial1: power up with the
// button (BTN, D0 to 3.3 V on the bare module) held, and keep holding it past the bootloader's 3 s
// until the LED goes out: Espruino starts without loading the saved code (which stays in flash;
// `reset(true)` at the REPL removes it), with its console back on Serial1 at 9600 baud (Espruino's
// MDBT42Q page, "Hard Reset" and "Firmware Updates").

import type { BoardInfo } from './board.ts';
import type { EspruinoConsolePort, EspruinoE, EspruinoPin, EspruinoSerial, EspruinoTimers } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { bleLink } from '../hal/espruino/ble.ts';
import type { BleLink, EspruinoNrfApi } from '../hal/espruino/ble.ts';
import { espruinoUart } from '../hal/espruino/uart.ts';
import { framedLink } from '../hal/framing/link.ts';
import { encodedMax } from '../hal/framing/cobs.ts';
import { tunnelGateway } from '../firmware/mac/tunnel.ts';
import type { TunnelGateway } from '../firmware/mac/tunnel.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import type { RawMac } from '../firmware/mac/raw.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST, stationAddrOf } from '../firmware/mac/mac.ts';
import { macPorts, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';

export const board: BoardInfo = {
  name: 'mdbt42q',
  title: 'MDBT42Q (nRF52832): a telemetry sensor over BLE advertising, or the gateway on Serial1',
  jsvars: 2950,
  budgetBytes: 16384,
  mtu: 26,
  radio: 'BLE advertising (NRF): manufacturer data 0x0590, non-connectable, 3 events at 100 ms per frame; gateway: Serial1 D6 TX / D8 RX, 115200 baud',
  roles: ['sensor', 'gateway'],
  autostart: true,
  bundles: [
    { name: 'mdbt42q-sensor', roles: ['sensor'], budgetBytes: 10240 },
    // The gateway alone: what the module on the host's USB-serial adapter is flashed with.
    { name: 'mdbt42q-gateway', roles: ['tunnel'], budgetBytes: 11264 },
  ],
};

/** Frames on the Serial1 line: a tunnel message of the raw MAC's largest payload (28 bytes) fits. */
const LINE_MTU = 32;

/** The Espruino built-ins this board reads (the globals on the module; tests pass fakes). */
export interface Mdbt42qBuiltins extends EspruinoTimers {
  NRF: EspruinoNrfApi & { getBattery(): number };
  E: EspruinoE & { getTemperature(): number };
  process: { memory(): { free: number } };
  getSerial(): string;
  /** The gateway role's line, and where its console goes. */
  Serial1: EspruinoSerial;
  LoopbackA: EspruinoConsolePort;
  D6: EspruinoPin;
  D8: EspruinoPin;
}

export interface Mdbt42qApp {
  radio: BleLink;
  mac: RawMac;
  /** The sensor role's. */
  telemetry: Telemetry | null;
  /** The gateway role's. */
  gateway: TunnelGateway | null;
}

// Which roles this bundle carries (rollup.config.js defines them per bundle; from source: every role).
declare const ROLE_SENSOR: boolean, ROLE_TUNNEL: boolean;

/** The role a bundle starts in: the gateway in a bundle without the sensor, else the sensor. */
function defaultRole(): string {
  return typeof ROLE_SENSOR !== 'undefined' && !ROLE_SENSOR ? 'gateway' : 'sensor';
}

export function create(g?: Mdbt42qBuiltins, role?: string): Mdbt42qApp {
  const b = g || (globalThis as unknown as Mdbt42qBuiltins);
  const r = role || defaultRole();
  const clock = espruinoClock(b);
  const id = stationAddrOf(b.getSerial());
  if ((typeof ROLE_TUNNEL === 'undefined' || ROLE_TUNNEL) && r === 'gateway') {
    const radio = bleLink({ nrf: b.NRF, clock: clock, scan: true });
    const mac = rawMac(radio, id, 4);
    const uart = espruinoUart(b.Serial1, { baud: 115200, tx: b.D6, rx: b.D8, txBuf: encodedMax(LINE_MTU), clock: clock, moveConsoleTo: b.LoopbackA });
    const line = framedLink(uart, { mtu: LINE_MTU, clock: clock });
    return { radio: radio, mac: mac, telemetry: null, gateway: tunnelGateway(mac, line, clock) };
  }
  if (!(typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR) || r !== 'sensor') throw new Error('mdbt42q: this bundle has no role "' + r + '"');
  const radio = bleLink({ nrf: b.NRF, clock: clock, scan: false });
  const mac = rawMac(radio, id, 2);
  const tm = telemetry({
    link: macLink(macPorts(mac, 2).port(SVC_TELEMETRY), ADDR_BROADCAST), clock: clock, rng: espruinoRng(b.E), id: id,
    periodUs: 10000000, jitterUs: 2000000, backoffUs: 400000, maxTries: 4,
    // At most 16 bytes of CBOR fit the frame (see boards/puck.ts): {t, v, f}.
    read: function () {
      return {
        t: Math.round(b.E.getTemperature() * 10), // 0.1 °C
        v: Math.round(b.NRF.getBattery() * 1000), // mV
        f: b.process.memory().free,
      };
    },
  });
  return { radio: radio, mac: mac, telemetry: tm, gateway: null };
}

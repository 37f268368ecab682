// Puck.js (nRF52832, 2 630 JsVars; v2 with its PCT2075 temperature sensor) as a telemetry sensor over
// BLE advertising: every 10 s ± 1 s its readings (temperature in 0.1 °C from E.getTemperature(),
// battery in mV from NRF.getBattery(), free JsVars) go to the broadcast address through the raw MAC
// ([dst][src][payload], no carrier sense, no acknowledgement) over the advertising link
// (hal/espruino/ble.ts: manufacturer data 0x0590, 26-byte frames, each advertised for 3 events at
// 100 ms). Any station in range that scans for them relays them: an MDBT42Q gateway (boards/mdbt42q.ts)
// takes them to the host's bridge. The Puck only sends, so it does not scan (scanning keeps the radio
// listening, about 12 mA: a CR2032 would last a day); request-reply and Psync are not carried.
// Espruino facts (its boards/PUCKJS.py and sources, 2v29): E.getTemperature() reads the PCT2075 on a
// v2 (the chip's sensor on a v1), NRF.getBattery() is the supply voltage in volts (E.getBattery() is a
// percentage on the Puck and absent on a bare MDBT42Q, so this board uses NRF.getBattery() like the
// other), getSerial() is the chip's FICR DEVICEID as hex, which gives the station address.
// Budget: a telemetry frame has 16 bytes for the CBOR map after the advertisement (5), raw MAC (4),
// service (1) and telemetry (5) headers: {t, v, f} is at most 16 (t up to three bytes). Bytes: 10 KB
// (the bundle is 9.1 KB), because RAM is what a Puck lacks: on Espruino's Linux build, with the code
// loaded as text (so in RAM), this bundle holds 825 JsVars loaded, 1 770 right after create() and
// about 1 320 running (test/boards/puck.test.ts prints them when ESPRUINO is set): half the Puck's
// 2 630 at most. Written to Storage (`.bootcde`) and run from flash, function text can stay in flash
// and cost less; that was not measured on a Puck. Keep the sensor small.
// Flashing: `picolink flash` works over a serial port only. A Puck is programmed over Bluetooth: the
// Web IDE (espruino.com/ide, Web Bluetooth; upload dist/puck.js with "Save on Send" set to flash) or
// EspruinoTools (`npm i -g espruino`, with noble for Bluetooth): `espruino -p <the Puck's address>
// --storage .bootcde:dist/puck.js` writes the bundle where Espruino boots it from, then reset the Puck.
// The idle advertisement between frames is Espruino's default one, connectable, so the IDE finds the
// Puck by name while this runs. With a 3.3 V USB-serial adapter on D28 (the Puck's TX) and D29 (its
// RX, high at power-up) the REPL is there at 9600 baud (boards/PUCKJS.py), and `picolink flash --board
// puck --port /dev/ttyUSB0 --baud 9600` works too. The way back to the REPL when the saved code gets in
// the way: take the battery out, hold the button, put the battery back and release the button when all
// three LEDs are lit: a self-test runs and Espruino starts without loading the saved code, which stays
// in flash (Espruino's Puck.js page, "Hard Reset"; held until the red LED has blinked five times, it
// erases the saved code and bonds instead).

import type { BoardInfo } from './board.ts';
import type { EspruinoE, EspruinoTimers } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { bleLink } from '../hal/espruino/ble.ts';
import type { BleLink, EspruinoNrfApi } from '../hal/espruino/ble.ts';
import { rawMac } from '../firmware/mac/raw.ts';
import type { RawMac } from '../firmware/mac/raw.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST, stationAddrOf } from '../firmware/mac/mac.ts';
import { macPorts, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';

export const board: BoardInfo = {
  name: 'puck',
  title: 'Puck.js (nRF52832): a telemetry sensor over BLE advertising with the raw MAC',
  jsvars: 2630,
  // The sensor is this board's only role, so its main bundle is the sensor's bundle.
  budgetBytes: 10240,
  mtu: 26,
  radio: 'BLE advertising (NRF): manufacturer data 0x0590, non-connectable, 3 events at 100 ms per frame; sends only',
  roles: ['sensor'],
  autostart: true,
};

/** The Espruino built-ins this board reads (the globals on a Puck; tests pass fakes). */
export interface PuckBuiltins extends EspruinoTimers {
  NRF: EspruinoNrfApi & { getBattery(): number };
  E: EspruinoE & { getTemperature(): number };
  process: { memory(): { free: number } };
  getSerial(): string;
}

export interface PuckApp {
  radio: BleLink;
  mac: RawMac;
  telemetry: Telemetry;
}

export function create(g?: PuckBuiltins): PuckApp {
  const b = g || (globalThis as unknown as PuckBuiltins);
  const clock = espruinoClock(b);
  const rng = espruinoRng(b.E);
  const radio = bleLink({ nrf: b.NRF, clock: clock, scan: false });
  const id = stationAddrOf(b.getSerial());
  const mac = rawMac(radio, id, 2);
  const tm = telemetry({
    link: macLink(macPorts(mac, 2).port(SVC_TELEMETRY), ADDR_BROADCAST), clock: clock, rng: rng, id: id,
    periodUs: 10000000, jitterUs: 2000000, backoffUs: 400000, maxTries: 4,
    read: function () {
      return {
        t: Math.round(b.E.getTemperature() * 10), // 0.1 °C
        v: Math.round(b.NRF.getBattery() * 1000), // mV
        f: b.process.memory().free,
      };
    },
  });
  return { radio: radio, mac: mac, telemetry: tm };
}

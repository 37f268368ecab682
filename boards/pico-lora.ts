// Espruino Pico (STM32F401CDU6, 5 100 JsVars) with an SX1276 LoRa module (an RFM95W, or any SX1276/77/
// 78/79 breakout with its DIO0 brought out) on SPI2, as a CSMA/CA telemetry sensor on the device network:
// readings (temperature in 0.1 °C, reference voltage in mV, free JsVars) broadcast every 10 s ± 1 s
// through the CSMA/CA MAC (LoRa preset) over the radio driver (hal/espruino/sx127x.ts).
// Wiring, from the Pico's pin headers and its chip's alternate functions (Espruino's
// boards/PICO_R1_3.py and boards/pins/stm32f401_af.csv), the same positions as pico-nrf24's module:
// SPI2 on the top header, B13 SCK, B14 MISO, B15 MOSI (AF5); NSS on B10, the module's RESET on B1,
// DIO0 on A8; VCC on 3.3 V (not BAT_IN: the module takes 3.3 V at up to 120 mA while sending at
// +20 dBm; at 14 dBm here about 40 mA) and GND; an antenna for the band on the ANT pad, always (the
// PA must not drive an open pad). SPI mode 0 at 4 MHz (the chip takes up to 10).
// Radio: 868.1 MHz (EU868; frequencyHz in create's driver call for other bands and countries), SF7,
// 125 kHz, 4/5, 8-symbol preamble, sync word 0x12, 14 dBm on PA_BOOST (the EU limit for this
// sub-band is 25 mW ERP), 64-byte frames. A reading is a frame of about 30 bytes (MAC header, service
// byte, telemetry header, CBOR), 72 ms on the air, so one every 10 s uses 0.7 % of the time: under
// the sub-band's 1 % duty cycle.
// The readings go to the broadcast address, so any gateway in range hears them and none acknowledges.
// Role bundle: pico-lora-sensor, held to 18 KB: pico-nrf24-sensor's 16 KB plus the LoRa driver's extra
// 1.3 KB over the nRF24 driver (CAD behind busy(), the TX timeout, time on air, RSSI by band), with a
// little room. A Pico keeps the code it runs in RAM, so every KB is about 85 JsVars of its 5 100 at
// Espruino's 12 characters a block. The gateway role, request-reply and Psync are not carried.

import type { BoardInfo } from './board.ts';
import type { EspruinoPin } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { sx127x } from '../hal/espruino/sx127x.ts';
import type { Sx127xLink, Sx127xPinsApi } from '../hal/espruino/sx127x.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_LORA } from '../firmware/mac/csma/config.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST, stationAddrOf } from '../firmware/mac/mac.ts';
import { macPorts, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';

export const board: BoardInfo = {
  name: 'pico-lora',
  title: 'Espruino Pico (STM32F401CDU6) with an SX1276 (RFM95W) on SPI2: a LoRa CSMA/CA telemetry sensor',
  jsvars: 5100,
  budgetBytes: 18432,
  mtu: 64,
  radio: 'SX1276 LoRa on SPI2 (B13 SCK, B14 MISO, B15 MOSI), NSS B10, RESET B1, DIO0 A8; 868.1 MHz, SF7, 125 kHz, 4/5',
  roles: ['sensor'],
  autostart: true,
  bundles: [
    // The sensor alone: what a Pico is flashed with.
    { name: 'pico-lora-sensor', roles: ['sensor'], budgetBytes: 18432 },
  ],
};

/** The SPI port the module is on, as Espruino's SPI2 object. */
interface EspruinoSpiPort {
  setup(o: { sck: EspruinoPin; miso: EspruinoPin; mosi: EspruinoPin; baud: number; mode: number }): void;
  send(data: Uint8Array, nss: EspruinoPin): Uint8Array;
}

/** The Espruino built-ins this board reads, beyond what the drivers declare. */
interface PicoLoraBuiltins extends Sx127xPinsApi {
  getSerial(): string;
  E: { getTemperature(): number; getAnalogVRef(): number };
  process: { memory(): { free: number } };
  SPI2: EspruinoSpiPort;
  B13: EspruinoPin; B14: EspruinoPin; B15: EspruinoPin; B10: EspruinoPin; B1: EspruinoPin; A8: EspruinoPin;
}

export interface PicoLora {
  radio: Sx127xLink;
  mac: CsmaMac;
  telemetry: Telemetry;
}

// Which roles this bundle carries (rollup.config.js defines them per bundle; from source: every role).
declare const ROLE_SENSOR: boolean;

export function create(g?: PicoLoraBuiltins, role?: string): PicoLora {
  const b = g || (globalThis as unknown as PicoLoraBuiltins);
  const r = role || 'sensor';
  if (!(typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR) || r !== 'sensor') throw new Error('pico-lora: this bundle has no role "' + r + '"');
  const clock = espruinoClock();
  const rng = espruinoRng();
  b.SPI2.setup({ sck: b.B13, miso: b.B14, mosi: b.B15, baud: 4000000, mode: 0 });
  const radio = sx127x({
    spi: b.SPI2,
    pins: { digitalWrite: b.digitalWrite, pinMode: b.pinMode, setWatch: b.setWatch },
    nss: b.B10, reset: b.B1, dio0: b.A8, clock: clock,
    frequencyHz: 868100000, sf: 7, bandwidthHz: 125000, codingRate: 1, txPowerDbm: 14, mtu: 64,
  });
  const id = stationAddrOf(b.getSerial());
  const mac = csma({ link: radio, clock: clock, rng: rng, addr: id, config: CSMA_LORA });
  const tm = telemetry({
    link: macLink(macPorts(mac).port(SVC_TELEMETRY), ADDR_BROADCAST), clock: clock, rng: rng, id: id,
    periodUs: 10000000, jitterUs: 2000000, backoffUs: 200000, maxTries: 8,
    read: function () {
      return {
        t: Math.round(b.E.getTemperature() * 10), // 0.1 °C
        mv: Math.round(b.E.getAnalogVRef() * 1000),
        f: b.process.memory().free,
      };
    },
  });
  return { radio: radio, mac: mac, telemetry: tm };
}

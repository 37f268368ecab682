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

import type { BoardInfo } from './board.ts';
import type { EspruinoPin } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { nrf24 } from '../hal/espruino/nrf24.ts';
import type { EspruinoPinsApi, Nrf24Link } from '../hal/espruino/nrf24.ts';
import { csma } from '../firmware/mac/csma/csma.ts';
import type { CsmaMac } from '../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../firmware/mac/csma/config.ts';
import { macLink } from '../firmware/mac/link.ts';
import { ADDR_BROADCAST } from '../firmware/mac/mac.ts';
import { macPorts, SVC_TELEMETRY } from '../firmware/mac/ports.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';

export const board: BoardInfo = {
  name: 'pico-nrf24',
  title: 'Espruino Pico (STM32F401CDU6) with an nRF24L01+ on SPI2: a CSMA/CA telemetry sensor',
  jsvars: 5100,
  budgetBytes: 16384,
  mtu: 31,
  radio: 'nRF24L01+ on SPI2 (B13 SCK, B14 MISO, B15 MOSI), CSN B10, CE B1, IRQ A8; channel 76, 250 kbit/s',
  roles: ['sensor'],
  autostart: true,
};

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
}

/** A 16-bit station address from the chip's serial number; 0 and 0xFF00.. are reserved. */
function deviceId(serial: string): number {
  let h = 0;
  for (let i = 0; i < serial.length; i++) h = ((h << 5) - h + serial.charCodeAt(i)) & 0xffff;
  return h === 0 || h >= 0xff00 ? 1 : h;
}

export interface PicoRadio {
  radio: Nrf24Link;
  mac: CsmaMac;
  telemetry: Telemetry;
}

export function create(g?: PicoRadioBuiltins): PicoRadio {
  const b = g || (globalThis as unknown as PicoRadioBuiltins);
  const clock = espruinoClock();
  const rng = espruinoRng();
  b.SPI2.setup({ sck: b.B13, miso: b.B14, mosi: b.B15, baud: 4000000, mode: 0 });
  const radio = nrf24({
    spi: b.SPI2,
    pins: { digitalWrite: b.digitalWrite, setWatch: b.setWatch },
    csn: b.B10, ce: b.B1, irq: b.A8, clock: clock, channel: 76, bitrate: 250000,
  });
  const id = deviceId(b.getSerial());
  const mac = csma({ link: radio, clock: clock, rng: rng, addr: id, config: CSMA_NRF24 });
  const tm = telemetry({
    link: macLink(macPorts(mac).port(SVC_TELEMETRY), ADDR_BROADCAST), clock: clock, rng: rng, id: id,
    periodUs: 1000000, jitterUs: 200000, backoffUs: 10000, maxTries: 8,
    // Short keys and integers, as the demonstration's sensors: a CSMA/CA payload here has 17 bytes
    // for the reading after the MAC, port and telemetry headers.
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

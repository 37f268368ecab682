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

export const board: BoardInfo = {
  name: 'pico-nrf24',
  title: 'Espruino Pico (STM32F401CDU6) with an nRF24L01+ on SPI2: a CSMA/CA telemetry sensor',
  jsvars: 5100,
  // Both roles; a Pico is flashed with its role's bundle (below), each held to 16 KB.
  budgetBytes: 20480,
  mtu: 31,
  radio: 'nRF24L01+ on SPI2 (B13 SCK, B14 MISO, B15 MOSI), CSN B10, CE B1, IRQ A8; channel 76, 250 kbit/s',
  roles: ['sensor', 'gateway'],
  autostart: true,
  bundles: [
    // The sensor alone.
    { name: 'pico-nrf24-sensor', roles: ['sensor'], budgetBytes: 16384 },
    // The gateway alone: what a Pico on the host's USB is flashed with.
    { name: 'pico-nrf24-gateway', roles: ['tunnel'], budgetBytes: 16384 },
  ],
};

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
  mac: CsmaMac;
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

export function create(g?: PicoRadioBuiltins, role?: string): PicoRadio {
  const b = g || (globalThis as unknown as PicoRadioBuiltins);
  const clock = espruinoClock();
  const rng = espruinoRng();
  b.SPI2.setup({ sck: b.B13, miso: b.B14, mosi: b.B15, baud: 4000000, mode: 0 });
  const radio = nrf24({
    spi: b.SPI2,
    pins: { digitalWrite: b.digitalWrite, setWatch: b.setWatch },
    csn: b.B10, ce: b.B1, irq: b.A8, clock: clock, channel: 76, bitrate: 250000,
  });
  const id = stationAddrOf(b.getSerial());
  const mac = csma({ link: radio, clock: clock, rng: rng, addr: id, config: CSMA_NRF24 });
  const r = role || defaultRole();
  if ((typeof ROLE_TUNNEL === 'undefined' || ROLE_TUNNEL) && r === 'gateway') {
    const uart = espruinoUart(b.USB, { baud: 115200, txBuf: encodedMax(LINE_MTU), clock: clock, moveConsoleTo: b.LoopbackA });
    const line = framedLink(uart, { mtu: LINE_MTU, clock: clock });
    return { radio: radio, mac: mac, telemetry: null, gateway: tunnelGateway(mac, line, clock) };
  }
  if (!(typeof ROLE_SENSOR === 'undefined' || ROLE_SENSOR) || r !== 'sensor') throw new Error('pico-nrf24: this bundle has no role "' + r + '"');
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
  return { radio: radio, mac: mac, telemetry: tm, gateway: null };
}

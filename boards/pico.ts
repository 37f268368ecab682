// Espruino Pico (STM32F401CDU6, 5 100 JsVars, 384 KB flash) as a telemetry sensor whose link is a
// framed UART: Serial1 on B6 (TX) and B7 (RX) at 115200 baud 8N1, COBS + CRC-16 frames
// (hal/framing). Wire a 3.3 V USB-serial adapter to B6/B7/GND and read the frames on the host.
// The REPL console is forced onto USB, so Serial1 carries only frames; USB.setConsole() or a reset
// gives the console back (hold BTN1 while plugging in to skip the saved code).
// Radios for this board (an nRF24L01+ on SPI) come with the board drivers; until then the device
// network is the serial line itself. Pins and facts: Espruino's boards/PICO_R1_3.py.

import type { BoardInfo } from './board.ts';
import type { EspruinoSerial } from '../hal/espruino/espruino.d.ts';
import { espruinoClock } from '../hal/espruino/clock.ts';
import { espruinoRng } from '../hal/espruino/rng.ts';
import { espruinoUart } from '../hal/espruino/uart.ts';
import { framedLink } from '../hal/framing/link.ts';
import { encodedMax } from '../hal/framing/cobs.ts';
import { stationAddrOf } from '../firmware/mac/mac.ts';
import { telemetry } from '../firmware/telemetry.ts';
import type { Telemetry } from '../firmware/telemetry.ts';

export const board: BoardInfo = {
  name: 'pico',
  title: 'Espruino Pico (STM32F401CDU6), telemetry over framed UART on Serial1',
  jsvars: 5100,
  budgetBytes: 12288,
  mtu: 64,
  radio: 'UART Serial1, B6 TX / B7 RX, 115200 baud 8N1, COBS + CRC-16 frames',
  roles: ['sensor'],
  autostart: true,
};

/** The Espruino built-ins this board reads, beyond what the drivers declare. */
interface PicoBuiltins {
  getSerial(): string;
  E: { getTemperature(): number; getAnalogVRef(): number };
  process: { memory(): { free: number } };
  Serial1: EspruinoSerial;
  USB: EspruinoSerial;
  B6: number;
  B7: number;
}


export function create(g?: PicoBuiltins): Telemetry {
  const b = g || (globalThis as unknown as PicoBuiltins);
  const clock = espruinoClock();
  // The transmit estimate must admit a whole MTU-sized frame (69 bytes for 64), within the Pico's
  // 128-byte transmit ring.
  const uart = espruinoUart(b.Serial1, { baud: 115200, tx: b.B6, rx: b.B7, txBuf: encodedMax(board.mtu), clock: clock, moveConsoleTo: b.USB });
  const link = framedLink(uart, { mtu: board.mtu, clock: clock });
  return telemetry({
    link: link, clock: clock, rng: espruinoRng(), id: stationAddrOf(b.getSerial()),
    periodUs: 1000000, jitterUs: 200000, backoffUs: 10000, maxTries: 8,
    read: function () {
      return {
        t: Math.round(b.E.getTemperature() * 10) / 10,
        vref: Math.round(b.E.getAnalogVRef() * 1000),
        free: b.process.memory().free,
      };
    },
  });
}

// Random-number driver for Espruino boards: the hal/rng.ts contract over E.hwRand, or Math.random where a
// build has no E.hwRand. The only board code that reads Espruino's random sources. Board code.
//
// Espruino facts this relies on (Espruino 2v29 sources; espruino.com/Reference#l_E_hwRand is generated
// from src/jswrap_espruino.c):
// - E.hwRand() returns jshGetRandomNumber() as a signed 32-bit integer ("int32"), so JavaScript sees
//   values in [-2^31, 2^31). It exists since 1v79 in every build except SAVE_ON_FLASH ones (micro:bit 1,
//   nRF51822DK, STM32VLDISCOVERY, HYSTM32_28); the Espruino Pico has it.
// - Its source differs per chip: STM32F1/F4 (Original Espruino, Pico, WiFi) XOR-and-rotate 32 ADC reads
//   of the internal voltage reference, each with a 480-cycle sample time on F4, so a call costs a few
//   hundred µs; nRF51/52 (Puck.js, Pixl.js, Bangle.js) read the SoftDevice's hardware RNG, 32 bits;
//   RP2xxx uses get_rand_32(); ESP32, ESP8266, Linux and other STM32 families return C rand(), whose
//   RAND_MAX there is 2^31-1: 31 bits, the top bit always 0.
// - Math.random() is rand()/(RAND_MAX+1) (src/jswrap_math.c): 31 random bits at best, seeded at boot from
//   jshGetRandomNumber() on STM32 and nRF5x.
//
// A 31-bit source cannot fill [0, 2^32) in one draw. At start this driver draws up to 16 values, stopping
// at the first negative one (top bit set); if none is negative, it takes the source to be 31-bit and
// mixes two draws per result (the second rotated by 16 bits, which puts its random bit 15 on top). A
// 32-bit source is wrongly taken for 31-bit with probability 2^-16, and is then merely slower.
// Math.random supplies the top 16 bits of two draws.
// Hot paths that need many values can seed hal/prng.ts's xoshiro from this instead.

import type { Rng } from '../rng.ts';
import type { EspruinoE } from './espruino.d.ts';

const PROBE_DRAWS = 16;

/** Math.random has 31 bits on Espruino: take the top 16 of two draws. */
const mathU32 = (): number => (((Math.random() * 0x10000) << 16) | (Math.random() * 0x10000)) >>> 0;

/** An Rng on the board's generator. `e` defaults to Espruino's `E`; tests pass a fake. */
export function espruinoRng(e?: EspruinoE): Rng {
  const src = e || (typeof E !== 'undefined' ? E : undefined);
  if (!src || typeof src.hwRand !== 'function') return { u32: mathU32 };
  const hw = src as Required<EspruinoE>;
  let full = false;
  for (let i = 0; i < PROBE_DRAWS && !full; i++) {
    if (hw.hwRand() < 0) full = true;
  }
  if (full) return { u32: (): number => hw.hwRand() >>> 0 };
  return {
    u32: (): number => {
      const a = hw.hwRand();
      const b = hw.hwRand();
      return (a ^ ((b << 16) | (b >>> 16))) >>> 0;
    },
  };
}

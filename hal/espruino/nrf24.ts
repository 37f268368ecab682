// nRF24L01+ radio driver for Espruino boards: the hal/link.ts contract (a broadcast radio with carrier
// sense) over the chip's SPI interface. Board code.
//
// The chip, from Nordic's nRF24L01+ Product Specification v1.0 (register map, section 9; SPI commands,
// 8.3.1; state diagram and timing, 6.1; received power detector, 6.4):
// - SPI commands, each a CSN-low transaction whose first byte back is STATUS: R_REGISTER 000A AAAA,
//   W_REGISTER 001A AAAA (registers may be written in power down and standby only, so CE is low for
//   every write), R_RX_PAYLOAD 0x61, W_TX_PAYLOAD 0xA0, FLUSH_TX 0xE1, FLUSH_RX 0xE2, NOP 0xFF.
// - Registers used: CONFIG 0x00 (MASK_* 6..4, EN_CRC 3, CRCO 2, PWR_UP 1, PRIM_RX 0), EN_AA 0x01,
//   EN_RXADDR 0x02, SETUP_AW 0x03 (3: 5-byte addresses), SETUP_RETR 0x04, RF_CH 0x05 (0..125),
//   RF_SETUP 0x06 (RF_DR_LOW 5, RF_DR_HIGH 3, RF_PWR 2..1), STATUS 0x07 (RX_DR 6, TX_DS 5, MAX_RT 4,
//   written 1 to clear), RPD 0x09 (bit 0: a signal above -64 dBm in the last 40 µs or more of RX),
//   RX_ADDR_P0 0x0A and TX_ADDR 0x10 (5 bytes, LSByte first), RX_PW_P0 0x11 (payload width, 1..32),
//   FIFO_STATUS 0x17 (RX_EMPTY 0), DYNPD 0x1C, FEATURE 0x1D.
// - Power down to standby-I takes 1.5 ms (Tpd2stby, with the crystal's start-up); standby to RX or
//   TX settles in 130 µs; a transmission starts on a CE pulse of at least 10 µs; IRQ (active low)
//   falls when a STATUS interrupt bit is set and unmasked.
// Espruino, from its sources (src/jswrap_spi_i2c.c, src/jswrap_io.c): SPI.send(data, nss) lowers nss,
// sends the bytes and returns what came back (a Uint8Array for a Uint8Array); digitalWrite(pin, v);
// setWatch(fn, pin, {repeat: true, edge: 'falling'}) calls fn on each falling edge, from the idle loop.
//
// How the driver uses it: Enhanced ShockBurst with auto-acknowledgement and retransmission off (EN_AA
// 0, SETUP_RETR 0: the MAC above acknowledges and retries itself), 2-byte CRC, 5-byte address, one
// pipe, and fixed 32-byte payloads (the chip's; dynamic lengths need features this driver leaves off):
// a frame of up to 31 bytes travels as [length][frame][padding]. Every station uses the same address,
// so the radio is a broadcast medium like the simulator's. The chip rests in RX (PRIM_RX, CE high);
// send() writes the payload, turns it to TX and pulses CE; on TX_DS it goes back to RX and onSent
// follows. busy() is the carrier sense: a transmission of ours, or RPD set (an RX-mode reading).
// The IRQ line is watched (falling edge) and STATUS read on each interrupt; received payloads are
// read into one buffer, allocated once (handed up through one view of it), and every SPI command goes
// from one buffer too.

import type { Clock } from '../clock.ts';
import { TX_OK } from '../link.ts';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';
import type { EspruinoPin } from './espruino.d.ts';

/** Register addresses and bits (Product Specification, section 9). */
export const NRF = {
  CONFIG: 0x00, EN_AA: 0x01, EN_RXADDR: 0x02, SETUP_AW: 0x03, SETUP_RETR: 0x04, RF_CH: 0x05, RF_SETUP: 0x06,
  STATUS: 0x07, RPD: 0x09, RX_ADDR_P0: 0x0a, TX_ADDR: 0x10, RX_PW_P0: 0x11, FIFO_STATUS: 0x17, DYNPD: 0x1c, FEATURE: 0x1d,
  R_REGISTER: 0x00, W_REGISTER: 0x20, R_RX_PAYLOAD: 0x61, W_TX_PAYLOAD: 0xa0, FLUSH_TX: 0xe1, FLUSH_RX: 0xe2, NOP: 0xff,
  EN_CRC: 0x08, CRCO: 0x04, PWR_UP: 0x02, PRIM_RX: 0x01,
  RX_DR: 0x40, TX_DS: 0x20, MAX_RT: 0x10, RX_EMPTY: 0x01,
  RF_DR_LOW: 0x20, RF_DR_HIGH: 0x08, RF_PWR_0DBM: 0x06,
} as const;

/** The chip's payload width; one byte of it carries the frame's length. */
export const NRF_PAYLOAD = 32;

/** The parts of Espruino's SPI object and pin functions the driver calls. */
export interface EspruinoSpiApi {
  /** SPI.send: lowers `nss`, clocks `data` out, raises `nss`; returns the bytes clocked in. */
  send(data: Uint8Array, nss: EspruinoPin): Uint8Array;
}
export interface EspruinoPinsApi {
  digitalWrite(pin: EspruinoPin, value: number): void;
  /** setWatch with {repeat: true, edge: 'falling'}: returns a watch id. */
  setWatch(fn: () => void, pin: EspruinoPin, opts: { repeat: boolean; edge: string }): number;
}

export interface Nrf24Options {
  spi: EspruinoSpiApi;
  pins: EspruinoPinsApi;
  csn: EspruinoPin;
  ce: EspruinoPin;
  irq: EspruinoPin;
  clock: Clock;
  /** RF channel 0..125 (2400 + ch MHz); default 76. */
  channel?: number;
  /** 250 kbit/s (default), 1 or 2 Mbit/s. */
  bitrate?: 250_000 | 1_000_000 | 2_000_000;
  /** The network's 5-byte address, every station the same (default e7 e7 e7 e7 e7, the chip's reset value). */
  address?: ArrayLike<number>;
  /** Keep the set-up's register writes in setupWrites (tests): off by default, they cost about 70 JsVars for good. */
  recordSetup?: boolean;
}

export interface Nrf24Link extends Link {
  readonly stats: { sent: number; received: number; malformed: number; interrupts: number };
  /** The register writes of the set-up, as [register, value] pairs, in order, with o.recordSetup (for the tests); else empty. */
  readonly setupWrites: number[][];
}

export function nrf24(o: Nrf24Options): Nrf24Link {
  const ch = o.channel === undefined ? 76 : o.channel;
  if (!(ch >= 0 && ch <= 125)) throw new Error('nrf24: channel must be 0..125');
  const rate = o.bitrate || 250000;
  const rfSetup = (rate === 250000 ? NRF.RF_DR_LOW : rate === 2000000 ? NRF.RF_DR_HIGH : 0) | NRF.RF_PWR_0DBM;
  const addr = o.address || [0xe7, 0xe7, 0xe7, 0xe7, 0xe7];
  if (addr.length !== 5) throw new Error('nrf24: the address has 5 bytes');
  const spi = o.spi;
  const pins = o.pins;
  const cmd = new Uint8Array(1 + NRF_PAYLOAD); // every command goes out of this one buffer
  const rx = new Uint8Array(NRF_PAYLOAD);
  const caps: LinkCaps = { mtu: NRF_PAYLOAD - 1, bitrate: rate, medium: 'radio', carrierSense: true, broadcast: true };
  const at: RxInfo = { timeUs: 0, rssi: 0 };
  const stats = { sent: 0, received: 0, malformed: 0, interrupts: 0 };
  const setupWrites: number[][] = [];
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let sending = false;
  let ready = !o.recordSetup; // recording stops once the set-up is done

  function xfer(n: number): Uint8Array {
    return spi.send(n === cmd.length ? cmd : cmd.subarray(0, n), o.csn);
  }
  function write(reg: number, v: number): void {
    cmd[0] = NRF.W_REGISTER | reg;
    cmd[1] = v;
    xfer(2);
    if (!ready) setupWrites.push([reg, v]);
  }
  function read(reg: number): number {
    cmd[0] = NRF.R_REGISTER | reg;
    cmd[1] = NRF.NOP;
    return xfer(2)[1];
  }
  function command(c: number): number {
    cmd[0] = c;
    return xfer(1)[0];
  }
  function writeAddr(reg: number): void {
    cmd[0] = NRF.W_REGISTER | reg;
    for (let i = 0; i < 5; i++) cmd[1 + i] = addr[i];
    xfer(6);
    if (!ready) setupWrites.push([reg, addr[0], addr[1], addr[2], addr[3], addr[4]]);
  }
  const CONFIG_RX = NRF.EN_CRC | NRF.CRCO | NRF.PWR_UP | NRF.PRIM_RX;
  const CONFIG_TX = NRF.EN_CRC | NRF.CRCO | NRF.PWR_UP;

  // Set-up, in the order of the specification's register map, with CE low (standby or power down).
  pins.digitalWrite(o.ce, 0);
  write(NRF.CONFIG, NRF.EN_CRC | NRF.CRCO); // powered down while it is set up
  write(NRF.EN_AA, 0); // no auto-acknowledgement: the MAC acknowledges
  write(NRF.EN_RXADDR, 0x01); // pipe 0 only
  write(NRF.SETUP_AW, 0x03); // 5-byte addresses
  write(NRF.SETUP_RETR, 0); // no automatic retransmission
  write(NRF.RF_CH, ch);
  write(NRF.RF_SETUP, rfSetup);
  write(NRF.STATUS, NRF.RX_DR | NRF.TX_DS | NRF.MAX_RT); // clear any interrupt
  writeAddr(NRF.RX_ADDR_P0);
  writeAddr(NRF.TX_ADDR);
  write(NRF.RX_PW_P0, NRF_PAYLOAD);
  write(NRF.DYNPD, 0);
  write(NRF.FEATURE, 0);
  command(NRF.FLUSH_RX);
  command(NRF.FLUSH_TX);
  write(NRF.CONFIG, CONFIG_RX); // power up into standby-I...
  ready = true;
  const payload = rx.subarray(1); // the frame as handed up: one view for good, none per frame
  // ...which takes 1.5 ms; then CE high: RX.
  o.clock.at(o.clock.now() + 1500, function () {
    pins.digitalWrite(o.ce, 1);
  });

  function onIrq(): void {
    stats.interrupts++;
    const st = command(NRF.NOP);
    if (st & NRF.TX_DS || st & NRF.MAX_RT) {
      write(NRF.STATUS, NRF.TX_DS | NRF.MAX_RT);
      write(NRF.CONFIG, CONFIG_RX);
      pins.digitalWrite(o.ce, 1);
      if (sending) {
        sending = false;
        if (onSentFn) onSentFn(TX_OK);
      }
    }
    if (st & NRF.RX_DR) {
      // Read every payload waiting, then clear RX_DR (the specification's recommended order).
      for (let k = 0; k < 3 && !(read(NRF.FIFO_STATUS) & NRF.RX_EMPTY); k++) {
        cmd[0] = NRF.R_RX_PAYLOAD;
        for (let i = 1; i <= NRF_PAYLOAD; i++) cmd[i] = NRF.NOP;
        const r = xfer(1 + NRF_PAYLOAD);
        for (let i = 0; i < NRF_PAYLOAD; i++) rx[i] = r[1 + i];
        const len = rx[0];
        if (len < 1 || len > caps.mtu) {
          stats.malformed++;
          continue;
        }
        stats.received++;
        at.timeUs = o.clock.now();
        if (onRx) onRx(payload, len, at);
      }
      // W_REGISTER is for power down and standby only (the specification, 8.3.1): leave RX for the write.
      // The 130 µs of settling after are a gap in listening, as every RX_DR costs.
      pins.digitalWrite(o.ce, 0);
      write(NRF.STATUS, NRF.RX_DR);
      if (!sending) pins.digitalWrite(o.ce, 1);
    }
  }
  pins.setWatch(onIrq, o.irq, { repeat: true, edge: 'falling' });

  return {
    caps: caps,
    stats: stats,
    setupWrites: setupWrites,
    send(frame: Uint8Array, len: number): boolean {
      if (sending || !(len >= 1 && len <= caps.mtu)) return false;
      sending = true;
      pins.digitalWrite(o.ce, 0); // standby-I: registers may be written
      write(NRF.CONFIG, CONFIG_TX);
      cmd[0] = NRF.W_TX_PAYLOAD;
      cmd[1] = len;
      for (let i = 0; i < len; i++) cmd[2 + i] = frame[i];
      for (let i = 2 + len; i < cmd.length; i++) cmd[i] = 0;
      xfer(1 + NRF_PAYLOAD);
      // A CE pulse of at least 10 µs starts the transmission; two calls from JavaScript take longer.
      pins.digitalWrite(o.ce, 1);
      pins.digitalWrite(o.ce, 0);
      stats.sent++;
      return true;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    busy(): boolean {
      return sending || (read(NRF.RPD) & 1) === 1;
    },
  };
}

// Semtech SX1276/77/78/79 LoRa radio driver for Espruino boards (an RFM95W/96W/98W module is one): the
// hal/link.ts contract (a broadcast radio with carrier sense) over the chip's SPI interface. Board code.
//
// The chip, from the SX1276/77/78/79 datasheet (Rev. 4 and later; sections 4.1 LoRa modem, 4.3 SPI,
// 6 register map, 7.2 reset):
// - SPI: one NSS-low transaction per access; the first byte is wnr (bit 7: 1 write, 0 read) and a 7-bit
//   address; further bytes are a burst to consecutive addresses, except the FIFO (RegFifo 0x00), where
//   each byte goes to or comes from the FIFO at RegFifoAddrPtr, which then advances.
// - Manual reset: NRESET low for more than 100 µs, then released (left floating: it has a pull-up), and
//   5 ms before the chip is used. RegVersion (0x42) reads 0x12.
// - RegOpMode 0x01: LongRangeMode (bit 7, LoRa) can be changed only in Sleep, so the chip goes to
//   Sleep first and then to LoRa Sleep in a second write; LowFrequencyModeOn (bit 3) for the LF port
//   (bands 2 and 3, below 779 MHz here); Mode (bits 2..0): 0 Sleep, 1 Standby, 3 TX, 5 RX continuous, 7 CAD.
//   The FIFO is cleared in Sleep and cannot be reached there. TX and CAD end in Standby by themselves.
// - Carrier frequency RegFrf 0x06..0x08 (MSB first) = f · 2^19 / 32 MHz; RegPaConfig 0x09 (PaSelect
//   bit 7 for PA_BOOST, the only PA output an RFM95W wires: Pout = 17 - (15 - OutputPower) dBm);
//   RegLna 0x0C; RegFifoAddrPtr 0x0D, RegFifoTxBaseAddr 0x0E, RegFifoRxBaseAddr 0x0F,
//   RegFifoRxCurrentAddr 0x10 (where the last packet starts: in RX continuous packets follow one
//   another through the FIFO); RegIrqFlags 0x12 (RxTimeout 7, RxDone 6, PayloadCrcError 5, ValidHeader
//   4, TxDone 3, CadDone 2, FhssChangeChannel 1, CadDetected 0; a 1 written clears a flag);
//   RegRxNbBytes 0x13; RegModemStat 0x18 (signal detected bit 0, synchronised 1, RX on-going 2, header
//   valid 3, modem clear 4); RegPktSnrValue 0x19 (two's complement, quarter dB); RegPktRssiValue 0x1A;
//   RegHopChannel 0x1C (CrcOnPayload bit 6: the received header says the payload has a CRC);
//   RegModemConfig1 0x1D (Bw 7..4, CodingRate 3..1, ImplicitHeaderModeOn 0), RegModemConfig2 0x1E
//   (SpreadingFactor 7..4, RxPayloadCrcOn 2), RegPreambleMsb/Lsb 0x20/0x21, RegPayloadLength 0x22,
//   RegModemConfig3 0x26 (LowDataRateOptimize 3, mandated when a symbol lasts more than 16 ms; AgcAutoOn
//   2), RegSyncWord 0x39, RegDioMapping1 0x40 (DIO0 in bits 7..6: 00 RxDone, 01 TxDone, 10 CadDone).
// - Time on air (4.1.1.7): Tsym = 2^SF / BW; preamble (n + 4.25) Tsym; payload symbols
//   8 + max(ceil((8 PL - 4 SF + 28 + 16 CRC - 20 IH) / (4 (SF - 2 DE))) (CR + 4), 0).
// - CAD (4.1.6): the receiver listens for (2^SF + 32) / BW, then correlates for a little less than a
//   symbol; CadDone (and CadDetected if a LoRa preamble was found), then Standby. CAD looks for a
//   preamble: a frame already past its preamble is not seen by CAD; a receiver in RX that caught the
//   preamble shows it in RegModemStat.
// - RSSI (5.5.5): packet strength = -157 + PacketRssi dBm on the HF port (-164 on the LF port); with
//   SNR < 0, -157 + PacketRssi + PacketSnr · 0.25.
// Espruino, from its sources (src/jswrap_spi_i2c.c, src/jswrap_io.c): SPI.send(data, nss) lowers nss,
// sends the bytes, raises nss and returns what came back (a Uint8Array for a Uint8Array);
// digitalWrite(pin, v); pinMode(pin, 'input') lets a pin float; setWatch(fn, pin, {repeat: true,
// edge: 'rising'}) calls fn on each rising edge, from the idle loop (debounce defaults to 0 for pins).
//
// How the driver uses it: explicit header, payload CRC on, frames of 1..mtu bytes (default 64: a
// CSMA/CA DATA frame of the MAC's 8-byte header and a 56-byte payload, about 118 ms on the air at SF7,
// 125 kHz; at most 255, the chip's), TX and RX base addresses both 0 (the whole FIFO for each, as the
// chip never does both at once). The chip rests in RX continuous with DIO0 mapped to RxDone, which
// setWatch follows. A received packet is dropped and counted when PayloadCrcError is set, when its
// header says it carries no CRC (nothing vouches for it), or when its length is outside 1..mtu.
// send() puts the chip in Standby, writes the frame at FifoTxBaseAddr, sets PayloadLength and DIO0 to
// TxDone and starts TX; TxDone brings it back to RX and onSent(TX_OK) follows. If no TxDone comes
// within ToA + ToA/4 + 20 ms, the driver puts the chip in Standby, back to RX, and reports TX_ERR.
//
// Carrier sense from an asynchronous CAD behind the synchronous busy(): each busy() answers from
// what the driver already knows and starts the next look.
// - Transmitting: busy.
// - In RX with RegModemStat showing a signal (a frame being received): busy, and no CAD (it would
//   throw the frame away).
// - Otherwise a CAD is started (unless one is running), and the answer is the result of the last
//   CAD if it ended no more than `senseAgeUs` ago (default: 10 symbols, at least 10 ms), else busy:
//   the channel counts as clear only when a recent CAD found it clear (listen before talk).
// A MAC that polls busy() once a slot (the CSMA/CA MAC does, as this link has no onCarrier) thus reads,
// at each slot, the CAD started at the slot before: the slot must be longer than a CAD plus the
// interrupt's handling (CSMA_LORA in firmware/mac/csma/config.ts). After CadDone the chip goes back to
// RX continuous at once, so a frame whose preamble the CAD saw is still received. The first busy()
// after a quiet spell answers busy; the next, a slot later, has a fresh answer.
//
// Buffers: one SPI buffer (1 + mtu bytes) and one receive buffer, allocated once.

import type { Clock, Timer } from '../clock.ts';
import { TX_ERR, TX_OK } from '../link.ts';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';
import type { EspruinoPin } from './espruino.d.ts';

// Register addresses and bits (datasheet, section 6: LoRa mode register map). Plain constants, so the
// minifier puts the numbers in place.
const SX_FIFO = 0x00;
const SX_OP_MODE = 0x01;
const SX_FRF_MSB = 0x06;
const SX_FRF_MID = 0x07;
const SX_FRF_LSB = 0x08;
const SX_PA_CONFIG = 0x09;
const SX_LNA = 0x0c;
const SX_FIFO_ADDR_PTR = 0x0d;
const SX_FIFO_TX_BASE = 0x0e;
const SX_FIFO_RX_BASE = 0x0f;
const SX_FIFO_RX_CURRENT = 0x10;
const SX_IRQ_FLAGS = 0x12;
const SX_RX_NB_BYTES = 0x13;
const SX_MODEM_STAT = 0x18;
const SX_PKT_SNR = 0x19;
const SX_PKT_RSSI = 0x1a;
const SX_HOP_CHANNEL = 0x1c;
const SX_MODEM_CONFIG1 = 0x1d;
const SX_MODEM_CONFIG2 = 0x1e;
const SX_PREAMBLE_MSB = 0x20;
const SX_PREAMBLE_LSB = 0x21;
const SX_PAYLOAD_LENGTH = 0x22;
const SX_MODEM_CONFIG3 = 0x26;
const SX_SYNC_WORD = 0x39;
const SX_DIO_MAPPING1 = 0x40;
const SX_VERSION = 0x42;
const SX_WRITE = 0x80;
const SX_LORA = 0x80;
const SX_LF = 0x08;
const SX_SLEEP = 0;
const SX_STDBY = 1;
const SX_TX = 3;
const SX_RX_CONT = 5;
const SX_CAD = 7;
const SX_RX_DONE = 0x40;
const SX_CRC_ERROR = 0x20;
const SX_VALID_HEADER = 0x10;
const SX_TX_DONE = 0x08;
const SX_CAD_DONE = 0x04;
const SX_CAD_DETECTED = 0x01;
const SX_DIO0_RX_DONE = 0x00;
const SX_DIO0_TX_DONE = 0x40;
const SX_DIO0_CAD_DONE = 0x80;
const SX_CRC_ON_PAYLOAD = 0x40;
const SX_SIGNAL_DETECTED = 0x01;
const SX_CHIP_VERSION = 0x12;

/** Signal bandwidths in Hz, by their RegModemConfig1 Bw code (0..9). */
export const LORA_BW = [7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000];

export interface LoraParams {
  /** Spreading factor 7..12 (6 needs implicit header mode, which this driver does not use). */
  sf: number;
  /** Bandwidth in Hz, one of LORA_BW. */
  bw: number;
  /** Coding rate 4/(4+cr): cr 1..4. */
  cr: number;
  /** Programmed preamble length, symbols (RegPreamble); 4.25 more go on the air. */
  preamble: number;
  crc: boolean;
  /** Implicit header mode (IH = 1). */
  implicit: boolean;
  /** Low data rate optimisation (DE = 1). */
  ldro: boolean;
}

/** True when a symbol lasts more than 16 ms, where the datasheet mandates low data rate optimisation. */
export function loraNeedsLdro(sf: number, bw: number): boolean {
  return (1 << sf) * 1000 > 16 * bw;
}

/** Symbols on the air for a payload of `len` bytes, times 4 (the preamble adds a quarter symbol). */
function quarterSymbols(len: number, p: LoraParams): number {
  const num = 8 * len - 4 * p.sf + 28 + (p.crc ? 16 : 0) - (p.implicit ? 20 : 0);
  const den = 4 * (p.sf - (p.ldro ? 2 : 0));
  const blocks = Math.ceil(num / den);
  const payload = 8 + (blocks > 0 ? blocks * (p.cr + 4) : 0);
  return 4 * p.preamble + 17 + 4 * payload;
}

/** Time on air of a packet with `len` payload bytes, µs, rounded up (datasheet 4.1.1.7). */
export function loraTimeOnAirUs(len: number, p: LoraParams): number {
  // (quarter symbols · 2^SF · 1e6) / (4 · BW), exact in doubles for every setting here.
  return Math.ceil((quarterSymbols(len, p) * (1 << p.sf) * 1e6) / (4 * p.bw));
}

/** Duration of one CAD, µs: the receiving part (2^SF + 32) / BW plus one symbol of processing (datasheet 4.1.6). */
export function loraCadUs(sf: number, bw: number): number {
  return Math.ceil((((1 << sf) + 32) * 1e6) / bw + ((1 << sf) * 1e6) / bw);
}

/** The parts of Espruino's SPI object and pin functions the driver calls. */
export interface EspruinoSpiApi {
  /** SPI.send: lowers `nss`, clocks `data` out, raises `nss`; returns the bytes clocked in. */
  send(data: Uint8Array, nss: EspruinoPin): Uint8Array;
}
export interface Sx127xPinsApi {
  digitalWrite(pin: EspruinoPin, value: number): void;
  /** pinMode(pin, 'input'): the pin floats (the reset line is released this way). */
  pinMode(pin: EspruinoPin, mode: string): void;
  /** setWatch with {repeat: true, edge: 'rising'}: returns a watch id. */
  setWatch(fn: () => void, pin: EspruinoPin, opts: { repeat: boolean; edge: string }): number;
}

export interface Sx127xOptions {
  spi: EspruinoSpiApi;
  pins: Sx127xPinsApi;
  nss: EspruinoPin;
  reset: EspruinoPin;
  dio0: EspruinoPin;
  clock: Clock;
  /** Carrier frequency, Hz (default 868.1 MHz, EU868's first channel). */
  frequencyHz?: number;
  /** Spreading factor 7..12 (default 7). */
  sf?: number;
  /** Bandwidth, Hz: one of LORA_BW (default 125 kHz). */
  bandwidthHz?: number;
  /** Coding rate 4/(4+cr), cr 1..4 (default 1: 4/5). */
  codingRate?: number;
  /** Preamble length, symbols, 6..65535 (default 8). */
  preamble?: number;
  /** Sync word (default 0x12, the chip's reset value for private networks; LoRaWAN uses 0x34). */
  syncWord?: number;
  /** Output power on PA_BOOST, dBm, 2..17 (default 14). */
  txPowerDbm?: number;
  /** Largest frame, bytes, 1..255 (default 64). */
  mtu?: number;
  /** How old a CAD result busy() still answers from, µs (default 10 symbols, at least 10 ms). */
  senseAgeUs?: number;
}

export interface Sx127xStats {
  sent: number;
  received: number;
  /** Packets dropped: PayloadCrcError set. */
  crcErrors: number;
  /** Packets dropped: the header said no CRC. */
  noCrc: number;
  /** Packets dropped: length outside 1..mtu. */
  malformed: number;
  /** Transmissions with no TxDone in time (reported TX_ERR). */
  txTimeouts: number;
  cads: number;
  cadDetected: number;
  interrupts: number;
}

export interface Sx127xLink extends Link {
  readonly stats: Sx127xStats;
  /** The register writes of the set-up, as [register, values...], in order (for the tests). */
  readonly setupWrites: number[][];
  /** The LoRa settings in use (for time on air). */
  readonly params: LoraParams;
  /** '' while all is well; else what went wrong at start-up and what to check. The link then refuses every frame. */
  error(): string;
  /** True once the chip is set up and listening. */
  ready(): boolean;
}

const ST_RESET = 0;
const ST_RX = 1;
const ST_TX = 2;
const ST_CAD = 3;
const ST_FAILED = 4;

export function sx127x(o: Sx127xOptions): Sx127xLink {
  const freq = o.frequencyHz || 868100000;
  const sf = o.sf || 7;
  const bw = o.bandwidthHz || 125000;
  const cr = o.codingRate || 1;
  const pre = o.preamble || 8;
  const sync = o.syncWord === undefined ? 0x12 : o.syncWord;
  const power = o.txPowerDbm === undefined ? 14 : o.txPowerDbm;
  const mtu = o.mtu || 64;
  const bwCode = LORA_BW.indexOf(bw);
  const bad = (what: string): never => {
    throw new Error('sx127x: ' + what);
  };
  if (!(freq >= 137000000 && freq <= 1020000000)) bad('frequencyHz must be 137e6..1020e6 (the SX1276 range)');
  if (!(sf >= 7 && sf <= 12)) bad('sf must be 7..12');
  if (bwCode < 0) bad('bandwidthHz must be one of ' + LORA_BW.join(', '));
  if (!(cr >= 1 && cr <= 4)) bad('codingRate must be 1..4 (4/5..4/8)');
  if (!(pre >= 6 && pre <= 65535)) bad('preamble must be 6..65535 symbols');
  if (!(power >= 2 && power <= 17)) bad('txPowerDbm must be 2..17 (PA_BOOST)');
  if (!(mtu >= 1 && mtu <= 255)) bad('mtu must be 1..255');
  const lf = freq < 779000000 ? SX_LF : 0;
  const rssiBase = lf ? -164 : -157;
  const params: LoraParams = { sf: sf, bw: bw, cr: cr, preamble: pre, crc: true, implicit: false, ldro: loraNeedsLdro(sf, bw) };
  const symUs = ((1 << sf) * 1e6) / bw;
  const senseAge = o.senseAgeUs || Math.max(10 * symUs, 10000);
  const frf = Math.round((freq / 32000000) * 524288);

  const spi = o.spi;
  const pins = o.pins;
  const clock = o.clock;
  const buf = new Uint8Array(1 + mtu); // every SPI access goes out of this one buffer
  const b2 = buf.subarray(0, 2);
  const rx = new Uint8Array(mtu);
  const caps: LinkCaps = {
    mtu: mtu,
    // The payload's bit rate: SF bits a symbol, coded 4/(4+cr).
    bitrate: Math.floor((sf * bw * 4) / ((1 << sf) * (4 + cr))),
    medium: 'radio', carrierSense: true, broadcast: true,
  };
  const at: RxInfo = { timeUs: 0, rssi: 0 };
  const stats: Sx127xStats = { sent: 0, received: 0, crcErrors: 0, noCrc: 0, malformed: 0, txTimeouts: 0, cads: 0, cadDetected: 0, interrupts: 0 };
  const setupWrites: number[][] = [];
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let state = ST_RESET;
  let fault = '';
  let recording = true;
  let cadBusy = true;
  let cadAt = -1;
  let txTimer: Timer | null = null;

  function write(reg: number, v: number): void {
    buf[0] = SX_WRITE | reg;
    buf[1] = v;
    spi.send(b2, o.nss);
    if (recording) setupWrites.push([reg, v]);
  }
  function read(reg: number): number {
    buf[0] = reg;
    buf[1] = 0;
    return spi.send(b2, o.nss)[1];
  }
  const mode = (m: number): void => write(SX_OP_MODE, SX_LORA | lf | m);

  function startRx(): void {
    write(SX_DIO_MAPPING1, SX_DIO0_RX_DONE);
    mode(SX_RX_CONT);
    state = ST_RX;
  }

  // Reset: NRESET low for 200 µs (more than the datasheet's 100), released, 5 ms before the first access.
  pins.digitalWrite(o.reset, 0);
  clock.at(clock.now() + 200, function () {
    pins.pinMode(o.reset, 'input');
    clock.at(clock.now() + 5000, setup);
  });

  function setup(): void {
    const v = read(SX_VERSION);
    if (v !== SX_CHIP_VERSION) {
      state = ST_FAILED;
      fault = 'sx127x: RegVersion reads 0x' + v.toString(16) + ', an SX1276/77/78/79 reads 0x12: check the SPI pins, NSS, the reset pin and the module\'s 3.3 V supply';
      return;
    }
    // In register order, in Sleep (the configuration registers are for Sleep and Standby).
    write(SX_OP_MODE, SX_SLEEP | lf); // Sleep first: LongRangeMode changes only in Sleep...
    mode(SX_SLEEP); // ...then LoRa, still asleep
    buf[0] = SX_WRITE | SX_FRF_MSB; // one burst: Frf MSB, MID, LSB
    buf[1] = (frf >> 16) & 0xff;
    buf[2] = (frf >> 8) & 0xff;
    buf[3] = frf & 0xff;
    spi.send(buf.subarray(0, 4), o.nss);
    setupWrites.push([SX_FRF_MSB, buf[1], buf[2], buf[3]]);
    write(SX_PA_CONFIG, 0x80 | (power - 2)); // PA_BOOST, OutputPower = Pout - 2
    write(SX_LNA, lf ? 0x20 : 0x23); // highest gain; LnaBoostHf on the HF port
    write(SX_FIFO_TX_BASE, 0);
    write(SX_FIFO_RX_BASE, 0);
    write(SX_MODEM_CONFIG1, (bwCode << 4) | (cr << 1)); // explicit header
    write(SX_MODEM_CONFIG2, (sf << 4) | 0x04); // RxPayloadCrcOn
    write(SX_PREAMBLE_MSB, (pre >> 8) & 0xff);
    write(SX_PREAMBLE_LSB, pre & 0xff);
    write(SX_MODEM_CONFIG3, (params.ldro ? 0x08 : 0) | 0x04); // AgcAutoOn
    write(SX_SYNC_WORD, sync);
    mode(SX_STDBY);
    write(SX_IRQ_FLAGS, 0xff);
    startRx();
    recording = false;
  }

  function txEnd(status: 0 | 5): void {
    if (txTimer !== null) clock.cancel(txTimer);
    txTimer = null;
    startRx();
    if (onSentFn) onSentFn(status);
  }

  function txTimeout(): void {
    txTimer = null;
    stats.txTimeouts++;
    mode(SX_STDBY);
    write(SX_IRQ_FLAGS, 0xff);
    txEnd(TX_ERR);
  }

  function receive(flags: number): void {
    if (flags & SX_CRC_ERROR) {
      stats.crcErrors++;
      return;
    }
    if (!(read(SX_HOP_CHANNEL) & SX_CRC_ON_PAYLOAD)) {
      stats.noCrc++;
      return;
    }
    const n = read(SX_RX_NB_BYTES);
    if (n < 1 || n > mtu) {
      stats.malformed++;
      return;
    }
    write(SX_FIFO_ADDR_PTR, read(SX_FIFO_RX_CURRENT));
    buf[0] = SX_FIFO;
    for (let i = 1; i <= n; i++) buf[i] = 0;
    const r = spi.send(buf.subarray(0, n + 1), o.nss);
    for (let i = 0; i < n; i++) rx[i] = r[1 + i];
    buf[0] = SX_PKT_SNR; // a burst: PktSnrValue, PktRssiValue
    buf[1] = 0;
    buf[2] = 0;
    const q = spi.send(buf.subarray(0, 3), o.nss);
    const snr = q[1] > 127 ? q[1] - 256 : q[1];
    at.rssi = rssiBase + q[2] + (snr < 0 ? snr / 4 : 0);
    at.timeUs = clock.now();
    stats.received++;
    if (onRx) onRx(rx, n, at);
  }

  function onDio0(): void {
    if (state === ST_RESET || state === ST_FAILED) return; // not ours to read yet
    stats.interrupts++;
    const flags = read(SX_IRQ_FLAGS);
    if (!flags) return; // an edge already dealt with
    if (state === ST_TX && flags & SX_TX_DONE) {
      write(SX_IRQ_FLAGS, flags);
      txEnd(TX_OK);
    } else if (state === ST_CAD && flags & SX_CAD_DONE) {
      write(SX_IRQ_FLAGS, flags);
      cadBusy = (flags & SX_CAD_DETECTED) !== 0;
      cadAt = clock.now();
      if (cadBusy) stats.cadDetected++;
      startRx(); // the chip is in Standby after CAD; a preamble it saw is still received
    } else if (state === ST_RX && flags & SX_RX_DONE) {
      receive(flags); // the datasheet's order: check PayloadCrcError, read the FIFO, then clear
      write(SX_IRQ_FLAGS, flags);
    } else {
      write(SX_IRQ_FLAGS, flags);
    }
  }

  pins.setWatch(onDio0, o.dio0, { repeat: true, edge: 'rising' });

  return {
    caps: caps,
    stats: stats,
    setupWrites: setupWrites,
    params: params,
    error(): string { return fault; },
    ready(): boolean { return state !== ST_RESET && state !== ST_FAILED; },
    send(frame: Uint8Array, len: number): boolean {
      if (state === ST_RESET || state === ST_FAILED || state === ST_TX || !(len >= 1 && len <= mtu)) return false;
      mode(SX_STDBY); // out of RX or CAD: the FIFO and PayloadLength are written in Standby
      write(SX_FIFO_ADDR_PTR, 0); // = FifoTxBaseAddr
      buf[0] = SX_WRITE | SX_FIFO;
      for (let i = 0; i < len; i++) buf[1 + i] = frame[i];
      spi.send(buf.subarray(0, len + 1), o.nss);
      write(SX_PAYLOAD_LENGTH, len);
      write(SX_IRQ_FLAGS, 0xff); // nothing left over from an aborted CAD
      write(SX_DIO_MAPPING1, SX_DIO0_TX_DONE);
      mode(SX_TX);
      state = ST_TX;
      const toa = loraTimeOnAirUs(len, params);
      txTimer = clock.at(clock.now() + toa + (toa >> 2) + 20000, txTimeout);
      stats.sent++;
      return true;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    busy(): boolean {
      if (state === ST_TX) return true;
      if (state !== ST_RX && state !== ST_CAD) return false;
      if (state === ST_RX) {
        if (read(SX_MODEM_STAT) & SX_SIGNAL_DETECTED) return true; // a frame is arriving: keep receiving it
        mode(SX_STDBY);
        write(SX_DIO_MAPPING1, SX_DIO0_CAD_DONE);
        mode(SX_CAD);
        state = ST_CAD;
        stats.cads++;
      }
      return cadAt >= 0 && clock.now() - cadAt <= senseAge ? cadBusy : true;
    },
  };
}

// A register model of the Semtech SX1276/77/78/79 in LoRa mode for the driver's tests, written from the
// chip's datasheet (Rev. 4): the SPI access (wnr bit, address auto-increment, RegFifo reached through
// RegFifoAddrPtr), the manual reset (NRESET low at least 100 µs, 5 ms before the chip answers), the
// register reset values used here (RegOpMode 0x09: FSK, LF, Standby; RegVersion 0x12; Frf 0x6C8000;
// FifoTxBaseAddr 0x80, FifoRxBaseAddr 0x00; ModemConfig1 0x72, ModemConfig2 0x70; preamble 8; sync
// word 0x12), the operating modes of RegOpMode with LongRangeMode changed only in Sleep and the FIFO
// cleared (and out of reach) in Sleep, the configuration registers written only in Sleep or Standby,
// TX sending PayloadLength bytes from FifoTxBaseAddr and ending in Standby with TxDone, RX continuous
// writing packets one after another through the FIFO from FifoRxBaseAddr (RegFifoRxCurrentAddr, RegRxNbBytes,
// RegPktSnrValue, RegPktRssiValue, RegHopChannel's CrcOnPayload, RxDone, ValidHeader, PayloadCrcError),
// RegModemStat while a packet arrives, CAD (the receiver open for (2^SF + 32)/BW, a symbol of
// processing, CadDone and CadDetected when a preamble was on the air, then Standby), the IRQ flags
// cleared by writing 1, and DIO0 following the flag RegDioMapping1 maps to it (00 RxDone, 01 TxDone,
// 10 CadDone).
//
// Chips share an "air" on the simulator's scheduler (hal/sim/scheduler.ts). A transmission lasts its
// time on air, computed here from the datasheet's formula on the sender's registers (separately from
// the driver's function). A receiver must be on the same frequency, bandwidth, spreading factor and
// sync word, and in RX continuous while at least 6 symbols of the preamble remain (the datasheet's
// shortest programmable preamble; the model's rule for acquiring a packet); it then stays locked on it
// until the end. Any other transmission overlapping a locked packet spoils it (PayloadCrcError; no
// capture effect). CAD detects a preamble that overlaps its receiving window (payload symbols are not
// detected, as the datasheet describes CAD). Every station hears every other at `air.rssiDbm` with
// `air.snrDb`. What a driver does against the datasheet goes to `violations`.
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import type { Timer } from '../../../hal/clock.ts';
import type { EspruinoPin } from '../../../hal/espruino/espruino.d.ts';

export const R = {
  FIFO: 0x00, OP_MODE: 0x01, FRF_MSB: 0x06, FRF_MID: 0x07, FRF_LSB: 0x08, PA_CONFIG: 0x09, LNA: 0x0c,
  FIFO_ADDR_PTR: 0x0d, FIFO_TX_BASE: 0x0e, FIFO_RX_BASE: 0x0f, FIFO_RX_CURRENT: 0x10, IRQ_FLAGS_MASK: 0x11,
  IRQ_FLAGS: 0x12, RX_NB_BYTES: 0x13, MODEM_STAT: 0x18, PKT_SNR: 0x19, PKT_RSSI: 0x1a, RSSI: 0x1b,
  HOP_CHANNEL: 0x1c, MODEM_CONFIG1: 0x1d, MODEM_CONFIG2: 0x1e, PREAMBLE_MSB: 0x20, PREAMBLE_LSB: 0x21,
  PAYLOAD_LENGTH: 0x22, FIFO_RX_BYTE_ADDR: 0x25, MODEM_CONFIG3: 0x26, SYNC_WORD: 0x39, DIO_MAPPING1: 0x40, VERSION: 0x42,
};
const M_SLEEP = 0, M_STDBY = 1, M_TX = 3, M_RXCONT = 5, M_CAD = 7;
const F_RX_DONE = 0x40, F_CRC_ERR = 0x20, F_VALID_HDR = 0x10, F_TX_DONE = 0x08, F_CAD_DONE = 0x04, F_CAD_DET = 0x01;
const BW = [7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000];
/** Registers the datasheet allows to be written in Sleep or Standby only (here: the ones that shape the signal). */
const STATIC = new Set([R.FRF_MSB, R.FRF_MID, R.FRF_LSB, R.PA_CONFIG, R.MODEM_CONFIG1, R.MODEM_CONFIG2, R.MODEM_CONFIG3, R.PREAMBLE_MSB, R.PREAMBLE_LSB, R.PAYLOAD_LENGTH, R.SYNC_WORD]);
const READ_ONLY = new Set([R.FIFO_RX_CURRENT, R.RX_NB_BYTES, R.MODEM_STAT, R.PKT_SNR, R.PKT_RSSI, R.RSSI, R.HOP_CHANNEL, R.FIFO_RX_BYTE_ADDR, R.VERSION]);

export interface Air {
  sched: Scheduler;
  chips: Sx127xChip[];
  /** Power every station receives, dBm, and the SNR, dB. */
  rssiDbm: number;
  snrDb: number;
}

export function air(sched: Scheduler): Air {
  return { sched, chips: [], rssiDbm: -80, snrDb: 8 };
}

/** One transmission on the air. */
interface Tx {
  from: Sx127xChip;
  data: number[];
  start: number;
  /** When the preamble (and its 4.25 symbols) ends. */
  preambleEnd: number;
  end: number;
  crc: boolean;
  key: string;
  aborted: boolean;
}

export class Sx127xChip {
  regs = new Uint8Array(0x80);
  fifo = new Uint8Array(256);
  violations: string[] = [];
  /** Register writes as [register, values...] (bursts as one row), in order. */
  writes: number[][] = [];
  /** Every OpMode value written, in order. */
  modes: number[] = [];
  /** Test hooks: the next packet received has a CRC error; TX never raises TxDone (a stuck chip). */
  corruptNext = false;
  txStuck = false;
  cadCount = 0;
  resetLow = false;
  resetReleasedAt = 0;
  transmitting: Tx | null = null;
  locked: Tx | null = null;
  lockedBad = false;
  private rxSince = -1;
  private rxWrite = 0;
  private cadTimer: Timer | null = null;
  private cadStart = 0;
  private watch: (() => void) | null = null;
  private dio0 = false;

  constructor(readonly a: Air, readonly name: string, version = 0x12) {
    this.reset();
    this.regs[R.VERSION] = version;
    a.chips.push(this);
  }

  private now(): number {
    return this.a.sched.now();
  }
  private reset(): void {
    const r = this.regs;
    r.fill(0);
    r[R.OP_MODE] = 0x09; r[R.FRF_MSB] = 0x6c; r[R.FRF_MID] = 0x80; r[R.FRF_LSB] = 0x00; r[R.PA_CONFIG] = 0x4f;
    r[R.LNA] = 0x20; r[R.FIFO_TX_BASE] = 0x80; r[R.FIFO_RX_BASE] = 0x00; r[R.MODEM_CONFIG1] = 0x72; r[R.MODEM_CONFIG2] = 0x70;
    r[R.PREAMBLE_LSB] = 0x08; r[R.PAYLOAD_LENGTH] = 0x01; r[R.SYNC_WORD] = 0x12; r[R.VERSION] = this.regs[R.VERSION] || 0x12;
    r[R.MODEM_STAT] = 0x10;
    this.fifo.fill(0);
    this.rxSince = -1;
    this.locked = null;
    this.transmitting = null;
  }

  lora(): boolean {
    return (this.regs[R.OP_MODE] & 0x80) !== 0;
  }
  mode(): number {
    return this.regs[R.OP_MODE] & 0x07;
  }
  sf(): number {
    return this.regs[R.MODEM_CONFIG2] >> 4;
  }
  bw(): number {
    return BW[this.regs[R.MODEM_CONFIG1] >> 4];
  }
  frf(): number {
    return (this.regs[R.FRF_MSB] << 16) | (this.regs[R.FRF_MID] << 8) | this.regs[R.FRF_LSB];
  }
  symbolUs(): number {
    return ((1 << this.sf()) * 1e6) / this.bw();
  }
  /** Time on air of `len` bytes with this chip's registers (datasheet 4.1.1.7), µs, unrounded. */
  timeOnAirUs(len: number): { preamble: number; total: number } {
    const sf = this.sf();
    const cr = (this.regs[R.MODEM_CONFIG1] >> 1) & 7;
    const ih = this.regs[R.MODEM_CONFIG1] & 1;
    const crc = (this.regs[R.MODEM_CONFIG2] >> 2) & 1;
    const de = (this.regs[R.MODEM_CONFIG3] >> 3) & 1;
    const npre = (this.regs[R.PREAMBLE_MSB] << 8) | this.regs[R.PREAMBLE_LSB];
    const ts = this.symbolUs();
    const nPayload = 8 + Math.max(Math.ceil((8 * len - 4 * sf + 28 + 16 * crc - 20 * ih) / (4 * (sf - 2 * de))) * (cr + 4), 0);
    return { preamble: (npre + 4.25) * ts, total: (npre + 4.25 + nPayload) * ts };
  }
  private key(): string {
    return `${this.frf()}/${this.regs[R.MODEM_CONFIG1] >> 4}/${this.sf()}`;
  }

  // ---- flags and DIO0

  private raise(bits: number): void {
    this.regs[R.IRQ_FLAGS] |= bits & ~this.regs[R.IRQ_FLAGS_MASK];
    this.updateDio0();
  }
  private updateDio0(): void {
    const map = this.regs[R.DIO_MAPPING1] >> 6;
    const bit = map === 0 ? F_RX_DONE : map === 1 ? F_TX_DONE : map === 2 ? F_CAD_DONE : 0;
    const high = (this.regs[R.IRQ_FLAGS] & bit) !== 0;
    if (high && !this.dio0 && this.watch) {
      const w = this.watch;
      this.a.sched.at(this.now(), () => w()); // Espruino calls watches from its idle loop
    }
    this.dio0 = high;
  }

  // ---- what the driver sees as Espruino's API

  spiSend(data: Uint8Array, nss: EspruinoPin): Uint8Array {
    if (nss !== 'NSS_' + this.name) this.violations.push(`SPI sent with nss ${String(nss)}`);
    const out = new Uint8Array(data.length);
    if (this.resetLow || this.now() - this.resetReleasedAt < 5000) {
      this.violations.push(`SPI access ${this.resetLow ? 'during reset' : 'less than 5 ms after reset'}`);
      return out;
    }
    const write = (data[0] & 0x80) !== 0;
    let addr = data[0] & 0x7f;
    if (write) this.writes.push([addr, ...data.subarray(1)]);
    for (let i = 1; i < data.length; i++) {
      if (addr === R.FIFO) {
        if (this.mode() === M_SLEEP) this.violations.push('FIFO accessed in Sleep mode');
        const p = this.regs[R.FIFO_ADDR_PTR];
        if (write) this.fifo[p] = data[i];
        else out[i] = this.fifo[p];
        this.regs[R.FIFO_ADDR_PTR] = (p + 1) & 0xff;
      } else {
        if (write) this.writeReg(addr, data[i]);
        else out[i] = addr === R.MODEM_STAT ? this.modemStat() : this.regs[addr];
        addr = (addr + 1) & 0x7f;
      }
    }
    return out;
  }

  private writeReg(reg: number, v: number): void {
    if (reg === R.OP_MODE) return this.writeOpMode(v);
    if (reg >= 0x0d && reg <= 0x3f && !this.lora()) this.violations.push(`LoRa register 0x${reg.toString(16)} written in FSK mode`);
    if (STATIC.has(reg) && this.mode() !== M_SLEEP && this.mode() !== M_STDBY) this.violations.push(`register 0x${reg.toString(16)} written in mode ${this.mode()} (Sleep or Standby only)`);
    if (READ_ONLY.has(reg)) {
      this.violations.push(`write to read-only register 0x${reg.toString(16)}`);
      return;
    }
    if (reg === R.IRQ_FLAGS) {
      this.regs[R.IRQ_FLAGS] &= ~v;
      this.updateDio0();
      return;
    }
    this.regs[reg] = v;
    if (reg === R.DIO_MAPPING1) this.updateDio0();
  }

  private writeOpMode(v: number): void {
    const was = this.regs[R.OP_MODE];
    const wasMode = was & 7;
    if ((v & 0x80) !== (was & 0x80) && wasMode !== M_SLEEP) {
      this.violations.push(`LongRangeMode changed outside Sleep (mode ${wasMode})`);
      v = (v & 0x7f) | (was & 0x80); // the chip ignores it
    }
    this.regs[R.OP_MODE] = v;
    this.modes.push(v);
    const m = v & 7;
    if (m === wasMode) return;
    // Leaving a mode.
    if (wasMode === M_RXCONT) {
      this.rxSince = -1;
      this.locked = null;
    }
    if (wasMode === M_CAD && this.cadTimer !== null) {
      this.a.sched.cancel(this.cadTimer);
      this.cadTimer = null;
    }
    if (wasMode === M_TX && this.transmitting) {
      this.transmitting.aborted = true; // cut short: receivers get a broken packet
      this.transmitting = null;
    }
    if (!this.lora()) return;
    // Entering one.
    if (m === M_SLEEP) this.fifo.fill(0);
    else if (m === M_RXCONT) {
      this.rxSince = this.now();
      this.rxWrite = this.regs[R.FIFO_RX_BASE];
    } else if (m === M_TX) this.startTx();
    else if (m === M_CAD) this.startCad();
  }

  digitalWrite(v: number): void {
    if (!v) {
      this.resetLow = true;
      this.lowAt = this.now();
    } else this.release();
  }
  pinMode(mode: string): void {
    if (mode === 'input') this.release();
    else this.violations.push(`pinMode ${mode} on NRESET`);
  }
  private lowAt = 0;
  private release(): void {
    if (!this.resetLow) return;
    if (this.now() - this.lowAt < 100) this.violations.push('NRESET low for less than 100 µs');
    this.resetLow = false;
    this.resetReleasedAt = this.now();
    const version = this.regs[R.VERSION];
    this.reset();
    this.regs[R.VERSION] = version;
  }
  setWatch(fn: () => void): void {
    this.watch = fn;
  }

  // ---- the air

  private startTx(): void {
    const len = this.regs[R.PAYLOAD_LENGTH];
    if (len === 0) this.violations.push('TX with PayloadLength 0');
    const base = this.regs[R.FIFO_TX_BASE];
    const data: number[] = [];
    for (let i = 0; i < len; i++) data.push(this.fifo[(base + i) & 0xff]);
    const t = this.now();
    const toa = this.timeOnAirUs(len);
    const tx: Tx = {
      from: this, data, start: t, preambleEnd: t + toa.preamble, end: t + toa.total,
      crc: (this.regs[R.MODEM_CONFIG2] & 0x04) !== 0, key: this.key() + '/' + this.regs[R.SYNC_WORD], aborted: false,
    };
    this.transmitting = tx;
    // Whatever a receiver is locked on is spoilt by this signal.
    for (const c of this.a.chips) if (c !== this && c.locked && c.key() === this.key()) c.lockedBad = true;
    const lockAt = tx.preambleEnd - 6 * this.symbolUs();
    this.a.sched.at(Math.max(t, lockAt), () => {
      for (const c of this.a.chips) if (c !== this) c.tryLock(tx);
    });
    this.a.sched.at(tx.end, () => {
      if (tx.aborted) {
        for (const c of this.a.chips) if (c.locked === tx) c.lockedBad = true;
      }
      for (const c of this.a.chips) if (c !== this && c.locked === tx) c.deliver(tx);
      if (this.transmitting !== tx) return; // aborted by a mode change
      this.transmitting = null;
      this.regs[R.OP_MODE] = (this.regs[R.OP_MODE] & 0xf8) | M_STDBY;
      if (!this.txStuck) this.raise(F_TX_DONE);
    });
  }

  /** All transmissions on the air now other than `tx`, on the same settings. */
  private othersOnAir(tx: Tx): boolean {
    return this.a.chips.some((c) => c.transmitting && c.transmitting !== tx && c.transmitting.key.startsWith(this.key() + '/'));
  }

  private tryLock(tx: Tx): void {
    if (this.locked || this.transmitting || this.rxSince < 0 || !this.lora() || this.mode() !== M_RXCONT) return;
    if (tx.key !== this.key() + '/' + this.regs[R.SYNC_WORD] || tx.aborted) return;
    this.locked = tx;
    this.lockedBad = this.othersOnAir(tx);
  }

  private deliver(tx: Tx): void {
    this.locked = null;
    const bad = this.lockedBad || this.corruptNext || tx.aborted;
    this.corruptNext = false;
    const n = tx.data.length;
    const start = this.rxWrite;
    for (let i = 0; i < n; i++) this.fifo[(start + i) & 0xff] = tx.data[i];
    this.rxWrite = (start + n) & 0xff;
    this.regs[R.FIFO_RX_CURRENT] = start;
    this.regs[R.FIFO_RX_BYTE_ADDR] = this.rxWrite;
    this.regs[R.RX_NB_BYTES] = n;
    const snr = Math.round(this.a.snrDb * 4);
    this.regs[R.PKT_SNR] = snr & 0xff;
    const hf = (this.regs[R.OP_MODE] & 0x08) === 0;
    // Packet strength = -157 (HF) or -164 (LF) + PacketRssi [+ PacketSnr / 4 when SNR < 0], solved for PacketRssi.
    this.regs[R.PKT_RSSI] = Math.round(this.a.rssiDbm + (hf ? 157 : 164) - (snr < 0 ? snr / 4 : 0));
    this.regs[R.HOP_CHANNEL] = tx.crc ? 0x40 : 0;
    this.raise(F_VALID_HDR | F_RX_DONE | (bad && tx.crc ? F_CRC_ERR : 0));
  }

  /** RegModemStat as the driver reads it. */
  private modemStat(): number {
    if (!this.locked) return 0x10; // modem clear
    const hdrEnd = this.locked.preambleEnd + 8 * this.symbolUs();
    return 0x07 | (this.now() >= hdrEnd ? 0x08 : 0);
  }

  private startCad(): void {
    this.cadCount++;
    this.cadStart = this.now();
    const sym = this.symbolUs();
    const listen = (((1 << this.sf()) + 32) * 1e6) / this.bw();
    this.cadTimer = this.a.sched.at(this.now() + listen + sym, () => {
      this.cadTimer = null;
      const from = this.cadStart;
      const to = this.cadStart + listen;
      const seen = this.a.chips.some((c) => {
        const t = c.transmitting;
        return c !== this && t !== null && t.key.startsWith(this.key() + '/') && t.start < to && t.preambleEnd > from;
      });
      this.regs[R.OP_MODE] = (this.regs[R.OP_MODE] & 0xf8) | M_STDBY;
      this.raise(F_CAD_DONE | (seen ? F_CAD_DET : 0));
    });
  }
}

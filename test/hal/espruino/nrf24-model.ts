// A register model of the nRF24L01+ for the driver's tests, written from Nordic's nRF24L01+ Product
// Specification v1.0: the register map with its reset values (section 9), the SPI commands (8.3.1, the
// first byte back is always STATUS), the rule that registers are written in power down or standby only
// (CE low), the 1.5 ms power-up and 130 µs settling (6.1.7), a transmission started by a CE pulse on a
// PTX with a payload in its TX FIFO, fixed payload widths (RX_PW_P0 must equal the payload's length),
// three-level FIFOs, STATUS bits cleared by writing 1, the active-low IRQ, and RPD set in RX mode while
// another chip transmits on the channel. Chips share an "air": a payload reaches every other chip in
// RX on the same channel, data rate and address. What a driver does against the specification is
// recorded in `violations`.
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import type { EspruinoPin } from '../../../hal/espruino/espruino.d.ts';

const REG = { CONFIG: 0x00, EN_AA: 0x01, EN_RXADDR: 0x02, SETUP_AW: 0x03, SETUP_RETR: 0x04, RF_CH: 0x05, RF_SETUP: 0x06, STATUS: 0x07, RPD: 0x09, RX_ADDR_P0: 0x0a, TX_ADDR: 0x10, RX_PW_P0: 0x11, FIFO_STATUS: 0x17, DYNPD: 0x1c, FEATURE: 0x1d };
const ADDR_REGS = new Set([REG.RX_ADDR_P0, 0x0b, REG.TX_ADDR]);

export interface Air {
  sched: Scheduler;
  chips: Nrf24Chip[];
}

export function air(sched: Scheduler): Air {
  return { sched, chips: [] };
}

export class Nrf24Chip {
  regs = new Uint8Array(0x1e);
  addrs = new Map<number, number[]>();
  ce = 0;
  /** Time CONFIG.PWR_UP was set (the crystal needs 1.5 ms). */
  poweredAt = -1;
  /** Time CE last rose (RX or TX settles in 130 µs). */
  ceRoseAt = -1;
  tx: number[][] = [];
  rxq: number[][] = [];
  transmitting = false;
  /** Until when another chip's carrier is heard (RPD). */
  carrierUntil = -1;
  violations: string[] = [];
  writes: number[][] = [];
  private watch: (() => void) | null = null;
  private irqLow = false;

  constructor(readonly a: Air, readonly name: string) {
    const r = this.regs;
    r[REG.CONFIG] = 0x08; r[REG.EN_AA] = 0x3f; r[REG.EN_RXADDR] = 0x03; r[REG.SETUP_AW] = 0x03; r[REG.SETUP_RETR] = 0x03;
    r[REG.RF_CH] = 0x02; r[REG.RF_SETUP] = 0x0e; r[REG.STATUS] = 0x0e; r[REG.FIFO_STATUS] = 0x11;
    this.addrs.set(REG.RX_ADDR_P0, [0xe7, 0xe7, 0xe7, 0xe7, 0xe7]);
    this.addrs.set(REG.TX_ADDR, [0xe7, 0xe7, 0xe7, 0xe7, 0xe7]);
    a.chips.push(this);
  }

  private now(): number {
    return this.a.sched.now();
  }
  private status(): number {
    return (this.regs[REG.STATUS] & 0x70) | (this.rxq.length ? 0 : 0x0e) | (this.tx.length >= 3 ? 1 : 0);
  }
  private fifoStatus(): number {
    return (this.rxq.length === 0 ? 0x01 : 0) | (this.rxq.length >= 3 ? 0x02 : 0) | (this.tx.length === 0 ? 0x10 : 0) | (this.tx.length >= 3 ? 0x20 : 0);
  }
  private mode(): 'powerdown' | 'standby' | 'rx' | 'tx' {
    if (!(this.regs[REG.CONFIG] & 0x02)) return 'powerdown';
    if (!this.ce) return 'standby';
    return this.regs[REG.CONFIG] & 0x01 ? 'rx' : 'tx';
  }
  /** Listening: RX mode, settled, powered long enough. */
  listening(): boolean {
    const t = this.now();
    return this.mode() === 'rx' && t - this.ceRoseAt >= 130 && this.poweredAt >= 0 && t - this.poweredAt >= 1500;
  }
  private raise(bits: number): void {
    this.regs[REG.STATUS] |= bits;
    this.updateIrq();
  }
  private updateIrq(): void {
    const mask = (this.regs[REG.CONFIG] >> 4) & 0x07; // MASK_RX_DR 6, MASK_TX_DS 5, MASK_MAX_RT 4
    const pending = (this.regs[REG.STATUS] >> 4) & 0x07 & ~mask;
    const low = pending !== 0;
    if (low && !this.irqLow && this.watch) {
      const w = this.watch;
      this.a.sched.at(this.now(), () => w()); // Espruino calls watches from its idle loop
    }
    this.irqLow = low;
  }

  // ---- what the driver sees as Espruino's API

  spiSend(data: Uint8Array, nss: EspruinoPin): Uint8Array {
    if (nss !== 'CSN_' + this.name) this.violations.push(`SPI sent with nss ${String(nss)}`);
    const out = new Uint8Array(data.length);
    out[0] = this.status();
    const c = data[0];
    if (c === 0xff) return out; // NOP
    if ((c & 0xe0) === 0x00 || (c & 0xe0) === 0x20) {
      const reg = c & 0x1f;
      if (c & 0x20) {
        if (this.mode() === 'rx' || this.mode() === 'tx') this.violations.push(`W_REGISTER 0x${reg.toString(16)} while CE is high (${this.mode()})`);
        if (ADDR_REGS.has(reg)) {
          if (data.length !== 6) this.violations.push(`address register 0x${reg.toString(16)} written with ${data.length - 1} bytes`);
          this.addrs.set(reg, Array.from(data.subarray(1)));
          this.writes.push([reg, ...data.subarray(1)]);
        } else {
          if (data.length !== 2) this.violations.push(`register 0x${reg.toString(16)} written with ${data.length - 1} bytes`);
          const v = data[1];
          this.writes.push([reg, v]);
          if (reg === REG.STATUS) {
            this.regs[REG.STATUS] &= ~(v & 0x70);
            this.updateIrq();
          } else if (reg === REG.CONFIG) {
            const was = this.regs[REG.CONFIG] & 0x02;
            this.regs[REG.CONFIG] = v;
            if (!was && v & 0x02) this.poweredAt = this.now();
            if (!(v & 0x02)) this.poweredAt = -1;
            this.updateIrq();
          } else if (reg === REG.RPD || reg === REG.FIFO_STATUS) {
            this.violations.push(`write to read-only register 0x${reg.toString(16)}`);
          } else this.regs[reg] = v;
        }
      } else {
        if (ADDR_REGS.has(reg)) out.set(this.addrs.get(reg)!.slice(0, data.length - 1), 1);
        else if (reg === REG.STATUS) out[1] = this.status();
        else if (reg === REG.FIFO_STATUS) out[1] = this.fifoStatus();
        else if (reg === REG.RPD) out[1] = this.listening() && this.carrierUntil > this.now() ? 1 : 0;
        else out[1] = this.regs[reg];
      }
      return out;
    }
    if (c === 0xa0) { // W_TX_PAYLOAD
      if (data.length < 2 || data.length > 33) this.violations.push(`W_TX_PAYLOAD of ${data.length - 1} bytes`);
      if (this.tx.length < 3) this.tx.push(Array.from(data.subarray(1)));
      else this.violations.push('W_TX_PAYLOAD with the TX FIFO full');
      return out;
    }
    if (c === 0x61) { // R_RX_PAYLOAD
      const p = this.rxq.shift();
      if (!p) this.violations.push('R_RX_PAYLOAD with the RX FIFO empty');
      else {
        if (data.length - 1 !== p.length) this.violations.push(`R_RX_PAYLOAD read ${data.length - 1} of ${p.length} bytes`);
        out.set(p.slice(0, data.length - 1), 1);
      }
      return out;
    }
    if (c === 0xe1) { this.tx = []; return out; }
    if (c === 0xe2) { this.rxq = []; return out; }
    this.violations.push(`unknown command 0x${c.toString(16)}`);
    return out;
  }

  digitalWrite(v: number): void {
    const rose = !this.ce && v;
    this.ce = v ? 1 : 0;
    if (!rose) return;
    this.ceRoseAt = this.now();
    if (this.mode() === 'tx') this.startTx();
  }

  setWatch(fn: () => void): void {
    this.watch = fn;
  }

  // ---- the air

  private startTx(): void {
    if (this.transmitting) return;
    if (this.poweredAt < 0 || this.now() - this.poweredAt < 1500) this.violations.push('a transmission started less than 1.5 ms after power-up');
    const p = this.tx.shift();
    if (!p) return;
    this.transmitting = true;
    const rate = this.rate();
    const onAirUs = Math.ceil(((1 + 5 + p.length + 2) * 8 + 9) * 1e6 / rate);
    const start = this.now() + 130;
    const end = start + onAirUs;
    for (const c of this.a.chips) if (c !== this && c.regs[REG.RF_CH] === this.regs[REG.RF_CH]) c.carrierUntil = Math.max(c.carrierUntil, end);
    this.a.sched.at(end, () => {
      this.transmitting = false;
      for (const c of this.a.chips) if (c !== this) c.hear(this, p);
      this.raise(0x20); // TX_DS: no auto-ack, so sent means done
    });
  }

  private rate(): number {
    const s = this.regs[REG.RF_SETUP];
    return s & 0x20 ? 250_000 : s & 0x08 ? 2_000_000 : 1_000_000;
  }

  private hear(from: Nrf24Chip, p: number[]): void {
    if (!this.listening()) return;
    if (this.regs[REG.RF_CH] !== from.regs[REG.RF_CH] || this.rate() !== from.rate()) return;
    if (String(this.addrs.get(REG.RX_ADDR_P0)) !== String(from.addrs.get(REG.TX_ADDR))) return;
    if (!(this.regs[REG.EN_RXADDR] & 1) || this.regs[REG.RX_PW_P0] !== p.length) return;
    if (this.rxq.length >= 3) return; // RX FIFO full: lost
    this.rxq.push(p.slice());
    this.raise(0x40);
  }
}

// A fake of exactly the part of Espruino's NRF object that hal/espruino/ble.ts calls, NRF.setAdvertising
// and NRF.setScan, with the behaviour of Espruino 2v29 on an SDK 12 nRF52 board (Puck.js, MDBT42Q),
// read from libs/bluetooth/jswrap_bluetooth.c and targets/nrf5x/bluetooth.c:
// - setAdvertising(data, options): an array or a Uint8Array is advertised as it is; an object gives
//   Espruino's default advertisement (flags 02 01 06, manufacturer 0x0590 with no data, the complete
//   name); anything else throws. interval (ms) becomes units of 0.625 ms clamped to 0x20..0x4000;
//   interval, connectable, scannable and whenConnected stick until set again. More than 31 bytes, or a
//   non-connectable interval under 100 ms (0xA0 units, the S132 v3 SoftDevice's minimum), throw as
//   Espruino's "Got BLE error" does.
// - setScan(fn, {filters}): fn gets one BluetoothDevice per advertisement heard: {id, rssi, data,
//   manufacturer, manufacturerData}, built as jswrap_ble_setScan_cb builds it, and only when some
//   filter matches (only manufacturerData filters are modelled; any other key is recorded as a
//   violation). setScan() with no function stops. filters that are not an array throw.
// The air: each station advertising has advertising events, the first at once and then every
// interval plus a random advDelay of 0..10 ms; each event reaches every other scanning station once
// (a passive scanner listens on one of the three advertising channels at a time), lost with
// probability lossPct, delivered in the event (Espruino calls back from its idle loop, later than
// that; the driver cannot tell). A station never hears itself. Seeded: the same seed, the same run.
import type { Scheduler } from '../../../hal/sim/scheduler.ts';
import type { Timer } from '../../../hal/clock.ts';
import { below, chance, xoshiro } from '../../../hal/prng.ts';
import type { SeededRng } from '../../../hal/prng.ts';
import type { BleDevice, EspruinoNrfApi } from '../../../hal/espruino/ble.ts';

export interface BleAir {
  sched: Scheduler;
  stations: FakeNrf[];
  /** Chance, in per cent, that one advertising event is not heard by one scanner. */
  lossPct: number;
  rng: SeededRng;
  /** Advertisements delivered to scan callbacks, and lost to lossPct. */
  delivered: number;
  lost: number;
}

export function bleAir(sched: Scheduler, o: { lossPct?: number; seed?: number } = {}): BleAir {
  return { sched, stations: [], lossPct: o.lossPct ?? 0, rng: xoshiro(o.seed ?? 1), delivered: 0, lost: 0 };
}

export interface AdvCall {
  /** The advertised bytes, or 'default' for an object (Espruino's default advertisement). */
  data: number[] | 'default';
  options: Record<string, unknown> | undefined;
  tUs: number;
}
export interface ScanCall {
  on: boolean;
  options: unknown;
  tUs: number;
}

const UNIT_US = 625;

export class FakeNrf implements EspruinoNrfApi {
  advCalls: AdvCall[] = [];
  scanCalls: ScanCall[] = [];
  violations: string[] = [];
  /** The bytes advertised now (null: not advertising). */
  adv: number[] | null;
  /** Advertising interval in units of 0.625 ms, and the sticky flags (Espruino's bleStatus). */
  intervalUnits = Math.floor((375 * 1000) / UNIT_US);
  connectable = true;
  scannable = true;
  whenConnected = false;
  /** Advertising events sent. */
  events = 0;
  private scanFn: ((d: BleDevice) => void) | null = null;
  private filters: unknown[] | null = null;
  private timer: Timer | null = null;
  private readonly eventFn = (): void => this.event();

  /** address: this station's as Espruino prints it; rssi: what others hear it at (dBm). */
  constructor(readonly air: BleAir, readonly address: string, readonly rssi = -60, readonly name = 'Puck.js ' + address.slice(12, 17).replace(':', '')) {
    air.stations.push(this);
    this.adv = this.defaultAdv();
    this.timer = air.sched.at(air.sched.now(), this.eventFn);
  }

  get scanning(): boolean {
    return this.scanFn !== null;
  }

  /** Espruino's default advertisement: flags, manufacturer 0x0590 without data, the complete name. */
  defaultAdv(): number[] {
    const name = Array.from(this.name, (c) => c.charCodeAt(0));
    return [2, 0x01, 0x06, 3, 0xff, 0x90, 0x05, name.length + 1, 0x09, ...name];
  }

  setAdvertising(data: unknown, opts?: object): void {
    const options = opts as Record<string, unknown> | undefined;
    const t = this.air.sched.now();
    let bytes: number[] | 'default';
    if (data instanceof Uint8Array) bytes = Array.from(data);
    else if (Array.isArray(data)) bytes = data.map((x) => Number(x) & 0xff);
    else if (data !== null && typeof data === 'object') bytes = 'default';
    else throw new TypeError('Expecting Array or Object, got ' + typeof data);
    this.advCalls.push({ data: bytes, options: options ? { ...options } : undefined, tUs: t });
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError('Expecting Object or undefined');
      if (options.interval !== undefined) {
        let u = Math.floor((Number(options.interval) * 1000) / UNIT_US);
        if (u < 0x20) u = 0x20;
        if (u > 0x4000) u = 0x4000;
        this.intervalUnits = u;
      }
      if (options.connectable !== undefined) this.connectable = !!options.connectable;
      if (options.scannable !== undefined) this.scannable = !!options.scannable;
      if (options.whenConnected !== undefined) this.whenConnected = !!options.whenConnected;
    }
    const adv = bytes === 'default' ? this.defaultAdv() : bytes;
    // Advertising stops for the update, then starts again with the new data (jswrap_ble_setAdvertising).
    if (this.timer !== null) this.air.sched.cancel(this.timer);
    this.timer = null;
    this.adv = null;
    if (adv.length > 31) throw new Error('Got BLE error 0xc INVALID_LENGTH (advertising data of ' + adv.length + ' bytes)');
    if (!this.connectable && this.intervalUnits < 0xa0) throw new Error('Got BLE error 0x7 INVALID_PARAM (non-connectable interval under 100 ms)');
    this.adv = adv;
    this.timer = this.air.sched.at(t, this.eventFn);
  }

  setScan(fn?: unknown, options?: unknown): void {
    const t = this.air.sched.now();
    let filters: unknown[] | null = null;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError('Expecting Object, got ' + typeof options);
      const f = (options as { filters?: unknown }).filters;
      if (f !== undefined) {
        if (!Array.isArray(f)) throw new TypeError('requestDevice expecting an array of filters');
        filters = f;
      }
    }
    const on = typeof fn === 'function';
    this.scanCalls.push({ on, options: options === undefined ? undefined : JSON.parse(JSON.stringify(options)), tUs: t });
    this.scanFn = on ? (fn as (d: BleDevice) => void) : null;
    this.filters = on ? filters : null;
  }

  /** One advertising event: every other scanning station hears it once, unless lost. */
  private event(): void {
    this.timer = null;
    if (this.adv === null) return;
    this.events++;
    for (const s of this.air.stations) {
      if (s === this || !s.scanFn) continue;
      if (chance(this.air.rng, this.air.lossPct)) {
        this.air.lost++;
        continue;
      }
      s.hear(this.adv, this);
    }
    const advDelayUs = below(this.air.rng, 10_001);
    this.timer = this.air.sched.at(this.air.sched.now() + this.intervalUnits * UNIT_US + advDelayUs, this.eventFn);
  }

  private hear(adv: number[], from: FakeNrf): void {
    // The BluetoothDevice, as jswrap_ble_setScan_cb builds it from the raw data.
    const data = Uint8Array.from(adv).buffer;
    const d: Record<string, unknown> = { id: from.address, rssi: from.rssi, data };
    for (let i = 0; i + 1 < adv.length;) {
      const l = adv[i];
      const type = adv[i + 1];
      if (type === 0xff && l >= 3) {
        d.manufacturer = (adv[i + 3] << 8) | adv[i + 2];
        d.manufacturerData = Uint8Array.from(adv.slice(i + 4, i + 1 + l)).buffer;
      } else if (type === 0x09) {
        d.name = String.fromCharCode(...adv.slice(i + 2, i + 1 + l));
      }
      i += l + 1;
    }
    if (this.filters && !this.filters.some((f) => this.matches(f, d))) return;
    this.air.delivered++;
    this.scanFn!(d as unknown as BleDevice);
  }

  private matches(f: unknown, d: Record<string, unknown>): boolean {
    if (typeof f !== 'object' || f === null) return false;
    let ok = true;
    for (const [k, v] of Object.entries(f)) {
      if (k !== 'manufacturerData') {
        this.violations.push('filter key not modelled: ' + k);
        ok = false;
        continue;
      }
      if (typeof v !== 'object' || v === null) continue;
      for (const id of Object.keys(v)) if (Number(id) !== d.manufacturer) ok = false;
    }
    return ok;
  }
}

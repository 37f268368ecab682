// BLE advertising as a broadcast radio link for Espruino's nRF52 boards (Puck.js, Pixl.js, MDBT42Q):
// the hal/link.ts contract over Espruino's NRF object, with no connection at all. A frame travels in
// the manufacturer-specific data of a non-connectable advertisement, repeated for a few advertising
// events; every station in range that scans picks it up. Board code.
//
// Espruino, from its sources (libs/bluetooth/jswrap_bluetooth.c and targets/nrf5x/bluetooth.c, 2v29;
// the NRF pages of espruino.com/Reference are generated from the same file):
// - NRF.setAdvertising(data, options): `data` an array or an ArrayBuffer (a Uint8Array) is advertised
//   exactly as given, as the raw AD structures of the packet: Espruino adds nothing to it (no flags,
//   no name, no manufacturer data; those come only when `data` is an object). An object such as {}
//   gives Espruino's default advertisement: flags [2,1,6], manufacturer 0x0590 with no data (2v26+)
//   and the device name. Legacy advertising carries 31 bytes (ESPR_MAX_ADVERTISEMENT_DATA on the
//   SDK 12 builds of these boards); more is refused by the SoftDevice and Espruino throws.
//   options.interval is in ms, clamped by Espruino to 20..10240 (0x20..0x4000 units of 0.625 ms),
//   default 375; connectable/scannable false give ADV_NONCONN_IND; whenConnected true keeps
//   advertising (non-connectable) while a central such as the IDE is connected, else advertising
//   stops for the connection. These settings stick until set again (they are Espruino globals), so
//   the driver passes every one of them on each call.
// - Puck.js and MDBT42Q are built on Nordic SDK 12 (S132 v3: no NRF_SDK15 in their board files),
//   whose SoftDevice refuses a non-connectable interval under BLE_GAP_ADV_NONCON_INTERVAL_MIN,
//   100 ms (Espruino's reference says the same): 100 ms is this driver's minimum. Each advertising
//   event goes out on channels 37, 38 and 39, and the controller adds 0..10 ms of random advDelay
//   (Bluetooth Core, Vol 6 Part B 4.4.2.2) to every interval.
// - NRF.setScan(callback, {filters}) scans passively (window = interval = 100 ms: the radio listens
//   all the time, about 12 mA) and calls back, from the idle loop, with one BluetoothDevice per
//   advertisement heard: {id: address string, rssi: dBm, data: ArrayBuffer of the raw AD structures,
//   manufacturer, manufacturerData, ...}. A filter {manufacturerData: {0x0590: {}}} passes only
//   advertisements whose manufacturer id is 0x0590 (jswrap_ble_filter_device). NRF.setScan() stops.
//
// The advertisement of a frame (the Bluetooth Core Supplement, Part A 1.3 and 1.4: Flags may be left
// out of a non-connectable advertisement):
//
//   offset  size  field
//   0       1     AD length: 4 + frame length (type, company id, header, frame)
//   1       1     AD type 0xFF, manufacturer specific data
//   2       2     company id, little-endian: 0x0590 (Pur3 Ltd, Espruino's own, meant for Espruino devices)
//   4       1     header: 0xA0 | seq. The top three bits 101 mark a picolink frame (data from other
//                 Espruino code under 0x0590 is JSON text, bytes below 0x80, or empty); seq (0..31)
//                 counts this station's frames
//   5       n     the frame, 1..26 bytes
//
// So the mtu is 31 - 5 = 26 bytes. A frame is advertised for `repeats` advertising events (default 3)
// at `intervalMs` (default 100): the window is repeats x (intervalMs + 10 ms of advDelay), 330 ms by
// default; then the idle advertisement (Espruino's default, connectable, 375 ms: the board stays
// findable by the IDE and flashable over Bluetooth) comes back and onSent(TX_OK) follows. There is no
// acknowledgement and no carrier sense: TX_OK says the window passed, not that anyone heard.
// caps.bitrate is the link's own rate: one full frame (26 bytes) per window, 26 x 8 / 0.33 s = 630
// bit/s by default (on the air each event is 376 µs at 1 Mbit/s; the repeats and the interval the
// SoftDevice enforces are the cost). One frame at a time: send() while a frame is advertised returns
// false (busy() is true exactly then), as do len outside 1..26 and a closed link. A setAdvertising
// that throws (a Bluetooth error) fails that frame with onSent(TX_ERR), from a timer.
// Receiving: the scanner sees each advertising event (three per frame, and each on up to three
// channels), so duplicates are dropped: a frame whose (sender address, seq) equals the last one taken
// from that sender within 4 windows is the same transmission. Senders are remembered in a table of
// `senders` rows (default 8), the least recently heard replaced. Advertisements that are not picolink
// frames are counted as foreign, malformed AD structures as malformed. RxInfo.rssi is the scan's RSSI.
// A station does not hear its own advertisements. close() stops scanning, cancels a frame in flight
// (onSent(TX_ERR)) and restores the idle advertisement; a board that must be silent also calls
// NRF.sleep(), which this driver does not: it would also cut the Bluetooth console.
// Memory: the transmit and receive buffers, the sender table and the option objects are allocated
// once; each frame sent makes one Uint8Array view (setAdvertising keeps a reference to the data it is
// given, so it needs a view of the frame's exact length), and Espruino makes an object per
// advertisement heard.

import type { Clock, Timer } from '../clock.ts';
import { TX_ERR, TX_OK } from '../link.ts';
import type { Link, LinkCaps, ReceiveFn, RxInfo, SentFn } from '../link.ts';

/** Legacy advertising payload, bytes (Bluetooth Core Vol 6 Part B 2.3.1.3: AdvData 0..31 octets). */
export const BLE_ADV_MAX = 31;
/** AD type of manufacturer specific data (Assigned Numbers, Common Data Types). */
export const BLE_AD_MANUFACTURER = 0xff;
/** Espruino's company id (Pur3 Ltd), which Espruino advertises by default. */
export const BLE_COMPANY_ESPRUINO = 0x0590;
/** Header byte: the top three bits mark a picolink frame, the low five count frames. */
export const BLE_HDR_MARK = 0xa0;
export const BLE_HDR_MASK = 0xe0;
export const BLE_SEQ_MASK = 0x1f;
/** Bytes before the frame: AD length, AD type, company id (2), header. */
export const BLE_FRAME_OFFSET = 5;
export const BLE_MTU = BLE_ADV_MAX - BLE_FRAME_OFFSET;
/** The SoftDevice's (S132 v3) minimum non-connectable advertising interval, ms. */
export const BLE_NONCONN_MIN_MS = 100;
/** Espruino's largest advertising interval, ms (0x4000 units of 0.625 ms). */
export const BLE_INTERVAL_MAX_MS = 10240;
/** The most random advDelay the controller adds to each advertising interval, ms. */
export const BLE_ADV_DELAY_MAX_MS = 10;
/** Espruino's default advertising interval, ms (BLUETOOTH_ADVERTISING_INTERVAL). */
export const BLE_IDLE_INTERVAL_MS = 375;

/** NRF.setAdvertising's options as this driver passes them (every one, each time: they stick). */
export interface BleAdvOptions {
  interval: number;
  connectable: boolean;
  scannable: boolean;
  whenConnected: boolean;
}

/** One advertisement heard, as NRF.setScan hands it over (a BluetoothDevice), reduced to what is read. */
export interface BleDevice {
  /** The sender's address, "aa:bb:cc:dd:ee:ff public" or "... random". */
  id: string;
  rssi: number;
  /** The raw AD structures of the advertisement. */
  data?: ArrayBuffer;
}

/** NRF.setScan's filter list: only manufacturer data with the given company id is passed. */
export interface BleScanOptions {
  filters: { manufacturerData: Record<number, object> }[];
}

/** The parts of Espruino's NRF object the driver calls. */
export interface EspruinoNrfApi {
  /** data: the raw AD structures (a Uint8Array), or {} for Espruino's default advertisement. */
  setAdvertising(data: Uint8Array | object, options: BleAdvOptions): void;
  /** With a callback: scan; with none: stop scanning. */
  setScan(callback?: (d: BleDevice) => void, options?: BleScanOptions): void;
}

export interface BleOptions {
  nrf: EspruinoNrfApi;
  clock: Clock;
  /** Advertising interval while a frame is out, ms: 100..10240 (default 100). */
  intervalMs?: number;
  /** Advertising events per frame, 1..20 (default 3). */
  repeats?: number;
  /** Company id in the manufacturer data (default 0x0590, Espruino's). */
  company?: number;
  /** Scan for other stations' frames (default true). A station that only sends saves ~12 mA with false. */
  scan?: boolean;
  /** Senders remembered for duplicate filtering (default 8). */
  senders?: number;
}

export interface BleStats {
  sent: number;
  /** Frames taken from the scan, duplicates dropped, advertisements that were not ours, malformed ones. */
  received: number;
  duplicates: number;
  foreign: number;
  malformed: number;
  /** setAdvertising calls that threw. */
  errors: number;
}

export interface BleLink extends Link {
  readonly stats: BleStats;
  /** The advertising window of one frame, µs. */
  readonly windowUs: number;
  /** Stop scanning and go back to the idle advertisement; send() refuses from then on. */
  close(): void;
}

/**
 * Finds a picolink frame in raw AD structures adv[0..len): returns the offset of the header byte, or
 * -1 when there is none of ours (-2 when the AD structures run past the end). Never reads past len.
 */
export function findBleFrame(adv: Uint8Array, len: number, company: number): number {
  let i = 0;
  while (i < len) {
    const l = adv[i];
    if (l === 0) return -1; // the rest is padding (Core Vol 3 Part C 11)
    if (i + 1 + l > len) return -2;
    if (l >= 4 && adv[i + 1] === BLE_AD_MANUFACTURER && (adv[i + 2] | (adv[i + 3] << 8)) === company && (adv[i + 4] & BLE_HDR_MASK) === BLE_HDR_MARK) return i + 4;
    i += 1 + l;
  }
  return -1;
}

export function bleLink(o: BleOptions): BleLink {
  const intervalMs = o.intervalMs === undefined ? 100 : o.intervalMs;
  if (!(intervalMs >= BLE_NONCONN_MIN_MS && intervalMs <= BLE_INTERVAL_MAX_MS)) {
    throw new Error('ble: intervalMs must be ' + BLE_NONCONN_MIN_MS + '..' + BLE_INTERVAL_MAX_MS + ' (the SoftDevice refuses non-connectable advertising faster than 100 ms)');
  }
  const repeats = o.repeats === undefined ? 3 : o.repeats;
  if (!(repeats >= 1 && repeats <= 20)) throw new Error('ble: repeats must be 1..20');
  const company = o.company === undefined ? BLE_COMPANY_ESPRUINO : o.company;
  if (!(company >= 0 && company <= 0xffff)) throw new Error('ble: company must be a 16-bit id');
  const nrf = o.nrf;
  const clock = o.clock;
  const windowUs = repeats * (intervalMs + BLE_ADV_DELAY_MAX_MS) * 1000;
  const holdUs = 4 * windowUs;
  const caps: LinkCaps = { mtu: BLE_MTU, bitrate: Math.floor((BLE_MTU * 8 * 1e6) / windowUs), medium: 'radio', carrierSense: false, broadcast: true };
  const tx = new Uint8Array(BLE_ADV_MAX);
  const rx = new Uint8Array(BLE_MTU);
  const at: RxInfo = { timeUs: 0, rssi: 0 };
  const stats: BleStats = { sent: 0, received: 0, duplicates: 0, foreign: 0, malformed: 0, errors: 0 };
  const nSenders = o.senders || 8;
  const sIds: string[] = [];
  const sSeq: number[] = [];
  const sUs: number[] = [];
  const frameOpts: BleAdvOptions = { interval: intervalMs, connectable: false, scannable: false, whenConnected: true };
  const idleOpts: BleAdvOptions = { interval: BLE_IDLE_INTERVAL_MS, connectable: true, scannable: true, whenConnected: false };
  const idleData = {};
  let onRx: ReceiveFn | null = null;
  let onSentFn: SentFn | null = null;
  let sending = false;
  let closed = false;
  let seq = 0;
  let status = TX_OK;
  let timer: Timer | null = null;

  function idle(): void {
    try {
      nrf.setAdvertising(idleData, idleOpts);
    } catch (e) {
      stats.errors++;
    }
  }

  function done(): void {
    timer = null;
    idle();
    sending = false;
    if (status === TX_OK) stats.sent++;
    if (onSentFn) onSentFn(status === TX_OK ? TX_OK : TX_ERR);
  }

  /** True (and the sender's row updated) when this (sender, seq) was taken within the hold time. */
  function seen(id: string, s: number, nowUs: number): boolean {
    let oldest = 0;
    for (let i = 0; i < sIds.length; i++) {
      if (sIds[i] === id) {
        const dup = sSeq[i] === s && nowUs - sUs[i] < holdUs;
        sSeq[i] = s;
        sUs[i] = nowUs;
        return dup;
      }
      if (sUs[i] < sUs[oldest]) oldest = i;
    }
    if (sIds.length < nSenders) {
      sIds.push(id);
      sSeq.push(s);
      sUs.push(nowUs);
    } else {
      sIds[oldest] = id;
      sSeq[oldest] = s;
      sUs[oldest] = nowUs;
    }
    return false;
  }

  function onAdv(d: BleDevice): void {
    if (closed || !d.data) return;
    const adv = new Uint8Array(d.data);
    const len = adv.length > BLE_ADV_MAX ? BLE_ADV_MAX : adv.length;
    const h = findBleFrame(adv, len, company);
    if (h < 0) {
      if (h === -2) stats.malformed++;
      else stats.foreign++;
      return;
    }
    const n = adv[h - 4] - 4; // the AD length covers type, company id and header
    if (n < 1 || n > BLE_MTU) {
      stats.malformed++;
      return;
    }
    const nowUs = clock.now();
    if (seen(d.id, adv[h] & BLE_SEQ_MASK, nowUs)) {
      stats.duplicates++;
      return;
    }
    for (let i = 0; i < n; i++) rx[i] = adv[h + 1 + i];
    stats.received++;
    at.timeUs = nowUs;
    at.rssi = d.rssi || 0;
    if (onRx) onRx(rx, n, at);
  }

  idle();
  if (o.scan !== false) {
    const m: Record<number, object> = {};
    m[company] = {};
    nrf.setScan(onAdv, { filters: [{ manufacturerData: m }] });
  }

  return {
    caps: caps,
    stats: stats,
    windowUs: windowUs,
    send(frame: Uint8Array, len: number): boolean {
      if (closed || sending || !(len >= 1 && len <= BLE_MTU) || len > frame.length) return false;
      tx[0] = 4 + len;
      tx[1] = BLE_AD_MANUFACTURER;
      tx[2] = company & 0xff;
      tx[3] = company >> 8;
      tx[4] = BLE_HDR_MARK | seq;
      for (let i = 0; i < len; i++) tx[BLE_FRAME_OFFSET + i] = frame[i];
      seq = (seq + 1) & BLE_SEQ_MASK;
      sending = true;
      status = TX_OK;
      try {
        nrf.setAdvertising(tx.subarray(0, BLE_FRAME_OFFSET + len), frameOpts);
      } catch (e) {
        stats.errors++;
        status = TX_ERR;
        timer = clock.at(clock.now(), done);
        return true;
      }
      timer = clock.at(clock.now() + windowUs, done);
      return true;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    busy(): boolean {
      return sending;
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (o.scan !== false) nrf.setScan();
      if (timer !== null) clock.cancel(timer);
      idle();
      if (sending) {
        timer = null;
        sending = false;
        if (onSentFn) onSentFn(TX_ERR);
      }
    },
  };
}

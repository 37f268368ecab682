// A johnny-five IO plugin for picolink devices: `new five.Board({ io: new PicolinkIO({ device }) })`
// drives the pins of a board out on the device network, through a bridge or directly, by request-reply
// calls to its pins service (firmware/services/pins.ts). Written to johnny-five's IO plugin
// specification (github.com/rwaldron/io-plugins) and to what johnny-five 2.x's Board, Led, Button,
// Sensor and I2C components call:
//
// - An EventEmitter that emits "connect" once the link is open and "ready" once the device has
//   described its pins (OP_PINS_INFO); isReady turns true in the same turn as "ready". MODES (frozen,
//   johnny-five's numbers), HIGH, LOW, SERIAL_PORT_IDs, pins ({supportedModes, mode, value, report,
//   analogChannel}, analogChannel 127 for none), analogPins, RESOLUTION, defaultLed (13 when that pin
//   can be an output), name.
// - Writes (pinMode, digitalWrite, analogWrite/pwmWrite, servoWrite, i2cWrite, i2cWriteReg, i2cConfig)
//   go out in the order they were made: one call in flight at a time, the next when it is answered (the
//   device network may reorder calls in flight, and the specification asks for order). A write that
//   finds the previous write to the same pin still waiting in the queue replaces it (the first would
//   be overwritten at once anyway: a fading Led does not build a backlog). The queue is bounded
//   (queueLimit); past it a write is refused with an "error" event.
// - Reads are reports, not polls: digitalRead, analogRead and i2cRead ask the device once (OP_REPORT) to
//   sample every samplingMs (default 20 ms: the specification's 50 Hz floor; setSamplingInterval
//   changes it) and the device sends each value itself. analog-read-<pin> for every report,
//   digital-read-<pin> when the value changed (the device also sends a digital value again after a
//   change and once a second, so a lost report is made good), i2c-reply-<addr>[-<reg>] for I2C. Each
//   report carries a sequence number: copies and reports overtaken by newer ones are dropped. The plugin
//   asks again every leaseMs / 3, renewing the device's lease (a plugin that went away stops costing
//   the radio) and recovering reports after a device restart. i2cRead of more bytes than a report
//   carries (PINS_I2C_REPORT_MAX, the 32-byte radio's limit) falls back to one i2cReadOnce per period.
// - Pins are indices into `pins`; normalize() also takes "A0".."An" (the analog inputs, in order),
//   "D<n>" and digit strings. analogRead takes a pin or "A<n>"; a number below analogPins.length that is
//   not itself an analog pin is taken as an analog channel, as Firmata does; events name the pin index.
// - Errors: a call the device refuses (a mode the pin lacks, a value out of range, an I2C device that
//   does not answer) or that times out is an "error" event with the device's reason (a timeout names
//   the device and says how to list the devices there: `picolink devices`); a pin or mode that
//   the device's description already rules out throws at once. Essential features this plugin does not
//   have throw (pingRead, serialRead, serialWrite); non-essential ones succeed quietly, calling a
//   callback asynchronously (serialConfig, serialStop, serialClose, serialFlush, sysex*).
// Host only.

import { EventEmitter } from 'node:events';
import {
  MODE_ANALOG, MODE_INPUT, MODE_OUTPUT, MODE_PWM, MODE_SERVO, OP_ANALOG_WRITE, OP_DIGITAL_WRITE, OP_I2C_CONFIG, OP_I2C_READ,
  OP_I2C_WRITE, OP_PIN_MODE, OP_PINS_INFO, OP_REPORT, OP_REPORT_STOP, OP_SERVO_WRITE, PINS_I2C_MAX, PINS_I2C_REPORT_MAX, PINS_PAGE,
  REPORT_ANALOG, REPORT_DIGITAL, REPORT_I2C,
} from '../../firmware/services/pins.ts';
import { PinsCallError, bridgeLink, directLink } from './links.ts';
import type { PinsLink } from './links.ts';
import { RR_E_TIMEOUT } from '../../firmware/rr/rr.ts';
import type { HostRr } from '../rr/endpoint.ts';
import { BRIDGE_PORT } from '../bridge/client.ts';

export interface PicolinkIOOptions {
  /** The device: its address on the device network, or its name in the bridge's directory. */
  device: number | string;
  /**
   * How to reach it: a bridge's "host:port" (default: $PICOLINK_BRIDGE or 127.0.0.1:47910), the host's
   * own request-reply node on the device network (a HostRr), or any PinsLink.
   */
  bridge?: string | HostRr | PinsLink;
  /** The bridge's token (a bridge listening beyond loopback). */
  token?: string;
  /** Report period, ms (default 20; the device clamps it to its shortest, 10 ms). */
  samplingMs?: number;
  /** The device's report lease, ms (default 30 000, the device's): reports are asked for again every third of it. */
  leaseMs?: number;
  /** Writes waiting at most (default 256). */
  queueLimit?: number;
}

export interface PinState {
  supportedModes: number[];
  mode: number;
  value: number;
  report: number;
  analogChannel: number;
}

const MODES = Object.freeze({ INPUT: MODE_INPUT, OUTPUT: MODE_OUTPUT, ANALOG: MODE_ANALOG, PWM: MODE_PWM, SERVO: MODE_SERVO });

interface Job {
  op: number;
  args: unknown;
  /** Writes to one pin of one kind share a key: a later one replaces a waiting one. */
  key: string | null;
  done?: (err: Error | null, result: unknown) => void;
}

interface Sub {
  kind: number;
  id: number;
  reg: number;
  len: number;
}

/** Turn a johnny-five byte argument (array, typed array, Buffer, one number) into bytes. */
function bytesOf(v: unknown, what: string): Uint8Array {
  if (typeof v === 'number') return new Uint8Array([v & 0xff]);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return new Uint8Array(v.map((x) => Number(x) & 0xff));
  throw new TypeError(`${what}: give the bytes as an array of numbers`);
}

export class PicolinkIO extends EventEmitter {
  readonly MODES = MODES;
  readonly HIGH = 1;
  readonly LOW = 0;
  readonly SERIAL_PORT_IDs = Object.freeze({});
  readonly RESOLUTION = Object.freeze({ ADC: 1023, DAC: null, PWM: 255 });
  readonly name = 'picolink';
  isReady = false;
  pins: PinState[] = [];
  analogPins: number[] = [];
  defaultLed: number | undefined = undefined;
  /** The device's address on the device network, once connected. */
  address = -1;
  /** Counters: calls made, reports taken, reports dropped as copies or stale, errors. */
  readonly stats = { calls: 0, reports: 0, staleReports: 0, errors: 0, coalesced: 0 };

  private link: PinsLink;
  private queue: Job[] = [];
  private busy = false;
  private closed = false;
  private samplingMs: number;
  private leaseMs: number;
  private queueLimit: number;
  private subs = new Map<string, Sub>();
  private seqs = new Map<string, { seq: number; refused: number }>();
  private lastDigital = new Map<number, number>();
  private renew: ReturnType<typeof setInterval> | null = null;
  private polls = new Map<string, ReturnType<typeof setInterval>>();
  private servoRange = new Map<number, [number, number]>();

  constructor(o: PicolinkIOOptions) {
    super();
    if (o === null || typeof o !== 'object' || o.device === undefined) throw new TypeError('PicolinkIO: give { device: address or name, bridge?: "host:port" }');
    this.samplingMs = Math.max(10, o.samplingMs ?? 20);
    this.leaseMs = o.leaseMs ?? 30_000;
    this.queueLimit = o.queueLimit ?? 256;
    const b = o.bridge ?? process.env.PICOLINK_BRIDGE ?? `127.0.0.1:${BRIDGE_PORT}`;
    this.link = typeof b === 'string' ? bridgeLink(b, { token: o.token ?? process.env.PICOLINK_TOKEN })
      : 'open' in b ? b : directLink(b);
    this.link.onReport((from, data) => this.onReport(from, data));
    this.link.onClose((why) => {
      if (this.closed) return;
      this.closed = true;
      this.stopTimers();
      this.emit('close', why);
    });
    setImmediate(() => this.start(o.device));
  }

  private async start(device: number | string): Promise<void> {
    try {
      this.address = await this.link.open(device);
      this.emit('connect');
      const caps: number[] = [];
      for (let first = 0; ; first += PINS_PAGE) {
        const page = await this.link.call(OP_PINS_INFO, first);
        if (!(page instanceof Uint8Array)) throw new Error(`device ${device} answered OP_PINS_INFO with ${JSON.stringify(page)}: does it run the pins service?`);
        caps.push(...page);
        if (page.length < PINS_PAGE) break;
      }
      let channel = 0;
      this.pins = caps.map((c, p) => {
        const supportedModes = [MODE_INPUT, MODE_OUTPUT, MODE_ANALOG, MODE_PWM, MODE_SERVO].filter((m) => (c >> m) & 1);
        const analog = (c >> MODE_ANALOG) & 1 ? channel++ : 127;
        if (analog !== 127) this.analogPins.push(p);
        return { supportedModes, mode: analog !== 127 ? MODE_ANALOG : MODE_INPUT, value: 0, report: 0, analogChannel: analog };
      });
      if (this.pins[13]?.supportedModes.includes(MODE_OUTPUT)) this.defaultLed = 13;
      this.renew = setInterval(() => this.resubscribe(), Math.max(1000, this.leaseMs / 3));
      this.renew.unref?.();
      this.isReady = true;
      this.emit('ready');
    } catch (e) {
      if (e instanceof PinsCallError) {
        const who = `device ${device}${typeof device === 'string' && this.address >= 0 ? ` (address ${this.address})` : ''}`;
        this.fail(new PinsCallError(e.code, e.code === RR_E_TIMEOUT
          ? `picolink: ${who} did not answer when asked for its pins (OP_PINS_INFO), through ${this.link.label}: ${this.absentHint()}`
          : `picolink: ${who} answered the request for its pins (OP_PINS_INFO) with ${e.message}, through ${this.link.label}: does it run the pins service?`));
        return;
      }
      this.fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** What to do about a device that does not answer. */
  private absentHint(): string {
    return this.link.label.startsWith('bridge')
      ? 'is it on the device network and running the pins service? `picolink devices` lists the devices the bridge knows'
      : 'is it on the device network and running the pins service?';
  }

  private fail(e: Error): void {
    this.stats.errors++;
    // The specification's "error": johnny-five's Board forwards it; without a listener it is thrown,
    // as EventEmitter does, so a program that ignores errors does not carry on as if it worked.
    this.emit('error', e);
  }

  // ---- the ordered call queue --------------------------------------------------------------------

  private enqueue(job: Job): void {
    if (this.closed) {
      this.fail(new Error(`picolink: the link to device ${this.address} is closed; the ${job.op} call was not made`));
      return;
    }
    const last = this.queue[this.queue.length - 1];
    if (job.key !== null && last && last.key === job.key && !last.done && !job.done) {
      this.queue[this.queue.length - 1] = job;
      this.stats.coalesced++;
      return;
    }
    if (this.queue.length >= this.queueLimit) {
      this.fail(new Error(`picolink: ${this.queueLimit} calls already wait for device ${this.address}; writing faster than the network carries them`));
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = true;
    this.stats.calls++;
    this.link.call(job.op, job.args).then(
      (r) => {
        this.busy = false;
        job.done?.(null, r);
        this.pump();
      },
      (e: Error) => {
        this.busy = false;
        const timedOut = (e as { code?: number }).code === RR_E_TIMEOUT;
        const err = new Error(`picolink: device ${this.address} ${opName(job.op)} ${JSON.stringify(job.args, (_k, v) => (v instanceof Uint8Array ? [...v] : v))}: ${e.message}${timedOut ? ` (no answer through ${this.link.label}: ${this.absentHint()})` : ''}`);
        if (job.done) job.done(err, undefined);
        else this.fail(err);
        this.pump();
      },
    );
  }

  /** Calls waiting or in flight (johnny-five's Board waits for `pending` to be falsy on exit). */
  get pending(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  // ---- pins ----------------------------------------------------------------------------------------

  normalize(pin: number | string): number {
    if (typeof pin === 'number') return pin;
    const s = String(pin).trim();
    let m = /^[Aa](\d+)$/.exec(s);
    if (m) {
      const p = this.analogPins[Number(m[1])];
      if (p === undefined) throw new Error(`picolink: no analog input ${s} (the device has A0..A${this.analogPins.length - 1})`);
      return p;
    }
    m = /^[Dd]?(\d+)$/.exec(s);
    if (m) return Number(m[1]);
    throw new Error(`picolink: pin "${s}" is not a pin name (use a number, "D13" or "A0")`);
  }

  private pinOf(pin: number | string, mode: number, what: string): number {
    const p = this.normalize(pin);
    const st = this.pins[p];
    if (!st) throw new Error(`picolink: ${what}: no pin ${pin} on device ${this.address} (pins 0..${this.pins.length - 1})`);
    if (!st.supportedModes.includes(mode)) {
      const name = Object.keys(MODES).find((k) => MODES[k as keyof typeof MODES] === mode);
      throw new Error(`picolink: ${what}: pin ${pin} of device ${this.address} has no ${name} mode (it has ${st.supportedModes.map((x) => Object.keys(MODES)[x]).join(', ')})`);
    }
    return p;
  }

  pinMode(pin: number | string, mode: number): this {
    const p = this.pinOf(pin, mode, 'pinMode');
    this.pins[p].mode = mode;
    this.enqueue({ op: OP_PIN_MODE, args: [p, mode], key: null });
    return this;
  }

  digitalWrite(pin: number | string, value: number | boolean): this {
    const p = this.normalize(pin);
    const st = this.pins[p];
    if (!st || !(st.supportedModes.includes(MODE_OUTPUT) || st.supportedModes.includes(MODE_INPUT))) this.pinOf(pin, MODE_OUTPUT, 'digitalWrite');
    const v = value ? 1 : 0;
    st.value = v;
    this.enqueue({ op: OP_DIGITAL_WRITE, args: [p, v], key: `d${p}` });
    return this;
  }

  pwmWrite(pin: number | string, value: number): this {
    const p = this.pinOf(pin, MODE_PWM, 'pwmWrite');
    const v = Math.max(0, Math.min(255, Math.round(Number(value) || 0)));
    this.pins[p].value = v;
    this.enqueue({ op: OP_ANALOG_WRITE, args: [p, v], key: `a${p}` });
    return this;
  }

  analogWrite(pin: number | string, value: number): this {
    return this.pwmWrite(pin, value);
  }

  servoConfig(pin: number | string | { pin: number | string; min?: number; max?: number }, min?: number, max?: number): this {
    const o = typeof pin === 'object' ? pin : { pin, min, max };
    const p = this.pinOf(o.pin, MODE_SERVO, 'servoConfig');
    this.servoRange.set(p, [o.min ?? 544, o.max ?? 2400]);
    return this.pinMode(p, MODE_SERVO);
  }

  servoWrite(pin: number | string, value: number): this {
    const p = this.pinOf(pin, MODE_SERVO, 'servoWrite');
    let us = Number(value) || 0;
    if (us < 544) {
      const [lo, hi] = this.servoRange.get(p) ?? [544, 2400];
      us = lo + ((hi - lo) * Math.max(0, Math.min(180, us))) / 180;
    }
    us = Math.max(400, Math.min(2600, Math.round(us)));
    this.pins[p].value = Number(value);
    this.enqueue({ op: OP_SERVO_WRITE, args: [p, us], key: `s${p}` });
    return this;
  }

  digitalRead(pin: number | string, handler?: (value: number) => void): this {
    const p = this.pinOf(pin, MODE_INPUT, 'digitalRead');
    if (handler) this.on(`digital-read-${p}`, handler);
    this.pins[p].report = 1;
    this.subscribe({ kind: REPORT_DIGITAL, id: p, reg: -1, len: 0 });
    return this;
  }

  analogRead(pin: number | string, handler?: (value: number) => void): this {
    let p = this.normalize(pin);
    if (typeof pin === 'number' && !this.analogPins.includes(p) && p < this.analogPins.length) p = this.analogPins[p]; // a channel
    p = this.pinOf(p, MODE_ANALOG, 'analogRead');
    if (handler) this.on(`analog-read-${p}`, handler);
    this.pins[p].report = 1;
    this.subscribe({ kind: REPORT_ANALOG, id: p, reg: -1, len: 0 });
    return this;
  }

  /** Stop (0) or start (1) the reports of an analog input (Firmata's reportAnalogPin). */
  reportAnalogPin(pin: number | string, value: number): this {
    const p = this.normalize(pin);
    if (value) return this.analogRead(p);
    this.unsubscribe({ kind: REPORT_ANALOG, id: p, reg: -1, len: 0 });
    if (this.pins[p]) this.pins[p].report = 0;
    return this;
  }

  reportDigitalPin(pin: number | string, value: number): this {
    const p = this.normalize(pin);
    if (value) return this.digitalRead(p);
    this.unsubscribe({ kind: REPORT_DIGITAL, id: p, reg: -1, len: 0 });
    if (this.pins[p]) this.pins[p].report = 0;
    return this;
  }

  setSamplingInterval(ms: number): this {
    this.samplingMs = Math.max(10, Math.round(Number(ms) || 20));
    this.resubscribe();
    for (const [k, t] of this.polls) {
      clearInterval(t);
      this.polls.delete(k);
      const [addr, reg, n] = k.split(':').slice(1).map(Number);
      this.startPoll(addr, reg, n);
    }
    return this;
  }

  queryPinState(pin: number | string, handler?: (state: PinState) => void): this {
    const p = this.normalize(pin);
    if (handler) setImmediate(() => handler(this.pins[p]));
    return this;
  }

  // ---- I2C -----------------------------------------------------------------------------------------

  i2cConfig(options?: number | { address?: number; bus?: number; speed?: number; bitrate?: number; delay?: number }): this {
    const o = typeof options === 'object' && options !== null ? options : {};
    const bitrate = Number(o.bitrate ?? o.speed ?? 0) || 0;
    this.enqueue({ op: OP_I2C_CONFIG, args: bitrate, key: 'i2cConfig' });
    return this;
  }

  i2cWrite(address: number, registerOrBytes: number | number[] | Uint8Array, bytes?: number | number[] | Uint8Array): this {
    const data = bytes === undefined ? bytesOf(registerOrBytes, 'i2cWrite')
      : new Uint8Array([Number(registerOrBytes) & 0xff, ...bytesOf(bytes, 'i2cWrite')]);
    if (data.length < 1 || data.length > PINS_I2C_MAX) {
      this.fail(new Error(`picolink: i2cWrite of ${data.length} bytes to 0x${address.toString(16)}: one write carries 1..${PINS_I2C_MAX} bytes (register included)`));
      return this;
    }
    this.enqueue({ op: OP_I2C_WRITE, args: [address, data], key: null });
    return this;
  }

  i2cWriteReg(address: number, register: number, value: number): this {
    return this.i2cWrite(address, register, [value]);
  }

  /**
   * The spec's two call forms, (address, register, bytes, handler) and (address, bytes, handler):
   * the register (-1 for none), the count, the handler and its event; null after reporting a bad count.
   */
  private i2cArgs(what: string, address: number, register: number, bytesToRead: number | ((bytes: number[]) => void), handler?: (bytes: number[]) => void): { reg: number; n: number; cb?: (bytes: number[]) => void; event: string } | null {
    const short = typeof bytesToRead === 'function';
    const reg = short ? -1 : register;
    const n = short ? register : bytesToRead;
    if (!(n >= 1 && n <= PINS_I2C_MAX)) {
      this.fail(new Error(`picolink: ${what} of ${n} bytes from 0x${address.toString(16)}: one read carries 1..${PINS_I2C_MAX}`));
      return null;
    }
    return { reg, n, cb: short ? bytesToRead : handler, event: reg >= 0 ? `i2c-reply-${address}-${reg}` : `i2c-reply-${address}` };
  }

  i2cReadOnce(address: number, register: number, bytesToRead: number | ((bytes: number[]) => void), handler?: (bytes: number[]) => void): this {
    const a = this.i2cArgs('i2cReadOnce', address, register, bytesToRead, handler);
    if (!a) return this;
    if (a.cb) this.once(a.event, a.cb);
    this.enqueue({
      op: OP_I2C_READ, args: [address, a.reg, a.n], key: null,
      done: (err, r) => {
        if (err) this.fail(err);
        else this.emit(a.event, [...(r as Uint8Array)]);
      },
    });
    return this;
  }

  i2cRead(address: number, register: number, bytesToRead: number | ((bytes: number[]) => void), handler?: (bytes: number[]) => void): this {
    const a = this.i2cArgs('i2cRead', address, register, bytesToRead, handler);
    if (!a) return this;
    const { reg, n, cb } = a;
    if (cb) this.on(a.event, cb);
    if (n <= PINS_I2C_REPORT_MAX) this.subscribe({ kind: REPORT_I2C, id: address, reg, len: n });
    else this.startPoll(address, reg, n);
    return this;
  }

  /** Reads too long for a report: one read per period, never more than one waiting. */
  private startPoll(address: number, reg: number, n: number): void {
    const key = `poll:${address}:${reg}:${n}`;
    if (this.polls.has(key)) return;
    let waiting = false;
    const event = reg >= 0 ? `i2c-reply-${address}-${reg}` : `i2c-reply-${address}`;
    const t = setInterval(() => {
      if (waiting || this.closed) return;
      waiting = true;
      this.enqueue({
        op: OP_I2C_READ, args: [address, reg, n], key: null,
        done: (err, r) => {
          waiting = false;
          if (err) this.fail(err);
          else this.emit(event, [...(r as Uint8Array)]);
        },
      });
    }, this.samplingMs);
    t.unref?.();
    this.polls.set(key, t);
  }

  // ---- reports -------------------------------------------------------------------------------------

  private subKey(s: Sub): string {
    return `${s.kind}:${s.id}:${s.reg}`;
  }

  private subscribe(s: Sub): void {
    this.subs.set(this.subKey(s), s);
    this.ask(s, this.samplingMs);
  }

  private unsubscribe(s: Sub): void {
    if (!this.subs.delete(this.subKey(s))) return;
    this.ask(s, 0);
  }

  private ask(s: Sub, periodMs: number): void {
    const args = s.kind === REPORT_I2C ? [s.kind, s.id, periodMs, s.reg, s.len] : [s.kind, s.id, periodMs];
    this.enqueue({ op: OP_REPORT, args, key: `r${this.subKey(s)}` });
  }

  private resubscribe(): void {
    if (this.closed) return;
    for (const s of this.subs.values()) this.ask(s, this.samplingMs);
  }

  private onReport(from: number, data: unknown): void {
    if (from !== this.address || !Array.isArray(data) || data.length < 4) return;
    const [kind, id, seq] = data as number[];
    const value = data[3];
    const reg = typeof data[4] === 'number' ? data[4] : -1;
    const key = `${kind}:${id}:${reg}`;
    if (!this.subs.has(key)) return; // not asked for (any more)
    // Newer than the last one taken (serial order of a u8), or three refusals in a row (the device restarted).
    const last = this.seqs.get(key);
    if (last && !(((seq - last.seq) & 0xff) >= 1 && ((seq - last.seq) & 0xff) < 128) && ++last.refused < 3) {
      this.stats.staleReports++;
      return;
    }
    this.seqs.set(key, { seq, refused: 0 });
    this.stats.reports++;
    if (kind === REPORT_DIGITAL && typeof value === 'number') {
      if (this.pins[id]) this.pins[id].value = value;
      if (this.lastDigital.get(id) === value) return;
      this.lastDigital.set(id, value);
      this.emit(`digital-read-${id}`, value);
    } else if (kind === REPORT_ANALOG && typeof value === 'number') {
      if (this.pins[id]) this.pins[id].value = value;
      this.emit(`analog-read-${id}`, value);
    } else if (kind === REPORT_I2C && value instanceof Uint8Array) {
      this.emit(reg >= 0 ? `i2c-reply-${id}-${reg}` : `i2c-reply-${id}`, [...value]);
    }
  }

  // ---- what this plugin does not have ----------------------------------------------------------------

  pingRead(): never {
    throw new Error('picolink: pingRead (HC-SR04 pulse timing) is not supported by the pins service');
  }

  serialRead(): never {
    throw new Error('picolink: serial ports of a remote device are not supported (serialRead)');
  }

  serialWrite(): never {
    throw new Error('picolink: serial ports of a remote device are not supported (serialWrite)');
  }

  serialConfig(): this {
    return this;
  }

  serialStop(): this {
    return this;
  }

  serialClose(): this {
    return this;
  }

  serialFlush(): this {
    return this;
  }

  sysexCommand(): this {
    return this;
  }

  sysexResponse(_cmd?: number, handler?: () => void): this {
    if (handler) setImmediate(handler);
    return this;
  }

  // ---- the end ---------------------------------------------------------------------------------------

  private stopTimers(): void {
    if (this.renew) clearInterval(this.renew);
    this.renew = null;
    for (const t of this.polls.values()) clearInterval(t);
    this.polls.clear();
  }

  /** Stop the device's reports to us, wait for the calls still queued, and close the link. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopTimers();
    if (this.isReady) {
      await new Promise<void>((resolve) => {
        this.subs.clear();
        this.enqueue({ op: OP_REPORT_STOP, args: null, key: null, done: () => resolve() });
      });
    }
    this.closed = true;
    await this.link.close();
  }
}

function opName(op: number): string {
  const names: Record<number, string> = {
    [OP_PINS_INFO]: 'pins info', [OP_PIN_MODE]: 'pinMode', [OP_DIGITAL_WRITE]: 'digitalWrite', [OP_ANALOG_WRITE]: 'analogWrite',
    [OP_SERVO_WRITE]: 'servoWrite', [OP_I2C_CONFIG]: 'i2cConfig', [OP_I2C_WRITE]: 'i2cWrite', [OP_I2C_READ]: 'i2cRead',
    [OP_REPORT]: 'report', [OP_REPORT_STOP]: 'report stop',
  };
  return names[op] ?? `operation ${op}`;
}

export default PicolinkIO;

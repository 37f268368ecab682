// The pins service (firmware/services/pins.ts) on virtual pins (host/sim/virtual-pins.ts), called over
// request-reply on the raw MAC behind service ports, with the 32-byte radio's sizes (23-byte port
// payloads): every operation and its argument checks, hardware errors as HANDLER, and reports (analog
// every period, digital on change with repeats and refresh, I2C registers), their lease, the stop
// operation, the bounded table, and digital reports under 20 % loss. Virtual time throughout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { macPorts, SVC_RR } from '../../../firmware/mac/ports.ts';
import { RR_E_BAD_ARGS, RR_E_BUSY, RR_E_HANDLER, RR_OK, rr } from '../../../firmware/rr/rr.ts';
import type { Rr } from '../../../firmware/rr/rr.ts';
import { OP_EVENT } from '../../../firmware/services/directory.ts';
import {
  MODE_ANALOG, MODE_OUTPUT, MODE_PWM, MODE_SERVO, OP_ANALOG_READ, OP_ANALOG_WRITE, OP_DIGITAL_READ, OP_DIGITAL_WRITE,
  OP_I2C_CONFIG, OP_I2C_READ, OP_I2C_WRITE, OP_PIN_MODE, OP_PINS_INFO, OP_REPORT, OP_REPORT_STOP, OP_SERVO_WRITE, PINS_DEFAULTS, PINS_PAGE,
  REPORT_ANALOG, REPORT_DIGITAL, REPORT_I2C, pinsService,
} from '../../../firmware/services/pins.ts';
import type { PinsConfig } from '../../../firmware/services/pins.ts';
import { I2C_ADDR, VIRTUAL_PIN_COUNT, virtualPins } from '../../../host/sim/virtual-pins.ts';

const HOST = 1;
const DEV = 2;

function net(o: { dropPct?: number; config?: Partial<PinsConfig>; seed?: number } = {}) {
  const s = scheduler();
  const rng = xoshiro(o.seed ?? 3);
  const m = medium(s, { bitrate: 250_000, mtu: 28, propagationUs: 1 });
  const wrap = (l: ReturnType<typeof m.station>['link']) => faulty(l, { clock: s, rng, dropPct: o.dropPct ?? 0 });
  const hostRr = rr({ mac: macPorts(rawMac(wrap(m.station().link), HOST, 8)).port(SVC_RR), clock: s, rng });
  const devRr = rr({ mac: macPorts(rawMac(wrap(m.station().link), DEV, 8)).port(SVC_RR), clock: s, rng });
  const vp = virtualPins(s);
  const svc = pinsService(devRr, s, vp, { ...PINS_DEFAULTS, ...o.config });
  const events: { t: number; data: unknown[] }[] = [];
  hostRr.register(OP_EVENT, (args, req) => {
    events.push({ t: s.now(), data: args as unknown[] });
    hostRr.reply(req, RR_OK, null);
  });
  /** One call, run to completion in virtual time: [err, result]. */
  function call(op: number, args: unknown): [number, unknown] {
    let out: [number, unknown] | null = null;
    const st = hostRr.call(DEV, op, args, { retries: 8 }, (e, r) => { out = [e, r]; });
    assert.is(st, RR_OK, `call ${op} started`);
    const until = s.now() + 30_000_000;
    while (out === null && s.now() < until) s.runUntil(s.now() + 1_000);
    assert.ok(out, `call ${op} finished`);
    return out!;
  }
  return { s, hostRr, devRr: devRr as Rr, vp, svc, events, call };
}

test('info pages describe every pin; modes, writes and reads reach the virtual pins', () => {
  const n = net();
  const caps: number[] = [];
  for (let first = 0; ; first += PINS_PAGE) {
    const [e, r] = n.call(OP_PINS_INFO, first);
    assert.is(e, RR_OK);
    caps.push(...(r as Uint8Array));
    if ((r as Uint8Array).length < PINS_PAGE) break;
  }
  assert.is(caps.length, VIRTUAL_PIN_COUNT);
  for (let p = 0; p < VIRTUAL_PIN_COUNT; p++) assert.is(caps[p], n.vp.caps(p), `pin ${p}`);
  assert.equal(n.call(OP_PIN_MODE, [13, MODE_OUTPUT]), [RR_OK, null]);
  assert.is(n.vp.pin(13).mode, MODE_OUTPUT);
  assert.equal(n.call(OP_DIGITAL_WRITE, [13, 1]), [RR_OK, null]);
  assert.is(n.vp.pin(13).out, 1);
  assert.equal(n.call(OP_DIGITAL_READ, 13), [RR_OK, 1], 'a written pin reads back');
  n.vp.drive(2, 1);
  assert.equal(n.call(OP_DIGITAL_READ, 2), [RR_OK, 1], 'an input driven from outside');
  assert.equal(n.call(OP_PIN_MODE, [5, MODE_PWM]), [RR_OK, null]);
  assert.equal(n.call(OP_ANALOG_WRITE, [5, 200]), [RR_OK, null]);
  assert.is(n.vp.pin(5).pwm, 200);
  assert.equal(n.call(OP_PIN_MODE, [9, MODE_SERVO]), [RR_OK, null]);
  assert.equal(n.call(OP_SERVO_WRITE, [9, 1500]), [RR_OK, null]);
  assert.is(n.vp.pin(9).servo, 1500);
  n.vp.setAnalog(14, 777);
  assert.equal(n.call(OP_ANALOG_READ, 14), [RR_OK, 777]);
  assert.equal(n.call(OP_I2C_CONFIG, 400_000), [RR_OK, null]);
  assert.is(n.vp.i2cSetups, 1);
  assert.equal(n.call(OP_I2C_WRITE, [I2C_ADDR, new Uint8Array([0x10, 1, 2, 3])]), [RR_OK, null]);
  assert.equal([...n.vp.i2cRegs.subarray(0x10, 0x13)], [1, 2, 3]);
  const [e, r] = n.call(OP_I2C_READ, [I2C_ADDR, 0x10, 3]);
  assert.is(e, RR_OK);
  assert.equal([...(r as Uint8Array)], [1, 2, 3]);
});

test('arguments are checked: unknown pins, modes a pin lacks, values out of range; hardware errors answer HANDLER', () => {
  const n = net();
  assert.is(n.call(OP_PIN_MODE, [20, MODE_OUTPUT])[0], RR_E_BAD_ARGS, 'no pin 20');
  assert.is(n.call(OP_PIN_MODE, [2, MODE_ANALOG])[0], RR_E_BAD_ARGS, 'pin 2 is not analog');
  assert.is(n.call(OP_PIN_MODE, [2, 9])[0], RR_E_BAD_ARGS, 'no mode 9');
  assert.is(n.call(OP_ANALOG_WRITE, [2, 100])[0], RR_E_BAD_ARGS, 'pin 2 has no PWM');
  assert.is(n.call(OP_ANALOG_WRITE, [3, 256])[0], RR_E_BAD_ARGS, 'duty above 255');
  assert.is(n.call(OP_DIGITAL_WRITE, [13, 2])[0], RR_E_BAD_ARGS);
  assert.is(n.call(OP_DIGITAL_WRITE, 13)[0], RR_E_BAD_ARGS, 'not a pair');
  assert.is(n.call(OP_SERVO_WRITE, [9, 100])[0], RR_E_BAD_ARGS, 'a pulse of 100 µs');
  assert.is(n.call(OP_I2C_READ, [I2C_ADDR, 0, 17])[0], RR_E_BAD_ARGS, 'more than 16 bytes');
  assert.is(n.call(OP_I2C_WRITE, [I2C_ADDR, [1, 2]])[0], RR_E_BAD_ARGS, 'bytes, not an array');
  assert.is(n.call(OP_I2C_READ, [0x50, -1, 2])[0], RR_E_HANDLER, 'no device at 0x50: the bus error is a handler failure');
  assert.is(n.call(OP_REPORT, [REPORT_ANALOG, 3, 20])[0], RR_E_BAD_ARGS, 'pin 3 is not analog');
  assert.is(n.call(OP_REPORT, [REPORT_I2C, I2C_ADDR, 20, 0, 7])[0], RR_E_BAD_ARGS, 'an I2C report of 7 bytes does not fit the radio');
  assert.is(n.svc.active(), 0);
});

test('analog reports come every period with counting seq; digital reports on change, repeated, refreshed', () => {
  const n = net();
  n.vp.setAnalog(15, (t) => t / 10_000);
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 15, 20]), [RR_OK, null]);
  const t0 = n.s.now();
  n.s.runUntil(t0 + 1_000_000);
  const an = n.events.filter((e) => e.data[0] === REPORT_ANALOG);
  assert.ok(an.length >= 45 && an.length <= 52, `about 50 analog reports in a second at 20 ms, got ${an.length}`);
  for (let i = 1; i < an.length; i++) {
    assert.is(an[i].data[2], ((an[i - 1].data[2] as number) + 1) & 0xff, 'seq counts');
    assert.ok((an[i].data[3] as number) > (an[i - 1].data[3] as number), 'the value follows the rising input');
  }
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 15, 0]), [RR_OK, null], 'period 0 stops it');
  n.events.length = 0;
  n.vp.drive(4, 0);
  assert.equal(n.call(OP_REPORT, [REPORT_DIGITAL, 4, 10]), [RR_OK, null]);
  n.s.runUntil(n.s.now() + 200_000);
  const first = n.events.filter((e) => e.data[0] === REPORT_DIGITAL);
  assert.is(n.events.length, first.length, 'the analog report stopped');
  assert.is(first.length, 3, 'the first value, then two repeats');
  assert.ok(first.every((e) => e.data[1] === 4 && e.data[3] === 0));
  n.vp.drive(4, 1);
  n.s.runUntil(n.s.now() + 200_000);
  const after = n.events.filter((e) => e.data[3] === 1);
  assert.is(after.length, 3, 'a change: sent, then repeated twice');
  n.events.length = 0;
  n.s.runUntil(n.s.now() + 3_000_000);
  assert.ok(n.events.length >= 2 && n.events.length <= 4, `no change for 3 s: a refresh about once a second, got ${n.events.length}`);
});

test('I2C reports read the register every period; the stop operation ends the caller\'s reports; the table is bounded', () => {
  const n = net({ config: { reports: 3 } });
  assert.equal(n.call(OP_REPORT, [REPORT_I2C, I2C_ADDR, 50, 0, 2]), [RR_OK, null]);
  n.s.runUntil(n.s.now() + 1_000_000);
  const i2c = n.events.filter((e) => e.data[0] === REPORT_I2C);
  assert.ok(i2c.length >= 18, `about 20 I2C reports, got ${i2c.length}`);
  const ms = i2c.map((e) => { const b = e.data[3] as Uint8Array; return ((b[0] << 8) | b[1]) * 16; });
  for (let i = 1; i < ms.length; i++) assert.ok(ms[i] > ms[i - 1], 'the time registers advance');
  assert.is(i2c[0].data[4], 0, 'the register travels with the bytes');
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 14, 100]), [RR_OK, null]);
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 14, 50]), [RR_OK, null], 'asking again updates the entry');
  assert.equal(n.call(OP_REPORT, [REPORT_DIGITAL, 7, 20]), [RR_OK, null]);
  assert.is(n.svc.active(), 3);
  assert.is(n.call(OP_REPORT, [REPORT_DIGITAL, 8, 20])[0], RR_E_BUSY, 'a fourth report does not fit');
  assert.equal(n.call(OP_REPORT_STOP, null), [RR_OK, 3]);
  assert.is(n.svc.active(), 0);
  n.events.length = 0;
  n.s.runUntil(n.s.now() + 500_000);
  assert.is(n.events.length, 0, 'nothing reported after the stop');
});

test('a report whose lease is not renewed stops', () => {
  const n = net({ config: { leaseUs: 2_000_000 } });
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 16, 100]), [RR_OK, null]);
  n.s.runUntil(n.s.now() + 1_500_000);
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 16, 100]), [RR_OK, null], 'renewed');
  n.s.runUntil(n.s.now() + 1_500_000);
  assert.is(n.svc.active(), 1, 'still running 3 s after it started');
  n.s.runUntil(n.s.now() + 1_000_000);
  assert.is(n.svc.active(), 0);
  assert.is(n.svc.stats.expired, 1);
  const last = n.events[n.events.length - 1].t;
  n.s.runUntil(n.s.now() + 1_000_000);
  assert.is(n.events[n.events.length - 1].t, last, 'no reports after the lease ran out');
});

test('under 20 % loss each way, the host learns every digital state within the refresh', () => {
  for (const seed of [1, 2, 3]) {
    const n = net({ dropPct: 20, seed });
    n.vp.drive(6, 0);
    assert.is(n.call(OP_REPORT, [REPORT_DIGITAL, 6, 10])[0], RR_OK);
    let seen = -1;
    let lastSeq = -1;
    n.events.length = 0;
    for (let k = 0; k < 20; k++) {
      const v = k % 2 === 0 ? 1 : 0;
      n.vp.drive(6, v);
      n.s.runUntil(n.s.now() + 1_300_000); // the refresh comes within 1 s, plus a sample and the radio
      for (const e of n.events) {
        const seq = e.data[2] as number;
        if (lastSeq < 0 || ((seq - lastSeq) & 0xff) < 128) {
          seen = e.data[3] as number;
          lastSeq = seq;
        }
      }
      n.events.length = 0;
      assert.is(seen, v, `seed ${seed}, change ${k}`);
    }
    assert.ok(n.svc.stats.reported > 20, 'reports went out');
  }
});

test('R reports keep no history at the host', () => {
  const n = net();
  assert.equal(n.call(OP_REPORT, [REPORT_ANALOG, 17, 20]), [RR_OK, null]);
  n.s.runUntil(n.s.now() + 500_000);
  assert.ok(n.events.length > 10);
  assert.is(n.hostRr.historySize(), 0);
});

test.run();

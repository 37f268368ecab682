// The johnny-five IO plugin (host/j5/picolink-io.ts) under johnny-five's own classes: a Board with the
// plugin as its io, Led (on, off, blink, brightness), Button (press and release driven on the virtual
// pin), Sensor (following the virtual analog input), Servo, and I2C through board.io (write, read once,
// continuous reads), against simulated pins devices (host/sim/pins-net.ts) reached directly on the
// device network and through a bridge (by name), with 15 % of the frames each device and the host
// receive dropped. Assertions look at both ends: the virtual pins' state on the device, and the values
// johnny-five saw; a device that is not there fails with a message naming it, and the example
// (host/j5/example-blink.ts) with no bridge prints one line and exits 1. Runs on the wall clock
// (johnny-five's timers are real): waits are generous and nothing asserts a duration.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import five from 'johnny-five';
import type { Board, BoardOption, Sensor } from 'johnny-five';
import { PicolinkIO } from '../../../host/j5/picolink-io.ts';
import { pinsBridge, pinsNet } from '../../../host/sim/pins-net.ts';
import type { PinsNet } from '../../../host/sim/pins-net.ts';
import { I2C_ADDR } from '../../../host/sim/virtual-pins.ts';

const LOSS = 15;

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function boardOn(io: PicolinkIO): Promise<{ board: Board; errors: Error[] }> {
  const board = new five.Board({ io, repl: false, debug: false, sigint: false } as BoardOption);
  const errors: Error[] = [];
  board.on('error', (e: Error) => errors.push(e));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the Board was not ready within 20 s')), 20_000);
    board.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return { board, errors };
}

/** Johnny-five components with timers of their own (a Sensor samples on an interval), stopped after each test. */
const sensors: Sensor[] = [];
function cleanup(): void {
  for (const s of sensors.splice(0)) s.disable();
}

/** Everything johnny-five does with one device, checked at both ends. */
async function scenario(net: PinsNet, io: PicolinkIO): Promise<void> {
  const vp = net.pins[0];
  const { board, errors } = await boardOn(io);
  assert.ok(io.isReady);
  assert.is(io.pins.length, 20);
  assert.equal(io.analogPins, [14, 15, 16, 17, 18, 19]);
  assert.equal(io.pins[14].analogChannel, 0);
  assert.equal(io.pins[3].supportedModes, [0, 1, 3, 4], 'pin 3: INPUT, OUTPUT, PWM, SERVO');
  assert.is(io.normalize('A2'), 16);
  assert.ok(Object.isFrozen(io.MODES));

  // Led on pin 13: on, off, blink.
  const led = new five.Led({ pin: 13, board });
  led.on();
  await until('the LED on at the device', () => vp.pin(13).out === 1);
  assert.is(vp.pin(13).mode, io.MODES.OUTPUT);
  led.off();
  await until('the LED off at the device', () => vp.pin(13).out === 0);
  const before = vp.pin(13).toggles;
  led.blink(100);
  await until('the LED blinking at the device', () => vp.pin(13).toggles - before >= 10);
  led.stop().off();
  await until('the LED off after blinking', () => vp.pin(13).out === 0);

  // Led on PWM pin 5: brightness.
  const dim = new five.Led({ pin: 5, board });
  dim.brightness(128);
  await until('PWM 128 on pin 5', () => vp.pin(5).pwm === 128);
  assert.is(vp.pin(5).mode, io.MODES.PWM);

  // Button on pin 2: driven on the device, seen by johnny-five.
  vp.drive(2, 0);
  const button = new five.Button({ pin: 2, board });
  const seen: string[] = [];
  button.on('press', () => seen.push('press'));
  button.on('release', () => seen.push('release'));
  await sleep(300);
  for (let k = 0; k < 3; k++) {
    vp.drive(2, 1);
    await until(`press ${k}`, () => seen.filter((s) => s === 'press').length === k + 1);
    assert.ok(button.isDown);
    vp.drive(2, 0);
    await until(`release ${k}`, () => seen.filter((s) => s === 'release').length === k + 1);
  }
  assert.equal(seen, ['press', 'release', 'press', 'release', 'press', 'release'], 'each change once, in order');

  // Sensor on A1: follows the virtual input.
  vp.setAnalog(15, 512);
  const sensor = new five.Sensor({ pin: 'A1', freq: 25, board });
  sensors.push(sensor);
  await until('the sensor at 512', () => sensor.value === 512);
  vp.setAnalog(15, 300);
  await until('the sensor at 300', () => sensor.value === 300);
  assert.ok(io.pins[15].report === 1);

  // Servo on pin 9: johnny-five sends microseconds (its pwmRange 600..2400: 90 degrees is 1500);
  // degrees given straight to the plugin map to 544..2400 as Firmata's do.
  const servo = new five.Servo({ pin: 9, board });
  servo.to(90);
  await until('the servo at 90 degrees', () => vp.pin(9).servo === 1500);
  io.servoWrite(9, 180);
  await until('the servo at 180 degrees', () => vp.pin(9).servo === 2400);

  // I2C through board.io.
  board.io.i2cConfig({ address: I2C_ADDR });
  board.io.i2cWrite(I2C_ADDR, 0x20, [7, 8, 9]);
  board.io.i2cWriteReg(I2C_ADDR, 0x23, 10);
  const once = await new Promise<number[]>((resolve) => board.io.i2cReadOnce(I2C_ADDR, 0x20, 4, resolve));
  assert.equal(once, [7, 8, 9, 10]);
  assert.equal([...vp.i2cRegs.subarray(0x20, 0x24)], [7, 8, 9, 10], 'the device\'s registers');
  assert.ok(vp.i2cSetups >= 1);
  const times: number[] = [];
  board.io.i2cRead(I2C_ADDR, 0x00, 2, (b: number[]) => times.push((b[0] << 8) | b[1]));
  await until('I2C reports', () => times.length >= 10);
  assert.ok(times[times.length - 1] > times[0], 'the device\'s clock registers advance between reports');

  // A device error surfaces as an "error" event; a mode the pin lacks throws at once.
  board.io.i2cReadOnce(0x50, 1, () => {});
  await until('the I2C error', () => errors.length > 0);
  assert.match(errors[0].message, /handler failure/);
  assert.is(errors.length, 1, 'nothing else went wrong');
  assert.throws(() => io.pinMode(2, io.MODES.ANALOG), /no ANALOG mode/);
  assert.throws(() => io.pingRead(), /not supported/);
  await new Promise<void>((resolve) => io.sysexResponse(0, resolve));

  // Loss happened, and the device's reports stop when the plugin closes.
  const dropped = net.faults.reduce((s, f) => s + f.stats.dropped, 0);
  assert.ok(dropped > 20, `frames were dropped (${dropped})`);
  assert.ok(net.devices[0].pins!.active() > 0);
  await io.close();
  await until('reports stopped', () => net.devices[0].pins!.active() === 0);
}

test('johnny-five on the device network, 15 % loss: Led, Button, Sensor, Servo, I2C', async () => {
  const net = pinsNet({ seed: 3, lossPct: LOSS });
  try {
    await scenario(net, new PicolinkIO({ device: net.ids[0], bridge: net.rr }));
  } finally {
    cleanup();
    await net.stop();
  }
});

test('johnny-five through a bridge, by device name, 15 % loss: the same', async () => {
  const net = await pinsBridge({ seed: 4, lossPct: LOSS });
  try {
    await scenario(net, new PicolinkIO({ device: net.names[0], bridge: net.address }));
  } finally {
    cleanup();
    await net.stop();
  }
});

test('two plugins on two devices of one network keep their reports apart', async () => {
  const net = pinsNet({ seed: 5, devices: 2, lossPct: LOSS });
  try {
    // Each Board right after its io, as a program writes it: a Board attached to an io that has
    // already emitted "connect" but is not ready yet waits for "connect" for ever (johnny-five 2.1).
    const ioA = new PicolinkIO({ device: net.ids[0], bridge: net.rr });
    const a = await boardOn(ioA);
    const ioB = new PicolinkIO({ device: net.ids[1], bridge: net.rr });
    const b = await boardOn(ioB);
    net.pins[0].setAnalog(14, 100);
    net.pins[1].setAnalog(14, 900);
    const sa = new five.Sensor({ pin: 'A0', board: a.board });
    const sb = new five.Sensor({ pin: 'A0', board: b.board });
    sensors.push(sa, sb);
    await until('both sensors', () => sa.value === 100 && sb.value === 900);
    await sleep(200);
    assert.is(sa.value, 100);
    assert.is(sb.value, 900);
    await ioA.close();
    await ioB.close();
  } finally {
    cleanup();
    await net.stop();
  }
});

test('a bridge with nothing behind the name: the error says so', async () => {
  const net = await pinsBridge({ seed: 6 });
  try {
    const io = new PicolinkIO({ device: 'no-such-device', bridge: net.address });
    const err = await new Promise<Error>((resolve) => io.once('error', resolve));
    assert.match(err.message, /no device named "no-such-device"/);
    await io.close();
  } finally {
    cleanup();
    await net.stop();
  }
});

test('a bridge with no device at the address: the error names the device and says to look with picolink devices', async () => {
  const net = await pinsBridge({ seed: 7 });
  try {
    const io = new PicolinkIO({ device: 99, bridge: net.address });
    const err = await new Promise<Error>((resolve) => io.once('error', resolve));
    assert.match(err.message, /^picolink: device 99 did not answer when asked for its pins \(OP_PINS_INFO\), through bridge 127\.0\.0\.1:\d+: .*`picolink devices` lists the devices the bridge knows$/);
    assert.is((err as Error & { code?: number }).code, 5, 'the timeout code is kept');
    assert.not.ok(io.isReady);
    await io.close();
  } finally {
    cleanup();
    await net.stop();
  }
});

test('the blink example with no bridge: one line with the reason, exit 1, no stack trace', async () => {
  // A port nothing listens on: one the system just gave out and took back.
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const root = resolve(import.meta.dirname, '../../..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'host/j5/example-blink.ts', 'sensor-1'], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, PICOLINK_BRIDGE: `127.0.0.1:${port}` },
  });
  assert.is(r.status, 1, r.stderr);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: bridge 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED .*start a bridge`));
  assert.not.match(r.stderr, /Emitted 'error'|\n\s+at /);
});

test.run();

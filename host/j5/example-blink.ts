// Example: blink the LED (pin 13) of a board out on the device network with johnny-five, through a
// running bridge, and print the LED's state as the board itself reports it. Try it on the simulator:
//
//   npx picolink bridge --sim                          # terminal 1: simulated sensors with pins
//   node --import tsx host/j5/example-blink.ts         # terminal 2: sensor-1's LED blinks every 500 ms
//
// Arguments: [device name or address] (default sensor-1); the bridge is $PICOLINK_BRIDGE or
// 127.0.0.1:47910. Ctrl-C stops it (the board's reports to us stop with it). An error (no bridge, no
// such device, a device that does not answer) is printed in one line and ends it with exit code 1:
// the plugin's errors are listened for on the plugin itself, since johnny-five's Board forwards them
// only once the board is ready, and an "error" event nobody listens for is thrown.
import five from 'johnny-five';
import { PicolinkIO } from './picolink-io.ts';

const arg = process.argv[2] ?? 'sensor-1';
const device = /^\d+$/.test(arg) ? Number(arg) : arg;
const io = new PicolinkIO({ device });
const board = new five.Board({ io, repl: false, debug: false, sigint: false });

board.on('ready', () => {
  console.log(`${device} (address ${io.address}): ${io.pins.length} pins, analog inputs ${io.analogPins.join(', ')}`);
  const led = new five.Led({ pin: 13, board });
  led.blink(500);
  // The board samples pin 13 and reports each change: what the LED really does, seen from here.
  io.digitalRead(13, (v) => console.log(`${new Date().toISOString().slice(11, 23)}  LED ${v ? 'on' : 'off'}`));
});
// The plugin's errors, and the board's own (after "ready" the board also forwards the plugin's: the
// first one is printed, once).
let failed = false;
const fail = (e: Error): void => {
  if (failed) return;
  failed = true;
  console.error(`error: ${e.message}`);
  void io.close().finally(() => process.exit(1));
};
io.on('error', fail);
board.on('error', fail);
process.on('SIGINT', () => {
  void io.close().then(() => process.exit(0));
});

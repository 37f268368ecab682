// Example: blink the LED (pin 13) of a board out on the device network with johnny-five, through a
// running bridge, and print the LED's state as the board itself reports it. Try it on the simulator:
//
//   npx picolink bridge --sim                          # terminal 1: simulated sensors with pins
//   node --import tsx host/j5/example-blink.ts         # terminal 2: sensor-1's LED blinks every 500 ms
//
// Arguments: [device name or address] (default sensor-1); the bridge is $PICOLINK_BRIDGE or
// 127.0.0.1:47910. Ctrl-C stops it (the board's reports to us stop with it).
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
board.on('error', (e: Error) => console.error(`error: ${e.message}`));
process.on('SIGINT', () => {
  void io.close().then(() => process.exit(0));
});

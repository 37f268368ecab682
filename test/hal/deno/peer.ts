// A Deno edge node for test/hal/deno/udp.test.ts, run by Deno (deno run --unstable-net --allow-net):
// the firmware's request-reply endpoint over the raw MAC on hal/deno/udp.ts, serving operation 1
// (echo) and operation 2 (which runtime answers, and how many times operation 3 ran). Operation 3
// counts its executions, so the test can see at-most-once hold. Prints its port as one JSON line.
import { denoUdpLink } from '../../../hal/deno/udp.ts';
import { realClock } from '../../../hal/node/clock.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { RR_OK, rr } from '../../../firmware/rr/rr.ts';

declare const Deno: { args: string[]; version: { deno: string } };

const link = denoUdpLink({ peers: [{ address: '127.0.0.1', port: Number(Deno.args[0]) }] });
const ep = rr({ mac: rawMac(link, 2, 16), clock: realClock(), rng: xoshiro(9) });
let count = 0;
ep.register(1, (args, req) => ep.reply(req, RR_OK, args));
ep.register(2, (_args, req) => ep.reply(req, RR_OK, { runtime: 'deno ' + Deno.version.deno, count }));
ep.register(3, (_args, req) => ep.reply(req, RR_OK, ++count));
console.log(JSON.stringify({ port: link.local.port }));

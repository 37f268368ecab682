// The far end of `npm run bench -- rr`, run as its own process: two raw UDP echoes (Node's default
// send path, and sending at once as hal/node/udp.ts does), a picolink
// request-reply endpoint (UDP link, raw MAC, the host endpoint) whose operation 1 echoes its
// argument, and a CoAP server (the `coap` package) whose /echo resource answers a confirmable POST
// with its payload, piggy-backed on the ACK. It prints the echo and picolink ports as one JSON line, starts
// CoAP when told so on stdin (printing its port the same way), and serves until stdin closes.
// With --ports (bench/bridge.ts) the endpoint sits on the request-reply service port, as devices do
// (firmware/mac/ports.ts), instead of on the raw MAC itself.
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import * as coap from 'coap';
import { udpLink } from '../../hal/node/udp.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { hostRr } from '../../host/rr/endpoint.ts';
import { macPorts, SVC_RR } from '../../firmware/mac/ports.ts';

const clientPort = Number(process.argv[2]);
if (!(clientPort > 0)) {
  console.error('usage: rr-server.ts <picolink client UDP port>');
  process.exit(2);
}

const echo = createSocket('udp4');
echo.on('message', (m, r) => echo.send(m, r.port, r.address));
await new Promise<void>((res) => echo.bind(0, '127.0.0.1', () => res()));
// The same echo on a socket that sends as hal/node/udp.ts does: an IPv4 literal needs no resolving,
// so the datagram goes out inside send() instead of after dns.lookup's next tick.
const literal = (host: string, family: unknown, cb: (e: Error | null, a: string, f: number) => void): void => cb(null, host, 4);
const echoNow = createSocket({ type: 'udp4', lookup: literal as never });
echoNow.on('message', (m, r) => echoNow.send(m, r.port, r.address));
await new Promise<void>((res) => echoNow.bind(0, '127.0.0.1', () => res()));

const link = udpLink({ peers: [{ address: '127.0.0.1', port: clientPort }] });
const ep = await link.bound();
const clock = realClock();
const mac = rawMac(link, 2, 64);
const server = hostRr({ mac: process.argv.includes('--ports') ? macPorts(mac).port(SVC_RR) : mac, clock, rng: xoshiro(2) });
server.register(1, (args) => args);

// The CoAP server starts only when asked ("coap" on stdin): with it running, the `coap` package's
// timers and sockets slowed this process's other replies by about 10 µs, which is not picolink's cost.
const lines = createInterface({ input: process.stdin });
lines.on('line', (l) => {
  if (l.trim() !== 'coap') return;
  const cs = coap.createServer({ piggybackReplyMs: 50 });
  cs.on('request', (req: coap.IncomingMessage, res: coap.OutgoingMessage) => {
    res.end(req.payload);
  });
  cs.listen(0, '127.0.0.1', () => {
    const port = (cs as unknown as { _sock: { address(): { port: number } } })._sock.address().port;
    console.log(JSON.stringify({ coap: port }));
  });
});
lines.on('close', () => process.exit(0));

console.log(JSON.stringify({ echo: echo.address().port, echoNow: echoNow.address().port, picolink: ep.port }));

// One far end of `npm run bench -- psync`, run as its own process with its index (1..7) in the token
// ring and the measuring process's request-reply UDP port: a raw UDP echo, a picolink request-reply
// endpoint whose operation 1 echoes its argument, a Psync endpoint (UDP link routed per station, raw
// MAC), and a TCP server. It prints its ports as one JSON line, then obeys JSON lines on stdin:
//   {"cmd":"peers","psync":[...],"tcp":[...]}  ports of every process by index: routes Psync frames,
//        connects TCP to every process with a larger index, answers {"ready":true} once every
//        process with a smaller index has connected too;
//   {"cmd":"n","n":N}  a new token ring of processes 0..N-1: closes its conversation, waits for the
//        next one (when its index < N), answers {"ok":true}.
// Token rule (the paper's Table II): the process after the holder takes the token when the holder's
// message reaches it, and sends one byte to all others: Psync, one message in the conversation; TCP,
// one byte on each of its N - 1 connections. A TCP connection that opens with TCP_ECHO is an echo.
// A holder that hears nothing after its message resends it (lastAck in psync-net.ts: the paper's
// last-ACK rule). It serves until stdin closes.
import { createSocket } from 'node:dgram';
import { createServer, connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { udpLink } from '../../hal/node/udp.ts';
import { realClock } from '../../hal/node/clock.ts';
import { xoshiro } from '../../hal/prng.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { psync } from '../../firmware/psync/psync.ts';
import { hostRr } from '../../host/rr/endpoint.ts';
import { BENCH_PSYNC, MAC_DEPTH, TCP_ECHO, addrOf, lastAck, routedLink } from './psync-net.ts';

const index = Number(process.argv[2]);
const rrPort = Number(process.argv[3]);
if (!(index >= 1 && index <= 7) || !(rrPort > 0)) {
  console.error('usage: psync-peer.ts <index 1..7> <request-reply UDP port of process 0>');
  process.exit(2);
}

const clock = realClock();
const echo = createSocket('udp4');
echo.on('message', (m, r) => echo.send(m, r.port, r.address));
await new Promise<void>((res) => echo.bind(0, '127.0.0.1', () => res()));

const rrLink = udpLink({ peers: [{ address: '127.0.0.1', port: rrPort }] });
const rrEp = await rrLink.bound();
hostRr({ mac: rawMac(rrLink, addrOf(index), 64), clock, rng: xoshiro(100 + index) }).register(1, (a) => a);

const psLink = udpLink({ peers: [] });
const psEp = await psLink.bound();
const routed = routedLink(psLink);
const ps = psync({ mac: rawMac(routed, addrOf(index), MAC_DEPTH), clock, rng: xoshiro(index), config: BENCH_PSYNC });
const one = new Uint8Array([1]);
const ONE = Buffer.from([1]);
let n = 0;
let conv = -1;
const ack = lastAck((mid) => ps.resend(conv, mid));
ps.onOpen((c) => { conv = c; });
ps.onDeliver((c, sender) => {
  if (c !== conv) return;
  ack.heard();
  if (index < n && sender === addrOf(index - 1)) {
    const r = ps.send(conv, one, 1);
    if (r < 0) console.error(`psync-peer ${index}: send refused (${r})`);
    else ack.sent(r);
  }
});

// TCP: conns[j] is the connection to process j. Ready once connected to every larger index and
// greeted by every smaller one, so no token can arrive before a connection it must go out on.
const conns: (Socket | undefined)[] = [];
let incoming = 0;
let outgoingDone = false;
function maybeReady(): void {
  if (!outgoingDone || incoming < index) return;
  outgoingDone = false;
  console.log(JSON.stringify({ ready: true }));
}
function passOn(): void {
  for (let j = 0; j < n; j++) if (j !== index) conns[j]!.write(ONE);
}
function tokenBytes(from: number, count: number): void {
  if (from !== index - 1 || index >= n) return;
  for (let k = 0; k < count; k++) passOn();
}
function attach(s: Socket, from: number): void {
  conns[from] = s;
  s.on('data', (d: Buffer) => tokenBytes(from, d.length));
}
const server = createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  s.once('data', (d: Buffer) => {
    if (d[0] === TCP_ECHO) {
      if (d.length > 1) s.write(d.subarray(1));
      s.on('data', (x: Buffer) => s.write(x));
      return;
    }
    attach(s, d[0]);
    incoming++;
    if (d.length > 1) tokenBytes(d[0], d.length - 1);
    maybeReady();
  });
});
await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
const tcpPort = (server.address() as { port: number }).port;

const lines = createInterface({ input: process.stdin });
lines.on('line', (l) => {
  const m = JSON.parse(l) as { cmd: string; psync?: number[]; tcp?: number[]; n?: number };
  if (m.cmd === 'peers') {
    routed.setRoutes(m.psync!);
    const ports = m.tcp!;
    const out: Promise<void>[] = [];
    for (let j = index + 1; j < ports.length; j++) {
      out.push(new Promise<void>((res, rej) => {
        const s = connect(ports[j], '127.0.0.1', () => {
          s.setNoDelay(true);
          s.write(Buffer.from([index]));
          attach(s, j);
          res();
        });
        s.once('error', rej);
      }));
    }
    Promise.all(out).then(() => {
      outgoingDone = true;
      maybeReady();
    }, (e: Error) => {
      console.error(`psync-peer ${index}: ${e.message}`);
      process.exit(1);
    });
  } else if (m.cmd === 'n') {
    ack.stop();
    if (conv >= 0) ps.close(conv);
    conv = -1;
    n = m.n!;
    if (index < n) ps.passiveOpen();
    console.log(JSON.stringify({ ok: true }));
  }
});
lines.on('close', () => process.exit(0));

console.log(JSON.stringify({ echo: echo.address().port, rr: rrEp.port, psync: psEp.port, tcp: tcpPort }));

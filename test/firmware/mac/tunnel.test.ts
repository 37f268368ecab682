// The MAC tunnel (firmware/mac/tunnel.ts): a host reaches the devices on a gateway's radio through a
// framed serial line, as the node at the gateway's address. Over a simulated wire: the hello, calls
// with each protocol to simulated sensors, telemetry up, an outcome for every frame (queue full
// included), group membership and its renewal when the gateway says hello again, golden bytes, and
// junk on the line in both directions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { wire } from '../../../hal/sim/wire.ts';
import { framedLink } from '../../../hal/framing/link.ts';
import { xoshiro } from '../../../hal/prng.ts';
import type { Link, LinkCaps } from '../../../hal/link.ts';
import { TX_ERR, TX_OK, TX_QUEUE_FULL } from '../../../hal/link.ts';
import { macPorts, SVC_APP, SVC_RR, SVC_TELEMETRY } from '../../../firmware/mac/ports.ts';
import { RR_OK, rr } from '../../../firmware/rr/rr.ts';
import { PROTO_R, PROTO_RR, PROTO_RRA } from '../../../firmware/rr/frame.ts';
import { parseTelemetry } from '../../../firmware/codec/telemetry.ts';
import { tunnelGateway, tunnelMac, TUN_HELLO, TUN_JOIN, TUN_RX, TUN_SENT, TUN_TX } from '../../../firmware/mac/tunnel.ts';
import type { Mac, MacRxInfo } from '../../../firmware/mac/mac.ts';
import { OP_COUNT, OP_READ } from '../../../boards/sim.ts';
import { GATEWAY_ADDR, tunnelNet } from '../../../host/sim/tunnel-net.ts';

function net(seed = 1, sensors = 2) {
  const sched = scheduler();
  const line = wire(sched, { baud: 115_200 });
  const n = tunnelNet({ seed, serial: line.a, sched, sensors });
  const host = framedLink(line.b, { mtu: 200, clock: sched });
  const mac = tunnelMac(host, 16);
  return { sched, line, n, host, mac };
}

test('tunnel: the gateway says who it is; the host end takes its address and mtu', () => {
  const { sched, n, mac } = net();
  const hellos: number[][] = [];
  mac.hello((addr, mtu, version) => hellos.push([addr, mtu, version]));
  assert.not.ok(mac.ready());
  sched.runUntil(50_000);
  assert.ok(mac.ready());
  assert.is(mac.addr, GATEWAY_ADDR);
  assert.is(mac.caps.mtu, n.gateway.mac!.caps.mtu, 'the radio MAC payload, not the line');
  // One hello from the gateway's start, one in answer to ours.
  assert.equal(hellos, [[GATEWAY_ADDR, 24, 1], [GATEWAY_ADDR, 24, 1]]);
});

test('tunnel: calls through the gateway with R, RR and RRA reach the sensors, at most once', () => {
  const { sched, n, mac } = net(2);
  mac.hello();
  sched.runUntil(50_000);
  const ports = macPorts(mac);
  const r = rr({ mac: ports.port(SVC_RR), clock: sched, rng: xoshiro(9) });
  const results: string[] = [];
  const got: unknown[] = [];
  let readings = 0;
  const h = { src: 0, seq: 0 };
  ports.port(SVC_TELEMETRY).onReceive((f, len, info) => {
    if (parseTelemetry(f, len, h) && h.src === info.src && info.dst === GATEWAY_ADDR) readings++;
  });
  let k = 0;
  const next = (): void => {
    if (k >= 30) return;
    const to = n.sensorIds[k % 2];
    const proto = [PROTO_R, PROTO_RR, PROTO_RRA][k % 3];
    const op = proto === PROTO_R ? OP_READ : OP_COUNT;
    k++;
    const st = r.call(to, op, null, { proto }, (err, res) => {
      results.push(`${to} ${proto} ${err}`);
      if (op === OP_COUNT && err === RR_OK) got.push([to, res]);
      sched.after(20_000, next);
    });
    assert.is(st, RR_OK);
  };
  next();
  sched.runUntil(20_000_000);
  assert.is(results.length, 30);
  assert.ok(results.every((x) => x.endsWith(` ${RR_OK}`)), results.join(', '));
  // OP_COUNT replies from each sensor count up by one: every call ran exactly once.
  for (const id of n.sensorIds) {
    const counts = got.filter((g) => (g as number[])[0] === id).map((g) => (g as number[])[1]);
    assert.equal(counts, counts.map((_, i) => i + 1), `sensor ${id}: ${counts}`);
    assert.is(n.sensors[id - GATEWAY_ADDR - 1].counter(), counts.length);
  }
  assert.ok(readings >= 10, `telemetry came up through the tunnel (${readings})`);
  assert.is(n.tunnel.stats.malformed, 0);
  // Down: 30 requests and 10 RRA acknowledgements; up: 20 replies and the readings.
  assert.is(n.tunnel.stats.down, 40, JSON.stringify(n.tunnel.stats));
  assert.ok(n.tunnel.stats.up >= 20 + readings, JSON.stringify(n.tunnel.stats));
});

test('tunnel: every frame the host hands over gets one outcome, queue full and no-ack included', () => {
  const { sched, mac } = net(3);
  mac.hello();
  sched.runUntil(50_000);
  const outcomes: number[] = [];
  mac.onSent((status, _tx, dst) => {
    assert.is(dst, 77);
    outcomes.push(status);
  });
  let accepted = 0;
  const p = new Uint8Array([SVC_APP, 1, 2, 3]);
  // Station 77 does not exist: the MAC retries each frame until its retry limit, its queue fills.
  for (let i = 0; i < 12; i++) if (mac.send(77, p, 4) === TX_OK) accepted++;
  assert.is(accepted, 12, 'the host end queues 12 (depth 16)');
  assert.is(mac.send(77, p, 25), TX_ERR, 'over the radio mtu');
  sched.runUntil(30_000_000);
  assert.is(outcomes.length, accepted);
  assert.ok(outcomes.includes(TX_QUEUE_FULL), `the gateway's MAC queue filled: ${outcomes}`);
  assert.ok(outcomes.includes(2), `frames the station never acknowledged: ${outcomes}`);
  assert.is(mac.queued(), 0);
});

test('tunnel: groups are joined through the gateway, and again when it says hello after a restart', () => {
  const { sched, n, mac, host } = net(4);
  mac.hello();
  sched.runUntil(50_000);
  const heard: string[] = [];
  mac.onReceive((p, len, info: MacRxInfo) => heard.push(`${info.src}>${info.dst.toString(16)}:${p[len - 1]}`));
  const s2 = n.sensors[0].mac!;
  const g = 0xff07;
  s2.send(g, new Uint8Array([SVC_APP, 1]), 2);
  sched.runUntil(200_000);
  assert.equal(heard.filter((x) => x.includes('ff07')), [], 'not joined yet');
  assert.ok(mac.join(g));
  assert.not.ok(mac.join(0x1234), 'not a group address');
  sched.runUntil(300_000);
  s2.send(g, new Uint8Array([SVC_APP, 2]), 2);
  sched.runUntil(500_000);
  assert.equal(heard.filter((x) => x.includes('ff07')), ['2>ff07:2']);
  // The gateway restarts: a fresh tunnelGateway on a fresh MAC would forget the group. Here the
  // gateway's own MAC leaves it, then says hello; the host end joins again.
  n.gateway.mac!.leave(g);
  const frames: number[][] = [];
  const orig = host.send.bind(host);
  host.send = (f, len) => {
    frames.push([...f.subarray(0, len)]);
    return orig(f, len);
  };
  // Feed the host end a hello as the restarted gateway would send it.
  (n.line as Link).send(new Uint8Array([TUN_HELLO, 1, 0, GATEWAY_ADDR, 24]), 5);
  sched.runUntil(600_000);
  assert.equal(frames, [[TUN_JOIN, 0xff, 0x07, 1]]);
  s2.send(g, new Uint8Array([SVC_APP, 3]), 2);
  sched.runUntil(800_000);
  assert.equal(heard.filter((x) => x.includes('ff07')), ['2>ff07:2', '2>ff07:3']);
  mac.leave(g);
  sched.runUntil(900_000);
  s2.send(g, new Uint8Array([SVC_APP, 4]), 2);
  sched.runUntil(1_100_000);
  assert.is(heard.filter((x) => x.includes('ff07')).length, 2, 'left');
});

/** A Link that records what is sent and lets the test deliver frames. */
function fakeLink(mtu: number) {
  const caps: LinkCaps = { mtu, bitrate: 0, medium: 'serial', carrierSense: false, broadcast: false };
  const sent: number[][] = [];
  let rx: ((f: Uint8Array, len: number, info: { timeUs: number; rssi: number }) => void) | null = null;
  let done: ((s: 0) => void) | null = null;
  let busy = false;
  const link: Link = {
    caps,
    send(f, len) {
      if (busy) return false;
      busy = true;
      sent.push([...f.subarray(0, len)]);
      return true;
    },
    onReceive(fn) { rx = fn; },
    onSent(fn) { done = fn as (s: 0) => void; },
    busy: () => busy,
  };
  return {
    link, sent,
    deliver(bytes: number[]) { rx!(new Uint8Array(bytes), bytes.length, { timeUs: 5, rssi: 0 }); },
    drain() { busy = false; done!(0); },
  };
}

/** A Mac that records sends and lets the test deliver payloads. */
function fakeMac(addr: number) {
  const sends: number[][] = [];
  let rx: ((p: Uint8Array, len: number, info: MacRxInfo) => void) | null = null;
  let sent: ((s: number, t: number, d: number) => void) | null = null;
  let answer = TX_OK;
  const mac: Mac = {
    caps: { mtu: 10, carrierSense: true },
    addr,
    send(dst, p, len) {
      sends.push([dst, ...p.subarray(0, len)]);
      return answer;
    },
    onReceive(fn) { rx = fn; },
    onSent(fn) { sent = fn; },
    queued: () => 0,
  };
  return {
    mac, sends,
    setAnswer(a: number) { answer = a; },
    deliver(p: number[], src: number, dst: number, rssi: number) { rx!(new Uint8Array(p), p.length, { src, dst, timeUs: 0, rssi }); },
    outcome(s: number, t: number, d: number) { sent!(s, t, d); },
  };
}

test('tunnel: golden bytes both ways', () => {
  const s = scheduler();
  const up = fakeLink(16);
  const m = fakeMac(0x0102);
  tunnelGateway(m.mac, up.link, s, 4);
  assert.equal(up.sent, [[TUN_HELLO, 1, 0x01, 0x02, 10]], 'hello at start: version, address, mtu');
  up.drain();
  m.deliver([0xaa, 0xbb], 0x0304, 0xffff, -40);
  assert.equal(up.sent[1], [TUN_RX, 0x03, 0x04, 0xff, 0xff, 0xd8, 0xaa, 0xbb]);
  up.drain();
  m.outcome(2, 7, 0x0304);
  assert.equal(up.sent[2], [TUN_SENT, 2, 7, 0x03, 0x04]);
  up.drain();
  up.deliver([TUN_TX, 0x00, 0x09, 1, 2, 3]);
  assert.equal(m.sends, [[9, 1, 2, 3]]);
  m.setAnswer(TX_QUEUE_FULL);
  up.deliver([TUN_TX, 0x00, 0x09, 4]);
  assert.equal(up.sent[3], [TUN_SENT, TX_QUEUE_FULL, 0, 0x00, 0x09], 'a refused frame is answered at once');

  const down = fakeLink(16);
  const h = tunnelMac(down.link, 4);
  const rx: string[] = [];
  h.onReceive((p, len, info) => rx.push(`${info.src} ${info.dst} ${info.rssi} ${info.timeUs} ${[...p.subarray(0, len)]}`));
  down.deliver([TUN_RX, 0x03, 0x04, 0xff, 0x01, 0xd8, 0xaa, 0xbb]);
  assert.equal(rx, ['772 65281 -40 5 170,187']);
  assert.is(h.send(0x0506, new Uint8Array([7, 8]), 2), TX_OK);
  assert.equal(down.sent, [[TUN_TX, 0x05, 0x06, 7, 8]]);
  assert.is(h.queued(), 1, 'on the line');
  down.drain();
  assert.is(h.queued(), 0);
});

test('tunnel: junk on the line is counted and dropped at both ends; nothing throws', () => {
  const s = scheduler();
  const up = fakeLink(16);
  const m = fakeMac(5);
  const gw = tunnelGateway(m.mac, up.link, s, 4);
  const down = fakeLink(16);
  const h = tunnelMac(down.link, 4);
  let rx = 0;
  let outs = 0;
  h.onReceive(() => rx++);
  h.onSent(() => outs++);
  const rng = xoshiro(11);
  for (let i = 0; i < 20_000; i++) {
    const len = 1 + (rng.u32() % 16);
    const f: number[] = [];
    for (let j = 0; j < len; j++) f.push(rng.u32() & 0xff);
    if (i % 2) f[0] = 1 + (rng.u32() % 6);
    up.deliver(f);
    down.deliver(f);
    up.drain();
  }
  assert.ok(gw.stats.malformed > 5000, `${gw.stats.malformed}`);
  assert.ok(h.stats.malformed > 5000, `${h.stats.malformed}`);
  // Every TX the gateway took went to the MAC with a length the MAC accepts.
  assert.ok(m.sends.every((x) => x.length - 1 >= 1 && x.length - 1 <= 10));
  assert.ok(rx + outs > 0 && h.stats.received === rx && h.stats.outcomes === outs);
});

test.run();

// Service ports (firmware/mac/ports.ts): the service byte on the air, dispatch by service, unknown
// services dropped and counted, outcomes routed back to the sending port, queued() per port, and
// request-reply sharing a MAC with telemetry under loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { faulty } from '../../../hal/mw/faulty.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { TX_ERR, TX_OK, TX_QUEUE_FULL } from '../../../hal/link.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import { csma } from '../../../firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '../../../firmware/mac/csma/config.ts';
import { macPorts, SVC_APP, SVC_RR, SVC_TELEMETRY } from '../../../firmware/mac/ports.ts';
import { RR_OK, rr } from '../../../firmware/rr/rr.ts';

function pair(mtu = 32) {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu, propagationUs: 1 });
  const a = rawMac(m.station().link, 1, 8);
  const b = rawMac(m.station().link, 2, 8);
  return { s, m, a, b, pa: macPorts(a), pb: macPorts(b) };
}

test('the service byte goes first on the air; each port hears its own service only', () => {
  const got: string[] = [];
  const n2 = pair();
  const tel2 = n2.pb.port(SVC_TELEMETRY);
  const app2 = n2.pb.port(SVC_APP);
  tel2.onReceive((p, len, info) => got.push(`tel ${info.src} ${Buffer.from(p.subarray(0, len)).toString('hex')}`));
  app2.onReceive((p, len, info) => got.push(`app ${info.src} ${Buffer.from(p.subarray(0, len)).toString('hex')}`));
  const airs: string[] = [];
  const sniff = n2.m.station();
  sniff.link.onReceive((f, len) => airs.push(Buffer.from(f.subarray(0, len)).toString('hex')));
  assert.is(n2.pa.port(SVC_TELEMETRY).send(2, new Uint8Array([0xaa, 0xbb]), 2), TX_OK);
  n2.s.runAll();
  assert.is(n2.pa.port(SVC_APP).send(2, new Uint8Array([0xcc]), 1), TX_OK);
  n2.s.runAll();
  assert.is(n2.pa.port(SVC_RR).send(2, new Uint8Array([0xdd]), 1), TX_OK, 'sending needs no port open at the far end');
  n2.s.runAll();
  assert.equal(got, ['tel 1 aabb', 'app 1 cc']);
  // raw MAC frame: dst u16, src u16, then the service byte and the payload
  assert.equal(airs, ['0002000101aabb', '0002000100cc', '0002000104dd']);
  assert.is(n2.pb.stats.unknownService, 1, 'service 4 has no port open at station 2');
});

test('mtu is one byte less; bad lengths are refused; the same port object comes back', () => {
  const n = pair(32);
  const p = n.pa.port(SVC_RR);
  assert.is(p.caps.mtu, n.a.caps.mtu - 1);
  assert.is(n.pa.port(SVC_RR), p);
  assert.is(p.addr, 1);
  assert.is(p.send(2, new Uint8Array(64), p.caps.mtu + 1), TX_ERR);
  assert.is(p.send(2, new Uint8Array(4), 0), TX_ERR);
  assert.is(p.send(2, new Uint8Array(4), 5), TX_ERR, 'len past the buffer');
  assert.throws(() => n.pa.port(256));
  assert.throws(() => macPorts({ ...n.a, caps: { mtu: 1, carrierSense: false } }));
});

test('outcomes go back to the port that sent the frame, in order; queued() counts per port', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 32, propagationUs: 1, preambleBits: 80 });
  const rng = xoshiro(5);
  const a = csma({ link: m.station({ id: 1 }).link, clock: s, rng, addr: 1, config: CSMA_NRF24 });
  csma({ link: m.station({ id: 2 }).link, clock: s, rng, addr: 2, config: CSMA_NRF24 });
  const ports = macPorts(a);
  const tel = ports.port(SVC_TELEMETRY);
  const app = ports.port(SVC_APP);
  const seen: string[] = [];
  tel.onSent((st, _t, dst) => seen.push(`tel ${st} ${dst}`));
  app.onSent((st, _t, dst) => seen.push(`app ${st} ${dst}`));
  assert.is(tel.send(2, new Uint8Array([1]), 1), TX_OK);
  assert.is(app.send(3, new Uint8Array([2]), 1), TX_OK); // nobody at 3: no ACK, retry limit
  assert.is(tel.send(2, new Uint8Array([3]), 1), TX_OK);
  assert.is(tel.queued(), 2);
  assert.is(app.queued(), 1);
  s.runAll();
  assert.equal(seen.filter((x) => x.startsWith('tel')), ['tel 0 2', 'tel 0 2']);
  assert.equal(seen.filter((x) => x.startsWith('app')).length, 1);
  assert.ok(seen.find((x) => x.startsWith('app'))!.endsWith(' 3'));
  assert.not.equal(seen.find((x) => x.startsWith('app')), 'app 0 3', 'nobody acknowledged station 3');
  assert.is(tel.queued() + app.queued(), 0);
});

test('a full in-flight ring answers TX_QUEUE_FULL and frees as outcomes come', () => {
  const n = pair();
  const few = macPorts(rawMac(n.m.station().link, 9, 8), 2);
  const p = few.port(SVC_APP);
  assert.is(p.send(2, new Uint8Array([1]), 1), TX_OK);
  assert.is(p.send(2, new Uint8Array([2]), 1), TX_OK);
  assert.is(p.send(2, new Uint8Array([3]), 1), TX_QUEUE_FULL);
  n.s.runAll();
  assert.is(p.queued(), 0);
  assert.is(p.send(2, new Uint8Array([4]), 1), TX_OK);
});

test('request-reply and telemetry share one lossy MAC', () => {
  const s = scheduler();
  const m = medium(s, { bitrate: 1e6, mtu: 64, propagationUs: 1 });
  const rng = xoshiro(11);
  const wrap = (l: ReturnType<typeof m.station>['link']) => faulty(l, { clock: s, rng, dropPct: 20, dupPct: 5 });
  const pa = macPorts(rawMac(wrap(m.station().link), 1, 8));
  const pb = macPorts(rawMac(wrap(m.station().link), 2, 8));
  const client = rr({ mac: pa.port(SVC_RR), clock: s, rng });
  const server = rr({ mac: pb.port(SVC_RR), clock: s, rng });
  let runs = 0;
  server.register(3, (args, req) => {
    runs++;
    server.reply(req, RR_OK, (args as number) + 1);
  });
  let tel = 0;
  pb.port(SVC_TELEMETRY).onReceive(() => tel++);
  const results: number[] = [];
  let k = 0;
  const next = (): void => {
    if (k === 200) return;
    const x = k++;
    pa.port(SVC_TELEMETRY).send(2, new Uint8Array([0x54, x & 0xff]), 2);
    client.call(2, 3, x, null, (e, r) => {
      if (e === RR_OK) results.push((r as number) - 1);
      next();
    });
  };
  next();
  s.runAll(60_000_000);
  assert.ok(results.length >= 195, `completed ${results.length} of 200`);
  assert.ok(runs <= 200, 'at-most-once: no call ran twice');
  assert.ok(tel > 100 && tel <= 200 * 1.2, `telemetry frames heard: ${tel}`);
  assert.is(pb.stats.unknownService, 0);
  assert.is(server.stats.malformed + client.stats.malformed, 0, 'telemetry never reached request-reply');
});

test.run();

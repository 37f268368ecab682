// The esp32 board (boards/esp32.ts) against fakes of the Espruino modules it calls: Wifi (connect's
// callback scripted per attempt: success, an error string, or silence, as Espruino stays silent when
// the access point is missing), Storage (readJSON of picolink.json) and dgram on the fake network of
// test/hal/espruino/dgram-fake.ts, in virtual time. A gateway on that network (the UDP link, the raw
// MAC, the telemetry port) decodes what the board sends. Checked: it connects with the configured
// SSID and password, then sends readings as datagrams to its peers; Wi-Fi failures are printed with
// the SSID and the attempt, retried with growing delays and given up after a bound with a message
// saying what to check; a lost connection is retried; the request-reply server answers; a bad
// configuration names the field.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scheduler } from '../../hal/sim/scheduler.ts';
import type { Scheduler } from '../../hal/sim/scheduler.ts';
import { xoshiro } from '../../hal/prng.ts';
import { dgramLink } from '../../hal/espruino/dgram.ts';
import { rawMac } from '../../firmware/mac/raw.ts';
import { macPorts, SVC_RR, SVC_TELEMETRY } from '../../firmware/mac/ports.ts';
import { parseTelemetry } from '../../firmware/codec/telemetry.ts';
import { cborDecode, cborState } from '../../firmware/codec/cbor.ts';
import { RR_OK, rr } from '../../firmware/rr/rr.ts';
import { create, OP_ECHO, OP_INFO } from '../../boards/esp32.ts';
import type { Esp32Config, EspruinoWifi } from '../../boards/esp32.ts';
import { FakeNet, fakeBytes } from '../hal/espruino/dgram-fake.ts';

type Answer = null | string | 'silent';

/** require("Wifi"): connect answers each attempt from a script (after 3 s), then success. */
class FakeWifi implements EspruinoWifi {
  connects: { ssid: string; password: string; at: number }[] = [];
  disconnects = 0;
  onDisconnected: ((d: { reason?: string }) => void) | null = null;
  constructor(private clock: Scheduler, private script: Answer[]) {}
  connect(ssid: string, options: { password: string }, cb: (err: string | null) => void): void {
    this.connects.push({ ssid, password: options.password, at: this.clock.now() });
    const a = this.script.length > 0 ? this.script.shift()! : null;
    if (a === 'silent') return;
    this.clock.after(3_000_000, () => cb(a));
  }
  disconnect(): void {
    this.disconnects++;
  }
  on(event: 'disconnected', fn: (d: { reason?: string }) => void): void {
    assert.is(event, 'disconnected');
    this.onDisconnected = fn;
  }
  getIP(): { ip: string } {
    return { ip: '192.168.1.30' };
  }
}

const GW_PORT = 6000;

function setup(script: Answer[], cfg: Partial<Esp32Config> | null = {}) {
  const clock = scheduler();
  const net = new FakeNet(clock);
  const wifi = new FakeWifi(clock, script);
  const printed: string[] = [];
  const config = cfg === null ? undefined : { ssid: 'lab', password: 's3cret', addr: 0x0301, port: 5000, peers: [`192.168.1.20:${GW_PORT}`], periodUs: 1_000_000, ...cfg };
  const storage = { readJSON: (name: string) => (name === 'picolink.json' ? config : undefined) };
  const modules: Record<string, unknown> = { Wifi: wifi, Storage: storage, dgram: net.dgram };
  const builtins = {
    require: (name: string) => {
      if (!(name in modules)) throw new Error(`no module ${name}`);
      return modules[name];
    },
    print: (...a: unknown[]) => printed.push(a.join(' ')),
    process: { memory: () => ({ free: 12000 }) },
    E: fakeBytes,
    clock,
    rng: xoshiro(3),
  };
  // The gateway: where the readings go.
  const gw = dgramLink({ port: GW_PORT, peers: [{ address: '192.168.1.30', port: 5000 }], clock, dgram: net.dgram, bytes: fakeBytes });
  const gwMac = rawMac(gw, 0x0001, 8);
  const gwPorts = macPorts(gwMac);
  const readings: { src: number; macSrc: number; dst: number; value: unknown }[] = [];
  const h = { src: 0, seq: 0 };
  gwPorts.port(SVC_TELEMETRY).onReceive((p, len, info) => {
    const off = parseTelemetry(p, len, h);
    assert.ok(off > 0, 'a telemetry frame');
    readings.push({ src: h.src, macSrc: info.src, dst: info.dst, value: cborDecode(p, off, len, cborState(8, 64)) });
  });
  return { clock, net, wifi, printed, builtins, readings, gwPorts };
}

test('connects with the configured SSID and password, then sends readings as datagrams to its peers', () => {
  const s = setup([null]);
  const node = create(s.builtins);
  assert.is(node.wifi(), 'connecting');
  assert.equal(s.wifi.connects.map((c) => [c.ssid, c.password]), [['lab', 's3cret']]);
  assert.is(node.link, null, 'no socket before Wi-Fi is up');
  s.clock.runUntil(10_000_000);
  assert.is(node.wifi(), 'up');
  assert.match(s.printed.join('\n'), /Wi-Fi "lab" up, station 769 on UDP port 5000/);
  const fromBoard = s.net.wire.filter((d) => d.fromPort === 5000);
  assert.ok(fromBoard.length >= 5, `${fromBoard.length} datagrams in 7 s at one a second`);
  for (const d of fromBoard) assert.equal([d.to, d.port], ['192.168.1.20', GW_PORT]);
  // The first datagram, byte by byte: raw MAC [dst][src], the service byte, then the telemetry frame.
  const d0 = fromBoard[0].bytes;
  assert.equal(Array.from(d0.subarray(0, 5)), [0xff, 0xff, 0x03, 0x01, SVC_TELEMETRY]);
  assert.ok(s.readings.length >= 5);
  assert.equal(s.readings.map((r) => (r.value as { n: number }).n), s.readings.map((_, i) => i + 1), 'readings in order, none lost');
  for (const r of s.readings) {
    assert.equal([r.src, r.macSrc, r.dst], [0x0301, 0x0301, 0xffff]);
    assert.is((r.value as { f: number }).f, 12000);
  }
});

test('a Wi-Fi error is printed with the SSID and attempt, retried later, and the board comes up', () => {
  const s = setup(['Bad password', 'silent', null]);
  const node = create(s.builtins);
  s.clock.runUntil(60_000_000);
  assert.is(node.wifi(), 'up');
  assert.is(s.wifi.connects.length, 3);
  const log = s.printed.join('\n');
  assert.match(log, /Wi-Fi "lab" attempt 1 of 6 failed: Bad password; again in 2 s/);
  assert.match(log, /Wi-Fi "lab" attempt 2 of 6 failed: no connection after 20 s .*; again in 4 s/);
  const at = s.wifi.connects.map((c) => c.at);
  assert.ok(at[1] - at[0] >= 2_000_000 && at[2] - at[1] >= 20_000_000 + 4_000_000, `attempts at ${at}`);
  assert.ok(s.readings.length > 0, 'readings flow once up');
});

test('Wi-Fi that never comes up: bounded retries, then a message saying what to check; nothing sent', () => {
  const s = setup(['silent', 'Bad password', 'silent', 'silent', 'Bad password', 'silent', null, null]);
  const node = create(s.builtins);
  s.clock.runUntil(3_600_000_000);
  assert.is(node.wifi(), 'failed');
  assert.is(s.wifi.connects.length, 6, 'six attempts, no more');
  assert.is(s.wifi.disconnects, 1);
  assert.match(s.printed[s.printed.length - 1], /Wi-Fi "lab" failed 6 times .*giving up: check ssid and password in picolink\.json/);
  assert.is(node.link, null);
  assert.is(s.net.wire.length, 0);
});

test('a lost connection is reconnected; the same socket carries on', () => {
  const s = setup([null, null]);
  const node = create(s.builtins);
  s.clock.runUntil(5_000_000);
  const link = node.link;
  assert.ok(link);
  s.wifi.onDisconnected!({ reason: 'beacon_timeout' });
  assert.is(node.wifi(), 'down');
  assert.match(s.printed.join('\n'), /Wi-Fi "lab" lost \(beacon_timeout\); reconnecting/);
  s.clock.runUntil(15_000_000);
  assert.is(node.wifi(), 'up');
  assert.is(s.wifi.connects.length, 2);
  assert.is(node.link, link);
});

test('the request-reply server answers OP_ECHO and OP_INFO', () => {
  const s = setup([null]);
  create(s.builtins);
  s.clock.runUntil(5_000_000);
  const client = rr({ mac: s.gwPorts.port(SVC_RR), clock: s.clock, rng: xoshiro(5) });
  const got: [number, unknown][] = [];
  assert.is(client.call(0x0301, OP_ECHO, { hi: [1, 2] }, null, (err, r) => got.push([err, r])), RR_OK);
  s.clock.runUntil(6_000_000);
  assert.is(client.call(0x0301, OP_INFO, null, null, (err, r) => got.push([err, r])), RR_OK);
  s.clock.runUntil(7_000_000);
  assert.equal(got[0], [RR_OK, { hi: [1, 2] }]);
  assert.is(got[1][0], RR_OK);
  assert.is((got[1][1] as { runtime: string }).runtime, 'esp32');
});

test('a bad configuration names the field', () => {
  assert.throws(() => create(setup([], null).builtins), /no picolink\.json in Storage/);
  assert.throws(() => create(setup([], { ssid: '' }).builtins), /ssid is missing/);
  assert.throws(() => create(setup([], { addr: 0 }).builtins), /addr 0 is not a station address/);
  assert.throws(() => create(setup([], { peers: ['192.168.1.20'] }).builtins), /peer "192\.168\.1\.20" is not "ip:port"/);
});

test.run();

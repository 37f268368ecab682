// The johnny-five IO plugin (host/j5/picolink-io.ts) against plain request-reply, on simulated pins
// devices paced to the wall clock (host/sim/pins-net.ts, the 250 kbit/s CSMA/CA radio), measured in one
// run, once on the device network (the plugin on the host's own node) and once through a bridge (the
// simulated gateway's 115 200-baud serial line, the bridge's TCP front):
//   write+read   the plugin: digitalWrite(pin, v), then the digital-read event saying v (the pin is an
//                output, whose value the device reads back and reports: sampled every samplingMs, so
//                half a period on average is part of it);
//   reference    request-reply: an OP_DIGITAL_WRITE call then an OP_DIGITAL_READ call, each waiting
//                for its reply (on the device network the host's rr node; through the bridge, the
//                same TCP connection and envelope the plugin uses);
//   analog rate  analogRead reports received per second at samplingMs 20 (the specification's 50 Hz
//                floor) and 10 (the device's shortest period), over the requested rate.
// Median round trips in ms over --n pairs (default 40; --quick 10), alternating plugin and reference
// so drift hits both alike. Headline: the plugin's write+read over the reference's on the device
// network. No loss: this measures the path, not the recovery (the tests cover loss).
import type { BenchResult, BenchRow } from './run.ts';
import { PicolinkIO } from '../host/j5/picolink-io.ts';
import { bridgeLink } from '../host/j5/links.ts';
import type { PinsLink } from '../host/j5/links.ts';
import { pinsBridge, pinsNet } from '../host/sim/pins-net.ts';
import type { PinsNet } from '../host/sim/pins-net.ts';
import { MODE_OUTPUT, OP_DIGITAL_READ, OP_DIGITAL_WRITE, OP_PIN_MODE } from '../firmware/services/pins.ts';

const PIN = 7;

function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

function ready(io: PicolinkIO): Promise<void> {
  return new Promise((resolve, reject) => {
    io.once('ready', resolve);
    io.once('error', reject);
  });
}

function event(io: PicolinkIO, name: string, want: number, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      io.off(name, on);
      reject(new Error(`bench j5: no ${name} = ${want} within ${ms} ms`));
    }, ms);
    const on = (v: number): void => {
      if (v !== want) return;
      clearTimeout(t);
      io.off(name, on);
      resolve();
    };
    io.on(name, on);
  });
}

interface Path {
  plugin: number[];
  reference: number[];
  rate20: number;
  rate10: number;
}

async function measure(net: PinsNet, io: PicolinkIO, call: (op: number, args: unknown) => Promise<unknown>, n: number, rateMs: number): Promise<Path> {
  await ready(io);
  await call(OP_PIN_MODE, [PIN, MODE_OUTPUT]);
  io.pinMode(PIN, io.MODES.OUTPUT);
  io.digitalWrite(PIN, 0);
  io.digitalRead(PIN);
  await event(io, `digital-read-${PIN}`, 0);
  const plugin: number[] = [];
  const reference: number[] = [];
  let v = 0;
  for (let i = 0; i < n; i++) {
    v ^= 1;
    let t = performance.now();
    const seen = event(io, `digital-read-${PIN}`, v);
    io.digitalWrite(PIN, v);
    await seen;
    plugin.push(performance.now() - t);
    v ^= 1;
    // The plugin's view catches up before the next round (its report may come before the read's reply).
    const caught = event(io, `digital-read-${PIN}`, v);
    t = performance.now();
    await call(OP_DIGITAL_WRITE, [PIN, v]);
    const r = await call(OP_DIGITAL_READ, PIN);
    reference.push(performance.now() - t);
    if (r !== v) throw new Error(`bench j5: the device read ${String(r)} after writing ${v}`);
    await caught;
  }
  io.reportDigitalPin(PIN, 0);
  const rate = async (ms: number): Promise<number> => {
    io.setSamplingInterval(ms);
    let count = 0;
    const on = (): void => { count++; };
    io.analogRead('A0', on);
    await new Promise((r) => setTimeout(r, 300)); // the report request reaches the device
    count = 0;
    const t = performance.now();
    await new Promise((r) => setTimeout(r, rateMs));
    const got = count / ((performance.now() - t) / 1000);
    io.off('analog-read-14', on);
    return got;
  };
  const rate20 = await rate(20);
  const rate10 = await rate(10);
  await io.close();
  void net;
  return { plugin, reference, rate20, rate10 };
}

export async function bench(args: string[]): Promise<BenchResult> {
  const quick = args.includes('--quick');
  const n = Number(arg(args, 'n') ?? (quick ? 10 : 40));
  const rateMs = quick ? 1000 : 3000;

  const direct = pinsNet({ seed: 1 });
  let d: Path;
  try {
    const io = new PicolinkIO({ device: direct.ids[0], bridge: direct.rr });
    d = await measure(direct, io, (op, a) => direct.rr.call(direct.ids[0], op, a), n, rateMs);
  } finally {
    await direct.stop();
  }

  const bridged = await pinsBridge({ seed: 1 });
  let b: Path;
  let ref: PinsLink | null = null;
  try {
    const io = new PicolinkIO({ device: bridged.names[0], bridge: bridged.address });
    ref = bridgeLink(bridged.address);
    await ref.open(bridged.ids[0]);
    const link = ref;
    b = await measure(bridged, io, (op, a) => link.call(op, a), n, rateMs);
  } finally {
    await ref?.close();
    await bridged.stop();
  }

  const rows: BenchRow[] = [
    { name: 'direct plugin write+read', value: median(d.plugin), unit: 'ms', note: `median of ${n}, samplingMs 20` },
    { name: 'direct rr write+read', value: median(d.reference), unit: 'ms', note: 'OP_DIGITAL_WRITE then OP_DIGITAL_READ' },
    { name: 'direct analog reports 20ms', value: d.rate20, unit: '/s', note: `${(d.rate20 / 50).toFixed(2)} of 50/s` },
    { name: 'direct analog reports 10ms', value: d.rate10, unit: '/s', note: `${(d.rate10 / 100).toFixed(2)} of 100/s` },
    { name: 'bridge plugin write+read', value: median(b.plugin), unit: 'ms', note: 'TCP, bridge, 115200-baud tunnel, radio' },
    { name: 'bridge rr write+read', value: median(b.reference), unit: 'ms', note: 'the same two calls as bridge envelopes' },
    { name: 'bridge analog reports 20ms', value: b.rate20, unit: '/s', note: `${(b.rate20 / 50).toFixed(2)} of 50/s` },
    { name: 'bridge analog reports 10ms', value: b.rate10, unit: '/s', note: `${(b.rate10 / 100).toFixed(2)} of 100/s` },
  ];
  const ratio = median(d.plugin) / median(d.reference);
  return {
    name: 'j5',
    rows,
    headline: { label: 'plugin digitalWrite+digital-read over rr write+read calls, on the device network (ratio)', ratio },
    json: {
      name: 'j5',
      direct: { pluginMs: median(d.plugin), rrMs: median(d.reference), ratio, analogPerS20: d.rate20, analogPerS10: d.rate10 },
      bridge: { pluginMs: median(b.plugin), rrMs: median(b.reference), ratio: median(b.plugin) / median(b.reference), analogPerS20: b.rate20, analogPerS10: b.rate10 },
      n,
    },
  };
}

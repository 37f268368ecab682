import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rollup } from 'rollup';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { boardBundles, boardConfig, boardFiles } from '../../rollup.config.js';
import type { BundleReport } from '../../host/build/rollup-plugin.ts';
import { demo } from '../../host/sim/demo.ts';
import { tunnelNet } from '../../host/sim/tunnel-net.ts';
import { scheduler } from '../../hal/sim/scheduler.ts';
import { wire } from '../../hal/sim/wire.ts';
import { framedLink } from '../../hal/framing/link.ts';
import { xoshiro } from '../../hal/prng.ts';
import { tunnelMac } from '../../firmware/mac/tunnel.ts';
import { macPorts, SVC_RR } from '../../firmware/mac/ports.ts';
import { RR_OK, rr } from '../../firmware/rr/rr.ts';
import { PROTO_RRA } from '../../firmware/rr/frame.ts';
import { OP_COUNT } from '../../boards/sim.ts';
import type { SimDevice, SimEnv } from '../../boards/sim.ts';

const root = resolve(import.meta.dirname, '../..');

async function build(file: string, hoistFuns = true, bundle?: string): Promise<{ code: string; report: BundleReport }> {
  let report: BundleReport | null = null;
  const cfg = await boardConfig(file, (r: BundleReport) => (report = r), { hoistFuns, bundle });
  const b = await rollup({ ...cfg, output: undefined });
  try {
    const out = await b.generate(cfg.output);
    return { code: out.output[0].code, report: report! };
  } finally {
    await b.close();
  }
}

const built: Record<string, { code: string; report: BundleReport }> = {};

test('every bundle (each board\'s, and its role bundles) builds, passes the Espruino language check and fits its byte budget', async () => {
  const files = boardFiles();
  for (const f of files) for (const b of await boardBundles(f)) {
    const r = await build(f, true, b.name);
    assert.is(r.report.board, b.name);
    built[r.report.board] = r;
    assert.is(r.report.problems, 0);
    assert.ok(r.report.bytes <= r.report.budgetBytes, `${r.report.board}: ${r.report.bytes} > ${r.report.budgetBytes}`);
    if (r.report.runtime === 'espruino') assert.ok(r.code.startsWith('var picolink='), `${b.name}: the bundle defines the picolink global`);
    else {
      // Edge and host boards: an ES module exporting the board and create(), importing only the runtime's built-ins.
      assert.match(r.code, /\nexport \{[^}]*\bboard\b[^}]*\bcreate\b[^}]*\};?\s*$/, `${b.name}: an ES module exporting board and create`);
      const imports = [...r.code.matchAll(/^import .* from ['"]([^'"]+)['"];?$/gm)].map((m) => m[1]);
      assert.ok(imports.every((i) => i.startsWith('node:')), `${b.name} imports ${imports.join(', ')}`);
      if (r.report.runtime === 'deno') assert.equal(imports, [], `${b.name}: Deno runs it without Node's modules`);
    }
  }
  assert.ok(files.length >= 2, 'at least the simulator board and one real board');
});

// A throwaway board in a temp folder; `body` goes into create().
async function badBoard(name: string, top: string, body: string, hoistFuns = true): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-board-'));
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, `export const board = { name: '${name}', title: 't', jsvars: 0, budgetBytes: 100000, mtu: 32, radio: 'none', roles: [], autostart: false };
${top}
export function create(a: any) { ${body} }
`);
  try {
    await build(file, hoistFuns);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

test('the gate fails a bundle that uses spread, Map, async, or a call before definition', async () => {
  assert.match(await badBoard('spread', '', 'return Math.max(...a);'), /spread/);
  assert.match(await badBoard('map', '', 'const m = new Map(); m.set(1, a); return m;'), /Map/);
  assert.match(await badBoard('async', '', 'return (async () => { await a; return 1; })();'), /async/);
  // terser's hoist_funs moves function declarations up (Espruino does not hoist them), which hides
  // this mistake in real builds; build once without it to show the gate sees the call before definition.
  const hoist = 'export const table = build((globalThis as any).n);\n' +
    'function build(n: number) { const t = []; for (let i = 0; i < n; i++) t.push(i * 3); return t; }';
  assert.match(await badBoard('hoist', hoist, 'return build(a).concat(table);', false), /hoisting: build|hoisting: \w+ is used before its definition/);
  assert.is(await badBoard('hoisted', hoist, 'return build(a).concat(table);'), '', 'with hoist_funs terser moves the function up');
  assert.is(await badBoard('clean', '', 'const b = new Uint8Array(4); for (const x of b) a.push(x ?? 0); return b;'), '');
});

test('a board for Deno or Node skips the language gate, not the byte budget', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-board-'));
  const board = (name: string, budget: number) => {
    const file = join(dir, `${name}.ts`);
    writeFileSync(file, `export const board = { name: '${name}', title: 't', jsvars: 0, budgetBytes: ${budget}, mtu: 1200, radio: 'udp', roles: [], autostart: false, runtime: 'deno' };
export function create(a: any) { const m = new Map([[1, a]]); return (async () => Math.max(...[1, 2], m.size, a?.b ?? 0))(); }\n`);
    return file;
  };
  const ok = await build(board('modern', 100000));
  assert.is(ok.report.runtime, 'deno');
  assert.is(ok.report.problems, 0, 'spread, Map, async and ?. pass under Deno');
  assert.match(ok.code, /async \(\) =>/, 'modern syntax kept: no ES5 lowering');
  const err = await build(board('modern-fat', 100)).then(() => '', (e: Error) => e.message);
  assert.match(err, /over its budget of 100 bytes/);
});

test('the gate fails a bundle over its byte budget', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-board-'));
  const file = join(dir, 'fat.ts');
  writeFileSync(file, `export const board = { name: 'fat', title: 't', jsvars: 0, budgetBytes: 200, mtu: 32, radio: 'none', roles: [], autostart: false };
export function create() { return ${JSON.stringify('x'.repeat(400))}; }\n`);
  const err = await build(file).then(() => '', (e: Error) => e.message);
  assert.match(err, /over its budget of 200 bytes/);
});

test('the minified sim bundle runs the demo exactly as the source does (same trace)', () => {
  const code = built.sim?.code;
  assert.ok(code, 'sim bundle built above');
  // Evaluate in this realm (a vm context would give the bundle other Object and Uint8Array intrinsics,
  // and the CBOR encoder rightly refuses objects of a foreign realm).
  const picolink = new Function(`${code}\nreturn picolink;`)() as { create: (e: SimEnv) => SimDevice };
  const fromBundle = picolink.create;
  assert.type(fromBundle, 'function');
  const a = demo({ seed: 9, create: fromBundle });
  a.runUntil(3_000_000);
  const b = demo({ seed: 9 });
  b.runUntil(3_000_000);
  assert.ok(a.summary().host.decoded > 30);
  assert.is(a.summary().traceSha256, b.summary().traceSha256);
});

/** Four OP_COUNT calls from a host through a tunnel gateway to two sensors: their outcomes. */
function tunnelCalls(create?: (e: SimEnv) => SimDevice, createSensor?: (e: SimEnv) => SimDevice): unknown[] {
  const sched = scheduler();
  const line = wire(sched, { baud: 115_200 });
  const n = tunnelNet({ seed: 4, serial: line.a, sched, create, createSensor });
  const mac = tunnelMac(framedLink(line.b, { mtu: 64, clock: sched }));
  mac.hello();
  sched.runUntil(50_000);
  const r = rr({ mac: macPorts(mac).port(SVC_RR), clock: sched, rng: xoshiro(1) });
  const got: unknown[] = [];
  for (let i = 0; i < 4; i++) sched.after(100_000 * i, () => r.call(n.sensorIds[i % 2], OP_COUNT, null, { proto: PROTO_RRA }, (e, v) => got.push([e, v])));
  sched.runUntil(3_000_000);
  return got;
}

test('the minified sim bundle\'s tunnel gateway serves a host as the source does', () => {
  const picolink = new Function(`${built.sim!.code}\nreturn picolink;`)() as { create: (e: SimEnv) => SimDevice };
  const fromBundle = tunnelCalls(picolink.create);
  assert.equal(fromBundle, [[RR_OK, 1], [RR_OK, 1], [RR_OK, 2], [RR_OK, 2]]);
  assert.equal(fromBundle, tunnelCalls());
});

test('role bundles: a tunnel gateway and sensors each from their own bundle serve a host as the sources do', () => {
  const load = (name: string): ((e: SimEnv) => SimDevice) => (new Function(`${built[name]!.code}\nreturn picolink;`)() as { create: (e: SimEnv) => SimDevice }).create;
  const gw = load('sim-gateway');
  const sensor = load('sim-sensor');
  assert.ok(built['sim-gateway']!.code.length * 4 < built.sim!.code.length, 'the gateway bundle carries a fraction of the code');
  assert.not.ok(built['sim-gateway']!.code.includes('cannot open the conversation'), 'no Psync in the gateway bundle');
  const fromBundles = tunnelCalls(gw, sensor);
  assert.equal(fromBundles, [[RR_OK, 1], [RR_OK, 1], [RR_OK, 2], [RR_OK, 2]]);
  assert.equal(fromBundles, tunnelCalls());
  // A role left out of a bundle is refused by name, not run half-built.
  const sched = scheduler();
  const line = wire(sched, { baud: 115_200 });
  const radio = framedLink(line.a, { mtu: 32, clock: sched });
  assert.throws(() => gw({ role: 'sensor', id: 2, radio, clock: sched, rng: xoshiro(1) }), /this bundle has no role "sensor"/);
  assert.throws(() => sensor({ role: 'wearable', id: 3, radio, clock: sched, rng: xoshiro(1) }), /this bundle has no role "wearable"|unknown role/);
});

test.run();

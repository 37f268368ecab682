// Footprint of every board bundle (issue "Boards and runtimes", Measure): each board's bundles, its
// main one and its role bundles (boards/<board>.ts `bundles`), minified and gzipped against the byte
// budget, and, where an Espruino interpreter is named by ESPRUINO (or `espruino` is on PATH), the
// JsVars resident after loading the bundle (process.memory().usage before and after, on Espruino's
// Linux build), and after create() of the bundle's role with stand-in drivers (sim: a link that takes
// every frame, a clock that never fires; pico-nrf24: built-ins whose SPI answers zeros), the stand-ins'
// own JsVars measured apart and taken off: the tables a device allocates at creation count there. For
// a board with JsVars (a real one), the share of them left to the application. Boards whose runtime
// is deno or node are not Espruino bundles: their JsVars are not measured.
//
// What a bundle costs in JsVars, from Espruino's sources (2v29) and measured on its Linux build:
// - A function's code. jspeFunctionDefinition (src/jsparse.c, via jspeFunctionDefinitionInternal) stores
//   the text between the braces as the function's "\xFFcod" child (JSPARSE_FUNCTION_CODE_NAME) each
//   time a function expression or declaration is evaluated: so a factory's inner functions are stored
//   again at every call of the factory. Where that text comes from decides the cost:
//   (a) typed in, or sent as text (the source is a RAM string): jslNewStringFromLexer copies the code
//       into RAM strings, every character of every function, whitespace and comments included;
//   (b) run from Storage: `picolink flash` writes the bundle to .bootcde and calls load(); at start
//       jsfLoadBootCodeFromFlash (src/jsflash.c) reads it with jsfReadFile -> jsvAddressToVar, which on
//       a board with memory-mapped flash (a Pico's STM32) is a native string (jsvNewNativeString), and
//       on SPI flash (Bangle.js; and the Linux build, compiled with SPIFLASH_BASE=0 "for testing flash
//       strings", jshFlashGetMemMapAddress returning 0) a flash string (jsvNewFlashString, read through
//       jshFlashRead). jspEvaluateVar then lexes from that string, and jspeFunctionDefinition stores
//       each function's code as one JsVar pointing into flash (jsvNewNativeString/jsvNewFlashString on
//       lex->sourceVar's pointer), whatever its length. Storage.read (src/jswrap_storage.c) returns the
//       same kind of string, so eval(require('Storage').read(f)) and require of a module in Storage
//       behave alike. So the Linux build measures (b) as a board runs it, though through a flash string
//       rather than a native one (one JsVar either way);
//   (c) pretokenised (E.setFlags({pretokenise:1}), or "ram" at the start of a function): only applies
//       when the source is in RAM (the native/flash branches come first): jslNewTokenisedStringFromLexer
//       (src/jslex.c) stores the code minified with reserved words as one-byte tokens, still a copy per
//       evaluation. A minified bundle gains little from it; running from Storage gains everything.
//   Measured (from Storage, trace()): every function object is 5 JsVars (its name in the enclosing
//   scope, the Function, "\xFFcod" and its flash string, "\xFFsco" naming the scope it closes over),
//   and a factory call keeps its whole scope (every local: a name each, values beside) as long as one
//   of its functions lives. So create() pays 5 JsVars per inner function and method of every object it
//   builds: this, not code text, is what create() adds when the bundle runs from Storage (the node:
//   where they go, below). As text it adds more: each of those functions' code again,
//   per creation. The floor this sets: about 5 JsVars per function the running node instantiates.
// - Scope depth. The "\xFFsco" of a function is the scope it closes over when there is one, but a copied
//   array of them when there are two or more (jspeiGetScopesAsVar, src/jsparse.c): an array and a name
//   per scope. A bundle is an IIFE (var picolink=function(e){...}({})), so a factory's closures are
//   already two deep; a factory terser inlines into its caller as an IIFE adds a third (/* @__NOINLINE__ */
//   at each factory call, in the board's create() and inside csma, ports and the piconet slave: the
//   node with its role created 3 643 -> 3 522 JsVars, the slave 1 536 -> 1 529, though the factories,
//   now functions of their own, add 84 and 73 of that at loading; not in rr.ts, where a board that
//   inlines rr() (esp32) then got a temporary `var` declared after its use), and a measurement that wraps the bundle in a function of its own adds one more
//   (so bundles are run as they are flashed: bench/size.ts jsvarsOf). The bundle's own IIFE costs the node
//   514 JsVars of create() and 38 of loading (measured with it removed: 3 523 -> 2 971); leaving it
//   out would put the bundle's minified names in the global scope, where an application's own
//   globals would meet them: a choice for the bundle format (rollup.config.js), not made here.
// - Tables. A typed array of its own costs a name, the view, its ArrayBuffer and the buffer's string
//   (small: one JsVar; larger: a flat string, one JsVar per block) - about 8 JsVars for a one-element
//   table once its index and value names are counted; a view on a shared ArrayBuffer about 4; a plain
//   number local 1. An object is one JsVar plus one per property (a name holding a small value).
//   Measured from Storage: four 2-element typed arrays 19 JsVars, one of 8 elements the same as four
//   of 2 (7 vs 19 for Float64Arrays); a table of several fields as one typed array with a column per
//   field (firmware/rr/rr.ts, csma's duplicate cache) saves about 4 JsVars per field and no bytes.
//   Table sizes matter less: request-reply at PICO_RR against every table of 1: 54 JsVars; CSMA/CA at
//   CSMA_NRF24 against queue and cache of 1: 11.
// - Names. A name holds JSVAR_DATA_STRING_NAME_LEN characters in its JsVar (src/jsutils.h): 8 on the
//   64-bit Linux build, 4 on a 32-bit board such as the Pico; longer ones take further JsVars. A Pico
//   block is 13 bytes (JSVARREF_BITS 13 for 5 100 JsVars) against the Linux build's 27 (process.memory
//   ().blocksize): strings and flat buffers take about twice the JsVars there. Figures measured on the
//   Linux build therefore understate a Pico's, most for long property names and buffers.
// Where the full node's JsVars go (pico-nrf24-node, PICO_RR and PICO_PSYNC, from Storage as flashed;
// rows "  <part>" below, made by nodeAccount): create() 2 955, of which Psync 1 477 (101 function
// objects: 69 of psync(), 32 of its graph image), CSMA/CA 505 (41 functions: 32 of its own, its frame
// queue's 7, its group set's 2), request-reply 408 (25: server 16, client 9), the nRF24 driver 182 (10),
// service ports 91 and 57 per port (4 functions each; two ports), clock 74 (5), rng 17; the board's
// own 88. About 200 function objects in all: 1 000 JsVars at 5 each before their scopes. Then
// loading: 555 (every top-level function and constant table of the bundle).
// What the slave and node were before and after this accounting's changes (same Psync; as flashed):
//   slave 19 024 -> 17 885 bytes, 8 503 -> 8 147 gzipped, JsVars loaded 353 -> 404, with create()
//   1 649 -> 1 529; node 44 275 -> 44 177 bytes, 17 530 -> 17 621 gzipped, loaded 457 -> 546, with
//   create() 3 758 -> 3 522 (the factories no longer inlined are loaded as functions of their own).
//   What did it: RR_RAW for the slave's server (no CBOR decoder: 1 100 bytes); the nRF24 driver's
//   set-up writes kept only when asked (62 JsVars on each); tables as one typed array per table
//   (rr: 41-55 JsVars, csma 7, ports 2); NOINLINE factories (node 121, slave 7).
// What the targets would take: the node's 800 JsVars are less than Psync's 1 477 alone and less than
// its 200 function objects (1 000): only fewer function objects reach it, e.g. each module one
// dispatch function instead of an object of methods (the contracts' shape), and the IIFE gone (514).
// Its 12 KB is less than Psync's 20 KB of source alone (psync, graph, frame). The slave's 6 KB: the
// piconet slave 4.4 KB, the request-reply server 4.1 KB and the nRF24 driver 2.6 KB are 11 KB before
// the board, the clock and the frames; a slave that answers only RR with at-least-once semantics (no
// reply history, no park, no SCO) might reach 8-9 KB.
// What pays, measured on the full node (bytes; JsVars with its role created, from Storage): views on
// one ArrayBuffer for the Psync graph image's 19 tables saved 32 JsVars in the image, which the
// allocator's own functions and queue took back (the node +2), and cost 300 bytes (dropped); two shared 16-bit read/write helpers in psync/frame.ts saved 92
// bytes and cost 21 JsVars (dropped). Bytes and JsVars pull apart at that scale: a helper function
// costs 5 JsVars (about 65 bytes of a Pico's RAM) to save its callers' repeated code in flash.
// Columns: jsvars / jsvarsCreated measure the bundle run from Storage (.bootcde and load(), as flashed);
// jsvarsText / jsvarsCreatedText the same bundle evaluated as text (as typed into the REPL).
//
// Targets (the issue's): a full node (CSMA/CA, request-reply, Psync: pico-nrf24-node) at most 12 KB
// minified; a piconet slave with request-reply (pico-nrf24-slave) at most 6 KB; resident at most 800
// JsVars for the full node. Headline: the full node's bytes over its 12 KB target. Where the full
// node's bytes go: each module as tree-shaken into its bundle, minified alone (breakdown below).
// --json: {"bundles":[{"board","role","bytes","gzipBytes","budget","jsvars","jsvarsCreated","jsvarsText",
// "jsvarsCreatedText","boardJsvars"}],"breakdown":{"bundle","modules":[{"module","bytes"}]},
// "account":[{"part","jsvars"}]} (account: with an interpreter; its first entry is create(node)).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import type { OutputChunk, Plugin } from 'rollup';
import { minify } from 'terser';
import type { BenchResult, BenchRow } from './run.ts';
import { findEspruino } from '../host/sim/espruino-linux.ts';
import { jsvarsOf } from './size.ts';
import { boardBundles, boardConfig, boardFiles, terserOptions } from '../rollup.config.js';

/** The issue's targets. */
const FULL_NODE_BYTES = 12 * 1024;
const SLAVE_BYTES = 6 * 1024;
const FULL_NODE_JSVARS = 800;
/** The bundles measured against those targets. */
const FULL_NODE = 'pico-nrf24-node';
const SLAVE = 'pico-nrf24-slave';

/** Stand-in drivers for create() on the interpreter: plain JavaScript Espruino runs. */
const STUBS = `var clk = { now: function () { return 0; }, at: function () { return 0; }, cancel: function () {} };
function lk() { return { caps: { mtu: 32, bitrate: 250000, medium: 'radio', carrierSense: true, broadcast: true }, send: function () { return true; }, onReceive: function () {}, onSent: function () {}, busy: function () { return false; } }; }
var rng = { u32: function () { return 7; } };
`;

/** Fake Espruino built-ins a Pico-with-nRF24 board's create() reads: an SPI that answers zeros, pins that do nothing. */
const PICO_STUBS = `var g = { getSerial: function () { return '33FFD9054D4E383423761743'; },
  E: { getTemperature: function () { return 24; }, getAnalogVRef: function () { return 3.3; } }, process: process,
  SPI2: { setup: function () {}, send: function (d) { return new Uint8Array(d.length); } },
  digitalWrite: function () {}, setWatch: function () { return 1; }, B13: 0, B14: 0, B15: 0, B10: 0, B1: 0, A8: 0,
  USB: { setConsole: function () {}, setup: function () {}, on: function () {}, write: function () {} }, LoopbackA: { setConsole: function () {} } };
`;
/** The role each Pico-with-nRF24 role bundle starts in. */
const PICO_ROLES: Record<string, string> = { sensor: 'sensor', tunnel: 'gateway', slave: 'slave', node: 'node' };

/**
 * The create() of a bundle's role on the interpreter: `stubs` (stand-in drivers, whose own JsVars are
 * measured apart and taken off) and `call`; null for a bundle measured only loaded.
 */
function createFor(board: string, roles: string[] | null): { role: string; stubs: string; call: string } | null {
  if (board === 'pico-nrf24') {
    if (!roles || !PICO_ROLES[roles[0]]) return null;
    const r = PICO_ROLES[roles[0]];
    return { role: r === 'node' ? 'node (full node)' : r, stubs: PICO_STUBS, call: `var dev = p.create(g, '${r}');` };
  }
  if (board !== 'sim') return null;
  if (roles && roles.includes('tunnel')) return { role: 'gateway (tunnel)', stubs: STUBS, call: `var dev = p.create({ role: 'gateway', tunnel: true, id: 1, radio: lk(), uplink: lk(), clock: clk, rng: rng });` };
  // A sensor with everything a full node runs: CSMA/CA, request-reply, telemetry and a conversation.
  return { role: 'sensor (full node)', stubs: STUBS, call: `var dev = p.create({ role: 'sensor', id: 2, radio: lk(), clock: clk, rng: rng, conversation: [2, 3, 4] });` };
}

/** The minified code of bundle `name` of a board file, as built (autostart) or without its create() call. */
async function bundleCode(file: string, name: string, autostart: boolean): Promise<string> {
  const cfg = await boardConfig(file, undefined, { bundle: name, autostart });
  const r = await rollup({ ...cfg, output: undefined });
  try {
    return (await r.generate(cfg.output)).output[0].code;
  } finally {
    await r.close();
  }
}

/**
 * Where a bundle's bytes go: each module of bundle `name` (as tree-shaken into it, rollup's rendered
 * code per module) minified on its own with the build's terser settings, except that unused top-level
 * names are kept (alone, a module's exports look unused). The sum comes within a few per cent of the
 * bundle: what is left is the wrapper, and names mangled shorter across modules. Largest first.
 */
export async function breakdown(file: string, name: string): Promise<{ module: string; bytes: number }[]> {
  const cfg = await boardConfig(file, undefined, { bundle: name, autostart: false });
  // Without the language and budget gate (it sees the unminified code) and without terser.
  const plugins = (cfg.plugins as Plugin[]).filter((p) => p && p.name !== 'picolink-espruino-gate');
  const r = await rollup({ ...cfg, plugins, output: undefined });
  let chunk: OutputChunk;
  try {
    chunk = (await r.generate({ ...cfg.output, plugins: [] })).output[0];
  } finally {
    await r.close();
  }
  const t = terserOptions(true);
  const opts = { ...t, toplevel: false, compress: { ...(t.compress as object), toplevel: false }, mangle: { toplevel: true } };
  const out: { module: string; bytes: number }[] = [];
  for (const [id, m] of Object.entries(chunk.modules)) {
    if (!m.code) continue;
    const min = await minify(m.code, opts);
    const root = resolve(import.meta.dirname, '..') + '/';
    out.push({ module: id.startsWith(root) ? id.slice(root.length) : id.replace(/^\0/, ''), bytes: Buffer.byteLength(min.code ?? '') });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/**
 * Where the full node's JsVars go: create() of the Pico node first (the total, built-ins Espruino makes
 * on first use included), then its parts made again one by one, in the order create() makes them
 * (boards/pico-nrf24.ts), each part's JsVars (process.memory().usage before and after, the part kept
 * alive), from Storage on the interpreter `bin`. The total's excess over the parts is the board's own:
 * its scope, objects and handlers, and those first-use built-ins. Null when the program did not run.
 */
export async function nodeAccount(bin: string): Promise<{ part: string; jsvars: number }[] | null> {
  const root = resolve(import.meta.dirname, '..');
  const entry = `
import { espruinoClock } from '${root}/hal/espruino/clock.ts';
import { espruinoRng } from '${root}/hal/espruino/rng.ts';
import { nrf24 } from '${root}/hal/espruino/nrf24.ts';
import { csma } from '${root}/firmware/mac/csma/csma.ts';
import { CSMA_NRF24 } from '${root}/firmware/mac/csma/config.ts';
import { macPorts, SVC_PSYNC, SVC_RR } from '${root}/firmware/mac/ports.ts';
import { rr } from '${root}/firmware/rr/rr.ts';
import { psync } from '${root}/firmware/psync/psync.ts';
import { PICO_PSYNC, PICO_RR, create } from '${root}/boards/pico-nrf24.ts';
declare const process: { memory(): { usage: number } }, print: (s: string) => void, E: { reboot(): void };
const keep: unknown[] = [];
let m = 0;
const step = (part: string, x: unknown): void => { keep.push(x); const u = process.memory().usage; print('@' + part + '=' + (u - m)); m = process.memory().usage; };
${PICO_STUBS.replace('var g =', 'const g: any =').replace(/,\s*USB:[^\n]*\n/, ' };\n')}
m = process.memory().usage;
const dev = create(g, 'node'); step('create(node)', dev);
const clock = espruinoClock(); step('clock', clock);
const rng = espruinoRng(); step('rng', rng);
const radio = nrf24({ spi: g.SPI2, pins: { digitalWrite: g.digitalWrite, setWatch: g.setWatch }, csn: 0, ce: 0, irq: 0, clock: clock, channel: 76, bitrate: 250000 }); step('nRF24 driver', radio);
const mac = csma({ link: radio, clock: clock, rng: rng, addr: 2, config: CSMA_NRF24 }); step('CSMA/CA', mac);
const ports = macPorts(mac); step('service ports', ports);
const p1 = ports.port(SVC_RR); step('port SVC_RR', p1);
const nr = rr({ mac: p1, clock: clock, rng: rng, config: PICO_RR }); step('request-reply (PICO_RR)', nr);
const pp = ports.port(SVC_PSYNC); step('port SVC_PSYNC', pp);
const ps = psync({ mac: { caps: { mtu: 24, carrierSense: true }, addr: pp.addr, send: pp.send, onReceive: pp.onReceive, onSent: pp.onSent, queued: pp.queued }, clock: clock, rng: rng, config: PICO_PSYNC });
ps.passiveOpen(); step('Psync (PICO_PSYNC)', ps);
E.reboot();
`;
  const out = await build({ stdin: { contents: entry, resolveDir: root, loader: 'ts' }, bundle: true, format: 'iife', target: 'es2017', write: false, logLevel: 'silent' });
  const code = (await minify(out.outputFiles[0].text, terserOptions(true))).code ?? '';
  const dir = mkdtempSync(join(tmpdir(), 'picolink-account-'));
  writeFileSync(join(dir, 'boot.js'), code);
  writeFileSync(join(dir, 'b.js'), `require('Storage').write('.bootcde', require('fs').readFileSync(${JSON.stringify(join(dir, 'boot.js'))}));\nload();\n`);
  const r = spawnSync(bin, [join(dir, 'b.js')], { encoding: 'utf8', timeout: 30_000, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  rmSync(dir, { recursive: true, force: true });
  const parts = [...r.stdout.matchAll(/^@([^=\n]+)=(-?\d+)/gm)].map((x) => ({ part: x[1], jsvars: Number(x[2]) }));
  return parts.length === 10 ? parts : null;
}

interface Row { board: string; role: string; bytes: number; gzipBytes: number; budget: number; jsvars: number | null; jsvarsCreated: number | null; jsvarsText: number | null; jsvarsCreatedText: number | null; boardJsvars: number | null; espruino: boolean }

/** JsVars of a bundle loaded, and with its role created (stand-ins taken off), run `from` Storage or as text. */
function measure(bin: string, name: string, inert: string, cr: { stubs: string; call: string } | null, from: 'storage' | 'text'): [number, number | null] {
  const loaded = jsvarsOf(bin, inert, '', from);
  if (loaded === null) throw new Error(`footprint: ${name} did not load on Espruino (${bin}, from ${from})`);
  if (!cr) return [loaded, null];
  const all = jsvarsOf(bin, inert, cr.stubs + cr.call, from);
  const stubs = jsvarsOf(bin, 'var picolink = {};', cr.stubs, from);
  if (all === null || stubs === null) throw new Error(`footprint: ${name}: create() failed on Espruino (${bin}, from ${from})`);
  return [loaded, all - stubs];
}

export async function bench(): Promise<BenchResult> {
  const bin = findEspruino();
  const out: Row[] = [];
  const files = new Map<string, string>();
  const json: { breakdown?: { bundle: string; modules: { module: string; bytes: number }[] }; account?: { part: string; jsvars: number }[] } = {};
  for (const file of boardFiles()) {
    const { board } = await import(file);
    const espruino = (board.runtime ?? 'espruino') === 'espruino';
    for (const b of await boardBundles(file)) {
      files.set(b.name, file);
      const code = await bundleCode(file, b.name, true);
      const cr = createFor(board.name, b.roles);
      const role = cr ? (b.roles ? cr.role : 'every role') : b.roles ? b.roles.join(', ') : 'every role';
      let jsvars: number | null = null;
      let jsvarsCreated: number | null = null;
      let jsvarsText: number | null = null;
      let jsvarsCreatedText: number | null = null;
      if (bin && espruino) {
        // Loaded without a self-starting board's create() call, which would reach for its hardware.
        const inert = board.autostart ? await bundleCode(file, b.name, false) : code;
        [jsvars, jsvarsCreated] = measure(bin, b.name, inert, cr, 'storage');
        [jsvarsText, jsvarsCreatedText] = measure(bin, b.name, inert, cr, 'text');
      }
      out.push({ board: b.name, role, bytes: Buffer.byteLength(code), gzipBytes: gzipSync(code).length, budget: b.budgetBytes, jsvars, jsvarsCreated, jsvarsText, jsvarsCreatedText, boardJsvars: board.jsvars || null, espruino });
    }
  }
  const rows: BenchRow[] = [];
  for (const x of out) {
    rows.push({ name: `${x.board} bytes`, value: x.bytes, unit: 'bytes', note: `${x.role}; ${((100 * x.bytes) / x.budget).toFixed(0)}% of ${x.budget} budget, ${x.gzipBytes} gzipped` });
    if (!x.espruino) rows.push({ name: `${x.board} JsVars`, value: 0, unit: '-', note: 'not measured: not an Espruino bundle' });
    else if (x.jsvars !== null) {
      const left = x.boardJsvars ? `, ${(100 * (1 - (x.jsvarsCreated ?? x.jsvars) / x.boardJsvars)).toFixed(0)}% of the board's ${x.boardJsvars} left` : '';
      const text = `; as text ${x.jsvarsText}${x.jsvarsCreatedText !== null ? ` and ${x.jsvarsCreatedText}` : ''}`;
      rows.push({ name: `${x.board} JsVars`, value: x.jsvars, unit: 'JsVars', note: `loaded from Storage${x.jsvarsCreated !== null ? `; ${x.jsvarsCreated} with its role created` : ''}${left}${text}` });
    }
  }
  if (!bin) rows.push({ name: 'JsVars', value: 0, unit: '-', note: 'not measured: set ESPRUINO to an Espruino interpreter (its Linux build)' });
  // The full node and the slave: the Pico's role bundles when the board declares them.
  const full = out.find((x) => x.board === FULL_NODE) ?? out.find((x) => x.board === 'sim-sensor');
  const slave = out.find((x) => x.board === SLAVE);
  if (full) {
    const parts = await breakdown(files.get(full.board)!, full.board);
    const sum = parts.reduce((a, m) => a + m.bytes, 0);
    for (const m of parts) rows.push({ name: `  ${m.module}`, value: m.bytes, unit: 'bytes', note: `${((100 * m.bytes) / sum).toFixed(1)}% of ${full.board}, modules minified alone (${sum} bytes in all)` });
    rows.push({ name: 'full node / 12 KB target', value: full.bytes / FULL_NODE_BYTES, unit: 'x', note: `${full.board}: ${full.role}` });
    const jv = full.jsvarsCreated ?? full.jsvars;
    if (jv !== null) rows.push({ name: 'full node / 800 JsVars', value: jv / FULL_NODE_JSVARS, unit: 'x', note: `${full.jsvarsCreated !== null ? 'resident with its role created' : 'resident after loading'}, run from Storage (as text: ${full.jsvarsCreatedText ?? full.jsvarsText})` });
    if (slave) rows.push({ name: 'piconet slave + RR / 6 KB', value: slave.bytes / SLAVE_BYTES, unit: 'x', note: `${slave.board}: ${slave.role}` });
    else rows.push({ name: 'piconet slave + RR / 6 KB', value: 0, unit: '-', note: `no such bundle (target ${SLAVE_BYTES} bytes)` });
    json.breakdown = { bundle: full.board, modules: parts };
    const acc = bin && full.board === FULL_NODE ? await nodeAccount(bin) : null;
    if (acc) {
      const total = acc[0].jsvars;
      const sum = acc.slice(1).reduce((a, x) => a + x.jsvars, 0);
      for (const x of acc.slice(1)) rows.push({ name: `  ${x.part}`, value: x.jsvars, unit: 'JsVars', note: `${((100 * x.jsvars) / total).toFixed(0)}% of the node's create() (${total}), made alone` });
      rows.push({ name: '  the board\'s own', value: total - sum, unit: 'JsVars', note: 'create() less its parts: its scope, objects and handlers, and built-ins Espruino makes on first use' });
      json.account = acc;
    }
  }
  return {
    name: 'footprint',
    rows,
    headline: { label: 'full node bytes / its 12 KB target', ratio: full ? full.bytes / FULL_NODE_BYTES : 0 },
    json: { bundles: out.map((x) => ({ board: x.board, role: x.role, bytes: x.bytes, gzipBytes: x.gzipBytes, budget: x.budget, jsvars: x.jsvars, jsvarsCreated: x.jsvarsCreated, jsvarsText: x.jsvarsText, jsvarsCreatedText: x.jsvarsCreatedText, boardJsvars: x.boardJsvars })), ...json },
  };
}

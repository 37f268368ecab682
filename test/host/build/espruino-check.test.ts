// Tests for the Espruino language check (host/build/espruino-check.ts) and its command line (check-cli.ts):
// each forbidden construct in a snippet, clean code, scope-aware built-ins, the load-time order check, and
// real rollup + esbuild (es2017) + terser iife bundles.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RULES, checkEspruino } from '../../../host/build/espruino-check.ts';
import type { Problem } from '../../../host/build/espruino-check.ts';

const root = resolve(import.meta.dirname, '../../..');

function show(ps: Problem[]): string {
  return ps.map((p) => `${p.line}:${p.column} ${p.rule} ${p.message}`).join('\n') || '(none)';
}

// ---------- forbidden constructs: [label, code on line 2, rule] ----------

const BAD: [string, string, string][] = [
  ['spread call', 'f(...a);', 'spread'],
  ['array spread', 'var x = [...a, 1];', 'spread'],
  ['object spread', 'var o = { ...p, a: 1 };', 'spread'],
  ['rest param', 'function f(a, ...r) { return r; }', 'rest'],
  ['destructuring let', 'let { a, b } = o;', 'destructuring'],
  ['destructuring array const', 'const [x, y] = pair;', 'destructuring'],
  ['destructuring param', 'function f({ a }) { return a; }', 'destructuring'],
  ['destructuring arrow param', 'var f = ([a, b]) => a + b;', 'destructuring'],
  ['destructuring catch', 'try { g(); } catch ({ message }) { log(message); }', 'destructuring'],
  ['destructuring for-of', 'for (const [k, v] of pairs) log(k, v);', 'destructuring'],
  ['destructuring assignment', '[a, b] = [b, a];', 'destructuring'],
  ['default param', 'function f(a, b = 2) { return a + b; }', 'default-param'],
  ['optional member', 'var v = o?.a;', 'optional-chaining'],
  ['optional call', 'o.f?.();', 'optional-chaining'],
  ['exponent', 'var p = x ** 2;', 'exponent'],
  ['exponent assign', 'x **= 2;', 'exponent'],
  ['nullish assign', 'o.a ??= 1;', 'logical-assign'],
  ['or assign', 'o.a ||= 1;', 'logical-assign'],
  ['and assign', 'o.a &&= 1;', 'logical-assign'],
  ['async function', 'async function f() { return 1; }', 'async'],
  ['async arrow', 'var f = async () => 1;', 'async'],
  ['await', 'async function f() { var x = await g(); return x; }', 'async'],
  ['generator', 'function* gen() { yield 1; }', 'generator'],
  ['tagged template', 'var s = tag`a${b}`;', 'tagged-template'],
  ['String.raw', 'var s = String.raw`a\\nb`;', 'tagged-template'],
  ['computed key', 'var o = { [k]: 1 };', 'computed-key'],
  ['computed class member', 'class A { [k]() { return 1; } }', 'computed-key'],
  ['private field', 'class A { #x = 1; get() { return this.#x; } }', 'private-name'],
  ['new.target', 'function F() { return new.target; }', 'meta-property'],
  ['labelled loop', 'outer: for (;;) { for (;;) { break outer; } }', 'label'],
  ['array hole', 'var a = [1, , 3];', 'array-hole'],
  ['BigInt literal', 'var n = 10n;', 'bigint'],
  ['static block', 'class A { static { init(); } }', 'static-block'],
  ['new Map', 'var m = new Map();', 'builtin'],
  ['Set', 'var s = new Set([1, 2]);', 'builtin'],
  ['WeakMap', 'var w = new WeakMap();', 'builtin'],
  ['Symbol', 'var it = obj[Symbol.iterator];', 'builtin'],
  ['BigInt()', 'var n = BigInt(5);', 'builtin'],
  ['globalThis.Map', 'var M = globalThis.Map;', 'builtin'],
  ['Math.imul', 'var h = Math.imul(a, 31);', 'builtin'],
  ['Math.trunc', 'var t = Math.trunc(x);', 'builtin'],
  ['Array.from', 'var a = Array.from(s);', 'builtin'],
  ['Array.of', 'var a = Array.of(1, 2);', 'builtin'],
  ['Uint8Array.from', 'var u = Uint8Array.from([1, 2]);', 'builtin'],
  ['Float32Array.of', 'var f = Float32Array.of(1);', 'builtin'],
  ['Object.freeze', 'var c = Object.freeze({ a: 1 });', 'builtin'],
  ['Object.is', 'var same = Object.is(a, b);', 'builtin'],
  ['Promise.race', 'Promise.race([p, q]).then(done);', 'builtin'],
  ['Promise.allSettled', 'Promise.allSettled([p]).then(done);', 'builtin'],
  ['Number.isInteger', 'var ok = Number.isInteger(x);', 'builtin'],
  ['Number.MAX_SAFE_INTEGER', 'var big = Number.MAX_SAFE_INTEGER;', 'builtin'],
  ['ArrayBuffer.isView', 'var v = ArrayBuffer.isView(x);', 'builtin'],
  ['RangeError', 'throw new RangeError("bad length");', 'builtin'],
  ['TextEncoder', 'var b = new TextEncoder().encode(s);', 'builtin'],
  ['class extends Error', 'class Bad extends Error { constructor(m) { super(m); } }', 'extends-builtin'],
  ['class extends Uint8Array', 'class Buf extends Uint8Array {}', 'extends-builtin'],
  ['Array.prototype.slice', 'var a = Array.prototype.slice.call(arguments, 1);', 'prototype-method'],
  ['Object.prototype.hasOwnProperty', 'var own = Object.prototype.hasOwnProperty.call(o, k);', 'prototype-method'],
  ['__spreadArray call', 'var a = __spreadArray([], b, true);', 'helper'],
  ['__awaiter declared', 'var __awaiter = function () { return 1; };', 'helper'],
  ['Promise finally', 'p.then(ok).finally(done);', 'missing-method'],
  ['Array flat', 'var f = nested.flat();', 'missing-method'],
  ['trimStart', 'var t = s.trimStart();', 'missing-method'],
  ['ArrayBuffer slice', 'var b = new ArrayBuffer(8); var c = b.slice(2);', 'missing-method'],
  ['buffer.slice', 'var c = u8.buffer.slice(0, 4);', 'missing-method'],
  ['array length', 'queue.length = 0;', 'array-length'],
  ['JSON replacer', 'var j = JSON.stringify(o, ["a"]);', 'json-replacer'],
  ['Math.pow 2^32', 'var m = Math.pow(2, 32);', 'math-pow'],
  ['loop closure', 'for (let i = 0; i < 3; i++) fns.push(function () { return i; });', 'loop-closure'],
  ['for-of closure', 'for (const x of xs) setTimeout(() => use(x), 1);', 'loop-closure'],
];

for (const [label, code, rule] of BAD) {
  test(`flags ${label} as ${rule}`, () => {
    const ps = checkEspruino(`var first = 1;\n${code}\n`, { hoisting: false });
    const hit = ps.find((p) => p.rule === rule);
    assert.ok(hit, `expected rule ${rule}, got:\n${show(ps)}`);
    assert.is(hit!.line, 2, 'reported on the line of the construct');
    assert.ok(hit!.column >= 1 && hit!.column <= code.length, `column ${hit!.column} inside the line`);
    assert.ok(hit!.message.length > 20, 'message says what to do');
    assert.ok(rule in RULES, `rule ${rule} is documented in RULES`);
  });
}

test('each problem points at the construct itself', () => {
  const code = 'var a = 1;\nvar b = f(x, ...ys);';
  const [p] = checkEspruino(code);
  assert.ok(p, 'one problem');
  assert.is(code.split('\n')[p!.line - 1]!.slice(p!.column - 1, p!.column + 2), '...');
});

// ---------- clean code ----------

const CLEAN = `
"use strict";
const MTU = 64;
const F = { TYPE: 0, SEQ: 1, HDR: 2 };
class Ring {
  constructor(size) { this.buf = new Uint8Array(size); this.head = 0; }
  static of2() { return new Ring(2); }
  get size() { return this.head; }
  push(b) { if (this.head >= this.buf.length) return false; this.buf[this.head++] = b; return true; }
}
class Counted extends Ring { constructor() { super(MTU); this.count = 0; } push(b) { this.count++; return super.push(b); } }
function parseHdr(buf, len) {
  if (len < F.HDR) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  return { type: dv.getUint8(F.TYPE), seq: buf[F.SEQ] ?? 0 };
}
const describe = (h) => \`frame \${h.type}/\${h.seq}\`;
function sum(buf) { let s = 0; for (const b of buf) s = (s + b) & 0xff; return s; }
function args() { return [].slice.call(arguments, 1); }
const ring = new Counted();
ring.push(1);
const h = parseHdr(new Uint8Array([1, 2, 3]), 3);
const copy = Object.assign({}, h, { ok: true });
const keys = Object.keys(copy).filter((k) => k !== 'ok');
new Promise((res) => res(sum(ring.buf))).then((s) => describe({ type: s, seq: keys.length })).catch(() => 0);
try { JSON.parse('{'); } catch { args(1, 2); }
setTimeout(() => later(), 10);
function later() { return /a+b/g.test('aab') && Array.isArray(keys) && 'x'.padStart(3, '0'); }
var exported = { MTU, ring, describe, later, m() { return later(); } };
`;

test('clean ES2017 code with classes, arrows, templates, ??, for-of and typed arrays passes', () => {
  const ps = checkEspruino(CLEAN);
  assert.equal(ps, [], show(ps));
});

// ---------- scope: only the global built-in is flagged ----------

const LOCALS: [string, string][] = [
  ['parameter named Map', 'function f(Map) { return new Map(); }'],
  ['var named Map', 'var Map = function () {}; var m = new Map();'],
  ['const Set in an IIFE', '(function () { const Set = []; Set.push(1); })();'],
  ['class named Symbol in a block', '{ class Symbol {} new Symbol(); }'],
  ['catch param named Map', 'try { g(); } catch (Map) { new Map(); }'],
  ['local Math', 'function f(Math) { return Math.imul(1, 2); }'],
  ['local Array prototype', 'function f(Array) { return Array.prototype.slice; }'],
  ['property named Map', 'var o = { Map: 1 }; var v = o.Map; o.Set = 2;'],
  ['typeof guard', 'var has = typeof Map !== "undefined";'],
  ['local Error class', 'function f(Error) { class E extends Error {} return E; }'],
  ['names of Object.prototype members', 'var s = n.toString(16) + o.constructor.name; var v = valueOf; o.hasOwnProperty("a"); Object.constructor;'],
];
for (const [label, code] of LOCALS) {
  test(`does not flag ${label}`, () => {
    const ps = checkEspruino(code);
    assert.equal(ps, [], show(ps));
  });
}

test('a minifier-style bundle with a local named Map passes, the same with the global fails', () => {
  const local = 'var lib=function(e){"use strict";function Map(t){this.t=t}return e.m=new Map(1),e}({});';
  assert.equal(checkEspruino(local), []);
  const global = 'var lib=function(e){"use strict";return e.m=new Map,e}({});';
  assert.equal(checkEspruino(global).map((p) => p.rule), ['builtin']);
});

// ---------- load-time order (no hoisting) ----------

const HOIST_BAD: [string, string, string][] = [
  ['call before definition at top level', 'f();\nfunction f() {}', 'f'],
  ['var read before definition', 'log(cfg);\nvar cfg = 1;', 'cfg'],
  ['call inside an IIFE body', 'var lib = (function (exports) {\n  init();\n  function init() {}\n  return exports;\n})({});', 'init'],
  ['IIFE body using a later outer function', '(function () { later(); })();\nfunction later() {}', 'later'],
  ['arrow IIFE', '(() => later())();\nfunction later() {}', 'later'],
  ['negated IIFE with .call', '!function () { later(); }.call(this);\nfunction later() {}', 'later'],
  ['minified iife body', 'var lib=function(e){"use strict";return e.x=n(),e;function n(){return 1}}({});', 'n'],
  ['transitive: a defined early calls b defined after the call', 'function a() { return b(); }\na();\nfunction b() { return 1; }', 'b'],
  ['two levels', 'function a() { return b(); }\nfunction b() { return c; }\na();\nvar c = 1;', 'c'],
  ['new C() runs the constructor', 'class C { constructor() { this.v = h(); } }\nnew C();\nfunction h() { return 1; }', 'h'],
  ['new C() runs field initialisers', 'class C { v = h(); }\nvar c = new C();\nfunction h() { return 1; }', 'h'],
  ['new D() runs the superclass constructor', 'class B { constructor() { h(); } }\nclass D extends B {}\nnew D();\nfunction h() {}', 'h'],
  ['static field initialiser runs at definition', 'class C { static v = h(); }\nfunction h() { return 1; }', 'h'],
  ['class used before its declaration', 'var c = new C();\nclass C {}', 'C'],
  ['forEach callback runs now', '[1, 2].forEach(function (x) { later(x); });\nfunction later(x) {}', 'later'],
  ['forEach of a named function', 'function each(x) { later(x); }\n[1].forEach(each);\nfunction later(x) {}', 'later'],
  ['order inside a function body', 'function f() {\n  g();\n  function g() {}\n}', 'g'],
  ['f.call(...) runs f', 'function a() { b(); }\na.call(null);\nfunction b() {}', 'b'],
];
for (const [label, code, name] of HOIST_BAD) {
  test(`hoisting: flags ${label}`, () => {
    const ps = checkEspruino(code).filter((p) => p.rule === 'hoisting');
    assert.ok(ps.length >= 1, `expected a hoisting problem, got:\n${show(checkEspruino(code))}`);
    assert.ok(ps.some((p) => p.message.includes(name)), `names ${name}:\n${show(ps)}`);
  });
}

test('hoisting: the transitive case reports the call site, the binding and where it is defined', () => {
  const code = 'function a() { return b(); }\nvar x = a();\nfunction b() { return 1; }';
  const ps = checkEspruino(code);
  assert.is(ps.length, 1, show(ps));
  const p = ps[0]!;
  assert.is(p.rule, 'hoisting');
  assert.is(p.line, 2, 'the call site a()');
  assert.is(p.column, 9);
  assert.match(p.message, /a\(\)/);
  assert.match(p.message, /\bb\b/);
  assert.match(p.message, /3:10/, 'where b is defined');
});

const HOIST_OK: [string, string][] = [
  ['setTimeout callback referencing a later function', 'setTimeout(function () { later(); }, 1);\nfunction later() {}'],
  ['arrow callback', 'var t = setInterval(() => later(), 5);\nfunction later() {}'],
  ['method bodies', 'var o = { m() { return later(); } };\nclass K { run() { return later(); } }\nfunction later() {}'],
  ['nested closure not invoked', 'function make() { return function () { return later(); }; }\nvar f = make();\nfunction later() {}'],
  ['definition before use', 'function a() { return b(); }\nfunction b() { return 1; }\na();'],
  ['promise then callback', 'Promise.resolve(1).then(function () { later(); });\nfunction later() {}'],
  ['mutual recursion defined before use', 'function a(n) { return n ? b(n - 1) : 0; }\nfunction b(n) { return a(n); }\na(3);'],
  ['self reference in var initialiser', 'var s = (function (e) { return e; })(s || {});'],
  ['typeof of a later binding', 'var has = typeof later;\nfunction later() {}'],
  ['class method calling later code', 'class C { m() { return h(); } }\nnew C().constructor;\nfunction h() {}'],
];
for (const [label, code] of HOIST_OK) {
  test(`hoisting: does not flag ${label}`, () => {
    const ps = checkEspruino(code);
    assert.equal(ps, [], show(ps));
  });
}

test('loop closure: a closure called at once, or built by a helper, is not flagged', () => {
  const code = 'for (let i = 0; i < 3; i++) { xs.forEach((x) => x + i); mk(i); }\nfor (var j = 0; j < 3; j++) fns.push(() => j);';
  const ps = checkEspruino(code);
  assert.equal(ps, [], show(ps));
});

// ---------- options, parse errors ----------

test('options: hoisting off, extra forbidden names, ignored rules', () => {
  const code = 'f(new Proxy({}, {}), Reflect.ownKeys(o), new Map());\nfunction f() {}';
  const rules = (o?: Parameters<typeof checkEspruino>[1]) => checkEspruino(code, o).map((p) => p.rule).sort();
  assert.equal(rules(), ['builtin', 'hoisting']);
  assert.equal(rules({ hoisting: false }), ['builtin']);
  assert.equal(rules({ forbid: ['Proxy', 'Reflect.ownKeys'] }), ['builtin', 'builtin', 'builtin', 'hoisting']);
  assert.equal(rules({ ignore: ['builtin'] }), ['hoisting']);
});

test('a parse error is one problem, not an exception', () => {
  const ps = checkEspruino('var a = 1;\nvar b = (;\n');
  assert.is(ps.length, 1);
  assert.is(ps[0]!.rule, 'parse');
  assert.is(ps[0]!.line, 2);
  assert.is(ps[0]!.column, 10);
});

test('never throws on arbitrary text', () => {
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => Array.isArray(checkEspruino(s))), { seed: 42, numRuns: 500 });
  const pieces = ['function f(){', '}', 'f();', 'var x=', '1;', '[...a]', 'class C{', 'new C();', 'for(let i of a){', '(()=>{', '})();', '{', 'g(x);'];
  fc.assert(fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), (parts) => {
    const ps = checkEspruino(parts.join('\n'));
    return ps.every((p) => p.line >= 1 && p.column >= 1 && p.rule in RULES);
  }), { seed: 42, numRuns: 500 });
});

// ---------- real bundles: rollup + esbuild (es2017) + terser, format iife ----------

const LIB = `
export const MTU = 64;
const F = { TYPE: 0, SEQ: 1, HDR: 2 };
export interface Hdr { type: number; seq: number }
export class Ring {
  buf = new Uint8Array(MTU);
  head = 0;
  static readonly SIZE = MTU;
  push(b: number): boolean { if (this.head >= this.buf.length) return false; this.buf[this.head++] = b; return true; }
  get size(): number { return this.head; }
}
class Base { constructor(public n: number) {} }
export class Sized extends Base { constructor() { super(MTU); } }
export function parseHdr(buf: Uint8Array, len: number): Hdr | null {
  if (len < F.HDR) return null;
  return { type: buf[F.TYPE] ?? 0, seq: buf[F.SEQ] ?? 0 };
}
export function sum(buf: Uint8Array): number { let s = 0; for (const b of buf) s = (s + b) & 0xff; return s; }
export const describe = (h: Hdr): string => \`frame \${h.type}/\${h.seq}\`;
export const ring = new Ring();
ring.push(sum(new Uint8Array([1, 2])));
`;

async function bundle(dir: string, name: string, source: string): Promise<string> {
  const { rollup } = await import('rollup');
  const esbuild = (await import('rollup-plugin-esbuild')).default;
  const terser = (await import('@rollup/plugin-terser')).default;
  const input = join(dir, name);
  writeFileSync(input, source);
  const b = await rollup({ input, plugins: [esbuild({ target: 'es2017', tsconfig: false })], logLevel: 'silent' });
  const { output } = await b.generate({ format: 'iife', name: 'lib', plugins: [terser()] });
  await b.close();
  return output[0].code;
}

test('a real minified iife bundle: clean code passes, [...a] fails', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'espruino-check-'));
  try {
    const clean = await bundle(dir, 'clean.ts', LIB);
    assert.ok(clean.startsWith('var lib='), 'iife output');
    assert.ok(clean.length < LIB.length, 'minified');
    assert.ok(clean.includes('class '), 'native classes kept at es2017');
    const ps = checkEspruino(clean);
    assert.equal(ps, [], `${show(ps)}\n${clean}`);

    const spread = await bundle(dir, 'spread.ts', LIB + 'export function grow(a: number[]): number[] { return [...a, MTU]; }\n');
    assert.ok(spread.includes('...'), 'es2017 keeps array spread');
    const bad = checkEspruino(spread);
    assert.equal(bad.map((p) => p.rule), ['spread'], show(bad));
    assert.is(spread.slice(bad[0]!.column - 1, bad[0]!.column + 2), '...');

    // Rollup keeps source order, so a module that calls a function declared below it fails on the board.
    const body = 'export function init(): number { setTimeout(init, 10); return Date.now(); }\n';
    const late = await bundle(dir, 'late.ts', 'export const v = init();\n' + body);
    const lateProblems = checkEspruino(late);
    assert.equal(lateProblems.map((p) => p.rule), ['hoisting'], `${show(lateProblems)}\n${late}`);
    const early = await bundle(dir, 'early.ts', body + 'export const v = init();\n');
    assert.equal(checkEspruino(early), [], early);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------- command line ----------

test('check-cli prints file:line:col rule message and sets the exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'espruino-check-cli-'));
  try {
    const good = join(dir, 'good.js');
    const bad = join(dir, 'bad.js');
    writeFileSync(good, 'var a = [1, 2].concat([3]);\n');
    writeFileSync(bad, 'var a = 1;\nvar b = [...a];\n');
    const run = (...files: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'host/build/check-cli.ts', ...files], { cwd: root, encoding: 'utf8' });
    const ok = run(good);
    assert.is(ok.status, 0, ok.stderr);
    assert.is(ok.stdout, '');
    const fail = run(good, bad);
    assert.is(fail.status, 1, fail.stderr);
    const lines = fail.stdout.trim().split('\n');
    assert.is(lines.length, 1);
    assert.ok(lines[0]!.startsWith(`${bad}:2:10 spread `), lines[0]);
    assert.is(run().status, 2, 'usage error without files');
    // An ES module (the deno-edge and node-host bundles) is named as skipped, not failed: the README's
    // `check-cli.ts dist/*.js` passes on a clean build.
    const esm = join(dir, 'esm.js');
    writeFileSync(esm, 'const a = [...[1]];\nexport { a };\n');
    const mixed = run(good, esm);
    assert.is(mixed.status, 0, mixed.stderr);
    assert.match(mixed.stderr, /esm\.js: an ES module .* skipped/);
    assert.match(mixed.stderr, /1 file\(s\), no problems; 1 ES module\(s\) skipped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

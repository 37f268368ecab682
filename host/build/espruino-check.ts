// Checks that a board bundle only uses the JavaScript Espruino 2v29 runs: parses the emitted code and
// rejects the syntax, built-ins and declaration order listed in the Espruino language notes and probe table.
//
// Three passes over the acorn tree: (1) build scopes, record declarations and references, flag syntax;
// (2) resolve references, so only the global `Map` is flagged and a minifier's local `Map` is not;
// (3) replay what runs at load time (top level, IIFE bodies, functions they call by name, `new C()`) and
// flag a use of a binding whose declaration has not run yet: Espruino hoists neither functions nor var.

import { parse } from 'acorn';
import type {
  AnyNode, CallExpression, Class, Function as FnNode, Identifier, MemberExpression, NewExpression, Pattern, Program,
} from 'acorn';

export interface Problem {
  /** Rule name, e.g. 'spread', 'builtin', 'hoisting'; see RULES. */
  rule: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** What is wrong and what to write instead. */
  message: string;
}

export interface CheckOptions {
  /** Replay load-time execution and flag uses before definition (default true). */
  hoisting?: boolean;
  /** More forbidden names: a global ('Proxy') or a static member ('Math.fround'). */
  forbid?: string[];
  /** Rule names to leave out of the result. */
  ignore?: string[];
}

/** Every rule the checker can report, with what it covers (probe-table row numbers in brackets). */
export const RULES: Record<string, string> = {
  parse: 'the file is not valid JavaScript',
  spread: 'spread in calls, array and object literals [26-28]',
  rest: 'rest parameters [29]',
  'default-param': 'default parameter values [30, 31]',
  destructuring: 'object and array patterns anywhere [18-25, 35, 122]',
  'optional-chaining': '?. ?.() ?.[] [83-85]',
  exponent: '** and **= [89, 90]',
  'logical-assign': '??= ||= &&= [87, 88]',
  generator: 'function* and yield [52]',
  async: 'async functions, await, for await [49-51]',
  'tagged-template': 'tagged templates, String.raw`` [17, 82]',
  'computed-key': 'computed keys in object literals and classes [77, 163]',
  'private-name': '#private fields and methods [136]',
  'meta-property': 'new.target, import.meta [117]',
  label: 'labelled statements [93, 94]',
  'array-hole': 'elisions in array literals (language notes)',
  bigint: 'BigInt literals [91]',
  'static-block': 'class static blocks (not probed; ES2022 class syntax beyond what was measured)',
  import: 'dynamic import() (Espruino has no module loader for it)',
  using: 'using declarations (not probed; ES2026)',
  builtin: 'missing globals and static members [34, 37-41, 45, 47, 54, 59, 60, 65-68, 73, 92, 98, 101-103, 118, 119, 159]',
  'prototype-method': 'methods read off a built-in prototype object [130]',
  'missing-method': 'instance methods Espruino lacks: finally, flat, flatMap, trimStart, trimEnd, codePointAt, ArrayBuffer slice [46, 59, 68, 80, 81]',
  'extends-builtin': 'class extends Error or a typed array [13, 14, 133]',
  helper: 'compiler helpers that lower syntax Espruino lacks (__spreadArray, __awaiter, ...)',
  hoisting: 'a binding used at load time before its declaration has run (language notes)',
  'loop-closure': 'a closure capturing a let/const loop variable sees only the last value [2]',
  'array-length': 'assigning .length throws [154]',
  'json-replacer': 'JSON.stringify ignores a replacer [100]',
  'math-pow': 'Math.pow is inexact for integer exponents of 10 and more (language notes)',
};

// ---------- tables ----------

const GLOBALS = new Map<string, string>(Object.entries({
  Map: 'Map is not defined on Espruino; use a plain object keyed by string (Object.create(null)) or parallel arrays',
  Set: 'Set is not defined on Espruino; use an object of keys or an array with indexOf/includes',
  WeakMap: 'WeakMap is not defined on Espruino; keep the data in a field of the object itself',
  WeakSet: 'WeakSet is not defined on Espruino; mark the object with a field instead',
  Symbol: 'Symbol is not defined on Espruino; use string property names, and for-of only over arrays, strings and typed arrays',
  BigInt: 'BigInt is not defined on Espruino; use two 32-bit numbers or bytes in a Uint8Array',
  RangeError: 'RangeError is not defined on Espruino; throw new Error(...) or TypeError, or return an error code',
  TextEncoder: 'TextEncoder is undefined on Espruino; use E.toUint8Array(str) (or charCodeAt in a loop for UTF-8)',
  TextDecoder: 'TextDecoder is undefined on Espruino (not probed, TextEncoder is missing); use E.toString(bytes)',
}));

const MEMBERS = new Map<string, string>(Object.entries({
  'Math.imul': 'Math.imul is missing; multiply 16-bit halves: ((((a >>> 16) * b) << 16) + (a & 0xffff) * b) | 0',
  'Math.clz32': 'Math.clz32 is missing; count with shifts in a loop or a small table',
  'Math.trunc': 'Math.trunc is missing; use x | 0 for 32-bit values, else (x < 0 ? Math.ceil(x) : Math.floor(x))',
  'Math.log2': 'Math.log2 is missing; use Math.log(x) / Math.LN2 (rounded if an integer is expected) or shifts',
  'Math.hypot': 'Math.hypot is missing; use Math.sqrt(x * x + y * y)',
  'ArrayBuffer.isView': 'ArrayBuffer.isView is missing; test x.buffer instanceof ArrayBuffer',
  'Array.from': 'Array.from is missing; allocate an array and fill it in a loop, or [].slice.call(arrayLike)',
  'Array.of': 'Array.of is missing; write an array literal',
  'Object.freeze': 'Object.freeze is missing; drop it (a constant is a convention on the board)',
  'Object.is': 'Object.is is missing; use === (and x !== x for NaN)',
  'Promise.race': 'Promise.race is missing; settle a new Promise from the first then() that fires',
  'Promise.allSettled': 'Promise.allSettled is missing; use Promise.all over promises mapped with .then(ok, err)',
  'Promise.any': 'Promise.any is missing; build it from new Promise and then()',
  'Number.isInteger': 'Number.isInteger is missing; use typeof x === "number" && Math.floor(x) === x',
  'Number.MAX_SAFE_INTEGER': 'Number.MAX_SAFE_INTEGER is missing; write the constant 9007199254740991',
  'Number.EPSILON': 'Number.EPSILON is missing; write the constant 2.220446049250313e-16',
}));
const TYPED_ARRAYS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array',
];
for (const t of TYPED_ARRAYS) {
  MEMBERS.set(t + '.from', `${t}.from is missing; use new ${t}(lengthOrArray) and set() or a loop`);
  MEMBERS.set(t + '.of', `${t}.of is missing; use new ${t}([a, b, ...])`);
}

const ERROR_TYPES = ['Error', 'TypeError', 'SyntaxError', 'ReferenceError', 'RangeError', 'EvalError', 'URIError'];

/** Instance methods Espruino lacks; only flagged when called, since the receiver's type is unknown. */
const INSTANCE = new Map<string, string>(Object.entries({
  finally: 'Promise.prototype.finally is missing; pass the same handler to then(f, f), or to then and catch',
  flat: 'Array.prototype.flat is missing; concat the parts in a loop',
  flatMap: 'Array.prototype.flatMap is missing; push the mapped parts in a loop',
  trimStart: 'String.prototype.trimStart is missing; use a regex replace(/^\\s+/, "")',
  trimEnd: 'String.prototype.trimEnd is missing; use a regex replace(/\\s+$/, "")',
  codePointAt: 'String.prototype.codePointAt is missing; use charCodeAt (and combine surrogates by hand)',
}));

/** Helpers emitted by tsc/tslib and esbuild to lower syntax or features Espruino lacks. */
const HELPERS = new Set([
  '__extends', '__assign', '__rest', '__awaiter', '__generator', '__values', '__read', '__spread', '__spreadArrays',
  '__spreadArray', '__await', '__asyncGenerator', '__asyncDelegator', '__asyncValues', '__makeTemplateObject',
  '__classPrivateFieldGet', '__classPrivateFieldSet', '__classPrivateFieldIn', '__importStar', '__importDefault',
  '__createBinding', '__decorate', '__esDecorate', '__spreadValues', '__spreadProps', '__objRest', '__async',
  '__forAwait', '__yieldStar', '__template', '__privateAdd', '__privateGet', '__privateSet', '__privateMethod',
  '__privateIn', '__knownSymbol', '__restKey',
]);

/** Array/string methods that call their function argument before returning (so its body runs now). */
const SYNC_CALLBACK = new Set([
  'forEach', 'map', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find', 'findIndex', 'sort', 'replace',
]);

// ---------- scopes ----------

interface Scope {
  parent: Scope | null;
  names: Map<string, Binding>;
  /** Function (or program) scope: where var goes. */
  fn: boolean;
  /** Function node for a function scope. */
  fnNode: AnyNode | null;
  /** The unit whose timeline runs this scope: the nearest non-immediate function, or the program. */
  owner: AnyNode;
  /** Set on the scope of a for/for-in/for-of head with let/const. */
  loop: AnyNode | null;
}

interface Binding {
  name: string;
  scope: Scope;
  id: Identifier;
  /** Source offset from which the binding exists at run time (-1: from scope entry, like a parameter). */
  defPos: number;
  /** Function or class node when the binding is known to hold one (calls by name run it). */
  unit: AnyNode | null;
  /** Holds an ArrayBuffer (new ArrayBuffer(...) or x.buffer), for the slice check. */
  buffer: boolean;
  /** let/const of a loop head. */
  loop: AnyNode | null;
}

interface Ref {
  id: Identifier;
  scope: Scope;
  binding: Binding | null;
  inTypeof: boolean;
}

/** An outer binding a unit uses when it runs: one example site, and the functions called on the way. */
interface Req {
  b: Binding;
  at: AnyNode;
  via: string[];
}

const isFn = (n: AnyNode | null | undefined): n is FnNode & AnyNode =>
  !!n && (n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression' || n.type === 'FunctionDeclaration');

function propName(m: MemberExpression): string | null {
  if (!m.computed && m.property.type === 'Identifier') return m.property.name;
  if (m.computed && m.property.type === 'Literal' && typeof m.property.value === 'string') return m.property.value;
  return null;
}

/** Child nodes in source order. */
function kids(n: AnyNode): AnyNode[] {
  const out: AnyNode[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k === 'loc' || k === 'range') continue;
    if (Array.isArray(v)) {
      for (const x of v) if (isNode(x)) out.push(x);
    } else if (isNode(v)) out.push(v);
  }
  return out.sort((a, b) => a.start - b.start);
}

function isNode(v: unknown): v is AnyNode {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string'
    && typeof (v as { start?: unknown }).start === 'number';
}

// ---------- the checker ----------

export function checkEspruino(code: string, opts: CheckOptions = {}): Problem[] {
  let program: Program;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'script', locations: true });
  } catch (e) {
    const loc = (e as { loc?: { line: number; column: number } }).loc;
    if (!(e instanceof SyntaxError) || !loc) throw e;
    return [{
      rule: 'parse', line: loc.line, column: loc.column + 1,
      message: `not valid JavaScript: ${e.message.replace(/ \(\d+:\d+\)$/, '')}; fix the source or the build so it emits plain JavaScript`,
    }];
  }

  const problems: Problem[] = [];
  const seen = new Set<string>();
  const ignore = new Set(opts.ignore ?? []);
  const extraGlobals = new Map<string, string>();
  const extraMembers = new Map<string, string>();
  for (const f of opts.forbid ?? []) {
    const msg = `${f} is forbidden in board code by the build`;
    if (f.includes('.')) extraMembers.set(f, msg); else extraGlobals.set(f, msg);
  }

  function report(rule: string, n: AnyNode, message: string): void {
    if (ignore.has(rule)) return;
    const key = `${rule}:${n.start}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const p = n.loc!.start;
    problems.push({ rule, line: p.line, column: p.column + 1, message });
  }

  // ----- pass 1: scopes, declarations, references, syntax -----

  const refs: Ref[] = [];
  const refOf = new Map<AnyNode, Ref>();
  const parentOf = new Map<AnyNode, AnyNode | null>();
  const immediate = new Set<AnyNode>();
  const writes = new Set<AnyNode>();
  const members: MemberExpression[] = [];
  const calls: (CallExpression | NewExpression)[] = [];
  const classes: (Class & AnyNode)[] = [];
  const units: AnyNode[] = [];

  function newScope(parent: Scope | null, fnNode: AnyNode | null, owner: AnyNode | null, loop: AnyNode | null): Scope {
    return {
      parent, names: new Map(), fn: fnNode !== null, fnNode,
      owner: owner ?? parent!.owner, loop,
    };
  }

  function varScope(s: Scope): Scope {
    let t = s;
    while (!t.fn) t = t.parent!;
    return t;
  }

  function declare(s: Scope, id: Identifier, kind: string, defPos: number, unit: AnyNode | null): Binding {
    if (HELPERS.has(id.name) && kind !== 'param') {
      report('helper', id, `compiler helper ${id.name} lowers syntax Espruino lacks; compile with target es2017 and write the code without that syntax`);
    }
    const old = s.names.get(id.name);
    if (old) {
      if (!old.unit) old.unit = unit;
      return old;
    }
    const b: Binding = {
      name: id.name, scope: s, id, defPos, unit, buffer: false,
      loop: s.loop && (kind === 'let' || kind === 'const') ? s.loop : null,
    };
    s.names.set(id.name, b);
    return b;
  }

  /** Declares the names of a binding pattern; its defaults and computed keys are visited as expressions. */
  function declarePattern(p: Pattern, target: Scope, kind: string, exprScope: Scope, top: boolean,
    init: AnyNode | null): void {
    switch (p.type) {
      case 'Identifier': {
        const b = declare(target, p, kind, kind === 'param' || kind === 'catch' ? -1 : p.start, null);
        if (init && top) {
          if (isFn(init) || init.type === 'ClassExpression') b.unit ??= init;
          if (isBufferExpr(init)) b.buffer = true;
        }
        return;
      }
      case 'ObjectPattern':
        if (top) report('destructuring', p, 'destructuring fails on Espruino; read each property into its own variable (const a = o.a)');
        for (const prop of p.properties) {
          parentOf.set(prop, p);
          if (prop.type === 'RestElement') declarePattern(prop.argument, target, kind, exprScope, false, null);
          else {
            if (prop.computed) visit(prop.key, exprScope, prop);
            declarePattern(prop.value, target, kind, exprScope, false, null);
          }
        }
        return;
      case 'ArrayPattern':
        if (top) report('destructuring', p, 'destructuring fails on Espruino; read each element into its own variable (const a = arr[0])');
        for (const el of p.elements) if (el) declarePattern(el, target, kind, exprScope, false, null);
        return;
      case 'AssignmentPattern':
        declarePattern(p.left, target, kind, exprScope, top, null);
        visit(p.right, exprScope, p);
        return;
      case 'RestElement':
        declarePattern(p.argument, target, kind, exprScope, false, null);
        return;
      case 'MemberExpression':
        visit(p, exprScope, null);
        return;
    }
  }

  function isBufferExpr(n: AnyNode): boolean {
    if (n.type === 'NewExpression') return n.callee.type === 'Identifier' && n.callee.name === 'ArrayBuffer';
    return n.type === 'MemberExpression' && propName(n) === 'buffer';
  }

  function visitFunction(f: FnNode & AnyNode, outer: Scope): void {
    if (f.generator) report('generator', f, 'generators (function*) are a syntax error on Espruino; write an object with a next() method or a callback loop');
    if (f.async) report('async', f, 'async functions fail on Espruino; return a Promise and chain .then()');
    const isImmediate = immediate.has(f);
    if (!isImmediate) units.push(f);
    const fs = newScope(outer, f, isImmediate ? outer.owner : f, null);
    if (f.type === 'FunctionExpression' && f.id) declare(fs, f.id, 'self', -1, f);
    for (const p of f.params) {
      parentOf.set(p, f);
      if (p.type === 'AssignmentPattern') {
        report('default-param', p, 'default parameters are a syntax error on Espruino; write if (x === undefined) x = ... in the body');
        declarePattern(p.left, fs, 'param', fs, true, null);
        visit(p.right, fs, p);
      } else if (p.type === 'RestElement') {
        report('rest', p, 'rest parameters are a syntax error on Espruino; read the extra arguments from `arguments` ([].slice.call(arguments, n))');
        declarePattern(p.argument, fs, 'param', fs, true, null);
      } else declarePattern(p, fs, 'param', fs, true, null);
    }
    if (f.body.type === 'BlockStatement') {
      parentOf.set(f.body, f);
      for (const st of f.body.body) visit(st, fs, f.body);
    } else visit(f.body, fs, f);
  }

  function visitClass(c: Class & AnyNode, s: Scope): void {
    classes.push(c);
    if (c.superClass) visit(c.superClass, s, c);
    const cs = newScope(s, null, null, null);
    if (c.type === 'ClassExpression' && c.id) declare(cs, c.id, 'self', -1, c);
    parentOf.set(c.body, c);
    for (const el of c.body.body) visit(el, cs, c.body);
  }

  function markImmediate(n: CallExpression | NewExpression): void {
    const callee = n.callee;
    if (isFn(callee as AnyNode)) immediate.add(callee as AnyNode);
    else if (callee.type === 'MemberExpression') {
      const name = propName(callee);
      if ((name === 'call' || name === 'apply') && isFn(callee.object as AnyNode)) immediate.add(callee.object as AnyNode);
      else if (name && SYNC_CALLBACK.has(name)) for (const a of n.arguments) if (isFn(a as AnyNode)) immediate.add(a as AnyNode);
    } else if (n.type === 'NewExpression' && callee.type === 'Identifier' && callee.name === 'Promise') {
      const a = n.arguments[0] as AnyNode | undefined;
      if (isFn(a)) immediate.add(a);
    }
  }

  function checkLengthWrite(target: AnyNode): void {
    if (target.type === 'MemberExpression' && propName(target) === 'length' && target.object.type !== 'ThisExpression') {
      report('array-length', target, 'assigning .length throws on Espruino (for arrays); truncate with arr.splice(n), or rename the field if this is not an array');
    }
  }

  function visit(n: AnyNode, s: Scope, parent: AnyNode | null): void {
    parentOf.set(n, parent);
    switch (n.type) {
      case 'Identifier': {
        const r: Ref = {
          id: n, scope: s, binding: null,
          inTypeof: parent !== null && parent.type === 'UnaryExpression' && parent.operator === 'typeof',
        };
        refs.push(r);
        refOf.set(n, r);
        return;
      }
      case 'FunctionDeclaration':
        if (n.id) declare(s, n.id, 'function', n.start, n);
        visitFunction(n, s);
        return;
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        visitFunction(n, s);
        return;
      case 'ClassDeclaration':
        if (n.id) declare(s, n.id, 'class', n.start, n);
        visitClass(n, s);
        return;
      case 'ClassExpression':
        visitClass(n, s);
        return;
      case 'VariableDeclaration': {
        if (n.kind !== 'var' && n.kind !== 'let' && n.kind !== 'const') {
          report('using', n, `${n.kind} declarations are not known to work on Espruino; release the resource in try/finally`);
        }
        const target = n.kind === 'var' ? varScope(s) : s;
        for (const d of n.declarations) {
          parentOf.set(d, n);
          declarePattern(d.id, target, n.kind, s, true, d.init ?? null);
          if (d.init) visit(d.init, s, d);
        }
        return;
      }
      case 'BlockStatement': {
        const bs = newScope(s, null, null, null);
        for (const st of n.body) visit(st, bs, n);
        return;
      }
      case 'StaticBlock': {
        report('static-block', n, 'class static blocks are not known to work on Espruino; run that code after the class definition');
        const ss = newScope(s, n, s.owner, null);
        for (const st of n.body) visit(st, ss, n);
        return;
      }
      case 'ForStatement': {
        const lexical = n.init && n.init.type === 'VariableDeclaration' && n.init.kind !== 'var';
        const ls = lexical ? newScope(s, null, null, n) : s;
        for (const k of kids(n)) visit(k, ls, n);
        return;
      }
      case 'ForInStatement':
      case 'ForOfStatement': {
        if (n.type === 'ForOfStatement' && n.await) report('async', n, 'for await fails on Espruino (no async); iterate with .then() chains');
        const left = n.left;
        if (left.type === 'VariableDeclaration') {
          parentOf.set(left, n);
          const lexical = left.kind !== 'var';
          const ls = lexical ? newScope(s, null, null, n) : s;
          const target = lexical ? ls : varScope(s);
          for (const d of left.declarations) {
            parentOf.set(d, left);
            declarePattern(d.id, target, left.kind, ls, true, null);
          }
          visit(n.right, s, n);
          visit(n.body, ls, n);
        } else {
          for (const k of kids(n)) visit(k, s, n);
        }
        return;
      }
      case 'CatchClause': {
        const cs = newScope(s, null, null, null);
        if (n.param) {
          parentOf.set(n.param, n);
          declarePattern(n.param, cs, 'catch', cs, true, null);
        }
        visit(n.body, cs, n);
        return;
      }
      case 'SwitchStatement': {
        visit(n.discriminant, s, n);
        const ss = newScope(s, null, null, null);
        for (const c of n.cases) visit(c, ss, n);
        return;
      }
      case 'LabeledStatement':
        report('label', n, `labelled statements fail on Espruino (${n.label.name} is read as a variable); use a flag, or move the loop into a function and return`);
        visit(n.body, s, n);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'MemberExpression':
        members.push(n);
        visit(n.object as AnyNode, s, n);
        if (n.property.type === 'PrivateIdentifier') visit(n.property, s, n);
        else if (n.computed) visit(n.property, s, n);
        return;
      case 'Property':
        if (n.computed) {
          if (parent && parent.type === 'ObjectExpression') {
            report('computed-key', n, 'computed keys {[k]: v} are a syntax error on Espruino; create the object, then assign o[k] = v');
          }
          visit(n.key, s, n);
        }
        visit(n.value as AnyNode, s, n);
        return;
      case 'MethodDefinition':
      case 'PropertyDefinition':
        if (n.computed) {
          report('computed-key', n, 'computed class member names are a syntax error on Espruino; use a plain name, or assign C.prototype[k] after the class');
          visit(n.key, s, n);
        } else if (n.key.type === 'PrivateIdentifier') visit(n.key, s, n);
        if (n.value) visit(n.value, s, n);
        return;
      case 'PrivateIdentifier':
        report('private-name', n, `private names (#${n.name}) are a syntax error on Espruino; use an ordinary property (e.g. _${n.name})`);
        return;
      case 'MetaProperty':
        report('meta-property', n, `${n.meta.name}.${n.property.name} is a syntax error on Espruino; pass the information as an argument`);
        return;
      case 'SpreadElement': {
        const where = parent?.type === 'ObjectExpression'
          ? 'object spread {...o} is a syntax error on Espruino; use Object.assign({}, o)'
          : parent?.type === 'ArrayExpression'
            ? 'array spread [...a] is a syntax error on Espruino; use a.slice(), a.concat(b) or a loop'
            : 'spread in a call f(...a) is a syntax error on Espruino; use f.apply(null, a)';
        report('spread', n, where);
        visit(n.argument, s, n);
        return;
      }
      case 'ObjectPattern':
      case 'ArrayPattern': {
        const nested = parent !== null && (parent.type === 'Property' || parent.type === 'AssignmentPattern'
          || parent.type === 'RestElement' || parent.type === 'ArrayPattern' || parent.type === 'ObjectPattern');
        if (!nested) report('destructuring', n, 'destructuring assignment fails on Espruino; assign each variable on its own (swap through a temporary)');
        for (const k of kids(n)) visit(k, s, n);
        return;
      }
      case 'ChainExpression':
        report('optional-chaining', n, 'optional chaining ?. is a syntax error on Espruino; use a != null ? a.b : undefined (or a && a.b)');
        visit(n.expression, s, n);
        return;
      case 'BinaryExpression':
        if (n.operator === '**') report('exponent', n, '** is a syntax error on Espruino; use shifts or constants for powers of two, Math.pow otherwise');
        break;
      case 'AssignmentExpression':
        if (n.operator === '**=') report('exponent', n, '**= is a syntax error on Espruino; use x = Math.pow(x, y) or shifts');
        else if (n.operator === '??=' || n.operator === '||=' || n.operator === '&&=') {
          const op = n.operator.slice(0, 2);
          report('logical-assign', n, `${n.operator} is a syntax error on Espruino; write a ${op} (a = b), or an if`);
        }
        writes.add(n.left);
        checkLengthWrite(n.left);
        break;
      case 'UpdateExpression':
        writes.add(n.argument);
        checkLengthWrite(n.argument);
        break;
      case 'TaggedTemplateExpression':
        report('tagged-template', n, 'tagged templates are a syntax error on Espruino; call the function with the strings and values as arguments');
        break;
      case 'ArrayExpression':
        if (n.elements.some((e) => e === null)) {
          report('array-hole', n, 'array holes [a, , b] can break parsing on Espruino; write undefined explicitly');
        }
        break;
      case 'Literal':
        if (n.bigint !== undefined) report('bigint', n, 'BigInt literals fail on Espruino; use two 32-bit numbers or bytes in a Uint8Array');
        return;
      case 'AwaitExpression':
        report('async', n, 'await fails on Espruino; chain .then() on the promise');
        break;
      case 'ImportExpression':
        report('import', n, 'import() does not exist on Espruino; bundle the module, or use require() of a cached or stored module');
        break;
      case 'CallExpression':
      case 'NewExpression':
        calls.push(n);
        markImmediate(n);
        break;
      default:
        break;
    }
    for (const k of kids(n)) visit(k, s, n);
  }

  const top = newScope(null, program, program, null);
  units.push(program);
  for (const st of program.body) visit(st, top, program);

  // ----- pass 2: resolution and the checks that need it -----

  for (const r of refs) {
    for (let sc: Scope | null = r.scope; sc; sc = sc.parent) {
      const b = sc.names.get(r.id.name);
      if (b) { r.binding = b; break; }
    }
  }

  /** Name of the global an expression denotes (`Map`, `globalThis.Map`), or null. */
  function globalName(n: AnyNode): string | null {
    if (n.type === 'Identifier') {
      const r = refOf.get(n);
      return r && !r.binding ? n.name : null;
    }
    if (n.type === 'MemberExpression' && n.object.type === 'Identifier' && globalName(n.object) === 'globalThis') {
      return propName(n);
    }
    return null;
  }

  /** A read guarded so that a missing value does no harm: `typeof X`, `X || fallback`. */
  function guarded(n: AnyNode): boolean {
    const p = parentOf.get(n);
    if (!p) return false;
    if (p.type === 'UnaryExpression' && p.operator === 'typeof') return true;
    return p.type === 'LogicalExpression' && p.left === n;
  }

  for (const r of refs) {
    if (r.binding) {
      if (r.binding.loop && capturedAcrossFunction(r.scope, r.binding.scope)) {
        report('loop-closure', r.id, `this closure captures loop variable ${r.id.name}; on Espruino all iterations share one binding and the closure sees the last value: create the closure in a helper function called with ${r.id.name}`);
      }
      continue;
    }
    if (r.inTypeof) continue;
    const name = r.id.name;
    const msg = GLOBALS.get(name) ?? extraGlobals.get(name);
    if (msg && !guarded(r.id)) report('builtin', r.id, msg);
    if (HELPERS.has(name)) {
      report('helper', r.id, `compiler helper ${name} lowers syntax Espruino lacks; compile with target es2017 and write the code without that syntax`);
    }
  }

  function capturedAcrossFunction(from: Scope, to: Scope): boolean {
    for (let sc: Scope | null = from; sc && sc !== to; sc = sc.parent) {
      if (sc.fnNode && sc.fnNode.type !== 'StaticBlock' && !immediate.has(sc.fnNode)) return true;
    }
    return false;
  }

  for (const m of members) {
    const prop = propName(m);
    if (!prop) continue;
    const obj = m.object as AnyNode;
    const g = globalName(obj);
    if (g !== null && !writes.has(m) && !guarded(m)) {
      const msg = MEMBERS.get(`${g}.${prop}`) ?? extraMembers.get(`${g}.${prop}`);
      if (msg) report('builtin', m, msg);
    }
    const self = globalName(m);
    if (self !== null && !writes.has(m) && !guarded(m)) {
      const msg = GLOBALS.get(self) ?? extraGlobals.get(self);
      if (msg) report('builtin', m, msg);
    }
    if (obj.type === 'MemberExpression' && propName(obj) === 'prototype' && !writes.has(m) && !guarded(m)) {
      const owner = globalName(obj.object as AnyNode);
      if (owner !== null) {
        report('prototype-method', m, `${owner}.prototype.${prop} is undefined on Espruino (methods read off a prototype object are missing); call it on an instance, e.g. ${owner === 'Object' ? '({}).' + prop : owner === 'Array' ? '[].' + prop : '(instance).' + prop}.call(...)`);
      }
    }
  }

  for (const c of calls) {
    const callee = c.callee as AnyNode;
    if (c.type !== 'CallExpression' || callee.type !== 'MemberExpression') continue;
    const prop = propName(callee);
    if (!prop) continue;
    const inst = INSTANCE.get(prop);
    if (inst) report('missing-method', callee, inst);
    if (prop === 'slice') {
      const o = callee.object as AnyNode;
      const ref = o.type === 'Identifier' ? refOf.get(o) : undefined;
      if ((ref && ref.binding && ref.binding.buffer) || (o.type !== 'Identifier' && isBufferExpr(o))) {
        report('missing-method', callee, 'ArrayBuffer.prototype.slice is missing on Espruino; copy through a typed array: new Uint8Array(buf, start, len).slice()');
      }
    }
    const objName = callee.object.type === 'Identifier' ? globalName(callee.object) : null;
    if (objName === 'JSON' && prop === 'stringify' && c.arguments.length >= 2) {
      const rep = c.arguments[1] as AnyNode;
      const none = (rep.type === 'Literal' && rep.value === null)
        || (rep.type === 'Identifier' && rep.name === 'undefined')
        || (rep.type === 'UnaryExpression' && rep.operator === 'void');
      if (!none) report('json-replacer', c, 'JSON.stringify ignores a replacer on Espruino; build the object to serialise first, and pass null as the second argument');
    }
    if (objName === 'Math' && prop === 'pow' && c.arguments.length === 2) {
      const [base, exp] = c.arguments as AnyNode[];
      const big = exp!.type === 'Literal' && typeof exp!.value === 'number' && exp!.value >= 10;
      const two = base!.type === 'Literal' && base!.value === 2;
      if (big || two) report('math-pow', c, 'Math.pow is inexact on Espruino for integer exponents of 10 and more (Math.pow(2, 32) is 4294967295.999...); use shifts for small powers of two and constants such as 0x100000000');
    }
  }

  for (const c of classes) {
    if (!c.superClass) continue;
    const g = globalName(c.superClass as AnyNode);
    if (g === null) continue;
    if (ERROR_TYPES.includes(g)) {
      report('extends-builtin', c, `class extends ${g} fails on Espruino (super(msg) throws); throw new Error(msg) with a code field, or use a plain object for the error`);
    } else if (TYPED_ARRAYS.includes(g)) {
      report('extends-builtin', c, `class extends ${g} makes instances without elements on Espruino; keep a ${g} in a field instead`);
    }
  }

  // ----- pass 3: load-time order (no hoisting) -----

  if (opts.hoisting !== false) checkOrder();

  function checkOrder(): void {
    // Each unit (program, function, class instantiation) gets the set of outer bindings it uses when it runs,
    // one example use per binding, including what the functions it calls use. The sets only grow, so a
    // worklist reaches the fixed point even through recursion; a caller checks each binding it owns at the
    // call site against the binding's definition point.
    const needs = new Map<AnyNode, Map<Binding, Req>>();
    const callers = new Map<AnyNode, { unit: AnyNode; at: AnyNode | null; name: string | null }[]>();

    function where(b: Binding): string {
      const p = b.id.loc!.start;
      return `${p.line}:${p.column + 1}`;
    }

    function tooEarly(b: Binding, at: AnyNode, via: string[]): void {
      if (b.defPos <= at.start) return;
      if (via.length === 0) {
        report('hoisting', at, `${b.name} is used before its definition at ${where(b)}; Espruino hoists neither functions nor var, so move the definition above this line`);
      } else {
        const how = at.type === 'NewExpression' ? `new ${via[0]}()` : `calling ${via[0]}()`;
        report('hoisting', at, `${how} here runs ${via.join(' → ')}, which uses ${b.name} before its definition at ${where(b)}; Espruino hoists neither functions nor var, so move the definition above this line`);
      }
    }

    /** Adds one use to a unit's needs, or checks it there if the unit owns the binding. */
    function use(unit: AnyNode, b: Binding, at: AnyNode, via: string[]): boolean {
      if (b.scope.owner === unit) {
        tooEarly(b, at, via);
        return false;
      }
      let m = needs.get(unit);
      if (!m) needs.set(unit, m = new Map());
      if (m.has(b)) return false;
      m.set(b, { b, at, via });
      return true;
    }

    function addCall(unit: AnyNode, callee: AnyNode, at: AnyNode | null, name: string | null): void {
      let list = callers.get(callee);
      if (!list) callers.set(callee, list = []);
      list.push({ unit, at, name });
    }

    /** One pass over what runs when `unit` runs: direct uses and calls by name. */
    function scan(unit: AnyNode): void {
      const walk = (n: AnyNode): void => {
        switch (n.type) {
          case 'Identifier': {
            const r = refOf.get(n);
            if (r && r.binding && !r.inTypeof) use(unit, r.binding, n, []);
            return;
          }
          case 'FunctionDeclaration':
            return;
          case 'FunctionExpression':
          case 'ArrowFunctionExpression':
            if (immediate.has(n)) {
              for (const p of n.params) walk(p);
              walk(n.body);
            }
            return;
          case 'ClassDeclaration':
          case 'ClassExpression':
            if (n.superClass) walk(n.superClass);
            for (const el of n.body.body) {
              if (el.type === 'StaticBlock') { for (const st of el.body) walk(st); continue; }
              if (el.computed) walk(el.key);
              if (el.type === 'PropertyDefinition' && el.static && el.value) walk(el.value);
            }
            return;
          case 'CallExpression':
          case 'NewExpression': {
            for (const k of kids(n)) walk(k);
            const callee = n.callee as AnyNode;
            if (callee.type === 'Identifier') {
              const b = refOf.get(callee)?.binding;
              // A callee not defined yet is already reported; what it would run does not matter then.
              const early = b && b.scope.owner === unit && b.defPos > n.start;
              if (b && b.unit && !early) addCall(unit, b.unit, n, b.name);
            } else if (callee.type === 'MemberExpression') {
              const prop = propName(callee);
              const obj = callee.object as AnyNode;
              if ((prop === 'call' || prop === 'apply') && obj.type === 'Identifier') {
                const b = refOf.get(obj)?.binding;
                if (b && b.unit && isFn(b.unit)) addCall(unit, b.unit, n, b.name);
              } else if (prop && SYNC_CALLBACK.has(prop)) {
                for (const a of n.arguments) {
                  if (a.type !== 'Identifier') continue;
                  const b = refOf.get(a)?.binding;
                  if (b && b.unit && isFn(b.unit)) addCall(unit, b.unit, n, b.name);
                }
              }
            }
            return;
          }
          default:
            for (const k of kids(n)) walk(k);
        }
      };

      if (unit.type === 'Program') {
        for (const st of unit.body) walk(st);
      } else if (isFn(unit)) {
        for (const p of unit.params) walk(p);
        walk(unit.body);
      } else if (unit.type === 'ClassDeclaration' || unit.type === 'ClassExpression') {
        // new C(): the superclass constructor, instance field initialisers, then the constructor body.
        const sup = unit.superClass as AnyNode | null | undefined;
        if (sup && sup.type === 'Identifier') {
          const b = refOf.get(sup)?.binding;
          if (b && b.unit) addCall(unit, b.unit, null, null);
        }
        for (const el of unit.body.body) {
          if (el.type === 'PropertyDefinition' && !el.static && el.value) walk(el.value);
          if (el.type === 'MethodDefinition' && el.kind === 'constructor') addCall(unit, el.value, null, null);
        }
      }
    }

    const all = new Set<AnyNode>(units);
    for (const c of classes) all.add(c);
    for (const u of all) scan(u);

    const work = [...all];
    const queued = new Set<AnyNode>(work);
    while (work.length > 0) {
      const callee = work.pop()!;
      queued.delete(callee);
      const m = needs.get(callee);
      if (!m) continue;
      for (const c of callers.get(callee) ?? []) {
        let grew = false;
        for (const r of m.values()) {
          const at = c.at ?? r.at;
          const via = c.name === null ? r.via : [c.name, ...r.via];
          if (use(c.unit, r.b, at, via)) grew = true;
        }
        if (grew && !queued.has(c.unit)) {
          queued.add(c.unit);
          work.push(c.unit);
        }
      }
    }
  }

  return problems.sort((a, b) => a.line - b.line || a.column - b.column || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
}

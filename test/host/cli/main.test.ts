// The `picolink` command line (host/cli/main.ts), run in-process through run(argv, io): help with
// examples on every verb, exit codes (0 ok, 1 a check failed, 2 usage error) with messages that say
// what to write instead, `sim demo` reusing npm start's demonstration, and the real bin as a child
// process.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { program, run } from '../../../host/cli/main.ts';
import { fullName } from '../../../host/cli/verb.ts';

const root = resolve(import.meta.dirname, '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'picolink-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

/** Every command under the program, the program included. */
function commands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(commands)];
}

test('--help lists the verbs and shows examples; every verb and scenario has its own help with an example of itself', async () => {
  const top = await cli('--help');
  assert.is(top.code, 0);
  assert.match(top.out, /Usage: picolink/);
  assert.match(top.out, /\n {2}sim\b/);
  assert.match(top.out, /Examples:\n {2}\$ picolink /);
  assert.match(top.out, /Exit codes: 0 ok, 1 the run \(or a check, a call, a device\) failed, 2 usage error/);
  const all = commands(program({ io: { out: () => {}, err: () => {} }, exit: () => {} }));
  assert.ok(all.length >= 4, 'picolink, sim, sim conversation, sim demo');
  for (const c of all) {
    const path = fullName(c).split(' ').slice(1);
    const h = await cli(...path, '--help');
    assert.is(h.code, 0, fullName(c));
    assert.is(h.err, '');
    // The example runs this very verb (or, for the program, some verb).
    const prefix = path.length ? fullName(c) : 'picolink';
    assert.ok(h.out.includes(`Examples:\n  $ ${prefix} `) || h.out.includes(`Examples:\n  $ ${prefix}\n`), `${fullName(c)}: no example of itself in\n${h.out}`);
  }
});

test('--version prints the package version', async () => {
  const v = await cli('--version');
  assert.is(v.code, 0);
  assert.is(v.out.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});

test('an unknown verb or scenario exits 2 and says what to write; nothing runs', async () => {
  const u = await cli('simm', 'conversation');
  assert.is(u.code, 2);
  assert.is(u.out, '');
  assert.match(u.err, /unknown command 'simm'/);
  assert.match(u.err, /Did you mean sim\?/);
  assert.match(u.err, /picolink --help/);
  const s = await cli('sim', 'conversatoin');
  assert.is(s.code, 2);
  assert.match(s.err, /unknown command 'conversatoin'/);
  assert.match(s.err, /Did you mean conversation\?/);
  const none = await cli();
  assert.is(none.code, 2, 'no verb is a usage error');
  assert.match(none.err, /Usage: picolink/);
  const bare = await cli('sim');
  assert.is(bare.code, 2, 'sim without a scenario');
  assert.match(bare.err, /conversation/);
});

test('bad values and bad combinations exit 2 with what was wrong and what to write instead', async () => {
  for (const [args, msg] of [
    [['--loss', '50%'], /'--loss <p>' argument '50%' is invalid\. Write at most 0\.3 \(30%\)/],
    [['--loss', '0.31'], /'--loss <p>' argument '0\.31' is invalid\. Write at most 0\.3/],
    [['--loss', '10'], /'--loss <p>' argument '10' is invalid\. A bare number is a fraction .* like 10%/],
    [['--loss', 'lots'], /'--loss <p>' argument 'lots' is invalid\. Write a fraction from 0 to 0\.3 \(30%\), like 0\.1, or a percentage, like 10%/],
    [['--nodes', '9'], /'--nodes <n>' argument '9' is invalid\. Write an integer from 2 to 8/],
    [['--nodes', '3.5'], /Write an integer from 2 to 8/],
    [['--seed', '-1'], /'--seed <s>' argument '-1' is invalid/],
    [['--messages', '0'], /Write an integer from 1 to 1000/],
    [['--for', 'soon'], /Cannot read "soon" as a duration: write a number and a unit, like 500ms, 5s or 2m/],
    [['--bogus'], /unknown option '--bogus'/],
    [['extra'], /too many arguments/],
    [['--trace', '-', '--json'], /--json and --trace - both write to standard output: give --trace a file name, or leave out --json/],
    [['--trace', join(tmp, 'no', 'such', 'dir.jsonl')], /cannot write .*dir\.jsonl \(ENOENT\): give a file in a directory that exists, or - for standard output/],
  ] as [string[], RegExp][]) {
    const r = await cli('sim', 'conversation', ...args);
    assert.is(r.code, 2, args.join(' '));
    assert.is(r.out, '', `${args.join(' ')}: nothing ran`);
    assert.match(r.err, msg);
    assert.match(r.err, /picolink sim conversation --help/);
  }
  const d = await cli('sim', 'demo', '--speed', 'max');
  assert.is(d.code, 2);
  assert.match(d.err, /--speed max needs --for/);
});

test('a loss given as a fraction and as a percentage is the same run', async () => {
  const a = await cli('sim', 'conversation', '--nodes', '3', '--messages', '5', '--loss', '0.2', '--seed', '4', '--trace', '-');
  const b = await cli('sim', 'conversation', '--nodes', '3', '--messages', '5', '--loss', '20%', '--seed', '4', '--trace', '-');
  const c = await cli('sim', 'conversation', '--nodes', '3', '--messages', '5', '--loss', '0', '--seed', '4', '--trace', '-');
  assert.is(a.code, 0, a.err);
  assert.ok(a.out.length > 0);
  assert.is(a.out, b.out);
  assert.is.not(a.out, c.out, 'the loss changes the run');
});

test('a run that fails a check exits 1 and names the check', async () => {
  // 50 ms of virtual time is far too short for 4 x 20 messages to be sent, let alone committed.
  const r = await cli('sim', 'conversation', '--for', '50ms', '--seed', '2');
  assert.is(r.code, 1, r.err);
  assert.match(r.out, /virtual time limit 0\.050 s reached before every node committed every message/);
  assert.match(r.out, /FAIL {2}all committed/);
  assert.match(r.err, /check failed: all committed: node \d never committed/);
  const j = await cli('sim', 'conversation', '--for', '50ms', '--seed', '2', '--json');
  assert.is(j.code, 1);
  const s = JSON.parse(j.out);
  assert.is(s.ok, false);
  assert.is(s.finished, false);
  assert.ok(s.checks.some((c: { name: string; ok: boolean }) => c.name === 'all committed' && !c.ok));
});

test('sim demo runs the demonstration of npm start: summary, and its trace written to a file', async () => {
  const file = join(tmp, 'demo.trace');
  const r = await cli('sim', 'demo', '--for', '500ms', '--speed', 'max', '--seed', '2', '--sensors', '3', '--wearables', '1', '--json', '--trace', file);
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.is(s.seed, 2);
  assert.is(s.simulatedUs, 500_000);
  assert.is(s.sensors.length, 3);
  const text = readFileSync(file, 'utf8');
  assert.is(text.split('\n').length - 1, s.traceLines);
  assert.is(createHash('sha256').update(text).digest('hex'), s.traceSha256, 'the file holds the trace the summary hashed');
  const t = await cli('sim', 'demo', '--for', '500ms', '--speed', 'max', '--seed', '2', '--sensors', '3', '--wearables', '1');
  assert.is(t.code, 0);
  assert.match(t.out, /picolink demo: 3 sensors/);
  assert.match(t.out, /seed 2, 0\.500 s simulated/);
  assert.ok(t.out.includes(`sha256 ${s.traceSha256}`), 'the same run as with --json');
});

test('the real bin: node bin/picolink.js sim conversation writes the same trace as an in-process run', async () => {
  const file = join(tmp, 'bin.jsonl');
  const r = spawnSync(process.execPath, [join(root, 'bin/picolink.js'), 'sim', 'conversation', '--nodes', '3', '--seed', '1', '--trace', file], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /same commit sequence at every node: yes/);
  assert.match(r.stdout, /trace: \d+ lines written to /);
  const here = await cli('sim', 'conversation', '--nodes', '3', '--seed', '1', '--trace', '-');
  assert.is(readFileSync(file, 'utf8'), here.out);
  const bad = spawnSync(process.execPath, [join(root, 'bin/picolink.js'), 'sim', 'conversation', '--loss', '90%'], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
  assert.is(bad.status, 2, 'the exit code reaches the shell');
  assert.match(bad.stderr, /Write at most 0\.3/);
});

test.run();

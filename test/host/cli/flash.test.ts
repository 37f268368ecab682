// `picolink flash` (host/cli/flash.ts) against a virtual Espruino console (host/sim/espruino-repl.ts)
// on the other end of a socat pseudo-terminal pair: a board's build to .bootcde with the text summary,
// a file to a named Storage file with --json, a silent port failing with exit 1 and what to try, and
// command lines that are wrong failing with exit 2 before any port is opened. Without socat the port
// tests skip with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../host/cli/main.ts';
import { progressBar, targetArg } from '../../../host/cli/flash.ts';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import { openSerial } from '../../../hal/node/serial.ts';
import { virtualEspruino } from '../../../host/sim/espruino-repl.ts';
import type { VirtualEspruinoOptions, VirtualEspruino } from '../../../host/sim/espruino-repl.ts';

const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; install socat (Debian package socat) to run the flash verb against a virtual board');
const ptyTest = SOCAT ? test : test.skip;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

/** A virtual board on one end of a pty pair; `port` is the other end, for the command. */
async function board(o: VirtualEspruinoOptions, body: (port: string, b: VirtualEspruino) => Promise<void>): Promise<void> {
  const pty = await ptyPair();
  const s = await openSerial(pty.b, { baud: 115_200, pace: true });
  const b = virtualEspruino(s, { packetTimeoutMs: 500, ...o });
  try {
    await body(pty.a, b);
  } finally {
    b.stop();
    await s.close();
    await pty.close();
  }
}

test('--to and the progress bar', () => {
  assert.equal(targetArg('boot'), { to: 'boot' });
  assert.equal(targetArg('file:app.js'), { to: 'file', name: 'app.js' });
  assert.throws(() => targetArg('flash'), /boot .* ram .* file:NAME/);
  assert.throws(() => targetArg('file:' + 'x'.repeat(30)), /28/);
  assert.is(progressBar(50, 200, 10, 8), '[##......]  25%  0.1/0.2 kB  5.0 kB/s');
});

test('wrong command lines exit 2 and say what to write', async () => {
  let r = await cli('flash', '--port', '/dev/null');
  assert.is(r.code, 2);
  assert.match(r.err, /either --board NAME .* or --bundle FILE/);
  r = await cli('flash', '--port', '/dev/null', '--board', 'no-such-board');
  assert.is(r.code, 2);
  assert.match(r.err, /no board or bundle named no-such-board; there are [\w, -]*\bpico-nrf24, pico-nrf24-sensor\b[\w, -]*\bsim, sim-sensor, sim-gateway\b/);
  assert.not.match(r.err, /deno-edge|node-host/, 'bundles that do not run on Espruino are not offered');
  // A Deno or Node bundle is refused with what to do instead.
  r = await cli('flash', '--port', '/dev/null', '--board', 'deno-edge');
  assert.is(r.code, 2);
  assert.match(r.err, /deno-edge is not an Espruino bundle \(it runs under Deno\)/);
  r = await cli('flash', '--port', '/dev/null', '--bundle', 'x.js', '--save');
  assert.is(r.code, 2);
  assert.match(r.err, /--save goes with --to ram/);
  r = await cli('flash', '--port', '/dev/null', '--bundle', '/nonexistent/x.js');
  assert.is(r.code, 2);
  assert.match(r.err, /cannot read --bundle \/nonexistent\/x.js \(ENOENT\)/);
});

ptyTest('flash --board pico: built, written to .bootcde, verified, started', async () => {
  await board({ version: '2v25' }, async (port, b) => {
    const r = await cli('flash', '--board', 'pico', '--port', port, '--no-run');
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /^flash: \d+ B to \.bootcde on Espruino 2v25 \(PICOLINK_VIRTUAL\) by packet in [\d.]+ s \([\d.]+ kB\/s\), verified by CRC32 0x[0-9a-f]{8}; not started\n$/);
    assert.match(r.err, /\[#{24}\] 100%/);
    assert.ok(Buffer.from(b.storage.get('.bootcde')!).equals(readFileSync('dist/pico.js')), 'the board holds dist/pico.js');
  });
});

ptyTest('flash --bundle --to file:NAME --json on a 2v24 board: by text, the result as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-flash-'));
  const file = join(dir, 'app.js');
  writeFileSync(file, 'var n = 0;\nsetInterval(function () { n++; }, 1000);\n');
  await board({ version: '2v24' }, async (port, b) => {
    const r = await cli('flash', '--bundle', file, '--port', port, '--to', 'file:app.js', '--json');
    assert.is(r.code, 0, r.err + r.out);
    const j = JSON.parse(r.out) as { ok: boolean; protocol: string; target: string; bytes: number; verified: string; started: boolean };
    assert.equal([j.ok, j.protocol, j.target, j.verified, j.started], [true, 'text', 'app.js', 'crc32', false]);
    assert.ok(Buffer.from(b.storage.get('app.js')!).equals(readFileSync(file)));
    assert.is(r.err, '', 'nothing but the JSON');
  });
});

ptyTest('a port where nothing answers: exit 1, and what to check', async () => {
  await board({ silent: true }, async (port) => {
    const r = await cli('flash', '--board', 'pico', '--port', port);
    assert.is(r.code, 1);
    assert.match(r.err, /picolink: flash failed: the board did not answer at all .*powered/);
  });
});

test.run();

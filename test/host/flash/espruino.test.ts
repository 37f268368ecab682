// The flasher against Espruino's own interpreter (its Linux build), when one is named by ESPRUINO: the
// interpreter runs on a socat pseudo-terminal as a board's console is on its USB port, in a directory
// of its own (its Storage lives there), and `picolink flash` writes to it by packets and by text,
// into RAM, and to .bootcde with load(); each upload verified by the interpreter's own E.CRC32, and the
// code's output read back. Skipped with a message when no interpreter is named (or socat is missing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasSocat, ptyProgram } from '../../../hal/node/pty.ts';
import { openSerial } from '../../../hal/node/serial.ts';
import { flash } from '../../../host/flash/flash.ts';
import type { FlashOptions } from '../../../host/flash/flash.ts';
import { espruinoConsole } from '../../../host/flash/console.ts';
import { NO_ESPRUINO, findEspruino } from '../../../host/sim/espruino-linux.ts';

const root = resolve(import.meta.dirname, '../../..');
const bin = findEspruino();
const ok = bin !== null && hasSocat();
if (!bin) console.log(`  skip: ${NO_ESPRUINO}`);
else if (!hasSocat()) console.log('  skip: socat not found on PATH (Debian package socat): the interpreter needs a pseudo-terminal');
const realTest = ok ? test : test.skip;

async function onInterpreter(body: (port: string, cwd: string) => Promise<void>): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), 'picolink-espruino-'));
  const p = await ptyProgram(bin!, cwd);
  try {
    await body(p.path, cwd);
  } finally {
    await p.close();
  }
}

async function upload(port: string, code: Uint8Array, o: FlashOptions) {
  const s = await openSerial(port, { baud: 115_200, pace: true });
  try {
    return await flash(s, code, o);
  } finally {
    await s.close();
  }
}

/** The JSON of `value` on the board, through its console. */
async function ask(port: string, value: string): Promise<string> {
  const s = await openSerial(port, { baud: 115_200, pace: true });
  const c = espruinoConsole(s);
  try {
    await c.prompt();
    return await c.run('', { value });
  } finally {
    c.detach();
    await s.close();
  }
}

realTest('the pico bundle to Storage by packets and by text, verified by the interpreter\'s E.CRC32', async () => {
  const code = new Uint8Array(readFileSync(join(root, 'dist/pico.js')));
  await onInterpreter(async (port) => {
    const a = await upload(port, code, { target: { to: 'file', name: 'pk.js' }, protocol: 'packet' });
    assert.is(a.protocol, 'packet');
    assert.is(a.verified, 'crc32');
    assert.match(a.board.version, /^2v\d+/);
    const b = await upload(port, code, { target: { to: 'file', name: 'tx.js' }, protocol: 'text', chunkBytes: 700 });
    assert.is(b.protocol, 'text');
    assert.is(b.resends, 0);
    // Both files, read by the interpreter itself: the same length and CRC as the bundle's.
    const both = JSON.parse(await ask(port, '["pk.js","tx.js"].map(function(f){var s=require("Storage").read(f);return [s.length,E.CRC32(s)]})')) as [number, number][];
    assert.equal(both, [[code.length, a.crc32], [code.length, a.crc32]]);
  });
});

realTest('RAM and .bootcde: the code runs, and .bootcde runs again after load()', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-app-'));
  writeFileSync(join(dir, 'app.js'), 'var hits = 0;\nfunction hit(n) {\n  hits += n;\n  return hits;\n}\nprint("app " + hit(20) + " " + hit(22));\n');
  const code = new Uint8Array(readFileSync(join(dir, 'app.js')));
  await onInterpreter(async (port) => {
    const ram = await upload(port, code, { target: { to: 'ram' } });
    assert.match(ram.boardSaid, /app 20 42/);
    const boot = await upload(port, code, { target: { to: 'boot' } });
    assert.ok(boot.started);
    assert.match(boot.boardSaid, /app 20 42/);
    assert.is(await ask(port, 'hits'), '42', 'the state of the code load() ran');
    const bad = new TextEncoder().encode('var x = 1;\nnotDefinedHere();\n');
    const e = await upload(port, bad, { target: { to: 'boot' } }).then(() => null, (x: Error) => x);
    assert.ok(e, 'code that throws as it starts is an error');
    assert.match(e!.message, /written and verified, but .*notDefinedHere/);
  });
});

realTest('control bytes: 0x03 in packets (sent after a pause) and 0x04 (sent as text) do not end the interpreter', async () => {
  const b = new Uint8Array(3000).fill(0x41);
  for (let off = 0; off < b.length; off += 1024) b[off] = 0x03;
  await onInterpreter(async (port) => {
    const a = await upload(port, b, { target: { to: 'file', name: 'c3' }, protocol: 'packet' });
    assert.is(a.verified, 'crc32');
    b[7] = 0x04;
    const t = await upload(port, b, { target: { to: 'file', name: 'c4' } });
    assert.is(t.protocol, 'text');
    assert.is(await ask(port, 'require("Storage").read("c4").charCodeAt(7)'), '4');
  });
});

test.run();

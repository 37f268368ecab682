// The flasher (host/flash/) against a virtual Espruino console (host/sim/espruino-repl.ts) on the
// other end of a socat pseudo-terminal pair, both opened with serialport and paced at the baud rate as
// a UART is: the board bundle (dist/pico.js) goes to Storage by 2v25 packets and by text lines, to
// .bootcde with load(), and to RAM; each fault of the issue is injected (no prompt, wrong baud, noise
// and lost bytes, XOFF from a slow board, out of memory, full Storage, verify mismatch) and the result
// checked on the board's side: the stored bytes equal the bundle's, or the error names the fault.
// Without socat these tests skip with a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { hasSocat, ptyPair } from '../../../hal/node/pty.ts';
import { openSerial } from '../../../hal/node/serial.ts';
import type { NodeSerial } from '../../../hal/node/serial.ts';
import { BOOT_FILE, FlashError, byteLiteral, checkStorageName, flash, hasPackets, packetLength, parseVersion } from '../../../host/flash/flash.ts';
import type { FlashOptions, FlashResult } from '../../../host/flash/flash.ts';
import { virtualEspruino } from '../../../host/sim/espruino-repl.ts';
import { virtualGateway } from '../../../host/sim/virtual-gateway.ts';
import type { VirtualEspruino, VirtualEspruinoOptions } from '../../../host/sim/espruino-repl.ts';

const SOCAT = hasSocat();
if (!SOCAT) console.log('  skip: socat not found on PATH; install socat (Debian package socat) to run the flasher tests');
const ptyTest = SOCAT ? test : test.skip;

const BUNDLE = new Uint8Array(readFileSync(new URL('../../../dist/pico.js', import.meta.url)));
const BAUD = 460_800;

interface Rig { host: NodeSerial; board: VirtualEspruino; boardPort: NodeSerial; close(): Promise<void> }

async function rig(bo: VirtualEspruinoOptions = {}, baud = BAUD): Promise<Rig> {
  const pty = await ptyPair();
  const host = await openSerial(pty.a, { baud, pace: true });
  const boardPort = await openSerial(pty.b, { baud, pace: true });
  const board = virtualEspruino(boardPort, { packetTimeoutMs: 400, ...bo });
  return {
    host, board, boardPort,
    async close() {
      board.stop();
      await host.close();
      await boardPort.close();
      await pty.close();
    },
  };
}

/** Flash `code` with fast timeouts; resolves with the result or the FlashError. */
async function run(r: Rig, code: Uint8Array, fo: FlashOptions = {}): Promise<FlashResult | FlashError> {
  try {
    return await flash(r.host, code, { ackTimeoutMs: 1000, commandTimeoutMs: 1500, target: { to: 'file', name: 'bundle' }, ...fo });
  } catch (e) {
    if (e instanceof FlashError) return e;
    throw e;
  }
}

function ok(x: FlashResult | FlashError): FlashResult {
  if (x instanceof FlashError) assert.unreachable(`flash failed: ${x.code}: ${x.message} (board said ${JSON.stringify(x.boardSaid.slice(-200))})`);
  return x as FlashResult;
}

function failed(x: FlashResult | FlashError, code: string): FlashError {
  if (!(x instanceof FlashError)) assert.unreachable(`expected ${code}, but the flash succeeded`);
  const e = x as FlashError;
  assert.is(e.code, code, e.message);
  return e;
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => !!a && Buffer.from(a).equals(Buffer.from(b));

test('byteLiteral: every byte value survives as printable ASCII', () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const lit = byteLiteral(all);
  assert.ok(/^[\x20-\x7e]+$/.test(lit), 'only printable ASCII');
  const back = vm.runInNewContext(lit) as string;
  assert.is(back.length, 256);
  for (let i = 0; i < 256; i++) assert.is(back.charCodeAt(i), i);
});

test('versions and Storage names', () => {
  assert.equal(parseVersion('2v25'), [2, 25]);
  assert.equal(parseVersion('2v24.123'), [2, 24]);
  assert.is(parseVersion('banana'), null);
  assert.ok(hasPackets('2v25') && hasPackets('3v01') && hasPackets('2v26.4'));
  assert.not.ok(hasPackets('2v24.99') || hasPackets('1v99') || hasPackets('?'));
  assert.is(checkStorageName('.bootcde'), null);
  assert.ok(checkStorageName('x'.repeat(29))?.includes('28'));
  assert.ok(checkStorageName('a"b')?.includes('quotes'));
});

ptyTest('2v25: the bundle goes to Storage by packets and is verified by CRC32', async () => {
  const r = await rig({ version: '2v25' });
  try {
    const res = ok(await run(r, BUNDLE));
    assert.is(res.protocol, 'packet');
    assert.is(res.verified, 'crc32');
    assert.ok(same(r.board.storage.get('bundle'), BUNDLE), 'the board holds the bundle byte for byte');
    assert.is(res.chunks, Math.ceil(BUNDLE.length / 1024));
    assert.is(r.board.stats.packets, res.chunks + 1, 'FILE_SEND and one DATA per chunk');
    assert.is(r.board.stats.naks, 0);
  } finally {
    await r.close();
  }
});

ptyTest('2v24: the bundle goes by text lines, each chunk checked on the board', async () => {
  const r = await rig({ version: '2v24' });
  try {
    const res = ok(await run(r, BUNDLE, { chunkBytes: 700 }));
    assert.is(res.protocol, 'text');
    assert.is(res.chunks, Math.ceil(BUNDLE.length / 700));
    assert.is(r.board.stats.packets, 0, 'no packets to a board without them');
    assert.ok(same(r.board.storage.get('bundle'), BUNDLE));
  } finally {
    await r.close();
  }
});

ptyTest('boot: .bootcde, then load() hands the board exactly the bundle', async () => {
  let loaded: { code: Uint8Array; file: string } | null = null;
  const r = await rig({ onLoad: (code, file) => { loaded = { code, file }; } });
  try {
    const res = ok(await run(r, BUNDLE, { target: { to: 'boot' }, reset: true }));
    assert.is(res.target, BOOT_FILE);
    assert.ok(res.started);
    assert.is(r.board.stats.resets, 2, 'reset() first, then load()');
    const l = loaded as { code: Uint8Array; file: string } | null;
    assert.ok(l, 'load() ran');
    assert.is(l!.file, BOOT_FILE);
    assert.ok(same(l!.code, BUNDLE));
  } finally {
    await r.close();
  }
});

ptyTest('boot: code that fails as it starts is reported, with what the board said', async () => {
  const r = await rig();
  try {
    const e = failed(await run(r, new TextEncoder().encode('var x = 1;\nundefinedThing.go();\n'), { target: { to: 'boot' } }), 'BOARD_ERROR');
    assert.match(e.message, /written and verified, but/);
    assert.match(e.boardSaid, /undefinedThing/);
  } finally {
    await r.close();
  }
});

ptyTest('ram: typed in and run, save() keeps it; an error in it is reported', async () => {
  const r = await rig();
  try {
    const res = ok(await run(r, new TextEncoder().encode('var a = 20;\nfunction f(x) {\n  return x + a;\n}\nprint("f=" + f(22));\n'), { target: { to: 'ram' }, save: true }));
    assert.match(res.boardSaid, /f=42/);
    assert.is(r.board.stats.saves, 1);
    const e = failed(await run(r, new TextEncoder().encode('print(nope.x);\n'), { target: { to: 'ram' } }), 'BOARD_ERROR');
    assert.match(e.message, /nope is not defined/);
  } finally {
    await r.close();
  }
});

for (const version of ['2v25', '2v24']) {
  ptyTest(`${version}: noise in the board's output and lost bytes on the way in`, async () => {
    const r = await rig({ version, garbage: 0.005, dropRx: 0.0004, bootNoise: 200, seed: 3 });
    try {
      const res = ok(await run(r, BUNDLE, { chunkBytes: 512 }));
      assert.ok(r.board.stats.dropped > 0, 'some bytes were lost');
      assert.ok(res.resends + res.attempts - 1 > 0, 'and made up for by resending');
      assert.ok(same(r.board.storage.get('bundle'), BUNDLE), 'the stored file is still exact');
    } finally {
      await r.close();
    }
  });
}

for (const version of ['2v25', '2v24']) {
  ptyTest(`${version}: a slow board's XOFF pauses the upload and nothing is lost`, async () => {
    // A board taking 1 byte/ms from a line bringing 11.5: its 1 024-byte buffer reaches XOFF (3/4) within
    // a chunk, and the quarter left above it is 22 ms of the line, room for a host that takes a while
    // to hear the XOFF on a loaded machine.
    const r = await rig({ version, bytesPerMs: 1, packetTimeoutMs: 5000 }, 115_200);
    try {
      const res = ok(await run(r, BUNDLE.subarray(0, 3000), { chunkBytes: 1024 }));
      assert.ok(r.board.stats.xoffs > 0 && res.console.xoffs > 0, 'the board said XOFF and the flasher heard it');
      assert.is(r.board.stats.overflow, 0, 'no byte overflowed the board\'s input buffer');
      assert.is(res.resends, 0);
      assert.ok(same(r.board.storage.get('bundle'), BUNDLE.subarray(0, 3000)));
    } finally {
      await r.close();
    }
  });
}

ptyTest('the same slow board, flow control ignored: its input buffer overflows', async () => {
  const r = await rig({ version: '2v24', bytesPerMs: 1 }, 115_200);
  try {
    await run(r, BUNDLE.subarray(0, 3000), { chunkBytes: 1024, flowControl: false, chunkTries: 1, retries: 0 });
    assert.ok(r.board.stats.overflow > 0, 'without XOFF the board loses bytes (so the test above tests something)');
  } finally {
    await r.close();
  }
});

ptyTest('no prompt: a silent port, a wrong baud rate, a picolink bundle holding the line, something that is not Espruino', async () => {
  let r = await rig({ silent: true });
  try {
    const e = failed(await run(r, BUNDLE), 'NO_ANSWER');
    assert.match(e.message, /powered/);
  } finally {
    await r.close();
  }
  r = await rig({ wrongBaud: true });
  try {
    const e = failed(await run(r, BUNDLE), 'WRONG_BAUD');
    assert.match(e.message, /--baud/);
  } finally {
    await r.close();
  }
  // A board whose picolink gateway bundle already runs and holds the line: it sends frames.
  {
    const pty = await ptyPair();
    const host = await openSerial(pty.a, { baud: BAUD, pace: true });
    const gw = await virtualGateway({ port: pty.b, baud: BAUD, sensors: 1, periodUs: 100_000 });
    try {
      const e = await flash(host, BUNDLE, { commandTimeoutMs: 1000 }).then(() => null, (x: FlashError) => x);
      assert.ok(e instanceof FlashError);
      assert.is(e!.code, 'BUSY');
      assert.match(e!.message, /picolink frames .* hold BTN1/);
    } finally {
      await host.close();
      await gw.stop();
      await pty.close();
    }
  }
  // A device that chatters but has no REPL.
  const pty = await ptyPair();
  const host = await openSerial(pty.a, { baud: BAUD, pace: true });
  const other = await openSerial(pty.b, { baud: BAUD, pace: true });
  other.onData(() => { const t = Buffer.from('temperature 21.5 C\r\n'); other.write(t, t.length); });
  try {
    const e = await flash(host, BUNDLE, { commandTimeoutMs: 1000 }).then(() => null, (x: FlashError) => x);
    assert.ok(e instanceof FlashError);
    assert.is(e!.code, 'NO_PROMPT');
    assert.match(e!.boardSaid, /temperature/);
  } finally {
    await host.close();
    await other.close();
    await pty.close();
  }
});

for (const version of ['2v25', '2v24']) {
  ptyTest(`${version}: out of memory and full Storage say what to try`, async () => {
    let r = await rig({ version, memoryBytes: 600 });
    try {
      const e = failed(await run(r, BUNDLE), 'OUT_OF_MEMORY');
      assert.match(e.message, /--chunk/);
      ok(await run(r, BUNDLE, { chunkBytes: 256 }));
      assert.ok(same(r.board.storage.get('bundle'), BUNDLE), 'smaller chunks, as the message said, fit');
    } finally {
      await r.close();
    }
    r = await rig({ version, storageBytes: 4000 });
    try {
      const e = failed(await run(r, BUNDLE), 'STORAGE');
      assert.match(e.message, /eraseAll/);
    } finally {
      await r.close();
    }
  });
}

ptyTest('verify: a board whose Storage keeps flipping a bit fails with both checksums; once is retried', async () => {
  let r = await rig({ corrupt: 'always' });
  try {
    const e = failed(await run(r, BUNDLE, { retries: 1 }), 'VERIFY');
    assert.match(e.message, /after 2 uploads/);
    assert.match(e.message, /CRC32 0x[0-9a-f]{8}; bundle: \d+ B, CRC32 0x[0-9a-f]{8}/);
  } finally {
    await r.close();
  }
  r = await rig({ corrupt: 'once' });
  try {
    const res = ok(await run(r, BUNDLE));
    assert.is(res.attempts, 2);
    assert.ok(same(r.board.storage.get('bundle'), BUNDLE));
  } finally {
    await r.close();
  }
});

ptyTest('a firmware without E.CRC32 is verified by reading the file back', async () => {
  const r = await rig({ version: '2v24', noCrc32: true });
  try {
    const res = ok(await run(r, BUNDLE));
    assert.is(res.verified, 'readback');
    assert.ok(same(r.board.storage.get('bundle'), BUNDLE));
  } finally {
    await r.close();
  }
});

test('packet lengths never put 0x03 or 0x04 in the length word, and add up', () => {
  for (const chunk of [16, 259, 260, 1024, 1027, 8191]) {
    for (let total = 1; total < 3000; total += 1) {
      let left = total;
      let n = 0;
      while (left > 0) {
        const k = packetLength(left, chunk);
        assert.ok(k >= 1 && k <= chunk);
        assert.not.ok([3, 4].includes(k & 0xff), `${k} of ${left} (chunk ${chunk})`);
        left -= k;
        n++;
      }
      assert.ok(n <= Math.ceil(total / chunk) + 2);
    }
  }
});

/** Code whose 1024-byte chunks start with 0x03, and that holds 0x04 when asked. */
function controlBytes(with04: boolean): Uint8Array {
  const b = new Uint8Array(4096).fill(0x41);
  for (let off = 0; off < b.length; off += 1024) b[off] = 0x03;
  if (with04) b[100] = 0x04;
  return b;
}

ptyTest('Espruino\'s Linux build: 0x03 in a packet goes after a pause, code with 0x04 goes as text', async () => {
  let r = await rig({ linux: true });
  try {
    const res = ok(await run(r, controlBytes(false), { protocol: 'packet' }));
    assert.is(res.protocol, 'packet');
    assert.is(r.board.stats.ctrlC, 0, 'no 0x03 was taken for Ctrl-C');
    assert.not.ok(r.board.stats.exited);
    assert.ok(same(r.board.storage.get('bundle'), controlBytes(false)));
  } finally {
    await r.close();
  }
  r = await rig({ linux: true });
  try {
    const res = ok(await run(r, controlBytes(true)));
    assert.is(res.protocol, 'text', 'auto does not send 0x04 raw');
    assert.not.ok(r.board.stats.exited);
    assert.ok(same(r.board.storage.get('bundle'), controlBytes(true)));
  } finally {
    await r.close();
  }
});

test.run();

// `picolink flash --board B --port P`: build a board's bundle and upload it to an Espruino board on a
// serial port (host/flash/flash.ts: prompt, then Storage by 2v25 packets or by text, verified by
// CRC32; see there), by default to .bootcde so that it runs at every start, then load() to run it now.
// --to ram types it into the REPL instead (--save keeps it), --to file:NAME writes a Storage file and
// leaves it (load("NAME") on the board runs it). --bundle FILE uploads a file instead of a board's build. A progress bar in bytes goes to
// stderr when it is a terminal (one line a quarter otherwise); --json prints the result as one object.
// Exit 1 with a message saying what to try when the board fails (no prompt, wrong baud, out of memory,
// Storage full, verify mismatch), 2 for a wrong command line.
// A pseudo-terminal (/dev/pts/N, a virtual board) has no baud rate: the upload is paced at --baud as a
// UART would be, so the board's XON/XOFF works as it does on a real line.

import { readFileSync } from 'node:fs';
import { Option, InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { openSerial } from '../../hal/node/serial.ts';
import { buildBoard, bundleList, espruinoBoardNames } from '../build/board.ts';
import { FlashError, checkStorageName, flash } from '../flash/flash.ts';
import type { FlashResult, FlashTarget, Protocol } from '../flash/flash.ts';
import { intArg } from './args.ts';
import { resolvePort } from './ports.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

/** --to: boot | ram | file:NAME. */
export function targetArg(s: string): FlashTarget {
  if (s === 'boot') return { to: 'boot' };
  if (s === 'ram') return { to: 'ram' };
  const m = /^file:(.*)$/.exec(s);
  if (m) {
    const bad = checkStorageName(m[1]);
    if (bad) throw new InvalidArgumentError(`${bad[0].toUpperCase()}${bad.slice(1)}.`);
    return { to: 'file', name: m[1] };
  }
  throw new InvalidArgumentError('Write boot (Storage .bootcde, run at every start), ram (typed into the REPL) or file:NAME (a Storage file).');
}

/** "[#########...........]  45%  29.3/65.1 kB  9.8 kB/s" */
export function progressBar(done: number, total: number, ms: number, width = 24): string {
  const f = total > 0 ? done / total : 1;
  const full = Math.round(f * width);
  const rate = ms > 0 ? done / ms : 0; // bytes per ms = kB/s
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%  ${(done / 1000).toFixed(1)}/${(total / 1000).toFixed(1)} kB  ${rate.toFixed(1)} kB/s`;
}

export function registerFlash(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'flash', "upload a board's bundle to an Espruino board: to Storage (verified by CRC32) or RAM", [
    ['picolink flash --board pico --port /dev/ttyACM0', 'build pico, write it to .bootcde, verify, and run it'],
    ['picolink flash --bundle app.js --port /dev/ttyUSB0 --baud 9600 --to ram', 'type app.js into the REPL of a board on a 9600-baud UART'],
    ['picolink flash --board sim --port /dev/pts/3 --to file:gw.js --json', 'a named Storage file on a virtual board; the result as JSON'],
  ]);
  cmd
    .requiredOption('--port <path>', 'the serial port, or serial:<USB serial number> (picolink ports lists them)')
    .addOption(new Option('--board <name>', `build this board's bundle, or a role bundle such as sim-gateway, and upload it (boards: ${espruinoBoardNames().join(', ')})`))
    .addOption(new Option('--bundle <file>', 'upload this file instead of building a board'))
    .addOption(new Option('--baud <rate>', 'baud rate (USB ports take any)').argParser(intArg(300, 4_000_000)).default(115_200))
    .addOption(new Option('--to <where>', 'boot | ram | file:NAME').argParser(targetArg).default({ to: 'boot' }, 'boot'))
    .addOption(new Option('--protocol <p>', 'auto: packets on 2v25 and later, text before').choices(['auto', 'packet', 'text']).default('auto'))
    .addOption(new Option('--chunk <bytes>', 'bytes per chunk or packet').argParser(intArg(16, 8191)).default(1024))
    .addOption(new Option('--reset', 'reset() the board first (clears its RAM)'))
    .addOption(new Option('--erase', 'erase the target Storage file first'))
    .addOption(new Option('--no-run', 'do not start it after writing (boot: no load(); a file is never started)'))
    .addOption(new Option('--save', 'with --to ram: save() afterwards so it survives a reset'))
    .addOption(new Option('--no-flow', 'ignore XON/XOFF from the board'))
    .addOption(new Option('--retries <n>', 'whole uploads again after a verify mismatch').argParser(intArg(0, 10)).default(2))
    .addOption(new Option('--json', 'print the result as JSON'))
    .action(async (o: {
      port: string; board?: string; bundle?: string; baud: number; to: FlashTarget; protocol: Protocol; chunk: number;
      reset?: boolean; erase?: boolean; run: boolean; save?: boolean; flow: boolean; retries: number; json?: boolean;
    }) => {
      if (!o.board === !o.bundle) usageError(cmd, 'give either --board NAME (build it and upload the bundle) or --bundle FILE');
      if (o.save && o.to.to !== 'ram') usageError(cmd, '--save goes with --to ram (Storage uploads survive a reset anyway)');
      const list = await bundleList();
      const bundles = list.filter((b) => b.runtime === 'espruino').map((b) => b.name);
      const hosted = list.find((b) => b.name === o.board && b.runtime !== 'espruino');
      if (hosted) usageError(cmd, `${o.board} is not an Espruino bundle (it runs under ${hosted.runtime === 'deno' ? 'Deno' : 'Node'}): copy dist/${o.board}.js to the machine and run it there (README: "Edge and host nodes"); boards to flash: ${bundles.join(', ')}`);
      if (o.board && !bundles.includes(o.board)) usageError(cmd, `no board or bundle named ${o.board}; there are ${bundles.join(', ')}`);
      let code: Uint8Array | null = null;
      let what = '';
      if (o.bundle) {
        try {
          code = new Uint8Array(readFileSync(o.bundle));
        } catch (e) {
          usageError(cmd, `cannot read --bundle ${o.bundle} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
        what = o.bundle;
      }
      // The port before a build: a wrong path fails at once.
      let serial;
      try {
        serial = await openSerial(await resolvePort(o.port), { baud: o.baud, pace: o.port.startsWith('/dev/pts/') });
      } catch (e) {
        io.err(`picolink: ${(e as Error).message}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      if (!code) {
        try {
          const b = await buildBoard(o.board!);
          code = new Uint8Array(readFileSync(b.file));
          what = `${o.board} (${b.file})`;
        } catch (e) {
          await serial.close();
          io.err(`picolink: building ${o.board} failed: ${(e as Error).message}\n`);
          ctx.exit(EXIT_FAILED);
          return;
        }
      }
      const tty = !o.json && process.stderr.isTTY === true;
      const t0 = performance.now();
      let quarter = 0;
      const onProgress = (done: number, total: number): void => {
        if (o.json) return;
        if (tty) {
          io.err(`\r${progressBar(done, total, performance.now() - t0)}`);
          if (done >= total) io.err('\n');
        } else if (total > 0 && done * 4 >= quarter * total) {
          io.err(`flash: ${progressBar(done, total, performance.now() - t0)}\n`);
          quarter = Math.floor((done * 4) / total) + 1;
        }
      };
      if (!o.json) io.err(`flash: ${what}, ${code!.length} B, to ${o.port} at ${o.baud} baud\n`);
      let r: FlashResult;
      try {
        r = await flash(serial, code!, {
          target: o.to, protocol: o.protocol, chunkBytes: o.chunk, reset: o.reset, erase: o.erase, run: o.run ? undefined : false,
          save: o.save, flowControl: o.flow, retries: o.retries, onProgress,
          onStep: o.json ? undefined : (s) => io.err(`flash: ${s}\n`),
        });
      } catch (e) {
        await serial.close();
        if (!(e instanceof FlashError)) throw e;
        if (o.json) io.out(JSON.stringify({ ok: false, code: e.code, error: e.message, boardSaid: e.boardSaid }) + '\n');
        else {
          io.err(`picolink: flash failed: ${e.message}\n`);
          // Its last lines, as text: escape sequences and bytes that are not text left out.
          const said = e.boardSaid.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[^\x20-\x7e\r\n\t]/g, '').trim();
          if (said && e.code !== 'BUSY' && e.code !== 'WRONG_BAUD') io.err(`the board said: ${said.split(/\r?\n/).slice(-6).join('\n  ')}\n`);
        }
        ctx.exit(EXIT_FAILED);
        return;
      }
      await serial.close();
      if (o.json) {
        io.out(JSON.stringify({ ok: true, ...r, crc32: `0x${r.crc32.toString(16).padStart(8, '0')}` }) + '\n');
        return;
      }
      const rate = r.ms > 0 ? (r.bytes / r.ms).toFixed(1) : '?';
      const check = r.verified === 'none' ? 'not verified (RAM)' : `verified by ${r.verified === 'crc32' ? `CRC32 0x${r.crc32.toString(16).padStart(8, '0')}` : 'reading it back'}`;
      io.out(`flash: ${r.bytes} B to ${r.target} on Espruino ${r.board.version} (${r.board.board}) by ${r.protocol} in ${(r.ms / 1000).toFixed(1)} s (${rate} kB/s), ${check}` +
        `${r.resends ? `, ${r.resends} resent` : ''}${r.attempts > 1 ? `, ${r.attempts} uploads` : ''}${r.console.xoffs ? `, ${r.console.xoffs} XOFF pauses` : ''}; ${r.started ? 'started' : 'not started'}\n`);
      // What the code printed as it started, when it is text (a gateway's first frames are not).
      const said = r.boardSaid.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/(^|\n)>\s*$/, '').trim();
      const text = said.replace(/[^\x20-\x7e\r\n\t]/g, '');
      if (said && text.length >= 0.9 * said.length) io.out(`the board said: ${text.split(/\r?\n/).slice(0, 6).join('\n  ')}\n`);
    });
}

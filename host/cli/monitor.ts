// `picolink monitor --port P`: watch a board's serial line. Every picolink frame is decoded
// (host/monitor/decode.ts: the MAC tunnel's messages with the payload inside, telemetry frames), what
// the board prints is shown as text, and anything else as noise; each line has a timestamp. --log
// appends the same lines to a file; --json prints one JSON object a line. It only listens (a bridge
// and a monitor cannot share a port: use `picolink bridge --pcap` to watch a bridged line).
// Exit: Ctrl-] (or Ctrl-C) when standard input is a terminal, SIGINT or SIGTERM, --for, or the port
// going away (exit 1, with what happened).

import { appendFileSync, closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { openSerial } from '../../hal/node/serial.ts';
import { describeFrame } from '../monitor/decode.ts';
import { lineSplitter } from '../monitor/stream.ts';
import { durationArg, intArg } from './args.ts';
import { resolvePort } from './ports.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

/** Largest frame the monitor decodes (every board's frames are smaller). */
const MONITOR_MTU = 512;

/** "12:03:04.567" local time. */
function clock(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function registerMonitor(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'monitor', "watch a board's serial line: picolink frames decoded, the board's text, timestamps", [
    ['picolink monitor --port /dev/ttyUSB0', 'watch the gateway on that port until Ctrl-]'],
    ['picolink monitor --port /dev/ttyACM0 --log gw.log --json', 'one JSON object a line, also appended to gw.log'],
  ]);
  cmd
    .requiredOption('--port <path>', 'the serial port, or serial:<USB serial number> (picolink ports lists them)')
    .addOption(new Option('--baud <rate>', 'baud rate').argParser(intArg(300, 4_000_000)).default(115_200))
    .addOption(new Option('--log <file>', 'append every line to this file too'))
    .addOption(new Option('--json', 'one JSON object a line: {"t", "frame"} | {"t", "text"} | {"t", "noise"}'))
    .addOption(new Option('--for <duration>', 'stop after this long (500ms, 5s, 2m)').argParser(durationArg))
    .action(async (o: { port: string; baud: number; log?: string; json?: boolean; for?: number }) => {
      // A log that was not there before is removed again when the port does not open (no empty files left).
      const logExisted = o.log !== undefined && existsSync(o.log);
      if (o.log) {
        try {
          closeSync(openSync(o.log, 'a'));
        } catch (e) {
          usageError(cmd, `cannot write ${o.log} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a file in a directory that exists`);
        }
      }
      let serial;
      try {
        serial = await openSerial(await resolvePort(o.port), { baud: o.baud, pace: false, onError: (e) => finish(`the port failed: ${e.message}`) });
      } catch (e) {
        if (o.log && !logExisted) rmSync(o.log, { force: true });
        io.err(`picolink: ${(e as Error).message}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      const emit = (line: string): void => {
        io.out(line + '\n');
        if (o.log) appendFileSync(o.log, line + '\n');
      };
      const at = (): Date => new Date();
      const split = lineSplitter(MONITOR_MTU, {
        frame(f, len) {
          const d = describeFrame(f, len);
          emit(o.json ? JSON.stringify({ t: at().toISOString(), frame: d.fields }) : `${clock(at())}  ${d.text}`);
        },
        text(line) {
          emit(o.json ? JSON.stringify({ t: at().toISOString(), text: line }) : `${clock(at())}  | ${line}`);
        },
        noise(n) {
          emit(o.json ? JSON.stringify({ t: at().toISOString(), noise: n }) : `${clock(at())}  ? ${n} bytes that are not a frame`);
        },
      });
      // A prompt with no newline shows once the line has been quiet for a moment.
      let quiet: ReturnType<typeof setTimeout> | null = null;
      serial.onData((b, len) => {
        split.push(b, len);
        if (quiet) clearTimeout(quiet);
        quiet = setTimeout(() => split.flush(), 100);
      });
      if (!o.json) io.err(`monitor: ${o.port} at ${o.baud} baud; ${process.stdin.isTTY ? 'Ctrl-] to stop' : 'SIGINT to stop'}\n`);

      let failure: string | null = null;
      let resolveDone: () => void = () => {};
      const done = new Promise<void>((r) => { resolveDone = r; });
      function finish(why?: string): void {
        if (why && !failure) failure = why;
        resolveDone();
      }
      const onKey = (k: Buffer): void => {
        if (k.includes(0x1d) || k.includes(0x03)) finish(); // Ctrl-] or Ctrl-C in raw mode
      };
      const raw = process.stdin.isTTY === true && typeof process.stdin.setRawMode === 'function';
      if (raw) {
        process.stdin.setRawMode(true);
        process.stdin.on('data', onKey);
        process.stdin.resume();
      }
      const onSignal = (): void => finish();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const limit = o.for !== undefined ? setTimeout(() => finish(), Math.ceil(o.for / 1000)) : null;
      const watch = setInterval(() => { if (serial.closed) finish(`${o.port} went away (unplugged, or closed by the system)`); }, 200);
      await done;
      clearInterval(watch);
      if (limit) clearTimeout(limit);
      if (quiet) clearTimeout(quiet);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (raw) {
        process.stdin.off('data', onKey);
        process.stdin.setRawMode(false);
        process.stdin.pause();
      }
      split.flush();
      await serial.close();
      const s = split.stats;
      if (!o.json) io.err(`monitor: ${s.frames} frames, ${s.textLines} text lines, ${s.noiseBytes} bytes of noise (${s.crcErrors} CRC errors)\n`);
      if (failure) {
        io.err(`picolink: ${failure}\n`);
        ctx.exit(EXIT_FAILED);
      }
    });
}

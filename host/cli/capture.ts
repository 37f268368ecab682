// `picolink capture --port P --out file.pcap`: record what a board sends on its serial line, frame by
// frame, into a capture Wireshark opens with host/wireshark/picolink.lua: a gateway's tunnel messages
// as proto 7 (tunnel; their payloads decoded through the service byte), bare telemetry frames from a
// relaying gateway as proto 1. Timestamps are microseconds since the capture started. It only listens;
// to record a line the bridge is using, give the bridge --pcap instead (that records both ways). Stops
// on Ctrl-C, SIGTERM or --for, and prints how many frames it wrote.

import { existsSync, rmSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { openSerial } from '../../hal/node/serial.ts';
import { realClock } from '../../hal/node/clock.ts';
import { framedLink } from '../../hal/framing/link.ts';
import { CAP_MEDIUM, CAP_PROTO, captureRecord, fileSink, pcapWriter } from '../../hal/mw/pcap.ts';
import { parseTelemetry, TELEMETRY_TYPE } from '../../firmware/codec/telemetry.ts';
import { GATEWAY_LINE_MTU } from '../bridge/gateway.ts';
import { durationArg, intArg } from './args.ts';
import { resolvePort } from './ports.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

export function registerCapture(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'capture', "record a board's serial frames to a pcap file for Wireshark", [
    ['picolink capture --port /dev/ttyUSB0 --out gw.pcap', 'until Ctrl-C; then: tshark -X lua_script:host/wireshark/picolink.lua -r gw.pcap'],
    ['picolink capture --port /dev/ttyACM0 --out gw.pcap --for 30s', 'thirty seconds of the line'],
  ]);
  cmd
    .requiredOption('--port <path>', 'the serial port, or serial:<USB serial number> (picolink ports lists them)')
    .requiredOption('--out <file>', 'the capture file to write (libpcap, link type USER0)')
    .addOption(new Option('--baud <rate>', 'baud rate').argParser(intArg(300, 4_000_000)).default(115_200))
    .addOption(new Option('--for <duration>', 'stop after this long (500ms, 5s, 2m)').argParser(durationArg))
    .action(async (o: { port: string; out: string; baud: number; for?: number }) => {
      let sink;
      // A capture file that was not there before and got nothing (the port did not open) is removed.
      const existed = existsSync(o.out);
      try {
        sink = fileSink(o.out);
      } catch (e) {
        usageError(cmd, `cannot write ${o.out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a file in a directory that exists`);
      }
      const writer = pcapWriter(sink);
      let serial;
      try {
        serial = await openSerial(await resolvePort(o.port), { baud: o.baud, pace: false });
      } catch (e) {
        sink.close();
        if (!existed) rmSync(o.out, { force: true });
        io.err(`picolink: ${(e as Error).message}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      const clock = realClock();
      const link = framedLink(serial, { mtu: GATEWAY_LINE_MTU, clock });
      const h = { src: 0, seq: 0 };
      let frames = 0;
      link.onReceive((f, len, info) => {
        const proto = f[0] === TELEMETRY_TYPE && parseTelemetry(f, len, h) ? CAP_PROTO.TELEMETRY : CAP_PROTO.TUNNEL;
        captureRecord(writer, info.timeUs, false, 0, proto, CAP_MEDIUM.serial, f, len);
        frames++;
      });
      io.err(`capture: ${o.port} at ${o.baud} baud to ${o.out}; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          process.off('SIGINT', done);
          process.off('SIGTERM', done);
          clearInterval(watch);
          if (limit) clearTimeout(limit);
          resolve();
        };
        const limit = o.for !== undefined ? setTimeout(done, Math.ceil(o.for / 1000)) : null;
        const watch = setInterval(() => { if (serial.closed) done(); }, 200);
        process.on('SIGINT', done);
        process.on('SIGTERM', done);
      });
      const lost = serial.closed;
      await serial.close();
      clock.close();
      sink.close();
      const s = link.stats;
      io.out(`capture: ${frames} frames written to ${o.out} (${s.crcErrors} failed their CRC, ${s.malformed + s.oversized} malformed)\n`);
      if (lost) {
        io.err(`picolink: ${o.port} went away during the capture (unplugged?); what came before is in ${o.out}\n`);
        ctx.exit(EXIT_FAILED);
      }
    });
}

// `picolink ports`: the serial ports this machine has, with what USB says about each (manufacturer,
// VID:PID, serial number), from hal/node/ports.ts (serialport's list, or sysfs on Linux without udev).
// Pseudo-terminals are not listed: they are not devices the system enumerates. A board is then chosen
// in the other verbs by path (--port /dev/ttyACM0) or by USB serial number (--port serial:3A0041000C51,
// resolvePort), which stays the same whichever path the system gives the board; `--serial <number>`
// here prints the path of the port whose USB serial number matches, for scripts (exit 1 when none does).

import { Option } from 'commander';
import type { Command } from 'commander';
import { listPorts } from '../../hal/node/ports.ts';
import type { PortInfo } from '../../hal/node/ports.ts';
import { EXIT_FAILED, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';
import { table } from './devices.ts';

/** Where the list comes from (a test swaps it). */
export const portSource = { list: listPorts };

/** "0403:6001" from a port's USB ids, or "" without them. */
export function vidPid(p: PortInfo): string {
  return p.vendorId && p.productId ? `${p.vendorId.toLowerCase()}:${p.productId.toLowerCase()}` : '';
}

/** The prefix of a --port value naming a board by its USB serial number. */
export const SERIAL_PREFIX = 'serial:';

/**
 * The path for a --port value: a path as it is, or `serial:<number>` looked up among the ports (a
 * USB serial number, compared without case). Rejects, saying what to check, when none matches.
 */
export async function resolvePort(spec: string): Promise<string> {
  if (!spec.startsWith(SERIAL_PREFIX)) return spec;
  const sn = spec.slice(SERIAL_PREFIX.length).toLowerCase();
  const list = await portSource.list();
  const hit = list.find((p) => (p.serialNumber ?? '').toLowerCase() === sn);
  if (!hit) throw new Error(`no serial port has USB serial number ${spec.slice(SERIAL_PREFIX.length)} (picolink ports lists ${list.length}, with their serial numbers); is the board plugged in?`);
  return hit.path;
}

export function registerPorts(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'ports', 'list serial ports with manufacturer, VID:PID and serial number', [
    ['picolink ports', 'a table of the serial ports'],
    ['picolink ports --json', 'the same as JSON, for programs'],
    ['picolink ports --serial 3A0041000C51', 'the path of the board with that USB serial number'],
  ]);
  cmd
    .addOption(new Option('--json', 'print the list as JSON'))
    .addOption(new Option('--serial <number>', 'print only the path of the port with this USB serial number'))
    .action(async (o: { json?: boolean; serial?: string }) => {
      let list: PortInfo[];
      try {
        list = await portSource.list();
      } catch (e) {
        io.err(`picolink: cannot list serial ports: ${(e as Error).message}\n`);
        ctx.exit(EXIT_FAILED);
        return;
      }
      const rows = list.map((p) => ({ path: p.path, manufacturer: p.manufacturer ?? '', vidPid: vidPid(p), serialNumber: p.serialNumber ?? '' }));
      if (o.serial !== undefined) {
        const hit = rows.filter((r) => r.serialNumber.toLowerCase() === o.serial!.toLowerCase());
        if (hit.length === 0) {
          io.err(`picolink: no serial port has USB serial number ${o.serial} (picolink ports lists ${rows.length}); is the board plugged in?\n`);
          ctx.exit(EXIT_FAILED);
          return;
        }
        io.out(o.json ? JSON.stringify(hit[0]) + '\n' : hit[0].path + '\n');
        return;
      }
      if (o.json) io.out(JSON.stringify(rows) + '\n');
      else if (rows.length === 0) io.out('no serial ports found (plug a board in by USB; pseudo-terminals are not listed)\n');
      else io.out(table([['PORT', 'MANUFACTURER', 'VID:PID', 'SERIAL NUMBER'], ...rows.map((r) => [r.path, r.manufacturer, r.vidPid, r.serialNumber])]));
    });
}

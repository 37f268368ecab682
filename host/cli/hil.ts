// `picolink hil --map map.json`: the hardware-in-the-loop suite (host/hil/hil.ts) against every target
// of the map: boards on serial ports, virtual boards on pseudo-terminals, the simulator. Prints one line
// per step as it goes and a summary; writes JUnit XML, JSON and a log per step to --out (default
// hil-report/). Exit 1 when a step failed, 2 for a map that cannot be read or is wrong (the message
// names the field) or an --out directory that cannot be created or written (checked before the run). `npm run hil` runs hil/default.json (a virtual board and the simulator).

import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { checkMap, reportDir, runHil } from '../hil/hil.ts';
import type { HilMap } from '../hil/hil.ts';
import { hasSocat } from '../../hal/node/pty.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

export function registerHil(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'hil', 'run the hardware-in-the-loop suite against boards, virtual boards and the simulator', [
    ['picolink hil --map hil/default.json', 'a virtual board and the simulator (what npm run hil runs)'],
    ['picolink hil --map lab.json --out reports --no-flash', 'the boards in lab.json, as they are, reports in reports/'],
  ]);
  cmd
    .requiredOption('--map <file>', 'the targets: {"targets": [{"name", "board", "port" | "virtual": true | "simulator": true}]}')
    .addOption(new Option('--out <dir>', 'where the reports go').default('hil-report'))
    .addOption(new Option('--no-flash', 'use the boards as they are'))
    .addOption(new Option('--json', 'print the results as JSON instead of lines'))
    .action(async (o: { map: string; out: string; flash: boolean; json?: boolean }) => {
      let map: HilMap;
      try {
        map = checkMap(JSON.parse(readFileSync(o.map, 'utf8')));
      } catch (e) {
        const hint = e instanceof SyntaxError ? ' (the map is JSON: {"targets": [...]}; hil/default.json is one to start from)' : '';
        usageError(cmd, `--map ${o.map}: ${(e as Error).message}${hint}`);
      }
      try {
        reportDir(o.out);
      } catch (e) {
        usageError(cmd, (e as Error).message);
      }
      if (map.targets.some((t) => t.virtual) && !hasSocat()) {
        io.err('picolink: virtual boards need socat for their pseudo-terminals (Debian package socat); those targets will fail to connect\n');
      }
      const r = await runHil(map, { out: o.out, noFlash: !o.flash, progress: o.json ? undefined : (l) => io.out(l + '\n') });
      if (o.json) io.out(JSON.stringify({ targets: r.targets, passed: r.passed, failed: r.failed, skipped: r.skipped }) + '\n');
      else io.out(`hil: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped; reports: ${r.junit}, ${r.json}\n`);
      if (r.failed > 0) ctx.exit(EXIT_FAILED);
    });
}

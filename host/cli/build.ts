// `picolink build [--board B]`: the board bundles (dist/<board>.js), each minified, checked against the
// JavaScript Espruino runs and against its byte budget, exactly as `npm run build` does (the same rollup
// configuration, rollup.config.js), with a table of sizes against budgets or --json. Edge and host
// boards (runtime deno or node, e.g. deno-edge) are ES modules checked against their budget only; the
// table says so in its RESULT column, --json in each result's "runtime". Exit 1 when a
// bundle fails its checks (the message names the board, the rule or the budget), 2 for an unknown board.

import { relative } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { boardNames, buildBoard, bundleList } from '../build/board.ts';
import type { BuiltBundle } from '../build/board.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';
import { table } from './devices.ts';

interface Built { board: string; file: string; bytes: number; budgetBytes: number; runtime: string; ok: boolean; error?: string }

export function registerBuild(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const cmd = verb(program, 'build', 'build the board bundles, each checked against its byte budget and, for Espruino boards, Espruino\'s language', [
    ['picolink build', 'every board: dist/<board>.js, with sizes against budgets'],
    ['picolink build --board pico --json', 'one board; the result as JSON'],
  ]);
  cmd
    .addOption(new Option('--board <name>', `only this board's bundles (${boardNames().join(', ')}), or one bundle (sim-gateway)`))
    .addOption(new Option('--json', 'print the results as JSON'))
    .action(async (o: { board?: string; json?: boolean }) => {
      // --board names a board (its bundles: the main one and its role bundles) or one bundle.
      const all = await bundleList();
      const boardFile = boardNames().includes(o.board ?? '') ? all.find((b) => b.name === o.board)!.file : null;
      const boards = all.filter((b) => !o.board || b.name === o.board || b.file === boardFile).map((b) => b.name);
      if (boards.length === 0) usageError(cmd, `no board or bundle named ${o.board}; there are ${all.map((b) => b.name).join(', ')}`);
      const results: Built[] = [];
      for (const board of boards) {
        try {
          results.push({ ...await buildBoard(board), ok: true });
        } catch (e) {
          const m = (e as { built?: BuiltBundle }).built ?? { board, file: '', bytes: 0, budgetBytes: 0, runtime: all.find((b) => b.name === board)!.runtime };
          results.push({ ...m, ok: false, error: (e as Error).message });
        }
      }
      if (o.json) io.out(JSON.stringify(results) + '\n');
      else {
        io.out(table([['BOARD', 'BYTES', 'BUDGET', 'USE', 'RESULT'], ...results.map((r) => [
          r.board, String(r.bytes), String(r.budgetBytes), r.budgetBytes ? `${Math.round((100 * r.bytes) / r.budgetBytes)}%` : '', r.ok ? `ok: ${relative(process.cwd(), r.file) || r.file}${r.runtime === 'espruino' ? '' : ` (${r.runtime}: ES module, budget only)`}` : 'FAILED',
        ])]));
      }
      for (const r of results.filter((x) => !x.ok)) io.err(`picolink: ${r.error}\n`);
      if (results.some((r) => !r.ok)) ctx.exit(EXIT_FAILED);
    });
}

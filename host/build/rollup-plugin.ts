// Rollup plugins for board bundles: a virtual entry per board (it exports the board's data and
// create(), and calls create() at load on boards that start themselves), and the bundle gate: every
// emitted chunk is checked against Espruino's language (espruino-check.ts) and the board's byte
// budget, and the build fails with the list of problems if either check fails. Boards whose runtime
// is 'deno' or 'node' (boards/board.ts) run under a full JavaScript runtime: the gate checks their
// byte budget only.

import type { Plugin } from 'rollup';
import { checkEspruino } from './espruino-check.ts';
import type { BoardInfo } from '../../boards/board.ts';

const PREFIX = '\0picolink-board:';

/** Entry module for a board file (absolute path). */
export function boardEntry(boardFile: string, info: BoardInfo): Plugin {
  const id = PREFIX + info.name;
  return {
    name: 'picolink-board-entry',
    resolveId: (source) => (source === id ? id : null),
    load(source) {
      if (source !== id) return null;
      const path = JSON.stringify(boardFile);
      return info.autostart
        ? `import { board, create } from ${path};\nexport { board, create };\ncreate();\n`
        : `export { board, create } from ${path};\n`;
    },
  };
}
export const entryId = (info: BoardInfo): string => PREFIX + info.name;

export interface BundleReport {
  board: string;
  /** Where the bundle runs (boards/board.ts runtime); only 'espruino' bundles are language-checked. */
  runtime: 'espruino' | 'deno' | 'node';
  bytes: number;
  budgetBytes: number;
  problems: number;
}

/**
 * Fails the build when a chunk breaks Espruino's language (Espruino boards only) or the byte budget
 * (every board); reports sizes.
 */
export function espruinoGate(info: BoardInfo, report?: (r: BundleReport) => void): Plugin {
  const runtime = info.runtime ?? 'espruino';
  return {
    name: 'picolink-espruino-gate',
    generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const problems = runtime === 'espruino' ? checkEspruino(chunk.code) : [];
        const bytes = Buffer.byteLength(chunk.code, 'utf8');
        report?.({ board: info.name, runtime, bytes, budgetBytes: info.budgetBytes, problems: problems.length });
        if (problems.length > 0) {
          const list = problems.slice(0, 20).map((p) => `  ${chunk.fileName}:${p.line}:${p.column} ${p.rule}: ${p.message}`).join('\n');
          this.error(`board ${info.name}: the bundle uses JavaScript Espruino does not run (${problems.length} problem${problems.length === 1 ? '' : 's'}, at places in the minified bundle; the rule's name says what to look for in the source):\n${list}\n` +
            'Board code must stay inside what Espruino runs (README, "Boards and bundles"); host/build/espruino-check.ts says each rule and why.');
        }
        if (bytes > info.budgetBytes) {
          this.error(`board ${info.name}: bundle is ${bytes} bytes, over its budget of ${info.budgetBytes} bytes ` +
            `(boards/${info.name}.ts budgetBytes). Shrink the code the board carries, or raise the budget with a reason.`);
        }
      }
    },
  };
}

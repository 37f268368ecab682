// What every verb of the `picolink` command shares: where output goes, the exit codes, and how a
// verb is declared (its summary, a hint after a usage error, examples under its help).
// Each verb lives in its own file under host/cli/ and exports one function that adds it to the program.

import type { Command } from 'commander';

/** Exit codes: the run did what was asked (and every check passed). */
export const EXIT_OK = 0;
/** The run went through but a check it makes failed (the output says which). */
export const EXIT_FAILED = 1;
/** The command line was wrong: unknown verb or option, a bad value, options that do not go together. */
export const EXIT_USAGE = 2;

/** Where a run writes: text as given, newlines included (process.stdout/stderr, or a test's buffers). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface VerbContext {
  io: Io;
  /** Sets the exit code run() returns once the verb's action is over (EXIT_OK unless set). */
  exit(code: number): void;
}

/** Adds one verb (with its sub-verbs) to the program. */
export type VerbFn = (program: Command, ctx: VerbContext) => void;

/**
 * A sub-command of `parent` with its summary and examples; after a usage error it points to its own
 * help. `examples` are [command line, what it does] pairs; the first is required.
 */
export function verb(parent: Command, name: string, summary: string, examples: [string, string][]): Command {
  const path = fullName(parent) + ' ' + name;
  const cmd = parent.command(name).description(summary);
  cmd.showHelpAfterError(`(${path} --help shows what it takes, with examples)`);
  cmd.addHelpText('after', examplesText(examples));
  return cmd;
}

export function examplesText(examples: [string, string][]): string {
  if (examples.length === 0) throw new Error('a verb needs at least one example');
  return '\nExamples:\n' + examples.map(([line, what]) => `  $ ${line}\n      ${what}`).join('\n');
}

/** "picolink sim conversation" for that command. */
export function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Stop with a usage error (exit 2), saying what was wrong and what to write instead. */
export function usageError(cmd: Command, message: string): never {
  cmd.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: 'picolink.usage' });
  throw new Error('unreachable: Command.error returns only when exits are not overridden');
}

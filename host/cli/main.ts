// The `picolink` command line (commander): the program, its verbs, and the exit codes (host/cli/verb.ts:
// 0 ok, 1 a check failed, 2 usage error). Each verb is one file under host/cli/ that exports a function
// adding it to the program; list it in VERBS. run(argv, io) is the whole command, callable in-process
// (tests pass their own io); bin/picolink.js loads this file, which then runs on process.argv.

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerSim } from './sim.ts';
import { registerPorts } from './ports.ts';
import { registerBuild } from './build.ts';
import { registerFlash } from './flash.ts';
import { registerMonitor } from './monitor.ts';
import { registerCapture } from './capture.ts';
import { registerHil } from './hil.ts';
import { registerBridge } from './bridge.ts';
import { registerDevices } from './devices.ts';
import { EXIT_OK, EXIT_USAGE, examplesText } from './verb.ts';
import type { Io, VerbContext, VerbFn } from './verb.ts';

/** The verbs, in the order `picolink --help` lists them. */
const VERBS: VerbFn[] = [registerPorts, registerBuild, registerFlash, registerMonitor, registerCapture, registerBridge, registerDevices, registerHil, registerSim];

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };

export const processIo: Io = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
};

/** The program with every verb, writing to io; `exit` receives the code an action sets. */
export function program(ctx: VerbContext): Command {
  const p = new Command('picolink')
    .description(pkg.description)
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show this help')
    .configureOutput({
      writeOut: (s) => ctx.io.out(s),
      writeErr: (s) => ctx.io.err(s),
      outputError: (s, write) => write(s),
    })
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(picolink --help lists the verbs, with examples)')
    .addHelpText('after', examplesText([
      ['picolink sim conversation --nodes 4 --loss 10% --seed 1 --trace conv.jsonl', 'a Psync conversation over a lossy network, its trace and checks'],
      ['picolink sim demo --for 5s --speed max', 'the demonstration network for five simulated seconds'],
      ['picolink bridge --sim', 'a simulated gateway network on 127.0.0.1:47910; then, elsewhere: picolink devices'],
      ['picolink call sensor-1 1', 'call operation 1 on the device named sensor-1 through the running bridge'],
    ]) + '\n\nExit codes: 0 ok, 1 the run (or a check, a call, a device) failed, 2 usage error.');
  for (const add of VERBS) add(p, ctx);
  return p;
}

/**
 * Runs the command line `argv` (without node and the script: ['sim', 'conversation', ...]) and
 * returns the exit code. Usage errors are reported on io.err and return 2; they never exit the process.
 */
export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let code = EXIT_OK;
  const p = program({ io, exit: (c) => { code = c; } });
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // --help and --version end the run early and well; everything else commander stops on (unknown
    // verb or option, a bad value, a missing verb) is a usage error.
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
  }
  return code;
}

/** Started as the program (through bin/picolink.js, or this file directly), not imported by a test? */
function isProgram(): boolean {
  try {
    const entry = realpathSync(process.argv[1] ?? '');
    const self = realpathSync(fileURLToPath(import.meta.url));
    const bin = realpathSync(fileURLToPath(new URL('../../bin/picolink.js', import.meta.url)));
    return entry === self || entry === bin;
  } catch {
    return false;
  }
}

if (isProgram()) {
  // `picolink ... --trace - | head`: the reader went away; stop quietly, as a shell pipeline expects.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  process.exitCode = await run(process.argv.slice(2));
}

// `picolink sim <scenario>`: runs a simulated network in virtual time, deterministic by seed.
//   conversation  N hosts in one Psync conversation with the ordered broadcast by waves over a lossy
//                 network (host/sim/conversation.ts); writes a JSONL trace of what each application saw
//                 and checks the protocol's promises from it (exit 1 when one fails); --crash
//                 NODE@TIME+DOWN crashes a host and restarts it (the library's rejoin)
//   demo          the demonstration network `npm start` runs (host/sim/demo.ts, through host/start.ts)
// Probabilities are read as fractions (0.1) or percentages (10%); durations as 500ms, 5s, 2m.

import { closeSync, openSync, writeSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { CONV_DEFAULT_LIMIT_US, CONV_LIMITS, conversation, traceLine } from '../sim/conversation.ts';
import { fileSink, pcapWriter } from '../../hal/mw/pcap.ts';
import type { FileSink } from '../../hal/mw/pcap.ts';
import type { ConversationSummary } from '../sim/conversation.ts';
import { startDemo } from '../start.ts';
import { durationArg, fractionArg, intArg, seedArg, speedArg } from './args.ts';
import { EXIT_FAILED, usageError, verb } from './verb.ts';
import type { VerbContext } from './verb.ts';

/** A file to write lines to, in 64 KiB writes; opened at once so a bad path is a usage error up front. */
function lineFile(cmd: Command, path: string): { line(s: string): void; close(): void } {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    usageError(cmd, `cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a file in a directory that exists, or - for standard output`);
  }
  let buf: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (buf.length > 0) writeSync(fd, buf.join(''));
    buf = [];
    size = 0;
  };
  return {
    line(s: string): void {
      buf.push(s, '\n');
      size += s.length + 1;
      if (size >= 65536) flush();
    },
    close(): void {
      flush();
      closeSync(fd);
    },
  };
}

const pct = (x: number): string => `${+(x * 100).toFixed(2)} %`;

/** --crash NODE@TIME+DOWN: crash NODE at virtual TIME, restart it DOWN later (2@3s+1s). */
function crashArg(s: string): { node: number; atUs: number; downUs: number } {
  const m = /^(\d+)@([^+]+)\+(.+)$/.exec(s.trim());
  if (!m) throw new InvalidArgumentError('Write NODE@TIME+DOWN, like 2@3s+1s: node 2 crashes at 3 s of virtual time and restarts 1 s later.');
  const node = Number(m[1]);
  if (!(node >= CONV_LIMITS.nodesMin - 1 && node <= CONV_LIMITS.nodesMax)) throw new InvalidArgumentError(`The node is one of the hosts, 1..${CONV_LIMITS.nodesMax}.`);
  return { node, atUs: durationArg(m[2]), downUs: durationArg(m[3]) };
}

function summaryText(s: ConversationSummary): string {
  const out: string[] = [];
  out.push(`conversation: ${s.nodes} nodes, ${s.messagesPerNode} messages each; loss ${pct(s.loss)}, duplication ${pct(s.dup)}, reordering ${pct(s.reorder)}; seed ${s.seed}`);
  out.push(`sent ${s.sent}, delivered ${s.delivered} (each to ${s.nodes - 1} others: ${s.sent * (s.nodes - 1)}), committed ${s.committed} (at each of ${s.nodes} nodes: ${s.sent * s.nodes})`);
  out.push(s.finished
    ? `virtual time ${(s.virtualUs / 1e6).toFixed(6)} s to the last commit`
    : `virtual time limit ${(s.limitUs / 1e6).toFixed(3)} s reached before every node committed every message`);
  out.push(`same commit sequence at every node: ${s.sameSequence ? 'yes' : 'no'}`);
  if (s.crash) {
    const c = s.crash;
    out.push(`crash: node ${c.node} at ${(c.atUs / 1e6).toFixed(3)} s, down ${(c.downUs / 1e6).toFixed(3)} s; ` + (c.rejoinedUs === null
      ? 'it never rejoined'
      : `rejoined at ${(c.rejoinedUs / 1e6).toFixed(3)} s, its commits resuming at ${c.position! + 1} (${c.missed} skipped: stable elsewhere, not replayable)`));
  }
  if (s.membership) {
    const m = s.membership;
    const back = m.rejoinedRemoved.reduce((a, b) => a + b, 0);
    out.push(`membership: ${m.suspected.reduce((a, b) => a + b, 0)} removals by failure detection, ${m.joined.reduce((a, b) => a + b, 0)} switches back in` + (back > 0 ? `; ${back} restarts of live hosts removed by mistake (${m.rejoinedRemoved.map((k, i) => k > 0 ? `node ${i + 1}: ${k}` : '').filter(Boolean).join(', ')})` : ''));
  }
  const n = s.network;
  out.push(`network: ${n.frames} frames, ${n.acks} ACKs, ${n.watchdogResends} watchdog resends, ${n.rtx} retransmission requests`);
  out.push('checks:');
  for (const c of s.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
  return out.join('\n');
}

export function registerSim(program: Command, ctx: VerbContext): void {
  const { io } = ctx;
  const sim = verb(program, 'sim', 'run a simulated scenario in virtual time (the same seed gives the same run)', [
    ['picolink sim conversation --nodes 4 --loss 10% --seed 7', 'four hosts in a Psync conversation over a lossy network, with a summary and its checks'],
    ['picolink sim demo --for 5s --speed max', 'the demonstration network, five simulated seconds as fast as it runs'],
  ]);

  const L = CONV_LIMITS;
  const conv = verb(sim, 'conversation', 'hosts in a Psync conversation under loss: a trace, and checks of delivery and commit order', [
    ['picolink sim conversation --nodes 4 --loss 10% --seed 1 --trace conv.jsonl', 'write the trace to conv.jsonl and print a summary with the checks'],
    ['picolink sim conversation --nodes 8 --loss 0.3 --messages 50 --json', '8 hosts, 30 % loss, 50 messages each; the summary as JSON'],
    ['picolink sim conversation --seed 3 --trace - | grep \'"ev":"commit"\'', 'the trace on standard output, one JSON object a line'],
    ['picolink sim conversation --nodes 4 --loss 20% --crash 2@300ms+3s', 'host 2 crashes at 0.3 s and restarts 3 s later: it rebuilds, rejoins and resumes the sequence'],
  ]);
  conv
    .addOption(new Option('--nodes <n>', `hosts in the conversation, ${L.nodesMin}..${L.nodesMax}`).argParser(intArg(L.nodesMin, L.nodesMax)).default(4))
    .addOption(new Option('--messages <m>', `data messages each host sends, ${L.messagesMin}..${L.messagesMax}`).argParser(intArg(L.messagesMin, L.messagesMax)).default(20))
    .addOption(new Option('--loss <p>', `frames each host drops, a fraction 0..${L.lossMax} (0.1) or a percentage (10%)`).argParser(fractionArg(L.lossMax)).default(0.1, '10%'))
    .addOption(new Option('--dup <p>', 'frames received twice, fraction or percentage').argParser(fractionArg(1)).default(0.05, '5%'))
    .addOption(new Option('--reorder <p>', 'frames held back behind the next one, fraction or percentage').argParser(fractionArg(1)).default(0.1, '10%'))
    .addOption(new Option('--seed <s>', 'random seed, 0..4294967295: the same seed gives the same trace, byte for byte').argParser(seedArg).default(1))
    .addOption(new Option('--for <duration>', 'virtual time limit (500ms, 5s, 2m): the run stops there if not every host has committed everything').argParser(durationArg).default(CONV_DEFAULT_LIMIT_US, '10m'))
    .addOption(new Option('--trace <file>', 'write the trace (JSON lines: send, deliver, commit) to file, or - for standard output'))
    .addOption(new Option('--pcap <file>', 'capture every Psync message each host sends and receives (open with: tshark -X lua_script:host/wireshark/picolink.lua -r <file>)'))
    .addOption(new Option('--crash <node@time+down>', 'crash a host at a virtual time and restart it after a while (2@3s+1s); it rebuilds from the others and rejoins').argParser(crashArg))
    .addOption(new Option('--suspect <duration>', 'failure detection: a host the others wait for, silent this long (300ms, 3s), is removed; a live host removed so restarts its conversation and rejoins (default: 3s with --crash, else off)').argParser(durationArg))
    .addOption(new Option('--log', 'every host logs the conversation (Psync log, flash in memory) and serves freed messages from it: a crashed host replays everything'))
    .addOption(new Option('--json', 'print the summary as one JSON object'))
    .addHelpText('after', `
Trace lines, in the order things happened (t in virtual µs):
  {"t":1234,"node":"2","ev":"send","mid":"2:17"}               host 2 sends its 17th data message
  {"t":2345,"node":"3","ev":"deliver","mid":"2:17","from":"2"} host 3's application receives it
  {"t":3456,"node":"3","ev":"commit","mid":"2:17"}             host 3 commits it (own messages too)
Nodes are the hosts' addresses 1..N; a mid is <node>:<n> for that node's n-th data message. ACKs and
other control messages are not the application's and are left out. With --crash, also:
  {"t":3000000,"node":"2","ev":"crash"}                        host 2 stops (its messages in flight are lost)
  {"t":4000000,"node":"2","ev":"restart"}                      host 2 restarts from the root (Psync restart)
  {"t":4100000,"node":"2","ev":"rejoin","position":57}         back: its next commit is the 58th of the sequence
With --suspect, a live host the others removed (a false suspicion) ends that life and restarts at once:
  {"t":5000000,"node":"3","ev":"removed"}                      host 3 was removed while running
  {"t":5000000,"node":"3","ev":"restart"}                      and restarts its conversation, then rejoins
After the restart its replay commits the sequence again from the first; commits it could not replay
(stable elsewhere, copies gone) are skipped, and it resumes at the rejoin's position. The checks then
ask the same of the others, and of the restarted host its sequence less that stretch. Without --trace, or with a file,
a summary is printed; with --trace - standard output holds the trace alone. Exit 1 when a check fails.`)
    .action(async (o: { nodes: number; messages: number; loss: number; dup: number; reorder: number; seed: number; for: number; trace?: string; pcap?: string; json?: boolean; log?: boolean; suspect?: number; crash?: { node: number; atUs: number; downUs: number } }) => {
      if (o.crash && o.crash.node > o.nodes) usageError(conv, `--crash names node ${o.crash.node}, but there are ${o.nodes} nodes`);
      if (o.trace === '-' && o.json) usageError(conv, '--json and --trace - both write to standard output: give --trace a file name, or leave out --json');
      const file = o.trace !== undefined && o.trace !== '-' ? lineFile(conv, o.trace) : null;
      let sink: FileSink | null = null;
      if (o.pcap) {
        try {
          sink = fileSink(o.pcap);
        } catch (e) {
          usageError(conv, `cannot write ${o.pcap} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give a file in a directory you can write`);
        }
      }
      let r: ReturnType<typeof conversation>;
      try {
        r = conversation({ nodes: o.nodes, messages: o.messages, loss: o.loss, dup: o.dup, reorder: o.reorder, seed: o.seed, limitUs: o.for, pcap: sink ? pcapWriter(sink) : undefined, crash: o.crash, log: o.log, suspectUs: o.suspect });
      } catch (e) {
        sink?.close();
        usageError(conv, (e as Error).message);
      }
      sink?.close();
      if (file) {
        for (const e of r.events) file.line(traceLine(e));
        file.close();
      } else if (o.trace === '-') {
        io.out(r.events.map((e) => traceLine(e) + '\n').join(''));
      }
      const s = r.summary;
      if (o.json) io.out(JSON.stringify(s) + '\n');
      else if (o.trace !== '-') io.out(summaryText(s) + (file ? `\ntrace: ${r.events.length} lines written to ${o.trace}` : '') + (o.pcap ? `\ncapture written to ${o.pcap}` : '') + '\n');
      const failed = s.checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        for (const c of failed) io.err(`picolink: check failed: ${c.name}: ${c.detail}\n`);
        ctx.exit(EXIT_FAILED);
      }
    });

  const demo = verb(sim, 'demo', 'the demonstration network of npm start (sensors, piconet, gateway, serial, host)', [
    ['picolink sim demo --for 5s --speed max --seed 7', 'five simulated seconds as fast as they run, then the summary'],
    ['picolink sim demo --speed 10 --pcap demo.pcap', 'ten simulated seconds per second until Ctrl-C, with a capture for Wireshark'],
  ]);
  demo
    .addOption(new Option('--for <duration>', 'stop after this much simulated time (500ms, 5s, 2m); default: run until Ctrl-C').argParser(durationArg))
    .addOption(new Option('--seed <s>', 'random seed, 0..4294967295: the same seed replays the same run').argParser(seedArg).default(1))
    .addOption(new Option('--sensors <n>', 'sensors in the network, 1..32').argParser(intArg(1, 32)).default(5))
    .addOption(new Option('--wearables <n>', "wearables in the hub's piconet, 0..7").argParser(intArg(0, 7)).default(3))
    .addOption(new Option('--speed <x>', 'simulated seconds per wall second, or max (needs --for)').argParser(speedArg).default(1))
    .addOption(new Option('--pcap <file>', 'write a capture (open with: tshark -X lua_script:host/wireshark/picolink.lua -r <file>)'))
    .addOption(new Option('--trace <file>', 'write every medium and wire event, one a line, to file, or - for standard output'))
    .addOption(new Option('--json', 'print the summary as one JSON object'))
    .action(async (o: { for?: number; seed: number; sensors: number; wearables: number; speed: number; pcap?: string; trace?: string; json?: boolean }) => {
      const file = o.trace !== undefined && o.trace !== '-' ? lineFile(demo, o.trace) : null;
      const trace = file ? file.line : o.trace === '-' ? (l: string) => io.out(l + '\n') : undefined;
      let go: () => Promise<void>;
      try {
        go = startDemo({
          seed: o.seed, sensors: o.sensors, wearables: o.wearables, forUs: o.for ?? Infinity, speed: o.speed,
          pcap: o.pcap, json: !!o.json, trace, out: (l) => io.out(l + '\n'),
        });
      } catch (e) {
        file?.close();
        usageError(demo, (e as Error).message);
      }
      try {
        await go();
      } finally {
        file?.close();
      }
    });
}

// `picolink sim conversation --crash NODE@TIME+DOWN` (host/sim/conversation.ts, host/cli/sim.ts): a host
// crashes and restarts from the root with the Psync library's rejoin. Every property is read from the
// JSONL trace with this test's own reading of it: the hosts that ran throughout commit one sequence with
// every message; the restarted host's commits after its restart are that sequence less one stretch,
// which ends where its rejoin line says; what it sent once back is committed everywhere. Then the
// scenario's own checker is shown to catch a doctored crash trace, and bad --crash values are usage errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../../host/cli/main.ts';
import { checkTrace, conversation } from '../../../host/sim/conversation.ts';
import type { TraceEvent } from '../../../host/sim/conversation.ts';

interface Line { t: number; node: string; ev: string; mid?: string; from?: string; position?: number }

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

function properties(lines: Line[], nodes: number, victim: string, label: string): { missed: number; after: number } {
  const ids = Array.from({ length: nodes }, (_, i) => String(i + 1));
  const kinds = lines.filter((e) => e.node === victim && ['crash', 'restart', 'rejoin'].includes(e.ev)).map((e) => e.ev);
  assert.equal(kinds, ['crash', 'restart', 'rejoin'], `${label}: the victim's crash, restart and rejoin, in order`);
  const restartAt = lines.findIndex((e) => e.node === victim && e.ev === 'restart');
  const rejoinAt = lines.findIndex((e) => e.node === victim && e.ev === 'rejoin');
  const position = lines[rejoinAt].position!;
  const commits = (id: string, from = 0) => lines.slice(from).filter((e) => e.node === id && e.ev === 'commit').map((e) => e.mid!);
  const steady = ids.filter((id) => id !== victim);
  const ref = commits(steady[0]);
  const sent = lines.filter((e) => e.ev === 'send').map((e) => e.mid!);
  for (const id of steady) assert.equal(commits(id), ref, `${label}: node ${id} commits the sequence of node ${steady[0]}`);
  assert.is(new Set(ref).size, ref.length, `${label}: nothing committed twice`);
  const inRef = new Set(ref);
  for (const m of sent) {
    const by = m.split(':')[0];
    const sentAt = lines.findIndex((e) => e.ev === 'send' && e.mid === m);
    // Only what the victim sent before its crash and nobody received may be missing (lost with it).
    if (by === victim && sentAt < restartAt && !lines.some((e) => e.ev === 'deliver' && e.mid === m)) continue;
    assert.ok(inRef.has(m), `${label}: ${m} committed by the hosts that ran throughout`);
  }
  const mine = commits(victim, restartAt);
  let k = 0;
  while (k < mine.length && mine[k] === ref[k]) k++;
  const missed = ref.length - mine.length;
  assert.equal(mine, [...ref.slice(0, k), ...ref.slice(k + missed)], `${label}: the restarted host's commits are the sequence less one stretch`);
  if (missed > 0) assert.is(position, k + missed, `${label}: the stretch ends where the rejoin line says`);
  const after = sent.filter((m) => m.startsWith(`${victim}:`) && lines.findIndex((e) => e.ev === 'send' && e.mid === m) > rejoinAt);
  for (const m of after) assert.ok(mine.includes(m), `${label}: ${m}, sent once back, committed by the restarted host`);
  return { missed, after: after.length };
}

test('--crash: the trace records the crash, the restart and the rejoin; one sequence, resumed after the stretch it could not replay', async () => {
  let missedSome = 0;
  let sentAfter = 0;
  for (const [nodes, loss, seed, crash] of [[4, '20%', 2, '2@300ms+3s'], [3, '10%', 5, '3@500ms+200ms'], [6, '30%', 1, '1@400ms+4s']] as const) {
    const label = `${nodes} nodes, loss ${loss}, seed ${seed}, crash ${crash}`;
    const r = await cli('sim', 'conversation', '--nodes', String(nodes), '--messages', '30', '--loss', loss, '--seed', String(seed), '--crash', crash, '--trace', '-');
    assert.is(r.code, 0, `${label}: ${r.err}`);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    for (const e of lines) {
      const keys = Object.keys(e).join(',');
      const want = e.ev === 'deliver' ? 't,node,ev,mid,from' : e.ev === 'rejoin' ? 't,node,ev,position' : e.ev === 'crash' || e.ev === 'restart' ? 't,node,ev' : 't,node,ev,mid';
      assert.is(keys, want, `${label}: keys of ${e.ev}`);
    }
    const { missed, after } = properties(lines, nodes, crash.split('@')[0], label);
    if (missed > 0) missedSome++;
    sentAfter += after;
    const again = await cli('sim', 'conversation', '--nodes', String(nodes), '--messages', '30', '--loss', loss, '--seed', String(seed), '--crash', crash, '--trace', '-');
    assert.is(again.out, r.out, `${label}: the same seed gives the same trace`);
  }
  assert.ok(missedSome > 0, 'some restarted host could not replay every commit');
  assert.ok(sentAfter > 0, 'some restarted host sent data once back');
});

test('--crash --log: every host logs and serves what it freed; the restarted host replays everything, its commits exactly the others\'', async () => {
  for (const [nodes, loss, seed, crash] of [[4, '20%', 2, '2@300ms+3s'], [4, '10%', 3, '2@300ms+5s'], [6, '30%', 1, '1@400ms+4s'], [5, '30%', 7, '3@300ms+5s']] as const) {
    const label = `${nodes} nodes, loss ${loss}, seed ${seed}, crash ${crash}, logs`;
    const r = await cli('sim', 'conversation', '--nodes', String(nodes), '--messages', '30', '--loss', loss, '--seed', String(seed), '--crash', crash, '--log', '--trace', '-');
    assert.is(r.code, 0, `${label}: ${r.err}`);
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    const victim = crash.split('@')[0];
    const { missed } = properties(lines, nodes, victim, label);
    assert.is(missed, 0, `${label}: nothing skipped`);
    // Its new life delivered every message of the others, those committed while it was down included.
    const restartAt = lines.findIndex((e) => e.node === victim && e.ev === 'restart');
    const got = new Set(lines.slice(restartAt).filter((e) => e.node === victim && e.ev === 'deliver').map((e) => e.mid));
    const other = victim === '1' ? '2' : '1';
    const ref = lines.filter((e) => e.node === other && e.ev === 'commit' && !e.mid!.startsWith(`${victim}:`)).map((e) => e.mid!);
    for (const m of ref) assert.ok(got.has(m), `${label}: ${m} delivered again to the restarted host`);
    const json = await cli('sim', 'conversation', '--nodes', String(nodes), '--messages', '30', '--loss', loss, '--seed', String(seed), '--crash', crash, '--log', '--json');
    assert.is(JSON.parse(json.out).crash.missed, 0, `${label}: the summary says 0 skipped`);
  }
});

test('--crash with --json: the summary says when the host was back, where it resumed and what it skipped', async () => {
  const r = await cli('sim', 'conversation', '--nodes', '4', '--messages', '30', '--loss', '10%', '--seed', '3', '--crash', '2@300ms+5s', '--json');
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.is(s.crash.node, 2);
  assert.is(s.crash.atUs, 300_000);
  assert.is(s.crash.downUs, 5_000_000);
  assert.ok(s.crash.rejoinedUs > 5_300_000, 'back after its restart');
  assert.ok(s.crash.missed > 0 && s.crash.position >= s.crash.missed, 'a 5 s crash skips the waves the others committed meanwhile');
  assert.ok(s.membership.suspected.some((x: number) => x > 0), 'the others removed it while it was down');
  assert.ok(s.finished && s.ok);
});

test("the checker catches a restarted host's commit left out or one taken twice", () => {
  const r = conversation({ nodes: 3, messages: 20, loss: 0.1, seed: 4, crash: { node: 3, atUs: 200_000, downUs: 2_500_000 } });
  assert.ok(r.summary.ok, JSON.stringify(r.summary.checks));
  const ids = ['1', '2', '3'];
  const failing = (ev: TraceEvent[]) => checkTrace(ids, ev, r.contexts).filter((c) => !c.ok).map((c) => c.name).sort();
  const restart = r.events.findIndex((e) => e.node === '3' && e.ev === 'restart');
  const mine = r.events.map((e, i) => [e, i] as const).filter(([e, i]) => i > restart && e.node === '3' && e.ev === 'commit');
  assert.ok(mine.length > 3);
  // Its last commit dropped: no longer the sequence less one stretch.
  const dropped = r.events.filter((_, i) => i !== mine[mine.length - 1][1]);
  assert.ok(failing(dropped).includes('same commit sequence'), 'a commit left out at the end');
  // One of its commits repeated.
  const twice = [...r.events, mine[mine.length - 2][0]];
  assert.ok(failing(twice).includes('all committed'), 'a commit taken twice');
});

test('bad --crash values are usage errors that say what to write', async () => {
  for (const bad of ['2', '2@3s', 'two@3s+1s', '2@3s+0s']) {
    const r = await cli('sim', 'conversation', '--crash', bad);
    assert.is(r.code, 2, `--crash ${bad}`);
    assert.match(r.err, /NODE@TIME\+DOWN|duration|above zero/i, `--crash ${bad}: ${r.err}`);
  }
  const r = await cli('sim', 'conversation', '--nodes', '3', '--crash', '5@1s+1s');
  assert.is(r.code, 2);
  assert.match(r.err, /node 5.*3 nodes/);
  const late = await cli('sim', 'conversation', '--crash', '2@20m+1s');
  assert.is(late.code, 2, 'a crash whose restart comes after the time limit never happens in the run');
  assert.match(late.err, /not before the time limit.*--for/);
});

test.run();

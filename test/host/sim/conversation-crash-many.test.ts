// `picolink sim conversation --crash` at 6 and 8 hosts under 30 % loss (host/sim/conversation.ts): the
// seeded runs that once diverged or stalled after a crash, each read back from its own trace.
// - 8 hosts, seed 3: one host removed all seven others by failure detection, one after another, and
//   committed alone (a sequence nobody else had); with one removal at a time it cannot, and the REMOVE
//   markers, admitted beyond the records quota, reach every host.
// - 8 hosts, seed 3, and 6 hosts, seed 2: the restarted host acknowledged nothing during its replay
//   while the others' data filled every Psync graph node; the library's unstableMax holds data back,
//   and the scenario sizes the graph at 16 nodes per host.
// - With logs: the same runs, the restarted host replaying everything (missed 0), in a bounded number
//   of frames (the run that stalled sent 15 million).
// - With logs, 4 hosts, seeds 1 and 6: the victim's log held an own message nobody had received; once
//   every running host's REMOVE marker was in its view, its replay could not tell whether the others'
//   waves held that message (only the JOINs said so), its 48 records filled with the others' messages
//   and the JOINs never got in (1.37 million frames, never back). The markers now name the removed
//   host's newest message their sender had, so its later ones wait for the switch at every host alike.
// - Without logs, 8 hosts seed 6 (and 8 hosts seeds 11 and 18, 6 hosts seed 13): the victim's replay
//   had a gap and jumped to a JOIN's cut, passing over the REMOVE markers for it; it did not count
//   itself removed, so its waves waited for its own acknowledgement, which its full records kept out
//   (committed nothing in its final life). A JOIN saying it was removed now stands for the markers;
//   and onRejoin's position is where the jump landed, though the replay may commit more before it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { conversation } from '../../../host/sim/conversation.ts';
import type { ConversationRun } from '../../../host/sim/conversation.ts';

const CRASH = { node: 2, atUs: 400_000, downUs: 4_000_000 };

/** The trace's own reading: one sequence at the hosts that ran throughout, holding every message sent
 * (but the victim's unreceived ones); the victim's commits after its restart are a suffix-joined part of it. */
function readBack(r: ConversationRun, nodes: number, label: string): void {
  const ev = r.events;
  const victim = String(CRASH.node);
  const commits = (id: string, from = 0) => ev.slice(from).filter((e) => e.node === id && e.ev === 'commit').map((e) => (e as { mid: string }).mid);
  const steady = Array.from({ length: nodes }, (_, i) => String(i + 1)).filter((id) => id !== victim);
  const ref = commits(steady[0]);
  for (const id of steady) assert.equal(commits(id), ref, `${label}: node ${id} commits the sequence of node ${steady[0]}`);
  const restartAt = ev.findIndex((e) => e.node === victim && e.ev === 'restart');
  const rejoinAt = ev.findIndex((e) => e.node === victim && e.ev === 'rejoin');
  assert.ok(restartAt > 0 && rejoinAt > restartAt, `${label}: the victim restarted and rejoined`);
  const inRef = new Set(ref);
  for (const e of ev) {
    if (e.ev !== 'send') continue;
    const at = ev.indexOf(e);
    const lost = e.node === victim && at < restartAt && !ev.some((d) => d.ev === 'deliver' && d.mid === e.mid);
    if (!lost) assert.ok(inRef.has(e.mid), `${label}: ${e.mid} committed by the hosts that ran throughout`);
  }
  const mine = commits(victim, restartAt);
  let k = 0;
  while (k < mine.length && mine[k] === ref[k]) k++;
  const missed = ref.length - mine.length;
  assert.equal(mine, [...ref.slice(0, k), ...ref.slice(k + missed)], `${label}: the restarted host's commits are the sequence less one stretch`);
}

function runOk(nodes: number, seed: number, log: boolean): ConversationRun {
  const label = `${nodes} hosts, 30 %, seed ${seed}${log ? ', logs' : ''}`;
  const r = conversation({ nodes, loss: 0.3, seed, messages: 30, crash: CRASH, log });
  const s = r.summary;
  for (const c of s.checks) assert.ok(c.ok, `${label}: ${c.name}: ${c.detail}`);
  // One failure at a time: no host's detector removed more than the crashed one and nobody was left out.
  for (const [i, n] of s.membership!.suspected.entries()) assert.ok(n <= 1, `${label}: host ${i + 1} suspected ${n} participants`);
  assert.ok(s.crash!.rejoinedUs !== null, `${label}: the victim rejoined`);
  readBack(r, nodes, label);
  return r;
}

test('8 hosts, 30 % loss, seed 3, crash 2@400ms+4s: one sequence, the victim back (once: a host removed every other and committed alone)', () => {
  runOk(8, 3, false);
});

test('6 hosts, 30 % loss, seed 2, crash 2@400ms+4s: one sequence, the victim back (once: stalled after its rejoin)', () => {
  runOk(6, 2, false);
});

test('--log, 8 hosts seed 3 and 6 hosts seed 2: the victim replays everything, in a bounded number of frames', () => {
  for (const [nodes, seed] of [[8, 3], [6, 2]] as const) {
    const r = runOk(nodes, seed, true);
    assert.is(r.summary.crash!.missed, 0, `${nodes} hosts, seed ${seed}, logs: nothing skipped`);
    // The stalled run sent 15 467 653 frames; a passing one some 10 000-25 000.
    assert.ok(r.summary.network.frames < 100_000, `${nodes} hosts, seed ${seed}, logs: ${r.summary.network.frames} frames`);
  }
});

test('--log, 4 hosts, seeds 1 and 6: an own message nobody received is in the victim\'s log, and it replays everything (once: never back)', () => {
  for (const seed of [1, 6]) {
    const label = `4 hosts, 30 %, seed ${seed}, logs`;
    const r = conversation({ nodes: 4, loss: 0.3, seed, messages: 30, crash: CRASH, log: true, limitUs: 60_000_000 });
    const s = r.summary;
    for (const c of s.checks) assert.ok(c.ok, `${label}: ${c.name}: ${c.detail}`);
    assert.ok(s.crash!.rejoinedUs !== null, `${label}: the victim rejoined`);
    assert.is(s.crash!.missed, 0, `${label}: nothing skipped`);
    for (const [i, n] of s.membership!.suspected.entries()) assert.ok(n <= 1, `${label}: host ${i + 1} suspected ${n} participants`);
    assert.ok(s.network.frames < 100_000, `${label}: ${s.network.frames} frames`);
    readBack(r, 4, label);
  }
  // Seed 1 is the case described: the victim's last message before the crash reached nobody then.
  const r = conversation({ nodes: 4, loss: 0.3, seed: 1, messages: 30, crash: CRASH, log: true, limitUs: 60_000_000 });
  const ev = r.events;
  const crashAt = ev.findIndex((e) => e.node === '2' && e.ev === 'crash');
  const lastSent = ev.slice(0, crashAt).filter((e) => e.node === '2' && e.ev === 'send').at(-1) as { mid: string };
  assert.ok(!ev.slice(0, crashAt).some((e) => e.ev === 'deliver' && e.mid === lastSent.mid), `${lastSent.mid} reached nobody before the crash`);
  assert.ok(['1', '3', '4'].every((id) => ev.some((e) => e.node === id && e.ev === 'commit' && e.mid === lastSent.mid)), `${lastSent.mid} committed by the hosts that ran throughout`);
});

test('without logs, a jump over the REMOVE markers: 8 hosts seeds 6, 11 and 18, 6 hosts seed 13: one sequence, the victim back and committing (once: committed nothing after its rejoin)', () => {
  for (const [nodes, seed] of [[8, 6], [8, 11], [8, 18], [6, 13]] as const) {
    const r = runOk(nodes, seed, false);
    const label = `${nodes} hosts, seed ${seed}`;
    assert.ok(r.summary.crash!.missed! > 0, `${label}: the victim's replay jumped (${r.summary.crash!.missed} skipped)`);
    const ev = r.events;
    const rejoinAt = ev.findIndex((e) => e.node === '2' && e.ev === 'rejoin');
    assert.ok(ev.slice(rejoinAt).some((e) => e.node === '2' && e.ev === 'commit'), `${label}: the victim commits after its rejoin`);
  }
});

test('8 hosts, seed 3, failure detection at 10 s (nobody suspected): one sequence, the victim back (once: stalled, and the victim committed past the others)', () => {
  const r = conversation({ nodes: 8, loss: 0.3, seed: 3, messages: 30, crash: CRASH, suspectUs: 10_000_000 });
  for (const c of r.summary.checks) assert.ok(c.ok, `suspectUs 10 s: ${c.name}: ${c.detail}`);
  assert.equal(r.summary.membership!.suspected, [0, 0, 0, 0, 0, 0, 0, 0], 'nobody removed');
  readBack(r, 8, 'suspectUs 10 s');
});

test('unstableMax 0 (off), 8 hosts, seed 3: whatever stalls, the hosts that ran throughout commit prefixes of one sequence, and nothing nobody sent', () => {
  const r = conversation({ nodes: 8, loss: 0.3, seed: 3, messages: 30, crash: CRASH, unstableMax: 0, limitUs: 30_000_000 });
  const byName = new Map(r.summary.checks.map((c) => [c.name, c]));
  assert.ok(byName.get('data intact')!.ok, byName.get('data intact')!.detail);
  const ev = r.events;
  const seqs = ['1', '3', '4', '5', '6', '7', '8'].map((id) => ev.filter((e) => e.node === id && e.ev === 'commit').map((e) => (e as { mid: string }).mid));
  const longest = seqs.reduce((a, b) => (b.length > a.length ? b : a));
  for (const s of seqs) assert.equal(s, longest.slice(0, s.length), 'every steady host commits a prefix of one sequence');
  for (const [i, n] of r.summary.membership!.suspected.entries()) assert.ok(n <= 1, `host ${i + 1} suspected ${n} participants`);
});

test.run();

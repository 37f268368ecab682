// `picolink sim conversation --suspect D` (host/sim/conversation.ts, host/cli/sim.ts): the library's
// failure detector removes a host that is still running (a false suspicion under 30 % loss), the host
// reads its own address in a REMOVE marker, restarts the conversation on its own endpoint and rejoins.
// Read from the JSONL trace: each such host's lines run removed, restart, rejoin; the hosts never
// removed commit one sequence holding every message; a removed host's last life commits that
// sequence's tail from where its rejoin says, and everything it sent once back. The same seeds with
// the restart turned off (rejoinRemovedUs -1) fail the scenario's checks: the removed host stays out.
// A host removed before it ever had the conversation comes in through Psync's SC notice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../../host/cli/main.ts';
import { conversation } from '../../../host/sim/conversation.ts';

interface Line { t: number; node: string; ev: string; mid?: string; position?: number }

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

// 4 hosts, 30 % loss: suspectUs 300 ms removes host 2 near the end (seed 8); 150 ms removes hosts
// again and again (seed 3: three restarts of host 3, one of host 4).
const RUNS = [['300ms', 8], ['150ms', 3]] as const;

test('--suspect: a live host removed by mistake restarts its conversation, rejoins and ends with the others\' sequence', async () => {
  let restarts = 0;
  for (const [suspect, seed] of RUNS) {
    const label = `4 nodes, 30 %, --suspect ${suspect}, seed ${seed}`;
    const r = await cli('sim', 'conversation', '--nodes', '4', '--messages', '30', '--loss', '30%', '--seed', String(seed), '--suspect', suspect, '--for', '2m', '--trace', '-');
    assert.is(r.code, 0, `${label}: ${r.err}`);
    const lines: Line[] = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const removed = [...new Set(lines.filter((e) => e.ev === 'removed').map((e) => e.node))];
    assert.ok(removed.length > 0, `${label}: some live host was removed`);
    assert.not.ok(lines.some((e) => e.ev === 'crash'), `${label}: no crash`);
    const steady = ['1', '2', '3', '4'].filter((id) => !removed.includes(id));
    const commits = (id: string, from = 0) => lines.slice(from).filter((e) => e.node === id && e.ev === 'commit').map((e) => e.mid!);
    const ref = commits(steady[0]);
    for (const id of steady) assert.equal(commits(id), ref, `${label}: node ${id} commits the sequence of node ${steady[0]}`);
    const sent = lines.filter((e) => e.ev === 'send').map((e) => e.mid!);
    assert.is(new Set(ref).size, ref.length, `${label}: nothing committed twice`);
    const inRef = new Set(ref);
    let lost = 0;
    for (const m of sent) {
      const by = m.split(':')[0];
      const at = lines.findIndex((e) => e.ev === 'send' && e.mid === m);
      let restartAt = -1;
      lines.forEach((e, i) => { if (e.node === by && e.ev === 'restart') restartAt = i; });
      // Only what a removed host sent before its restart and nobody received may be missing: its life
      // in the conversation had ended (the others ignored it), and its restart starts from the root.
      if (!inRef.has(m) && at < restartAt && !lines.some((e) => e.ev === 'deliver' && e.mid === m)) {
        lost++;
        continue;
      }
      assert.ok(inRef.has(m), `${label}: ${m} committed by the hosts never removed`);
    }
    assert.ok(lost <= 4, `${label}: ${lost} lost with a removal`);
    for (const id of removed) {
      const mine = lines.map((e, i) => ({ e, i })).filter(({ e }) => e.node === id && ['removed', 'restart', 'rejoin'].includes(e.ev));
      for (let k = 0; k < mine.length; k += 3) {
        assert.equal(mine.slice(k, k + 3).map(({ e }) => e.ev), ['removed', 'restart', 'rejoin'], `${label}: node ${id}: removed, restart, rejoin`);
      }
      restarts += mine.length / 3;
      const last = mine[mine.length - 1];
      const lastRestart = mine[mine.length - 2].i;
      const position = last.e.position!;
      const tail = commits(id, lastRestart);
      // Its last life replays the sequence, less at most one stretch ending at the rejoin's position.
      const rest = ref.length - position;
      assert.ok(rest >= 0 && tail.length >= rest, `${label}: node ${id} committed at least the ${rest} after its rejoin's position`);
      assert.equal(tail.slice(tail.length - rest), ref.slice(position), `${label}: node ${id} ends with the sequence from commit ${position + 1}`);
      const after = sent.filter((m) => m.startsWith(`${id}:`) && lines.findIndex((e) => e.ev === 'send' && e.mid === m) > last.i);
      for (const m of after) assert.ok(tail.includes(m), `${label}: ${m}, sent once back, committed by node ${id}`);
    }
  }
  assert.ok(restarts >= 3, `restarts of removed live hosts: ${restarts}`);
});

test('without the restart, the host removed by mistake stays out and the checks fail', () => {
  for (const [suspect, seed] of RUNS) {
    const suspectUs = Number.parseInt(suspect, 10) * 1000;
    const on = conversation({ nodes: 4, messages: 30, loss: 0.3, seed, suspectUs, limitUs: 120_000_000 }).summary;
    const off = conversation({ nodes: 4, messages: 30, loss: 0.3, seed, suspectUs, limitUs: 120_000_000, rejoinRemovedUs: -1 }).summary;
    assert.ok(on.ok, `seed ${seed}: passes with the restart`);
    assert.ok(on.membership!.rejoinedRemoved.some((k) => k > 0), `seed ${seed}: a removed host restarted`);
    assert.not.ok(off.ok, `seed ${seed}: fails without it`);
    assert.ok(off.checks.some((c) => c.name === 'all committed' && !c.ok), `seed ${seed}: the removed host never commits everything`);
  }
});

test('a host removed before it ever had the conversation is sent an SC notice, restarts into it and rejoins', () => {
  // 8 hosts, 30 %, suspectUs 500 ms, seed 2: host 4's SC is lost until the others, no longer waiting
  // for it, freed it (before the notice, host 4 never took part: 210 messages never delivered there).
  const r = conversation({ nodes: 8, messages: 30, loss: 0.3, seed: 2, suspectUs: 500_000, limitUs: 120_000_000 });
  const mine = r.events.filter((e) => e.node === '4');
  assert.equal(mine.slice(0, 2).map((e) => e.ev), ['removed', 'restart'], 'its first lines: it joins by restarting');
  assert.ok(mine.some((e) => e.ev === 'rejoin'), 'back');
  assert.ok(mine.filter((e) => e.ev === 'send').length === 30, 'it sent all its messages');
  assert.ok(r.summary.ok, r.summary.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; '));
});

test('--suspect takes a duration above zero', async () => {
  const r = await cli('sim', 'conversation', '--suspect', '0');
  assert.is.not(r.code, 0);
  assert.match(r.err, /duration above zero/);
});

test.run();

// The `picolink sim conversation` scenario (host/sim/conversation.ts) run in-process through the command
// line, at several sizes, seeds and losses up to 30 %. Every property is read FROM THE JSONL TRACE, with
// this test's own reading of it: each send delivered at every other node exactly once and after
// everything its sender had seen when sending (the contexts are rebuilt from the trace's order); the
// same commit sequence at every node, of exactly the messages sent, each after its context; the same
// seed gives the same bytes. The scenario's own checker is then shown to catch doctored traces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../../host/cli/main.ts';
import { checkTrace, conversation, traceLine } from '../../../host/sim/conversation.ts';
import type { TraceEvent } from '../../../host/sim/conversation.ts';

interface Line { t: number; node: string; ev: string; mid: string; from?: string }

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

async function trace(nodes: number, messages: number, loss: string, seed: number): Promise<string> {
  const r = await cli('sim', 'conversation', '--nodes', String(nodes), '--messages', String(messages), '--loss', loss, '--seed', String(seed), '--trace', '-');
  assert.is(r.code, 0, `${nodes} nodes, loss ${loss}, seed ${seed}: ${r.err}`);
  assert.is(r.err, '');
  return r.out;
}

/** Parses the trace, checking each line's shape; returns the events in order. */
function parse(text: string, nodes: number, label: string): Line[] {
  assert.ok(text.endsWith('\n'), `${label}: ends with a newline`);
  const ids = Array.from({ length: nodes }, (_, i) => String(i + 1));
  let last = 0;
  return text.slice(0, -1).split('\n').map((l, i) => {
    const e = JSON.parse(l) as Line;
    const keys = Object.keys(e).join(',');
    assert.is(keys, e.ev === 'deliver' ? 't,node,ev,mid,from' : 't,node,ev,mid', `${label} line ${i + 1}: keys`);
    assert.ok(['send', 'deliver', 'commit'].includes(e.ev), `${label} line ${i + 1}: ev`);
    assert.ok(Number.isInteger(e.t) && e.t >= last, `${label} line ${i + 1}: time goes forward`);
    last = e.t;
    assert.ok(ids.includes(e.node), `${label} line ${i + 1}: node id`);
    const m = /^(\d+):(\d+)$/.exec(e.mid);
    assert.ok(m, `${label} line ${i + 1}: mid ${e.mid}`);
    if (e.ev === 'send') assert.is(m![1], e.node, `${label} line ${i + 1}: a node sends its own mids`);
    if (e.ev === 'deliver') assert.is(m![1], e.from, `${label} line ${i + 1}: from is the mid's sender`);
    return e;
  });
}

/** The promises, from the trace alone. Returns the commit sequence. */
function verify(ev: Line[], nodes: number, messages: number, label: string): string[] {
  const ids = Array.from({ length: nodes }, (_, i) => String(i + 1));
  const view = new Map(ids.map((id) => [id, new Set<string>()]));
  const ctx = new Map<string, Set<string>>();
  const sentAt = new Map<string, number>();
  const got = new Map(ids.map((id) => [id, new Map<string, number>()]));
  const commits = new Map(ids.map((id) => [id, [] as string[]]));
  ev.forEach((e, i) => {
    const v = view.get(e.node)!;
    if (e.ev === 'send') {
      assert.not.ok(sentAt.has(e.mid), `${label}: ${e.mid} sent twice`);
      // A node numbers its messages 1, 2, ...
      assert.is(e.mid, `${e.node}:${[...sentAt.keys()].filter((m) => m.startsWith(e.node + ':')).length + 1}`, label);
      sentAt.set(e.mid, i);
      ctx.set(e.mid, new Set(v));
      v.add(e.mid);
    } else if (e.ev === 'deliver') {
      assert.ok(sentAt.has(e.mid), `${label}: ${e.mid} delivered at ${e.node} before it was sent`);
      assert.is.not(e.from, e.node, `${label}: ${e.node} delivered its own ${e.mid}`);
      const g = got.get(e.node)!;
      g.set(e.mid, (g.get(e.mid) ?? 0) + 1);
      for (const x of ctx.get(e.mid)!) assert.ok(v.has(x), `${label}: ${e.node} got ${e.mid} before ${x}, in its context`);
      v.add(e.mid);
    } else {
      assert.ok(sentAt.has(e.mid) && sentAt.get(e.mid)! < i, `${label}: ${e.node} committed ${e.mid}, not sent before`);
      commits.get(e.node)!.push(e.mid);
    }
  });
  assert.is(sentAt.size, nodes * messages, `${label}: every node sent every message`);
  for (const [mid] of sentAt) {
    for (const id of ids) {
      if (mid.startsWith(id + ':')) continue;
      assert.is(got.get(id)!.get(mid), 1, `${label}: ${mid} delivered at ${id} exactly once`);
    }
  }
  for (const id of ids) assert.is(got.get(id)!.size, nodes * messages - messages, `${label}: ${id} got only messages sent`);
  const ref = commits.get('1')!;
  assert.is(ref.length, nodes * messages, `${label}: node 1 committed every message`);
  assert.is(new Set(ref).size, ref.length, `${label}: committed once each`);
  for (const id of ids) assert.equal(commits.get(id), ref, `${label}: node ${id} committed another sequence`);
  const pos = new Map(ref.map((m, i) => [m, i]));
  for (const [m, c] of ctx) for (const x of c) assert.ok(pos.get(x)! < pos.get(m)!, `${label}: ${m} committed before ${x}, in its context`);
  return ref;
}

test('3 and 4 nodes, seeds 1-3, loss 0-30 %: from the trace, every send delivered once everywhere else, in context order; one commit sequence', async () => {
  let concurrent = 0;
  for (const nodes of [3, 4]) {
    for (const loss of ['0', '10%', '0.3']) {
      for (const seed of [1, 2, 3]) {
        const label = `${nodes} nodes, loss ${loss}, seed ${seed}`;
        const ev = parse(await trace(nodes, 12, loss, seed), nodes, label);
        const seq = verify(ev, nodes, 12, label);
        // Some consecutive commits were of concurrent messages (neither in the other's context), or
        // the ordering would have shown little: count them from the trace.
        const sends = new Map<string, Set<string>>();
        const view = new Map<string, Set<string>>();
        for (const e of ev) {
          if (!view.has(e.node)) view.set(e.node, new Set());
          if (e.ev === 'send') sends.set(e.mid, new Set(view.get(e.node)));
          if (e.ev !== 'commit') view.get(e.node)!.add(e.mid);
        }
        for (let i = 1; i < seq.length; i++) if (!sends.get(seq[i])!.has(seq[i - 1])) concurrent++;
      }
    }
  }
  assert.ok(concurrent > 0, 'some commits put concurrent messages in order');
});

test('6 nodes under 20 % loss and 8 nodes under 30 % loss, a few messages each', async () => {
  verify(parse(await trace(6, 6, '20%', 5), 6, '6 nodes'), 6, 6, '6 nodes');
  verify(parse(await trace(8, 3, '30%', 9), 8, '8 nodes'), 8, 3, '8 nodes');
});

test('the same seed gives a byte-identical trace; another seed another one', async () => {
  const a = await trace(4, 10, '15%', 42);
  const b = await trace(4, 10, '15%', 42);
  const c = await trace(4, 10, '15%', 43);
  assert.ok(a.length > 1000);
  assert.is(a, b);
  assert.is.not(a, c);
});

test('the --json summary agrees with the trace', async () => {
  const t = parse(await trace(5, 8, '25%', 7), 5, 'json');
  const r = await cli('sim', 'conversation', '--nodes', '5', '--messages', '8', '--loss', '25%', '--seed', '7', '--json');
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  const count = (ev: string) => t.filter((e) => e.ev === ev).length;
  assert.is(s.sent, count('send'));
  assert.is(s.delivered, count('deliver'));
  assert.is(s.committed, count('commit'));
  assert.is(s.sent, 40);
  assert.is(s.virtualUs, t[t.length - 1].t, 'the run ends at the last commit');
  assert.ok(s.finished && s.sameSequence && s.ok);
  assert.is(s.checks.length, 7);
});

test('a run cut short by --for fails: not every message was sent', async () => {
  const r = await cli('sim', 'conversation', '--for', '1ms', '--json');
  assert.is(r.code, 1, 'exit 1: a check failed');
  const s = JSON.parse(r.out);
  assert.is(s.sent, 0);
  assert.not.ok(s.ok);
  assert.equal(s.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name), ['all sent']);
  assert.match(r.err, /all sent: node 1 sent 0 of 20/);
});

/** A real run's events, to doctor. */
function sample(): { ev: TraceEvent[]; ctx: Map<string, number[]>; ids: string[] } {
  const r = conversation({ nodes: 4, messages: 10, loss: 0.1, seed: 11 });
  assert.ok(r.summary.ok);
  return { ev: r.events, ctx: r.contexts, ids: ['1', '2', '3', '4'] };
}

const failing = (ids: string[], ev: TraceEvent[], ctx: Map<string, number[]>) =>
  checkTrace(ids, ev, ctx).filter((c) => !c.ok).map((c) => c.name).sort();

test("the scenario's checker passes the real trace and catches each kind of doctored one", () => {
  const { ev, ctx, ids } = sample();
  assert.equal(failing(ids, ev, ctx), []);
  // A delivery lost: the last one, so that no later delivery misses it from its context.
  const lastDeliver = [...ev].reverse().find((x) => x.ev === 'deliver');
  const lost = ev.filter((e) => e !== lastDeliver);
  assert.equal(failing(ids, lost, ctx), ['delivered exactly once']);
  // A delivery repeated at the end.
  const twice = [...ev, ev.find((x) => x.ev === 'deliver')!];
  assert.equal(failing(ids, twice, ctx), ['delivered exactly once']);
  // A delivery moved before one of its context at the same node.
  let moved: TraceEvent[] | null = null;
  for (let i = 0; i < ev.length && !moved; i++) {
    const e = ev[i];
    if (e.ev !== 'deliver') continue;
    const c = ctx.get(e.mid)!;
    const j = ev.findIndex((x) => x.ev === 'deliver' && x.node === e.node && x.from !== e.from && c[Number(x.from) - 1] >= Number(x.mid.split(':')[1]));
    const sent = ev.findIndex((x) => x.ev === 'send' && x.mid === e.mid);
    if (j > sent && j < i) moved = [...ev.slice(0, j), e, ...ev.slice(j, i), ...ev.slice(i + 1)];
  }
  assert.ok(moved, 'some delivery has another sender\'s message in its context');
  assert.equal(failing(ids, moved!, ctx), ['context order']);
  // Two commits swapped at node 2: a message and the next one, which has it in its context.
  const c2 = ev.map((e, i) => [e as TraceEvent & { mid: string }, i] as const).filter(([e]) => e.ev === 'commit' && e.node === '2');
  const k = c2.findIndex(([e], i) => i + 1 < c2.length && ctx.get(c2[i + 1][0].mid)![Number(e.mid.split(':')[0]) - 1] >= Number(e.mid.split(':')[1]));
  const swapped = [...ev];
  swapped[c2[k][1]] = c2[k + 1][0];
  swapped[c2[k + 1][1]] = c2[k][0];
  assert.equal(failing(ids, swapped, ctx), ['commits follow context', 'same commit sequence']);
  // A commit of a message never sent.
  const forged = [...ev, { t: 1e9, node: '3', ev: 'commit', mid: '3:99' } as TraceEvent];
  assert.equal(failing(ids, forged, ctx), ['all committed', 'same commit sequence']);
});

test('trace lines carry the documented keys in the documented order', () => {
  assert.is(traceLine({ t: 12, node: '2', ev: 'send', mid: '2:17' }), '{"t":12,"node":"2","ev":"send","mid":"2:17"}');
  assert.is(traceLine({ t: 13, node: '3', ev: 'deliver', mid: '2:17', from: '2' }), '{"t":13,"node":"3","ev":"deliver","mid":"2:17","from":"2"}');
  assert.is(traceLine({ t: 14, node: '3', ev: 'commit', mid: '2:17' }), '{"t":14,"node":"3","ev":"commit","mid":"2:17"}');
});

test.run();

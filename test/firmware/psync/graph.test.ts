// The context-graph image (firmware/psync/graph.ts) on hand-built graphs: the paper's figure 1,
// leaves, precedes, stability, n-stability and the transitive reduction checked against brute force
// over random conversations among in-memory images, and the memory rules of section 3.3.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { xoshiro, below } from '../../../hal/prng.ts';
import { G_BAD, G_DUP, G_E_BUFS, G_E_NODES, G_MISSING, G_OK, graphImage } from '../../../firmware/psync/graph.ts';
import type { Image } from '../../../firmware/psync/graph.ts';

interface Msg { q: number; o: number; pred: Uint16Array; key: string }
const key = (q: number, o: number) => `${q}:${o}`;
const FRAME = new Uint8Array(4);

/** Participant q sends in its image: predecessors are the leaves of its view. */
function send(img: Image, q: number): Msg {
  const pred = new Uint16Array(8);
  for (let r = 0; r < img.count(); r++) pred[r] = img.leaf[r];
  const o = img.have[q] + 1;
  assert.is(img.check(q, o, pred), G_OK);
  assert.ok(img.attach(q, o, pred, FRAME, 4, 0) >= 0);
  return { q, o, pred, key: key(q, o) };
}

function recv(img: Image, m: Msg): number {
  const st = img.check(m.q, m.o, m.pred);
  if (st === G_OK) assert.ok(img.attach(m.q, m.o, m.pred, FRAME, 4, 0) >= 0);
  return st;
}

const big = () => graphImage({ nodes: 200, bufs: 200, frameSize: 4 });

test("figure 1: m1 root; m2, m3 after m1; m4 after m1 and m3; m5 after everything", () => {
  // Senders: m1 a (the SC), m2 b, m3 c, m4 a (had m1 and m3, not m2), m5 b.
  const a = big(), b = big(), c = big(), g = big();
  for (const x of [a, b, c, g]) x.reset(3);
  const m1 = send(a, 0);
  recv(b, m1); recv(c, m1);
  const m2 = send(b, 1);
  const m3 = send(c, 2);
  recv(a, m3);
  const m4 = send(a, 0);
  recv(b, m3); recv(b, m4);
  const m5 = send(b, 1);
  assert.equal([...m4.pred.subarray(0, 3)], [0, 0, 1], 'm4 lists only m3: the edge from m1 would be redundant');
  assert.equal([...m5.pred.subarray(0, 3)], [2, 1, 0], 'm5 lists m4 and m2');
  for (const m of [m1, m2, m3, m4, m5]) assert.is(recv(g, m), G_OK);
  const ms = { m1, m2, m3, m4, m5 };
  const before: [keyof typeof ms, keyof typeof ms][] = [['m1', 'm2'], ['m1', 'm3'], ['m1', 'm4'], ['m1', 'm5'], ['m3', 'm4'], ['m3', 'm5'], ['m2', 'm5'], ['m4', 'm5']];
  for (const x of Object.keys(ms) as (keyof typeof ms)[]) {
    for (const y of Object.keys(ms) as (keyof typeof ms)[]) {
      const want = before.some(([u, v]) => u === x && v === y);
      assert.is(g.precedes(ms[x].q, ms[x].o, ms[y].q, ms[y].o), want, `${x} before ${y}`);
    }
  }
  assert.equal([...g.leaf.subarray(0, 3)], [0, 2, 0], 'the only leaf is m5');
  const succ = new Int16Array(8);
  const n = g.successors(g.find(0, 1), succ);
  assert.equal([...succ.subarray(0, n)].map((i) => key(g.sender(i), g.ord(i))).sort(), ['1:1', '2:1']);
  assert.ok(g.stable(g.find(0, 1)) && g.stable(g.find(2, 1)), 'm1 and m3 were followed by messages of both others');
  assert.not.ok(g.stable(g.find(1, 1)), 'only b itself followed m2');
  assert.is(g.nStable(g.find(1, 1)), 1);
  assert.is(g.nStable(g.find(0, 2)), 2, 'm4 is 2-stable: b sent m5 after it');
  assert.is(g.check(1, 1, m2.pred), G_DUP);
});

test('check: holding, duplicates and inconsistent predecessor lists', () => {
  const g = big();
  g.reset(3);
  const p = (...x: number[]) => Uint16Array.from([...x, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8));
  assert.is(g.check(1, 1, p(1)), G_MISSING, 'the SC has not arrived');
  assert.is(g.check(0, 1, p()), G_OK);
  assert.is(g.check(0, 1, p(0, 1)), G_BAD, 'the SC has no predecessors');
  assert.is(g.check(1, 1, p()), G_BAD, 'only the SC has none');
  assert.is(g.check(3, 1, p(1)), G_BAD, 'no participant 3');
  assert.is(g.check(0, 1, p(0, 0, 0, 1)), G_BAD, 'predecessor from participant 3');
  g.attach(0, 1, p(), FRAME, 4, 0);
  assert.is(g.check(1, 2, p(1, 1)), G_MISSING, "b's first message is missing");
  assert.is(g.check(1, 3, p(1, 1)), G_BAD, 'the own predecessor must be the previous message');
  assert.is(g.check(1, 2, p(1)), G_BAD, 'all predecessors present but the previous message is not');
  assert.is(g.check(1, 1, p(1)), G_OK);
});

/**
 * A random conversation among p in-memory images: each step one participant sends (attaching to
 * its leaves) or receives one message that is in flight to it (out of order: held until attachable).
 * Checks every image against brute force after every step.
 */
function randomRun(seed: number, p: number, steps: number) {
  const rng = xoshiro(seed);
  const imgs = Array.from({ length: p }, () => { const g = big(); g.reset(p); return g; });
  const all = new Map<string, Msg>();
  const anc = new Map<string, Set<string>>(); // transitive predecessors
  const inflight: Msg[][] = Array.from({ length: p }, () => []);
  const add = (m: Msg) => {
    all.set(m.key, m);
    const s = new Set<string>();
    for (let r = 0; r < p; r++) if (m.pred[r]) { const k = key(r, m.pred[r]); s.add(k); for (const x of anc.get(k)!) s.add(x); }
    anc.set(m.key, s);
    for (let r = 0; r < p; r++) if (r !== m.q) inflight[r].push(m);
  };
  add(send(imgs[0], 0));
  for (let s = 0; s < steps; s++) {
    const who = below(rng, p);
    if (below(rng, 3) === 0 && imgs[who].have[0] > 0) add(send(imgs[who], who));
    else if (inflight[who].length > 0) {
      // deliver any in-flight message whose predecessors are present (a holding queue in miniature)
      const q = inflight[who];
      const i = below(rng, q.length);
      const st = imgs[who].check(q[i].q, q[i].o, q[i].pred);
      assert.ok(st === G_OK || st === G_MISSING);
      if (st === G_OK) { recv(imgs[who], q[i]); q.splice(i, 1); }
    }
  }
  // Check each image against brute force over the messages it holds.
  for (let h = 0; h < p; h++) {
    const g = imgs[h];
    const inImg = [...all.values()].filter((m) => m.o <= g.have[m.q]);
    if (inImg.length === 0) continue; // never received the SC
    for (const m of inImg) for (const a of anc.get(m.key)!) assert.ok(inImg.some((x) => x.key === a), 'closed under predecessors');
    const succs = (m: Msg) => inImg.filter((x) => anc.get(x.key)!.has(m.key));
    for (const m of inImg) {
      const node = g.find(m.q, m.o);
      // transitive reduction: no listed predecessor precedes another listed one
      const preds = [...m.pred].map((o, r) => (o ? key(r, o) : '')).filter(Boolean);
      for (const x of preds) for (const y of preds) assert.not.ok(anc.get(y)!.has(x), `redundant edge ${x} -> ${m.key}`);
      const ackers = new Set(succs(m).map((x) => x.q));
      ackers.delete(m.q);
      let want = true;
      for (let r = 0; r < p; r++) if (r !== m.q && !ackers.has(r)) want = false;
      assert.is(g.stable(node), want, `stable ${m.key} at ${h}`);
      assert.is(g.nStable(node), 1 + ackers.size);
      assert.is(g.frame(node) === null, want, 'a buffer is freed exactly when its message is stable');
      const isLeaf = succs(m).length === 0;
      assert.is(g.leaf[m.q] === m.o, isLeaf, `leaf ${m.key} at ${h}`);
    }
    for (let i = 0; i < 40; i++) {
      const x = inImg[below(rng, inImg.length)];
      const y = inImg[below(rng, inImg.length)];
      assert.is(g.precedes(x.q, x.o, y.q, y.o), anc.get(y.key)!.has(x.key), `precedes ${x.key} ${y.key}`);
    }
  }
  return { imgs, all };
}

test('random conversations: leaves, precedes, stability, n-stability and the transitive reduction match brute force', () => {
  let msgs = 0;
  for (const p of [2, 3, 4, 5, 8]) {
    for (let seed = 1; seed <= 6; seed++) msgs += randomRun(seed * 31 + p, p, 150).all.size;
  }
  assert.ok(msgs > 1000, `${msgs} messages`);
});

test('masked participants do not hold stability back', () => {
  const g = big();
  g.reset(3);
  const m1 = send(g, 0);
  const pred = new Uint16Array(8);
  pred[0] = 1;
  recv(g, { q: 1, o: 1, pred, key: '1:1' });
  const x = g.find(m1.q, m1.o);
  assert.not.ok(g.stable(x), 'participant 2 has not answered');
  assert.ok(g.frame(x) !== null);
  g.setMasked(0b100);
  assert.ok(g.stable(x));
  assert.is(g.collect(), 1);
  assert.is(g.frame(x), null);
  g.setMasked(0);
  assert.not.ok(g.stable(x));
});

test('memory: buffers bound what attaches; nodes are reclaimed oldest stable first; freeNode', () => {
  const g = graphImage({ nodes: 4, bufs: 2, frameSize: 4 });
  g.reset(2);
  send(g, 0); // 0:1, unstable
  send(g, 0); // 0:2, unstable
  const pred = new Uint16Array(8);
  pred[0] = 2;
  assert.is(g.attach(1, 1, pred, FRAME, 4, 0), G_E_BUFS, 'both buffers hold unstable messages: a copy is required');
  const x = g.attach(1, 1, pred, FRAME, 4, 1);
  assert.ok(x >= 0, 'without a required copy it attaches all the same');
  assert.is(g.frame(x), null);
  assert.ok(g.stable(g.find(0, 1)) && g.frame(g.find(0, 1)) === null, 'and frees what it acknowledges');
  assert.is(g.bufsUsed(), 0);
  const one = graphImage({ nodes: 4, bufs: 4, frameSize: 4 });
  one.reset(2);
  assert.is(one.attach(0, 1, new Uint16Array(8), FRAME, 5, 0), G_E_BUFS, 'a frame longer than a buffer');
  // With more buffers the answer attaches and frees both.
  const h = graphImage({ nodes: 4, bufs: 3, frameSize: 4 });
  h.reset(2);
  send(h, 0);
  send(h, 0);
  recv(h, { q: 1, o: 1, pred, key: '1:1' });
  assert.is(h.bufsUsed(), 1, '0:1 and 0:2 stable and freed; 1:1 waits for participant 0');
  assert.is(h.stats.freed, 2);
  send(h, 0); // 0:3 acknowledges 1:1
  assert.is(h.bufsUsed(), 1);
  assert.is(h.nodesUsed(), 4, 'the node table is full now');
  send(h, 0); // 0:4 reclaims the oldest node whose buffer is gone: 0:1
  assert.is(h.stats.reclaimed, 1);
  assert.is(h.find(0, 1), -1);
  assert.ok(h.find(0, 2) >= 0);
  assert.ok(h.precedes(0, 1, 1, 1), 'a reclaimed message still precedes by the chain rule');
  assert.is(h.freeNode(1, 1), 2, 'frees 1:1 and 0:2 (0:1 is gone already)');
  assert.is(h.find(1, 1), -1);
  assert.is(h.freeNode(0, 4), 0, '0:3 and 0:4 are unstable and keep their nodes');
  // When every node holds an unstable message, attach refuses.
  const k = graphImage({ nodes: 2, bufs: 2, frameSize: 4 });
  k.reset(2);
  send(k, 0);
  send(k, 0);
  const pr = new Uint16Array(8);
  pr[0] = 2;
  assert.is(k.check(1, 1, pr), G_OK);
  assert.is(k.attach(1, 1, pr, FRAME, 4, 0), G_E_BUFS);
  assert.is(k.attach(1, 1, pr, FRAME, 4, 1), G_E_NODES, 'every node holds a message not yet stable');
  const m = graphImage({ nodes: 2, bufs: 1, frameSize: 4 });
  m.reset(1);
  send(m, 0); // one participant: stable at once, freed
  send(m, 0);
  assert.is(m.bufsUsed(), 0);
  assert.is(m.nodesUsed(), 2);
  assert.is(m.stats.reclaimed, 0);
  send(m, 0);
  assert.is(m.stats.reclaimed, 1);
});

test.run();

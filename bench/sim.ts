// Simulator speed. The classic "hold" workload for event queues: a fixed number of pending events,
// each of which, when it runs, schedules one more at a random later time. Reference, measured in the
// same run: the same hold workload on a bare binary heap of numbers in a Float64Array (no closures,
// no event objects, no tie-break, no cancel), i.e. the floor any JS scheduler could reach.
// Headline: scheduler events/s divided by the bare heap's operations/s. Also: radio medium frames/s.
import type { BenchResult } from './run.ts';
import { scheduler } from '../hal/sim/scheduler.ts';
import { medium } from '../hal/sim/medium.ts';
import { xoshiro, below } from '../hal/prng.ts';

function holdScheduler(pending: number, total: number): number {
  const s = scheduler();
  const rng = xoshiro(1);
  let left = total;
  const fn = (): void => {
    if (--left > 0) s.after(1 + below(rng, 1000), fn);
  };
  for (let i = 0; i < pending; i++) s.after(1 + below(rng, 1000), fn);
  const t0 = performance.now();
  const n = s.runAll();
  return n / ((performance.now() - t0) / 1000);
}

function holdBareHeap(pending: number, total: number): number {
  const h = new Float64Array(pending + 1);
  let size = 0;
  const rng = xoshiro(1);
  const push = (v: number): void => {
    let i = size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p] <= v) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = v;
  };
  const pop = (): number => {
    const top = h[0];
    const last = h[--size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const c = l + 1 < size && h[l + 1] < h[l] ? l + 1 : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  };
  for (let i = 0; i < pending; i++) push(1 + below(rng, 1000));
  const t0 = performance.now();
  let left = total;
  let done = 0;
  while (size > 0) {
    const t = pop();
    done++;
    if (--left > 0) push(t + 1 + below(rng, 1000));
  }
  return done / ((performance.now() - t0) / 1000);
}

function mediumFrames(): { framesPerSec: number; eventsPerSec: number } {
  const s = scheduler();
  const m = medium(s, { bitrate: 250_000, mtu: 32, preambleBits: 40 });
  const rng = xoshiro(2);
  const frame = new Uint8Array(24);
  const stations = [];
  for (let i = 0; i < 10; i++) stations.push(m.station({ x: i * 10, y: 0, range: 45 }));
  for (const st of stations) {
    const go = (): void => { s.after(200 + below(rng, 4000), () => st.link.send(frame, 24)); };
    st.link.onSent(go);
    go();
  }
  const t0 = performance.now();
  s.runUntil(60_000_000); // one virtual minute
  const sec = (performance.now() - t0) / 1000;
  let tx = 0;
  for (const st of stations) tx += st.stats.txFrames;
  return { framesPerSec: tx / sec, eventsPerSec: s.executed / sec };
}

export function bench(args: string[]): BenchResult {
  const quick = args.includes('--quick');
  const total = quick ? 300_000 : 3_000_000;
  holdScheduler(1000, total / 10); // warm-up
  holdBareHeap(1000, total / 10);
  const sched = holdScheduler(1000, total);
  const bare = holdBareHeap(1000, total);
  const sched10k = holdScheduler(10_000, total);
  const med = mediumFrames();
  return {
    name: 'sim',
    rows: [
      { name: 'scheduler, 1k pending', value: Math.round(sched), unit: 'events/s', note: sched >= 1e6 ? 'meets 1M/s' : 'BELOW 1M/s' },
      { name: 'scheduler, 10k pending', value: Math.round(sched10k), unit: 'events/s' },
      { name: 'bare number heap (reference)', value: Math.round(bare), unit: 'ops/s' },
      { name: 'radio medium, 10 stations', value: Math.round(med.framesPerSec), unit: 'frames/s', note: `${Math.round(med.eventsPerSec)} events/s` },
    ],
    headline: { label: 'scheduler / bare heap (events per second ratio)', ratio: sched / bare },
  };
}

// Board code run by log-espruino.test.ts on Espruino's interpreter and in Node: log.ts's serving walk
// (seek/next over a flash store in memory) against a stub endpoint that names two participants and
// keeps a copy of one message. Prints one line per answer: the requester, the sequence numbers served,
// and the kind bytes (RESENT cleared); then the log's counters.
import { memoryStore } from '../../../hal/sim/store.ts';
import { psyncLog } from '../../../firmware/psync/log.ts';
import type { Psync, PsyncOlder } from '../../../firmware/psync/psync.ts';
import type { Clock } from '../../../hal/clock.ts';

export function logServing(print: (s: string) => void): void {
  let attach: ((c: number, f: Uint8Array, len: number) => void) | null = null;
  let src: PsyncOlder | null = null;
  const ps = {
    stats: { skipped: 0 },
    onAttach(fn: (c: number, f: Uint8Array, len: number) => void) { attach = fn; },
    serveFrom(s: PsyncOlder) { src = s; },
    cid: () => 1 * 65536 + 100,
    participants(_c: number, out: number[]) { out[0] = 1; out[1] = 2; return 2; },
    frontier: () => 0,
    hasCopy: (_c: number, mid: number) => mid === 2 * 65536 + 5, // participant 1 is address 2
  } as unknown as Psync;
  const clock = { now: () => 0, at: () => ({}), cancel() {} } as unknown as Clock;
  const log = psyncLog({ ps, store: memoryStore(4096), clock, config: { queueBytes: 512, flushUs: 1000, serve: true, scan: 4 } });
  log.start(0);
  const f = new Uint8Array(9);
  for (let i = 1; i <= 10; i++) {
    // An AN of participant 1 (kind: index 1 << 3 | AN, RESENT on the odd ones), cid 1:100, seq i, one data byte.
    f[0] = 0x09 | (i & 1 ? 0x04 : 0); f[1] = 0; f[2] = 1; f[3] = 0; f[4] = 100; f[5] = 0; f[6] = i; f[7] = 0; f[8] = i;
    attach!(0, f, 9);
  }
  const buf = new Uint8Array(64);
  const front = new Uint16Array(8);
  // Requester 0 asks five times, each time with the newest message it got; requester 1 asks with
  // frontier 8, then restarts (frontier 0): its walk starts again.
  let last = 0;
  for (let round = 0; round < 6; round++) {
    const r = round === 4 ? 1 : 0;
    front[1] = round === 4 ? 8 : last;
    src!.seek(0, r, front);
    const seqs: number[] = [];
    let kinds = 0;
    for (let n = src!.next(buf); n > 0; n = src!.next(buf)) {
      seqs.push(buf[6]);
      kinds |= buf[0];
      if (r === 0) last = buf[6];
    }
    print('to ' + r + ': ' + seqs.join(',') + ' kinds ' + kinds);
  }
  front[1] = 0;
  src!.seek(0, 1, front);
  const again: number[] = [];
  for (let n = src!.next(buf); n > 0; n = src!.next(buf)) again.push(buf[6]);
  print('to 1 after its restart: ' + again.join(','));
  print('complete ' + src!.complete(0) + ' ' + JSON.stringify(log.stats));
}

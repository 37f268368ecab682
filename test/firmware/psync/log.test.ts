// Psync's log (firmware/psync/log.ts) and the stores under it (hal/store.ts): the byte layout, the
// asynchronous queue (nothing touches the store in the attach path), a full queue and a full store,
// reading a log back, and the three store drivers: memory (flash's write-once rule), a file on the
// host, and Espruino's Storage through a fake with the semantics of require("Storage").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scheduler } from '../../../hal/sim/scheduler.ts';
import { medium } from '../../../hal/sim/medium.ts';
import { xoshiro } from '../../../hal/prng.ts';
import { memoryStore } from '../../../hal/sim/store.ts';
import { fileStore } from '../../../hal/node/file-store.ts';
import { storageStore } from '../../../hal/espruino/storage.ts';
import type { EspruinoStorage } from '../../../hal/espruino/espruino.d.ts';
import type { Store } from '../../../hal/store.ts';
import { rawMac } from '../../../firmware/mac/raw.ts';
import type { Mac } from '../../../firmware/mac/mac.ts';
import { crashable } from './crashable.ts';
import { PSYNC_DEFAULTS, midOf, psync } from '../../../firmware/psync/psync.ts';
import { PS_RS, PS_RTX, K_LOGGED } from '../../../firmware/psync/frame.ts';
import { LOG_MAGIC, logHeader, psyncLog, readLogHeader, replayLog } from '../../../firmware/psync/log.ts';

function pair(store: Store, queueBytes = 512, flushUs = 10_000) {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const a = psync({ mac: rawMac(m.station({ id: 1 }).link, 1, 16), clock: s, rng: xoshiro(1), config: PSYNC_DEFAULTS });
  const b = psync({ mac: rawMac(m.station({ id: 2 }).link, 2, 16), clock: s, rng: xoshiro(2), config: PSYNC_DEFAULTS });
  const log = psyncLog({ ps: a, store, clock: s, config: { queueBytes, flushUs } });
  let bc = -1;
  b.onOpen((c) => { bc = c; });
  b.passiveOpen();
  const conv = a.activeOpen([1, 2], 2);
  log.start(conv);
  return { s, a, b, log, conv, bconv: () => bc };
}

test('layout: header, then [len][frame] records in attach order, written only by the timer', () => {
  const st = memoryStore(1024);
  const { s, a, b, log, conv, bconv } = pair(st);
  assert.equal([...st.bytes.subarray(0, 11)], [LOG_MAGIC, 1, 0, 1, ...[st.bytes[4], st.bytes[5]], 2, 0, 1, 0, 2]);
  const mid = a.send(conv, new Uint8Array([7, 8]), 2);
  assert.ok(mid >= 0);
  assert.is(st.bytes[11], 0xff, 'nothing written in the send path');
  s.runUntil(5_000);
  b.send(bconv(), new Uint8Array([9]), 1);
  s.runUntil(50_000);
  assert.is(log.stats.written, 2);
  const scLen = st.bytes[11];
  assert.is(st.bytes[12] & 3, 0, 'the SC first');
  assert.equal([...st.bytes.subarray(12 + scLen - 2, 12 + scLen)], [7, 8]);
  const anLen = st.bytes[12 + scLen];
  assert.is(st.bytes[13 + scLen] & 3, 1, 'then the AN');
  assert.is(st.bytes[13 + scLen + anLen - 1], 9);
  assert.is(st.bytes[13 + scLen + anLen], 0xff, 'end of log');
  assert.is(log.used(), 13 + scLen + anLen);
});

test('a full queue drops frames (counted); a full store stops the log; reset starts again', () => {
  const st = memoryStore(40);
  const { s, a, log, conv } = pair(st, 24, 10_000);
  for (let i = 0; i < 4; i++) a.send(conv, new Uint8Array([i]), 1);
  assert.ok(log.stats.dropped >= 2, `queue of 24 bytes: ${JSON.stringify(log.stats)}`);
  s.runUntil(20_000);
  assert.is(log.stats.written, log.stats.logged);
  s.runUntil(100_000);
  for (let i = 0; i < 3; i++) {
    a.send(conv, new Uint8Array([i]), 1);
    s.runUntil(s.now() + 20_000);
  }
  assert.ok(log.stats.full >= 1, 'the 40-byte store filled up');
  log.reset();
  assert.is(log.used(), 11, 'only the header after reset');
  assert.is(st.refused, 1, 'the one refused write was the one that did not fit');
});

test('readLogHeader and replayLog read back what was written; a corrupt header is refused', () => {
  const st = memoryStore(2048);
  const { s, a, b, log, conv, bconv } = pair(st);
  a.send(conv, new Uint8Array([1]), 1);
  s.runUntil(5_000);
  for (let i = 0; i < 5; i++) {
    b.send(bconv(), new Uint8Array([i]), 1);
    s.runUntil(s.now() + 5_000);
    a.send(conv, new Uint8Array([i]), 1);
    s.runUntil(s.now() + 5_000);
  }
  log.flush();
  const h = logHeader();
  const buf = new Uint8Array(256);
  assert.ok(readLogHeader(st, h, buf));
  assert.is(h.cid, a.cid(conv));
  assert.equal([...h.participants.subarray(0, h.n)], [1, 2]);
  // A fresh endpoint takes the log back.
  const s2 = scheduler();
  const m2 = medium(s2, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const c = psync({ mac: rawMac(m2.station({ id: 1 }).link, 1, 16), clock: s2, rng: xoshiro(9), config: PSYNC_DEFAULTS });
  const got: number[] = [];
  c.onDeliver((_cv, sender, seq) => got.push(sender * 65536 + seq));
  const cv = c.restart(h.cid, h.participants, h.n, [], 0);
  assert.is(replayLog(st, h, c, cv, buf), 11);
  assert.is(h.end, log.used());
  assert.is(got.length, 11, 'every message delivered again from the root, own ones included');
  assert.is(c.frontier(cv, buf as unknown as number[]), 2);
  const bad = memoryStore(64);
  bad.write(0, new Uint8Array([LOG_MAGIC, 1, 0, 1, 0, 1, 9]), 7);
  assert.not.ok(readLogHeader(bad, h, buf), 'nine participants');
  assert.not.ok(readLogHeader(memoryStore(64), h, buf), 'erased');
});

/**
 * Host 1 logs (scan: 4 records per answer), host 2 crashes, is masked out, and 1 sends 40 messages
 * that are stable and freed at once; 2 restarts from the root without a log while 1 goes on sending
 * one message every 50 ms. serve: false keeps the log but does not serve it.
 */
function served(serve: boolean) {
  const s = scheduler();
  const m = medium(s, { bitrate: 20e6, mtu: 64, propagationUs: 50 });
  const st = memoryStore(8192);
  const inner2 = rawMac(m.station({ id: 2 }).link, 2, 16);
  const mac1raw = rawMac(m.station({ id: 1 }).link, 1, 16);
  // Host 1's traffic to 2 by answer: a round starts at each RTX or RS it receives.
  const rounds: number[][] = [];
  let logged = 0;
  const mac1: Mac = {
    ...mac1raw,
    send(dst, p, len) {
      if ((p[0] & 3) === PS_RS && (p[0] & K_LOGGED) !== 0) logged++;
      if (dst === 2 && (p[0] & 3) === 1 && rounds.length > 0) rounds[rounds.length - 1].push((p[5] << 8) | p[6]);
      return mac1raw.send(dst, p, len);
    },
    onReceive(fn) {
      mac1raw.onReceive(fn && ((p, len, info) => { const t = p[0] & 3; if (t === PS_RTX || t === PS_RS) rounds.push([]); fn(p, len, info); }));
    },
  };
  const a = psync({ mac: mac1, clock: s, rng: xoshiro(1), config: PSYNC_DEFAULTS });
  const log = psyncLog({ ps: a, store: st, clock: s, config: { queueBytes: 512, flushUs: 10_000, serve, scan: 4 } });
  const mac2 = crashable(inner2);
  const b = psync({ mac: mac2, clock: s, rng: xoshiro(2), config: PSYNC_DEFAULTS });
  let bc = -1;
  b.onOpen((c) => { bc = c; });
  b.passiveOpen();
  const conv = a.activeOpen([1, 2], 2);
  log.start(conv);
  const cid = a.send(conv, new Uint8Array([0]), 1);
  s.runUntil(20_000);
  assert.ok(b.send(bc, new Uint8Array(0), 0) >= 0, 'host 2 acknowledges the SC');
  s.runUntil(40_000);
  mac2.dead = true;
  a.maskOut(conv, 2);
  const mine: number[] = [cid];
  for (let i = 1; i <= 40; i++) {
    mine.push(a.send(conv, new Uint8Array([i]), 1));
    s.runUntil(s.now() + 2_000);
  }
  assert.ok(mine.every((x) => x >= 0), 'sends taken');
  assert.not.ok(a.hasCopy(conv, mine[1]), 'stable and freed');
  s.runUntil(s.now() + 50_000);
  a.onRestart((c, addr) => { if (addr === 2) a.maskIn(c, addr); });
  const b2 = psync({ mac: crashable(inner2), clock: s, rng: xoshiro(3), config: PSYNC_DEFAULTS });
  const got: number[] = [];
  b2.onDeliver((_c, sender, seq) => { if (sender === 1) got.push(midOf(sender, seq)); });
  const c2 = b2.restart(cid, [1, 2], 2, [], 0);
  assert.ok(c2 >= 0);
  for (let i = 0; i < 40; i++) {
    s.runUntil(s.now() + 50_000);
    const mid = a.send(conv, new Uint8Array([100 + i]), 1);
    if (mid >= 0) mine.push(mid);
  }
  s.runUntil(s.now() + 1_000_000);
  return { a, b2, c2, log, got, mine, rounds, logged };
}

test('serving: a log larger than one answer reaches a restarted host over several RTX rounds, oldest first, at most scan per answer', () => {
  const { b2, c2, log, got, mine, rounds, logged } = served(true);
  assert.ok(logged >= 1, 'the RS answer says LOGGED');
  assert.not.ok(b2.recovering(c2));
  assert.is(b2.stats.skipped, 0, 'nothing taken without content');
  assert.equal(got, mine, 'host 2 delivered every message of host 1, the 40 freed ones included, in order');
  // Old messages (sequence numbers of the first 41) come from the log: at most 4 per answer.
  const cidSeq = mine[0] & 0xffff;
  const old = rounds.map((r) => r.filter((q) => ((q - cidSeq) & 0xffff) <= 40).length);
  const withOld = old.filter((k) => k > 0).length;
  assert.ok(withOld >= 10, `41 old messages over ${withOld} answers`);
  assert.ok(Math.max(...old) <= 4, `at most 4 log frames per answer (${Math.max(...old)})`);
  assert.ok(log.stats.seeks >= withOld && log.stats.served >= 40, JSON.stringify(log.stats));
  if (process.env.PSYNC_SUMMARY) console.log('log served over', withOld, 'answers:', old.filter((k) => k > 0).join(' '), JSON.stringify(log.stats));
});

test('serving off: the same restart takes the freed messages without content (what serving fixes)', () => {
  const { b2, got, mine, logged, log } = served(false);
  assert.is(logged, 0);
  assert.is(log.stats.served, 0);
  assert.ok(b2.stats.skipped >= 40, `skipped ${b2.stats.skipped}`);
  assert.ok(got.length < mine.length - 30, `host 2 delivered ${got.length} of ${mine.length}`);
});

test('memory store: flash rules (write once, 0xFF when erased, bounds)', () => {
  const st = memoryStore(16);
  const out = new Uint8Array(16);
  assert.ok(st.write(2, new Uint8Array([1, 2]), 2));
  assert.not.ok(st.write(3, new Uint8Array([5]), 1), 'written already');
  assert.not.ok(st.write(15, new Uint8Array([5, 6]), 2), 'past the end');
  assert.is(st.read(0, out, 4), 4);
  assert.equal([...out.subarray(0, 4)], [0xff, 0xff, 1, 2]);
  st.erase();
  assert.is(st.read(2, out, 1), 1);
  assert.is(out[0], 0xff);
  assert.is(st.read(16, out, 1), 0);
});

test('file store: survives reopening, erase refills with 0xFF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'picolink-store-'));
  try {
    const path = join(dir, 'log.bin');
    const a = fileStore(path, 64);
    assert.ok(a.write(10, new Uint8Array([1, 2, 3]), 3));
    assert.not.ok(a.write(63, new Uint8Array([1, 2]), 2));
    a.close();
    const b = fileStore(path, 64);
    const out = new Uint8Array(5);
    assert.is(b.read(9, out, 5), 5);
    assert.equal([...out], [0xff, 1, 2, 3, 0xff]);
    b.erase();
    b.read(10, out, 1);
    assert.is(out[0], 0xff);
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** require("Storage") as src/jswrap_storage.c behaves for plain files. */
function fakeStorage() {
  const files = new Map<string, Uint8Array>();
  const calls: string[] = [];
  const api: EspruinoStorage = {
    write(name, data, offset, size) {
      calls.push(`write ${name} ${offset} ${data.length}${size === undefined ? '' : ' ' + size}`);
      if (offset === 0) files.set(name, new Uint8Array(Math.max(size ?? 0, data.length)).fill(0xff));
      const f = files.get(name);
      if (!f || offset + data.length > f.length) return false;
      for (let i = 0; i < data.length; i++) if (f[offset + i] !== 0xff) return false;
      f.set(data, offset);
      return true;
    },
    read(name, offset, length) {
      const f = files.get(name);
      if (!f) return undefined;
      return String.fromCharCode(...f.subarray(offset, offset + length));
    },
    erase(name) {
      calls.push(`erase ${name}`);
      files.delete(name);
    },
  };
  return { api, files, calls };
}

test('Espruino Storage store: creates the file at offset 0 with its full size, appends, reads binary (0xFF and 0)', () => {
  const f = fakeStorage();
  const st = storageStore('pslog', 100, f.api);
  const out = new Uint8Array(8);
  assert.is(st.read(0, out, 4), 4, 'no file reads as erased');
  assert.equal([...out.subarray(0, 4)], [0xff, 0xff, 0xff, 0xff]);
  assert.ok(st.write(0, new Uint8Array([0x50, 1, 0, 0]), 4));
  assert.ok(st.write(4, new Uint8Array([0, 0xfe, 0x80, 9, 9]), 3), 'a prefix of the buffer');
  assert.equal(f.calls, ['write pslog 0 4 100', 'write pslog 4 3']);
  assert.is(st.read(3, out, 5), 5);
  assert.equal([...out.subarray(0, 5)], [0, 0, 0xfe, 0x80, 0xff]);
  assert.not.ok(st.write(98, new Uint8Array(4), 4), 'past the capacity');
  st.erase();
  assert.equal(f.calls.at(-1), 'erase pslog');
});

test.run();

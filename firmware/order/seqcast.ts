// FIFO and causal ordered multicast over any MAC (textbook 15.4.3, figure 15.15; lecture notes on
// FIFO order and the Birman-Schiper-Stephenson protocol), made reliable over a lossy network, with
// members that crash and restart.
//
// - FIFO: each sender numbers its messages 1, 2, 3 ...; a member delivers message s of sender j when
//   it has delivered s-1 of j, holds it back when it comes too soon, and rejects it as a duplicate
//   when it has delivered s already.
// - Causal (BSS): a member's vector S counts the messages it has delivered from each member (its own
//   entry: the messages it sent). A message carries the sender's vector T, incremented at the sender's
//   own entry. At member i, a message from j is accepted when T[j] = S[j] + 1 and T[k] <= S[k] for
//   every k != j; delayed (held back) when T[j] > S[j] + 1 or some T[k] > S[k]; rejected as a
//   duplicate when T[j] <= S[j] (bssRule). Accepting increments S[j]; held messages are tried again
//   after every delivery. A member delivers its own message at once, inside multicast().
// - Beyond the notes, for loss (both): each sender keeps its last `window` messages until every
//   member has delivered them. Every member answers each DATA with an ACK carrying how many of the
//   sender's messages it has delivered (cumulative). A message held because an earlier one is
//   missing earns a NACK to the member whose message is missing (the sender itself, or, for causal,
//   a member k with T[k] > S[k]), which sends that message again at once (at most once per quarter
//   timeout). Replies wait a random 0..replyDelayUs and go out together, one per member. A message
//   still unacknowledged after timeoutUs is sent again to each member that has not acknowledged it.
//   Copies are harmless: the rule above rejects them.
// - Crash and restart: every frame carries the sender's incarnation (group.ts), replies also the
//   incarnation of the member they answer, so a reply to a former self is dropped. A member's first
//   start needs no handshake: everyone starts at 0. When member i hears a new incarnation of j
//   (neither the one it knows nor the one before), j has restarted with an empty history: i forgets
//   j's held messages and counts j's messages from 0 again (FIFO per sender incarnation), and sends j
//   a SYNC (again every timeout until j acknowledges past it): "my messages up to base are not for
//   you", base being the older of what j's former self acknowledged and the oldest message i still
//   keeps; the rest of i's window is sent to the new j, so a restarted member also receives what its
//   former self had not acknowledged yet (once more, if it had delivered it unacknowledged: its
//   delivery history starts empty). A restarted member cannot know it restarted; it answers DATA it
//   cannot place (beyond its window) with an ACK, which shows its new incarnation to the sender.
//   A restart that drew its former incarnation again (1 in 255 without a Store) learns it from the
//   first ACK counting messages it never sent, draws another and stamps it into its history.
// - Causal across incarnations: vector entries are (incarnation, count). An entry of member k's
//   current incarnation (as i knows it) must be met as BSS says; an entry of the incarnation k had
//   before is waived, since i drops that incarnation's frames now and its messages can no longer be
//   delivered here; an entry of an incarnation i has not heard of yet delays the message until k's
//   frames show it (i adopts an incarnation first seen in a vector when it knows none for k). Limit:
//   a member that restarts twice before some member heard its middle incarnation leaves the messages
//   depending on that incarnation held at that member for good (one restart at a time).
// - A member down: one silent for silenceUs no longer holds the window (pending() ignores it), so the
//   others keep multicasting; their retransmissions go on to it at the usual pace. If it is heard
//   again (the same incarnation, after a partition) behind what the window still holds, it gets a
//   SYNC past the messages it can no longer have: a gap in its log, never a reordering.
// - Causal, a member down with messages others depend on: only a message's sender sends it again, so
//   a message that member k delivered from d before d crashed can hold k's later messages at i for as
//   long as d is down. When d has been silent for silenceUs and held messages wait for d, i declares
//   d's incarnation gone (checkGone): those of its messages i has not delivered can no longer arrive,
//   since i drops that incarnation's frames from then on, so what waits for them is delivered (the
//   vectors i sends keep d's incarnation, so the others judge alike). Should d only have been cut
//   off, its next DATA earns an ACK far beyond anything it sent (GONE), and it starts afresh with
//   another incarnation, numbering from 1 (what it had unacknowledged is lost: some may have it).
//   Limit: a member silent for silenceUs while others wait for it is treated as crashed.
// - Bounds: a sender numbers message s only when every member that is up has delivered s - window, so
//   a member holds at most window - 1 messages of each other member; the hold-back queue has a slot
//   per (member, number mod window) and cannot overflow. A DATA outside that window (not from a
//   correct member, or to a member that restarted) is dropped and counted. Numbers wrap at 65536 and
//   compare in serial order (RFC 1982).
// Board code: every table is a typed array allocated at creation; one timer serves every deadline.

import type { Timer } from '../../hal/clock.ts';
import { TX_OK } from '../../hal/link.ts';
import type { MacRxInfo } from '../mac/mac.ts';
import { O_HDR, P_CAUSAL, P_FIFO, T_ACK, T_DATA, T_NACK, T_SYNC, causalHdr, emitSeq, emitVec, orderHeader, parseOrder, vecAt, vecInc } from './frame.ts';
import type { DeliverFn, OrderGroup, OrderOptions } from './group.ts';
import { ORDER_DEFAULTS, ORDER_E_FULL, ORDER_E_TOO_LARGE, ORDER_OK, incarnationOf, indexOf, memberIndex, orderStats } from './group.ts';

/** An ACK this far beyond what a member sent (half of it at least) says: your incarnation was declared gone. */
const GONE_GAP = 0x4000;

export const BSS_ACCEPT = 0;
export const BSS_DELAY = 1;
export const BSS_REJECT = 2;

/**
 * The Birman-Schiper-Stephenson rule, with incarnations, for a CAUSAL DATA frame buf from member j,
 * at member `me` whose vector is S and who knows incarnation inc[k] of each member k (0: none yet)
 * and the one before, prev[k]: BSS_ACCEPT, BSS_DELAY or BSS_REJECT. The frame's entry j is j's
 * current incarnation (the caller dropped other frames). Counts compare in serial order mod 65536.
 */
export function bssRule(S: Uint16Array, inc: Uint8Array, prev: Uint8Array, me: number, buf: Uint8Array, j: number, n: number): number {
  const d = (vecAt(buf, j) - S[j]) & 0xffff;
  if (d === 0 || d >= 0x8000) return BSS_REJECT;
  if (d > 1) return BSS_DELAY;
  for (let k = 0; k < n; k++) {
    if (k === j) continue;
    const tk = vecAt(buf, k);
    const ik = vecInc(buf, k);
    if (ik === inc[k]) {
      if (((S[k] - tk) & 0xffff) >= 0x8000) return BSS_DELAY; // T[k] > S[k]
    } else if (tk === 0 || k === me || (ik === prev[k] && prev[k] !== 0)) continue; // nothing, or a former incarnation whose messages can no longer arrive
    else return BSS_DELAY; // an incarnation not heard of here yet
  }
  return BSS_ACCEPT;
}

function seqcast(o: OrderOptions, proto: number): OrderGroup {
  const mac = o.mac;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || ORDER_DEFAULTS;
  const me = memberIndex(o.members, mac.addr, cfg);
  let myInc = incarnationOf(o);
  const n = o.members.length;
  const causal = proto === P_CAUSAL;
  const hdrLen = causal ? causalHdr(n) : O_HDR;
  const mtu = mac.caps.mtu;
  if (mtu < hdrLen + 1) throw new Error('order: the MAC mtu ' + mtu + ' is too small for a ' + n + '-member header');
  const W = cfg.window;
  const wmask = W - 1;
  const addrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) addrs[i] = o.members[i];

  // S: messages delivered from each member's current incarnation (own entry: messages sent), mod 65536.
  const S = new Uint16Array(n);
  // Incarnations: the one each member has now as far as we know (0: none heard), and the one before.
  const inc = new Uint8Array(n);
  const prev = new Uint8Array(n);
  inc[me] = myInc;
  const eInc = new Uint8Array(n);
  /** When each member was last heard (anything from its current incarnation). */
  const heard = new Float64Array(n).fill(clock.now());
  // Members owed a SYNC (bit each) and its base: our messages up to base are not for them.
  let oweSync = 0;
  const base = new Uint16Array(n);
  let syncAt = Infinity;
  /** Causal, while messages are held: when to look for members to declare gone (checkGone). */
  let checkAt = Infinity;
  // Send history: own frames by number mod W, whole (header and data), as they first went out.
  const hAll = new Uint8Array(W * mtu);
  const hBuf: Uint8Array[] = [];
  for (let i = 0; i < W; i++) hBuf.push(hAll.subarray(i * mtu, (i + 1) * mtu));
  const hLen = new Uint16Array(W);
  const hDeadline = new Float64Array(W);
  /** When each history frame last went out as a NACK answer (NACK copies are answered once per quarter timeout). */
  const hNacked = new Float64Array(W).fill(-Infinity);
  // acked[m]: how many of our messages member m has delivered (our own entry follows S[me]).
  const acked = new Uint16Array(n);
  // Hold-back queue: a slot per (member j, number mod W), whole frames.
  const rAll = new Uint8Array(n * W * mtu);
  const rBuf: Uint8Array[] = [];
  for (let i = 0; i < n * W; i++) rBuf.push(rAll.subarray(i * mtu, (i + 1) * mtu));
  const rUsed = new Uint8Array(n * W);
  const rSeq = new Uint16Array(n * W);
  const rLen = new Uint16Array(n * W);
  let holdCount = 0;
  const scratch = new Uint8Array(O_HDR);
  const hdr = orderHeader();
  const stats = orderStats();
  let onDeliverFn: DeliverFn | null = null;
  let timer: Timer | null = null;
  let timerAt = Infinity;
  // Replies owed, one bit per member, sent together at flushAt (see OrderConfig.replyDelayUs).
  let oweAck = 0;
  let oweNack = 0;
  let flushAt = Infinity;

  function jitter(us: number): number {
    return us + (rng.u32() % (Math.floor(us / 2) + 1));
  }

  /** Own messages not yet delivered at every member that is up (silent for less than silenceUs). */
  function pending(): number {
    let p = 0;
    const now = clock.now();
    for (let m = 0; m < n; m++) {
      const d = (S[me] - acked[m]) & 0xffff;
      if (m !== me && d > p && now - heard[m] <= cfg.silenceUs) p = d;
    }
    return p;
  }

  /** Own messages to retransmit from the history: those some member lacks, up to W back (older slots are reused). */
  function kept(): number {
    let p = 0;
    for (let m = 0; m < n; m++) {
      const d = (S[me] - acked[m]) & 0xffff;
      if (m !== me && d > p) p = d;
    }
    return p < W ? p : W;
  }

  // ---- the one timer: retransmission of unacknowledged messages, SYNC repeats, replies ----------

  function arm(): void {
    if (causal && holdCount > 0 && checkAt === Infinity) checkAt = clock.now() + cfg.timeoutUs;
    let next = flushAt < syncAt ? flushAt : syncAt;
    if (checkAt < next) next = checkAt;
    const p = kept();
    for (let i = 0; i < p; i++) {
      const t = hDeadline[(S[me] - i) & wmask];
      if (t < next) next = t;
    }
    if (next === timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timer = null;
    timerAt = next;
    if (next !== Infinity) timer = clock.at(next, tick);
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    const now = clock.now();
    if (flushAt <= now) flush();
    if (checkAt <= now) checkGone(now);
    if (syncAt <= now) {
      syncAt = oweSync ? now + jitter(cfg.timeoutUs) : Infinity;
      for (let m = 0; m < n; m++) if ((oweSync >>> m) & 1) sendSync(m);
    }
    const p = kept();
    for (let i = p - 1; i >= 0; i--) {
      const s = (S[me] - i) & 0xffff;
      const slot = s & wmask;
      if (hDeadline[slot] > now) continue;
      hDeadline[slot] = now + jitter(cfg.timeoutUs);
      for (let m = 0; m < n; m++) {
        if (m === me || ((s - acked[m]) & 0xffff) === 0 || ((s - acked[m]) & 0xffff) >= 0x8000) continue;
        stats.retransmissions++;
        // A full MAC queue is one more loss: try this message again a quarter timeout from now.
        if (mac.send(addrs[m], hBuf[slot], hLen[slot]) !== TX_OK) hDeadline[slot] = now + (cfg.timeoutUs >> 2);
      }
    }
    arm();
  }

  // ---- incarnations --------------------------------------------------------------------------------

  function sendSync(m: number): void {
    emitSeq(scratch, proto, T_SYNC, myInc, inc[m], base[m]);
    if (mac.send(addrs[m], scratch, O_HDR) === TX_OK) stats.syncs++;
  }

  /** Tell m that our messages up to the oldest we can still send it are not for it. */
  function resync(m: number): void {
    const oldest = (S[me] - W) & 0xffff;
    base[m] = ((acked[m] - oldest) & 0xffff) < 0x8000 ? acked[m] : oldest;
    acked[m] = base[m];
    oweSync |= 1 << m;
    sendSync(m);
    syncAt = clock.now() + jitter(cfg.timeoutUs);
    arm();
  }

  /** Member j came back as incarnation x: forget its former self's messages, count anew. */
  function restart(j: number, x: number): void {
    if (inc[j] !== 0) prev[j] = inc[j]; // else it was declared gone: prev holds that incarnation
    if (inc[j] === 0) stats.restarts--; // counted when declared gone
    inc[j] = x;
    stats.restarts++;
    S[j] = 0;
    for (let r = j * W; r < (j + 1) * W; r++) {
      if (!rUsed[r]) continue;
      rUsed[r] = 0;
      holdCount--;
    }
    oweAck &= ~(1 << j);
    oweNack &= ~(1 << j);
    resync(j);
    drain(); // messages waiting for j's former self wait no more
  }

  /**
   * Causal: a member silent for silenceUs whose messages held ones wait for is declared gone: its
   * incarnation's undelivered messages can no longer arrive (its frames are dropped from now on), so
   * what waits for them is delivered. Should it only have been cut off, its next DATA earns a GONE
   * ACK, and it starts afresh (rebirth()).
   */
  function checkGone(now: number): void {
    checkAt = holdCount > 0 ? now + cfg.timeoutUs : Infinity;
    for (let k = 0; k < n; k++) {
      if (k === me || inc[k] === 0 || now - heard[k] <= cfg.silenceUs) continue;
      let waits = false;
      for (let r = 0; r < n * W && !waits; r++) {
        if (!rUsed[r]) continue;
        if (((r / W) | 0) === k) waits = true;
        else if (vecInc(rBuf[r], k) === inc[k] && ((S[k] - vecAt(rBuf[r], k)) & 0xffff) >= 0x8000) waits = true;
      }
      if (!waits) continue;
      prev[k] = inc[k];
      inc[k] = 0;
      stats.restarts++;
      for (let r = k * W; r < (k + 1) * W; r++) {
        if (!rUsed[r]) continue;
        rUsed[r] = 0;
        holdCount--;
        stats.discarded++;
      }
      oweAck &= ~(1 << k);
      oweNack &= ~(1 << k);
      drain();
    }
  }

  // ---- receiving ---------------------------------------------------------------------------------

  /** Owe member m an ACK (or a NACK, which acknowledges as well); sent a random moment later. */
  function owe(type: number, m: number): void {
    if (type === T_NACK) oweNack |= 1 << m;
    else oweAck |= 1 << m;
    if (flushAt !== Infinity) return;
    flushAt = clock.now() + (rng.u32() % (cfg.replyDelayUs + 1));
    arm();
  }

  function flush(): void {
    flushAt = Infinity;
    for (let m = 0; m < n; m++) {
      if ((oweNack >>> m) & 1) control(T_NACK, m, S[m]);
      else if ((oweAck >>> m) & 1) control(T_ACK, m, S[m]);
    }
    oweAck = 0;
    oweNack = 0;
  }

  function control(type: number, m: number, cum: number): void {
    emitSeq(scratch, proto, type, myInc, inc[m], cum);
    if (mac.send(addrs[m], scratch, O_HDR) !== TX_OK) return;
    if (type === T_ACK) stats.acksSent++;
    else stats.nacksSent++;
  }

  /** The number of the message of member j in frame buf (parsed already). */
  function numberOf(buf: Uint8Array, j: number): number {
    return causal ? vecAt(buf, j) : (buf[3] << 8) | buf[4];
  }

  /** Accept, delay or reject the DATA of member j in buf[0..len) (its header already checked). */
  function rule(buf: Uint8Array, j: number): number {
    if (causal) return bssRule(S, inc, prev, me, buf, j, n);
    const d = (numberOf(buf, j) - S[j]) & 0xffff;
    return d === 0 || d >= 0x8000 ? BSS_REJECT : d === 1 ? BSS_ACCEPT : BSS_DELAY;
  }

  function deliver(buf: Uint8Array, len: number, j: number): void {
    S[j] = (S[j] + 1) & 0xffff;
    owe(T_ACK, j);
    stats.delivered++;
    if (onDeliverFn) onDeliverFn(buf, hdrLen, len - hdrLen, addrs[j]);
  }

  /** Deliver every held message the rule now accepts, until none is; free those it rejects. */
  function drain(): void {
    let again = true;
    while (again && holdCount > 0) {
      again = false;
      for (let r = 0; r < n * W; r++) {
        if (!rUsed[r]) continue;
        const j = (r / W) | 0;
        const v = rule(rBuf[r], j);
        if (v === BSS_DELAY) continue;
        rUsed[r] = 0;
        holdCount--;
        if (v === BSS_ACCEPT) {
          deliver(rBuf[r], rLen[r], j);
          again = true;
        }
      }
    }
  }

  /** NACK each member whose next message the held frame in buf (from j) waits for. */
  function nackMissing(buf: Uint8Array, j: number): void {
    for (let k = 0; k < n; k++) {
      if (k === me) continue;
      if (causal && k !== j && vecInc(buf, k) !== inc[k]) continue;
      const t = numberOf(buf, k);
      const missing = k === j ? ((t - S[k]) & 0xffff) > 1 : ((S[k] - t) & 0xffff) >= 0x8000;
      if (missing) owe(T_NACK, k);
      if (!causal) return; // FIFO: only the sender's own number is in the frame
    }
  }

  function onData(payload: Uint8Array, len: number, j: number): void {
    if (causal) {
      if (hdr.n !== n || vecInc(payload, j) !== inc[j]) {
        stats.malformed++;
        return;
      }
      // An incarnation first seen in a vector is adopted, so that a later one shows as a restart.
      for (let k = 0; k < n; k++) if (inc[k] === 0 && prev[k] === 0 && vecInc(payload, k) !== 0) inc[k] = vecInc(payload, k);
    }
    const s = numberOf(payload, j);
    const d = (s - S[j]) & 0xffff;
    if (d > W && d < 0x8000) {
      stats.outOfWindow++;
      owe(T_ACK, j); // shows our incarnation: a sender that missed our restart resynchronises us
      return;
    }
    const v = rule(payload, j);
    if (v === BSS_REJECT) {
      stats.duplicates++;
      owe(T_ACK, j); // our acknowledgement may be what was lost
      return;
    }
    if (v === BSS_ACCEPT) {
      deliver(payload, len, j);
      drain();
    } else {
      const r = j * W + (s & wmask);
      if (rUsed[r] && rSeq[r] === s) stats.duplicates++;
      else {
        if (!rUsed[r]) holdCount++;
        rUsed[r] = 1;
        rSeq[r] = s;
        rLen[r] = len;
        for (let i = 0; i < len; i++) rBuf[r][i] = payload[i];
        stats.held++;
      }
      nackMissing(payload, j);
      arm(); // the gone check runs while messages are held
    }
    owe(T_ACK, j);
  }

  /**
   * Member m acknowledges messages of ours we never sent: it speaks to a former self that had our
   * incarnation (a restart drew the same). Draw another and stamp it into the history, so that the
   * others see a restart.
   */
  function redraw(): void {
    const old = myInc;
    while (myInc === old) myInc = 1 + (rng.u32() % 255);
    inc[me] = myInc;
    for (let i = 0; i < W; i++) {
      hBuf[i][1] = myInc;
      if (causal) hBuf[i][4 + 3 * me] = myInc;
    }
    stats.restarts++;
  }

  /**
   * GONE (an ACK GONE_GAP beyond what we sent): the others declared this incarnation gone while we
   * were cut off, and dropped what it sent. Start afresh as a restart would: another incarnation,
   * numbering from 1; what was unacknowledged is lost (some members may have delivered it). Unless
   * nothing of this start was ever acknowledged (a restart that drew its former incarnation, which
   * the others had declared gone): then its messages are only stamped anew, as in redraw().
   */
  function rebirth(): void {
    redraw();
    let any = false;
    for (let m = 0; m < n; m++) if (m !== me && acked[m] !== 0) any = true;
    if (!any) return;
    S[me] = 0;
    for (let m = 0; m < n; m++) acked[m] = 0;
    oweSync = 0;
    arm();
  }

  function onAck(m: number, cum: number, nack: boolean): void {
    const beyond = (cum - S[me]) & 0xffff;
    if (beyond !== 0 && beyond < 0x8000) {
      if (beyond >= GONE_GAP >> 1) rebirth();
      else redraw();
      return;
    }
    // Believe a count only if it is ahead of what we knew and not beyond what we sent.
    const ahead = ((cum - acked[m]) & 0xffff) < 0x8000 && ((S[me] - cum) & 0xffff) < 0x8000;
    if (ahead) acked[m] = cum;
    if (ahead && ((oweSync >>> m) & 1)) oweSync &= ~(1 << m); // at or past the SYNC's base: it arrived
    const want = (cum + 1) & 0xffff;
    if (nack && ahead && ((S[me] - want) & 0xffff) < 0x8000) {
      const slot = want & wmask;
      const now = clock.now();
      if (hNacked[slot] + (cfg.timeoutUs >> 2) <= now) {
        hNacked[slot] = now;
        stats.retransmissions++;
        mac.send(addrs[m], hBuf[slot], hLen[slot]);
      }
    }
    arm();
  }

  /** SYNC from j: its messages up to b are not for us. */
  function onSync(j: number, b: number): void {
    const d = (b - S[j]) & 0xffff;
    if (d !== 0 && d < 0x8000) {
      S[j] = b;
      drain(); // frees held messages at or before b, delivers what follows
    }
    owe(T_ACK, j);
  }

  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    const j = indexOf(addrs, n, info.src);
    if (j < 0 || j === me) {
      stats.strangers++;
      return;
    }
    if (!parseOrder(payload, len, hdr) || hdr.proto !== proto) {
      stats.malformed++;
      return;
    }
    const x = hdr.inc;
    if (inc[j] === 0 && prev[j] === 0) inc[j] = x; // the first incarnation heard: it started with us, at 0
    else if (x !== inc[j]) {
      if (x === prev[j]) {
        stats.stale++;
        if (inc[j] === 0 && hdr.type === T_DATA) {
          // Declared gone (see checkGone): tell it, with an ACK far beyond anything it can have sent.
          emitSeq(scratch, proto, T_ACK, myInc, x, S[j] + GONE_GAP);
          mac.send(addrs[j], scratch, O_HDR);
        }
        return;
      }
      restart(j, x);
    }
    const now = clock.now();
    // Heard again after a silence so long that the window moved past it: resynchronise it.
    if (now - heard[j] > cfg.silenceUs && ((S[me] - acked[j]) & 0xffff) > W) resync(j);
    heard[j] = now;
    if (hdr.type === T_DATA) onData(payload, len, j);
    else if (hdr.tag !== myInc) stats.stale++; // a reply to our former self
    else if (hdr.type === T_SYNC) onSync(j, hdr.seq);
    else onAck(j, hdr.seq, hdr.type === T_NACK);
  });
  mac.onSent(null);

  return {
    stats,
    maxPayload: mtu - hdrLen,
    incarnation: () => myInc,
    pending,
    holding: () => holdCount,
    view: () => ({ id: 0, mask: (1 << n) - 1 }),
    onView(): void {},
    onDeliver(fn: DeliverFn | null): void {
      onDeliverFn = fn;
    },
    multicast(payload: Uint8Array, len: number): number {
      if (!(len >= 0 && len <= mtu - hdrLen && len <= payload.length)) return ORDER_E_TOO_LARGE;
      if (pending() >= W) return ORDER_E_FULL; // a silent member may lag further: resync() catches it up
      const s = (S[me] + 1) & 0xffff;
      S[me] = s;
      acked[me] = s;
      const slot = s & wmask;
      const buf = hBuf[slot];
      // A member declared gone keeps its incarnation in the vector (the count is of its messages).
      if (causal) for (let k = 0; k < n; k++) eInc[k] = inc[k] !== 0 ? inc[k] : prev[k];
      const off = causal ? emitVec(buf, myInc, S, eInc, n) : emitSeq(buf, P_FIFO, T_DATA, myInc, 0, s);
      for (let i = 0; i < len; i++) buf[off + i] = payload[i];
      hLen[slot] = off + len;
      hNacked[slot] = -Infinity;
      const now = clock.now();
      hDeadline[slot] = now + jitter(cfg.timeoutUs);
      stats.sent++;
      if (cfg.groupAddr) mac.send(cfg.groupAddr, buf, off + len);
      else for (let m = 0; m < n; m++) if (m !== me) mac.send(addrs[m], buf, off + len); // a refused send is a loss: the timer resends
      arm();
      stats.delivered++;
      if (onDeliverFn) onDeliverFn(buf, off, len, addrs[me]);
      return ORDER_OK;
    },
  };
}

/** Reliable FIFO-ordered multicast to a group whose members may crash and restart. */
export function fifo(o: OrderOptions): OrderGroup {
  return seqcast(o, P_FIFO);
}

/** Reliable causally ordered multicast (Birman-Schiper-Stephenson) to a group whose members may crash and restart. */
export function causal(o: OrderOptions): OrderGroup {
  return seqcast(o, P_CAUSAL);
}

// Totally ordered multicast by two-phase agreement on timestamps (lecture notes: two-phase
// total-order multicast; textbook 15.4.3, figure 15.14, the ISIS algorithm), over any MAC, made
// reliable over a lossy network.
//
// - Phase one: the sender multicasts DATA (numbered 1, 2, 3 ... per sender). Each member, itself
//   included, puts it in its hold-back queue and replies with a PROPOSE carrying its logical clock:
//   P := max(A, P) + 1, where A is the largest agreed timestamp it has seen and P its largest proposal.
// - Phase two: with every member's proposal in, the sender takes the largest as the agreed timestamp
//   and multicasts COMMIT. A member marks the message committed and sets A := max(A, agreed).
// - Delivery: order is by (timestamp, sender's index in the member list); a held message counts with
//   its agreed timestamp once committed, its proposal before. A member delivers the first message in
//   that order while it is committed. A message not held yet will get a proposal above every
//   timestamp this member has seen, so it cannot come first (the textbook's argument).
// - FIFO too (beyond the notes, whose order may break it): a member proposes for a sender's messages
//   in their number order only, holding one that came early unproposed. Its proposals rise, so each
//   sender's agreed timestamps rise, and every member delivers each sender's messages in order.
// - Loss (beyond the notes): the sender sends DATA again, every timeoutUs (stretched by a random
//   0-50 %), to members whose proposal it lacks, and COMMIT to members that have neither delivered
//   the message nor said HAVE (the commit arrived; delivery waits for earlier messages); when all of
//   those left said HAVE, it probes them every fourth timeout for a lost ACK. A member repeats its
//   stored proposal for a DATA copy, NACKs a DATA that came early (the sender sends the missing one
//   at once, at most once per quarter timeout), and ACKs, cumulatively, how many of a sender's
//   messages it has delivered, after delivering them and for any copy of a delivered message.
//   Replies wait a random 0..replyDelayUs and go out together. A member that never answers stalls
//   the window, after which multicast() returns ORDER_E_FULL; membership does not change.
// - Bounds: a sender keeps its last `window` messages until every member has delivered them and
//   numbers no message beyond; so a member holds at most `window` messages of each sender, and the
//   hold-back queue has a slot per (member, number mod window): it cannot overflow. Timestamps are u32
//   on the wire: the group must make fewer than 2^32 proposals in its life.
// Board code: every table is a typed array allocated at creation; one timer serves every deadline.

import type { Timer } from '../../hal/clock.ts';
import { TX_OK } from '../../hal/link.ts';
import type { MacRxInfo } from '../mac/mac.ts';
import type { OrderHeader } from './frame.ts';
import { O_HDR, O_HDR_TS, P_TOTAL, T_ACK, T_COMMIT, T_DATA, T_HAVE, T_NACK, T_PROPOSE, emitSeq, emitTs, parseOrder } from './frame.ts';
import type { DeliverFn, OrderGroup, OrderOptions } from './group.ts';
import { ORDER_DEFAULTS, ORDER_E_FULL, ORDER_E_TOO_LARGE, ORDER_OK, indexOf, memberIndex, orderStats } from './group.ts';

const EMPTY = 0;
/** Held, not proposed for: an earlier message of its sender is missing. */
const RECEIVED = 1;
const PROPOSED = 2;
const COMMITTED = 3;

export function total(o: OrderOptions): OrderGroup {
  const mac = o.mac;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || ORDER_DEFAULTS;
  const me = memberIndex(o.members, mac.addr, cfg);
  const n = o.members.length;
  const mtu = mac.caps.mtu;
  if (mtu < O_HDR_TS) throw new Error('order: the MAC mtu ' + mtu + ' is too small for total order');
  const W = cfg.window;
  const wmask = W - 1;
  const all = (1 << n) - 1;
  const addrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) addrs[i] = o.members[i];

  // Logical clock: largest agreed timestamp seen, largest proposal made.
  let A = 0;
  let P = 0;
  // Sender: own DATA frames by number mod W; the proposals in (bit per member), the largest so far.
  let sent = 0;
  const hAll = new Uint8Array(W * mtu);
  const hBuf: Uint8Array[] = [];
  for (let i = 0; i < W; i++) hBuf.push(hAll.subarray(i * mtu, (i + 1) * mtu));
  const hLen = new Uint16Array(W);
  const hDeadline = new Float64Array(W);
  const hNacked = new Float64Array(W).fill(-Infinity);
  const hProps = new Uint16Array(W);
  const hMax = new Float64Array(W);
  const hCommitted = new Uint8Array(W);
  /** Members that said HAVE: the commit reached them (they ACK once they deliver). */
  const hHave = new Uint16Array(W);
  // acked[m]: how many of our messages member m has delivered.
  const acked = new Uint16Array(n);
  // Receiver: per sender, messages proposed for (in order) and messages delivered.
  const proposed = new Uint16Array(n);
  const delivered = new Uint16Array(n);
  // Hold-back queue: slot per (member, number mod W), data only.
  const rAll = new Uint8Array(n * W * mtu);
  const rBuf: Uint8Array[] = [];
  for (let i = 0; i < n * W; i++) rBuf.push(rAll.subarray(i * mtu, (i + 1) * mtu));
  const rState = new Uint8Array(n * W);
  const rSeq = new Uint16Array(n * W);
  const rLen = new Uint16Array(n * W);
  /** PROPOSED: our proposal; COMMITTED: the agreed timestamp. */
  const rTs = new Float64Array(n * W);
  let holdCount = 0;
  const scratch = new Uint8Array(O_HDR_TS);
  const hdr: OrderHeader = { proto: 0, type: 0, seq: 0, ts: 0, n: 0, off: 0 };
  const stats = orderStats();
  let onDeliverFn: DeliverFn | null = null;
  let timer: Timer | null = null;
  let timerAt = Infinity;
  // Replies owed, sent together at flushAt (OrderConfig.replyDelayUs): ACK and NACK one bit per
  // member, PROPOSE (1) or HAVE (2) one per hold-back slot.
  let oweAck = 0;
  let oweNack = 0;
  const owePropose = new Uint8Array(n * W);
  let flushAt = Infinity;
  /** Nested delivery guard: a deliver callback that multicasts must not restart the loop inside itself. */
  let delivering = false;

  function jitter(us: number): number {
    return us + (rng.u32() % (Math.floor(us / 2) + 1));
  }

  function pending(): number {
    let p = 0;
    for (let m = 0; m < n; m++) {
      const d = (sent - acked[m]) & 0xffff;
      if (d > p) p = d;
    }
    return p;
  }

  /** Is our message s outstanding (sent, not yet delivered everywhere)? */
  function outstanding(s: number): boolean {
    const back = (sent - s) & 0xffff;
    return back < pending();
  }

  function arm(): void {
    let next = flushAt;
    const p = pending();
    for (let i = 0; i < p; i++) {
      const t = hDeadline[(sent - i) & wmask];
      if (t < next) next = t;
    }
    if (next === timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timer = null;
    timerAt = next;
    if (next !== Infinity) timer = clock.at(next, tick);
  }

  function sendTs(m: number, type: number, s: number, ts: number): boolean {
    emitTs(scratch, type, s, ts);
    return mac.send(addrs[m], scratch, O_HDR_TS) === TX_OK;
  }

  function later(): void {
    if (flushAt !== Infinity) return;
    flushAt = clock.now() + (rng.u32() % (cfg.replyDelayUs + 1));
    arm();
  }

  function flush(): void {
    flushAt = Infinity;
    for (let r = 0; r < n * W; r++) {
      if (!owePropose[r]) continue;
      owePropose[r] = 0;
      const j = (r / W) | 0;
      if (rState[r] === PROPOSED && sendTs(j, T_PROPOSE, rSeq[r], rTs[r])) stats.proposals++;
      else if (rState[r] === COMMITTED) control(T_HAVE, j, rSeq[r]);
    }
    for (let m = 0; m < n; m++) {
      if ((oweAck >>> m) & 1) control(T_ACK, m, delivered[m]);
      if ((oweNack >>> m) & 1) control(T_NACK, m, proposed[m]);
    }
    oweAck = 0;
    oweNack = 0;
  }

  function control(type: number, m: number, cum: number): void {
    emitSeq(scratch, P_TOTAL, type, cum);
    if (mac.send(addrs[m], scratch, O_HDR) !== TX_OK) return;
    if (type === T_ACK) stats.acksSent++;
    else if (type === T_NACK) stats.nacksSent++;
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    const now = clock.now();
    if (flushAt <= now) flush();
    const p = pending();
    for (let i = p - 1; i >= 0; i--) {
      const s = (sent - i) & 0xffff;
      const slot = s & wmask;
      if (hDeadline[slot] > now) continue;
      // Members to send to: those without a proposal in; once committed, those that have not
      // delivered, but not those that said HAVE, unless all of them did: then probe every fourth
      // timeout for the ACK that may have been lost.
      let to = 0;
      for (let m = 0; m < n; m++) {
        const d = (s - acked[m]) & 0xffff;
        if (m !== me && (hCommitted[slot] ? d !== 0 && d < 0x8000 : !((hProps[slot] >>> m) & 1))) to |= 1 << m;
      }
      const probe = hCommitted[slot] && (to & ~hHave[slot]) === 0;
      if (!probe) to &= ~hHave[slot];
      hDeadline[slot] = now + jitter(probe ? cfg.timeoutUs * 4 : cfg.timeoutUs);
      for (let m = 0; m < n; m++) {
        if (!((to >>> m) & 1)) continue;
        const ok = hCommitted[slot] ? sendTs(m, T_COMMIT, s, hMax[slot]) : mac.send(addrs[m], hBuf[slot], hLen[slot]) === TX_OK;
        stats.retransmissions++;
        if (!ok) hDeadline[slot] = now + (cfg.timeoutUs >> 2);
      }
    }
    arm();
  }

  // ---- the sender's side of the agreement -----------------------------------------------------------

  function onPropose(m: number, s: number, ts: number): void {
    if (!outstanding(s)) return;
    const slot = s & wmask;
    if (hCommitted[slot]) return;
    hProps[slot] |= 1 << m;
    if (ts > hMax[slot]) hMax[slot] = ts;
    if (hProps[slot] !== all) return;
    hCommitted[slot] = 1;
    hDeadline[slot] = clock.now() + jitter(cfg.timeoutUs);
    if (cfg.groupAddr) {
      emitTs(scratch, T_COMMIT, s, hMax[slot]);
      mac.send(cfg.groupAddr, scratch, O_HDR_TS);
    } else for (let k = 0; k < n; k++) if (k !== me) sendTs(k, T_COMMIT, s, hMax[slot]);
    onCommit(me, s, hMax[slot]);
    arm();
  }

  // ---- the receiver's side ------------------------------------------------------------------------

  /** Propose for j's held messages that are next in number order. */
  function proposeRun(j: number): void {
    for (;;) {
      const s = (proposed[j] + 1) & 0xffff;
      const r = j * W + (s & wmask);
      if (rState[r] !== RECEIVED || rSeq[r] !== s) return;
      P = (A > P ? A : P) + 1;
      rState[r] = PROPOSED;
      rTs[r] = P;
      proposed[j] = s;
      if (j === me) onPropose(me, s, P);
      else {
        owePropose[r] = 1;
        later();
      }
    }
  }

  /** Deliver, in (timestamp, sender) order, while the first held message is committed. */
  function deliverReady(): void {
    if (delivering) return;
    delivering = true;
    while (holdCount > 0) {
      let best = -1;
      for (let r = 0; r < n * W; r++) {
        if (rState[r] < PROPOSED) continue;
        // Slots run in member order, so a strict comparison breaks timestamp ties by sender index.
        if (best < 0 || rTs[r] < rTs[best]) best = r;
      }
      if (best < 0 || rState[best] !== COMMITTED) break;
      const j = (best / W) | 0;
      if (rSeq[best] !== ((delivered[j] + 1) & 0xffff)) break; // cannot happen (FIFO proposals); never deliver out of order
      rState[best] = EMPTY;
      holdCount--;
      delivered[j] = rSeq[best];
      if (j === me) acked[me] = delivered[me];
      else {
        oweAck |= 1 << j;
        later();
      }
      stats.delivered++;
      if (onDeliverFn) onDeliverFn(rBuf[best], 0, rLen[best], addrs[j]);
    }
    delivering = false;
  }

  function onCommit(j: number, s: number, ts: number): void {
    const d = (s - delivered[j]) & 0xffff;
    if (d === 0 || d >= 0x8000) {
      stats.duplicates++;
      if (j !== me) {
        oweAck |= 1 << j;
        later();
      }
      return;
    }
    const r = j * W + (s & wmask);
    if (rSeq[r] !== s || rState[r] < PROPOSED) return; // we never proposed: not from a correct sender
    if (rState[r] === COMMITTED) stats.duplicates++;
    else {
      rState[r] = COMMITTED;
      rTs[r] = ts;
      if (ts > A) A = ts;
      deliverReady();
    }
    if (j !== me && rState[r] === COMMITTED && rSeq[r] === s) {
      owePropose[r] = 2; // HAVE: the sender stops resending this commit while we wait to deliver
      later();
    }
  }

  /** Take in message s of member j, data in buf[off..off+len). */
  function onData(j: number, s: number, buf: Uint8Array, off: number, len: number): void {
    const d = (s - delivered[j]) & 0xffff;
    if (d === 0 || d >= 0x8000) {
      stats.duplicates++;
      oweAck |= 1 << j;
      later();
      return;
    }
    if (d > W) {
      stats.outOfWindow++;
      return;
    }
    const r = j * W + (s & wmask);
    if (rState[r] !== EMPTY && rSeq[r] === s) {
      stats.duplicates++;
      if (rState[r] === PROPOSED) owePropose[r] = 1; // our proposal may be what was lost
      else if (rState[r] === RECEIVED) oweNack |= 1 << j;
      later();
      return;
    }
    if (rState[r] === EMPTY) holdCount++;
    rState[r] = RECEIVED;
    owePropose[r] = 0;
    rSeq[r] = s;
    rLen[r] = len;
    for (let i = 0; i < len; i++) rBuf[r][i] = buf[off + i];
    stats.held++;
    proposeRun(j);
    if (rState[r] === RECEIVED) {
      oweNack |= 1 << j;
      later();
    }
  }

  function onAck(m: number, cum: number, nack: boolean): void {
    const ahead = ((cum - acked[m]) & 0xffff) < 0x8000 && ((sent - cum) & 0xffff) < 0x8000;
    if (!nack) {
      if (ahead) acked[m] = cum;
    } else {
      // NACK: m has proposed for our messages up to cum; cum + 1 is missing there.
      const want = (cum + 1) & 0xffff;
      const slot = want & wmask;
      const now = clock.now();
      if (outstanding(want) && !hCommitted[slot] && !((hProps[slot] >>> m) & 1) && hNacked[slot] + (cfg.timeoutUs >> 2) <= now) {
        hNacked[slot] = now;
        stats.retransmissions++;
        mac.send(addrs[m], hBuf[slot], hLen[slot]);
      }
    }
    arm();
  }

  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    const j = indexOf(addrs, n, info.src);
    if (j < 0 || j === me) {
      stats.strangers++;
      return;
    }
    if (!parseOrder(payload, len, hdr) || hdr.proto !== P_TOTAL) {
      stats.malformed++;
      return;
    }
    const t = hdr.type;
    if (t === T_DATA) onData(j, hdr.seq, payload, O_HDR, len - O_HDR);
    else if (t === T_PROPOSE) onPropose(j, hdr.seq, hdr.ts);
    else if (t === T_COMMIT) onCommit(j, hdr.seq, hdr.ts);
    else if (t === T_HAVE) {
      if (outstanding(hdr.seq)) hHave[hdr.seq & wmask] |= 1 << j;
    } else onAck(j, hdr.seq, t === T_NACK);
  });
  mac.onSent(null);

  return {
    stats,
    maxPayload: mtu - O_HDR,
    pending,
    holding: () => holdCount,
    onDeliver(fn: DeliverFn | null): void {
      onDeliverFn = fn;
    },
    multicast(payload: Uint8Array, len: number): number {
      if (!(len >= 0 && len <= mtu - O_HDR && len <= payload.length)) return ORDER_E_TOO_LARGE;
      if (pending() >= W) return ORDER_E_FULL;
      const s = (sent + 1) & 0xffff;
      sent = s;
      const slot = s & wmask;
      const buf = hBuf[slot];
      emitSeq(buf, P_TOTAL, T_DATA, s);
      for (let i = 0; i < len; i++) buf[O_HDR + i] = payload[i];
      hLen[slot] = O_HDR + len;
      hProps[slot] = 0;
      hMax[slot] = 0;
      hCommitted[slot] = 0;
      hHave[slot] = 0;
      hNacked[slot] = -Infinity;
      hDeadline[slot] = clock.now() + jitter(cfg.timeoutUs);
      stats.sent++;
      if (cfg.groupAddr) mac.send(cfg.groupAddr, buf, O_HDR + len);
      else for (let m = 0; m < n; m++) if (m !== me) mac.send(addrs[m], buf, O_HDR + len); // a refused send is a loss: the timer resends
      arm();
      onData(me, s, buf, O_HDR, len); // our own proposal, and with one member the commit and delivery
      return ORDER_OK;
    },
  };
}

// Totally ordered multicast by two-phase agreement on timestamps (lecture notes: two-phase
// total-order multicast; textbook 15.4.3, figure 15.14, the ISIS algorithm), over any MAC, made
// reliable over a lossy network, with views (textbook 15.4, 18.2: view-synchronous delivery) so that
// members that crash leave the group and members that restart join it again.
//
// - Phase one: the sender multicasts DATA (numbered 1, 2, 3 ... per sender and view). Each member,
//   itself included, puts it in its hold-back queue and replies with a PROPOSE carrying its logical
//   clock: P := max(A, P) + 1, where A is the largest agreed timestamp it has seen and P its largest
//   proposal.
// - Phase two: with the proposal of every member of the view in, the sender takes the largest as the
//   agreed timestamp and multicasts COMMIT. A member marks the message committed and sets A :=
//   max(A, agreed).
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
//   Replies wait a random 0..replyDelayUs and go out together.
// - Views. Every frame carries the sender's incarnation and view number; a member takes only frames
//   of its view from the incarnations the view lists. Every member starts in view 1 of every member
//   (the incarnations learnt from the first frames), so a first start needs no handshake. Members send
//   ALIVE to each other every heartbeatUs. The coordinator is the lowest-indexed member of the view
//   heard within silenceUs (itself, if no lower one is). It starts a view change when a member of the
//   view is silent for silenceUs, when a frame shows a member's new incarnation, or when a member
//   outside the view asks to JOIN (a restarted member, or one that found itself outside: it saw a
//   newer view's frames, or a view without it). The change is a flush:
//   1. The coordinator sends VIEW (number, members, joiners, incarnations) to each member of the new
//      view, again every timeout to those that have not answered FLUSHED; a newer VIEW (or the same
//      number from a lower index) supersedes an older one.
//   2. A member of the old view that stays stops multicasting (ORDER_E_FULL), stops taking frames from
//      those leaving, and finishes the old view: its own messages now commit with the proposals of
//      those that stay, and are sent again until every one of them has delivered them. The messages
//      of a leaving member it holds: those committed here are delivered in order; those not proposed
//      for cannot be committed anywhere (the commit needs this member's proposal) and are dropped; for
//      each proposed one it asks every staying member (QUERY) whether its commit arrived there; an
//      ANSWER with the agreed timestamp commits it here, and once every one said no (and, being in the
//      flush, takes no commit from the leaving member any more), nobody has it and it is dropped. So
//      the staying members deliver the same messages of the old view, in the same order. A member
//      answers FLUSHED when none of its own messages is undelivered anywhere and nothing of a leaving
//      member is held; a joiner answers at once, with its state reset.
//   3. With FLUSHED from every member of the new view, the coordinator installs it and sends INSTALL
//      (again every timeout until a frame of the new view comes back); a member in the flush that gets
//      any frame of the new view from one of its members installs it too. Installing resets the
//      numbering of every sender, calls onView, then the view's messages flow.
//   So every member that stays installs the same views in the same order and delivers the same
//   messages between them in the same order (view synchrony); a joiner delivers from the view that
//   lets it in, with an empty history (what it delivered before its crash is not delivered again).
//   A member's own messages commit oldest first, each agreed timestamp above the one before: when a
//   member leaves, a later message's proposals may all be lower than the leaving member's proposal for
//   an earlier one, which would put the later one first. Raising a timestamp is safe (it stays at or
//   above every proposal). The messages of a leaving member committed with a gap (an earlier one
//   dropped as committed nowhere) are delivered past the gap, alike everywhere. A member that leaves
//   or finds itself outside keeps its own messages that it never committed (nobody can have them)
//   and multicasts them again in the view that lets it back in. onView(0, 0) tells the application
//   that this member is outside.
// - Limits. The order is not uniform: a member that crashes may have delivered, just before, its own
//   messages whose commit reached nobody (the others drop them) or a message ahead of one that the
//   others then committed without its proposal; what the survivors deliver is the group's order.
//   One change at a time is the case designed for: a member failing during a flush is
//   excluded by a further change when it stays silent, and the coordinator failing is replaced by the
//   next member when it stays silent, but members that disagree on who is up can start competing
//   changes (the lower index wins; the other may be excluded and rejoin). A member silent for
//   silenceUs is excluded though it may be up (a partition): it then finds itself outside and joins
//   again, losing what it had not delivered. Until a restarted member joins, it is in view 1 by
//   assumption and its frames are dropped by the others; it could deliver only a first message of a
//   sender that its former self had proposed for. While a view changes, nothing is multicast. A
//   restart that drew its former incarnation (1 in 255 without a Store) looks like its former self
//   until a DATA beyond its window or an ACK for messages it never sent shows otherwise; then it
//   draws another and joins. Heartbeats never stop (n x (n-1) small frames per heartbeatUs);
//   heartbeatUs 0 gives the fixed group of before, without view changes.
// - Bounds: a sender keeps its last `window` messages until every member has delivered them and
//   numbers no message beyond; so a member holds at most `window` messages of each sender, and the
//   hold-back queue has a slot per (member, number mod window): it cannot overflow. Each member also
//   keeps the agreed timestamps of the last `window` messages it delivered of each sender, to answer
//   QUERY. Timestamps are u32 on the wire: the group must make fewer than 2^32 proposals in its life.
//   View numbers are a byte, compared in serial order.
// Board code: every table is a typed array allocated at creation; one timer serves every deadline.

import type { Timer } from '../../hal/clock.ts';
import { TX_OK } from '../../hal/link.ts';
import type { MacRxInfo } from '../mac/mac.ts';
import {
  O_HDR, O_HDR_TS, O_PFX, P_TOTAL, T_ACK, T_ALIVE, T_ANSWER, T_COMMIT, T_DATA, T_FLUSHED, T_HAVE, T_INSTALL, T_JOIN, T_NACK, T_PROPOSE,
  T_QUERY, T_VIEW, emitPfx, emitQuery, emitSeq, emitTs, emitView, orderHeader, parseOrder, viewLen,
} from './frame.ts';
import type { DeliverFn, OrderGroup, OrderOptions, ViewFn } from './group.ts';
import { ORDER_DEFAULTS, ORDER_E_FULL, ORDER_E_TOO_LARGE, ORDER_OK, incarnationOf, indexOf, memberIndex, orderStats } from './group.ts';

const EMPTY = 0;
/** Held, not proposed for: an earlier message of its sender is missing. */
const RECEIVED = 1;
const PROPOSED = 2;
const COMMITTED = 3;

/** Is view number a after b (serial order of bytes)? */
function viewAfter(a: number, b: number): boolean {
  const d = (a - b) & 0xff;
  return d !== 0 && d < 0x80;
}

export function total(o: OrderOptions): OrderGroup {
  const mac = o.mac;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || ORDER_DEFAULTS;
  const me = memberIndex(o.members, mac.addr, cfg);
  let myInc = incarnationOf(o);
  const n = o.members.length;
  const mtu = mac.caps.mtu;
  if (mtu < O_HDR_TS || mtu < viewLen(n)) throw new Error('order: the MAC mtu ' + mtu + ' is too small for total order of ' + n + ' members');
  const W = cfg.window;
  const wmask = W - 1;
  const bit = 1 << me;
  /** heartbeatUs 0: a fixed group of every member (no heartbeats, no view changes). */
  const dynamic = cfg.heartbeatUs > 0;
  const addrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) addrs[i] = o.members[i];

  // ---- the view ---------------------------------------------------------------------------------------
  /** Installed view: number (1 is everyone's first, by assumption), members, their incarnations (0: take the first heard). */
  let vid = 1;
  let vmask = (1 << n) - 1;
  const vinc = new Uint8Array(n);
  vinc[me] = myInc;
  /** Still in the assumed first view (no view installed by agreement yet). */
  let assumed = true;
  /** Outside every view (found itself excluded, or reset): asks to JOIN. */
  let outside = false;
  // The change under way (flush): its number, members, joiners, incarnations, coordinator.
  let flushing = false;
  let pvid = 0;
  let pmask = 0;
  let pjoin = 0;
  const pinc = new Uint8Array(n);
  let pcoord = 0;
  /** Members of the installed view leaving it in the change under way (or an old incarnation). */
  let gone = 0;
  /** Members whose proposals and acknowledgements count: the view, less those leaving. */
  let needed = vmask;
  // As coordinator: members that said FLUSHED, members yet to show the installed view, join requests.
  let coordinating = false;
  /** FLUSHED went out for the change under way (it goes again when the coordinator repeats VIEW). */
  let flushedSent = false;
  let flushed = 0;
  let instPending = 0;
  let joinReq = 0;
  const joinInc = new Uint8Array(n);
  /** When each member was last heard (from the incarnation the view, or the change, lists). */
  const heard = new Float64Array(n).fill(clock.now());
  let hbAt = Infinity; // set once the functions below exist (Espruino does not hoist them)
  let vcAt = Infinity;
  let viewFn: ViewFn | null = null;

  // ---- the agreement ------------------------------------------------------------------------------------
  // Logical clock: largest agreed timestamp seen, largest proposal made.
  let A = 0;
  let P = 0;
  /** The agreed timestamp of our latest committed message (commitReady() keeps them rising). */
  let lastAgreed = 0;
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
  /** In a flush, for a leaving member's proposed message: the staying members that answered "no commit here". */
  const rNo = new Uint16Array(n * W);
  let holdCount = 0;
  // Own messages carried over a view change (keep()), multicast again once a view is installed.
  const cAll = new Uint8Array(W * mtu);
  const cBuf: Uint8Array[] = [];
  for (let i = 0; i < W; i++) cBuf.push(cAll.subarray(i * mtu, (i + 1) * mtu));
  const cLen = new Uint16Array(W);
  let carried = 0;
  // The agreed timestamps of the last W messages delivered of each sender (to answer QUERY).
  const dSeq = new Uint16Array(n * W);
  const dTs = new Float64Array(n * W);
  const scratch = new Uint8Array(viewLen(n) > O_HDR_TS + 1 ? viewLen(n) : O_HDR_TS + 1);
  const hdr = orderHeader();
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
  /** Open QUERYs (a flush with leaving members' proposed messages held): when to ask again. */
  let queryAt = Infinity;
  /** Nested delivery guard: a deliver callback that multicasts must not restart the loop inside itself. */
  let delivering = false;

  function jitter(us: number): number {
    return us + (rng.u32() % (Math.floor(us / 2) + 1));
  }

  function pending(): number {
    let p = 0;
    for (let m = 0; m < n; m++) {
      if (!(((needed | bit) >>> m) & 1)) continue;
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
    if (hbAt < next) next = hbAt;
    if (vcAt < next) next = vcAt;
    if (queryAt < next) next = queryAt;
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
    emitTs(scratch, type, myInc, vid, s, ts);
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
    emitSeq(scratch, P_TOTAL, type, myInc, vid, cum);
    if (mac.send(addrs[m], scratch, O_HDR) !== TX_OK) return;
    if (type === T_ACK) stats.acksSent++;
    else if (type === T_NACK) stats.nacksSent++;
  }

  function short(type: number, m: number): void {
    emitPfx(scratch, P_TOTAL, type, myInc, outside ? 0 : vid);
    mac.send(addrs[m], scratch, O_PFX);
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    const now = clock.now();
    if (flushAt <= now) flush();
    if (hbAt <= now) heartbeat(now);
    if (vcAt <= now) coordinate(now);
    if (queryAt <= now) ask(now);
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
        if (m === me || !((needed >>> m) & 1)) continue;
        const d = (s - acked[m]) & 0xffff;
        if (hCommitted[slot] ? d !== 0 && d < 0x8000 : !((hProps[slot] >>> m) & 1)) to |= 1 << m;
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
    if (flushing) flushCheck();
    arm();
  }

  // ---- membership: heartbeats, the coordinator, the flush ---------------------------------------------

  function up(k: number, now: number): boolean {
    return k === me || now - heard[k] <= cfg.silenceUs;
  }

  /** The lowest-indexed member of the view heard within silenceUs. */
  function coordinator(now: number): number {
    for (let k = 0; k < n; k++) if (((vmask >>> k) & 1) && up(k, now)) return k;
    return me;
  }

  /** The next heartbeat: within the last quarter of heartbeatUs, never later (silenceUs counts on it). */
  function beat(now: number): number {
    return now + cfg.heartbeatUs - (rng.u32() % ((cfg.heartbeatUs >> 2) + 1));
  }

  function heartbeat(now: number): void {
    hbAt = beat(now);
    if (outside && !flushing) {
      for (let k = 0; k < n; k++) if (k !== me) short(T_JOIN, k);
      return;
    }
    const to = (vmask | (flushing ? pmask : 0)) & ~bit;
    for (let k = 0; k < n; k++) if ((to >>> k) & 1) short(T_ALIVE, k);
    if (!flushing && coordinator(now) === me) {
      vcAt = now; // look for silent members and join requests now
    }
  }

  /** The coordinator's periodic work: start a change if one is due, drive the one under way. */
  function coordinate(now: number): void {
    vcAt = Infinity;
    if (outside) return;
    if (instPending) {
      for (let k = 0; k < n; k++) if ((instPending >>> k) & 1) sendView(T_INSTALL, k);
      vcAt = now + jitter(cfg.timeoutUs);
    }
    if (coordinating && flushing) {
      // A member of the new view silent for the whole time: leave it out as well.
      let silent = 0;
      for (let k = 0; k < n; k++) if (((pmask >>> k) & 1) && !((flushed >>> k) & 1) && !up(k, now)) silent |= 1 << k;
      if (silent) {
        startChange(now, (pmask & ~silent) | joinReq);
        return;
      }
      for (let k = 0; k < n; k++) if (k !== me && ((pmask >>> k) & 1) && !((flushed >>> k) & 1)) sendView(T_VIEW, k);
      vcAt = now + jitter(cfg.timeoutUs);
      return;
    }
    if (flushing && up(pcoord, now)) return; // someone else runs the change under way
    if (coordinator(now) !== me) return;
    let silent = 0;
    for (let k = 0; k < n; k++) if (((vmask >>> k) & 1) && !up(k, now)) silent |= 1 << k;
    // A change whose coordinator fell silent is taken over, with its joiners.
    if (flushing || silent || joinReq) startChange(now, (vmask & ~silent) | joinReq | (flushing ? pjoin & pmask : 0));
  }

  /** As coordinator: propose the next view, of members `mask` (joiners: the join requests among them). */
  function startChange(now: number, mask: number): void {
    const next = (((flushing && viewAfter(pvid, vid) ? pvid : vid) + 1) & 0xff) || 1;
    let join = 0;
    for (let k = 0; k < n; k++) {
      if (!((mask >>> k) & 1)) pinc[k] = 0;
      else if ((joinReq >>> k) & 1) pinc[k] = joinInc[k];
      else if (!(flushing && ((pjoin >>> k) & 1))) pinc[k] = vinc[k]; // else a joiner of the change taken over: pinc[k] stays
      if (((mask >>> k) & 1) && (((joinReq >>> k) & 1) || (flushing && ((pjoin >>> k) & 1)))) join |= 1 << k;
    }
    joinReq &= ~mask;
    coordinating = true;
    flushed = 0;
    instPending = 0;
    enterFlush(next, mask | bit, join & ~bit, me);
    for (let k = 0; k < n; k++) if (k !== me && ((pmask >>> k) & 1)) sendView(T_VIEW, k);
    vcAt = now + jitter(cfg.timeoutUs);
    arm();
  }

  function sendView(type: number, k: number): void {
    const l = emitView(scratch, type, myInc, vid, pvid, pmask, pjoin, pinc, n);
    mac.send(addrs[k], scratch, l);
  }

  /** Take part in the change to view v (members mask, joiners join, incarnations already in pinc) run by c. */
  function enterFlush(v: number, mask: number, join: number, c: number): void {
    flushing = true;
    pvid = v;
    pmask = mask;
    pjoin = join;
    pcoord = c;
    if (c !== me) coordinating = false;
    gone = vmask & ~(mask & ~join);
    needed = vmask & ~gone;
    const now = clock.now();
    for (let k = 0; k < n; k++) if ((join >>> k) & 1) heard[k] = now;
    // Our messages short of a leaving member's proposal commit now.
    commitReady();
    // The leaving members' messages held here.
    flushedSent = false;
    let ask = false;
    for (let r = 0; r < n * W; r++) {
      const j = (r / W) | 0;
      if (!((gone >>> j) & 1) || rState[r] === EMPTY) continue;
      if (rState[r] === RECEIVED) drop(r);
      else if (rState[r] === PROPOSED) {
        rNo[r] = 0;
        ask = true;
      }
    }
    if (ask) queryAt = now;
    deliverReady();
    flushCheck();
    arm();
  }

  function drop(r: number): void {
    rState[r] = EMPTY;
    owePropose[r] = 0;
    holdCount--;
    stats.discarded++;
  }

  /** QUERY every staying member that has not answered about each leaving member's proposed message. */
  function ask(now: number): void {
    queryAt = Infinity;
    if (!flushing) return;
    let open = false;
    for (let r = 0; r < n * W; r++) {
      const j = (r / W) | 0;
      if (!((gone >>> j) & 1) || rState[r] !== PROPOSED) continue;
      open = true;
      for (let k = 0; k < n; k++) {
        if (k === me || !((needed >>> k) & 1) || ((rNo[r] >>> k) & 1)) continue;
        const l = emitQuery(scratch, T_QUERY, myInc, vid, j, rSeq[r], 0);
        mac.send(addrs[k], scratch, l);
      }
    }
    if (open) queryAt = now + jitter(cfg.timeoutUs);
  }

  function onQuery(k: number, origin: number, s: number): void {
    if (!flushing || !((gone >>> origin) & 1)) return; // not in this flush yet: the asker asks again
    const r = origin * W + (s & wmask);
    let ts = 0;
    if (rState[r] === COMMITTED && rSeq[r] === s) ts = rTs[r];
    else if (dSeq[r] === s && ((delivered[origin] - s) & 0xffff) < W) ts = dTs[r];
    const l = emitQuery(scratch, T_ANSWER, myInc, vid, origin, s, ts);
    mac.send(addrs[k], scratch, l);
  }

  function onAnswer(k: number, origin: number, s: number, ts: number): void {
    const r = origin * W + (s & wmask);
    if (!flushing || !((gone >>> origin) & 1) || rState[r] !== PROPOSED || rSeq[r] !== s) return;
    if (ts !== 0) {
      commitHeld(r, ts);
      return;
    }
    rNo[r] |= 1 << k;
    if (((rNo[r] | bit) & needed) === needed) {
      drop(r); // no staying member has its commit, and none will take it now
      deliverReady();
    }
  }

  /** Send FLUSHED to the coordinator if nothing of the old view is in flight here (once, or again when asked). */
  function flushCheck(again?: boolean): void {
    if (!flushing || (flushedSent && !again)) return;
    if (!((pjoin >>> me) & 1)) {
      if (pending() !== 0) return;
      for (let r = 0; r < n * W; r++) if (rState[r] !== EMPTY && ((gone >>> ((r / W) | 0)) & 1)) return;
    }
    flushedSent = true;
    if (pcoord === me) onFlushed(me);
    else {
      emitPfx(scratch, P_TOTAL, T_FLUSHED, myInc, vid);
      scratch[3] = pvid;
      mac.send(addrs[pcoord], scratch, 4);
    }
  }

  function onFlushed(k: number): void {
    if (!coordinating || !flushing) return;
    flushed |= 1 << k;
    if ((flushed & pmask) !== pmask) return;
    coordinating = false;
    install(pvid, pmask, pinc);
    instPending = vmask & ~bit;
    for (let m = 0; m < n; m++) if ((instPending >>> m) & 1) sendView(T_INSTALL, m);
    vcAt = clock.now() + jitter(cfg.timeoutUs);
    arm();
  }

  /** Install view v: members mask, incarnations incs; every sender's numbering starts again. */
  function install(v: number, mask: number, incs: Uint8Array): void {
    for (let k = 0; k < n; k++) vinc[k] = incs[k];
    vid = v;
    vmask = mask;
    assumed = false;
    outside = false;
    flushing = false;
    gone = 0;
    needed = vmask;
    for (let k = 0; k < n; k++) if (((joinReq >>> k) & 1) && ((vmask >>> k) & 1) && vinc[k] === joinInc[k]) joinReq &= ~(1 << k);
    reset();
    stats.views++;
    if (viewFn) viewFn(vid, vmask);
    const k = carried;
    carried = 0;
    for (let i = 0; i < k; i++) send(cBuf[i], 0, cLen[i]);
  }

  /**
   * Keep our messages that no member can have delivered (we never committed them) to multicast again
   * in the next view: a restart that multicast before it found itself outside loses nothing. Those we
   * committed were settled by the others' flush (delivered there, or dropped alike).
   */
  function keep(): void {
    for (let back = pending() - 1; back >= 0 && carried < W; back--) {
      const slot = (sent - back) & wmask;
      if (hCommitted[slot]) continue;
      const l = hLen[slot] - O_HDR;
      const c = cBuf[carried];
      for (let i = 0; i < l; i++) c[i] = hBuf[slot][O_HDR + i];
      cLen[carried++] = l;
    }
  }

  /** Forget every message: a new view, or leaving the group. */
  function reset(): void {
    keep();
    sent = 0;
    for (let m = 0; m < n; m++) {
      acked[m] = 0;
      proposed[m] = 0;
      delivered[m] = 0;
    }
    for (let r = 0; r < n * W; r++) {
      if (rState[r] !== EMPTY) stats.discarded++;
      rState[r] = EMPTY;
      owePropose[r] = 0;
      dSeq[r] = 0;
    }
    holdCount = 0;
    oweAck = 0;
    oweNack = 0;
    queryAt = Infinity;
    const now = clock.now();
    for (let k = 0; k < n; k++) heard[k] = now;
  }

  /** This member is not in the group's view (any more): forget everything and ask to join. */
  function leave(): void {
    const was = !outside;
    outside = true;
    flushing = false;
    coordinating = false;
    instPending = 0;
    vmask = bit;
    needed = 0;
    gone = 0;
    reset();
    if (dynamic) hbAt = clock.now();
    arm();
    if (was && viewFn) viewFn(0, 0);
  }

  /** VIEW (or INSTALL) from member c: the change to view hdr.aux. */
  function onView(c: number, type: number, buf: Uint8Array): void {
    const v = hdr.aux;
    const mask = hdr.mask;
    const join = hdr.seq;
    const inIt = ((mask >>> me) & 1) === 1 && buf[hdr.off + me] === myInc;
    if (type === T_INSTALL) {
      if (!inIt) return;
      if (flushing && v === pvid) {
        for (let k = 0; k < n; k++) pinc[k] = buf[hdr.off + k];
        install(v, mask, pinc);
      }
      return;
    }
    if (outside || ((join >>> me) & 1)) {
      if (!inIt) return;
      if (!outside) leave(); // a restarted member still in the assumed view: it joins afresh
    } else {
      if (hdr.tag !== vid) return; // a change from another view than ours
      if (!inIt) {
        if (c < me) leave(); // excluded (a higher index that thinks us down is ignored: we run the next change)
        return;
      }
      if (flushing && !(viewAfter(v, pvid) || (v === pvid && c < pcoord))) {
        if (v === pvid && c === pcoord) flushCheck(true); // a repeat: FLUSHED may have been lost
        return;
      }
    }
    for (let k = 0; k < n; k++) pinc[k] = buf[hdr.off + k];
    if (outside) {
      flushing = true;
      flushedSent = false;
      pvid = v;
      pmask = mask;
      pjoin = join;
      pcoord = c;
      flushCheck();
      return;
    }
    enterFlush(v, mask, join, c);
  }

  // ---- the sender's side of the agreement -----------------------------------------------------------

  /** Commit our message s if every member whose proposal counts has proposed. */
  /**
   * Commit our outstanding messages, oldest first, while every member whose proposal counts has
   * proposed. In number order, each above the one before: the agreed timestamps of a sender must
   * rise (FIFO), and when a member leaves, a later message's proposals may all be lower than the one
   * that member gave an earlier message. Raising an agreed timestamp is safe: it stays at or above
   * every proposal.
   */
  function commitReady(): void {
    for (let back = pending() - 1; back >= 0; back--) {
      const s = (sent - back) & 0xffff;
      const slot = s & wmask;
      if (hCommitted[slot]) {
        lastAgreed = hMax[slot];
        continue;
      }
      if ((hProps[slot] & needed) !== needed) return;
      if (hMax[slot] <= lastAgreed) hMax[slot] = lastAgreed + 1;
      lastAgreed = hMax[slot];
      commit(s, slot);
    }
  }

  function commit(s: number, slot: number): void {
    hCommitted[slot] = 1;
    hDeadline[slot] = clock.now() + jitter(cfg.timeoutUs);
    if (cfg.groupAddr && !flushing) {
      emitTs(scratch, T_COMMIT, myInc, vid, s, hMax[slot]);
      mac.send(cfg.groupAddr, scratch, O_HDR_TS);
    } else for (let k = 0; k < n; k++) if (k !== me && ((needed >>> k) & 1)) sendTs(k, T_COMMIT, s, hMax[slot]);
    onCommit(me, s, hMax[slot]);
    arm();
  }

  function onPropose(m: number, s: number, ts: number): void {
    if (!outstanding(s)) return;
    const slot = s & wmask;
    if (hCommitted[slot]) return;
    hProps[slot] |= 1 << m;
    if (ts > hMax[slot]) hMax[slot] = ts;
    commitReady();
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
      // Never out of order (FIFO proposals make it impossible), except past a leaving member's messages
      // that no staying member had the commit of: they were dropped everywhere alike.
      if (rSeq[best] !== ((delivered[j] + 1) & 0xffff) && !((gone >>> j) & 1)) break;
      rState[best] = EMPTY;
      holdCount--;
      delivered[j] = rSeq[best];
      dSeq[best] = rSeq[best];
      dTs[best] = rTs[best];
      if (j === me) acked[me] = delivered[me];
      else if (!((gone >>> j) & 1)) {
        oweAck |= 1 << j;
        later();
      }
      stats.delivered++;
      if (onDeliverFn) onDeliverFn(rBuf[best], 0, rLen[best], addrs[j]);
    }
    delivering = false;
  }

  function commitHeld(r: number, ts: number): void {
    rState[r] = COMMITTED;
    rTs[r] = ts;
    if (ts > A) A = ts;
    deliverReady();
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
    else commitHeld(r, ts);
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
      // No sender numbers beyond the window of a member of the view that has not acknowledged: we
      // are a restart that drew our former self's incarnation. Draw another and join afresh.
      stats.outOfWindow++;
      if (j !== me && !flushing) redraw();
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

  /** We are not who the others take us for (a former self had our incarnation): leave with another. */
  function redraw(): void {
    const old = myInc;
    while (myInc === old) myInc = 1 + (rng.u32() % 255);
    vinc[me] = myInc;
    stats.restarts++;
    leave();
  }

  function onAck(m: number, cum: number, nack: boolean): void {
    const beyond = (cum - sent) & 0xffff;
    if (beyond !== 0 && beyond < 0x8000 && !flushing) {
      redraw(); // acknowledged messages we never sent: the same as above
      return;
    }
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

  /** A frame from incarnation x of member j, which the view does not list: note it for the coordinator. */
  function stranger(j: number, x: number): void {
    stats.stale++;
    if (((vmask >>> j) & 1) && vinc[j] !== x) heard[j] = -Infinity; // its former self is down
    if (!((joinReq >>> j) & 1) || joinInc[j] !== x) {
      joinReq |= 1 << j;
      joinInc[j] = x;
    }
    if (dynamic && !flushing && !outside) {
      vcAt = clock.now();
      arm();
    }
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
    const x = hdr.inc;
    const now = clock.now();
    if (assumed && vinc[j] === 0 && t !== T_JOIN) vinc[j] = x; // the first incarnation heard, in the first view
    if (t === T_JOIN) {
      if (flushing && ((pmask >>> j) & 1) && pinc[j] === x) heard[j] = now; // a joiner of the change under way
      else if (!outside) stranger(j, x);
      return;
    }
    // Membership frames: VIEW and INSTALL from a member of our view (or, outside, anyone), FLUSHED, QUERY, ANSWER.
    const ours = ((vmask >>> j) & 1) === 1 && vinc[j] === x;
    const joining = flushing && ((pmask >>> j) & 1) === 1 && pinc[j] === x;
    if (t === T_VIEW || t === T_INSTALL) {
      if (ours || outside || assumed) {
        if (ours) heard[j] = now;
        onView(j, t, payload);
      }
      return;
    }
    if (!ours && !joining) {
      if (!outside) stranger(j, x);
      return;
    }
    heard[j] = now;
    if (flushing && hdr.tag === pvid && (outside || viewAfter(pvid, vid)) && t !== T_FLUSHED) {
      // A frame of the new view: it was installed, and its INSTALL has not reached us.
      install(pvid, pmask, pinc);
    }
    if (outside) return;
    if (t === T_FLUSHED) {
      if (hdr.aux === pvid && (ours || joining)) onFlushed(j);
      return;
    }
    if (hdr.tag !== vid) {
      stats.stale++;
      if (viewAfter(hdr.tag, vid) && !flushing) leave(); // the group moved on without us
      return;
    }
    if ((instPending >>> j) & 1) instPending &= ~(1 << j);
    if (t === T_ALIVE) return;
    if (t === T_QUERY) {
      onQuery(j, hdr.aux, hdr.seq);
      return;
    }
    if (t === T_ANSWER) {
      onAnswer(j, hdr.aux, hdr.seq, hdr.ts);
      return;
    }
    if (!ours || ((gone >>> j) & 1)) {
      stats.stale++; // a leaving member's messages are settled among those that stay
      return;
    }
    if (t === T_DATA) onData(j, hdr.seq, payload, O_HDR, len - O_HDR); // in a flush: the old view's, sent again
    else if (t === T_PROPOSE) onPropose(j, hdr.seq, hdr.ts);
    else if (t === T_COMMIT) onCommit(j, hdr.seq, hdr.ts);
    else if (t === T_HAVE) {
      if (outstanding(hdr.seq)) hHave[hdr.seq & wmask] |= 1 << j;
    } else onAck(j, hdr.seq, t === T_NACK);
    if (flushing) flushCheck();
  });
  /** Number and multicast payload[off..off+len) in the installed view (the caller checked the window). */
  function send(payload: Uint8Array, off: number, len: number): void {
    const s = (sent + 1) & 0xffff;
    sent = s;
    const slot = s & wmask;
    const buf = hBuf[slot];
    emitSeq(buf, P_TOTAL, T_DATA, myInc, vid, s);
    for (let i = 0; i < len; i++) buf[O_HDR + i] = payload[off + i];
    hLen[slot] = O_HDR + len;
    hProps[slot] = 0;
    hMax[slot] = 0;
    hCommitted[slot] = 0;
    hHave[slot] = 0;
    hNacked[slot] = -Infinity;
    hDeadline[slot] = clock.now() + jitter(cfg.timeoutUs);
    stats.sent++;
    if (cfg.groupAddr) mac.send(cfg.groupAddr, buf, O_HDR + len);
    else for (let m = 0; m < n; m++) if (m !== me && ((vmask >>> m) & 1)) mac.send(addrs[m], buf, O_HDR + len); // a refused send is a loss: the timer resends
    arm();
    onData(me, s, buf, O_HDR, len); // our own proposal, and with one member the commit and delivery
  }

  mac.onSent(null);
  if (dynamic) hbAt = beat(clock.now());
  arm();

  return {
    stats,
    maxPayload: mtu - O_HDR,
    incarnation: () => myInc,
    pending,
    holding: () => holdCount,
    view: () => ({ id: outside ? 0 : vid, mask: outside ? 0 : vmask }),
    onView(fn: ViewFn | null): void {
      viewFn = fn;
    },
    onDeliver(fn: DeliverFn | null): void {
      onDeliverFn = fn;
    },
    multicast(payload: Uint8Array, len: number): number {
      if (!(len >= 0 && len <= mtu - O_HDR && len <= payload.length)) return ORDER_E_TOO_LARGE;
      if (outside || flushing || pending() + carried >= W) return ORDER_E_FULL;
      send(payload, 0, len);
      return ORDER_OK;
    },
  };
}

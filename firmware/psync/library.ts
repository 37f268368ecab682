// Library routines on top of a Psync endpoint (the Psync paper, sections 3.2.2, 3.2.4, 4.2 and 5): the
// ordered broadcast by waves with commit, send_stable, acknowledgements, the last-ACK watchdog, a
// small delete protocol over mask_out, and the join protocol that brings a restarted participant
// back. One conversation per library object.
//
// - Messages: every payload this library sends starts with a kind byte: LB_DATA (application data),
//   LB_REMOVE (a participant is taken out: its 16-bit address and its newest message the sender has
//   follow), LB_JOIN (a restarted one is taken back in; joinBytes(participants) long: 18 bytes for 4,
//   which a MAC must carry beside the predecessor list). An empty message is an ACK.
//   Every send in the conversation must go through the library (it records each message it sees).
// - Waves (4.2): the committed messages are closed under predecessors, and each participant's messages
//   form a chain, so the committed part of the view is one count per participant. The current wave is
//   the roots of the uncommitted part: for each participant, its first uncommitted message when all of
//   that message's immediate predecessors are committed (at most one per participant). The wave is
//   complete as soon as one root is stable (every other participant has sent a message in its context,
//   so every later message follows it and no other root can still arrive); then all the roots are
//   committed, sorted by participant index (the order of the SC's list, the same at every host), and
//   the data among them handed to onCommit. Committing as each message becomes stable would not do:
//   messages become stable in different orders at different hosts. Each record keeps its immediate
//   predecessors and a copy of its data from the moment it joins the view, so the Psync endpoint may
//   free buffers and reclaim graph nodes as it likes.
// - ACKs (figure 8): after receiving a message that is not an ACK, a host that sends nothing within
//   ackUs sends an ACK (an empty message); ACKs themselves are not acknowledged, so a quiet
//   conversation falls silent. The watchdog (3.2.2): while some message that is not an ACK is not
//   committed, or committed but not yet stable here (a wave commits on one stable root; layers above
//   may wait for the others to be stable too), every tickUs without a new delivery or commit the host
//   resends its newest own message that is not stable, and each other participant's oldest such
//   message that is not stable (the duplicate rule then brings back the replies this host missed,
//   which their senders, holding every reply, never resend), at most `retries` times in a row.
// - send_stable (figure 6): send, then every stableUs check the message; resend it when it is not
//   stable, and after stableTries report failure with the participants that have not sent a message in
//   its context (3.2.4: how a participant concludes that a host failed). Reported through onStable as
//   soon as the message is stable, without blocking.
// - Failures (3.2.4): remove(addr) masks the participant out (Psync then ignores its new messages) and
//   sends a REMOVE marker; a host that receives a marker for a participant it has not removed removes it
//   too, and a host that reads its own address stops sending. While a participant r is removed, a wave
//   root is complete when every running participant has sent in its context and r has too, or every
//   running participant's marker for r is in the view. A message of r reaches a running host's view
//   only if some running host received it before masking r out (later ones are ignored unless another
//   participant's message needs them), and that host's marker follows it: with all the markers in view,
//   every message of r that any running host will ever have is in this view, so every host commits the
//   same waves. Each marker names r's newest message its sender had (mLast: the newest they name), and
//   while r is removed and every marker is in view, r's later messages are not roots: none is in view
//   unless r was masked back in at its restart (then they wait for the switch, see below). This holds
//   for one failure at a time; agreeing on failures in general needs the paper's delete protocol [18],
//   which this does not attempt (a partitioned pair may remove each other).
//   Failure detection is the application's (send_stable failing, say) unless suspectUs is set: then a
//   participant that some message in the view has waited for, silent for suspectUs (counted from when
//   the watchdog started looking, so a quiet conversation suspects nobody), is removed. Too short a
//   suspectUs under heavy loss removes live participants. One that reads its own address in a marker
//   (onRemoved with its own address) is out for good unless its application restarts the
//   conversation as after a crash: ps.close(conv), ps.restart(cid, participants, n, [], 0), its log
//   replayed, lib.rejoin (host/sim/conversation.ts does so; the application starts empty again). A
//   participant removed before it ever had the conversation (its SC lost until the others, no longer
//   waiting for it, freed it) is sent an SC notice when it asks for the conversation; Psync restarts
//   into it (psync.ts), and attach() then follows it as rejoin() would.
// - Rejoin after a restart (section 5, the join protocol the paper leaves to the application):
//   * The restarted host calls ps.restart(cid, participants, n, [], 0), feeds its log through inject
//     if it has one, and lib.rejoin(conv) instead of attach(). This is the paper's replay for
//     reexecution (5.2), with the waves as the ordering filter it asks for: the application starts
//     empty and every wave the rebuilt image allows is committed again through onCommit, in the order
//     every host commits (the order it committed before the crash, except where its last waves held
//     own messages that no running host had received: those come later, see the switch). The library sends nothing meanwhile (no ACKs,
//     no resends; send returns PS_E_RECOVERING); sends are not suppressed against old ids as in 5.2,
//     because the library's own ACKs, timed by the clock, would take the ids of the application's
//     re-sends; own messages from before the crash come back as deliveries and commits instead.
//   * Every other host, on the RS (Psync's onRestart, which the library takes: applications use
//     lib.onRestart) or on someone's JOIN for that host, masks it back in at Psync and sends one JOIN
//     message (LB_JOIN) naming it, carrying its commit position and committed cut. It sends it once
//     its committed cut covers every message that was stable here when the RS came (Psync's answer
//     reports those as stable, and the restarted host may take them without content), and, if it had
//     removed the host, once every running participant's REMOVE marker for it is in view (then the
//     JOIN also names the host's newest message the markers name: the last any running host had
//     before the restart).
//   * The switch: a restarted host is back in, for the waves' completeness, from the wave after the
//     one that commits the last of the running participants' JOINs for it. That is a point of the
//     total order, the same at every host. Before it, a removed host's messages after the one the
//     JOINs name (old ones only its log had, that no running host received: the case 1 messages of
//     3.2.3) are not roots, as if still ignored; the host's first new message follows every JOIN, so
//     it cannot be a root before the switch either. After it, everything is ordinary: those old
//     messages are committed in the first waves after the switch, like any other.
//   * The restarted host is back (onRejoin, sends allowed) once its Psync restart is complete and
//     every running participant's JOIN for it is in view. Its first new message is an ACK. Until its
//     own switch, an own message from before the crash is a root only once another participant has
//     sent in its context (or the JOINs name it): otherwise the wave waits, as nobody knows yet whether
//     the others' waves contain it. Once every running participant's marker for it is in view (it was
//     removed while down), the markers settle it sooner: one they do not name (sent just before the
//     crash, received by nobody; Psync sends it to the others at their RS answers) waits for the
//     switch at every host. Waiting for the JOINs could be for good: with logs the replay takes what
//     the others sent meanwhile with content, and the records filled before the JOINs came (4 hosts,
//     30 %, seed 1: 48 records full, 1.37 million frames, never back). A running host that hears the
//     restart before every marker is in its view still takes such a message by the old rule (not
//     seen; one failure at a time).
//   * Logs served (log.ts, psync's serveFrom): a running host whose log holds its whole image sends
//     what the restarted host lacks from it, stable or not, and says so (LOGGED) in its RS answer;
//     then nothing comes back without content, the replay has no gap, missed stays 0 and the restarted
//     host's commits are exactly the others' (replicated objects converge with no state transfer).
//   * What it cannot replay otherwise: Psync frees a message's copies once it is stable, so what was
//     stable at every host and not in a log (all of it without logs, the log's unwritten tail with one,
//     and every wave completed while the host was masked out) comes back without content. The replay then
//     has a gap; the host stops committing at it and jumps to the best JOIN's cut (cuts of committed
//     waves nest, being prefixes of one order) once one covers the gap (during the replay or, at the
//     latest, once back). The data commits in between are not replayed: stats.missed counts them and
//     onRejoin's position (data commits before the first one after the jump, the same number at every
//     host, even if the replay committed more before onRejoin) says where the application's sequence
//     resumes, so an application that kept state across the crash knows which commits it lacks. The
//     jump may pass over the REMOVE markers for the host: a JOIN that says it was removed follows
//     every one of them, so from it the host counts itself removed with every marker in view (and
//     mLast from the JOIN), as the others do until the switch; otherwise its waves would wait for its
//     own acknowledgement, which a full set of records kept out for good (8 hosts, 30 %, seed 6). Objects built on the commits (replicated.ts) need a state transfer of their own for that
//     stretch; a replay without a gap needs none. stats.stuck counts a gap no JOIN covers (not seen).
// - Flow control (3.3): each participant's messages may hold records / participants records; Psync
//   asks before a received message joins the view (onAdmit) and discards what has no record, for the
//   retransmission mechanisms to bring back. Own data stops one short of the quota, so an ACK can
//   always follow everything received and the current wave completes. With fewer records a message
//   could join the view without a record and this host would commit a different sequence; if that
//   ever happens anyway (`lost`), the host stops committing instead.
// Board code: every table is allocated at creation; one timer; nothing is allocated per message.

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import { PS_MAX_PARTICIPANTS } from './frame.ts';
import type { Psync } from './psync.ts';
import { PS_E_FULL, PS_E_RECOVERING, PS_E_TOO_LARGE, PS_E_UNKNOWN, PS_OK, PS_E_ARG, midOf, midSender, midSeq } from './psync.ts';

const MAXP = PS_MAX_PARTICIPANTS;

/** Kind byte: application data follows. */
export const LB_DATA = 1;
/**
 * Kind byte: the participant whose address follows (2 bytes, big-endian) is taken out; then the
 * ordinal of its newest message in the sender's view (2 bytes).
 */
export const LB_REMOVE = 2;
/** Kind of an empty message. */
export const LB_ACK = 0;
/**
 * Kind byte: the participant whose address follows has restarted and is taken back in (the join
 * protocol of section 5). Then, big-endian: the newest of that participant's messages the REMOVE
 * markers name (ordinal, 2 bytes; 0 when it was not removed), flags (1 byte, bit 0: the sender had
 * removed it), the sender's commit position (data messages committed, 4 bytes), and its committed cut
 * (ordinal of the last committed message of each participant, 2 bytes each).
 */
export const LB_JOIN = 3;
/** Bytes of a JOIN message for p participants. */
export function joinBytes(p: number): number {
  return 10 + 2 * p;
}
/** Not attached to a conversation, or attached to another. */
export const LB_E_UNKNOWN = PS_E_UNKNOWN;
/** Every send_stable slot is in use. */
export const LB_E_BUSY = -8;
/** This host has been removed from the conversation by the others. */
export const LB_E_REMOVED = -9;

export interface LibConfig {
  /**
   * Messages of the view not yet committed, own included (the records); at least 3 x participants, and
   * the same at every host: each participant's messages may hold records / participants of them, and
   * a host sends data only while its own hold one less than that.
   */
  records: number;
  /** Data bytes kept per record: the largest data a message may carry through the library. */
  dataBytes: number;
  /** Wait before acknowledging a received message with an ACK, µs (a send in between acknowledges it). */
  ackUs: number;
  /** Watchdog period, µs (stretched by a random 0-50 %). */
  tickUs: number;
  /** Watchdog resends in a row without a delivery or commit before it gives up. */
  retries: number;
  /** send_stable calls in progress at once. */
  stableSlots: number;
  /** send_stable: wait per try, µs, and tries (one resend each but the last). */
  stableUs: number;
  stableTries: number;
  /**
   * Failure detection (3.2.4): a participant not heard from for this long, µs, while one of the view's
   * messages waits for it, is removed (mask_out and a marker). 0 or absent: off, the application decides
   * (for example when send_stable fails).
   */
  suspectUs?: number;
  /**
   * Data waits (send returns PS_E_FULL) while Psync's image holds this many messages not yet stable
   * (Psync's unstable(conv)); 0 or absent: no limit. About half of Psync's nodes when a participant
   * may be slow to acknowledge for a while, as a restarted one is during its replay (see Flow control).
   */
  unstableMax?: number;
}

export const LIB_DEFAULTS: LibConfig = {
  records: 48, dataBytes: 24, ackUs: 10_000, tickUs: 150_000, retries: 40, stableSlots: 4, stableUs: 300_000, stableTries: 6,
};

export interface LibStats {
  /** Messages of others delivered to the library, and own messages sent through it (ACKs included). */
  delivered: number;
  sent: number;
  acksSent: number;
  /** Waves committed, and data messages handed to onCommit. */
  waves: number;
  committed: number;
  /** Watchdog resends. */
  resent: number;
  stableOk: number;
  stableFailed: number;
  removed: number;
  /** Received messages refused for want of a free record (Psync discards them; retransmission brings them back). */
  refused: number;
  /** Messages that found no free record anyway; the host then stops committing rather than commit another order. */
  lost: number;
  /** Received data longer than dataBytes (committed cut short). */
  truncated: number;
  /** Most records in use at once. */
  peakRecords: number;
  /** Participants removed by the failure detector (suspectUs). */
  suspected: number;
  /** JOIN messages sent (a participant restarted), and participants taken back in. */
  joinsSent: number;
  joined: number;
  /** After this host's own restart: data commits it could not replay (stable elsewhere, copies gone), skipped by a jump to another host's cut. */
  missed: number;
  /** After this host's own restart: no JOIN's cut covered what it could not replay; it stops committing. */
  stuck: number;
}

/** (conv, mid, data, len): data[0..len) is valid during the call only. */
export type LibMsgFn = (conv: number, mid: number, data: Uint8Array, len: number) => void;

export interface PsyncLib {
  /** Follow conversation conv (right after activeOpen, or in onOpen before its SC is delivered). */
  attach(conv: number): number;
  conv(): number;
  /** Send data (the first send of the initiator is the SC). Returns the mid or a PS_E_ / LB_E_ code. */
  send(data: Uint8Array, len: number): number;
  /** Send data and report through onStable when it is stable, or that it failed. */
  sendStable(data: Uint8Array, len: number): number;
  /** Take a participant out (3.2.4): mask it out and tell the others. */
  remove(addr: number): number;
  /** Is mid stable in the sense the waves use (running participants, and removed ones as above)? */
  complete(mid: number): boolean;
  /** Data from others as it joins the view (context order); after a restart, own data from before it too. */
  onDeliver(fn: LibMsgFn | null): void;
  /** Data of every participant, own included, in the total order of the waves (the same at every host). */
  onCommit(fn: LibMsgFn | null): void;
  /** send_stable outcome; missing: bit i set for participant index i that never sent in mid's context. */
  onStable(fn: ((conv: number, mid: number, ok: boolean, missing: number) => void) | null): void;
  /** A participant was taken out here (by remove or by a marker); addr is this host's own when others removed it. */
  onRemoved(fn: ((conv: number, addr: number) => void) | null): void;
  /** After every delivery, send and commit (for layers that wait on stability). */
  onProgress(fn: ((conv: number) => void) | null): void;
  /**
   * Section 5: follow conversation conv after this host restarted it with ps.restart(cid, participants,
   * n, [], 0) (replay from the root), instead of attach(). The application starts empty: every commit
   * the rebuilt image allows is made again through onCommit, then onRejoin says the host is back.
   */
  rejoin(conv: number): number;
  /** Still rejoining after a restart (sends are refused with PS_E_RECOVERING). */
  rejoining(): boolean;
  /** The host is back after a restart: position is the number of data commits before the next one (see the header). */
  onRejoin(fn: ((conv: number, position: number) => void) | null): void;
  /** Psync's restart notice (the library takes ps.onRestart): addr restarted conv, or this host's own restart is complete. */
  onRestart(fn: ((conv: number, addr: number) => void) | null): void;
  /** Data messages committed in the total order so far (with those skipped by a rejoin). */
  position(): number;
  /** Participant index of an address, -1 if none. */
  indexOf(addr: number): number;
  /** Messages of participant index q committed so far. */
  committedOf(q: number): number;
  /** Has mid been committed here? */
  isCommitted(mid: number): boolean;
  recordsUsed(): number;
  readonly stats: LibStats;
}

export interface LibOptions {
  ps: Psync;
  /** This host's address (the MAC's). */
  addr: number;
  clock: Clock;
  rng: Rng;
  config?: LibConfig;
}

export function psyncLib(o: LibOptions): PsyncLib {
  const ps = o.ps;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || LIB_DEFAULTS;
  const myAddr = o.addr;
  const U = cfg.records;
  const D = cfg.dataBytes;
  const S = cfg.stableSlots;
  const stats: LibStats = {
    delivered: 0, sent: 0, acksSent: 0, waves: 0, committed: 0, resent: 0, stableOk: 0, stableFailed: 0, removed: 0,
    refused: 0, lost: 0, truncated: 0, peakRecords: 0, suspected: 0, joinsSent: 0, joined: 0, missed: 0, stuck: 0,
  };
  const suspectUs = cfg.suspectUs || 0;
  const unstableMax = cfg.unstableMax || 0;

  // The conversation.
  let conv = -1;
  let P = 0;
  let me = 0;
  const addrs = new Uint16Array(MAXP);
  const first = new Uint16Array(MAXP);
  const committed = new Uint16Array(MAXP);
  /** Ordinal of each participant's newest message in the view. */
  const last = new Uint16Array(MAXP);
  /** markers[r]: bit s when participant s's REMOVE marker for r is in the view; mLast[r]: r's newest message they name. */
  const markers = new Uint8Array(MAXP);
  const mLast = new Uint16Array(MAXP);
  let removed = 0;
  /** Own markers still to send (send refused for lack of buffers). */
  let markerDue = 0;
  let expelled = false;
  // The join protocol (section 5, see the header).
  /** joins[r]: bit s when s's JOIN for r is in the view; joinsDone[r]: when it is committed; joinsOut[r]: JOINs that say r had been removed. */
  const joins = new Uint8Array(MAXP);
  const joinsOut = new Uint8Array(MAXP);
  /** need[r * MAXP + q]: q's messages stable here when r's restart was heard (the cut our JOIN must cover). */
  const need = new Uint16Array(MAXP * MAXP);
  const joinsDone = new Uint8Array(MAXP);
  /** Restarted participants this host owes a JOIN, and those it sent one for (until the switch). */
  let joinDue = 0;
  let joinSent = 0;
  /** Last delivery from each participant (failure detection). */
  const heard = new Float64Array(MAXP);
  /** Data messages committed in the total order. */
  let pos = 0;
  // This host's own restart: replaying (no sends) until it is back; joining until its switch.
  let replaying = false;
  let joining = false;
  let psDone = false;
  /** A message was never delivered here (or found no record) during the replay: gapEnd[q] is q's last such. */
  let gap = false;
  const gapEnd = new Uint16Array(MAXP);
  /** The best JOIN for this host: its commit position (-1: none) and cut. */
  let bPos = -1;
  /** Where the jump landed (-1: none): the commits resume there, even if some follow before onRejoin. */
  let resume = -1;
  const bCut = new Uint16Array(MAXP);
  const rArg = new Uint8Array(U);
  const jBuf = new Uint8Array(10 + 2 * MAXP);

  // Records of uncommitted messages.
  const rUsed = new Uint8Array(U);
  const rQ = new Uint8Array(U);
  const rOrd = new Uint16Array(U);
  const rKind = new Uint8Array(U);
  /** Committed, kept until it is complete so that the watchdog sees it through (3.2.2). */
  const rDone = new Uint8Array(U);
  const rLen = new Uint16Array(U);
  const rPred = new Uint16Array(U * MAXP);
  const rDataAll = new Uint8Array(U * D);
  const rData: Uint8Array[] = [];
  for (let k = 0; k < U; k++) rData.push(rDataAll.subarray(k * D, (k + 1) * D));
  let used = 0;
  /** Records each participant's messages may hold (records / participants). */
  let quota = 0;
  const wave = new Int16Array(MAXP);
  let advancing = false;

  // send_stable slots.
  const sMid = new Float64Array(S).fill(-1);
  const sDeadline = new Float64Array(S);
  const sTries = new Uint8Array(S);

  const prevOut = new Float64Array(MAXP);
  const txBuf = new Uint8Array(D + 5); // data after its kind byte, or a marker (5 bytes)
  const dBuf = new Uint8Array(D);
  const EMPTY = new Uint8Array(0);

  let needAck = false;
  let ackAt = 0;
  let tickAt = 0;
  let tries = 0;
  let progress = 0;
  let progressSeen = -1;
  let lastOwn = -1;
  let timer: Timer | null = null;
  let timerAt = Infinity;
  let watching = false;

  let deliverFn: LibMsgFn | null = null;
  let commitFn: LibMsgFn | null = null;
  let stableFn: ((conv: number, mid: number, ok: boolean, missing: number) => void) | null = null;
  let removedFn: ((conv: number, addr: number) => void) | null = null;
  let progressFn: ((conv: number) => void) | null = null;
  let rejoinFn: ((conv: number, position: number) => void) | null = null;
  let restartFn: ((conv: number, addr: number) => void) | null = null;

  function indexOf(addr: number): number {
    for (let i = 0; i < P; i++) if (addrs[i] === addr) return i;
    return -1;
  }

  function ordOf(q: number, seq: number): number {
    return ((seq - first[q]) & 0xffff) + 1;
  }

  function seqOf(q: number, ord: number): number {
    return (first[q] + ord - 1) & 0xffff;
  }

  function midAt(q: number, ord: number): number {
    return midOf(addrs[q], seqOf(q, ord));
  }

  /** Has participant r sent a message in the context of mid (r's newest message follows it)? */
  function ackedBy(mid: number, r: number): boolean {
    return last[r] !== 0 && ps.precedes(conv, mid, midAt(r, last[r]));
  }

  /** Every participant other than r that is not removed has its marker for r in the view. */
  function markersDone(r: number): boolean {
    for (let s = 0; s < P; s++) {
      if (s === r || ((removed >>> s) & 1)) continue;
      if (((markers[r] >>> s) & 1) === 0) return false;
    }
    return true;
  }

  function complete(mid: number): boolean {
    const q = indexOf(midSender(mid));
    if (q < 0) return false;
    // Psync's stability leaves the masked-out (removed) participants aside; they are checked here.
    const st = ps.stable(conv, mid);
    for (let r = 0; r < P; r++) {
      if (r === q) continue;
      if ((removed >>> r) & 1) {
        if (!markersDone(r) && !ackedBy(mid, r)) return false;
      } else if (!st && !ackedBy(mid, r)) {
        return false;
      }
    }
    return true;
  }

  /** Read a big-endian 16-bit number. */
  function u16(b: Uint8Array, i: number): number {
    return (b[i] << 8) | b[i + 1];
  }

  /** A JOIN in the view (sent by q): note it, and keep the best cut for this host's own rejoin. */
  function noteJoin(q: number, payload: Uint8Array, len: number): number {
    if (len < joinBytes(P)) return -1;
    const r = indexOf(u16(payload, 1));
    if (r < 0 || r === q) return -1;
    joins[r] |= 1 << q;
    if (payload[5] & 1) {
      joinsOut[r] |= 1 << q;
      // It follows every running participant's marker for r: as if they were in view (a replay's jump
      // may have passed over them, and this host's waves then need them as the others' do).
      if (r === me && joining) {
        removed |= 1 << me;
        markers[me] = 0xff;
        if (u16(payload, 3) > mLast[me]) mLast[me] = u16(payload, 3);
      }
    }
    if (r === me && replaying) {
      const at = ((payload[6] << 24) >>> 0) + (payload[7] << 16) + (payload[8] << 8) + payload[9];
      // Cuts nest (prefixes of one order): the later one has the larger position, or on a tie (waves
      // of ACKs only) the more messages.
      let more = 0;
      for (let i = 0; i < P; i++) more += u16(payload, 10 + 2 * i) - bCut[i];
      if (at > bPos || (at === bPos && more > 0)) {
        bPos = at;
        for (let i = 0; i < P; i++) bCut[i] = u16(payload, 10 + 2 * i);
      }
    } else if (r !== me && !expelled && !((joinDue | joinSent) >>> r & 1)) {
      // Someone took r back in: so does this host (the JOINs spread as the markers do).
      heardRestart(r);
    }
    return r;
  }

  /** Record a message as it joins the view. */
  function store(q: number, seq: number, kind: number, payload: Uint8Array, len: number): void {
    const ord = ordOf(q, seq);
    // A replay that jumps over messages (stable elsewhere, copies gone): it needs a JOIN's cut.
    if (joining && q !== me && ord > last[q] + 1) noteGap(q, ord - 1);
    last[q] = ord;
    if (kind === LB_REMOVE && len >= 5) {
      const r = indexOf(u16(payload, 1));
      if (r >= 0) {
        markers[r] |= 1 << q;
        if (u16(payload, 3) > mLast[r]) mLast[r] = u16(payload, 3);
      }
    }
    let arg = 0;
    if (kind === LB_JOIN) arg = noteJoin(q, payload, len);
    let k = 0;
    while (k < U && rUsed[k]) k++;
    if (k === U) {
      if (replaying) noteGap(q, ord);
      else stats.lost++;
      return;
    }
    rUsed[k] = 1;
    used++;
    if (used > stats.peakRecords) stats.peakRecords = used;
    rQ[k] = q;
    rOrd[k] = ord;
    rKind[k] = kind;
    rArg[k] = arg < 0 ? 0xff : arg;
    rDone[k] = 0;
    for (let r = 0; r < MAXP; r++) rPred[k * MAXP + r] = 0;
    const n = ps.prev(conv, midAt(q, ord), prevOut);
    for (let i = 0; i < n; i++) {
      const r = indexOf(midSender(prevOut[i]));
      if (r < 0) continue;
      const o = ordOf(r, midSeq(prevOut[i]));
      rPred[k * MAXP + r] = o;
      if (joining && o > last[r]) noteGap(r, o);
    }
    let dl = kind === LB_DATA ? len - 1 : 0;
    if (dl > D) {
      dl = D;
      stats.truncated++;
    }
    rLen[k] = dl;
    const b = rData[k];
    for (let i = 0; i < dl; i++) b[i] = payload[1 + i];
  }

  function noteGap(q: number, o: number): void {
    gap = true;
    if (o > gapEnd[q]) gapEnd[q] = o;
    if (o > last[q]) last[q] = o;
  }

  /** The record of participant q's next message to commit when it is a root of the uncommitted part. */
  function rootOf(q: number): number {
    const want = committed[q] + 1;
    // A removed participant with every marker in view: its messages no marker names (received after
    // it was masked back in at its restart) wait for the switch, at every host alike. (A JOIN for it
    // that says it was removed follows every marker, so this covers the messages after the one the
    // JOINs name.)
    if ((removed >>> q) & 1 && markersDone(q) && want > mLast[q]) return -1;
    for (let k = 0; k < U; k++) {
      if (!rUsed[k] || rDone[k] || rQ[k] !== q || rOrd[k] !== want) continue;
      for (let r = 0; r < P; r++) if (rPred[k * MAXP + r] > committed[r]) return -1;
      // Own messages from before the restart count only once another participant vouches for them
      // (or the JOINs name them): one nobody received is not in the others' waves before the switch.
      // Not knowing yet whether it belongs, the wave waits (-2) rather than leave it out.
      if (joining && q === me && joinsOut[me] === 0 && !vouched(midAt(q, want))) return -2;
      return k;
    }
    return -1;
  }

  /** Has some other participant sent a message in the context of mid? */
  function vouched(mid: number): boolean {
    for (let r = 0; r < P; r++) if (r !== me && ackedBy(mid, r)) return true;
    return false;
  }

  /** Commit complete waves, one after another, until the current one is not complete. */
  function advance(): void {
    if (advancing || conv < 0 || stats.lost !== 0 || (gap && !jump())) return;
    advancing = true;
    for (;;) {
      let ready = false;
      let any = false;
      let doubt = false;
      for (let q = 0; q < P; q++) {
        const k = rootOf(q);
        wave[q] = k;
        if (k === -2) doubt = true;
        if (k < 0) continue;
        any = true;
        if (!ready && complete(midAt(q, rOrd[k]))) ready = true;
      }
      if (!any || !ready || doubt) break;
      stats.waves++;
      for (let q = 0; q < P; q++) if (wave[q] >= 0) committed[q] = rOrd[wave[q]];
      for (let q = 0; q < P; q++) {
        const k = wave[q];
        if (k < 0) continue;
        if (rKind[k] === LB_DATA) {
          stats.committed++;
          pos++;
          progress++;
          if (commitFn) commitFn(conv, midAt(q, rOrd[k]), rData[k], rLen[k]);
        } else if (rKind[k] === LB_JOIN && rArg[k] !== 0xff) {
          joinsDone[rArg[k]] |= 1 << q;
          switchIn(rArg[k]);
        }
        rDone[k] = 1;
      }
    }
    // Committed records leave once complete (ACKs at once: nobody waits for them).
    for (let k = 0; k < U; k++) {
      if (rUsed[k] && rDone[k] && (rKind[k] === LB_ACK || complete(midAt(rQ[k], rOrd[k])))) {
        rUsed[k] = 0;
        used--;
      }
    }
    advancing = false;
  }

  /** Participant r restarted (its RS, or someone's JOIN for it): take it back in at Psync, owe it a JOIN. */
  function heardRestart(r: number): void {
    if (r === me || (((joinDue | joinSent) >>> r) & 1)) return;
    // What our JOIN's cut must cover: the messages stable here now, which Psync's answer to the RS
    // reports as stable, so that the restarted host may have taken them without their content.
    for (let q = 0; q < P; q++) {
      let o = committed[q];
      while (o < last[q] && ps.stable(conv, midAt(q, o + 1))) o++;
      need[r * MAXP + q] = o;
    }
    joinDue |= 1 << r;
    ps.maskIn(conv, addrs[r]);
    heard[r] = clock.now();
  }

  /** Send the JOINs owed, each once its cut covers what it must and (removed) every marker is in view. */
  function sendJoins(): void {
    for (let r = 0; r < P; r++) {
      if (((joinDue >>> r) & 1) === 0) continue;
      const out = (removed >>> r) & 1;
      if (out && !markersDone(r)) continue;
      let ok = true;
      for (let q = 0; q < P; q++) if (committed[q] < need[r * MAXP + q]) ok = false;
      if (!ok) continue;
      jBuf[0] = LB_JOIN;
      jBuf[1] = addrs[r] >> 8;
      jBuf[2] = addrs[r] & 0xff;
      jBuf[3] = mLast[r] >> 8;
      jBuf[4] = mLast[r] & 0xff;
      jBuf[5] = out;
      jBuf[6] = (pos >>> 24) & 0xff;
      jBuf[7] = (pos >>> 16) & 0xff;
      jBuf[8] = (pos >>> 8) & 0xff;
      jBuf[9] = pos & 0xff;
      for (let q = 0; q < P; q++) {
        jBuf[10 + 2 * q] = committed[q] >> 8;
        jBuf[11 + 2 * q] = committed[q] & 0xff;
      }
      if (sendRaw(jBuf, joinBytes(P), LB_JOIN) < 0) continue;
      joinDue &= ~(1 << r);
      joinSent |= 1 << r;
      stats.joinsSent++;
    }
  }

  /** A JOIN for r was committed: once every running participant's is, r is back in (the same wave everywhere). */
  function switchIn(r: number): void {
    for (let s = 0; s < P; s++) {
      if (s === r || ((removed >>> s) & 1)) continue;
      if (((joinsDone[r] >>> s) & 1) === 0) return;
    }
    removed &= ~(1 << r);
    markers[r] = 0;
    mLast[r] = 0;
    joins[r] = 0;
    joinsOut[r] = 0;
    joinsDone[r] = 0;
    joinSent &= ~(1 << r);
    joinDue &= ~(1 << r);
    markerDue &= ~(1 << r);
    if (r === me) joining = false;
    else ps.maskIn(conv, addrs[r]);
    stats.joined++;
  }

  /**
   * This host's replay left out messages (gapEnd): jump to the best JOIN's cut when it covers them.
   * The cuts of JOINs are wave boundaries of the one total order, so they nest with ours.
   */
  function jump(): boolean {
    if (bPos < pos) return false;
    let ahead = false;
    for (let q = 0; q < P; q++) {
      if (bCut[q] < gapEnd[q]) return false;
      if (bCut[q] > committed[q]) ahead = true;
    }
    if (!ahead) return false;
    for (let q = 0; q < P; q++) if (bCut[q] > committed[q]) committed[q] = bCut[q];
    stats.missed += bPos - pos;
    pos = resume = bPos;
    for (let k = 0; k < U; k++) {
      if (rUsed[k] && rOrd[k] <= committed[rQ[k]]) {
        rUsed[k] = 0;
        used--;
      }
    }
    gap = false;
    gapEnd.fill(0);
    return true;
  }

  /** Back after a restart: Psync's image is rebuilt and every running participant's JOIN for us is in view. */
  function tryRejoin(): void {
    if (!replaying || !psDone) return;
    // Once the switch is past (every running participant's JOIN committed), it clears joins[me].
    if (joining) for (let s = 0; s < P; s++) if (s !== me && !((removed >>> s) & 1) && !((joins[me] >>> s) & 1)) return;
    if (gap && !jump()) stats.stuck++;
    replaying = false;
    heard.fill(clock.now()); // silence while this host was down is not theirs
    // The first new message (after every JOIN): an ACK; sendRaw passes Psync's suppression first.
    if (sendRaw(EMPTY, 0, LB_ACK) >= 0) stats.acksSent++;
    else {
      needAck = true;
      ackAt = clock.now() + cfg.ackUs;
    }
    if (rejoinFn) rejoinFn(conv, resume < 0 ? pos : resume);
  }

  /**
   * Failure detection: of the participants that messages in the view wait for, the one most of them
   * wait for (the longest silent on a tie) is removed once silent for suspectUs; one at a time, as a
   * stall caused by one failed host silences the others too (their new messages wait for records or
   * graph nodes that only the waves would free).
   */
  function suspect(now: number): void {
    // One failure at a time: while a participant is out or coming back, nobody else is suspected.
    if (removed !== 0 || joinDue !== 0 || joinSent !== 0) return;
    let worst = -1;
    let most = 0;
    for (let r = 0; r < P; r++) {
      if (r === me || ((removed >>> r) & 1) || (((joinDue | joinSent) >>> r) & 1)) continue;
      let waits = 0;
      for (let k = 0; k < U; k++) {
        if (rUsed[k] && rKind[k] !== LB_ACK && rQ[k] !== r && !ackedBy(midAt(rQ[k], rOrd[k]), r)) waits++;
      }
      // Silence counts only while something waits for r.
      if (waits === 0) heard[r] = now;
      else if (waits > most || (waits === most && heard[r] < heard[worst])) {
        worst = r;
        most = waits;
      }
    }
    if (worst < 0 || now - heard[worst] < suspectUs) return;
    stats.suspected++;
    takeOut(worst);
  }

  function checkStable(): void {
    for (let i = 0; i < S; i++) {
      const mid = sMid[i];
      if (mid < 0 || !ps.stable(conv, mid)) continue;
      sMid[i] = -1;
      stats.stableOk++;
      if (stableFn) stableFn(conv, mid, true, 0);
    }
  }

  function busy(): boolean {
    if (replaying) return false;
    if (markerDue !== 0 || joinDue !== 0) return true;
    for (let i = 0; i < S; i++) if (sMid[i] >= 0) return true;
    for (let k = 0; k < U; k++) if (rUsed[k] && rKind[k] !== LB_ACK) return true;
    return false;
  }

  function arm(): void {
    let next = Infinity;
    if (conv >= 0) {
      if (needAck && ackAt < next) next = ackAt;
      for (let i = 0; i < S; i++) if (sMid[i] >= 0 && sDeadline[i] < next) next = sDeadline[i];
      if (busy() && tries < cfg.retries) {
        // Failure detection measures silence from when the watchdog started looking.
        if (!watching) heard.fill(clock.now());
        watching = true;
        if (tickAt === 0) tickAt = clock.now() + cfg.tickUs + (rng.u32() % (Math.floor(cfg.tickUs / 2) + 1));
        if (tickAt < next) next = tickAt;
      } else {
        tickAt = 0;
        watching = false;
      }
    }
    if (next === timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timer = null;
    timerAt = next;
    if (next !== Infinity) timer = clock.at(next, onTimer);
  }

  function after(): void {
    advance();
    if (joinDue !== 0 && !replaying && !expelled) sendJoins();
    if (replaying) {
      tryRejoin();
      advance();
    }
    checkStable();
    if (progressFn && conv >= 0) progressFn(conv);
    arm();
  }

  /** Send one library message; on success record it. */
  function sendRaw(buf: Uint8Array, len: number, kind: number): number {
    if (replaying) return PS_E_RECOVERING;
    // Markers and JOINs, one per failure or restart, may exceed the quota: without them the waves
    // that would free records could wait for good.
    if (used >= U || (held(me) >= quota && kind !== LB_REMOVE && kind !== LB_JOIN)) return PS_E_FULL;
    // After a restart Psync suppresses sends until they pass the image's own messages (5.2), returning
    // their old ids: those are recorded already (the replay delivered them), so send again.
    let mid = -1;
    for (;;) {
      const before = ps.stats.suppressed;
      mid = ps.send(conv, buf, len);
      if (mid < 0 || ps.stats.suppressed === before) break;
    }
    if (mid < 0) return mid;
    stats.sent++;
    needAck = false;
    if (kind !== LB_ACK) lastOwn = mid;
    store(me, midSeq(mid), kind, buf, len);
    return mid;
  }

  function sendMarkers(): void {
    for (let r = 0; r < P; r++) {
      if (((markerDue >>> r) & 1) === 0) continue;
      txBuf[0] = LB_REMOVE;
      txBuf[1] = addrs[r] >> 8;
      txBuf[2] = addrs[r] & 0xff;
      txBuf[3] = last[r] >> 8;
      txBuf[4] = last[r] & 0xff;
      if (sendRaw(txBuf, 5, LB_REMOVE) >= 0) markerDue &= ~(1 << r);
    }
  }

  function takeOut(r: number): void {
    if ((removed >>> r) & 1) return;
    removed |= 1 << r;
    stats.removed++;
    // A participant that restarted stays masked in at Psync: its JOINs are under way.
    if (!(((joinDue | joinSent) >>> r) & 1)) ps.maskOut(conv, addrs[r]);
    markerDue |= 1 << r;
    sendMarkers();
    if (removedFn) removedFn(conv, addrs[r]);
  }

  /**
   * The last ACK of someone else's message may be what is missing here, and its sender may already
   * have every ACK (so it resends nothing): resend each participant's oldest uncommitted message that
   * is not stable, so that the hosts that have it send back their successors (3.2.2).
   */
  function resendOthers(): void {
    for (let q = 0; q < P; q++) {
      if (q === me) continue;
      let best = -1;
      for (let k = 0; k < U; k++) {
        if (rUsed[k] && rQ[k] === q && rKind[k] !== LB_ACK && (best < 0 || rOrd[k] < rOrd[best])) best = k;
      }
      if (best < 0) continue;
      const mid = midAt(q, rOrd[best]);
      if (!ps.stable(conv, mid) && ps.resend(conv, mid) === PS_OK) stats.resent++;
    }
  }

  function onTimer(): void {
    timer = null;
    timerAt = Infinity;
    if (conv < 0) return;
    const now = clock.now();
    if (needAck && ackAt <= now && !expelled) {
      if (sendRaw(EMPTY, 0, LB_ACK) >= 0) stats.acksSent++;
      else ackAt = now + cfg.ackUs;
    }
    for (let i = 0; i < S; i++) {
      const mid = sMid[i];
      if (mid < 0 || sDeadline[i] > now) continue;
      if (ps.stable(conv, mid)) continue; // reported by checkStable below
      sTries[i]++;
      if (sTries[i] < cfg.stableTries) {
        ps.resend(conv, mid);
        sDeadline[i] = now + cfg.stableUs;
        continue;
      }
      let missing = 0;
      for (let r = 0; r < P; r++) if (r !== me && !((removed >>> r) & 1) && !ackedBy(mid, r)) missing |= 1 << r;
      sMid[i] = -1;
      stats.stableFailed++;
      if (stableFn) stableFn(conv, mid, false, missing);
    }
    if (tickAt !== 0 && tickAt <= now) {
      tickAt = 0;
      if (suspectUs > 0 && !expelled && !joining) suspect(now);
      if (progress === progressSeen) {
        tries++;
        if (markerDue !== 0 && !expelled) sendMarkers();
        if (lastOwn >= 0 && !ps.stable(conv, lastOwn) && ps.resend(conv, lastOwn) === PS_OK) stats.resent++;
        resendOthers();
      } else {
        tries = 0;
      }
      progressSeen = progress;
    }
    after();
  }

  function sendData(data: Uint8Array, len: number): number {
    if (conv < 0) return LB_E_UNKNOWN;
    if (expelled) return LB_E_REMOVED;
    if (replaying) return PS_E_RECOVERING;
    if (!(len >= 0 && len <= D && len <= data.length)) return PS_E_TOO_LARGE;
    if (held(me) >= quota - 1) return PS_E_FULL; // the last of the quota is for an acknowledgement
    if (unstableMax > 0 && ps.unstable(conv) >= unstableMax) return PS_E_FULL;
    txBuf[0] = LB_DATA;
    for (let i = 0; i < len; i++) txBuf[1 + i] = data[i];
    const mid = sendRaw(txBuf, len + 1, LB_DATA);
    if (mid >= 0) after();
    return mid;
  }

  /** Records held by participant q's uncommitted messages (and committed ones not yet complete). */
  function held(q: number): number {
    let n = 0;
    for (let k = 0; k < U; k++) if (rUsed[k] && rQ[k] === q) n++;
    return n;
  }

  /**
   * Flow control (3.3): each participant's messages may hold at most `quota` records here, so one busy
   * participant cannot take the records that another's acknowledgement needs. A refused message is
   * discarded by Psync and comes back through the retransmission mechanisms once a wave has committed
   * and freed records. Own data stops one short of the quota, so an acknowledgement can always follow
   * everything received (see sendData).
   */
  ps.onAdmit(function (c: number, sender: number, first: number): boolean {
    if (c !== conv) return true;
    const q = indexOf(sender);
    if (q < 0) return true;
    heard[q] = clock.now(); // alive, even if its message must wait for a record
    // A replay's JOINs must get in whatever the replay holds: no quota then. Nor for anyone's markers
    // and JOINs (one per failure or restart, sent beyond the quota too): the records of a removed
    // participant's waves are freed only once every marker is in view, so a quota full of those
    // records would otherwise keep the markers out for good.
    if (used < U && (replaying || held(q) < quota || first === LB_REMOVE || first === LB_JOIN)) return true;
    stats.refused++;
    return false;
  });

  ps.onDeliver(function (c: number, sender: number, seq: number, payload: Uint8Array, len: number) {
    if (c !== conv) return;
    const q = indexOf(sender);
    if (q < 0) return;
    const kind = len === 0 ? LB_ACK : payload[0];
    stats.delivered++;
    progress++;
    tries = 0;
    heard[q] = clock.now();
    store(q, seq, kind, payload, len);
    if (kind !== LB_ACK && !needAck && !expelled && !replaying) {
      needAck = true;
      ackAt = clock.now() + cfg.ackUs + (rng.u32() % (Math.floor(cfg.ackUs / 2) + 1));
    }
    if (kind === LB_DATA && deliverFn) {
      const n = len - 1 > D ? D : len - 1;
      for (let i = 0; i < n; i++) dBuf[i] = payload[1 + i];
      deliverFn(conv, midOf(sender, seq), dBuf, n);
    } else if (kind === LB_REMOVE && len >= 5) {
      const r = indexOf((payload[1] << 8) | payload[2]);
      if (r === me) {
        if (joining) {
          removed |= 1 << me; // removed while down: back in at the switch
        } else if (!expelled) {
          expelled = true;
          needAck = false;
          if (removedFn) removedFn(conv, myAddr);
        }
      } else if (r >= 0 && !expelled) {
        takeOut(r);
      }
    }
    after();
  });

  ps.onRestart(function (c: number, addr: number) {
    if (c === conv) {
      if (addr === myAddr) {
        if (replaying) psDone = true;
      } else {
        const r = indexOf(addr);
        if (r >= 0 && !replaying && !expelled) heardRestart(r);
      }
    }
    if (restartFn) restartFn(c, addr);
    if (c === conv) after();
  });

  function follow(c: number, again: boolean): number {
    const n = ps.participants(c, addrs);
    if (n === 0) return PS_E_UNKNOWN;
    conv = c;
    P = n;
    quota = Math.floor(U / n);
    me = indexOf(myAddr);
    if (me < 0) {
      conv = -1;
      return PS_E_ARG;
    }
    for (let q = 0; q < MAXP; q++) {
      first[q] = q === 0 ? midSeq(ps.cid(c)) : 1;
      committed[q] = 0;
      last[q] = 0;
      markers[q] = 0;
      mLast[q] = 0;
    }
    removed = 0;
    markerDue = 0;
    expelled = false;
    rUsed.fill(0);
    rDone.fill(0);
    used = 0;
    sMid.fill(-1);
    needAck = false;
    tickAt = 0;
    tries = 0;
    lastOwn = -1;
    joins.fill(0);
    joinsOut.fill(0);
    joinsDone.fill(0);
    joinDue = 0;
    joinSent = 0;
    heard.fill(clock.now());
    pos = 0;
    replaying = again;
    joining = again;
    psDone = again && !ps.recovering(c);
    gap = false;
    gapEnd.fill(0);
    bPos = -1;
    resume = -1;
    return PS_OK;
  }

  return {
    stats,
    // A conversation opened by restarting into it (an SC notice: this host never had the SC) is
    // followed as after a restart.
    attach: (c: number) => follow(c, ps.recovering(c)),
    rejoin(c: number): number {
      const r = follow(c, true);
      if (r === PS_OK) after();
      return r;
    },
    rejoining: () => replaying,
    onRejoin(fn) { rejoinFn = fn; },
    onRestart(fn) { restartFn = fn; },
    position: () => pos,
    conv: () => conv,
    send: sendData,
    sendStable(data: Uint8Array, len: number): number {
      let i = 0;
      while (i < S && sMid[i] >= 0) i++;
      if (i === S) return LB_E_BUSY;
      const mid = sendData(data, len);
      if (mid < 0) return mid;
      sMid[i] = mid;
      sTries[i] = 0;
      sDeadline[i] = clock.now() + cfg.stableUs;
      arm();
      return mid;
    },
    remove(addr: number): number {
      if (conv < 0) return LB_E_UNKNOWN;
      const r = indexOf(addr);
      if (r < 0 || r === me) return PS_E_ARG;
      takeOut(r);
      after();
      return PS_OK;
    },
    complete: (mid: number) => conv >= 0 && complete(mid),
    onDeliver(fn) { deliverFn = fn; },
    onCommit(fn) { commitFn = fn; },
    onStable(fn) { stableFn = fn; },
    onRemoved(fn) { removedFn = fn; },
    onProgress(fn) { progressFn = fn; },
    indexOf,
    committedOf: (q: number) => committed[q],
    isCommitted(mid: number): boolean {
      const q = indexOf(midSender(mid));
      return q >= 0 && ordOf(q, midSeq(mid)) <= committed[q];
    },
    recordsUsed: () => used,
  };
}

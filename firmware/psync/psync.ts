// Psync conversations (the Psync paper, sections 2 and 3): a fixed set of participants exchange
// messages, each sent in the context of every message its sender had sent or received, over any MAC
// (firmware/mac/mac.ts). One endpoint per MAC; one image and one view per conversation at each host.
//
// - Conversations: activeOpen(participants) creates an empty image and returns a handle at once; the
//   first send() travels as the SC message, which carries the participant list, and its id is the
//   conversation id (initiator address, a 16-bit number that starts at a random value so a restarted
//   host does not reuse ids). passiveOpen() registers interest in one conversation: when an SC
//   listing this host arrives, onOpen(conv) is called, then the SC is delivered. SCs that arrive with
//   no passiveOpen waiting are pending conversations (3.3): the SC alone is kept; later messages of a
//   pending conversation are discarded, and recovered by retransmission once it is opened.
//   close() sends nothing (3.1.2): later messages for it are ignored.
//   A participant masked out before it ever had the SC (lost until it was stable without it, and
//   freed) asks for the conversation from nothing (the RTX of an unknown conversation); a host that
//   has it masked out answers with an SC notice, the header alone (frame.ts). With a passiveOpen
//   waiting, that opens the conversation as a restart (section 5: recovering, RS after about a second,
//   so every REMOVE marker can be in view at the others first) and calls onOpen; the library's
//   attach() then follows it as rejoin() would. A notice for an open conversation is ignored.
// - Messages are ids (sender address, sequence number), packed as one number mid = sender * 65536 +
//   seq (see midOf). A sender numbers its messages 1, 2, ... in each conversation; the initiator
//   continues from the conversation number. send() attaches the message to the image with the leaves
//   of the view as its immediate predecessors and sends it to every other participant (one unicast
//   each, or one frame to config.group). There is no pull receive: a message is delivered through
//   onDeliver as soon as all its predecessors are in the image, so the view is the image.
//   outstanding(conv) therefore counts the messages that have arrived but wait in the holding queue
//   for predecessors: the part of G the host knows exists and the view lacks.
// - Loss (3.2.1): a message whose predecessors are missing waits in the holding queue; after holdUs
//   an RTX goes to the host it came from (which must have the predecessors, having sent a message in
//   their context), naming the held message and this image's frontier; rtxTries later it goes to
//   every participant not masked out; after rtxAllTries more the held message is discarded (a later
//   message recovers it). A host answers an RTX with every buffered message the requester lacks that
//   precedes the named message (all it lacks when none is named, or the named one is unknown here),
//   oldest first, until the MAC refuses one. A message for a conversation this host does not know is
//   answered with an RTX naming nothing (its SC is then resent first), at most one per rtxUs.
// - Last ACK (3.2.2): resend(conv, mid) sends a buffered message again, flagged RESENT, to everyone;
//   a stable message is not resent. A host that already has a RESENT message discards it and sends
//   its immediate successors back to the resender, and also its own earliest message in the context
//   of the duplicate when that is not one of them: that is the reply the resender waits for, and it
//   need not be an immediate successor (the host may have received other messages in between), so
//   with the successors alone a lost reply could stay lost for good. Other duplicates are discarded
//   silently.
// - Failures (3.2.3): maskOut(conv, addr) leaves a participant out of stability; its messages are
//   then discarded unless a held message of another participant names one at or after it as a
//   predecessor. maskIn undoes it.
// - Memory (3.3), every table allocated at creation, per conversation unless said:
//     conversations  open at once; activeOpen returns PS_E_FULL when none is free, an SC that would
//                    open one waits as a pending conversation
//     nodes          graph nodes (the threshold: queries answer for the last `nodes` messages); the
//                    oldest stable one is reclaimed for a new message. When all hold messages not yet
//                    stable, arriving messages are discarded and send() refuses: size nodes above the
//                    unstable messages an image can hold (about participants x messages each sends
//                    before it waits for stability, acknowledgements included)
//     bufs           copies of messages, freed when the message becomes stable. send() needs one and
//                    returns PS_E_FULL without it (the paper's send blocks). A received message gets
//                    a copy only while more than `reserve` buffers are free; beyond that it joins the
//                    image without one (counted in `uncopied`) instead of being discarded as the
//                    paper has it: a host whose buffers are full of messages that wait for
//                    acknowledgements could otherwise neither take those acknowledgements in nor
//                    send its own, and would stop for good. The cost is that it cannot answer an
//                    RTX for such a message; the requester then asks everyone, and the sender still
//                    has its copy (a sender keeps one until the message is stable, which means every
//                    participant has it). Messages from others become stable only when this host
//                    sends in their context too: a participant that never sends soon takes
//                    everything without copies.
//     hold           holding-queue entries; when full, a message that must wait is discarded
//     pending        pending conversations (for the whole endpoint); when full, the SC is discarded
//     forget         ids of closed and foreign conversations remembered, so their stray messages
//                    cause no RTX; the oldest is forgotten first
//   Every discard is one more loss to the retransmission mechanisms (3.3).
// - Wire format in frame.ts. A conversation has at most 8 participants, so the predecessor list
//   always fits: an AN needs 8 + 2k header bytes for k predecessors (k <= participants), leaving
//   mtu - 8 - 2 x participants bytes for data in the worst case (4 bytes on the 28-byte payload of an
//   nRF24 behind the raw MAC). send() returns PS_E_TOO_LARGE when the data does not fit beside the
//   current predecessors; maxPayload(conv) says how much does.
// - Hooks for the later sections: onAttach(conv, frame, len) sees every message as it joins the image
//   (log.ts writes it to stable storage), and participants, leaves and per-message queries are exposed.
// - Recovery (section 5): restart(cid, participants, mids) reopens a conversation after a crash with
//   an empty image and a view cut: mids names the newest message of each participant in the view the
//   application checkpointed (frontier(), the paper's get_mids; a leaf set names fewer, and what it
//   leaves out is received again), or nothing to replay from the root. Messages up to the cut join the
//   image undelivered; later ones, own included, are delivered in context order (own ones only come back
//   this way), and the application's sends are suppressed, returning the old ids in order, until they
//   pass the image's own messages. The local log is fed in first through inject() (no network effects).
//   On the next tick the RS (figure 10) goes to every other participant, with this image's frontier,
//   and again every rtxUs until each has answered (rtxTries + rtxAllTries times at most). A host that
//   receives an RS tells its application through onRestart(conv, addr) (which may mask_in the
//   participant, the join protocol being the application's), answers with an RS carrying how many of
//   the restarted host's own messages it has and its stable frontier, and sends every message it keeps
//   that the restarted host lacks; the RTX mechanism fetches the rest as later messages need it. The
//   restarted host in turn sends each answering host the own messages its image has (from the log)
//   past the answer's count: one sent just before the crash may have reached nobody, and nobody asks
//   for what it never heard of.
//   The paper keeps stable messages (on disk) so that a restarted host can rebuild its image from the
//   root; here buffers are freed on stability, and the disk is the log: a host given a source through
//   serveFrom (log.ts registers itself) answers an RTX or RS first with what the requester lacks and no
//   buffer here holds, read from it (PsyncOlder: seek with the requester's frontier, then next until 0
//   or the MAC refuses), then from its buffers as above. When that source holds the whole image, the
//   RS answer carries LOGGED (frame.ts): the restarted host then takes nothing without content and
//   fetches it all (the answer's first frames follow it; RTXs for held messages, and the watchdog
//   resends of the others that cause them, fetch the rest). Without LOGGED it takes what is stable at
//   the answering host and missing here as received without content (`skipped`: every participant
//   had it, the restarted host included unless masked out). A restart that had a LOGGED answer leaves
//   its own host out of its stability once complete (finishRestart says why that is safe): the
//   replay brings back everything stable while it was away, which it cannot acknowledge before its
//   replay is over, and its graph nodes would fill up. The restart is complete, and
//   onRestart(conv, own address) says so, once every participant not masked out answered and this
//   host's own messages are back (as far as any host had them); until then send() of a new message
//   returns PS_E_RECOVERING. Own messages that the checkpoint counted but no host had and the log had
//   not written are as if never sent (`lostOwn`): the next send takes their ids.
// Board code: tables are typed arrays allocated at creation, one timer serves every deadline, and
// nothing is allocated per message. The MAC must not call onReceive from inside send.

import type { Clock, Timer } from '../../hal/clock.ts';
import type { Rng } from '../../hal/rng.ts';
import { TX_OK } from '../../hal/link.ts';
import type { Mac, MacRxInfo } from '../mac/mac.ts';
import { isGroupAddr } from '../mac/mac.ts';
import type { PsHeader } from './frame.ts';
import { K_LOGGED, K_RESENT, PF_KIND, PS_AN, PS_MAX_PARTICIPANTS, PS_RS, PS_RTX, PS_SC, emitPs, parsePs, psHeader } from './frame.ts';
import type { Image } from './graph.ts';
import { G_BAD, G_DUP, G_MISSING, G_OK, graphImage } from './graph.ts';

const MAXP = PS_MAX_PARTICIPANTS;

/** Results; handles and mids are >= 0. */
export const PS_OK = 0;
/** No such conversation (closed, or a stale handle), or the message is not in the image. */
export const PS_E_UNKNOWN = -1;
/** A table is full (conversations, buffers, nodes, passive opens). */
export const PS_E_FULL = -2;
/** The data does not fit one frame beside the predecessor list. */
export const PS_E_TOO_LARGE = -3;
/** Bad argument: participant list (1..8 distinct station addresses including this one), address. */
export const PS_E_ARG = -4;
/** resend: the message is stable, so nothing was sent. */
export const PS_E_STABLE = -5;
/** This host has sent 65535 messages in the conversation: start a new one. */
export const PS_E_EXHAUSTED = -6;
/** resend: this host keeps no copy of that message (received when its buffers were short). */
export const PS_E_NOCOPY = -7;
/** send: the conversation is restarting (section 5) and this host's own messages are not all back yet. */
export const PS_E_RECOVERING = -10;

export interface PsyncConfig {
  conversations: number;
  nodes: number;
  bufs: number;
  /** Buffers kept free of received messages for this host's own sends (at least 1 is). */
  reserve: number;
  hold: number;
  pending: number;
  forget: number;
  /** Wait before a held message's first RTX, µs (stretched by a random 0-50 %). */
  holdUs: number;
  /** Between RTXs for one held message, µs (stretched likewise). */
  rtxUs: number;
  /** RTXs to the host a held message came from, then rtxAllTries to every participant. */
  rtxTries: number;
  rtxAllTries: number;
  /** 0: send each message to every other participant; else one frame to this group or broadcast address. */
  group: number;
}

export const PSYNC_DEFAULTS: PsyncConfig = {
  conversations: 2, nodes: 32, bufs: 12, reserve: 2, hold: 4, pending: 2, forget: 4,
  holdUs: 20_000, rtxUs: 40_000, rtxTries: 4, rtxAllTries: 4, group: 0,
};

export interface PsyncStats {
  /** Messages sent by send() (SC and AN). */
  sent: number;
  delivered: number;
  /** Messages put in a holding queue. */
  held: number;
  /** Held messages discarded after every RTX went unanswered. */
  heldDropped: number;
  rtxSent: number;
  /** RTXs this host answered with at least one message, and the messages it sent doing so. */
  rtxAnswered: number;
  rtxResent: number;
  /** resend() calls that sent, and successors sent back for RESENT duplicates. */
  resent: number;
  successorsResent: number;
  duplicates: number;
  /** Messages discarded because the node, holding-queue or pending table was full. */
  flowDiscarded: number;
  /** The parts of flowDiscarded refused by a full holding queue and by a full node table. */
  holdFull: number;
  nodesFull: number;
  /** The part of flowDiscarded refused by the layer above (onAdmit): its records were full. */
  refused: number;
  /** Received messages attached without a copy because buffers ran short. */
  uncopied: number;
  /** Message buffers freed on stability, and graph nodes reclaimed. */
  freed: number;
  reclaimed: number;
  maskedDiscarded: number;
  /** Messages for a conversation this host does not know (answered by an RTX naming nothing). */
  unknownConv: number;
  /** Section 5: RS messages sent (announcements, and answers to others' restarts). */
  rsSent: number;
  rsAnswered: number;
  /** Messages a restart took as received without their content (stable elsewhere, copies gone). */
  skipped: number;
  /** Frames a restart took back from the local log (inject), and sends it suppressed as already sent. */
  injected: number;
  suppressed: number;
  /** Own messages a checkpoint counted that no host had and the log had not written (see finishRestart). */
  lostOwn: number;
  malformed: number;
  /** Frames the MAC did not take (a full queue: one more loss). */
  macRefused: number;
}

export type DeliverFn = (conv: number, sender: number, seq: number, payload: Uint8Array, len: number) => void;

/** A writable list of numbers (a plain array or a typed array with room for 8). */
export interface NumList {
  [i: number]: number;
}

export interface Psync {
  activeOpen(participants: ArrayLike<number>, n: number): number;
  /** Register interest in one conversation; completes through onOpen, never from inside this call. */
  passiveOpen(): number;
  close(conv: number): number;
  /** Returns the message's mid, or PS_E_UNKNOWN, PS_E_FULL, PS_E_TOO_LARGE, PS_E_EXHAUSTED. */
  send(conv: number, payload: Uint8Array, len: number): number;
  resend(conv: number, mid: number): number;
  maskOut(conv: number, addr: number): number;
  maskIn(conv: number, addr: number): number;
  /** Reclaim the graph nodes of mid and its predecessors whose buffers are free; returns how many. */
  freeNode(conv: number, mid: number): number;
  onDeliver(fn: DeliverFn | null): void;
  onOpen(fn: ((conv: number) => void) | null): void;
  onAttach(fn: ((conv: number, frame: Uint8Array, len: number) => void) | null): void;
  /**
   * Flow control by the layer above (3.3): asked before a received message joins the view; false
   * discards it as a full table would (retransmission brings it back later). Not asked for frames
   * injected from a log, which are already in this host's history. first: the message's first data
   * byte, or -1 when it carries none (so the layer above can tell its control messages apart).
   */
  onAdmit(fn: ((conv: number, sender: number, first: number) => boolean) | null): void;
  /** Serve messages this host no longer keeps a copy of from src (the log registers itself); null: none. */
  serveFrom(src: PsyncOlder | null): void;
  /**
   * Section 5.1: rejoin conversation cid (the SC's mid) after a crash. participants in the SC's order
   * (the first is cid's address), mids[0..nMids) the view to resume from: pass what frontier() returned
   * at the checkpoint (the newest message of each participant in the view; the paper's leaf set names
   * fewer, and the messages it leaves out are received again). nMids 0 replays from the root (5.2).
   * Returns a handle; feed the local log through inject() at once, then the RS goes out on the next tick.
   */
  restart(cid: number, participants: ArrayLike<number>, n: number, mids: ArrayLike<number>, nMids: number): number;
  /** A frame from the local log (section 5.1): taken as received, without network side effects. */
  inject(conv: number, frame: Uint8Array, len: number): number;
  /** Out-of-band: addr restarted conv (RS received); addr is this host's own when its restart is complete. */
  onRestart(fn: ((conv: number, addr: number) => void) | null): void;
  /** Still restarting: sends of new messages are refused with PS_E_RECOVERING. */
  recovering(conv: number): boolean;
  /** get_mids for a checkpoint: the newest message of each participant in the view; returns how many. */
  frontier(conv: number, out: NumList): number;
  cid(conv: number): number;
  /** The SC's mid, or PS_E_UNKNOWN before it is in the image. */
  root(conv: number): number;
  /** Write the mids of the view's leaves into out; returns how many (at most the participant count). */
  leaves(conv: number, out: NumList): number;
  participants(conv: number, out: NumList): number;
  /** Immediate successors / predecessors of mid in the view; returns how many. */
  next(conv: number, mid: number, out: NumList): number;
  prev(conv: number, mid: number, out: NumList): number;
  outstanding(conv: number): number;
  precedes(conv: number, m1: number, m2: number): boolean;
  stable(conv: number, mid: number): boolean;
  /** The largest n for which mid is n-stable (0 if it is not a retained message). */
  nStable(conv: number, mid: number): number;
  /** Is mid in the image (retained or reclaimed)? */
  known(conv: number, mid: number): boolean;
  /** Does this host keep a copy of mid (so it can send it again)? */
  hasCopy(conv: number, mid: number): boolean;
  /** This host's messages in the conversation that are not stable yet. */
  unstableOwn(conv: number): number;
  /** Messages of the image not stable yet, every participant's: graph nodes that cannot be reclaimed. */
  unstable(conv: number): number;
  maxPayload(conv: number): number;
  bufsUsed(conv: number): number;
  nodesUsed(conv: number): number;
  readonly stats: PsyncStats;
}

/**
 * Section 5.1: where messages whose copies this host freed can still be read (the local log, log.ts).
 * psync asks it when answering an RTX or RS, after what its buffers hold would not do.
 */
export interface PsyncOlder {
  /** Does it hold every message of conv's image (so an RS answer need report none as stable without content)? */
  complete(conv: number): boolean;
  /**
   * Start a walk for requester r (its participant index) whose view holds front[q] messages of each
   * participant q (a frontier lower than the last one seen means it restarted: start again).
   */
  seek(conv: number, r: number, front: ArrayLike<number>): void;
  /** The next stored frame the requester lacks, oldest first, into buf; its length, or 0 when this answer is done. */
  next(buf: Uint8Array): number;
}

export interface PsyncOptions {
  mac: Mac;
  clock: Clock;
  /** For the random part of timeouts and the first conversation number. */
  rng: Rng;
  config?: PsyncConfig;
}

export function midOf(sender: number, seq: number): number {
  return (sender & 0xffff) * 0x10000 + (seq & 0xffff);
}

export function midSender(mid: number): number {
  return Math.floor(mid / 0x10000) & 0xffff;
}

export function midSeq(mid: number): number {
  return mid & 0xffff;
}

const FREE = 0;
const OPEN = 1;

export function psync(o: PsyncOptions): Psync {
  const mac = o.mac;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config || PSYNC_DEFAULTS;
  const me = mac.addr;
  const mtu = mac.caps.mtu;
  if (mtu < 8 + 2 * MAXP) throw new Error('psync: the MAC mtu ' + mtu + ' cannot carry a full predecessor list');
  const jitter = (us: number): number => us + (rng.u32() % (Math.floor(us / 2) + 1));
  const stats: PsyncStats = {
    sent: 0, delivered: 0, held: 0, heldDropped: 0, rtxSent: 0, rtxAnswered: 0, rtxResent: 0, resent: 0,
    successorsResent: 0, duplicates: 0, flowDiscarded: 0, holdFull: 0, nodesFull: 0, refused: 0, uncopied: 0, freed: 0, reclaimed: 0, maskedDiscarded: 0, unknownConv: 0,
    malformed: 0, macRefused: 0, rsSent: 0, rsAnswered: 0, skipped: 0, injected: 0, suppressed: 0, lostOwn: 0,
  };

  // Conversations.
  const C = cfg.conversations;
  const cState = new Uint8Array(C);
  const cGen = new Uint8Array(C);
  const cCidAddr = new Uint16Array(C);
  const cCidNum = new Uint16Array(C);
  const cN = new Uint8Array(C);
  const cMe = new Uint8Array(C);
  const cMasked = new Uint8Array(C);
  const cAddr = new Uint16Array(C * MAXP);
  const cFirst = new Uint16Array(C * MAXP);
  // Section 5: restart state. cSent is the ordinal of the application's last send: below have[me]
  // after a restart, sends are suppressed (they are in the image already).
  const cSent = new Uint16Array(C);
  const cRec = new Uint8Array(C);
  const cRsAck = new Uint8Array(C);
  const cRsTries = new Uint8Array(C);
  const cRsAt = new Float64Array(C);
  const cFloor = new Uint16Array(C);
  // The view a restart resumes from (per participant): messages up to it join the image undelivered.
  const cVcut = new Uint16Array(C * MAXP);
  const cut = new Uint16Array(MAXP);
  const sc = new Uint16Array(MAXP);
  let injecting = false;
  const images: Image[] = [];
  for (let c = 0; c < C; c++) images.push(graphImage({ nodes: cfg.nodes, bufs: cfg.bufs, frameSize: mtu }, stats));
  let nextCid = rng.u32() & 0xffff;

  // Holding queues: cfg.hold entries per conversation.
  const H = cfg.hold;
  const hUsed = new Uint8Array(C * H);
  const hQ = new Uint8Array(C * H);
  const hOrd = new Uint16Array(C * H);
  const hOff = new Uint16Array(C * H);
  const hLen = new Uint16Array(C * H);
  const hSrc = new Uint16Array(C * H);
  const hTries = new Uint8Array(C * H);
  const hDeadline = new Float64Array(C * H);
  const hPredAll = new Uint16Array(C * H * MAXP);
  const hPred: Uint16Array[] = [];
  const hBufAll = new Uint8Array(C * H * mtu);
  const hBuf: Uint8Array[] = [];
  for (let k = 0; k < C * H; k++) {
    hPred.push(hPredAll.subarray(k * MAXP, (k + 1) * MAXP));
    hBuf.push(hBufAll.subarray(k * mtu, (k + 1) * mtu));
  }

  // Pending conversations: one SC each.
  const Pn = cfg.pending;
  const pUsed = new Uint8Array(Pn);
  const pLen = new Uint16Array(Pn);
  const pSrc = new Uint16Array(Pn);
  const pAge = new Float64Array(Pn);
  const pBufAll = new Uint8Array(Pn * mtu);
  const pBuf: Uint8Array[] = [];
  for (let k = 0; k < Pn; k++) pBuf.push(pBufAll.subarray(k * mtu, (k + 1) * mtu));
  let pClock = 0;
  let wantOpen = 0;
  let openDue = false;

  // Closed and foreign conversations.
  const Kf = cfg.forget;
  const kUsed = new Uint8Array(Kf);
  const kAddr = new Uint16Array(Kf);
  const kNum = new Uint16Array(Kf);
  let kNext = 0;
  let unknownNext = 0;

  const hdr = psHeader(); // receive path
  const hp = psHeader(); // pending SCs
  const txh = psHeader(); // send
  const rh = psHeader(); // RTX
  const predV = new Uint16Array(MAXP);
  const sendPred = new Uint16Array(MAXP);
  const front = new Uint16Array(MAXP);
  /** When each requester (conversation x participant) was last served from the log (answerRtx). */
  const servedAt = new Float64Array(C * MAXP).fill(-Infinity);
  const txBuf = new Uint8Array(mtu);
  const rtxBuf = new Uint8Array(mtu);
  const dBuf = new Uint8Array(mtu);
  const succ = new Int16Array(MAXP);
  let deliverFn: DeliverFn | null = null;
  let openFn: ((conv: number) => void) | null = null;
  let attachFn: ((conv: number, frame: Uint8Array, len: number) => void) | null = null;
  let admitFn: ((conv: number, sender: number, first: number) => boolean) | null = null;
  let restartFn: ((conv: number, addr: number) => void) | null = null;
  let older: PsyncOlder | null = null;
  let timer: Timer | null = null;
  let timerAt = Infinity;

  // ---- helpers ---------------------------------------------------------------------------------

  function handle(c: number): number {
    return (cGen[c] << 8) | c;
  }

  function slotOf(conv: number): number {
    const c = conv & 0xff;
    if (!(conv >= 0 && c < C) || cState[c] !== OPEN || cGen[c] !== conv >>> 8) return -1;
    return c;
  }

  function findConv(a: number, n: number): number {
    for (let c = 0; c < C; c++) if (cState[c] === OPEN && cCidAddr[c] === a && cCidNum[c] === n) return c;
    return -1;
  }

  function indexOf(c: number, addr: number): number {
    for (let i = 0; i < cN[c]; i++) if (cAddr[c * MAXP + i] === addr) return i;
    return -1;
  }

  /** Ordinal (1..65535) of participant q's message with sequence number seq; 0 if none can have it. */
  function ordOf(c: number, q: number, seq: number): number {
    const x = ((seq - cFirst[c * MAXP + q]) & 0xffff) + 1;
    return x > 0xffff ? 0 : x;
  }

  function seqOf(c: number, q: number, ord: number): number {
    return (cFirst[c * MAXP + q] + ord - 1) & 0xffff;
  }

  function forget(a: number, n: number): void {
    for (let k = 0; k < Kf; k++) if (kUsed[k] && kAddr[k] === a && kNum[k] === n) return;
    if (Kf === 0) return;
    kUsed[kNext] = 1;
    kAddr[kNext] = a;
    kNum[kNext] = n;
    kNext = (kNext + 1) % Kf;
  }

  function forgotten(a: number, n: number): boolean {
    for (let k = 0; k < Kf; k++) if (kUsed[k] && kAddr[k] === a && kNum[k] === n) return true;
    return false;
  }

  function macSend(dst: number, buf: Uint8Array, len: number): boolean {
    if (mac.send(dst, buf, len) === TX_OK) return true;
    stats.macRefused++;
    return false;
  }

  /** To every other participant (or the group); RTXs skip participants masked out. */
  function sendAll(c: number, buf: Uint8Array, len: number, skipMasked: boolean): void {
    if (cfg.group !== 0) {
      macSend(cfg.group, buf, len);
      return;
    }
    for (let i = 0; i < cN[c]; i++) {
      if (i === cMe[c] || (skipMasked && ((cMasked[c] >>> i) & 1))) continue;
      macSend(cAddr[c * MAXP + i], buf, len);
    }
  }

  /** Node of a mid in conversation c, -1 if not retained. */
  function nodeOf(c: number, mid: number): number {
    const q = indexOf(c, midSender(mid));
    if (q < 0) return -1;
    return images[c].find(q, ordOf(c, q, midSeq(mid)));
  }

  /** The mids of ordinals per participant (0: none), e.g. the frontier or the leaves; returns how many. */
  function midsOf(c: number, ords: Uint16Array, out: NumList): number {
    let n = 0;
    for (let q = 0; q < cN[c]; q++) if (ords[q] !== 0) out[n++] = midOf(cAddr[c * MAXP + q], seqOf(c, q, ords[q]));
    return n;
  }

  /** Put ordinals per participant into an RTX or RS header's mask and sequence numbers. */
  function maskOf(c: number, ords: Uint16Array, h: PsHeader): void {
    h.mask = 0;
    for (let q = 0; q < cN[c]; q++) {
      if (ords[q] > 0) {
        h.mask |= 1 << q;
        h.seqs[q] = seqOf(c, q, ords[q]);
      }
    }
  }

  function midOfNode(c: number, x: number): number {
    const img = images[c];
    const q = img.sender(x);
    return midOf(cAddr[c * MAXP + q], seqOf(c, q, img.ord(x)));
  }

  // ---- the one timer ---------------------------------------------------------------------------

  function arm(): void {
    let next = openDue ? clock.now() : Infinity;
    for (let k = 0; k < C * H; k++) if (hUsed[k] && hDeadline[k] < next) next = hDeadline[k];
    for (let c = 0; c < C; c++) if (cState[c] === OPEN && cRec[c] && cRsAt[c] < next) next = cRsAt[c];
    if (next === timerAt) return;
    if (timer !== null) clock.cancel(timer);
    timer = null;
    timerAt = next;
    if (next !== Infinity) timer = clock.at(next, tick);
  }

  function tick(): void {
    timer = null;
    timerAt = Infinity;
    if (openDue) {
      openDue = false;
      openPending();
    }
    const now = clock.now();
    for (let c = 0; c < C; c++) {
      if (cState[c] !== OPEN || !cRec[c] || cRsAt[c] > now) continue;
      // Served from logs (LOGGED), each RS pulls the next stretch of every log: up to 255 of them.
      if (cRsTries[c] < (cRec[c] & 2 ? 255 : cfg.rtxTries + cfg.rtxAllTries)) {
        sendRs(c);
        cRsTries[c]++;
        cRsAt[c] = now + jitter(cfg.rtxUs);
      } else {
        finishRestart(c, true);
      }
    }
    for (let k = 0; k < C * H; k++) {
      if (!hUsed[k] || hDeadline[k] > now) continue;
      const c = (k / H) | 0;
      const t = hTries[k];
      const si = indexOf(c, hSrc[k]);
      const srcMasked = si >= 0 && ((cMasked[c] >>> si) & 1) === 1;
      if (t < cfg.rtxTries && !srcMasked) {
        sendRtx(c, k, hSrc[k]);
      } else if (t < cfg.rtxTries + cfg.rtxAllTries) {
        sendRtx(c, k, -1);
      } else {
        hUsed[k] = 0;
        stats.heldDropped++;
        continue;
      }
      hTries[k] = t + 1;
      hDeadline[k] = now + jitter(cfg.rtxUs);
    }
    arm();
  }

  // ---- retransmission requests -----------------------------------------------------------------

  /** RTX for held entry k (k < 0: naming nothing) to dst, or to everyone when dst < 0. */
  function sendRtx(c: number, k: number, dst: number): void {
    const img = images[c];
    rh.type = PS_RTX;
    rh.resent = false;
    rh.cidAddr = cCidAddr[c];
    rh.cidNum = cCidNum[c];
    rh.named = k >= 0;
    rh.idx = k >= 0 ? hQ[k] : 0;
    rh.seq = k >= 0 ? seqOf(c, hQ[k], hOrd[k]) : 0;
    maskOf(c, img.have, rh);
    const n = emitPs(rtxBuf, rh);
    stats.rtxSent++;
    if (dst >= 0) macSend(dst, rtxBuf, n);
    else sendAll(c, rtxBuf, n, true);
  }

  /**
   * Every message of the image with a copy and past front[] (by sender), oldest first, to dst; with
   * x >= 0 only x's marked ancestors. Stops where the MAC refuses. Returns how many went.
   */
  function sendBeyond(c: number, dst: number, x: number): number {
    const img = images[c];
    let sent = 0;
    let a = -1;
    for (;;) {
      const j = img.nextByAge(a);
      if (j < 0) break;
      a = img.age(j);
      const f = img.frame(j);
      if (f === null || img.ord(j) <= front[img.sender(j)] || (x >= 0 && !img.marked(j))) continue;
      if (!macSend(dst, f, img.frameLen(j))) break;
      sent++;
    }
    return sent;
  }

  function answerRtx(c: number, h: PsHeader, src: number): void {
    const img = images[c];
    const p = cN[c];
    if ((h.mask >>> p) !== 0 || (h.named && h.idx >= p)) {
      stats.malformed++;
      return;
    }
    for (let q = 0; q < p; q++) front[q] = (h.mask >>> q) & 1 ? ordOf(c, q, h.seqs[q]) : 0;
    let sent = 0;
    const r = indexOf(c, src);
    const now = clock.now();
    if (older && r >= 0 && (!h.named || now - servedAt[c * MAXP + r] >= cfg.rtxUs / 4)) {
      // Section 5.1: what the requester lacks and no buffer here holds (stable, freed; or reclaimed),
      // from the log, oldest first; those with a copy go below. Stop where the MAC refuses. At most
      // one walk per requester every quarter rtxUs: RTXs sent to everyone, one per held message, would
      // otherwise have every host send its log again for each (a storm while a conversation stalls).
      servedAt[c * MAXP + r] = now;
      older.seek(handle(c), r, front);
      for (let n = older.next(dBuf); n > 0; n = older.next(dBuf)) {
        if (!macSend(src, dBuf, n)) return;
        sent++;
      }
    }
    if (r >= 0 && h.mask === 0 && !h.named && (cMasked[c] >>> r) & 1) {
      // A participant masked out here asks for the conversation from nothing: it never had the SC
      // (lost until it was stable without it, and freed). Tell it the conversation, to restart into.
      rh.type = PS_SC;
      rh.named = true;
      rh.resent = false;
      rh.cidAddr = cCidAddr[c];
      rh.cidNum = cCidNum[c];
      rh.n = p;
      for (let i = 0; i < p; i++) rh.addrs[i] = cAddr[c * MAXP + i];
      macSend(src, rtxBuf, emitPs(rtxBuf, rh));
      return;
    }
    let x = -1;
    if (h.named) x = img.find(h.idx, ordOf(c, h.idx, h.seq));
    if (x >= 0) img.markAncestors(x);
    sent += sendBeyond(c, src, x);
    if (sent > 0) {
      stats.rtxAnswered++;
      stats.rtxResent += sent;
    }
  }

  // ---- restart (section 5) ----------------------------------------------------------------------

  /**
   * The RS announcement, with this image's frontier, to every participant that has not answered; when
   * some answered LOGGED, also an RTX naming nothing to every participant, which pulls the next stretch
   * of each log (an RS would start the join protocol again at the others).
   */
  function sendRs(c: number): void {
    const img = images[c];
    rh.type = PS_RS;
    rh.resent = false;
    rh.named = false;
    rh.cidAddr = cCidAddr[c];
    rh.cidNum = cCidNum[c];
    rh.idx = cMe[c];
    rh.seq = 0;
    maskOf(c, img.have, rh);
    const n = emitPs(rtxBuf, rh);
    for (let i = 0; i < cN[c]; i++) {
      if (i === cMe[c] || ((cRsAck[c] >>> i) & 1)) continue;
      macSend(cAddr[c * MAXP + i], rtxBuf, n);
      stats.rsSent++;
    }
    if (cRec[c] & 2) sendRtx(c, -1, -1);
  }

  /**
   * Restart complete: every other participant answered (or the RS tries ran out, force). Own messages
   * the answers reported and nobody could send back are taken without content, so new messages never
   * reuse their ids.
   */
  function finishRestart(c: number, force: boolean): void {
    const img = images[c];
    const q = cMe[c];
    if (!force) {
      for (let i = 0; i < cN[c]; i++) if (i !== q && !((cRsAck[c] >>> i) & 1) && !((cMasked[c] >>> i) & 1)) return;
      if (img.have[q] < cFloor[c]) return;
    }
    if (img.have[q] < cFloor[c]) {
      for (let r = 0; r < MAXP; r++) cut[r] = 0;
      cut[q] = cFloor[c];
      stats.skipped += img.raise(cut);
    }
    if (cSent[c] > img.have[q]) {
      // Sent before the crash, in the checkpoint, but no host has it and the log had not written it:
      // as if never sent; the next send takes its id.
      stats.lostOwn += cSent[c] - img.have[q];
      cSent[c] = img.have[q];
    }
    if (cRec[c] & 2) {
      // Served from logs, the replay brings back what was stable while this host was away, and it
      // cannot acknowledge any of it until the replay is over: its graph nodes would fill up. So this
      // host leaves itself out of its own stability from now on. Safe now that its own messages are
      // back: every wave root of its own is in the view (it sends nothing new before the replay ends),
      // and the others' acknowledgements still close every wave; stable still means every participant
      // has the message. Own messages arriving later are ones nobody else had (see lostOwn).
      cMasked[c] |= 1 << q;
      img.setMasked(cMasked[c]);
      img.collect();
    }
    cRec[c] = 0;
    arm();
    if (restartFn) restartFn(handle(c), me);
  }

  /** An RS for open conversation c: a participant restarted (announcement) or answers our restart. */
  function onRs(c: number, h: PsHeader, src: number): void {
    const p = cN[c];
    const i = h.idx;
    if (i >= p || i === cMe[c] || cAddr[c * MAXP + i] !== src || (h.mask >>> p) !== 0) {
      stats.malformed++;
      return;
    }
    const img = images[c];
    if (h.named) {
      if (!cRec[c]) return;
      cRsAck[c] |= 1 << i;
      const fl = ordOf(c, cMe[c], h.seq);
      if (fl > cFloor[c]) cFloor[c] = fl;
      // Own messages this image has (from the log) that the answering host lacks: perhaps nobody got
      // them before the crash, and nobody asks for what it never heard of. Send them there.
      if (img.have[cMe[c]] > fl) {
        for (let q = 0; q < p; q++) front[q] = q === cMe[c] ? fl : img.have[q];
        stats.resent += sendBeyond(c, src, -1);
      }
      // Stable there: every participant (or every one not masked out there) has had it, and copies
      // are freed on stability, so nobody may be able to send it again; take it as received.
      for (let q = 0; q < p; q++) cut[q] = (h.mask >>> q) & 1 ? ordOf(c, q, h.seqs[q]) : 0;
      // LOGGED (parsed as resent): that host serves them from its log (its answer follows): fetch
      // them (see finishRestart).
      if (h.resent) cRec[c] |= 2;
      else stats.skipped += img.raise(cut);
      drain(c);
      if (slotOf(handle(c)) === c && cRec[c]) finishRestart(c, false);
      return;
    }
    // Announcement: tell the application (it may mask the participant back in, 5), answer with what
    // we know of it and our stable frontier, then send every message it lacks that we keep.
    const conv = handle(c);
    if (restartFn) restartFn(conv, src);
    if (slotOf(conv) !== c) return;
    rh.type = PS_RS;
    rh.resent = false;
    rh.named = true;
    rh.cidAddr = cCidAddr[c];
    rh.cidNum = cCidNum[c];
    rh.idx = cMe[c];
    rh.seq = seqOf(c, i, img.have[i]);
    // With a log that holds the whole image, nothing need be taken without content (LOGGED).
    maskOf(c, img.done, rh);
    const n = emitPs(rtxBuf, rh);
    if (older && older.complete(conv)) rtxBuf[PF_KIND] |= K_LOGGED;
    if (macSend(src, rtxBuf, n)) stats.rsSent++;
    stats.rsAnswered++;
    h.named = false;
    answerRtx(c, h, src);
  }

  /** 1..8 distinct station addresses, this host's among them. */
  function validList(list: ArrayLike<number>, n: number): boolean {
    if (!(n >= 1 && n <= MAXP && n <= list.length)) return false;
    let self = false;
    for (let i = 0; i < n; i++) {
      const a = list[i];
      if (!(a >= 0 && a <= 0xffff) || isGroupAddr(a)) return false;
      for (let j = 0; j < i; j++) if (list[j] === a) return false;
      if (a === me) self = true;
    }
    return self;
  }

  /** Fill a free slot for a conversation of n participants listed in SC order; returns it or -1. */
  function openSlot(cidAddr: number, cidNum: number, list: ArrayLike<number>, n: number): number {
    let c = 0;
    while (c < C && cState[c] !== FREE) c++;
    if (c === C) return -1;
    cState[c] = OPEN;
    cGen[c] = (cGen[c] + 1) & 0xff;
    cCidAddr[c] = cidAddr;
    cCidNum[c] = cidNum;
    cN[c] = n;
    cMe[c] = 0;
    cMasked[c] = 0;
    cSent[c] = 0;
    cRec[c] = 0;
    cRsAck[c] = 0;
    cRsTries[c] = 0;
    cFloor[c] = 0;
    for (let i = 0; i < MAXP; i++) cVcut[c * MAXP + i] = 0;
    for (let i = 0; i < n; i++) {
      cAddr[c * MAXP + i] = list[i];
      cFirst[c * MAXP + i] = i === 0 ? cidNum : 1;
      if (list[i] === me) cMe[c] = i;
    }
    images[c].reset(n);
    return c;
  }

  // ---- receiving -------------------------------------------------------------------------------

  /** Attach a received message and deliver it; false when a table was full (the message is dropped). */
  function attachDeliver(c: number, q: number, ord: number, pred: Uint16Array, frame: Uint8Array, off: number, len: number): boolean {
    const img = images[c];
    if (admitFn && !injecting && ord > cVcut[c * MAXP + q] && !admitFn(handle(c), cAddr[c * MAXP + q], len > off ? frame[off] : -1)) {
      stats.flowDiscarded++;
      stats.refused++;
      return false;
    }
    const x = img.attach(q, ord, pred, frame, len, cfg.reserve > 0 ? cfg.reserve : 1);
    if (x < 0) {
      stats.flowDiscarded++;
      stats.nodesFull++;
      return false;
    }
    if (img.frame(x) === null && !img.stable(x)) stats.uncopied++;
    const conv = handle(c);
    if (attachFn && !injecting) attachFn(conv, frame, len);
    // The view a restart resumed from is not delivered again. Own messages come back only after a
    // restart (from the log or from others) and are delivered like any other, so a replay shows the
    // application its whole history in context order; sending them again is suppressed (5.2).
    if (ord <= cVcut[c * MAXP + q]) return true;
    const n = len - off;
    for (let i = 0; i < n; i++) dBuf[i] = frame[off + i];
    stats.delivered++;
    if (deliverFn && slotOf(conv) === c) deliverFn(conv, cAddr[c * MAXP + q], seqOf(c, q, ord), dBuf, n);
    return true;
  }

  /** Attach every held message whose predecessors have all arrived, until none is left. */
  function drain(c: number): void {
    const conv = handle(c);
    const img = images[c];
    let progress = true;
    while (progress) {
      progress = false;
      for (let k = c * H; k < (c + 1) * H; k++) {
        if (!hUsed[k]) continue;
        const st = img.check(hQ[k], hOrd[k], hPred[k]);
        if (st === G_MISSING) continue;
        hUsed[k] = 0; // nothing refills a holding queue during delivery: the bytes stay valid
        if (st === G_OK && attachDeliver(c, hQ[k], hOrd[k], hPred[k], hBuf[k], hOff[k], hLen[k])) progress = true;
        if (slotOf(conv) !== c) return; // closed from onDeliver
      }
    }
  }

  /** Does a held message of another participant name (q, ord) or a later message of q as predecessor? */
  function neededByHeld(c: number, q: number, ord: number): boolean {
    for (let k = c * H; k < (c + 1) * H; k++) if (hUsed[k] && hQ[k] !== q && hPred[k][q] >= ord) return true;
    return false;
  }

  /** An SC or AN for open conversation c. */
  function onMessage(c: number, h: PsHeader, frame: Uint8Array, len: number, src: number): void {
    const img = images[c];
    const p = cN[c];
    const q = h.type === PS_SC ? 0 : h.idx;
    if (q >= p || (h.mask >>> p) !== 0) {
      stats.malformed++;
      return;
    }
    const ord = ordOf(c, q, h.seq);
    for (let r = 0; r < MAXP; r++) predV[r] = (h.mask >>> r) & 1 ? ordOf(c, r, h.seqs[r]) : 0;
    const st = img.check(q, ord, predV);
    // Participant 0's first message is the SC and nothing else.
    if (st === G_BAD || (h.type === PS_AN && q === 0 && ord === 1)) {
      stats.malformed++;
      return;
    }
    if (st === G_DUP) {
      stats.duplicates++;
      if (h.resent) resendSuccessors(c, img.find(q, ord), src);
      return;
    }
    if (((cMasked[c] >>> q) & 1) && !neededByHeld(c, q, ord)) {
      stats.maskedDiscarded++;
      return;
    }
    if (st === G_MISSING) {
      hold(c, q, ord, h.off, frame, len, src);
      return;
    }
    if (attachDeliver(c, q, ord, predV, frame, h.off, len) && slotOf(handle(c)) === c) drain(c);
    if (cRec[c] && slotOf(handle(c)) === c && cRsAck[c] !== 0) finishRestart(c, false);
  }

  function hold(c: number, q: number, ord: number, off: number, frame: Uint8Array, len: number, src: number): void {
    let free = -1;
    for (let k = c * H; k < (c + 1) * H; k++) {
      if (!hUsed[k]) {
        if (free < 0) free = k;
      } else if (hQ[k] === q && hOrd[k] === ord) {
        stats.duplicates++;
        return;
      }
    }
    if (free < 0) {
      stats.flowDiscarded++;
      stats.holdFull++;
      return;
    }
    const k = free;
    hUsed[k] = 1;
    hQ[k] = q;
    hOrd[k] = ord;
    hOff[k] = off;
    hLen[k] = len;
    hSrc[k] = src;
    hTries[k] = 0;
    hDeadline[k] = clock.now() + jitter(cfg.holdUs);
    for (let r = 0; r < MAXP; r++) hPred[k][r] = predV[r];
    const b = hBuf[k];
    for (let i = 0; i < len; i++) b[i] = frame[i];
    b[PF_KIND] &= ~K_RESENT;
    stats.held++;
    arm();
  }

  /** The duplicate rule of 3.2.2: send the immediate successors of node x, and our reply to it, to the resender. */
  function resendSuccessors(c: number, x: number, src: number): void {
    if (x < 0) return;
    const img = images[c];
    const n = img.successors(x, succ);
    let reply = -1;
    for (let i = 0; i < n; i++) {
      if (img.sender(succ[i]) === cMe[c]) reply = succ[i];
      const f = img.frame(succ[i]);
      if (f !== null && macSend(src, f, img.frameLen(succ[i]))) stats.successorsResent++;
    }
    if (reply >= 0) return;
    // Our earliest message after x, among those we still keep (a stable one the resender has).
    const q = img.sender(x);
    const o = img.ord(x);
    let j = img.nextByAge(img.age(x));
    while (j >= 0) {
      if (img.sender(j) === cMe[c] && img.precedes(q, o, cMe[c], img.ord(j))) {
        const f = img.frame(j);
        if (f !== null && macSend(src, f, img.frameLen(j))) stats.successorsResent++;
        return;
      }
      j = img.nextByAge(img.age(j));
    }
  }

  /** Open a conversation from its SC (parsed in h) in a free slot; returns the slot or -1. */
  function openFromSc(h: PsHeader, frame: Uint8Array, len: number, src: number): number {
    const c = openSlot(h.cidAddr, h.cidNum, h.addrs, h.n);
    if (c < 0) return -1;
    wantOpen--;
    const conv = handle(c);
    if (openFn) openFn(conv);
    if (slotOf(conv) === c) onMessage(c, h, frame, len, src);
    return c;
  }

  function openPending(): void {
    while (wantOpen > 0) {
      let k = -1;
      for (let i = 0; i < Pn; i++) if (pUsed[i] && (k < 0 || pAge[i] < pAge[k])) k = i;
      if (k < 0) return;
      if (!parsePs(pBuf[k], pLen[k], hp)) {
        pUsed[k] = 0;
        continue;
      }
      if (findConv(hp.cidAddr, hp.cidNum) >= 0) {
        pUsed[k] = 0;
        continue;
      }
      if (openFromSc(hp, pBuf[k], pLen[k], pSrc[k]) < 0) return; // no free slot: it stays pending
      pUsed[k] = 0; // nothing refills the pending table during delivery
    }
  }

  /** Is this host among an SC's participants (other than its initiator)? */
  function listed(h: PsHeader): boolean {
    for (let i = 1; i < h.n; i++) if (h.addrs[i] === me) return true;
    return false;
  }

  function onSc(h: PsHeader, frame: Uint8Array, len: number, src: number): void {
    if (forgotten(h.cidAddr, h.cidNum)) return;
    if (!listed(h)) {
      forget(h.cidAddr, h.cidNum); // someone else's conversation: its messages need no RTX from us
      return;
    }
    let free = -1;
    for (let k = 0; k < Pn; k++) {
      if (pUsed[k] && pBuf[k][1] === frame[1] && pBuf[k][2] === frame[2] && pBuf[k][3] === frame[3] && pBuf[k][4] === frame[4]) {
        stats.duplicates++;
        return;
      }
      if (!pUsed[k] && free < 0) free = k;
    }
    if (wantOpen > 0 && openFromSc(h, frame, len, src) >= 0) return;
    if (free < 0) {
      stats.flowDiscarded++;
      return;
    }
    pUsed[free] = 1;
    pLen[free] = len;
    pSrc[free] = src;
    pAge[free] = ++pClock;
    const b = pBuf[free];
    for (let i = 0; i < len; i++) b[i] = frame[i];
    b[PF_KIND] &= ~K_RESENT;
  }

  function pendingHas(a: number, n: number): boolean {
    for (let k = 0; k < Pn; k++) {
      const b = pBuf[k];
      if (pUsed[k] && ((b[1] << 8) | b[2]) === a && ((b[3] << 8) | b[4]) === n) return true;
    }
    return false;
  }

  mac.onReceive(function (payload: Uint8Array, len: number, info: MacRxInfo) {
    if (!parsePs(payload, len, hdr)) {
      stats.malformed++;
      return;
    }
    const src = info.src;
    const c = findConv(hdr.cidAddr, hdr.cidNum);
    if (hdr.type === PS_RTX) {
      if (c >= 0) answerRtx(c, hdr, src);
      return;
    }
    if (hdr.type === PS_RS) {
      if (c >= 0) onRs(c, hdr, src);
      return;
    }
    if (hdr.type === PS_SC && hdr.named) {
      // A notice: join by restarting, as after a crash (the rest comes through the RS answers), when
      // this host is listed and opens conversations; once open, nothing more to learn from it.
      if (c < 0 && wantOpen > 0 && !forgotten(hdr.cidAddr, hdr.cidNum) && listed(hdr)) {
        const k = openSlot(hdr.cidAddr, hdr.cidNum, hdr.addrs, hdr.n);
        if (k >= 0) {
          wantOpen--;
          cRec[k] = 1;
          cRsAt[k] = clock.now() + 25 * cfg.rtxUs; // its RS about a second on (see the header)
          arm();
          if (openFn) openFn(handle(k));
        }
      }
      return;
    }
    if (c >= 0) {
      onMessage(c, hdr, payload, len, src);
      return;
    }
    if (hdr.type === PS_SC) {
      onSc(hdr, payload, len, src);
      return;
    }
    if (pendingHas(hdr.cidAddr, hdr.cidNum)) {
      stats.flowDiscarded++; // 3.3: only the SC of a pending conversation is kept
      return;
    }
    if (forgotten(hdr.cidAddr, hdr.cidNum)) return;
    stats.unknownConv++;
    const now = clock.now();
    if (now < unknownNext) return;
    unknownNext = now + cfg.rtxUs;
    // Ask for the conversation from its root: an RTX naming nothing with an empty frontier.
    rh.type = PS_RTX;
    rh.resent = false;
    rh.named = false;
    rh.idx = 0;
    rh.seq = 0;
    rh.mask = 0;
    rh.cidAddr = hdr.cidAddr;
    rh.cidNum = hdr.cidNum;
    const n = emitPs(rtxBuf, rh);
    stats.rtxSent++;
    macSend(src, rtxBuf, n);
  });
  mac.onSent(null);

  // ---- the interface ---------------------------------------------------------------------------

  return {
    stats,
    activeOpen(list: ArrayLike<number>, n: number): number {
      if (!validList(list, n)) return PS_E_ARG;
      let k = 1;
      sc[0] = me;
      for (let i = 0; i < n; i++) if (list[i] !== me) sc[k++] = list[i];
      const c = openSlot(me, nextCid, sc, n);
      if (c < 0) return PS_E_FULL;
      nextCid = (nextCid + 1) & 0xffff;
      return handle(c);
    },
    passiveOpen(): number {
      if (wantOpen >= 255) return PS_E_FULL;
      wantOpen++;
      for (let k = 0; k < Pn; k++) if (pUsed[k]) openDue = true;
      if (openDue) arm();
      return PS_OK;
    },
    close(conv: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      cState[c] = FREE;
      for (let k = c * H; k < (c + 1) * H; k++) hUsed[k] = 0;
      forget(cCidAddr[c], cCidNum[c]);
      arm();
      return PS_OK;
    },
    send(conv: number, payload: Uint8Array, len: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      const img = images[c];
      const q = cMe[c];
      if (cSent[c] < img.have[q]) {
        // Already in the image (sent before a restart): suppressed, with the id it had (5.2).
        cSent[c]++;
        stats.suppressed++;
        return midOf(me, seqOf(c, q, cSent[c]));
      }
      if (cRec[c]) return PS_E_RECOVERING;
      const ord = img.have[q] + 1;
      if (ord > 0xffff) return PS_E_EXHAUSTED;
      txh.resent = false;
      txh.cidAddr = cCidAddr[c];
      txh.cidNum = cCidNum[c];
      sendPred.fill(0);
      if (q === 0 && ord === 1) {
        txh.type = PS_SC;
        txh.idx = 0;
        txh.n = cN[c];
        for (let i = 0; i < cN[c]; i++) txh.addrs[i] = cAddr[c * MAXP + i];
      } else {
        txh.type = PS_AN;
        txh.idx = q;
        txh.seq = seqOf(c, q, ord);
        txh.mask = 0;
        for (let r = 0; r < cN[c]; r++) {
          const l = img.leaf[r];
          if (l === 0) continue;
          txh.mask |= 1 << r;
          txh.seqs[r] = seqOf(c, r, l);
          sendPred[r] = l;
        }
      }
      const off = emitPs(txBuf, txh);
      if (!(len >= 0 && len <= payload.length) || off === 0 || off + len > mtu) return PS_E_TOO_LARGE;
      for (let i = 0; i < len; i++) txBuf[off + i] = payload[i];
      if (img.check(q, ord, sendPred) !== G_OK || img.attach(q, ord, sendPred, txBuf, off + len, 0) < 0) return PS_E_FULL;
      cSent[c] = ord;
      if (attachFn) attachFn(conv, txBuf, off + len);
      sendAll(c, txBuf, off + len, false);
      stats.sent++;
      return midOf(me, seqOf(c, q, ord));
    },
    resend(conv: number, mid: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      const img = images[c];
      const x = nodeOf(c, mid);
      if (x < 0) return PS_E_UNKNOWN;
      const f = img.frame(x);
      if (f === null) return img.stable(x) ? PS_E_STABLE : PS_E_NOCOPY;
      const n = img.frameLen(x);
      for (let i = 0; i < n; i++) txBuf[i] = f[i];
      txBuf[PF_KIND] |= K_RESENT;
      sendAll(c, txBuf, n, false);
      stats.resent++;
      return PS_OK;
    },
    maskOut(conv: number, addr: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      const q = indexOf(c, addr);
      if (q < 0 || q === cMe[c]) return PS_E_ARG;
      cMasked[c] |= 1 << q;
      images[c].setMasked(cMasked[c]);
      images[c].collect();
      return PS_OK;
    },
    maskIn(conv: number, addr: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      const q = indexOf(c, addr);
      if (q < 0) return PS_E_ARG;
      cMasked[c] &= ~(1 << q);
      images[c].setMasked(cMasked[c]);
      return PS_OK;
    },
    freeNode(conv: number, mid: number): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      const q = indexOf(c, midSender(mid));
      if (q < 0) return 0;
      return images[c].freeNode(q, ordOf(c, q, midSeq(mid)));
    },
    onDeliver(fn) { deliverFn = fn; },
    onOpen(fn) { openFn = fn; },
    onAttach(fn) { attachFn = fn; },
    onAdmit(fn) { admitFn = fn; },
    serveFrom(src) { older = src; },
    onRestart(fn) { restartFn = fn; },
    restart(cid: number, list: ArrayLike<number>, n: number, mids: ArrayLike<number>, nMids: number): number {
      const ca = midSender(cid);
      if (!validList(list, n) || list[0] !== ca || !(cid >= 0 && nMids >= 0 && nMids <= mids.length)) return PS_E_ARG;
      if (findConv(ca, midSeq(cid)) >= 0) return PS_E_ARG;
      const c = openSlot(ca, midSeq(cid), list, n);
      if (c < 0) return PS_E_FULL;
      for (let k = 0; k < nMids; k++) {
        const q = indexOf(c, midSender(mids[k]));
        const o = q < 0 ? 0 : ordOf(c, q, midSeq(mids[k]));
        if (q >= 0 && o > cVcut[c * MAXP + q]) cVcut[c * MAXP + q] = o;
      }
      // The image itself starts empty: the log and the other hosts fill it (with copies of what is
      // not stable yet, which a raise would lose); the view cut only keeps those messages undelivered.
      cSent[c] = cVcut[c * MAXP + cMe[c]];
      cRec[c] = n > 1 ? 1 : 0;
      cRsAt[c] = clock.now();
      arm();
      return handle(c);
    },
    inject(conv: number, frame: Uint8Array, len: number): number {
      const c = slotOf(conv);
      if (c < 0) return PS_E_UNKNOWN;
      if (!parsePs(frame, len, hdr) || hdr.type > PS_AN || findConv(hdr.cidAddr, hdr.cidNum) !== c) return PS_E_ARG;
      hdr.resent = false;
      stats.injected++;
      // A log frame whose predecessors are missing (the log lost some) is held as if its sender had
      // sent it: the RTX goes there.
      const q = hdr.type === PS_SC ? 0 : hdr.idx;
      const src = q < cN[c] && q !== cMe[c] ? cAddr[c * MAXP + q] : cAddr[c * MAXP + (cMe[c] === 0 ? 1 : 0)];
      injecting = true;
      onMessage(c, hdr, frame, len, src);
      injecting = false;
      return PS_OK;
    },
    recovering(conv: number): boolean {
      const c = slotOf(conv);
      return c >= 0 && cRec[c] !== 0;
    },
    frontier(conv: number, out: NumList): number {
      const c = slotOf(conv);
      return c < 0 ? 0 : midsOf(c, images[c].have, out);
    },
    cid(conv: number): number {
      const c = slotOf(conv);
      return c < 0 ? PS_E_UNKNOWN : midOf(cCidAddr[c], cCidNum[c]);
    },
    root(conv: number): number {
      const c = slotOf(conv);
      return c < 0 || images[c].have[0] === 0 ? PS_E_UNKNOWN : midOf(cCidAddr[c], cCidNum[c]);
    },
    leaves(conv: number, out: NumList): number {
      const c = slotOf(conv);
      return c < 0 ? 0 : midsOf(c, images[c].leaf, out);
    },
    participants(conv: number, out: NumList): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      for (let i = 0; i < cN[c]; i++) out[i] = cAddr[c * MAXP + i];
      return cN[c];
    },
    next(conv: number, mid: number, out: NumList): number {
      const c = slotOf(conv);
      const x = c < 0 ? -1 : nodeOf(c, mid);
      if (x < 0) return 0;
      const n = images[c].successors(x, succ);
      for (let i = 0; i < n; i++) out[i] = midOfNode(c, succ[i]);
      return n;
    },
    prev(conv: number, mid: number, out: NumList): number {
      const c = slotOf(conv);
      const x = c < 0 ? -1 : nodeOf(c, mid);
      if (x < 0) return 0;
      let n = 0;
      for (let q = 0; q < cN[c]; q++) {
        const y = images[c].pred(x, q);
        if (y !== 0) out[n++] = midOf(cAddr[c * MAXP + q], seqOf(c, q, y));
      }
      return n;
    },
    unstable(conv: number): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      const img = images[c];
      let n = 0;
      for (let q = 0; q < cN[c]; q++) n += img.have[q] - img.done[q];
      return n;
    },
    outstanding(conv: number): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      let n = 0;
      for (let k = c * H; k < (c + 1) * H; k++) n += hUsed[k];
      return n;
    },
    precedes(conv: number, m1: number, m2: number): boolean {
      const c = slotOf(conv);
      if (c < 0) return false;
      const q1 = indexOf(c, midSender(m1));
      const q2 = indexOf(c, midSender(m2));
      if (q1 < 0 || q2 < 0) return false;
      return images[c].precedes(q1, ordOf(c, q1, midSeq(m1)), q2, ordOf(c, q2, midSeq(m2)));
    },
    stable(conv: number, mid: number): boolean {
      const c = slotOf(conv);
      if (c < 0) return false;
      const x = nodeOf(c, mid);
      if (x >= 0) return images[c].stable(x);
      const q = indexOf(c, midSender(mid));
      const ord = q < 0 ? 0 : ordOf(c, q, midSeq(mid));
      return ord !== 0 && ord <= images[c].have[q]; // reclaimed: only stable messages are
    },
    nStable(conv: number, mid: number): number {
      const c = slotOf(conv);
      const x = c < 0 ? -1 : nodeOf(c, mid);
      return x < 0 ? 0 : images[c].nStable(x);
    },
    known(conv: number, mid: number): boolean {
      const c = slotOf(conv);
      if (c < 0) return false;
      const q = indexOf(c, midSender(mid));
      const ord = q < 0 ? 0 : ordOf(c, q, midSeq(mid));
      return ord !== 0 && ord <= images[c].have[q];
    },
    hasCopy(conv: number, mid: number): boolean {
      const c = slotOf(conv);
      const x = c < 0 ? -1 : nodeOf(c, mid);
      return x >= 0 && images[c].frame(x) !== null;
    },
    unstableOwn(conv: number): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      const img = images[c];
      let n = 0;
      let j = img.nextByAge(-1);
      while (j >= 0) {
        if (img.sender(j) === cMe[c] && !img.stable(j)) n++;
        j = img.nextByAge(img.age(j));
      }
      return n;
    },
    maxPayload(conv: number): number {
      const c = slotOf(conv);
      if (c < 0) return 0;
      const img = images[c];
      if (cMe[c] === 0 && img.have[0] === 0) return mtu - (6 + 2 * (cN[c] - 1));
      let k = 0;
      for (let q = 0; q < cN[c]; q++) if (img.leaf[q] !== 0) k++;
      return mtu - 8 - 2 * k;
    },
    bufsUsed(conv: number): number {
      const c = slotOf(conv);
      return c < 0 ? 0 : images[c].bufsUsed();
    },
    nodesUsed(conv: number): number {
      const c = slotOf(conv);
      return c < 0 ? 0 : images[c].nodesUsed();
    },
  };
}

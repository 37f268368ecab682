// CSMA/CA MAC: IEEE 802.11's distributed coordination function (DCF) as the textbook describes it in
// 3.5.2, over any hal/link.ts radio link, behind the firmware/mac/mac.ts contract.
//
// - Carrier sense: physical (the link's busy(), told by onCarrier where the radio can, polled once a
//   slot where it cannot) and virtual (the NAV, set from the duration of every frame not addressed to
//   us). Links without carrier sense (caps.carrierSense false) run on the NAV alone: use RTS/CTS there.
// - Access: a station contends after the medium has been free (physically and by NAV) for DIFS. A
//   slotted backoff uniform in [0, CW] counts down one slot per idle aSlotTime, is frozen while the
//   medium is busy and resumes after the next DIFS; the frame goes at the slot boundary where it
//   reaches 0. A station frozen by someone else's transmission counts that busy period as one slot,
//   at the DIFS boundary that ends it (the EDCA rule of 802.11-2016 10.22.2.4, and the one Bianchi's
//   model assumes). A frame that finds the medium free for DIFS with no backoff pending goes at once.
// - CW starts at aCWmin, becomes 2·CW+1 (up to aCWmax) after each failure and returns to aCWmin after
//   a success or a drop; a new backoff is drawn after every attempt (post-backoff), so a station never
//   sends twice in a row without contending.
// - Reservation: DATA longer than dot11RTSThreshold (on-air bytes) goes as RTS - CTS - DATA - ACK, each
//   a SIFS apart; RTS and CTS carry the time the rest of the exchange needs, and every station that
//   hears either sets its NAV and stays silent. A station answers RTS with CTS only if its own NAV is
//   clear. Group and broadcast frames go without RTS/CTS and without ACK.
// - Responses: a sender expects CTS/ACK to begin within SIFS + aSlotTime of its frame's end (802.11's
//   ACKTimeout: start of the response, detected by carrier sense); if nothing starts, or what arrives is
//   not the response, the attempt failed. Without carrier notifications it waits SIFS + response airtime
//   + a slot. Failures count against dot11ShortRetryLimit (frames up to the RTS threshold, and RTS) or
//   dot11LongRetryLimit (DATA after a CTS); at the limit the frame is dropped with TX_NOACK.
// - Duplicates: a retransmission carries the retry bit; a receiver remembers the last sequence number
//   of each of dupCacheSize transmitters and acknowledges, but does not deliver, a retried frame whose
//   sequence number it has already seen.
// - Not implemented: fragmentation, EIFS after a damaged frame, power save, beacons and association.
//
// Board code: the queue, frame buffers and duplicate cache are allocated at creation; timers use
// functions bound once; nothing is allocated per frame.

import type { Link, RxInfo } from '../../../hal/link.ts';
import { TX_ERR, TX_NOACK, TX_OK, TX_QUEUE_FULL } from '../../../hal/link.ts';
import type { Clock, Timer } from '../../../hal/clock.ts';
import type { Rng } from '../../../hal/rng.ts';
import type { GroupMember, Mac, MacCaps, MacRxInfo } from '../mac.ts';
import { groupSet, isGroupAddr } from '../mac.ts';
import type { CsmaConfig } from './config.ts';
import type { CsmaFrame } from './frame.ts';
import {
  ACK_LEN, CF_RA, CTS_LEN, DATA_HDR, FT_ACK, FT_CTS, FT_DATA, FT_RTS, RTS_LEN,
  emitCtl, emitDataHdr, emitRts, parseCsma, patchData,
} from './frame.ts';
import { frameQueue } from '../../queue.ts';
import { handUp } from '../deliver.ts';

export interface CsmaStats {
  /** Frames accepted by send(). */
  queued: number;
  /** Frames acknowledged (or sent, for group frames). */
  sentOk: number;
  /** DATA transmissions, retransmissions included. */
  dataTx: number;
  rtsTx: number;
  ctsTx: number;
  ackTx: number;
  /** Retransmission attempts (RTS or DATA) after a failure. */
  retries: number;
  /** Attempts that got no CTS/ACK (collisions, losses, an absent receiver). */
  noResponse: number;
  /** Frames dropped at the retry limit (TX_NOACK), refused because the queue was full, or too long. */
  dropNoAck: number;
  dropQueueFull: number;
  dropTooLong: number;
  /** Frames dropped because the link kept refusing them (TX_ERR). */
  dropLinkErr: number;
  /** Times a NAV from someone else's frame held back a frame of ours. */
  navDeferrals: number;
  /** Retransmitted frames acknowledged again but not delivered twice. */
  duplicates: number;
  /** Payloads delivered upward. */
  delivered: number;
  /** Received frames that did not parse. */
  rxMalformed: number;
}

export interface CsmaMac extends Mac, GroupMember {
  readonly stats: CsmaStats;
  readonly config: CsmaConfig;
}

export interface CsmaOptions {
  link: Link;
  clock: Clock;
  rng: Rng;
  /** This station's address, 0x0000..0xFEFF. */
  addr: number;
  config: CsmaConfig;
}

// Exchange states of our own frame.
const IDLE = 0;
const TX_RTS = 1;
const WAIT_CTS = 2;
const TX_DATA = 3;
const WAIT_ACK = 4;
const TX_GROUP = 5;
const SIFS_DATA = 6; // CTS received, DATA goes after SIFS

const MAX_GROUPS = 4;
const MAX_REFUSALS = 16;

export function csma(o: CsmaOptions): CsmaMac {
  const link = o.link;
  const clock = o.clock;
  const rng = o.rng;
  const cfg = o.config;
  const addr = o.addr;
  if (!(addr >= 0 && addr < 0xff00)) throw new Error('csma: station address must be 0..0xFEFF, got ' + addr);
  if (cfg.dataHeaderBytes < DATA_HDR || cfg.rtsBytes < RTS_LEN || cfg.ctsBytes < CTS_LEN || cfg.ackBytes < ACK_LEN) {
    throw new Error('csma: on-air frame lengths below the natural ones (DATA header 8, RTS 7, CTS 5, ACK 5)');
  }
  if (!(link.caps.bitrate > 0)) throw new Error('csma: the link must report its bitrate (airtimes and durations come from it)');
  const hdr = cfg.dataHeaderBytes;
  const mtu = link.caps.mtu - hdr;
  if (mtu < 1) throw new Error('csma: link mtu ' + link.caps.mtu + ' leaves no room for a payload after a ' + hdr + '-byte header');
  const slot = cfg.aSlotTime;
  const sifs = cfg.aSIFSTime;
  const unit = cfg.aDurationUnitUs;
  const notified = typeof link.onCarrier === 'function';

  // Not inlined (NOINLINE, here and at the board's factory calls): terser would make the factory an
  // IIFE inside this one, and every closure it makes would cost one JsVar more (bench/footprint.ts).
  const q = /* @__NOINLINE__ */ frameQueue(cfg.queueDepth, link.caps.mtu);
  const ctl = new Uint8Array(Math.max(cfg.rtsBytes, cfg.ctsBytes, cfg.ackBytes)); // our RTS
  const resp = new Uint8Array(Math.max(cfg.ctsBytes, cfg.ackBytes)); // our CTS / ACK
  const rxBuf = new Uint8Array(mtu);
  // The duplicate cache and the sequence counters, one typed array (each costs about 5 JsVars besides
  // its data), a column each: sender, its last sequence number (-1: none); destination (-1: none),
  // our last sequence number to it.
  const nD = cfg.dupCacheSize;
  const dupSeq = new Int32Array(4 * nD).fill(-1, nD, 3 * nD);
  let dupNext = 0;
  let seqNext = 0;
  const groups = /* @__NOINLINE__ */ groupSet(MAX_GROUPS);
  const f: CsmaFrame = { type: 0, retry: false, dur: 0, ra: 0, ta: 0, seq: 0, off: 0 };
  const info: MacRxInfo = { src: 0, dst: 0, timeUs: 0, rssi: 0 };
  const stats: CsmaStats = {
    queued: 0, sentOk: 0, dataTx: 0, rtsTx: 0, ctsTx: 0, ackTx: 0, retries: 0, noResponse: 0,
    dropNoAck: 0, dropQueueFull: 0, dropTooLong: 0, dropLinkErr: 0, navDeferrals: 0, duplicates: 0, delivered: 0, rxMalformed: 0,
  };
  let onRx: ((payload: Uint8Array, len: number, info: MacRxInfo) => void) | null = null;
  let onSentFn: ((status: number, transmissions: number, dst: number) => void) | null = null;

  // Carrier and NAV.
  let phyBusy = link.busy();
  let phyIdleSince = clock.now();
  let nav = 0;
  // Backoff: slots left (-1: none drawn), and whether a busy period of someone else's is owed a slot.
  let cw = cfg.aCWmin;
  let bo = -1;
  let owed = false;
  let immediate = false; // bo is 0 because a frame found the medium idle, not because it was drawn
  let contendAt = 0;
  let contendTimer: Timer | null = null;
  let navTimer: Timer | null = null;
  let navHeld = false;
  let pollTimer: Timer | null = null;
  // Our exchange.
  let state = IDLE;
  let refusals = 0; // link.send refusals in a row
  let attempts = 0; // times this frame won the medium (RTS, or DATA without RTS)
  let dataOnAir = 0; // times its DATA went on the air
  let shortRetries = 0;
  let longRetries = 0;
  let seq = 0;
  let checkTimer: Timer | null = null;
  let dataTimer: Timer | null = null; // DATA due SIFS after the CTS
  let awaitEnd = false; // a signal was arriving when the response was due: decide when it ends
  let viaRts = false;
  // A response (CTS/ACK) of ours, due SIFS after the frame that asked for it.
  let respLen = 0;
  let respTimer: Timer | null = null;
  let sendingResp = false;

  const air = (len: number): number => Math.ceil(((cfg.phyHeaderBits + 8 * len) * 1e6) / link.caps.bitrate);
  const durField = (us: number): number => {
    const d = Math.ceil(us / unit);
    return d > 0xffff ? 0xffff : d < 0 ? 0 : d;
  };
  const draw = (): number => rng.u32() % (cw + 1);

  function cancel(t: Timer | null): null {
    if (t !== null) clock.cancel(t);
    return null;
  }

  // ---- contention ----------------------------------------------------------------------------

  /** (Re)schedule the end of our backoff from the medium's state; idempotent. */
  function replan(): void {
    contendTimer = cancel(contendTimer);
    if (state !== IDLE || respLen > 0 || bo < 0) return;
    if (bo === 0 && q.headLen() === 0) return; // post-backoff done: wait for a frame
    if (phyBusy) return; // resumes when the carrier drops
    const now = clock.now();
    if (nav > now) {
      if (!navHeld && q.headLen() > 0) {
        navHeld = true; // once per NAV period that holds a frame of ours back
        stats.navDeferrals++;
      }
      navTimer = cancel(navTimer);
      navTimer = clock.at(nav, navEnd);
      return;
    }
    const difsEnd = (phyIdleSince > nav ? phyIdleSince : nav) + cfg.DIFS;
    const b = owed && bo > 0 ? bo - 1 : bo;
    contendAt = difsEnd + b * slot;
    contendTimer = clock.at(contendAt, contendFire);
  }

  function navEnd(): void {
    navTimer = null;
    navHeld = false;
    replan();
  }

  /** The medium went busy: freeze the backoff, keeping the slots that were fully idle. */
  function freeze(now: number): void {
    if (contendTimer === null) return;
    if (contendAt <= now) return; // our slot boundary is now: the other signal cannot be sensed yet
    contendTimer = cancel(contendTimer);
    if (immediate) {
      // A frame that was to go straight after DIFS met a busy medium: it must back off (802.11).
      immediate = false;
      bo = draw();
      owed = true;
      return;
    }
    const difsEnd = contendAt - (owed && bo > 0 ? bo - 1 : bo) * slot;
    if (now >= difsEnd) {
      if (owed && bo > 0) bo--;
      owed = false;
      bo -= Math.floor((now - difsEnd) / slot);
    }
    if (bo > 0) owed = true; // this busy period will count as one slot at its DIFS boundary
  }

  function contendFire(): void {
    contendTimer = null;
    bo = 0;
    owed = false;
    immediate = false;
    if (q.headLen() === 0) return;
    if (respLen > 0) return; // a response of ours goes first; replan after it
    startExchange();
  }

  function carrierChange(busy: boolean): void {
    const now = clock.now();
    if (busy) {
      if (phyBusy) return;
      phyBusy = true;
      freeze(now);
    } else {
      if (!phyBusy) return;
      phyBusy = false;
      phyIdleSince = now;
      if (awaitEnd) {
        // The signal ended. Its frame may be handed over just after the carrier drops: judge a slot later.
        awaitEnd = false;
        if ((state === WAIT_ACK || state === WAIT_CTS) && checkTimer === null) checkTimer = clock.at(now + slot, responseGrace);
      }
      replan();
    }
  }

  /** Radios without carrier notifications: look once a slot while anything is pending. */
  function pending(): boolean {
    return state !== IDLE || q.headLen() > 0 || bo > 0 || respLen > 0;
  }
  function poll(): void {
    pollTimer = null;
    carrierChange(link.busy());
    if (pending()) pollTimer = clock.at(clock.now() + slot, poll);
  }
  function ensurePolling(): void {
    if (notified || pollTimer !== null) return;
    // What we knew of the medium is stale: look now, and count DIFS from now if it is idle.
    const b = link.busy();
    if (b !== phyBusy || !b) {
      phyBusy = b;
      phyIdleSince = clock.now();
    }
    pollTimer = clock.at(clock.now() + slot, poll);
  }

  // ---- our exchange ----------------------------------------------------------------------------

  function startExchange(): void {
    const len = q.headLen();
    const frame = q.head();
    const ra = (frame[CF_RA] << 8) | frame[CF_RA + 1];
    if (isGroupAddr(ra)) {
      patchData(frame, false, 0);
      if (transmit(frame, len, TX_GROUP)) {
        attempts++;
        stats.dataTx++;
      }
    } else if (len > cfg.dot11RTSThreshold) {
      viaRts = true;
      const n = emitRts(ctl, durField(3 * sifs + air(cfg.ctsBytes) + air(len) + air(cfg.ackBytes)), ra, addr, cfg.rtsBytes);
      if (transmit(ctl, n, TX_RTS)) {
        attempts++;
        stats.rtsTx++;
      }
    } else {
      viaRts = false;
      if (sendData()) attempts++;
    }
  }

  /** DATA of the head frame; the retry bit is set once it has been on the air before. */
  function sendData(): boolean {
    const len = q.headLen();
    const frame = q.head();
    patchData(frame, dataOnAir > 0, durField(sifs + air(cfg.ackBytes)));
    if (!transmit(frame, len, TX_DATA)) return false;
    dataOnAir++;
    stats.dataTx++;
    return true;
  }

  function transmit(frame: Uint8Array, len: number, next: number): boolean {
    if (!link.send(frame, len)) {
      // The radio refused (still busy with a transmission of its own): try again a slot later, but
      // not for ever: a link that keeps refusing is broken, and the frame is reported TX_ERR.
      if (++refusals > MAX_REFUSALS) {
        refusals = 0;
        stats.dropLinkErr++;
        finish(TX_ERR);
        return false;
      }
      state = IDLE;
      bo = 0;
      contendAt = clock.now() + slot;
      contendTimer = clock.at(contendAt, contendFire);
      return false;
    }
    refusals = 0;
    state = next;
    return true;
  }

  function sentOnAir(): void {
    if (sendingResp) {
      sendingResp = false;
      respLen = 0;
      if (state === IDLE) replan();
      return;
    }
    if (state === TX_GROUP) return finish(TX_OK);
    if (state === TX_RTS) state = WAIT_CTS;
    else if (state === TX_DATA) state = WAIT_ACK;
    else return;
    const expect = state === WAIT_CTS ? cfg.ctsBytes : cfg.ackBytes;
    checkTimer = cancel(checkTimer);
    checkTimer = clock.at(clock.now() + sifs + slot + (notified ? 0 : air(expect)), responseDue);
  }

  function responseDue(): void {
    checkTimer = null;
    if (state !== WAIT_CTS && state !== WAIT_ACK) return;
    if (notified && phyBusy) awaitEnd = true; // something is arriving: judge it when it ends
    else failed();
  }

  function responseGrace(): void {
    checkTimer = null;
    if (state === WAIT_ACK || state === WAIT_CTS) failed();
  }

  function gotResponse(): void {
    checkTimer = cancel(checkTimer);
    awaitEnd = false;
  }

  function failed(): void {
    stats.noResponse++;
    checkTimer = cancel(checkTimer);
    awaitEnd = false;
    if (state === WAIT_ACK && viaRts) longRetries++;
    else shortRetries++;
    if (shortRetries >= cfg.dot11ShortRetryLimit || longRetries >= cfg.dot11LongRetryLimit) {
      stats.dropNoAck++;
      finish(TX_NOACK);
      return;
    }
    stats.retries++;
    cw = cw * 2 + 1 > cfg.aCWmax ? cfg.aCWmax : cw * 2 + 1;
    state = IDLE;
    bo = draw();
    owed = false;
    replan();
  }

  /** The head frame is done (sent, acknowledged or dropped): report, then contend for the next. */
  function finish(status: number): void {
    const n = attempts;
    const head = q.head();
    const dst = (head[CF_RA] << 8) | head[CF_RA + 1];
    if (status === TX_OK) stats.sentOk++;
    q.drop();
    attempts = 0;
    dataOnAir = 0;
    shortRetries = 0;
    longRetries = 0;
    cw = cfg.aCWmin;
    state = IDLE;
    bo = draw(); // post-backoff
    owed = false;
    replan();
    ensurePolling();
    if (onSentFn) onSentFn(status, n, dst);
  }

  // ---- responses we owe ------------------------------------------------------------------------

  function respond(): void {
    respTimer = null;
    if (respLen === 0) return;
    if (link.send(resp, respLen)) {
      sendingResp = true;
      if (resp[0] === FT_ACK) stats.ackTx++;
      else {
        stats.ctsTx++;
        // We granted the medium: stay silent until the DATA and our ACK are done, even on a radio
        // that cannot sense the DATA arriving.
        const until = clock.now() + air(respLen) + ((resp[1] << 8) | resp[2]) * unit;
        if (until > nav) nav = until;
      }
    } else {
      respLen = 0; // our radio is busy: the peer will time out and retry
      replan();
    }
  }

  function owe(type: number, durUs: number, ra: number, onAir: number, at: number): void {
    respLen = emitCtl(resp, type, durField(durUs), ra, onAir);
    respTimer = cancel(respTimer);
    freeze(clock.now()); // keep the idle slots already counted
    contendTimer = cancel(contendTimer);
    respTimer = clock.at(at, respond);
  }

  function sendDataAfterSifs(): void {
    dataTimer = null;
    if (state === SIFS_DATA) sendData();
  }

  // ---- receive -----------------------------------------------------------------------------------

  /**
   * Sequence numbers count per destination (as 802.11 allows per receiver), so the last number a
   * receiver saw from us is always the one before: a retransmission can never match an old frame
   * after the 8-bit counter wraps. A destination that falls out of the table starts again from a
   * global counter that moves on every unicast frame.
   */
  function nextSeq(dst: number): number {
    seq = (seq + 1) & 0xff;
    for (let i = 2 * nD; i < 3 * nD; i++) {
      if (dupSeq[i] === dst) {
        dupSeq[nD + i] = (dupSeq[nD + i] + 1) & 0xff;
        return dupSeq[nD + i];
      }
    }
    dupSeq[2 * nD + seqNext] = dst;
    dupSeq[3 * nD + seqNext] = seq;
    seqNext = (seqNext + 1) % nD;
    return seq;
  }

  function isDuplicate(ta: number, s: number, retry: boolean): boolean {
    for (let i = 0; i < nD; i++) {
      if (dupSeq[nD + i] >= 0 && dupSeq[i] === ta) {
        const dup = retry && dupSeq[nD + i] === s;
        dupSeq[nD + i] = s;
        return dup;
      }
    }
    dupSeq[dupNext] = ta;
    dupSeq[nD + dupNext] = s;
    dupNext = (dupNext + 1) % nD;
    return false;
  }

  function deliver(frame: Uint8Array, len: number, rx: RxInfo): void {
    stats.delivered++;
    handUp(onRx, rxBuf, info, frame, f.off, len, f.ta, f.ra, rx);
  }

  link.onReceive((frame, len, rx) => {
    if (!parseCsma(frame, len, hdr, f) || (f.type === FT_DATA && len - f.off > mtu)) {
      stats.rxMalformed++;
      return;
    }
    const end = rx.timeUs;
    if (f.ra !== addr) {
      const until = end + f.dur * unit;
      if (until > nav) {
        nav = until; // virtual carrier sense
        if (contendTimer !== null) {
          freeze(clock.now()); // (only when polling: a notified carrier froze us at the frame's start)
          replan();
        }
      }
      if (f.type === FT_DATA && (f.ra === 0xffff || groups.list.indexOf(f.ra) >= 0)) deliver(frame, len, rx);
      return;
    }
    if (f.type === FT_DATA) {
      owe(FT_ACK, 0, f.ta, cfg.ackBytes, end + sifs);
      if (isDuplicate(f.ta, f.seq, f.retry)) stats.duplicates++;
      else deliver(frame, len, rx);
    } else if (f.type === FT_RTS) {
      if (nav <= end) owe(FT_CTS, f.dur * unit - sifs - air(cfg.ctsBytes), f.ta, cfg.ctsBytes, end + sifs);
    } else if (f.type === FT_CTS) {
      if (state === WAIT_CTS) {
        gotResponse();
        shortRetries = 0; // 802.11: the RTS succeeded
        state = SIFS_DATA;
        dataTimer = cancel(dataTimer);
        dataTimer = clock.at(end + sifs, sendDataAfterSifs);
      }
    } else if (f.type === FT_ACK) {
      if (state === WAIT_ACK) {
        gotResponse();
        finish(TX_OK);
      }
    }
  });
  link.onSent(sentOnAir);
  if (notified) link.onCarrier!(carrierChange);

  const caps: MacCaps = { mtu, carrierSense: link.caps.carrierSense };

  return {
    caps,
    addr,
    stats,
    config: cfg,
    send(dst: number, payload: Uint8Array, len: number): number {
      if (!(len >= 1 && len <= mtu) || len > payload.length || !(dst >= 0 && dst <= 0xffff) || dst === addr) {
        stats.dropTooLong++;
        return TX_ERR;
      }
      if (q.size() === q.depth) {
        stats.dropQueueFull++;
        return TX_QUEUE_FULL;
      }
      // Build the whole DATA frame in its queue slot: header now, retry bit and duration per attempt.
      const slotBuf = q.tail()!;
      emitDataHdr(slotBuf, false, 0, dst, addr, isGroupAddr(dst) ? 0 : nextSeq(dst), hdr);
      for (let i = 0; i < len; i++) slotBuf[hdr + i] = payload[i];
      q.commit(hdr + len);
      stats.queued++;
      ensurePolling();
      if (state === IDLE && bo <= 0 && contendTimer === null) {
        const now = clock.now();
        if (phyBusy || nav > now) {
          bo = draw();
          owed = true; // drawn during someone else's busy period, which counts as one slot
        } else {
          bo = 0;
          immediate = true;
        }
        replan();
      }
      return TX_OK;
    },
    onReceive(fn) { onRx = fn; },
    onSent(fn) { onSentFn = fn; },
    queued: () => q.size(),
    join: groups.join,
    leave: groups.leave,
  };
}

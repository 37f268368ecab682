// Psync messages (the Psync paper, section 3: figure 3 SC, figure 4 AN, figure 5 the retransmission
// request, called RTX here because RR already names request-reply in this project), compacted for
// small radios. Participants are named by their index in the SC's participant list (at most 8), so a
// predecessor costs 2 bytes and the predecessor list 1 + 2k bytes for k predecessors.
//
//   offset   field  size    meaning
//   0        kind   u8      bits 0-1 type: 0 SC, 1 AN, 2 RTX, 3 RS; bit 2 RESENT (an SC or AN
//                           sent again by resend(): a host that has it already answers with its
//                           immediate successors, section 3.2.2); bits 3-5 participant index (AN: the
//                           sender; RTX: the sender of the named message; RS: the sender; SC: 0);
//                           bit 6 RTX: a message is named; RS: an answer; SC: a notice (below);
//                           bit 7 zero (version 0);
//                           bit 2 of an RS answer: LOGGED, the answering host serves every message of
//                           its image from its log, so its stable frontier is stable but not gone
//   1        cid    u16+u16 conversation id = the SC's message id: initiator address, initiator
//                           sequence number (big-endian, as every field)
//   SC (participant 0 is the initiator, the cid address; the SC's sequence number is the cid's):
//   5        n      u8      participants, 1..8
//   6        pids   2(n-1)  addresses of participants 1..n-1: distinct station addresses
//   6+2(n-1) data   ...     the application's message
//   An SC notice (bit 6) has the header alone: sent to a participant the sender has masked out and
//   that asked for a conversation it has not opened (its SC lost until it was stable without it and
//   freed), it tells that participant the conversation and its participants, to restart into it.
//   AN:
//   5        seq    u16     the sender's sequence number; the message id is (sender address, seq)
//   7        preds  u8      bit i set: an immediate predecessor was sent by participant i (at most one
//                           per participant, section 2: indegree is bounded by the participant count)
//   8        pseq   2k      that predecessor's sequence number, for each set bit in index order
//   8+2k     data   ...     the application's message (may be empty: an acknowledgement)
//   RTX (nothing follows the frontier):
//   5        seq    u16     the held message whose predecessors are missing (0 when bit 6 is clear)
//   7        front  u8      bit i set: the requester's image holds messages of participant i
//   8        fseq   2k      the newest such message's sequence number, for each set bit in index order
//   RS (section 5.1, figure 10: a participant restarted; the same layout as an RTX):
//   5        seq    u16     announcement: 0. Answer: the newest message of the restarted participant
//                           the answering host has (ordinal 0 encodes as the sequence number before
//                           its first), so it knows which of its own messages to recover before sending
//   7        front  u8      announcement: the restarted host's frontier, as in an RTX. Answer: the
//                           answering host's stable frontier (the newest message of each participant
//                           that has been stable there: its copy may be gone everywhere)
//   8        fseq   2k
//   An RS answer with LOGGED: the restarted host takes the stable frontier as stable (and asks for
//   the messages' content) instead of taking those messages without content.
//
// The RTX names the boundary of the requester's image as its per-participant frontier rather than as
// its leaves: an image is closed under predecessors and each participant's messages form a chain,
// so the frontier describes the same set (every leaf is on it), and a host that lacks some of the
// requester's leaves can still tell which of its own messages the requester is missing.
// Sizes: SC 6 + 2(n-1) bytes of header (20 with 8 participants); AN and RTX 8 + 2k (24 with 8).
// Board code: parse fills a caller's object, emit writes a caller's buffer; lengths are checked first.

import { isGroupAddr } from '../mac/mac.ts';

export const PS_SC = 0;
export const PS_AN = 1;
export const PS_RTX = 2;
export const PS_RS = 3;

/** Participants in one conversation: the width of the preds and frontier masks. */
export const PS_MAX_PARTICIPANTS = 8;

export const PF_KIND = 0;
export const PF_CID = 1;
export const PF_N = 5;
export const PF_PIDS = 6;
export const PF_SEQ = 5;
export const PF_MASK = 7;
export const PF_SEQS = 8;
/** Shortest message: an AN or RTX with no predecessors or frontier, or an SC with its count. */
export const PS_MIN = 6;

export const K_RESENT = 0x04;
/** The same bit in an RS answer: the answering host serves its whole image from its log. */
export const K_LOGGED = 0x04;
const K_NAMED = 0x40;

export interface PsHeader {
  type: number;
  /** SC or AN sent again by resend(); in a parsed RS answer, the LOGGED bit (emitPs writes neither for RTX or RS). */
  resent: boolean;
  /** AN: sender's participant index; RTX: the named message's sender index; SC: 0. */
  idx: number;
  /** RTX: a message is named (idx, seq). RS: this is an answer. SC: a notice, the header alone. */
  named: boolean;
  cidAddr: number;
  cidNum: number;
  /** SC: participant count; addrs[0..n) with addrs[0] = cidAddr. */
  n: number;
  addrs: Uint16Array;
  /** AN: the message's sequence number; RTX: the named message's; SC: cidNum. */
  seq: number;
  /** AN: predecessor mask; RTX: frontier mask; SC: 0. */
  mask: number;
  /** seqs[i]: sequence number for participant i when bit i of mask is set (others left as they were). */
  seqs: Uint16Array;
  /** Offset of the application data (SC, AN) or the message length (RTX). */
  off: number;
}

export function psHeader(): PsHeader {
  return {
    type: 0, resent: false, idx: 0, named: false, cidAddr: 0, cidNum: 0, n: 0,
    addrs: new Uint16Array(PS_MAX_PARTICIPANTS), seq: 0, mask: 0, seqs: new Uint16Array(PS_MAX_PARTICIPANTS), off: 0,
  };
}

function bits(m: number): number {
  let k = 0;
  for (; m !== 0; m >>>= 1) k += m & 1;
  return k;
}

/** Header length of h as emitPs would write it. */
export function psHeaderLen(h: PsHeader): number {
  return h.type === PS_SC ? PF_PIDS + 2 * (h.n - 1) : PF_SEQS + 2 * bits(h.mask & 0xff);
}

/**
 * Write h's header into buf; returns its length (the data offset for SC and AN, the whole message for
 * RTX), or 0 if buf is too short or h is out of range (type, n, index).
 */
export function emitPs(buf: Uint8Array, h: PsHeader): number {
  if (h.type > PS_RS || h.idx > 7) return 0;
  if (h.type === PS_SC && !(h.n >= 1 && h.n <= PS_MAX_PARTICIPANTS)) return 0;
  const n = psHeaderLen(h);
  if (buf.length < n) return 0;
  const ctl = h.type >= PS_RTX;
  const unnamed = h.type === PS_RTX && !h.named;
  buf[PF_KIND] = h.type | (h.resent && !ctl ? K_RESENT : 0) | (h.type === PS_SC || unnamed ? 0 : h.idx << 3) |
    (h.type !== PS_AN && h.named ? K_NAMED : 0);
  buf[PF_CID] = (h.cidAddr >>> 8) & 0xff;
  buf[PF_CID + 1] = h.cidAddr & 0xff;
  buf[PF_CID + 2] = (h.cidNum >>> 8) & 0xff;
  buf[PF_CID + 3] = h.cidNum & 0xff;
  if (h.type === PS_SC) {
    buf[PF_N] = h.n;
    for (let i = 1; i < h.n; i++) {
      buf[PF_PIDS + 2 * (i - 1)] = (h.addrs[i] >>> 8) & 0xff;
      buf[PF_PIDS + 2 * (i - 1) + 1] = h.addrs[i] & 0xff;
    }
  } else {
    const seq = unnamed || (h.type === PS_RS && !h.named) ? 0 : h.seq;
    buf[PF_SEQ] = (seq >>> 8) & 0xff;
    buf[PF_SEQ + 1] = seq & 0xff;
    buf[PF_MASK] = h.mask & 0xff;
    let o = PF_SEQS;
    for (let i = 0; i < PS_MAX_PARTICIPANTS; i++) {
      if ((h.mask >>> i) & 1) {
        buf[o] = (h.seqs[i] >>> 8) & 0xff;
        buf[o + 1] = h.seqs[i] & 0xff;
        o += 2;
      }
    }
  }
  h.off = n;
  return n;
}

/**
 * Parse buf[0..len) into h; false when it is too short, uses reserved bits, an SC lists 0 or more
 * than 8 participants, a group address or one address twice, or an RTX or RS has bytes after its
 * frontier. Reads nothing at or past len.
 */
export function parsePs(buf: Uint8Array, len: number, h: PsHeader): boolean {
  if (!(len >= PS_MIN && len <= buf.length)) return false;
  const k = buf[PF_KIND];
  const type = k & 3;
  const ctl = type >= PS_RTX;
  if ((k & 0x80) !== 0) return false;
  if (type === PS_AN && (k & K_NAMED) !== 0) return false;
  if (ctl && (k & K_RESENT) !== 0 && (type === PS_RTX || (k & K_NAMED) === 0)) return false;
  if (type === PS_SC && ((k >>> 3) & 7) !== 0) return false;
  h.type = type;
  h.resent = (k & K_RESENT) !== 0;
  h.idx = (k >>> 3) & 7;
  h.named = (k & K_NAMED) !== 0;
  h.cidAddr = (buf[PF_CID] << 8) | buf[PF_CID + 1];
  h.cidNum = (buf[PF_CID + 2] << 8) | buf[PF_CID + 3];
  h.mask = 0;
  h.n = 0;
  if (type === PS_SC) {
    const n = buf[PF_N];
    if (!(n >= 1 && n <= PS_MAX_PARTICIPANTS)) return false;
    const end = PF_PIDS + 2 * (n - 1);
    if (len < end) return false;
    if (isGroupAddr(h.cidAddr)) return false;
    h.addrs[0] = h.cidAddr;
    for (let i = 1; i < n; i++) {
      const a = (buf[PF_PIDS + 2 * (i - 1)] << 8) | buf[PF_PIDS + 2 * (i - 1) + 1];
      if (isGroupAddr(a)) return false;
      for (let j = 0; j < i; j++) if (h.addrs[j] === a) return false;
      h.addrs[i] = a;
    }
    h.n = n;
    h.seq = h.cidNum;
    h.off = end;
    return true;
  }
  if (len < PF_SEQS) return false;
  h.seq = (buf[PF_SEQ] << 8) | buf[PF_SEQ + 1];
  const m = buf[PF_MASK];
  const end = PF_SEQS + 2 * bits(m);
  if (len < end || (ctl && len !== end)) return false;
  if (type === PS_RTX && !h.named && (h.idx !== 0 || h.seq !== 0)) return false;
  if (type === PS_RS && !h.named && h.seq !== 0) return false;
  let o = PF_SEQS;
  for (let i = 0; i < PS_MAX_PARTICIPANTS; i++) {
    if ((m >>> i) & 1) {
      h.seqs[i] = (buf[o] << 8) | buf[o + 1];
      o += 2;
    }
  }
  h.mask = m;
  h.off = end;
  return true;
}

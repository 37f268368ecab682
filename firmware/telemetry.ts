// Telemetry sender: every periodUs (with random jitter so that stations drift apart) read the
// device's sensors and broadcast one telemetry frame (codec/telemetry.ts) on the link.
// Until a MAC sits under it (issues 3 and 4), it does what non-persistent CSMA does: if the link is
// busy, wait a random backoff and look again, giving up on this reading after maxTries.
// Board code: one frame buffer, one bound timer function, nothing allocated per frame except the
// readings object the caller's read() returns.

import type { Link } from '../hal/link.ts';
import type { Clock, Timer } from '../hal/clock.ts';
import type { Rng } from '../hal/rng.ts';
import { emitTelemetry, TM_HDR } from './codec/telemetry.ts';
import { cborEncode } from './codec/cbor.ts';

export interface TelemetryOptions {
  link: Link;
  clock: Clock;
  rng: Rng;
  /** This device's id (u16). */
  id: number;
  /** Mean time between readings, µs. */
  periodUs: number;
  /** Random spread around the period, µs: each wait is periodUs - jitterUs/2 + [0, jitterUs]. */
  jitterUs: number;
  /** Largest backoff when the medium is busy, µs. */
  backoffUs: number;
  /** Tries per reading before it is skipped. */
  maxTries: number;
  /** Returns this reading's values: a plain object in the CBOR subset. */
  read: () => unknown;
}

export interface TelemetryStats {
  sent: number;
  /** Readings skipped because the medium stayed busy. */
  skipped: number;
  /** Readings that did not fit a frame or were outside the CBOR subset. */
  encodeErrors: number;
  backoffs: number;
}

export interface Telemetry {
  readonly stats: TelemetryStats;
  stop(): void;
}

export function telemetry(o: TelemetryOptions): Telemetry {
  if (o.link.caps.mtu < TM_HDR + 1) throw new Error('telemetry: the link mtu ' + o.link.caps.mtu + ' cannot carry a telemetry frame');
  const buf = new Uint8Array(o.link.caps.mtu);
  const hdr = { src: o.id, seq: 0 };
  const stats: TelemetryStats = { sent: 0, skipped: 0, encodeErrors: 0, backoffs: 0 };
  let len = 0;
  let tries = 0;
  let timer: Timer | null = null;
  let stopped = false;

  function later(us: number, fn: () => void): void {
    if (!stopped) timer = o.clock.at(o.clock.now() + us, fn);
  }

  function waitPeriod(): void {
    later(o.periodUs - (o.jitterUs >> 1) + (o.rng.u32() % (o.jitterUs + 1)), reading);
  }

  function attempt(): void {
    if (o.link.busy() || !o.link.send(buf, len)) {
      if (++tries >= o.maxTries) {
        stats.skipped++;
        waitPeriod();
      } else {
        stats.backoffs++;
        later(1 + (o.rng.u32() % o.backoffUs), attempt);
      }
      return;
    }
    stats.sent++;
    hdr.seq = (hdr.seq + 1) & 0xffff;
    waitPeriod();
  }

  function reading(): void {
    const body = emitTelemetry(hdr, buf);
    const end = cborEncode(o.read(), buf, body);
    if (end < 0) {
      stats.encodeErrors++;
      waitPeriod();
      return;
    }
    len = end;
    tries = 0;
    attempt();
  }

  waitPeriod();
  return {
    stats,
    stop(): void {
      stopped = true; // sticky: also when called from read() or another callback mid-reading
      if (timer !== null) o.clock.cancel(timer);
      timer = null;
    },
  };
}

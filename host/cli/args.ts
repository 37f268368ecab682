// Readers for option values on the `picolink` command line, as commander argument parsers: each
// returns the value or throws InvalidArgumentError saying what to write instead (commander then
// reports the option and the value, and run() exits 2).

import { InvalidArgumentError } from 'commander';
import { parseDuration } from './duration.ts';

/** An integer from min to max, written in decimal. */
export function intArg(min: number, max: number): (s: string) => number {
  return (s: string): number => {
    const v = /^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN;
    if (!(v >= min && v <= max)) throw new InvalidArgumentError(`Write an integer from ${min} to ${max}.`);
    return v;
  };
}

/** A seed for the simulator: any 32-bit unsigned integer. */
export const seedArg = intArg(0, 0xffffffff);

/**
 * A probability written as a fraction ("0.1") or a percentage ("10%"), at most `max` (a fraction).
 * A bare number above 1 is refused rather than guessed at: "10" could mean 10 % or a typo for 0.10.
 */
export function fractionArg(max: number): (s: string) => number {
  const most = `${+max.toFixed(4)} (${+(max * 100).toFixed(2)}%)`;
  return (s: string): number => {
    const t = s.trim();
    const pct = /^(\d+(?:\.\d+)?|\.\d+)\s*%$/.exec(t);
    let v: number;
    if (pct) v = Number(pct[1]) / 100;
    else if (/^(\d+(?:\.\d+)?|\.\d+)$/.test(t)) {
      v = Number(t);
      if (v > 1) throw new InvalidArgumentError(`A bare number is a fraction from 0 to ${most}; for a percentage write it with %, like ${t}%.`);
    } else {
      throw new InvalidArgumentError(`Write a fraction from 0 to ${most}, like 0.1, or a percentage, like 10%.`);
    }
    if (v > max) throw new InvalidArgumentError(`Write at most ${most}.`);
    return v;
  };
}

/** A positive duration ("500ms", "5s", "2m"), in µs. */
export function durationArg(s: string): number {
  let v: number;
  try {
    v = parseDuration(s);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message[0].toUpperCase()}${(e as Error).message.slice(1)}.`);
  }
  if (!(v > 0)) throw new InvalidArgumentError('Write a duration above zero, like 500ms, 5s or 2m.');
  return v;
}

/** Simulated seconds per wall second: a positive number, or "max" (as fast as it runs: Infinity). */
export function speedArg(s: string): number {
  if (s.trim() === 'max') return Infinity;
  const v = /^(\d+(?:\.\d+)?|\.\d+)$/.test(s.trim()) ? Number(s.trim()) : NaN;
  if (!(v > 0)) throw new InvalidArgumentError('Write a positive number of simulated seconds per second, like 1 or 10, or max.');
  return v;
}

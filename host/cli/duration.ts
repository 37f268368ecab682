// Reads durations the way people write them on a command line: 500ms, 5s, 2m, 1h, 250us (bare: seconds).

/** Microseconds in `s`; throws an Error that says how to write it when it cannot read it. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`cannot read "${s}" as a duration: write a number and a unit, like 500ms, 5s or 2m`);
  const unit = { us: 1, µs: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 }[(m[2] ?? 's') as 'us'];
  return Math.round(Number(m[1]) * unit);
}

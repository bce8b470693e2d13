/**
 * Order statistics every bench reports. One rule for all: the value at index ⌊n·p⌋ of the sorted samples
 * (clamped to the last), so the median of an even count is the upper middle — what every bench printed
 * before this harness, kept so that figures stay comparable with earlier runs.
 */

/** The p-quantile (0 ≤ p ≤ 1) of `xs` (unsorted; not modified); NaN when empty. */
export function percentile(xs: ArrayLike<number>, p: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

/** The median (upper middle for an even count); NaN when empty or undefined. */
export function median(xs: ArrayLike<number> | undefined): number {
  return xs === undefined ? NaN : percentile(xs, 0.5);
}

/** Several quantiles of one sample set, sorted once: `percentiles(lat, [0.5, 0.99])`. */
export function percentiles(xs: ArrayLike<number>, ps: readonly number[]): number[] {
  if (xs.length === 0) return ps.map(() => NaN);
  const s = Float64Array.from(xs).sort();
  return ps.map((p) => s[Math.min(s.length - 1, Math.floor(s.length * p))]!);
}

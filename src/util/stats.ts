/** Small statistics: medians over repeats, geometric means over ratios, rotated orders for interleaving. */

export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Geometric mean: the right average of ratios (a 2x and a 0.5x average to 1x). */
export function geomean(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x) && x > 0);
  if (s.length === 0) return NaN;
  return Math.exp(s.reduce((a, x) => a + Math.log(x), 0) / s.length);
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Items rotated left by k: the order in which interleaved engines run changes from one round to the next. */
export function rotate<T>(items: readonly T[], k: number): T[] {
  if (items.length === 0) return [];
  const s = ((k % items.length) + items.length) % items.length;
  return [...items.slice(s), ...items.slice(0, s)];
}

/** Runs of one prompt on one contender that differ by more than this factor are flagged in the report. */
export const NOISY_SPREAD = 1.5;

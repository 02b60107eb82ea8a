/** Pearson's chi-square goodness-of-fit test, for the statistical tests of lossless sampling. */

export interface ChiSquare {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  readonly bins: number;
}

/**
 * Observed counts against expected probabilities (keys = outcomes). Outcomes expected fewer than 5 times
 * are pooled into one bin (the textbook validity condition); an observed outcome with probability 0 makes
 * the statistic infinite (p = 0).
 */
export function chiSquare(observed: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>, n: number): ChiSquare {
  let statistic = 0;
  let bins = 0;
  let pooledObs = 0;
  let pooledExp = 0;
  for (const [key, p] of expected) {
    const e = p * n;
    const o = observed.get(key) ?? 0;
    if (e < 5) {
      pooledObs += o;
      pooledExp += e;
      continue;
    }
    statistic += (o - e) ** 2 / e;
    bins++;
  }
  for (const [key, o] of observed) if (!expected.has(key) && o > 0) return { statistic: Infinity, df: bins, pValue: 0, bins };
  if (pooledExp > 0) {
    statistic += (pooledObs - pooledExp) ** 2 / Math.max(pooledExp, 1e-12);
    bins++;
  }
  const df = Math.max(1, bins - 1);
  return { statistic, df, pValue: gammaQ(df / 2, statistic / 2), bins };
}

/** Regularised upper incomplete gamma Q(a, x) (Numerical Recipes: series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  const lnPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (term < sum * 1e-15) break;
    }
    return 1 - sum * Math.exp(lnPrefix);
  }
  // Lentz's method for the continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(lnPrefix) * h;
}

/** ln Gamma(x), Lanczos approximation (g = 7, 9 terms). */
function lnGamma(x: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = g[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += g[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

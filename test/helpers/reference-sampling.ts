/**
 * An independent f64 reference of the sampling distribution (temperature, top-k, top-p, banned ids), for
 * the statistical tests: written apart from src/decode/sampling.ts's `distribution` (log-sum-exp over
 * the kept set, exact sorting of (probability, id) pairs, the nucleus by a cumulative sum of f64
 * probabilities), so a bug in `distribution` (top-p cut one token early or late, top-k off by one, the
 * banned ids renormalised wrongly) no longer hides in the "exact" side of the test.
 *
 * Semantics (spec/decoding.md): drop banned ids and -inf logits; softmax(logits / T) in f64; keep the k
 * most likely (ties: lower id first); within those, keep the shortest most-likely-first prefix whose
 * probability (renormalised over the top-k set) reaches top-p; renormalise.
 */
export interface ReferenceParams {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
}

/** Map id -> probability. `margin` reports how close the top-p cut came to being ambiguous. */
export function referenceDistribution(logits: ArrayLike<number>, p: ReferenceParams, banned: ReadonlySet<number> = new Set()): { probs: Map<number, number>; margin: number } {
  if (!(p.temperature > 0)) throw new Error("the reference is for sampling (temperature > 0)");
  const live: { id: number; z: number }[] = [];
  for (let id = 0; id < logits.length; id++) {
    const x = logits[id];
    if (!banned.has(id) && x > -Infinity && !Number.isNaN(x)) live.push({ id, z: x / p.temperature });
  }
  // Most likely first; ties by lower id. (Order by z is order by probability.)
  live.sort((a, b) => (b.z !== a.z ? b.z - a.z : a.id - b.id));
  const topK = p.topK > 0 ? live.slice(0, p.topK) : live;
  const logZ = logSumExp(topK.map((e) => e.z));
  const probs = topK.map((e) => Math.exp(e.z - logZ));
  let n = probs.length;
  let margin = Infinity;
  if (p.topP < 1) {
    let cum = 0;
    for (let i = 0; i < probs.length; i++) {
      cum += probs[i];
      margin = Math.min(margin, Math.abs(cum - p.topP));
      if (cum >= p.topP) {
        n = i + 1;
        break;
      }
    }
  }
  const kept = probs.slice(0, n);
  const total = kept.reduce((a, b) => a + b, 0);
  return { probs: new Map(topK.slice(0, n).map((e, i) => [e.id, kept[i] / total])), margin };
}

function logSumExp(zs: number[]): number {
  const m = Math.max(...zs);
  let s = 0;
  for (const z of zs) s += Math.exp(z - m);
  return m + Math.log(s);
}

/**
 * Sampling's order as written (spec/decoding.md): the eligible ids (logit > -inf and >= floor, NaN never,
 * not banned) by a comparator sort, descending logit, ties to the lower id (-0 and +0 are one value).
 * What the radix sorts, TypeScript's and the core's, must give.
 */
export function literalOrder(logits: ArrayLike<number>, floor = -Infinity, banned: (id: number) => boolean = () => false): number[] {
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] > -Infinity && logits[i] >= floor && !banned(i)) ids.push(i);
  return ids.sort((a, b) => logits[b] - logits[a] || a - b);
}

/**
 * From logits to a token: greedy argmax, or sampling with temperature, top-k and top-p.
 *
 * The same `distribution` function turns logits into probabilities for the target (p) and, in later
 * decoders, for the draft (q): temperature, top-k and top-p must be applied identically to both for
 * speculative sampling to be lossless. Probabilities are computed in f64 from the f32 logits.
 */
import { fail } from "../errors.js";
import type { Rng } from "../util/rng.js";

export interface SamplingParams {
  readonly temperature: number; // 0 = greedy
  readonly topK: number; // 0 = off
  readonly topP: number; // 1 = off
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1 };

export function checkSampling(p: SamplingParams): void {
  if (!(Number.isFinite(p.temperature) && p.temperature >= 0 && p.temperature <= 100)) fail("E_ARGS", `temperature must be in [0, 100], got ${p.temperature}`);
  if (!(Number.isInteger(p.topK) && p.topK >= 0)) fail("E_ARGS", `top-k must be a non-negative integer, got ${p.topK}`);
  if (!(Number.isFinite(p.topP) && p.topP > 0 && p.topP <= 1)) fail("E_ARGS", `top-p must be in (0, 1], got ${p.topP}`);
}

/** Tokens no decoder may ever emit (for instance a mask token added to the vocabulary). */
export type Banned = ReadonlySet<number>;

/** Index of the largest logit; ties go to the lowest id. NaN logits never win. */
export function argmax(logits: Float32Array, banned?: Banned): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestValue && !banned?.has(i)) {
      best = i;
      bestValue = v;
    }
  }
  if (best < 0) fail("E_MODEL", "every logit is -inf or NaN");
  return best;
}

/** A sparse probability distribution: ids (descending probability) and their probabilities (sum 1). */
export interface Distribution {
  readonly ids: Int32Array;
  readonly probs: Float64Array;
}

/**
 * softmax(logits / temperature), restricted to the top-k ids, then to the smallest prefix whose mass
 * reaches top-p, renormalised. Ties in the ordering go to the lower id, so the result is deterministic.
 */
export function distribution(logits: Float32Array, p: SamplingParams, banned?: Banned): Distribution {
  if (p.temperature === 0) return { ids: Int32Array.of(argmax(logits, banned)), probs: Float64Array.of(1) };
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (!banned?.has(i) && logits[i] > -Infinity) ids.push(i);
  if (ids.length === 0) fail("E_MODEL", "every logit is -inf or NaN");
  ids.sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = p.topK > 0 ? ids.slice(0, p.topK) : ids;
  const max = logits[kept[0]];
  const weights = kept.map((id) => Math.exp((logits[id] - max) / p.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let n = kept.length;
  if (p.topP < 1) {
    let mass = 0;
    for (let i = 0; i < kept.length; i++) {
      mass += weights[i] / total;
      if (mass >= p.topP) {
        n = i + 1;
        break;
      }
    }
  }
  const sum = weights.slice(0, n).reduce((a, b) => a + b, 0);
  return { ids: Int32Array.from(kept.slice(0, n)), probs: Float64Array.from(weights.slice(0, n), (w) => w / sum) };
}

/** Draws one id from `d` with one uniform number from `rng` (inverse CDF in the listed order). */
export function sample(d: Distribution, rng: Pick<Rng, "next">): number {
  const u = rng.next();
  let cdf = 0;
  for (let i = 0; i < d.ids.length; i++) {
    cdf += d.probs[i];
    if (u < cdf) return d.ids[i];
  }
  return d.ids[d.ids.length - 1];
}

/**
 * Verification, in the paper's notation: pure functions of the candidates and the target's predictions
 * (plus, for sampling, the draft distributions and a random stream). Greedy decoding uses verifyGreedy,
 * sampling uses verifySampled; both emit exactly what AR decoding would (in distribution, for sampling).
 *
 * Greedy: g_i = argmax p(. | prefix, c_1..c_i) for i = 0..k. Accept c_i while c_i == g_{i-1}
 * (i = 1..k); stop at the first mismatch. n = number accepted; the corrected/bonus token is g_n. An
 * accepted end-of-generation token ends the output: nothing follows it, not even a bonus token.
 *
 * Example: c = [5, 7, 9], g = [5, 7, 4, 8] -> n = 2 (5 and 7 accepted, 9 != g_2 = 4), bonus g_2 = 4;
 * the step emits [5, 7, 4].
 */
import type { Rng } from "../util/rng.js";
import { sample, type Distribution } from "./sampling.js";

export interface Verdict {
  readonly accepted: number; // n
  /** Emitted tokens: c_1..c_n, then the bonus g_n unless an accepted token ended generation. */
  readonly emitted: readonly number[];
  readonly ended: boolean; // an emitted token is end-of-generation
}

/** `g(i)` returns g_i; it is called only for the i the rule needs (argmax over V costs). */
export function verifyGreedy(c: ArrayLike<number>, g: (i: number) => number, isEog: (id: number) => boolean): Verdict {
  const emitted: number[] = [];
  let n = 0;
  let gn = g(0);
  while (n < c.length && c[n] === gn) {
    emitted.push(c[n]);
    n++;
    if (isEog(c[n - 1])) return { accepted: n, emitted, ended: true };
    gn = g(n);
  }
  emitted.push(gn); // the corrected/bonus token g_n
  return { accepted: n, emitted, ended: isEog(gn) };
}

/**
 * Speculative sampling (Leviathan et al. 2023; Chen et al. 2023), in the paper's notation:
 *  - p_i: the target's distribution after prefix + c_1..c_i (i = 0..k), from `distribution` with the
 *    run's temperature/top-k/top-p;
 *  - q_i: the draft distribution c_i was drawn from (i = 1..k), built with the SAME parameters; a
 *    deterministic draft (prompt lookup, argmax drafts, injected candidates) has q_i = point mass at c_i.
 *
 * For i = 1..k: draw r ~ U[0, 1); accept c_i if r < p_{i-1}(c_i) / q_i(c_i) (i.e. with probability
 * min(1, p/q)). At the first rejection emit a token drawn from the residual norm(max(0, p_{i-1} - q_i))
 * and stop. If all k are accepted, emit a bonus token drawn from p_k. An accepted end-of-generation
 * token ends the output (no bonus). Each emitted token is then distributed exactly as AR sampling from
 * p would draw it, whatever q is. With k = 0 this is one draw from p_0: plain AR sampling.
 *
 * Example (point-mass draft): c = [5], p_0 = {5: 0.5, 7: 0.3, 9: 0.2}. Accept 5 with probability 0.5;
 * otherwise draw from the residual {7: 0.6, 9: 0.4}. P(5) = 0.5, P(7) = 0.5 * 0.6 = 0.3: exactly p_0.
 *
 * `onReject` is the residual rule; only tests replace it (with the published code's flaw, resampling
 * from p, to show that the statistical test catches it).
 */
export function verifySampled(
  c: ArrayLike<number>,
  p: (i: number) => Distribution,
  q: (i: number) => Distribution | null, // q_i for i = 1..k; null = point mass at c_i
  rng: Pick<Rng, "next">,
  isEog: (id: number) => boolean,
  onReject: (p: Distribution, q: Distribution) => Distribution = residual,
): Verdict {
  const emitted: number[] = [];
  for (let i = 1; i <= c.length; i++) {
    const ci = c[i - 1];
    const pi = p(i - 1);
    const qi = q(i) ?? pointMass(ci);
    const r = rng.next();
    if (r < probOf(pi, ci) / probOf(qi, ci)) {
      emitted.push(ci);
      if (isEog(ci)) return { accepted: i, emitted, ended: true };
      continue;
    }
    const corrected = sample(onReject(pi, qi), rng);
    emitted.push(corrected);
    return { accepted: i - 1, emitted, ended: isEog(corrected) };
  }
  const bonus = sample(p(c.length), rng);
  emitted.push(bonus);
  return { accepted: c.length, emitted, ended: isEog(bonus) };
}

/**
 * norm(max(0, p - q)). Where p <= q everywhere (p = q up to rounding) rejection has probability 0; p then.
 * q(id) comes from a table indexed by id, not from probOf: with top-p 1, p and q each hold the whole
 * vocabulary, and a search per id took SmolLM2's 49k ids 1.6 s per rejection.
 */
export function residual(p: Distribution, q: Distribution): Distribution {
  const qOf = probTable(q);
  const ids = new Int32Array(p.ids.length);
  const mass = new Float64Array(p.ids.length);
  let n = 0;
  let total = 0;
  for (let j = 0; j < p.ids.length; j++) {
    const m = p.probs[j] - qOf(p.ids[j]);
    if (m > 0) {
      ids[n] = p.ids[j];
      mass[n++] = m;
      total += m;
    }
  }
  if (total === 0) return p;
  for (let j = 0; j < n; j++) mass[j] /= total;
  return { ids: ids.slice(0, n), probs: mass.slice(0, n) };
}

export function pointMass(id: number): Distribution {
  return { ids: Int32Array.of(id), probs: Float64Array.of(1) };
}

/** id -> d(id) (0 outside the support) in constant time: probOf for a whole distribution at once. */
function probTable(d: Distribution): (id: number) => number {
  if (d.ids.length <= 8) return (id) => probOf(d, id);
  let top = 0;
  for (let j = 0; j < d.ids.length; j++) top = Math.max(top, d.ids[j]);
  const table = new Float64Array(top + 1);
  for (let j = 0; j < d.ids.length; j++) table[d.ids[j]] = d.probs[j];
  return (id) => (id >= 0 && id <= top ? table[id] : 0);
}

/** d(id); 0 outside the support. */
export function probOf(d: Distribution, id: number): number {
  for (let j = 0; j < d.ids.length; j++) if (d.ids[j] === id) return d.probs[j];
  return 0;
}

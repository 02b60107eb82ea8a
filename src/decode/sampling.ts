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

/**
 * The sweeps over a whole vocabulary that sampling makes. The TypeScript ones below (SAMPLING_IN_TS) are
 * the reference; a context's core (Forward.descendingOrder, logitWeights and logitTotal, wired by
 * generate's samplingKernels) gives the same bits, the sort about 4x faster. Results may be views that
 * the next call overwrites.
 */
export interface SamplingKernels {
  /** The ids whose logit is finite or +inf, at least `floor` and not banned, by descending logit, ties to the lower id. */
  order(logits: Float32Array, banned: Banned | undefined, floor: number): Int32Array;
  /** weights[i] = exp((logits[ids[i]] - max) / temperature) in f64, and their total summed from i = 0 up. */
  weights(logits: Float32Array, ids: Int32Array, max: number, temperature: number): { weights: Float64Array; total: number };
  /** The sum in id order of exp((logit - max) / temperature) over the ids whose logit is in [floor, max]. */
  total(logits: Float32Array, floor: number, max: number, temperature: number): number;
  /** Greedy decoding's pick: argmax below. */
  argmax(logits: Float32Array, banned: Banned | undefined): number;
}

/** The reference sweeps: byDescendingLogit, weighIds, totalInRange and argmax. */
export const SAMPLING_IN_TS: SamplingKernels = { order: byDescendingLogit, weights: weighIds, total: totalInRange, argmax };

function totalInRange(logits: Float32Array, floor: number, max: number, temperature: number): number {
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v >= floor && v <= max) total += Math.exp((v - max) / temperature);
  }
  return total;
}

function weighIds(logits: Float32Array, ids: Int32Array, max: number, temperature: number): { weights: Float64Array; total: number } {
  const weights = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) weights[i] = Math.exp((logits[ids[i]] - max) / temperature);
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  return { weights, total };
}

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
 * `kernels` sort and weigh the ids: the TypeScript reference, or a context's core (the same bits).
 */
export function distribution(logits: Float32Array, p: SamplingParams, banned?: Banned, kernels: SamplingKernels = SAMPLING_IN_TS): Distribution {
  if (p.temperature === 0) return { ids: Int32Array.of(kernels.argmax(logits, banned)), probs: Float64Array.of(1) };
  // Top-k needs only the first k ids of the order, and weighs only those: no sort of the vocabulary.
  if (p.topK > 0 && p.topK <= MAX_SELECTED) return nucleus(logits, p, topIds(logits, p.topK, banned), false, kernels)!;
  if (p.topP < 1 && p.topK === 0) {
    const selected = nucleusBySelection(logits, p, banned, kernels);
    if (selected) return selected;
  }
  if (p.topP < 1) {
    // The ids far below the largest logit only add to the total, and each adds exactly nothing (see
    // NEGLIGIBLE_WEIGHT): sort only the others, unless top-p needs more than they hold.
    const head = nucleus(logits, p, kernels.order(logits, banned, floorOf(logits, p.temperature, banned)), true, kernels);
    if (head) return head;
  }
  return nucleus(logits, p, kernels.order(logits, banned, -Infinity), false, kernels)!;
}

/**
 * A weight exp((logit - max) / temperature) below e^-38 (< 2^-54) changes nothing when added to a sum of
 * at least 1 (half its unit in the last place is 2^-53), and the total, summed in descending order,
 * starts with the largest logit's weight, exactly 1. So leaving those ids out of the total is exact.
 */
const NEGLIGIBLE_WEIGHT = -38;

/** The logit below which an id's weight is negligible; -Infinity when there is no finite largest logit. */
function floorOf(logits: Float32Array, temperature: number, banned?: Banned): number {
  const max = largestLogit(logits, banned);
  return Number.isFinite(max) ? max + NEGLIGIBLE_WEIGHT * temperature : -Infinity;
}

/** The largest logit of an id not banned (-Infinity when there is none; NaN never counts). */
function largestLogit(logits: Float32Array, banned?: Banned): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max && !banned?.has(i)) max = logits[i];
  return max;
}

/**
 * Top-k, then top-p over `ids` (descending logit). When the mass never reaches top-p (rounding, top-p
 * within an ulp of 1), every kept id stays; but if `ids` are only a head of them (distribution's fast
 * path), null: the rest would have to stay too.
 */
function nucleus(logits: Float32Array, p: SamplingParams, ids: Int32Array, head: boolean, kernels: SamplingKernels): Distribution | null {
  if (ids.length === 0) fail("E_MODEL", "every logit is -inf or NaN");
  const kept = p.topK > 0 ? ids.subarray(0, p.topK) : ids;
  const max = logits[kept[0]];
  const { weights, total } = kernels.weights(logits, kept, max, p.temperature);
  let n = kept.length;
  if (p.topP < 1) {
    let mass = 0;
    n = -1;
    for (let i = 0; i < kept.length; i++) {
      mass += weights[i] / total;
      if (mass >= p.topP) {
        n = i + 1;
        break;
      }
    }
    if (n < 0) {
      if (head) return null;
      n = kept.length;
    }
  }
  // Every id kept: the nucleus's sum is the total (the same additions in the same order).
  let sum = total;
  if (n < kept.length) {
    sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i];
  }
  const probs = new Float64Array(n);
  for (let i = 0; i < n; i++) probs[i] = weights[i] / sum;
  return { ids: kept.slice(0, n), probs };
}

/**
 * The nucleus without sorting the vocabulary (top-p, no top-k), or null where only the sort can tell.
 * Sorting 49k ids and summing their weights in that order took ~3.5 ms a row on SmolLM2's logits, as
 * long as a whole forward pass on 2 cores: sampled decoding spent a third of its time there, and SPACE
 * more (a distribution per verify row and per mask of the selected group).
 *
 * The rule sums the total in descending order, and only to find the cut: the first n whose mass reaches
 * top-p. The probabilities themselves divide by the nucleus's own sum. So the total is summed here in id
 * order instead: the two sums differ by at most ~n x 2^-53 of the total (about 1e-11 for 49k ids), and
 * a cut whose masses come within CUT_MARGIN of top-p gives up (null). Where no mass is that close, the
 * cut is the rule's. The nucleus's ids are the top ones, so only the ids within a few temperatures of
 * the largest logit are gathered and sorted (ties to the lower id), deeper only while they do not reach
 * top-p; then the weights, their sum over the nucleus and the probabilities are the rule's operations in
 * its order: the same bits. Exported for its tests.
 */
export function nucleusBySelection(logits: Float32Array, p: SamplingParams, banned?: Banned, kernels: SamplingKernels = SAMPLING_IN_TS): Distribution | null {
  const max = largestLogit(logits, banned);
  if (!Number.isFinite(max)) return null; // no eligible id, or +inf: the sorting road says what happens
  const T = p.temperature;
  const floor = max + NEGLIGIBLE_WEIGHT * T;
  // The total: every id in [floor, max], then the banned ones taken out (each weight at most 1, the total
  // at least 1: no cancellation beyond an ulp or two), so that no id costs a set lookup.
  let total = kernels.total(logits, floor, max, T);
  for (const id of banned ?? []) {
    const v = id >= 0 && id < logits.length ? logits[id] : NaN;
    if (v >= floor && v <= max) total -= Math.exp((v - max) / T);
  }
  for (const depth of SELECTION_DEPTHS) {
    const cut = Math.max(floor, max - depth * T);
    const ids: number[] = [];
    for (let i = 0; i < logits.length; i++) {
      if (!(logits[i] >= cut) || banned?.has(i)) continue;
      if (ids.length === MAX_SELECTED) return null;
      ids.push(i);
    }
    ids.sort((a, b) => logits[b] - logits[a] || a - b);
    const weights = ids.map((id) => Math.exp((logits[id] - max) / T));
    if (weights.reduce((a, w) => a + w, 0) / total < p.topP + CUT_MARGIN) {
      if (cut > floor) continue; // not enough mass up here: deeper
      return null;
    }
    let before = 0; // the mass of the ids before i, as the rule adds it
    for (let i = 0; i < ids.length; i++) {
      const after = before + weights[i] / total;
      if (after >= p.topP) {
        if (after < p.topP + CUT_MARGIN || before > p.topP - CUT_MARGIN) return null; // too close to call
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += weights[j];
        const probs = new Float64Array(i + 1);
        for (let j = 0; j <= i; j++) probs[j] = weights[j] / sum;
        return { ids: Int32Array.from(ids.slice(0, i + 1)), probs };
      }
      before = after;
    }
    return null;
  }
  return null;
}

/** nucleusBySelection: how far below the largest logit it gathers, in temperatures, one depth after another. */
const SELECTION_DEPTHS = [4, 10, -NEGLIGIBLE_WEIGHT];
/** nucleusBySelection gives up past this many gathered ids (a flat distribution: the sort is as cheap). */
const MAX_SELECTED = 4096;
/** A mass this close to top-p may fall on either side of it with the rule's total: the sort decides. */
const CUT_MARGIN = 1e-9;

/** Radix sort digits: 11 bits, so three stable passes sort a 32-bit key. */
const DIGIT_BITS = 11;

/**
 * The ids whose logit is finite or +inf (not -inf, not NaN), at least `floor` and not banned, by
 * descending logit, ties to the lower id (-0 ties with +0): the order of a comparator sort, from a stable
 * LSD radix sort of 32-bit keys (the logit's rank among f32 values, descending) over the ids in
 * increasing order, about 10x faster than a comparator sort of SmolLM2's 49k ids.
 */
function byDescendingLogit(logits: Float32Array, banned?: Banned, floor = -Infinity): Int32Array {
  return radixOrder(eligibleKeys(logits, banned, floor));
}

/** Eligible ids (byDescendingLogit's) in increasing order and their keys: ascending keys = descending logits. */
interface Keyed {
  readonly keys: Uint32Array;
  readonly ids: Int32Array;
  readonly n: number;
}

function eligibleKeys(logits: Float32Array, banned?: Banned, floor = -Infinity): Keyed {
  const bits = new Uint32Array(logits.buffer, logits.byteOffset, logits.length); // the logits' own f32 bits
  const keys = new Uint32Array(logits.length), ids = new Int32Array(logits.length);
  let n = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (!(v > -Infinity && v >= floor) || banned?.has(i)) continue;
    // f32 bits -> an unsigned rank that grows with the value (negative values: all bits flipped; -0 is
    // +0); the key is its complement, so that ascending keys are descending logits.
    const b = v === 0 ? 0 : bits[i];
    keys[n] = b & 0x80000000 ? b : ~(b | 0x80000000) >>> 0;
    ids[n++] = i;
  }
  return { keys, ids, n };
}

/** The ids by ascending key, ties in their given (increasing) order: a stable LSD radix sort. */
function radixOrder(e: Keyed): Int32Array {
  const n = e.n;
  let keys: Uint32Array = e.keys.subarray(0, n), ids: Int32Array = e.ids.subarray(0, n);
  let keysOut: Uint32Array = new Uint32Array(n), idsOut: Int32Array = new Int32Array(n);
  const start = new Uint32Array(1 << DIGIT_BITS);
  for (let shift = 0; shift < 32; shift += DIGIT_BITS) {
    start.fill(0);
    for (let j = 0; j < n; j++) start[(keys[j] >>> shift) & ((1 << DIGIT_BITS) - 1)]++;
    for (let d = 0, sum = 0; d < start.length; d++) {
      const c = start[d];
      start[d] = sum;
      sum += c;
    }
    for (let j = 0; j < n; j++) {
      const at = start[(keys[j] >>> shift) & ((1 << DIGIT_BITS) - 1)]++;
      keysOut[at] = keys[j];
      idsOut[at] = ids[j];
    }
    [keys, keysOut] = [keysOut, keys];
    [ids, idsOut] = [idsOut, ids];
  }
  return ids;
}

/**
 * The first k ids of byDescendingLogit's order without sorting them all: a histogram of the keys' high
 * 16 bits finds the bucket that holds the k-th id; the ids of that bucket and those above it (on a
 * model's row a few dozen more than k) are sorted by key, then id. About 1.3 ms -> 0.54 ms a row on
 * SmolLM2's 49k logits at top-k 40.
 */
function topIds(logits: Float32Array, k: number, banned?: Banned): Int32Array {
  const e = eligibleKeys(logits, banned);
  if (e.n <= k) return radixOrder(e);
  const count = new Uint32Array(1 << 16);
  for (let j = 0; j < e.n; j++) count[e.keys[j] >>> 16]++;
  let bucket = 0;
  for (let below = 0; below + count[bucket] < k; bucket++) below += count[bucket];
  const picked: number[] = [];
  for (let j = 0; j < e.n; j++) if (e.keys[j] >>> 16 <= bucket) picked.push(j);
  if (picked.length > MAX_SELECTED) return radixOrder(e).subarray(0, k); // a flat row
  picked.sort((a, b) => e.keys[a] - e.keys[b] || a - b); // j ascending = id ascending
  return Int32Array.from(picked.slice(0, k), (j) => e.ids[j]);
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

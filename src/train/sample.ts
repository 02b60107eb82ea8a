/**
 * A training sample: one block of T rows with explicit positions and an explicit attention mask over the
 * block's own rows, and per-row labels. This is the forward's `Block` (spec/model.md) without a KV cache,
 * plus what to learn: exactly what SAR data needs (mask groups that see only the prefix before their cut
 * point, positions continuing from it).
 *
 * Labels are already shifted: labels[t] is the token row t must predict (for ordinary text, the next
 * token), -1 where row t is not trained on.
 */
import { fail } from "../errors.js";

export interface TrainSample {
  readonly tokens: Int32Array; // [T]
  readonly positions: Int32Array; // [T], RoPE positions
  readonly mask: Uint8Array; // [T, T], mask[t * T + j] = 1 when row t may attend to row j
  readonly labels: Int32Array; // [T], the target token of row t, or -1 (unlabelled)
  /** [T] loss weight of each labelled row; default 1 (the paper's unit weights). */
  readonly weights?: Float32Array;
}

/** Checks shapes and ranges; returns T. */
export function checkSample(s: TrainSample, vocabSize: number, maxT: number): number {
  const T = s.tokens.length;
  if (T === 0) fail("E_ARGS", "training sample: empty");
  if (T > maxT) fail("E_CONTEXT", `training sample of ${T} rows exceeds the trainer's maxT of ${maxT}`);
  if (s.positions.length !== T) fail("E_ARGS", `training sample: ${s.positions.length} positions for ${T} tokens`);
  if (s.labels.length !== T) fail("E_ARGS", `training sample: ${s.labels.length} labels for ${T} tokens`);
  if (s.mask.length !== T * T) fail("E_ARGS", `training sample: mask of ${s.mask.length} entries, expected ${T}x${T}`);
  if (s.weights && s.weights.length !== T) fail("E_ARGS", `training sample: ${s.weights.length} weights for ${T} tokens`);
  for (let t = 0; t < T; t++) {
    const id = s.tokens[t], y = s.labels[t];
    if (!(id >= 0 && id < vocabSize)) fail("E_ARGS", `training sample: token id ${id} at row ${t} outside the vocabulary [0, ${vocabSize})`);
    if (!(y === -1 || (y >= 0 && y < vocabSize))) fail("E_ARGS", `training sample: label ${y} at row ${t} is neither -1 nor a token id`);
    if (s.weights && !(Number.isFinite(s.weights[t]) && s.weights[t] >= 0)) fail("E_ARGS", `training sample: weight ${s.weights[t]} at row ${t}`);
  }
  return T;
}

/** Weight of row t: 0 when unlabelled. */
export function rowWeight(s: TrainSample, t: number): number {
  if (s.labels[t] < 0) return 0;
  return s.weights ? s.weights[t] : 1;
}

/** The sample's total loss weight (labelled rows count 1 each with unit weights). */
export function sampleWeight(s: TrainSample): number {
  let w = 0;
  for (let t = 0; t < s.tokens.length; t++) w += Math.fround(rowWeight(s, t));
  return w;
}

/** A causal mask [T, T]: row t sees rows 0..t. */
export function causalMask(T: number): Uint8Array {
  const m = new Uint8Array(T * T);
  for (let t = 0; t < T; t++) m.fill(1, t * T, t * T + t + 1);
  return m;
}

/**
 * Ordinary next-token prediction on `tokens`: positions 0..T-1, causal mask, labels[t] = tokens[t + 1]
 * for t >= firstLabelled (default 0; a prompt of length P trains only the response with P - 1), and -1
 * on the last row.
 */
export function causalSample(tokens: ArrayLike<number>, firstLabelled = 0): TrainSample {
  const T = tokens.length;
  const labels = new Int32Array(T).fill(-1);
  for (let t = Math.max(0, firstLabelled); t + 1 < T; t++) labels[t] = tokens[t + 1];
  return {
    tokens: Int32Array.from(tokens),
    positions: Int32Array.from({ length: T }, (_, i) => i),
    mask: causalMask(T),
    labels,
  };
}

/**
 * Several samples as one block: rows concatenated, the mask block-diagonal (no sample sees another),
 * positions, labels and weights kept. Gradients of the packed block equal those of the samples one by
 * one in the same order, bit for bit (spec/training.md, "Invariance").
 */
export function packSamples(samples: readonly TrainSample[]): TrainSample {
  const T = samples.reduce((n, s) => n + s.tokens.length, 0);
  const tokens = new Int32Array(T), positions = new Int32Array(T), labels = new Int32Array(T);
  const mask = new Uint8Array(T * T);
  const anyWeights = samples.some((s) => s.weights);
  const weights = anyWeights ? new Float32Array(T) : undefined;
  let o = 0;
  for (const s of samples) {
    const n = s.tokens.length;
    tokens.set(s.tokens, o);
    positions.set(s.positions, o);
    labels.set(s.labels, o);
    if (weights) weights.set(s.weights ?? new Float32Array(n).fill(1), o);
    for (let t = 0; t < n; t++) mask.set(s.mask.subarray(t * n, (t + 1) * n), (o + t) * T + o);
    o += n;
  }
  return weights ? { tokens, positions, mask, labels, weights } : { tokens, positions, mask, labels };
}

/**
 * SAR-SFT data (semi-autoregressive supervised fine-tuning, SPACE paper section 3.1): training samples that
 * teach mask j of a mask group to predict the token j + 1 places after the last real token before it, so
 * that the decoder's mask groups propose the tokens that follow the bonus token. Worked example and
 * the exact rules: spec/sar.md.
 *
 * Notation: prompt X (|X| >= 1 tokens), response Y = y_1..y_N, k masks per group, [M] the mask token
 * (`maskId`: a vocabulary id in `full` mode; in base-preserving mode any id, the adapter replaces the
 * rows listed in `maskRows`). A cut s keeps X + y_1..y_s before a mask group; s is in [0, N - k - 1] so
 * that every mask has a target.
 *
 * Two recipes:
 *  - `paperSample` (the paper's): X + y_1..y_s + [M]*(k+1), causal, consecutive positions; the kept prefix
 *    has ordinary next-token labels, mask j predicts y_{s+1+j}, the (k+1)-th mask is unlabelled. The rest
 *    of the response is dropped. `drawPaper` flips the per-sample coin (p_ar: stay an ordinary SFT sample)
 *    and draws the cut.
 *  - `appendedSample` (the sample-efficient variant of the authors' code, BiTA-style): the whole X + Y with
 *    ordinary labels, then one group of k masks per cut s, each group seeing only X + y_1..y_s and its own
 *    earlier rows, with positions continuing from the cut (|X| + s, ...). `drawAppended` draws the cuts.
 *
 * In both, a row's position is the number of keys it sees minus one: exactly the view the decoder gives a
 * mask group (spec/space.md), so a mask row's logits are bit-identical to the decoder's for the same
 * prefix (test/train.sar.test.ts).
 */
import { fail } from "../errors.js";
import type { TrainSample } from "./sample.js";

/** One prompt / response pair (token ids; the response usually ends with the end-of-turn token). */
export interface SftExample {
  readonly prompt: ArrayLike<number>;
  readonly response: ArrayLike<number>;
}

export interface SarSample extends TrainSample {
  /** Rows holding [M] (increasing): where an adapter substitutes the mask embedding. */
  readonly maskRows: Int32Array;
  /** The cut of each mask group, in row order (empty for an ordinary SFT sample). */
  readonly cuts: readonly number[];
}

/** Where draws come from: the trainer's Rng (xoshiro128**), or any scripted source in tests. */
export interface RandomSource {
  next(): number; // uniform in [0, 1)
}

export interface SarShape {
  readonly k: number; // masks per group (the decoder's candidates per step)
  readonly maskId: number; // token id written at mask rows
}

function checkExample(ex: SftExample, k: number): void {
  if (!(Number.isInteger(k) && k >= 1)) fail("E_ARGS", `SAR data: k must be a positive integer, got ${k}`);
  if (ex.prompt.length < 1) fail("E_ARGS", "SAR data: the prompt must have at least one token (its last row predicts y_1)");
  if (ex.response.length < 1) fail("E_ARGS", "SAR data: empty response");
}

/** Largest cut with a target for every mask: N - k - 1 (negative when the response is too short). */
export function maxCut(ex: SftExample, k: number): number {
  return ex.response.length - k - 1;
}

function checkCut(ex: SftExample, k: number, s: number): void {
  if (!(Number.isInteger(s) && s >= 0 && s <= maxCut(ex, k))) {
    fail("E_ARGS", `SAR data: cut ${s} outside [0, ${maxCut(ex, k)}] (response of ${ex.response.length} tokens, k = ${k})`);
  }
}

/**
 * The rows of X + Y[0, n) with ordinary SFT labels: positions 0.., causal within these rows, row t
 * labelled with token t + 1 from the last prompt row on, the last row labelled `lastLabel`.
 */
function prefixRows(ex: SftExample, n: number, T: number, lastLabel: number) {
  const P = ex.prompt.length, L = P + n;
  const tokens = new Int32Array(T), positions = new Int32Array(T), labels = new Int32Array(T).fill(-1);
  const mask = new Uint8Array(T * T);
  const tok = (i: number) => (i < P ? ex.prompt[i] : ex.response[i - P]);
  for (let t = 0; t < L; t++) {
    tokens[t] = tok(t);
    positions[t] = t;
    mask.fill(1, t * T, t * T + t + 1);
    if (t >= P - 1 && t + 1 < L) labels[t] = tok(t + 1);
  }
  labels[L - 1] = lastLabel;
  return { tokens, positions, labels, mask, L };
}

/** An ordinary SFT sample: X + Y, labels on the response (row t predicts token t + 1 from the last prompt row). */
export function sftSample(ex: SftExample): SarSample {
  checkExample(ex, 1);
  const T = ex.prompt.length + ex.response.length;
  const r = prefixRows(ex, ex.response.length, T, -1);
  return { tokens: r.tokens, positions: r.positions, mask: r.mask, labels: r.labels, maskRows: new Int32Array(0), cuts: [] };
}

/**
 * The paper's SAR sample for cut s: X + y_1..y_s + [M]*(k+1). Rows: the prefix (ordinary labels; its last
 * row predicts y_{s+1}), then mask j = 1..k+1 at position |X| + s + j - 1 predicting y_{s+1+j} (j <= k) or
 * nothing (j = k + 1). Causal attention.
 */
export function paperSample(ex: SftExample, shape: SarShape, s: number): SarSample {
  const { k, maskId } = shape;
  checkExample(ex, k);
  checkCut(ex, k, s);
  const y = (i: number) => ex.response[i - 1]; // y_i, 1-based
  const T = ex.prompt.length + s + k + 1;
  const r = prefixRows(ex, s, T, y(s + 1));
  const maskRows = new Int32Array(k + 1);
  for (let j = 1; j <= k + 1; j++) {
    const t = r.L + j - 1;
    r.tokens[t] = maskId;
    r.positions[t] = t;
    r.mask.fill(1, t * T, t * T + t + 1);
    r.labels[t] = j <= k ? y(s + 1 + j) : -1;
    maskRows[j - 1] = t;
  }
  return { tokens: r.tokens, positions: r.positions, mask: r.mask, labels: r.labels, maskRows, cuts: [s] };
}

/**
 * The appended-groups sample: X + Y with ordinary labels (rows 0 .. |X|+N-1), then for each cut s (in the
 * order given) a group of k masks: mask j = 1..k at position |X| + s + j - 1, seeing rows 0 .. |X|+s-1 and
 * the group's masks 1..j, predicting y_{s+1+j}.
 */
export function appendedSample(ex: SftExample, shape: SarShape, cuts: readonly number[]): SarSample {
  const { k, maskId } = shape;
  checkExample(ex, k);
  for (const s of cuts) checkCut(ex, k, s);
  const P = ex.prompt.length, N = ex.response.length;
  const y = (i: number) => ex.response[i - 1];
  const T = P + N + k * cuts.length;
  const r = prefixRows(ex, N, T, -1);
  const maskRows = new Int32Array(k * cuts.length);
  cuts.forEach((s, g) => {
    const g0 = r.L + g * k; // the group's first row
    for (let j = 1; j <= k; j++) {
      const t = g0 + j - 1;
      r.tokens[t] = maskId;
      r.positions[t] = P + s + j - 1;
      r.mask.fill(1, t * T, t * T + P + s); // the prefix before the cut
      r.mask.fill(1, t * T + g0, t * T + t + 1); // the group's masks 1..j
      r.labels[t] = y(s + 1 + j);
      maskRows[g * k + j - 1] = t;
    }
  });
  return { tokens: r.tokens, positions: r.positions, mask: r.mask, labels: r.labels, maskRows, cuts: [...cuts] };
}

/**
 * The paper's per-sample draw: u = rng.next(); if u < pAr, or the response is too short for a group
 * (N <= k), an ordinary SFT sample; else s = floor(rng.next() * (N - k)) and paperSample(s).
 */
export function drawPaper(ex: SftExample, shape: SarShape & { readonly pAr: number }, rng: RandomSource): SarSample {
  if (!(shape.pAr >= 0 && shape.pAr <= 1)) fail("E_ARGS", `SAR data: p_ar must be in [0, 1], got ${shape.pAr}`);
  const u = rng.next();
  const room = maxCut(ex, shape.k) + 1; // number of possible cuts
  if (u < shape.pAr || room <= 0) return sftSample(ex);
  return paperSample(ex, shape, Math.floor(rng.next() * room));
}

/**
 * The appended variant's draw: G = min(groups, N - k) distinct cuts from [0, N - k - 1] by a partial
 * Fisher-Yates shuffle of 0..N-k-1 (for i < G: j = i + floor(rng.next() * (N - k - i)), swap), sorted
 * increasing. G = 0 gives an ordinary SFT sample.
 */
export function drawAppended(ex: SftExample, shape: SarShape & { readonly groups: number }, rng: RandomSource): SarSample {
  if (!(Number.isInteger(shape.groups) && shape.groups >= 0)) fail("E_ARGS", `SAR data: groups must be a non-negative integer, got ${shape.groups}`);
  const room = Math.max(0, maxCut(ex, shape.k) + 1);
  const G = Math.min(shape.groups, room);
  const pool = Array.from({ length: room }, (_, i) => i);
  for (let i = 0; i < G; i++) {
    const j = i + Math.floor(rng.next() * (room - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return appendedSample(ex, shape, pool.slice(0, G).sort((a, b) => a - b));
}

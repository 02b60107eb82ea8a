/**
 * Prompt-lookup decoding (Saxena 2023): the candidates are copied from the text so far. Find the most
 * recent earlier occurrence of the last n tokens of prompt + output (n = maxNgram down to minNgram) and
 * propose the up to k tokens that followed it. No model runs for the draft; the block is a causal chain
 * [pending] c_1..c_m, verified like any other (a deterministic draft: q = point mass).
 *
 * Example: history [a b c d a b], n = 2: the last bigram "a b" occurred at 0, followed by "c d a b", so
 * with k = 3 the candidates are [c, d, a]; with k = 5, [c, d, a, b, c] (the copy continues into itself).
 */
import { fail } from "../errors.js";
import { chainBlock, range } from "./block.js";
import type { Proposer, StepContext, StepPlan } from "./proposer.js";

export interface LookupOptions {
  readonly k: number; // most candidates per step
  readonly maxNgram?: number; // default 3
  readonly minNgram?: number; // default 1
}

export class LookupProposer implements Proposer {
  readonly name = "lookup";
  readonly maxExtraRows: number;
  readonly k: number;
  private readonly maxNgram: number;
  private readonly minNgram: number;

  constructor(opts: LookupOptions) {
    const { k, maxNgram = 3, minNgram = 1 } = opts;
    if (!(Number.isInteger(k) && k >= 1 && k <= 64)) fail("E_ARGS", `lookup k must be an integer in [1, 64], got ${k}`);
    if (!(Number.isInteger(minNgram) && minNgram >= 1 && Number.isInteger(maxNgram) && maxNgram >= minNgram)) {
      fail("E_ARGS", `lookup n-gram sizes must satisfy 1 <= min <= max, got min ${minNgram}, max ${maxNgram}`);
    }
    this.k = k;
    this.maxExtraRows = k;
    this.maxNgram = maxNgram;
    this.minNgram = minNgram;
  }

  reset(): void {}

  plan(ctx: StepContext): StepPlan {
    const found = lookupCandidates(ctx.history, this.k, this.maxNgram, this.minNgram);
    const cut = found.findIndex((id) => ctx.banned?.has(id) ?? false); // a banned token can never be accepted
    const c = cut < 0 ? found : found.slice(0, cut);
    const P = ctx.pending.length;
    return {
      block: chainBlock(ctx.cached, [...ctx.pending, ...c], range(P - 1, P + c.length)),
      candidates: Int32Array.from(c),
      verifyRows: range(0, c.length + 1),
      keepRows: (n) => range(0, P + n),
    };
  }

  observe(): null {
    return null;
  }
}

/**
 * Up to k tokens that followed the most recent earlier occurrence of the longest matching tail n-gram.
 * The copy may run past the end of the history into the tokens it is itself proposing (as in LZ77), so
 * a repeating tail such as [x y x y] proposes [x y x ...] rather than stopping at the history's end.
 */
export function lookupCandidates(history: readonly number[], k: number, maxNgram: number, minNgram: number): number[] {
  return lookupMatch(history, k, maxNgram, minNgram).tokens;
}

/**
 * lookupCandidates with the length n of the tail n-gram that matched (0 and no tokens when none did):
 * a longer match is a better predictor, so the cost model keeps acceptance per n (costmodel.ts).
 */
export function lookupMatch(history: readonly number[], k: number, maxNgram: number, minNgram: number): { tokens: number[]; n: number } {
  const H = history.length;
  for (let n = Math.min(maxNgram, H - 1); n >= minNgram; n--) {
    // Match start s < H - n (an earlier occurrence), most recent first.
    for (let s = H - n - 1; s >= 0; s--) {
      let j = 0;
      while (j < n && history[s + j] === history[H - n + j]) j++;
      if (j !== n) continue;
      const out: number[] = [];
      for (let i = 0; i < k; i++) {
        const from = s + n + i; // < H + i always, since s + n < H
        out.push(from < H ? history[from] : out[from - H]);
      }
      return { tokens: out, n };
    }
  }
  return { tokens: [], n: 0 };
}

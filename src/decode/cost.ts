/**
 * The verification-width curve cost(T): wall time of ONE forward pass over a block of T new tokens after
 * a committed prefix, with logits for all T rows (what a SPACE step asks for: every candidate and mask
 * row is verified or drafted from). cost(T)/cost(1) is what decides SPACE's layout on a CPU: a step that
 * emits tau tokens in a block of T rows beats AR only if tau > cost(T)/cost(1).
 *
 * The block is a causal chain (chainBlock) after the prefix; it is never committed, so every pass sees the
 * same prefix. Block sizes are interleaved round by round (rotated order), so drift hits every T alike.
 */
import type { Engine } from "../engine.js";
import { chainBlock, range } from "./block.js";
import { PREFILL_CHUNK } from "../model/forward.js";
import { median, rotate } from "../util/stats.js";

export const COST_WIDTHS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

export interface CostPoint {
  readonly T: number;
  readonly median_ms: number;
  /** cost(T) / cost(1). */
  readonly ratio: number;
  /** Timed passes (warm-up rounds excluded), in ms. */
  readonly runs_ms: number[];
}

export interface CostOptions {
  readonly prefix: number; // committed tokens before the block
  readonly widths?: readonly number[];
  readonly warmup: number; // rounds over every width, not timed
  readonly repeats: number; // timed rounds
  readonly onPass?: (T: number) => void; // progress
}

/** `tokens`: at least prefix + max(widths) ids (values do not matter for the cost). */
export function costCurve(engine: Engine, tokens: readonly number[], opts: CostOptions): CostPoint[] {
  const widths = opts.widths ?? COST_WIDTHS;
  const maxT = Math.max(...widths);
  if (tokens.length < opts.prefix + maxT) throw new Error(`cost curve: need ${opts.prefix + maxT} tokens, got ${tokens.length}`);
  const ctx = engine.newContext(opts.prefix + maxT, maxT);
  try {
    const { forward, cache, ws } = ctx;
    for (let at = 0; at < opts.prefix; at += PREFILL_CHUNK) {
      const chunk = tokens.slice(at, Math.min(opts.prefix, at + PREFILL_CHUNK));
      forward.run(cache, ws, chainBlock(cache.length, chunk, []));
      cache.commit(range(0, chunk.length));
    }
    const C = cache.length;
    const blocks = new Map(widths.map((T) => [T, chainBlock(C, tokens.slice(C, C + T), range(0, T))] as const));
    const runs = new Map<number, number[]>(widths.map((T) => [T, []]));
    for (let round = 0; round < opts.warmup + opts.repeats; round++) {
      for (const T of rotate(widths, round)) {
        const block = blocks.get(T)!;
        const t0 = performance.now();
        forward.run(cache, ws, block); // writes rows C..C+T-1, never committed
        const ms = performance.now() - t0;
        if (round >= opts.warmup) runs.get(T)!.push(ms);
        opts.onPass?.(T);
      }
    }
    const base = runs.has(1) ? median(runs.get(1)!) : NaN;
    return widths.map((T) => {
      const m = median(runs.get(T)!);
      return { T, median_ms: m, ratio: m / base, runs_ms: runs.get(T)! };
    });
  } finally {
    ctx.dispose();
  }
}

/**
 * AR against SPACE on the same prompt, same engine, same run: the output of both, tau, and the measured
 * speedup (decode tokens per second, SPACE / AR). Used by `space demo`, the embedded model's test and
 * scripts/train-embedded.ts.
 */
import type { Engine } from "../engine.js";
import { generate, type GenerateResult } from "./generate.js";
import { ArProposer } from "./proposer.js";
import { SpaceProposer, FULL_LAYOUT, type SpaceAuto, type SpaceLayout } from "./space.js";

export interface Comparison {
  readonly ar: GenerateResult;
  readonly space: GenerateResult;
  readonly identical: boolean; // same tokens
  readonly tau: number; // SPACE tokens per forward pass
  readonly arMs: number; // wall time of the whole generation (prefill included)
  readonly spaceMs: number;
}

export interface CompareOptions {
  readonly k: number;
  readonly maskToken: number;
  readonly maxTokens: number;
  readonly layout?: SpaceLayout;
  /** Per-step k and layout (the cost model); kept across calls, so its acceptance estimate runs on. */
  readonly auto?: SpaceAuto;
}

/** Greedy AR, then greedy SPACE, on `prompt` (token ids); the mask is banned in both. */
export async function compareArSpace(engine: Engine, prompt: readonly number[], o: CompareOptions): Promise<Comparison> {
  const banned = new Set([o.maskToken]);
  const contextTokens = Math.min(engine.config.contextLength, prompt.length + o.maxTokens);
  const space = new SpaceProposer({ k: o.k, mask: { token: o.maskToken }, layout: o.layout ?? FULL_LAYOUT, vocabSize: engine.config.vocabSize, auto: o.auto });
  const run = async (p: ArProposer | SpaceProposer) => {
    const ctx = engine.newContext(contextTokens, p.maxExtraRows);
    try {
      const t0 = performance.now();
      const r = await generate(ctx, prompt, p, { maxTokens: o.maxTokens, banned });
      return { r, ms: performance.now() - t0 };
    } finally {
      ctx.dispose();
    }
  };
  const ar = await run(new ArProposer());
  const sp = await run(space);
  const identical = ar.r.tokens.length === sp.r.tokens.length && ar.r.tokens.every((t, i) => t === sp.r.tokens[i]);
  return { ar: ar.r, space: sp.r, identical, tau: sp.r.stats.tokens_per_forward, arMs: ar.ms, spaceMs: sp.ms };
}

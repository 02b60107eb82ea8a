/**
 * Glossary (used the same way in code, spec, CLI output and traces):
 *  - step: one forward pass of the target model.
 *  - candidates c_1..c_k: draft tokens proposed for verification in a step.
 *  - accepted: the candidates, in order, that equal what AR decoding would emit at that point.
 *  - corrected / bonus token: the target's own next token after the accepted run (it corrects the first
 *    rejected candidate, or is a free extra token when all k were accepted). Every step emits one.
 *  - tau: tokens emitted per step (AR has tau = 1).
 *
 * A Proposer decides what goes in each step's block besides the tokens that must be run (the prompt at
 * the first step, then the last bonus token) and where the next candidates come from. The generate loop
 * (generate.ts) and the verifier (verify.ts) are shared by every decoder.
 */
import type { Block } from "../model/forward.js";
import { chainBlock, range } from "./block.js";

export interface StepPlan {
  readonly block: Block;
  /** c_1..c_k, verified in this step. */
  readonly candidates: Int32Array;
  /**
   * Index into block.logitRows of the row whose logits give g_i, the target's prediction after
   * pending + c_1..c_i, for i = 0..k.
   */
  readonly verifyRows: Int32Array; // [k + 1]
  /** Block rows to keep in the KV cache when n candidates were accepted. */
  keepRows(n: number): Int32Array;
}

export interface StepContext {
  /** Tokens not yet in the cache that this step must run: the prompt, then each step's bonus token. */
  readonly pending: Int32Array;
  /** Committed cache rows. */
  readonly cached: number;
  /** Every token so far: prompt + emitted (the last `pending.length` are the pending ones). */
  readonly history: readonly number[];
}

export interface Proposer {
  readonly name: string;
  /** Most rows a block may have beyond the pending tokens (sizes the workspace). */
  readonly maxExtraRows: number;
  plan(ctx: StepContext): StepPlan;
  /** Called after verification with the step's logits (f32 [R, V]) and the number accepted. */
  observe(plan: StepPlan, logits: Float32Array, accepted: number, emitted: readonly number[]): void;
}

/** Plain autoregressive decoding: no candidates; the block is just the pending tokens. */
export class ArProposer implements Proposer {
  readonly name = "ar";
  readonly maxExtraRows = 0;

  plan(ctx: StepContext): StepPlan {
    const T = ctx.pending.length;
    return {
      block: chainBlock(ctx.cached, ctx.pending, [T - 1]),
      candidates: new Int32Array(0),
      verifyRows: Int32Array.of(0),
      keepRows: () => range(0, T),
    };
  }

  observe(): void {}
}

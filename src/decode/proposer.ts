/**
 * Glossary (used the same way in code, spec, CLI output and traces):
 *  - step: one forward pass of the target model.
 *  - candidates c_1..c_k: draft tokens proposed for verification in a step.
 *  - accepted: the candidates, in order, that equal what AR decoding would emit at that point.
 *  - corrected / bonus token: the target's own next token after the accepted run (it corrects the first
 *    rejected candidate, or is a free extra token when all k were accepted). Every step emits one.
 *  - mask group (SPACE): k consecutive mask tokens whose logits propose the next candidates.
 *  - tau: tokens emitted per step (AR has tau = 1).
 *
 * A Proposer decides what goes in each step's block besides the tokens that must be run (the prompt at
 * the first step, then the last bonus token) and where the next candidates come from. The generate loop
 * (generate.ts) and the verifier (verify.ts) are shared by every decoder:
 *
 *   ar      no candidates (this file)
 *   space   candidates from the mask groups of the previous step (space.ts)
 *   lookup  candidates copied from an n-gram match in the prompt + output (lookup.ts)
 *   spec    candidates drafted by a smaller model (spec.ts)
 */
import type { Block } from "../model/forward.js";
import { chainBlock, range } from "./block.js";
import type { Rng } from "../util/rng.js";
import type { Banned, Distribution, SamplingKernels, SamplingParams } from "./sampling.js";
import type { Verdict } from "./verify.js";

export interface StepPlan {
  readonly block: Block;
  /** c_1..c_m (m <= k), verified in this step. */
  readonly candidates: Int32Array; // [m]
  /**
   * Index into block.logitRows of the row whose logits give g_i, the target's prediction after
   * pending + c_1..c_i, for i = 0..m.
   */
  readonly verifyRows: Int32Array; // [m + 1]
  /**
   * q_1..q_m: the distribution each candidate was drawn from, for speculative sampling. Absent for a
   * deterministic draft (lookup, argmax drafts): then q_i is the point mass at c_i.
   */
  readonly draft?: readonly Distribution[];
  /** Block rows that hold mask tokens (SPACE); absent = none. Reported in traces. */
  readonly maskRows?: Int32Array;
  /**
   * Where the candidates came from, for per-position acceptance statistics (GenerateStats.alpha):
   * "masks" (SPACE's mask group), "lookup" (an n-gram copy), ...; absent = the proposer's name.
   */
  readonly source?: string;
  /** Block rows to keep in the KV cache when n candidates were accepted: pending + c_1..c_n. */
  keepRows(n: number): Int32Array;
}

export interface StepContext {
  /** Tokens not yet in the cache that this step must run: the prompt, then each step's bonus token. */
  readonly pending: Int32Array;
  /** Committed cache rows. */
  readonly cached: number;
  /**
   * Every token so far: prompt + emitted (the last `pending.length` are the pending ones). A live view:
   * read it during the call, do not keep it.
   */
  readonly history: readonly number[];
  /** How tokens are chosen; drafts that sample use the same parameters as the target (p and q alike). */
  readonly sampling: SamplingParams;
  /** The run's one random stream: drafts draw from it in a fixed order, so a seed reproduces a run. */
  readonly rng: Rng;
  /** Ids never emitted (a mask token); drafts never propose them either. */
  readonly banned?: Banned;
  /** How `distribution` sorts and weighs a row's ids: the context's core (the same bits as the TypeScript default). */
  readonly kernels?: SamplingKernels;
}

/** Logits of block rows `rows` (block row indices) of the step's forward pass: f32 [rows.length, V]. */
export type MoreLogits = (rows: Int32Array) => Float32Array;

export interface Proposer<P extends StepPlan = StepPlan> {
  readonly name: string;
  /** Most rows a block may have beyond the pending tokens (sizes the workspace). */
  readonly maxExtraRows: number;
  /** Forgets the previous sequence; generate() calls it before the first step. */
  reset(): void;
  plan(ctx: StepContext): P;
  /**
   * Called after verification and commit, with the step's logits (f32 [R, V], R = block.logitRows.length)
   * and `more`, which computes the logits of further block rows on demand (f32 [rows.length, V]; SPACE
   * asks for the one mask group the verdict selects, so the output head never runs on the others).
   * Returns the candidates already chosen for the next step (SPACE picks them from this step's mask
   * group), or null when they are chosen at the next plan (spec, lookup) or there are none (ar).
   */
  observe(plan: P, logits: Float32Array, verdict: Verdict, ctx: StepContext, more: MoreLogits): Int32Array | null;
}

/** Plain autoregressive decoding: no candidates; the block is just the pending tokens. */
export class ArProposer implements Proposer {
  readonly name = "ar";
  readonly maxExtraRows = 0;

  reset(): void {}

  plan(ctx: StepContext): StepPlan {
    const T = ctx.pending.length;
    return {
      block: chainBlock(ctx.cached, ctx.pending, [T - 1]),
      candidates: new Int32Array(0),
      verifyRows: Int32Array.of(0),
      keepRows: () => range(0, T),
    };
  }

  observe(): null {
    return null;
  }
}

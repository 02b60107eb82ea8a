/**
 * Classic draft-model speculative decoding (Leviathan et al. 2023; Chen et al. 2023). A draft model with
 * the target's vocabulary proposes c_1..c_k autoregressively (argmax, or sampled from q with the run's
 * sampling parameters); the target verifies them in one step over the causal chain [pending] c_1..c_k.
 *
 * The draft is either the target truncated to its first N layers plus its output head (layer-skipping
 * self-speculation: `engine.newContext(..., { layers: N })`) or another GGUF with the same tokenizer. It
 * keeps its own KV cache: before drafting it runs the history tokens it has not seen yet (the prompt at
 * the first step, then the previous step's accepted candidates it did not run and the bonus token), and
 * after verification it drops the rows of rejected candidates.
 */
import { fail } from "../errors.js";
import { PREFILL_CHUNK } from "../model/forward.js";
import { chainBlock, range } from "./block.js";
import type { DecodingContext } from "./generate.js";
import type { Proposer, StepContext, StepPlan } from "./proposer.js";
import { argmax, distribution, sample, type Distribution } from "./sampling.js";
import type { Verdict } from "./verify.js";

export interface SpecOptions {
  readonly k: number; // candidates drafted per step
  /** The draft's context: its forward, KV cache (>= target context + k rows) and workspace. */
  readonly draft: DecodingContext;
  readonly vocabSize: number; // the target's; the draft must match it
  /** Drafting stops after one of these (end-of-generation): nothing after it could be emitted. */
  readonly stopAt?: ReadonlySet<number>;
}

interface SpecPlan extends StepPlan {
  readonly historyLength: number; // H: tokens of history when the step was planned
}

export class SpecProposer implements Proposer<SpecPlan> {
  readonly name = "spec";
  readonly maxExtraRows: number;
  readonly k: number;
  private readonly draft: DecodingContext;

  constructor(private readonly opts: SpecOptions) {
    const { k, draft, vocabSize } = opts;
    if (!(Number.isInteger(k) && k >= 1 && k <= 64)) fail("E_ARGS", `spec k must be an integer in [1, 64], got ${k}`);
    if (draft.forward.cfg.vocabSize !== vocabSize) {
      fail("E_MODEL", `the draft's vocabulary has ${draft.forward.cfg.vocabSize} tokens, the target's ${vocabSize}: they must share a tokenizer`);
    }
    this.k = k;
    this.maxExtraRows = k;
    this.draft = draft;
  }

  /** Draft forward passes so far (each drafts one candidate, or catches up on history). */
  get draftPasses(): number {
    return this.draft.forward.count;
  }

  reset(): void {
    this.draft.cache.truncate(0);
  }

  plan(ctx: StepContext): SpecPlan {
    // A disposed draft context's memory may belong to another context now: writing its KV cache would
    // corrupt that one (E_STATE instead; a closed draft engine fails in its executor).
    this.draft.guard?.check();
    const H = ctx.history.length;
    let logits = this.catchUp(ctx.history);
    const c: number[] = [];
    const q: Distribution[] = [];
    for (let i = 1; i <= this.k; i++) {
      if (ctx.sampling.temperature === 0) c.push(argmax(logits, ctx.banned));
      else {
        q.push(distribution(logits, ctx.sampling, ctx.banned, ctx.kernels)); // q_i, same parameters as p
        c.push(sample(q[i - 1], ctx.rng));
      }
      if (i === this.k || this.opts.stopAt?.has(c[i - 1])) break;
      logits = this.run([c[i - 1]]);
    }
    const P = ctx.pending.length;
    return {
      block: chainBlock(ctx.cached, [...ctx.pending, ...c], range(P - 1, P + c.length)),
      candidates: Int32Array.from(c),
      verifyRows: range(0, c.length + 1),
      ...(q.length ? { draft: q } : {}),
      keepRows: (n) => range(0, P + n),
      historyLength: H,
    };
  }

  /** The draft keeps the history and the accepted candidates it ran (it never ran the last one). */
  observe(plan: SpecPlan, _logits: Float32Array, verdict: Verdict): null {
    const ran = Math.max(0, plan.candidates.length - 1);
    this.draft.cache.truncate(plan.historyLength + Math.min(verdict.accepted, ran));
    return null;
  }

  /** Runs the history tokens the draft has not seen; returns the logits after the last one: f32 [V]. */
  private catchUp(history: readonly number[]): Float32Array {
    const { cache } = this.draft;
    let rest = history.slice(cache.length);
    while (rest.length > PREFILL_CHUNK) {
      const chunk = rest.slice(0, PREFILL_CHUNK);
      this.draft.forward.run(cache, this.draft.ws, chainBlock(cache.length, chunk, []));
      cache.commit(range(0, chunk.length));
      rest = rest.slice(PREFILL_CHUNK);
    }
    return this.run(rest);
  }

  /** Runs `tokens` through the draft, commits them, returns the last row's logits: f32 [V]. */
  private run(tokens: readonly number[]): Float32Array {
    const { forward, cache, ws } = this.draft;
    const logits = forward.run(cache, ws, chainBlock(cache.length, tokens, [tokens.length - 1]));
    cache.commit(range(0, tokens.length));
    return logits;
  }
}

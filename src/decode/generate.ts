/**
 * The one generate loop. Every decoder runs through it; they differ only in their Proposer (what goes
 * into a step's block and where candidates come from). Per step:
 *   1. plan   = proposer.plan(pending tokens, cache)       the block, candidates c_1..c_k, verify rows
 *   2. logits = forward(block)                             one forward pass of the target
 *   3. verdict = verify(c, logits)                         accepted n, corrected/bonus token
 *   4. cache.commit(plan.keepRows(n))                      keep prefix + accepted rows
 *   5. proposer.observe(...)                               next candidates
 *   6. emit tokens; stop on end-of-generation, stop string, max tokens, abort or full context.
 * Greedy decoding verifies with verifyGreedy; sampling with verifySampled (speculative sampling), which
 * is plain AR sampling when there are no candidates. Either way the output is distributed exactly as AR
 * decoding's, whatever the proposer.
 */
import { fail } from "../errors.js";
import { PREFILL_CHUNK, type Forward, type Workspace } from "../model/forward.js";
import { chainBlock, range } from "./block.js";
import type { KVCache } from "../model/kvcache.js";
import { StreamDecoder } from "../tokenizer/stream.js";
import type { Proposer } from "./proposer.js";
import { distribution, GREEDY, type Banned, type SamplingKernels, type SamplingParams } from "./sampling.js";
import { Rng } from "../util/rng.js";
import { verifyGreedy, verifySampled, type Verdict } from "./verify.js";
import { StopMatcher } from "./stop.js";
import { traceStep, type TraceStep } from "./trace.js";
import { beginGeneration, type Pacer } from "./pacer.js";
import type { DecodingContext } from "../model/context.js";

export interface GenerateOptions {
  readonly maxTokens: number;
  readonly sampling?: SamplingParams; // default greedy
  readonly seed?: number;
  readonly stop?: readonly string[]; // stop strings: output ends before the first occurrence
  readonly signal?: AbortSignal;
  /**
   * KV reuse: the first `cachedPrefix` prompt tokens are already ctx.cache's committed rows (a previous
   * run's prefix, the cache truncated to it); only the rest of the prompt runs. At least one prompt
   * token must remain to run. Batch invariance makes the output identical to a run from an empty cache.
   */
  readonly cachedPrefix?: number;
  readonly banned?: Banned; // ids never emitted (e.g. a mask token)
  /** Streaming: receives text as soon as it is complete UTF-8 and cannot be part of a stop string. */
  readonly onText?: (text: string) => void;
  /** Called between steps; return a promise to let the host's event loop run (abort, I/O). */
  readonly yieldEvery?: () => Promise<void> | void;
  /** Clock in milliseconds (performance.now by default); injectable so tests can be deterministic. */
  readonly now?: () => number;
  /** Receives one trace record per step (spec/trace.md). */
  readonly onStep?: (step: TraceStep) => void;
  /**
   * Test seam: the sampling verifier (default verifySampled). Only tests replace it, with a deliberately
   * flawed rule, to show that the statistical test of losslessness catches it.
   */
  readonly verifySampled?: typeof verifySampled;
}

export type StopReason = "eos" | "max_tokens" | "stop" | "abort" | "context";

export interface GenerateStats {
  forward_passes: number; // steps: each verifies candidates and emits 1..k+1 tokens
  prefill_passes: number; // extra passes that ran a long prompt's leading chunks
  tokens_per_forward: number; // tau
  prefill_ms: number; // the first step, which runs the prompt
  decode_ms: number; // every later step
  tokens_per_second: number; // tokens emitted after the first step / decode seconds
  accept_histogram: number[]; // [n] = steps that accepted n candidates
  /**
   * Per candidate source (StepPlan.source: "masks", "lookup", ...), alpha_j = P(c_j accepted | c_1..c_{j-1}
   * accepted), j = 1.. : candidates at position j accepted / examined (candidate j is examined when
   * c_1..c_{j-1} were accepted).
   */
  alpha: Record<string, number[]>;
}

export interface GenerateResult {
  tokens: number[];
  text: string;
  stopReason: StopReason;
  stats: GenerateStats;
}

/** What a generation runs on (Engine.newContext makes one); defined with the model, which knows no decoder. */
export type { DecodingContext } from "../model/context.js";

/**
 * Generates from `prompt` on ctx, from an empty KV cache (or its first `cachedPrefix` rows). It yields
 * to the event loop every few ms (pacer.ts), so `signal` lands within one step or prefill chunk.
 */
export async function generate(
  ctx: DecodingContext,
  prompt: readonly number[],
  proposer: Proposer,
  opts: GenerateOptions,
): Promise<GenerateResult> {
  const run = beginGeneration(ctx, opts.signal, opts.cachedPrefix ?? 0);
  try {
    return await generateSteps(ctx, prompt, proposer, opts, run.pacer);
  } finally {
    run.end();
  }
}

/**
 * Sampling's sweeps over a row in the context's core (the same bits as the TypeScript reference, faster):
 * what generate hands to `distribution` and, through the step, to the proposers.
 */
export function samplingKernels(ctx: Pick<DecodingContext, "forward" | "ws">): SamplingKernels {
  const { forward, ws } = ctx;
  return {
    order: (logits, banned, floor) => forward.descendingOrder(ws, logits, banned, floor),
    weights: (logits, ids, max, temperature) => forward.logitWeights(ws, logits, ids, max, temperature),
    total: (logits, floor, max, temperature) => forward.logitTotal(ws, logits, floor, max, temperature),
    argmax: (logits, banned) => forward.argmax(ws, logits, banned),
  };
}

async function generateSteps(
  ctx: DecodingContext,
  prompt: readonly number[],
  proposer: Proposer,
  opts: GenerateOptions,
  pacer: Pacer,
): Promise<GenerateResult> {
  const { forward, cache, ws, tokenizer } = ctx;
  const params = opts.sampling ?? GREEDY;
  const isEog = (id: number) => tokenizer.eogTokens.has(id);
  const verifySampledRule = opts.verifySampled ?? verifySampled;
  const rng = new Rng(opts.seed ?? 0);
  const kernels = samplingKernels(ctx);
  const now = opts.now ?? (() => performance.now());
  if (prompt.length === 0) fail("E_ARGS", "the prompt is empty");
  if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) fail("E_ARGS", `max tokens must be a non-negative integer, got ${opts.maxTokens}`);
  if (prompt.length > ctx.contextTokens) {
    fail("E_CONTEXT", `the prompt has ${prompt.length} tokens; the context holds ${ctx.contextTokens} (prompt + generated)`);
  }

  const history = [...prompt];
  const tokens: number[] = [];
  const stream = new StreamDecoder(tokenizer);
  const stops = new StopMatcher(opts.stop ?? []);
  let text = "";
  const reused = opts.cachedPrefix ?? 0;
  if (opts.cachedPrefix !== undefined && !(Number.isInteger(reused) && reused >= 0 && reused < prompt.length && cache.length === reused)) {
    fail("E_ARGS", `cachedPrefix ${reused} must be the cache's ${cache.length} committed rows and shorter than the ${prompt.length}-token prompt`);
  }
  let pending: Int32Array = Int32Array.from(prompt.slice(reused));
  let stopReason: StopReason | null = opts.maxTokens === 0 ? "max_tokens" : null;
  const histogram: number[] = [];
  const positions = new PositionCounts();
  let steps = 0;
  let prefillPasses = 0;
  let prefillMs = 0;
  let decodeMs = 0;
  let afterFirst = 0;
  proposer.reset();

  while (stopReason === null) {
    if (opts.signal?.aborted) {
      stopReason = "abort";
      break;
    }
    const t0 = now();
    const before = forward.count;
    if (pending.length > PREFILL_CHUNK) pending = await prefillAllButLast(forward, cache, ws, pending, pacer);
    prefillPasses += forward.count - before;
    if (opts.signal?.aborted) {
      stopReason = "abort";
      break;
    }
    if (cache.length + pending.length > ctx.contextTokens) {
      stopReason = "context";
      break;
    }
    const cached = cache.length;
    const step = { pending, cached, history, sampling: params, rng, banned: opts.banned, kernels };
    const plan = proposer.plan(step);
    const logits = forward.run(cache, ws, plan.block);
    const V = forward.cfg.vocabSize;
    // Logits after prefix + c_1..c_i: f32 [V].
    const row = (i: number) => logits.subarray(plan.verifyRows[i] * V, (plan.verifyRows[i] + 1) * V);
    const verdict: Verdict =
      params.temperature === 0
        ? verifyGreedy(plan.candidates, (i) => kernels.argmax(row(i), opts.banned), isEog)
        : verifySampledRule(plan.candidates, (i) => distribution(row(i), params, opts.banned, kernels), (i) => plan.draft?.[i - 1] ?? null, rng, isEog);
    cache.commit(plan.keepRows(verdict.accepted));
    const next = proposer.observe(plan, logits, verdict, step, (rows) => forward.moreLogits(ws, rows, plan.block.logitRows.length));
    histogram[verdict.accepted] = (histogram[verdict.accepted] ?? 0) + 1;
    positions.add(plan.source ?? proposer.name, plan.candidates.length, verdict.accepted);
    steps++;
    opts.onStep?.(traceStep(proposer.name, steps, cached, plan, verdict, next, now() - t0));

    for (const id of verdict.emitted) {
      tokens.push(id);
      history.push(id);
      if (tokenizer.eogTokens.has(id)) {
        stopReason = "eos";
        break;
      }
      const piece = stops.push(stream.push(id));
      text += piece.text;
      if (piece.text) opts.onText?.(piece.text);
      if (piece.stopped) {
        stopReason = "stop";
        break;
      }
      if (tokens.length >= opts.maxTokens) {
        stopReason = "max_tokens";
        break;
      }
      // AR stops once the next step's pending token no longer fits; a step that emits several tokens
      // stops at the same token, so every decoder gives AR's output here too.
      if (prompt.length + tokens.length > ctx.contextTokens) {
        stopReason = "context";
        break;
      }
    }
    const ms = now() - t0;
    if (steps === 1) prefillMs = ms;
    else {
      decodeMs += ms;
      afterFirst += verdict.emitted.length;
    }
    pending = Int32Array.of(verdict.emitted[verdict.emitted.length - 1]);
    if (stopReason === null) {
      await opts.yieldEvery?.();
      const turn = pacer.pause(); // null unless a yield to the event loop is due: no await per step
      if (turn) await turn;
    }
  }
  if (stopReason !== "stop") {
    const rest = stops.flush(stream.flush());
    text += rest.text;
    if (rest.text) opts.onText?.(rest.text);
    if (rest.stopped) stopReason = "stop";
  }
  for (let i = 0; i < histogram.length; i++) histogram[i] ??= 0;
  return {
    tokens,
    text,
    stopReason,
    stats: {
      forward_passes: steps,
      prefill_passes: prefillPasses,
      tokens_per_forward: steps ? tokens.length / steps : 0,
      prefill_ms: prefillMs,
      decode_ms: decodeMs,
      tokens_per_second: decodeMs > 0 ? (afterFirst * 1000) / decodeMs : 0,
      accept_histogram: histogram,
      alpha: positions.alpha(),
    },
  };
}

/** Examined and accepted candidates per source and position (GenerateStats.alpha). */
class PositionCounts {
  private readonly counts = new Map<string, { examined: number[]; accepted: number[] }>();

  /** A step that verified m candidates and accepted n: positions 1..min(n + 1, m) examined, 1..n accepted. */
  add(source: string, m: number, n: number): void {
    if (m === 0) return;
    let c = this.counts.get(source);
    if (!c) this.counts.set(source, (c = { examined: [], accepted: [] }));
    for (let j = 0; j < Math.min(n + 1, m); j++) {
      c.examined[j] = (c.examined[j] ?? 0) + 1;
      if (j < n) c.accepted[j] = (c.accepted[j] ?? 0) + 1;
    }
  }

  alpha(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [source, c] of this.counts) out[source] = c.examined.map((e, j) => (c.accepted[j] ?? 0) / e);
    return out;
  }
}

/**
 * Runs all but the last PREFILL_CHUNK pending tokens in chunks without logits, so that the proposer's
 * block always fits the workspace. Batch invariance makes this split invisible in every result.
 */
async function prefillAllButLast(forward: Forward, cache: KVCache, ws: Workspace, pending: Int32Array, pacer: Pacer): Promise<Int32Array> {
  while (pending.length > PREFILL_CHUNK) {
    const turn = pacer.pause();
    if (turn) await turn;
    if (pacer.aborted) break;
    const chunk = pending.subarray(0, PREFILL_CHUNK);
    forward.run(cache, ws, chainBlock(cache.length, chunk, []));
    cache.commit(range(0, chunk.length));
    pending = pending.subarray(PREFILL_CHUNK);
  }
  return pending;
}

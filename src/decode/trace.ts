/**
 * Per-step traces (spec/trace.md, spec/trace.schema.json): one JSON object per step, written as JSON
 * Lines, so that another engine can produce the same trace and the two can be diffed line by line.
 * Everything but `ms` is deterministic; `ms` is informative and excluded from comparisons.
 */
import type { StepPlan } from "./proposer.js";
import type { Verdict } from "./verify.js";

export interface TraceStep {
  readonly decoder: string; // "ar" | "space" | "spec" | "lookup"
  readonly step: number; // 1-based
  readonly cached: number; // committed KV rows before the step (C)
  readonly tokens: number[]; // the block's token ids [T]
  readonly positions: number[]; // [T]
  readonly mask_rows: number[]; // block rows holding mask tokens (SPACE), ascending
  readonly candidates: number[]; // c_1..c_m verified in this step
  readonly accepted: number; // n
  readonly emitted: number[]; // c_1..c_n, then the corrected/bonus token (unless an accepted EOS ended)
  readonly bonus: number | null; // the corrected/bonus token g_n; null when an accepted EOS ended the step
  readonly new_candidates: number[] | null; // chosen now for the next step (SPACE); null: chosen at the next step
  readonly ms: number; // wall time of the step (plan, forward, verify, commit, observe); informative only
}

export function traceStep(decoder: string, step: number, cached: number, plan: StepPlan, verdict: Verdict, next: Int32Array | null, ms: number): TraceStep {
  const endedByAccepted = verdict.emitted.length === verdict.accepted; // no bonus after an accepted EOS
  return {
    decoder,
    step,
    cached,
    tokens: Array.from(plan.block.tokens),
    positions: Array.from(plan.block.positions),
    mask_rows: Array.from(plan.maskRows ?? []),
    candidates: Array.from(plan.candidates),
    accepted: verdict.accepted,
    emitted: [...verdict.emitted],
    bonus: endedByAccepted ? null : verdict.emitted[verdict.emitted.length - 1],
    new_candidates: next ? Array.from(next) : null,
    ms,
  };
}

/**
 * The first line of a trace file: everything needed to replay the run, so that a trace is self-contained
 * (spec/trace.md, spec/trace-header.schema.json). Resolved values, never "the model's default".
 */
export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly model_sha256: string; // lower-case hex of the GGUF file
  readonly adapter_sha256: string | null; // a base-preserving adapter's file, if any
  readonly prompt_tokens: number[]; // the prompt as the model ran it
  readonly decoder: string; // "ar" | "space" | "spec" | "lookup"
  readonly k: number | null; // candidates per step (null for ar)
  readonly mask_token: number | null; // SPACE's mask id; banned from the output unless it labels an adapter's rows
  readonly layout: string | null; // space: a LayoutChoice (auto depends on timings: not replayable); null otherwise
  readonly draft_layers: number | null; // spec with the model's first N layers as draft
  readonly draft_model_sha256: string | null; // spec with another GGUF as draft
  readonly sampling: { readonly temperature: number; readonly top_k: number; readonly top_p: number };
  readonly seed: number;
  readonly max_tokens: number;
  readonly stop: string[];
  readonly context_tokens: number; // prompt + generated tokens the context held
  readonly prefill_chunk: number; // prompts run in blocks of this many tokens; the last block is step 1's
  readonly simd: string; // informative: the build that ran ("plain" is the reference)
  readonly weights: string; // informative: the weight storage
}

export const TRACE_FORMAT = "space-trace/1";

/** Trace lines without timings, for comparisons between runs or engines. */
export function withoutTimings(steps: readonly TraceStep[]): Omit<TraceStep, "ms">[] {
  return steps.map(({ ms: _ms, ...rest }) => rest);
}

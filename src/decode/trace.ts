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

/** Trace lines without timings, for comparisons between runs or engines. */
export function withoutTimings(steps: readonly TraceStep[]): Omit<TraceStep, "ms">[] {
  return steps.map(({ ms: _ms, ...rest }) => rest);
}

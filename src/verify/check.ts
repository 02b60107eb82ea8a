/**
 * `space verify`'s rules (spec/verify.md), as pure functions of our logits and the other engine's tokens.
 *
 * Glossary:
 *  - divergence: a step i where their token differs from ours, our argmax (ties to the lowest id, banned
 *    ids excluded: exactly what our greedy decoding emits after the same prefix).
 *  - margin: our top-1 minus our top-2 logit at a step: how close our own choice was.
 *  - gap: our logit of our token minus our logit of theirs (>= margin; = margin when theirs is our
 *    runner-up): how far their choice is from ours in our own logits.
 *  - verdict: `identical` (no divergence), `near-tie` (every divergence has gap < tie) or `divergent`.
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import type { Banned } from "../decode/sampling.js";
import { argmax } from "../decode/sampling.js";
import type { VerifyRecord } from "./records.js";
import { teacherForce } from "./teacher.js";

export type VerdictName = "identical" | "near-tie" | "divergent";

export interface Divergence {
  readonly step: number; // 0-based index into `tokens`
  readonly theirs: number;
  readonly ours: number;
  readonly margin: number; // our top-1 - top-2 logit
  readonly gap: number; // our logit[ours] - our logit[theirs]
}

export interface RecordReport {
  readonly id: string | number;
  readonly line: number;
  readonly engine?: string;
  readonly verdict: VerdictName;
  readonly checked: number; // tokens compared
  readonly first_divergence: Divergence | null;
  readonly margins: number[]; // our top-2 margin at every divergence, in order
  readonly divergences: Divergence[];
  /** Max over the given (step, id) logits of |theirs - ours|; null when the record has no logits. */
  readonly max_logit_diff: number | null;
  readonly max_logit_diff_step: number | null;
}

/** Our choice at one step, and how far `theirs` is from it in our logits. */
export function compareStep(row: Float32Array, theirs: number, banned?: Banned): { ours: number; margin: number; gap: number } {
  const ours = argmax(row, banned);
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== ours && !banned?.has(i) && row[i] > second) second = row[i];
  return { ours, margin: second === -Infinity ? Infinity : row[ours] - second, gap: row[ours] - row[theirs] };
}

/** The verdict of a record from its divergences: near-tie only when every gap is below `tie`. */
export function verdictOf(divergences: readonly Divergence[], tie: number): VerdictName {
  if (divergences.length === 0) return "identical";
  return divergences.every((d) => d.gap < tie) ? "near-tie" : "divergent";
}

export interface CheckOptions {
  readonly tie: number; // logit units
  readonly banned?: Banned; // ids our decoding never emits (a SPACE mask token)
}

/** Refuses, before any is checked, a record longer than the model's context (naming its line). */
export function checkContext(engine: Engine, records: readonly VerifyRecord[], name: string): void {
  const max = engine.config.contextLength;
  for (const r of records) {
    const n = r.prompt.length + r.tokens.length;
    if (n > max) fail("E_CONTEXT", `${name}:${r.line}: ${r.prompt.length} prompt + ${r.tokens.length} generated tokens exceed the model's context of ${max}`);
  }
}

/** Teacher-forces one record through `engine` and judges it. */
export function checkRecord(engine: Engine, record: VerifyRecord, opts: CheckOptions): RecordReport {
  const divergences: Divergence[] = [];
  let maxDiff = 0;
  let maxDiffStep: number | null = null; // the first step reaching maxDiff
  teacherForce(engine, record.prompt, record.tokens, (i, row) => {
    const theirs = record.tokens[i];
    const c = compareStep(row, theirs, opts.banned);
    if (c.ours !== theirs) divergences.push({ step: i, theirs, ...c });
    const given = record.logits?.[i];
    if (given) {
      given.ids.forEach((id, j) => {
        const d = Math.abs(Math.fround(given.values[j]) - row[id]); // their value read as an f32, like ours
        if (maxDiffStep === null || d > maxDiff) {
          maxDiff = d;
          maxDiffStep = i;
        }
      });
    }
  });
  return {
    id: record.id,
    line: record.line,
    ...(record.engine !== undefined ? { engine: record.engine } : {}),
    verdict: verdictOf(divergences, opts.tie),
    checked: record.tokens.length,
    first_divergence: divergences[0] ?? null,
    margins: divergences.map((d) => d.margin),
    divergences,
    max_logit_diff: maxDiffStep === null ? null : maxDiff,
    max_logit_diff_step: maxDiffStep,
  };
}

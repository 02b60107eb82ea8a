/**
 * `space verify --check-trace`: another implementation's trace (spec/trace.md: a header line, then one
 * line per step) against ours, replayed from its header. Names the first step whose block, positions,
 * mask rows, attention, candidates, accepted count, emitted tokens, kept rows or next candidates differ.
 */
import { fail } from "../errors.js";
import { TRACE_FORMAT, type TraceHeader } from "../decode/trace.js";
import { LAYOUT_CHOICES, type LayoutChoice } from "../decode/decoders.js";
import type { DetailedStep } from "./steps.js";

export interface ParsedTrace {
  readonly header: TraceHeader;
  readonly steps: readonly Record<string, unknown>[];
}

/** Compared fields, in the order a step is read; `ms` is never compared. */
export const STEP_FIELDS = [
  "decoder", "step", "cached", "tokens", "positions", "mask_rows", "attention", "candidates", "accepted", "emitted", "bonus", "kept_rows", "new_candidates",
] as const;
const OPTIONAL = new Set(["attention", "kept_rows", "ms"]);

const isInt = (v: unknown, min = 0) => typeof v === "number" && Number.isInteger(v) && v >= min;
const isIds = (v: unknown) => Array.isArray(v) && v.every((x) => isInt(x));
const isHex = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Checks of each header field: [test, what it must be]. */
const HEADER_FIELDS: Record<keyof TraceHeader, [(v: unknown) => boolean, string]> = {
  format: [(v) => v === TRACE_FORMAT, `"${TRACE_FORMAT}"`],
  model_sha256: [isHex, "64 lower-case hex digits"],
  adapter_sha256: [(v) => v === null || isHex(v), "null or 64 lower-case hex digits"],
  prompt_tokens: [(v) => isIds(v) && (v as number[]).length > 0, "a non-empty array of token ids"],
  decoder: [(v) => v === "ar" || v === "space" || v === "spec" || v === "lookup", "ar, space, spec or lookup"],
  k: [(v) => v === null || isInt(v, 1), "null or a positive integer"],
  mask_token: [(v) => v === null || isInt(v), "null or a token id"],
  layout: [(v) => v === null || LAYOUT_CHOICES.includes(v as LayoutChoice), `null or one of ${LAYOUT_CHOICES.join(", ")}`],
  draft_layers: [(v) => v === null || isInt(v, 1), "null or a positive integer"],
  draft_model_sha256: [(v) => v === null || isHex(v), "null or 64 lower-case hex digits"],
  sampling: [
    (v) => typeof v === "object" && v !== null && Object.keys(v).sort().join() === "temperature,top_k,top_p" && Object.values(v).every((x) => typeof x === "number"),
    "{temperature, top_k, top_p}",
  ],
  seed: [(v) => isInt(v) && (v as number) <= 0xffffffff, "an integer in [0, 2^32)"],
  max_tokens: [(v) => isInt(v), "a non-negative integer"],
  stop: [(v) => Array.isArray(v) && v.every((s) => typeof s === "string" && s !== ""), "an array of non-empty strings"],
  context_tokens: [(v) => isInt(v, 1), "a positive integer"],
  prefill_chunk: [(v) => isInt(v, 1), "a positive integer"],
  simd: [(v) => typeof v === "string", "a string"],
  weights: [(v) => typeof v === "string", "a string"],
};

export function parseTrace(text: string, name: string): ParsedTrace {
  const lines = text.split("\n").map((l, i) => [l.trim(), i + 1] as const).filter(([l]) => l !== "");
  if (lines.length === 0) fail("E_ARGS", `${name}: empty (a trace starts with its header line, spec/trace.md)`);
  const objects = lines.map(([l, n]) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      fail("E_ARGS", `${name}:${n}: not JSON (${(e as Error).message})`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail("E_ARGS", `${name}:${n}: expected a JSON object`);
    return v as Record<string, unknown>;
  });
  const h = objects[0];
  if (h.format === undefined) fail("E_ARGS", `${name}:1: no header line (a self-contained trace starts with {"format": "${TRACE_FORMAT}", ...}, spec/trace.md)`);
  for (const key of Object.keys(h)) if (!(key in HEADER_FIELDS)) fail("E_ARGS", `${name}:1: unknown header field "${key}"`);
  for (const [key, [ok, what]] of Object.entries(HEADER_FIELDS)) {
    if (!(key in h)) fail("E_ARGS", `${name}:1: the header lacks "${key}"`);
    if (!ok(h[key])) fail("E_ARGS", `${name}:1: header "${key}" must be ${what}, got ${JSON.stringify(h[key])}`);
  }
  const steps = objects.slice(1);
  steps.forEach((s, i) => {
    const n = lines[i + 1][1];
    for (const key of Object.keys(s)) if (!(STEP_FIELDS as readonly string[]).includes(key) && key !== "ms") fail("E_ARGS", `${name}:${n}: unknown step field "${key}"`);
    for (const key of STEP_FIELDS) if (!OPTIONAL.has(key) && !(key in s)) fail("E_ARGS", `${name}:${n}: the step lacks "${key}"`);
  });
  return { header: h as unknown as TraceHeader, steps };
}

export interface FieldDifference {
  readonly field: string;
  readonly theirs: unknown;
  readonly ours: unknown;
}

export interface TraceCheck {
  readonly steps_theirs: number;
  readonly steps_ours: number;
  readonly steps_matching: number; // leading steps equal in every compared field
  /** The first step (1-based) that differs, and every field that differs there; null when none does. */
  readonly first_difference: { readonly step: number; readonly fields: FieldDifference[] } | null;
}

/** Compares step by step the fields their lines carry (attention and kept_rows only when present). */
export function compareTraces(theirs: readonly Record<string, unknown>[], ours: readonly DetailedStep[]): TraceCheck {
  const n = Math.min(theirs.length, ours.length);
  for (let i = 0; i < n; i++) {
    const fields: FieldDifference[] = [];
    for (const f of STEP_FIELDS) {
      if (!(f in theirs[i])) continue;
      const mine = (ours[i] as unknown as Record<string, unknown>)[f];
      if (JSON.stringify(theirs[i][f]) !== JSON.stringify(mine)) fields.push({ field: f, theirs: theirs[i][f], ours: mine });
    }
    if (fields.length) return { steps_theirs: theirs.length, steps_ours: ours.length, steps_matching: i, first_difference: { step: i + 1, fields } };
  }
  if (theirs.length === ours.length) return { steps_theirs: theirs.length, steps_ours: ours.length, steps_matching: n, first_difference: null };
  const extra = theirs.length > ours.length ? { field: "step", theirs: theirs[n], ours: "no such step: our run ended" } : { field: "step", theirs: "no such step: their trace ended", ours: ours[n] };
  return { steps_theirs: theirs.length, steps_ours: ours.length, steps_matching: n, first_difference: { step: n + 1, fields: [extra] } };
}

export function traceCheckText(name: string, c: TraceCheck): string {
  if (!c.first_difference) return `${name}: ${c.steps_theirs} steps, every one identical to ours\n`;
  const d = c.first_difference;
  return (
    `${name}: first difference at step ${d.step} (${c.steps_matching} steps identical before it; ${c.steps_theirs} steps in the trace, ${c.steps_ours} in ours)\n` +
    d.fields.map((f) => `  ${f.field}: theirs ${JSON.stringify(f.theirs)}, ours ${JSON.stringify(f.ours)}\n`).join("")
  );
}

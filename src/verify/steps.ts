/**
 * Replaying a run from a trace header (spec/trace.md) and recording its steps, optionally with the
 * detail golden vectors carry (spec/golden.md): each block row's attention over the block, and the block
 * rows kept in the KV cache. Timings are recorded as 0, so that a replay is byte-for-byte reproducible.
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import type { Block } from "../model/forward.js";
import { generate } from "../decode/generate.js";
import type { Proposer, StepPlan } from "../decode/proposer.js";
import { wireDecoder, type AttachedAdapter, type DecoderChoice, type DecoderKind, type LayoutChoice } from "../decode/decoders.js";
import type { TraceHeader, TraceStep } from "../decode/trace.js";

/** A trace line with the golden detail: `attention` and `kept_rows` (present when recorded with detail). */
export interface DetailedStep extends TraceStep {
  /** attention[t][j] = "1" when block row t sees block row j (j <= t; every row sees all cached rows). */
  readonly attention?: string[];
  /** Block rows committed to the KV cache after the step (pending rows + accepted candidates). */
  readonly kept_rows?: number[];
}

/**
 * The decoder a header describes. `adapter`, `draft`: attached or loaded by the caller when the header
 * names one (by sha256, which the caller checks).
 */
export function choiceFromHeader(h: TraceHeader, adapter?: AttachedAdapter, draft?: Engine): DecoderChoice {
  if (h.layout === "auto") fail("E_ARGS", "a --layout auto trace cannot be replayed: the cost model's choices depend on timings");
  const kind = h.decoder as DecoderKind;
  if (h.draft_model_sha256 !== null) {
    if (!draft) fail("E_ARGS", "the trace was made with a separate draft model: give it with --draft-model");
    return { kind, ...(h.k !== null ? { k: h.k } : {}), draftEngine: draft };
  }
  if (h.adapter_sha256 !== null) {
    if (!adapter) fail("E_ARGS", "the trace was made with an adapter: give it with --adapter");
    if (adapter.maskToken !== h.mask_token || adapter.k !== h.k) fail("E_ARGS", `the adapter's mask ${adapter.maskToken} and k ${adapter.k} differ from the trace's (${h.mask_token}, ${h.k})`);
    return { kind, adapter, ...(h.layout !== null ? { layout: h.layout as LayoutChoice } : {}) };
  }
  return {
    kind,
    ...(h.k !== null && kind !== "ar" ? { k: h.k } : {}),
    ...(h.mask_token !== null ? { maskToken: h.mask_token } : {}),
    ...(h.layout !== null ? { layout: h.layout as LayoutChoice } : {}),
    ...(h.draft_layers !== null ? { draftLayers: h.draft_layers } : {}),
  };
}

/** Runs the header's generation on `engine` and returns its steps (ms = 0). */
export async function recordSteps(engine: Engine, h: TraceHeader, choice: DecoderChoice, detail: boolean): Promise<DetailedStep[]> {
  const wired = wireDecoder(engine, choice, h.context_tokens);
  // The mask token is banned from the output, except an adapter's, which only labels its rows.
  if (!choice.adapter && h.mask_token !== null && !wired.banned.has(h.mask_token)) fail("E_ARGS", `the trace bans ${h.mask_token} but the replay does not`);
  if (!choice.adapter && h.mask_token === null && wired.banned.size > 0) {
    fail("E_ARGS", `the trace has no mask token, but ${engine.file.name} bans ${[...wired.banned].join(", ")} (space.mask_token_id): was it made with this model?`);
  }
  const inner = wired.proposer;
  let last: StepPlan | null = null;
  // The same proposer, remembering its last plan so that the step's block can be described in full.
  const proposer: Proposer = {
    name: inner.name,
    maxExtraRows: inner.maxExtraRows,
    reset: () => inner.reset(),
    plan: (c) => (last = inner.plan(c)),
    observe: (p, logits, v, c, more) => inner.observe(p, logits, v, c, more),
  };
  const steps: DetailedStep[] = [];
  const ctx = engine.newContext(h.context_tokens, inner.maxExtraRows);
  try {
    await generate(ctx, h.prompt_tokens, proposer, {
      maxTokens: h.max_tokens,
      sampling: { temperature: h.sampling.temperature, topK: h.sampling.top_k, topP: h.sampling.top_p },
      seed: h.seed,
      stop: h.stop,
      banned: wired.banned,
      now: () => 0,
      onStep: (s) => steps.push(detail ? withDetail(s, last!) : s),
    });
  } finally {
    ctx.dispose();
    wired.dispose();
  }
  return steps;
}

/** The step's fields in the trace's order, with attention after mask_rows and kept_rows after bonus. */
function withDetail(s: TraceStep, plan: StepPlan): DetailedStep {
  const { decoder, step, cached, tokens, positions, mask_rows, candidates, accepted, emitted, bonus, new_candidates, ms } = s;
  const attention = attentionRows(plan.block, cached);
  const kept_rows = Array.from(plan.keepRows(accepted));
  return { decoder, step, cached, tokens, positions, mask_rows, attention, candidates, accepted, emitted, bonus, kept_rows, new_candidates, ms };
}

/**
 * The block's attention mask, row t as a string over block rows 0..t. Every block this engine builds lets
 * each row see every cached row and no later block row; anything else would need another encoding.
 */
export function attentionRows(block: Block, cached: number): string[] {
  const T = block.tokens.length;
  const nKeys = cached + T;
  const rows: string[] = [];
  for (let t = 0; t < T; t++) {
    const row = block.mask.subarray(t * nKeys, (t + 1) * nKeys);
    for (let j = 0; j < cached; j++) if (!row[j]) fail("E_STATE", `block row ${t} hides cached row ${j}: not expressible in a golden trace`);
    for (let j = cached + t + 1; j < nKeys; j++) if (row[j]) fail("E_STATE", `block row ${t} sees the later block row ${j - cached}: not expressible in a golden trace`);
    let s = "";
    for (let j = 0; j <= t; j++) s += row[cached + j] ? "1" : "0";
    rows.push(s);
  }
  return rows;
}

/**
 * Golden vectors (spec/golden.md): what another engine, or another SPACE implementation, checks itself
 * against, produced by the exact reference (plain SIMD build, weights as stored). For a model:
 *
 *   ar.jsonl                 greedy AR output of each prompt as `space verify` records, with our top-8 logits
 *                            at every step (so `space verify` on it must say identical, max_logit_diff 0)
 *   rows.jsonl               our whole logit row at the first and the last step of each prompt
 *   space-full-<id>.jsonl    per prompt, a self-contained SPACE trace (spec/trace.md) with each block's
 *                            attention and kept rows; space-lean-<id> and space-sampled-<id> for one prompt
 *
 * Logits are written as the shortest decimal that reads back as the same f32, so a reader that parses
 * them as doubles and rounds to f32 gets our exact bits. Everything is deterministic: regenerating gives
 * the same bytes (test/golden.test.ts).
 */
import type { Engine } from "../engine.js";
import { metaGetter } from "../gguf/meta.js";
import { PREFILL_CHUNK } from "../model/forward.js";
import { generate } from "../decode/generate.js";
import { ArProposer } from "../decode/proposer.js";
import { spaceMetadata, type AttachedAdapter, type DecoderChoice } from "../decode/decoders.js";
import { TRACE_FORMAT, type TraceHeader } from "../decode/trace.js";
import { chatTemplateInfo, userPromptIds } from "../tokenizer/chat.js";
import { teacherForce } from "./teacher.js";
import { recordSteps } from "./steps.js";

/** Tokens generated per prompt, and logits kept per step. */
export const GOLDEN_TOKENS = 16;
export const GOLDEN_TOP = 8;
const SAMPLED = { temperature: 0.8, top_k: 0, top_p: 0.95 };
const SAMPLED_SEED = 1;

/** Models without a chat template (the embedded one writes TypeScript declarations) get code prompts. */
const CODE_PROMPTS = ["interface PromiseLike<T> {", "    toString(): string;\n", "declare function parseInt("];
const CHAT_PROMPTS = ["What is the capital of France?", "Write a Python function that returns the n-th Fibonacci number.", "List three tips for writing clean code."];

export interface GoldenPrompt {
  readonly id: string;
  readonly text: string;
  readonly ids: number[];
}

export function goldenPrompts(engine: Engine): GoldenPrompt[] {
  const template = metaGetter(engine.file)("tokenizer.chat_template");
  const chat = chatTemplateInfo(typeof template === "string" ? template : undefined) !== null;
  const tok = engine.tokenizer;
  return (chat ? CHAT_PROMPTS : CODE_PROMPTS).map((text, i) => ({
    id: `p${i}`,
    text,
    ids: chat ? userPromptIds(tok, text) : tok.encode(text, { addBos: tok.addBos }),
  }));
}

/** The shortest decimal that reads back (as f64, then f32) as exactly `x`, an f32 value. */
export function f32Decimal(x: number): number {
  for (let p = 1; p < 10; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

export interface GoldenOptions {
  readonly modelSha256: string;
  /** A base-preserving adapter attached to `engine`, and its file's sha256. */
  readonly adapter?: { readonly attached: AttachedAdapter; readonly sha256: string };
}

export interface GoldenFile {
  readonly name: string;
  readonly text: string;
}

export async function goldenFiles(engine: Engine, opts: GoldenOptions): Promise<GoldenFile[]> {
  const prompts = goldenPrompts(engine);
  const meta = spaceMetadata(engine);
  const maskToken = opts.adapter?.attached.maskToken ?? meta.maskToken;
  // As in every decoder: the model's mask token is never emitted; an adapter's mask id only labels its rows.
  const banned = new Set(meta.maskToken !== undefined ? [meta.maskToken] : []);
  const ar: string[] = [];
  const rows: string[] = [];
  for (const p of prompts) {
    const ctx = engine.newContext(p.ids.length + GOLDEN_TOKENS, 0);
    let tokens: number[];
    try {
      tokens = (await generate(ctx, p.ids, new ArProposer(), { maxTokens: GOLDEN_TOKENS, banned, now: () => 0 })).tokens;
    } finally {
      ctx.dispose();
    }
    const logits: { ids: number[]; values: number[] }[] = [];
    teacherForce(engine, p.ids, tokens, (i, row) => {
      const top = topIds(row, GOLDEN_TOP);
      logits.push({ ids: top, values: top.map((id) => f32Decimal(row[id])) });
      if (i === 0 || i === tokens.length - 1) rows.push(JSON.stringify({ id: p.id, step: i, logits: Array.from(row, f32Decimal) }));
    });
    ar.push(JSON.stringify({ id: p.id, engine: "space", prompt_tokens: p.ids, tokens, logits, meta: { text: p.text } }));
  }
  const files: GoldenFile[] = [
    { name: "ar.jsonl", text: ar.join("\n") + "\n" },
    { name: "rows.jsonl", text: rows.join("\n") + "\n" },
  ];
  if (maskToken === undefined) return files; // no mask: no SPACE runs
  const k = opts.adapter?.attached.k ?? meta.k ?? 4;
  const runs: [string, GoldenPrompt, "full" | "lean", boolean][] = [
    ...prompts.map((p): [string, GoldenPrompt, "full", boolean] => [`space-full-${p.id}`, p, "full", false]),
    [`space-lean-${prompts[0].id}`, prompts[0], "lean", false],
    [`space-sampled-${prompts[1].id}`, prompts[1], "full", true],
  ];
  for (const [name, p, layout, sampled] of runs) {
    const header: TraceHeader = {
      format: TRACE_FORMAT,
      model_sha256: opts.modelSha256,
      adapter_sha256: opts.adapter?.sha256 ?? null,
      prompt_tokens: p.ids,
      decoder: "space",
      k,
      mask_token: maskToken,
      layout,
      draft_layers: null,
      draft_model_sha256: null,
      sampling: sampled ? SAMPLED : { temperature: 0, top_k: 0, top_p: 1 },
      seed: sampled ? SAMPLED_SEED : 0,
      max_tokens: GOLDEN_TOKENS,
      stop: [],
      context_tokens: p.ids.length + GOLDEN_TOKENS,
      prefill_chunk: PREFILL_CHUNK,
      simd: engine.core.build,
      weights: engine.storage,
    };
    const choice: DecoderChoice = opts.adapter ? { kind: "space", adapter: opts.adapter.attached, layout } : { kind: "space", k, maskToken, layout };
    const steps = await recordSteps(engine, header, choice, true);
    files.push({ name: `${name}.jsonl`, text: [header, ...steps].map((x) => JSON.stringify(x)).join("\n") + "\n" });
  }
  return files;
}

/** The n largest logits' ids, largest first (ties: lower id first). */
function topIds(row: Float32Array, n: number): number[] {
  return Array.from(row.keys())
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, n);
}

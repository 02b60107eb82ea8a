/**
 * `space generate --trace FILE`: the header line that makes a trace self-contained (spec/trace.md): what
 * replays the run, as the library resolved it.
 */
import { PREFILL_CHUNK } from "../model/forward.js";
import { DEFAULT_K } from "../decode/decoders.js";
import { TRACE_FORMAT, type TraceHeader } from "../decode/trace.js";
import { sha256File } from "../node/prompts.js";
import type { GenerationResult, ModelInfo } from "../api/index.js";
import type { Parsed } from "../util/args.js";

/**
 * The header of a `space generate` run: the options as the library resolves them (src/decode/decoders.ts
 * wireDecoder: flags, else the adapter's or the model's space.* metadata, else the defaults).
 */
export function generateTraceHeader(o: Parsed, modelPath: string, info: ModelInfo, r: GenerationResult, maxTokens: number): TraceHeader {
  const decoder = r.decoder;
  const k = decoder === "ar" ? null : ((o.k as number | undefined) ?? (decoder === "space" ? info.space.k : undefined) ?? DEFAULT_K);
  const draftModel = o["draft-model"] as string | undefined;
  return {
    format: TRACE_FORMAT,
    model_sha256: sha256File(modelPath),
    adapter_sha256: o.adapter !== undefined ? sha256File(o.adapter as string) : null,
    prompt_tokens: r.promptIds,
    decoder,
    k,
    mask_token: (o["mask-token"] as number | undefined) ?? info.space.maskToken ?? null,
    layout: decoder === "space" ? ((o.layout as string | undefined) ?? "full") : null,
    draft_layers: (o["draft-layers"] as number | undefined) ?? null,
    draft_model_sha256: draftModel !== undefined ? sha256File(draftModel) : null,
    sampling: { temperature: (o.temperature as number | undefined) ?? 0, top_k: (o["top-k"] as number | undefined) ?? 0, top_p: (o["top-p"] as number | undefined) ?? 1 },
    seed: (o.seed as number | undefined) ?? 0,
    max_tokens: maxTokens,
    stop: (o.stop as string[] | undefined) ?? [],
    context_tokens: (o.ctx as number | undefined) ?? Math.min(info.config.contextLength, r.promptIds.length + maxTokens),
    prefill_chunk: PREFILL_CHUNK,
    simd: info.simd,
    weights: info.weights,
  };
}

/**
 * Model hyper-parameters, read from GGUF metadata: nothing about a particular model is hard-coded.
 * Only the Llama family (Llama, SmolLM, Mistral-style GQA) is supported.
 */
import { fail } from "../errors.js";

export interface ModelConfig {
  readonly arch: string;
  readonly nLayers: number;
  readonly dModel: number; // D: width of the residual stream
  readonly dFF: number; // F: width of the SwiGLU hidden layer
  readonly nHeads: number;
  readonly nKvHeads: number; // grouped-query attention: nHeads / nKvHeads query heads share one K/V head
  readonly headDim: number; // dModel / nHeads
  readonly vocabSize: number; // V
  readonly contextLength: number; // the model's maximum; the KV cache is sized for what is actually used
  readonly ropeBase: number;
  readonly rmsEps: number;
}

const SUPPORTED_ARCHS = new Set(["llama"]);

/** `get` returns plain JS values for GGUF metadata keys, undefined when absent. */
export function configFromMetadata(get: (key: string) => unknown, fileName: string): ModelConfig {
  const arch = get("general.architecture");
  if (typeof arch !== "string") fail("E_MODEL", `${fileName}: metadata key general.architecture is missing`);
  if (!SUPPORTED_ARCHS.has(arch)) {
    fail("E_UNSUPPORTED", `${fileName}: architecture "${arch}" is not supported (supported: ${[...SUPPORTED_ARCHS].join(", ")})`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = get(`${arch}.${key}`) ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 1 << 24) {
      fail("E_MODEL", `${fileName}: metadata key ${arch}.${key} must be a positive integer (got ${String(v)})`);
    }
    return v;
  };
  const real = (key: string, fallback: number): number => {
    const v = get(`${arch}.${key}`) ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      fail("E_MODEL", `${fileName}: metadata key ${arch}.${key} must be a positive number (got ${String(v)})`);
    }
    return v;
  };
  const dModel = int("embedding_length");
  const nHeads = int("attention.head_count");
  const nKvHeads = int("attention.head_count_kv", nHeads);
  if (dModel % nHeads !== 0) fail("E_MODEL", `${fileName}: embedding_length ${dModel} is not a multiple of head_count ${nHeads}`);
  if (nHeads % nKvHeads !== 0) fail("E_MODEL", `${fileName}: head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`);
  const headDim = dModel / nHeads;
  const ropeDims = int("rope.dimension_count", headDim);
  if (ropeDims !== headDim) fail("E_UNSUPPORTED", `${fileName}: partial RoPE (rope.dimension_count ${ropeDims} != head dim ${headDim}) is not supported`);
  if (headDim % 4 !== 0) fail("E_UNSUPPORTED", `${fileName}: head dim ${headDim} is not a multiple of 4`);
  const tokens = get("tokenizer.ggml.tokens");
  const vocabSize = (get(`${arch}.vocab_size`) as number | undefined) ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (typeof vocabSize !== "number" || !Number.isInteger(vocabSize) || vocabSize <= 0) {
    fail("E_MODEL", `${fileName}: cannot tell the vocabulary size (no ${arch}.vocab_size and no tokenizer.ggml.tokens)`);
  }
  return {
    arch,
    nLayers: int("block_count"),
    dModel,
    dFF: int("feed_forward_length"),
    nHeads,
    nKvHeads,
    headDim,
    vocabSize,
    contextLength: int("context_length"),
    ropeBase: real("rope.freq_base", 10000),
    rmsEps: real("attention.layer_norm_rms_epsilon", 1e-5),
  };
}

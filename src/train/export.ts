/**
 * Llama GGUF files from f32 tensors: a randomly initialised model (training from scratch starts from
 * one), and a trained model exported from the trainer's state (full mode: an ordinary GGUF that
 * llama.cpp loads). Browser-safe: bytes in, bytes out.
 *
 * Tensors are given in the engine's layout (spec/model.md): rows of attn_q / attn_k in rotate-half
 * order, as the loader leaves them. GGUF stores them permuted for adjacent-pair RoPE, so `llamaGGUF`
 * re-permutes: GGUF row h*hd + 2i + j = rotate-half row h*hd + j*hd/2 + i (j in {0, 1}, i < hd/2),
 * the inverse of the loader's un-permutation.
 */
import { fail } from "../errors.js";
import { writeGGUF, type GGUFTensorSpec } from "../gguf/writer.js";
import { GGML, MetaType, type GGUFMetaValue } from "../gguf/types.js";
import { quantize } from "../gguf/dequant.js";
import { Rng } from "../util/rng.js";
import type { ModelConfig } from "../model/config.js";
import type { BpeVocab } from "./bpe-train.js";
import { modelTensorNames } from "./model.js";

/** One f32 tensor in the engine's layout: [rows, cols] row-major (rows = 1 for a vector). */
export interface F32Tensor {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export interface LlamaFile {
  readonly cfg: ModelConfig;
  readonly vocab: BpeVocab;
  readonly eos: number; // tokenizer.ggml.eos_token_id
  readonly name: string; // general.name
  /** Every tensor of modelTensorNames(cfg, tied = true): tied embeddings, no output.weight. */
  readonly tensors: readonly F32Tensor[];
  /** GGML type of the matrices (norms stay F32); default F32. */
  readonly matrixType?: number;
  /** Extra metadata (e.g. space.mask_token_id, space.k). */
  readonly extra?: ReadonlyMap<string, GGUFMetaValue>;
}

/** Rotate-half rows -> GGUF's adjacent-pair order, for a [nHeads * hd, cols] matrix. */
export function permuteRope(data: Float32Array, nHeads: number, hd: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const to = h * hd + 2 * i + j, from = h * hd + j * (hd / 2) + i;
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

export function llamaGGUF(f: LlamaFile): Uint8Array {
  const { cfg, vocab } = f;
  if (vocab.tokens.length !== cfg.vocabSize) fail("E_ARGS", `export: ${vocab.tokens.length} tokens for a vocabulary of ${cfg.vocabSize}`);
  const u32 = (v: number): GGUFMetaValue => ({ type: MetaType.UINT32, value: v });
  const f32 = (v: number): GGUFMetaValue => ({ type: MetaType.FLOAT32, value: v });
  const str = (v: string): GGUFMetaValue => ({ type: MetaType.STRING, value: v });
  const meta = new Map<string, GGUFMetaValue>([
    ["general.architecture", str("llama")],
    ["general.name", str(f.name)],
    ["llama.block_count", u32(cfg.nLayers)],
    ["llama.context_length", u32(cfg.contextLength)],
    ["llama.embedding_length", u32(cfg.dModel)],
    ["llama.feed_forward_length", u32(cfg.dFF)],
    ["llama.attention.head_count", u32(cfg.nHeads)],
    ["llama.attention.head_count_kv", u32(cfg.nKvHeads)],
    ["llama.rope.freq_base", f32(cfg.ropeBase)],
    ["llama.rope.dimension_count", u32(cfg.headDim)],
    ["llama.attention.layer_norm_rms_epsilon", f32(cfg.rmsEps)],
    ["llama.vocab_size", u32(cfg.vocabSize)],
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str(vocab.pre)],
    ["tokenizer.ggml.tokens", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: vocab.tokens }],
    ["tokenizer.ggml.token_type", { type: MetaType.ARRAY, itemType: MetaType.INT32, value: vocab.types }],
    ["tokenizer.ggml.merges", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: vocab.merges }],
    ["tokenizer.ggml.eos_token_id", u32(f.eos)],
    ["tokenizer.ggml.add_bos_token", { type: MetaType.BOOL, value: false }],
  ]);
  for (const [k, v] of f.extra ?? []) meta.set(k, v);

  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  const mt = f.matrixType ?? GGML.F32;
  const tensors: GGUFTensorSpec[] = modelTensorNames(cfg, true).map((name) => {
    const t = byName.get(name);
    if (!t) fail("E_ARGS", `export: tensor ${name} is missing`);
    let data = t.data;
    if (name.endsWith("attn_q.weight")) data = permuteRope(data, cfg.nHeads, cfg.headDim, t.cols);
    if (name.endsWith("attn_k.weight")) data = permuteRope(data, cfg.nKvHeads, cfg.headDim, t.cols);
    const type = t.rows === 1 ? GGML.F32 : mt;
    return { name, type, dims: t.rows === 1 ? [t.cols] : [t.cols, t.rows], data: quantize(type, data) };
  });
  return writeGGUF({ metadata: meta, tensors });
}

function gaussian(rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * GPT-2-style initialisation: matrices N(0, 0.02), the residual projections (attn_output, ffn_down)
 * N(0, 0.02 / sqrt(2 * nLayers)), norms 1. Deterministic in `seed`; tied embeddings.
 */
export function initLlamaTensors(cfg: ModelConfig, seed: number): F32Tensor[] {
  const rng = new Rng(seed);
  const D = cfg.dModel, F = cfg.dFF, kvDim = cfg.nKvHeads * cfg.headDim;
  const shapes: Record<string, [number, number]> = {
    "attn_norm.weight": [1, D], "attn_q.weight": [D, D], "attn_k.weight": [kvDim, D], "attn_v.weight": [kvDim, D],
    "attn_output.weight": [D, D], "ffn_norm.weight": [1, D], "ffn_gate.weight": [F, D], "ffn_up.weight": [F, D],
    "ffn_down.weight": [D, F],
  };
  const residual = 0.02 / Math.sqrt(2 * cfg.nLayers);
  return modelTensorNames(cfg, true).map((name) => {
    const short = name.replace(/^blk\.\d+\./, "");
    const [rows, cols] = name === "token_embd.weight" ? [cfg.vocabSize, D] : name === "output_norm.weight" ? [1, D] : shapes[short];
    const data = new Float32Array(rows * cols);
    if (rows === 1) data.fill(1);
    else {
      const std = short === "attn_output.weight" || short === "ffn_down.weight" ? residual : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = gaussian(rng) * std;
    }
    return { name, rows, cols, data };
  });
}

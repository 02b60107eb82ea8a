/**
 * Random tiny Llama models, written as real GGUF files by our writer, for the default test tier:
 * random weights, a small byte-level BPE vocabulary with ChatML specials, any supported weight type.
 */
import { writeGGUF } from "../../src/gguf/writer.js";
import { GGML, MetaType, type GGUFMetaValue } from "../../src/gguf/types.js";
import { quantize } from "../../src/gguf/dequant.js";
import { BYTE_TO_CHAR } from "../../src/tokenizer/bytelevel.js";
import { Rng } from "../../src/util/rng.js";

export interface TinySpec {
  readonly seed: number;
  readonly nLayers?: number; // default 2
  readonly dModel?: number; // default 64
  readonly nHeads?: number; // default 4
  readonly nKvHeads?: number; // default 2
  readonly dFF?: number; // default 96
  readonly matrixType?: number; // GGML type of the weight matrices (default F32)
  readonly embedType?: number; // GGML type of token_embd (default matrixType)
  readonly tied?: boolean; // default true (no output.weight)
  readonly weightScale?: number; // std of weights times sqrt(K); default 1.5 (peaky logits)
  readonly eos?: number; // tokenizer.ggml.eos_token_id (default TINY_EOS); the weights do not depend on it
  readonly chatTemplate?: string; // tokenizer.chat_template (default none)
}

export const SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
export const TINY_EOS = 2;
const MERGES = ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t"];

export function tinyVocab(): { tokens: string[]; types: number[]; merges: string[] } {
  const tokens = [...SPECIALS, ...BYTE_TO_CHAR];
  for (const m of MERGES) tokens.push(m.replace(" ", ""));
  const types = tokens.map((_, i) => (i < SPECIALS.length ? 3 : 1));
  return { tokens, types, merges: MERGES };
}

function gaussian(rng: Rng): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function randomMatrix(rng: Rng, rows: number, cols: number, scale: number): Float32Array {
  const a = new Float32Array(rows * cols);
  const std = scale / Math.sqrt(cols);
  for (let i = 0; i < a.length; i++) a[i] = gaussian(rng) * std;
  return a;
}

export function tinyModelBytes(spec: TinySpec): Uint8Array {
  const rng = new Rng(spec.seed);
  const L = spec.nLayers ?? 2;
  const D = spec.dModel ?? 64;
  const H = spec.nHeads ?? 4;
  const KV = spec.nKvHeads ?? 2;
  const F = spec.dFF ?? 96;
  const hd = D / H;
  const mt = spec.matrixType ?? GGML.F32;
  const et = spec.embedType ?? mt;
  const scale = spec.weightScale ?? 1.5;
  const vocab = tinyVocab();
  const V = vocab.tokens.length;

  const meta = new Map<string, GGUFMetaValue>();
  const u32 = (v: number): GGUFMetaValue => ({ type: MetaType.UINT32, value: v });
  const f32 = (v: number): GGUFMetaValue => ({ type: MetaType.FLOAT32, value: v });
  const str = (v: string): GGUFMetaValue => ({ type: MetaType.STRING, value: v });
  meta.set("general.architecture", str("llama"));
  meta.set("general.name", str(`tiny-${spec.seed}`));
  meta.set("llama.block_count", u32(L));
  meta.set("llama.context_length", u32(512));
  meta.set("llama.embedding_length", u32(D));
  meta.set("llama.feed_forward_length", u32(F));
  meta.set("llama.attention.head_count", u32(H));
  meta.set("llama.attention.head_count_kv", u32(KV));
  meta.set("llama.rope.freq_base", f32(10000));
  meta.set("llama.rope.dimension_count", u32(hd));
  meta.set("llama.attention.layer_norm_rms_epsilon", f32(1e-5));
  meta.set("tokenizer.ggml.model", str("gpt2"));
  meta.set("tokenizer.ggml.pre", str("smollm"));
  meta.set("tokenizer.ggml.tokens", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: vocab.tokens });
  meta.set("tokenizer.ggml.token_type", { type: MetaType.ARRAY, itemType: MetaType.INT32, value: vocab.types });
  meta.set("tokenizer.ggml.merges", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: vocab.merges });
  meta.set("tokenizer.ggml.bos_token_id", u32(1));
  meta.set("tokenizer.ggml.eos_token_id", u32(spec.eos ?? TINY_EOS));
  meta.set("tokenizer.ggml.add_bos_token", { type: MetaType.BOOL, value: false });
  if (spec.chatTemplate !== undefined) meta.set("tokenizer.chat_template", str(spec.chatTemplate));

  const tensors: { name: string; type: number; dims: number[]; data: Uint8Array }[] = [];
  const add = (name: string, type: number, rows: number, cols: number, values: Float32Array) => {
    const dims = rows === 1 ? [cols] : [cols, rows];
    tensors.push({ name, type, dims, data: quantize(type, values) });
  };
  const norm = (n: number) => Float32Array.from({ length: n }, () => 1 + 0.1 * gaussian(rng));
  add("token_embd.weight", et, V, D, randomMatrix(rng, V, D, scale * Math.sqrt(D) * 0.5));
  for (let l = 0; l < L; l++) {
    const p = `blk.${l}.`;
    add(p + "attn_norm.weight", GGML.F32, 1, D, norm(D));
    add(p + "attn_q.weight", mt, D, D, randomMatrix(rng, D, D, scale));
    add(p + "attn_k.weight", mt, KV * hd, D, randomMatrix(rng, KV * hd, D, scale));
    add(p + "attn_v.weight", mt, KV * hd, D, randomMatrix(rng, KV * hd, D, scale));
    add(p + "attn_output.weight", mt, D, D, randomMatrix(rng, D, D, scale));
    add(p + "ffn_norm.weight", GGML.F32, 1, D, norm(D));
    add(p + "ffn_gate.weight", mt, F, D, randomMatrix(rng, F, D, scale));
    add(p + "ffn_up.weight", mt, F, D, randomMatrix(rng, F, D, scale));
    add(p + "ffn_down.weight", mt, D, F, randomMatrix(rng, D, F, scale));
  }
  add("output_norm.weight", GGML.F32, 1, D, norm(D));
  if (spec.tied === false) add("output.weight", mt, V, D, randomMatrix(rng, V, D, scale * 2));
  return writeGGUF({ metadata: meta, tensors });
}

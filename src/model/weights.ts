/**
 * Places a GGUF model's tensors into WebAssembly memory, once, in the layout the kernels read.
 *
 * Two storage choices (the logits are bit-identical for both, because the matmul kernels dequantise in
 * registers with exactly the values `dequantRows` produces, see spec/kernels.md):
 *  - "native": tensors stay in their GGUF format (Q4_1 is ~5x smaller than f32);
 *  - "f32": every matrix is dequantised at load.
 *
 * GGUF's Llama converter permutes the rows of attn_q / attn_k so that RoPE rotates adjacent pairs
 * (x[2i], x[2i+1]). We undo that permutation here, so the engine uses the Hugging Face "rotate half"
 * pairing (x[i], x[i + headDim/2]) and every intermediate tensor matches transformers row for row.
 */
import { fail } from "../errors.js";
import type { GGUFFile, GGUFTensorInfo } from "../gguf/reader.js";
import type { ByteSource } from "../gguf/source.js";
import { GGML, rowBytes, blockSize } from "../wasm/kernels.js";
import type { WasmCore } from "../wasm/core.js";
import type { Arena } from "../wasm/arena.js";
import type { ModelConfig } from "./config.js";

export type WeightStorage = "native" | "f32";

/** W: N rows of K elements (GGUF dims [K, N]); y[t, n] = dot(x[t, :], W[n, :]). */
export interface Matrix {
  readonly name: string;
  readonly type: number;
  readonly ptr: number;
  readonly K: number;
  readonly N: number;
}

export interface LayerWeights {
  readonly attnNorm: number; // f32 [D]
  readonly wq: Matrix; // [D, D]
  readonly wk: Matrix; // [kvDim, D]
  readonly wv: Matrix; // [kvDim, D]
  readonly wo: Matrix; // [D, D]
  readonly ffnNorm: number; // f32 [D]
  readonly wGate: Matrix; // [F, D]
  readonly wUp: Matrix; // [F, D]
  readonly wDown: Matrix; // [D, F]
}

export interface ModelWeights {
  readonly tokenEmbd: Matrix; // [V, D]; rows are looked up, and with tied embeddings it is also the output head
  readonly layers: readonly LayerWeights[];
  readonly outputNorm: number; // f32 [D]
  readonly output: Matrix; // [V, D]
  readonly bytes: number; // bytes of WebAssembly memory the weights occupy
}

const SUPPORTED_TYPES: ReadonlySet<number> = new Set([GGML.F32, GGML.F16, GGML.BF16, GGML.Q8_0, GGML.Q4_0, GGML.Q4_1, GGML.Q4_K, GGML.Q6_K]);

export function loadWeights(
  file: GGUFFile,
  source: ByteSource,
  core: WasmCore,
  arena: Arena,
  cfg: ModelConfig,
  storage: WeightStorage,
): ModelWeights {
  const start = arena.used;
  const loader = new TensorLoader(file, source, core, arena, storage);
  const D = cfg.dModel;
  const kvDim = cfg.nKvHeads * cfg.headDim;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attnNorm: loader.vector(p + "attn_norm.weight", D),
      wq: loader.matrix(p + "attn_q.weight", D, D, cfg.nHeads),
      wk: loader.matrix(p + "attn_k.weight", D, kvDim, cfg.nKvHeads),
      wv: loader.matrix(p + "attn_v.weight", D, kvDim),
      wo: loader.matrix(p + "attn_output.weight", D, D),
      ffnNorm: loader.vector(p + "ffn_norm.weight", D),
      wGate: loader.matrix(p + "ffn_gate.weight", D, cfg.dFF),
      wUp: loader.matrix(p + "ffn_up.weight", D, cfg.dFF),
      wDown: loader.matrix(p + "ffn_down.weight", cfg.dFF, D),
    });
  }
  // The embedding table is looked up row by row (the `embed` kernel dequantises), so it stays native
  // unless it doubles as the output head, where it is a matmul like any other.
  const tied = !file.tensorByName.has("output.weight");
  const tokenEmbd = loader.matrix("token_embd.weight", D, cfg.vocabSize);
  const output = tied ? tokenEmbd : loader.matrix("output.weight", D, cfg.vocabSize);
  const outputNorm = loader.vector("output_norm.weight", D);
  return { tokenEmbd, layers, outputNorm, output, bytes: arena.used - start };
}

class TensorLoader {
  constructor(
    private readonly file: GGUFFile,
    private readonly source: ByteSource,
    private readonly core: WasmCore,
    private readonly arena: Arena,
    private readonly storage: WeightStorage,
  ) {}

  private info(name: string, dims: number[]): GGUFTensorInfo {
    const t = this.file.tensorByName.get(name);
    if (!t) fail("E_MODEL", `${this.file.name}: tensor ${name} is missing`);
    if (!SUPPORTED_TYPES.has(t.type)) fail("E_UNSUPPORTED", `${this.file.name}: tensor ${name} has type ${t.typeName}, which is not supported`);
    const same = t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]);
    if (!same) fail("E_MODEL", `${this.file.name}: tensor ${name} has shape [${t.dims}], expected [${dims}]`);
    return t;
  }

  /** Copies the tensor's bytes from the file into WebAssembly memory; returns the pointer. */
  private copyIn(t: GGUFTensorInfo): number {
    const ptr = this.arena.alloc(t.byteLength, 64);
    this.arena.u8(ptr, t.byteLength).set(this.source.read(t.offset, t.byteLength));
    return ptr;
  }

  /** A 1-D f32 vector (norm weights), dequantised if stored otherwise. */
  vector(name: string, n: number): number {
    const t = this.info(name, [n]);
    if (n % blockSize(t.type) !== 0) fail("E_MODEL", `${this.file.name}: tensor ${name} has ${n} elements, not a whole number of blocks`);
    return t.type === GGML.F32 ? this.copyIn(t) : this.dequantized(t, n, 1);
  }

  /**
   * A weight matrix of N rows by K columns. `ropeHeads` is given for attn_q / attn_k: their rows are
   * un-permuted from GGUF's adjacent-pair RoPE order back to rotate-half order.
   */
  matrix(name: string, K: number, N: number, ropeHeads?: number): Matrix {
    const t = this.info(name, [K, N]);
    if (K % blockSize(t.type) !== 0 || K % 4 !== 0) {
      fail("E_UNSUPPORTED", `${this.file.name}: tensor ${name} rows of ${K} elements are not a multiple of the ${t.typeName} block`);
    }
    const unpermute = (ptr: number) => {
      if (ropeHeads !== undefined) this.unpermuteRope(ptr, rowBytes(t.type, K), N, ropeHeads);
    };
    if (this.storage === "f32" && t.type !== GGML.F32) {
      return { name, type: GGML.F32, ptr: this.dequantized(t, K, N, unpermute), K, N };
    }
    const ptr = this.copyIn(t);
    unpermute(ptr);
    return { name, type: t.type, ptr, K, N };
  }

  /** f32 copy of a quantised tensor; the native bytes only pass through scratch memory. */
  private dequantized(t: GGUFTensorInfo, K: number, rows: number, prepare?: (nativePtr: number) => void): number {
    const out = this.arena.alloc(K * rows * 4, 64);
    const mark = this.arena.mark();
    const native = this.copyIn(t);
    prepare?.(native);
    this.core.exports.dequantRows(t.type, native, out, K, 0, rows);
    this.arena.reset(mark);
    return out;
  }

  /**
   * GGUF row h*hd + 2i + j holds Hugging Face row h*hd + j*(hd/2) + i (j in {0,1}, i < hd/2).
   * Rows are whole quantised rows, so this is a pure byte shuffle, exact for every format.
   */
  private unpermuteRope(ptr: number, bytesPerRow: number, N: number, nHeads: number): void {
    const hd = N / nHeads;
    const half = hd / 2;
    const mem = new Uint8Array(this.core.memory.buffer);
    const permuted = mem.slice(ptr, ptr + bytesPerRow * N);
    for (let h = 0; h < nHeads; h++) {
      for (let i = 0; i < half; i++) {
        for (let j = 0; j < 2; j++) {
          const from = h * hd + 2 * i + j;
          const to = h * hd + j * half + i;
          mem.set(permuted.subarray(from * bytesPerRow, (from + 1) * bytesPerRow), ptr + to * bytesPerRow);
        }
      }
    }
  }
}

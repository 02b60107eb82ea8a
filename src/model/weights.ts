/**
 * Places a GGUF model's tensors into WebAssembly memory, once, in the layout the kernels read.
 *
 * Storage choices:
 *  - "native": tensors stay in their GGUF format (Q4_1 is ~5x smaller than f32);
 *  - "f32": every matrix is dequantised at load into f32 panels (spec/kernels.md, "Packed layouts"), which
 *    the matmul streams front to back (faster than f32 rows: `npm run bench:kernels`). PANEL_F32 keeps the
 *    row-major kernel's order of operations, and the kernels dequantise in registers with exactly the
 *    values `dequantRows` produces, so logits are bit-identical to "native" and "f32-rows";
 *  - "f32-rows": every matrix dequantised to row-major f32 (GGML F32 rows). Same logits as "f32", slower;
 *    it exists for the trainers, whose backward kernels read rows (requireRowMajor);
 *  - "bf16": matrices repacked into bf16 panels: half the bytes of f32, the f32 dot-product order, so
 *    bit-identical to "f32" whenever the weights are bf16 values (otherwise each weight is rounded to
 *    nearest bf16: its own configuration, labelled as such);
 *  - "q8": matrices quantised to int8 panels (a scale per row and block of 32) against int8 activations
 *    (a scale per token row and block of 32): lossy by design, its own configuration, exact within itself
 *    and batch invariant. The relaxed-SIMD build stores 7-bit weight codes (its integer dot product needs
 *    one operand in [0, 127]), so "q8" on that build is again its own configuration.
 * With the panel storages ("f32", "bf16", "q8") the embedding table stays native for row lookups; the
 * output head is a packed copy of it when the embeddings are tied.
 *
 * GGUF's Llama converter permutes the rows of attn_q / attn_k so that RoPE rotates adjacent pairs
 * (x[2i], x[2i+1]). We undo that permutation here, so the engine uses the Hugging Face "rotate half"
 * pairing (x[i], x[i + headDim/2]) and every intermediate tensor matches transformers row for row.
 */
import { fail } from "../errors.js";
import type { GGUFFile, GGUFTensorInfo } from "../gguf/reader.js";
import { copyInto, type ByteSource } from "../gguf/source.js";
import { PANEL_OF, type ActivationBuffer, type Matrix, type MatrixLayout } from "../wasm/matrix.js";
import { GGML, PANEL, Q4_PANEL_TYPES, blockSize, packableK, packedBytes, q8RowBytes, rowBytes, type PanelLayout } from "../wasm/kernels.js";
import type { WasmCore } from "../wasm/core.js";
import type { Arena } from "../wasm/arena.js";
import type { ModelConfig } from "./config.js";

export type WeightStorage = "native" | "f32" | "f32-rows" | "bf16" | "q8" | "q4";

export const WEIGHT_STORAGES: readonly WeightStorage[] = ["native", "f32", "f32-rows", "bf16", "q8", "q4"];

/**
 * The storages worth decoding with (what `space bench` tries by default): "f32-rows" computes exactly
 * what "f32" computes, only slower, so it is left out (`--weights f32-rows` still selects it).
 */
export const DECODE_STORAGES: readonly WeightStorage[] = ["native", "f32", "bf16", "q8", "q4"];

/** The storages the trainers accept: every matrix row-major (the backward kernels read rows). */
export const ROW_MAJOR_STORAGES: readonly WeightStorage[] = ["native", "f32-rows"];

export { PANEL_OF, type ActivationBuffer, type Matrix, type MatrixLayout } from "../wasm/matrix.js";

/**
 * The layout a storage gives the model's matrices ("native" keeps the GGUF type's rows). "q4" gives
 * 4-bit matrices (Q4_0, Q4_1, Q4_K) "q4-panels" and every other matrix "q8-panels" (layoutFor).
 */
export const LAYOUT_OF: Readonly<Record<WeightStorage, MatrixLayout>> = {
  native: "rows", f32: "f32-panels", "f32-rows": "rows", bf16: "bf16-panels", q8: "q8-panels", q4: "q4-panels",
};

/** The layout of one matrix of GGML `type` under `storage`. */
export function layoutFor(storage: WeightStorage, type: number): MatrixLayout {
  if (storage === "q4" && !Q4_PANEL_TYPES.has(type)) return "q8-panels";
  return LAYOUT_OF[storage];
}

/** Whether the matrix's input rows are quantised to int8 first (quantizeRows) for its kernel. */
function quantisesInput(layout: MatrixLayout): boolean {
  return layout === "q8-panels" || layout === "q4-panels";
}

/** Whether m is GGML row-major (what `matmul`, `dequantRows` and the training kernels read). */
export function isRowMajor(m: Matrix): boolean {
  return (m.layout ?? "rows") === "rows";
}

/** Fails unless every matrix is row-major (the backward kernels read rows; packed panels are decode-only). */
export function requireRowMajor(w: ModelWeights, what: string): void {
  const all = [w.tokenEmbd, w.output, ...w.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown])];
  const packed = all.find((m) => !isRowMajor(m));
  if (packed) fail("E_ARGS", `${what} needs row-major weights (storage ${ROW_MAJOR_STORAGES.join(" or ")}), but ${packed.name} is stored as ${packed.layout}`);
}

/** Rows packed per piece when a matrix is repacked at load (a multiple of 4: whole panels). */
const PACK_CHUNK_ROWS = 4096;

/** Rows of the q8 activation buffer (a prefill chunk; longer blocks are quantised in pieces). */
export const ACTIVATION_ROWS = 64;

/** One line on what a storage computes, for `space info` (build: the WebAssembly core's). */
export function describeStorage(storage: WeightStorage, build: "plain" | "relaxed"): string {
  switch (storage) {
    case "native":
      return "as stored in the GGUF, dequantised in registers (exact: same logits as f32)";
    case "f32":
      return "f32 panels (exact: same logits as native and f32-rows)";
    case "f32-rows":
      return "f32 rows, row-major as training reads them (exact: same logits as native and f32; slower than f32 panels)";
    case "bf16":
      return "bf16 panels, f32 arithmetic (exact when the weights are bf16 values; otherwise rounded to bf16: its own configuration)";
    case "q8":
      return build === "relaxed"
        ? "int8 panels: 7-bit weights x 8-bit activations, scales per 32, relaxed-SIMD integer dot (lossy: its own configuration, exact within itself)"
        : "int8 panels: 8-bit weights x 8-bit activations, scales per 32, integer dot (lossy: its own configuration, exact within itself)";
    case "q4":
      return "4-bit panels: the GGUF's Q4_0/Q4_1/Q4_K codes kept as they are x 8-bit activations (other matrices as q8), integer dot (lossy: its own configuration, exact within itself)";
  }
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
  packChunkRows = PACK_CHUNK_ROWS, // rows repacked per piece (a multiple of 4); a parameter for the tests
): ModelWeights {
  if (!(Number.isInteger(packChunkRows) && packChunkRows >= 4 && packChunkRows % 4 === 0)) throw new RangeError("packChunkRows: a positive multiple of 4");
  const start = arena.used;
  const loader = new TensorLoader(file, source, core, arena, storage, packChunkRows);
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
  // The embedding table is looked up row by row (the `embed` kernel reads rows and dequantises), so it
  // stays native unless it doubles as the output head, where it is a matmul like any other ("f32-rows":
  // one f32 table for both; panel storages: the native table for lookups plus a packed copy for the head).
  const tied = !file.tensorByName.has("output.weight");
  const packed = LAYOUT_OF[storage] !== "rows";
  const tokenEmbd = packed ? loader.matrix("token_embd.weight", D, cfg.vocabSize, undefined, "native") : loader.matrix("token_embd.weight", D, cfg.vocabSize);
  const output = tied && !packed ? tokenEmbd : loader.matrix(tied ? "token_embd.weight" : "output.weight", D, cfg.vocabSize);
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
    private readonly packChunkRows: number,
  ) {}

  /** The activation buffer of "q8" storage (allocated with the first q8 matrix). */
  private act?: ActivationBuffer;

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
    copyInto(this.source, t.offset, this.arena.u8(ptr, t.byteLength));
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
  matrix(name: string, K: number, N: number, ropeHeads?: number, storage: WeightStorage = this.storage): Matrix {
    const t = this.info(name, [K, N]);
    if (K % blockSize(t.type) !== 0 || K % 4 !== 0) {
      fail("E_UNSUPPORTED", `${this.file.name}: tensor ${name} rows of ${K} elements are not a multiple of the ${t.typeName} block`);
    }
    const unpermute = (ptr: number) => {
      if (ropeHeads !== undefined) this.unpermuteRope(ptr, rowBytes(t.type, K), N, ropeHeads);
    };
    const layout = layoutFor(storage, t.type);
    if (layout !== "rows") {
      const code = PANEL_OF[layout] as PanelLayout;
      if (!packableK(code, K)) {
        fail("E_UNSUPPORTED", `${this.file.name}: tensor ${name} rows of ${K} elements cannot be stored as ${storage} (needs a multiple of ${code === PANEL.Q8 || code === PANEL.Q4 ? 32 : 4})`);
      }
      const ptr = this.packed(t, K, N, code, ropeHeads);
      return { name, type: t.type, ptr, K, N, layout, ...(quantisesInput(layout) ? { act: this.activationBuffer() } : {}) };
    }
    if (storage === "f32-rows" && t.type !== GGML.F32) {
      return { name, type: GGML.F32, ptr: this.dequantized(t, K, N, unpermute), K, N };
    }
    const ptr = this.copyIn(t);
    unpermute(ptr);
    return { name, type: t.type, ptr, K, N };
  }

  /**
   * Panels of `layout` made from the tensor, packChunkRows rows at a time (panels are independent groups
   * of 4 rows): the native bytes only pass through a scratch of a few MB, never the whole tensor (the
   * 49152-row embedding table is ~30 MB, which would stay resident in WebAssembly memory for the life of
   * the engine). With ropeHeads (attn_q / attn_k) a piece holds whole heads, un-permuted in the scratch.
   */
  private packed(t: GGUFTensorInfo, K: number, N: number, layout: PanelLayout, ropeHeads?: number): number {
    const out = this.arena.alloc(packedBytes(layout, K, N), 64);
    const mark = this.arena.mark();
    const rb = rowBytes(t.type, K);
    const headRows = ropeHeads === undefined ? 1 : N / ropeHeads;
    const unit = headRows % 4 === 0 ? headRows : 4 * headRows; // whole heads and whole panels
    const rows = Math.min(N, Math.max(unit, Math.floor(this.packChunkRows / unit) * unit));
    const native = this.arena.alloc(rows * rb, 64);
    const tmp = this.arena.alloc(4 * K * 4, 64);
    for (let r0 = 0; r0 < N; r0 += rows) {
      const n = Math.min(rows, N - r0);
      copyInto(this.source, t.offset + r0 * rb, this.arena.u8(native, n * rb));
      if (ropeHeads !== undefined) this.unpermuteRope(native, rb, n, n / headRows);
      this.core.exports.packRows(layout, t.type, native, K, n, out + packedBytes(layout, K, r0), tmp);
    }
    this.arena.reset(mark);
    return out;
  }

  private activationBuffer(): ActivationBuffer {
    if (!this.act) {
      const maxK = Math.max(...this.file.tensors.filter((t) => t.dims.length === 2).map((t) => t.dims[0]));
      this.act = { ptr: this.arena.alloc(ACTIVATION_ROWS * q8RowBytes(maxK), 64), rows: ACTIVATION_ROWS, maxK };
    }
    return this.act;
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

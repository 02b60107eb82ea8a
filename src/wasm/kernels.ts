/**
 * The TypeScript view of the WebAssembly core (build/space-{plain,relaxed}.wasm, built from assembly/):
 * the typed exports and the byte geometry of the weight formats. Contract: spec/kernels.md.
 *
 * Pointers are byte offsets into the core's shared memory. They are passed as JS numbers; the module takes
 * them as wasm i32, which wraps offsets >= 2^31 to the same 32 bits, so the whole 4 GiB is addressable.
 */
import { fail } from "../errors.js";
import { blockSize as ggufBlockSize, typeName as ggufTypeName, typeSize as ggufTypeSize } from "../gguf/types.js";

/** GGML type ids of the formats the core computes with. */
export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 } as const;

export type KernelType = (typeof GGML)[keyof typeof GGML];

const KERNEL_TYPES: ReadonlySet<number> = new Set(Object.values(GGML));

/** Block geometry of a format the core implements (from the GGUF type table; E_UNSUPPORTED otherwise). */
function geometry(type: number): { name: string; block: number; bytes: number } {
  if (!KERNEL_TYPES.has(type)) fail("E_UNSUPPORTED", `GGML tensor type ${type} is not supported by the WebAssembly core`);
  return { name: ggufTypeName(type), block: ggufBlockSize(type), bytes: ggufTypeSize(type) };
}

/** Whether the core implements this type. */
export function isKernelType(type: number): type is KernelType {
  return KERNEL_TYPES.has(type);
}

/** The format's name ("Q4_1"). */
export function typeName(type: number): string {
  return geometry(type).name;
}

/** Elements per block (1 for F32/F16/BF16, 32 for Q8_0/Q4_0/Q4_1, 256 for Q4_K/Q6_K). */
export function blockSize(type: number): number {
  return geometry(type).block;
}

/** Bytes per block. */
export function typeSize(type: number): number {
  return geometry(type).bytes;
}

/**
 * Packed weight layouts (spec/kernels.md, "Packed layouts"): 4-row panels the matmul streams front to
 * back. The codes are the `layout` argument of packRows / matmulPacked (not GGML type ids).
 */
export const PANEL = { F32: 1, BF16: 2, Q8: 3, Q4: 4 } as const;

/** GGUF types that PANEL.Q4 keeps as their 4-bit codes (any other type cannot be PANEL.Q4). */
export const Q4_PANEL_TYPES: ReadonlySet<number> = new Set([GGML.Q4_0, GGML.Q4_1, GGML.Q4_K]);

export type PanelLayout = (typeof PANEL)[keyof typeof PANEL];

/** Bytes of W [N, K] packed as `layout` (K a multiple of 4; of 32 for PANEL.Q8). */
export function packedBytes(layout: PanelLayout, K: number, N: number): number {
  const panels = Math.ceil(N / 4);
  if (layout === PANEL.F32) return panels * K * 16;
  if (layout === PANEL.BF16) return panels * K * 8;
  if (layout === PANEL.Q4) return panels * (K / 32) * 96;
  return panels * (K / 32) * 144;
}

/** Whether `layout` can hold rows of K elements. */
export function packableK(layout: PanelLayout, K: number): boolean {
  return Number.isInteger(K) && K > 0 && K % (layout === PANEL.Q8 || layout === PANEL.Q4 ? 32 : 4) === 0;
}

/** Scratch bytes of logitOrder for n logits: two u64 arrays of n and three digits' 2^11 counts. */
export function logitOrderScratch(n: number): number {
  return 16 * n + 3 * 4 * 2048;
}

/** Bytes of one activation row quantised by quantizeRows (K codes as i16, K/32 scales, K/32 i32, K/32 value sums). */
export function q8RowBytes(K: number): number {
  return 2 * K + 12 * (K / 32);
}

/** Bytes of one row of K elements; K must be a whole number of blocks. */
export function rowBytes(type: number, K: number): number {
  const g = geometry(type);
  if (!Number.isInteger(K) || K < 0 || K % g.block !== 0) {
    fail("E_MODEL", `a row of ${K} elements is not a whole number of ${g.name} blocks of ${g.block}`);
  }
  return (K / g.block) * g.bytes;
}

/**
 * The exports of the core. Every pointer is a byte offset (f32 arrays 16-byte aligned); shapes are
 * row-major. K and D are multiples of 4 (and of the format's block for quantised W); callers check.
 */
export interface KernelExports {
  /** First byte above the module's constant data: where the arena starts. */
  heapBase(): number;
  /** 1 for the relaxed-simd build (fused multiply-add in dot products), 0 for the plain one. */
  isRelaxed(): number;
  /** y[t*N + n] = dot(x[t, :], W[n, :]) for t < T, n in [n0, n1). x: f32 [T, K]; W: type [N, K]; y: f32 [T, N]. */
  matmul(type: number, x: number, w: number, y: number, T: number, K: number, N: number, n0: number, n1: number): void;
  /** Rows [r0, r1) of W: type [N, K] to f32 out[(r - r0) * K + k]. */
  dequantRows(type: number, w: number, out: number, K: number, r0: number, r1: number): void;
  /**
   * Repacks W: type [N, K] (row-major) into `layout` (PANEL) at dst (packedBytes(layout, K, N) bytes);
   * tmp: f32 [4, K] scratch. PANEL.Q8 quantises (8-bit weights in the plain build, 7-bit in the relaxed);
   * PANEL.Q4 copies the 4-bit codes of a Q4_0 / Q4_1 / Q4_K matrix (any other type: nothing written).
   */
  packRows(layout: number, type: number, w: number, K: number, N: number, dst: number, tmp: number): void;
  /**
   * y[t*N + n] = W[n, :] . x[t, :] for t < T, n in [n0, n1) (n0 a multiple of 4, n1 too or = N), W packed
   * by packRows. x: f32 [T, K], or for PANEL.Q8 / PANEL.Q4 the rows quantizeRows wrote (q8RowBytes(K) bytes each).
   */
  matmulPacked(layout: number, x: number, w: number, y: number, T: number, K: number, N: number, n0: number, n1: number): void;
  /**
   * A LoRA on R consecutive rows: y[t] += B (A x[t]). x: f32 [R, K]; y: f32 [R, N]; u: f32 scratch [R, r];
   * a: A [r, K] packed in `layout` (PANEL.F32 or PANEL.BF16); bt: B transposed, [r, N] row-major, f32 or
   * bf16 to match. K, N, r multiples of 4. Same bits as the two matmuls and `add` (spec/kernels.md, "LoRA").
   */
  loraAdd(layout: number, x: number, a: number, bt: number, y: number, u: number, R: number, K: number, N: number, r: number): void;
  /** Quantises rows of x: f32 [T, K] (K a multiple of 32) for PANEL.Q8 into xq (T rows of q8RowBytes(K) bytes). */
  quantizeRows(x: number, xq: number, T: number, K: number): void;
  /** Benchmark probe: reads [p, p + bytes) once (bytes a multiple of 64); returns a checksum. */
  probeRead(p: number, bytes: number): number;
  /** Benchmark probe: n steps of a 2 x 4 register tile on L1 operands at p (1 KiB); see assembly/probe.ts. */
  probePeak(kind: number, p: number, n: number): number;
  /** out[t, :] = dequantised row ids[t] of table: type [V, D]. ids: i32 [T]; out: f32 [T, D]. */
  embed(type: number, table: number, ids: number, T: number, D: number, out: number): void;
  /** y = (x * (1 / sqrt(dot(x, x) / D + eps))) * w per row. x, y: f32 [T, D] (may alias); w: f32 [D]. */
  rmsnorm(x: number, w: number, y: number, T: number, D: number, eps: number): void;
  /** cos, sin: f32 [T, headDim / 2] for positions pos: i32 [T] and rope base (theta). */
  ropeTable(pos: number, T: number, headDim: number, base: number, cos: number, sin: number): void;
  /** Rotate-half RoPE in place on heads [0, nHeads) of rows of x (rowStride in f32 elements). */
  ropeApply(x: number, cos: number, sin: number, T: number, nHeads: number, headDim: number, rowStride: number): void;
  /** out = (g / (1 + expf(-g))) * u over f32 [n]. */
  swiglu(gate: number, up: number, out: number, n: number): void;
  /** x += y over f32 [n]. */
  add(x: number, y: number, n: number): void;
  /** In-place softmax of f32 [n]. */
  softmax(x: number, n: number): void;
  /** y = expf(x) for f32 [n] through the four-lane expf (tests: bit-identical to the scalar expf). */
  expf4Rows(x: number, y: number, n: number): void;
  /**
   * The ids of logits: f32 [n] by descending logit (ties: lower id first), leaving out -inf, NaN, logits
   * below floor and ids with banned[i] != 0 (banned: u8 [n], or 0 for none), into out: i32 [n]; returns
   * their count. scratch: logitOrderScratch(n) bytes. The order of sampling's byDescendingLogit.
   */
  logitOrder(logits: number, n: number, floor: number, banned: number, out: number, scratch: number): number;
  /**
   * out[i] = exp((logits[ids[i]] - max) / temperature) in f64 (exp: Math.exp's bits, fdlibm) for i < n;
   * returns their sum in order from i = 0, or -1 when an id is outside [0, nLogits). logits: f32
   * [nLogits]; ids: i32 [n]; out: f64 [n].
   */
  logitWeights(logits: number, nLogits: number, ids: number, n: number, max: number, temperature: number, out: number): number;
  /**
   * The sum in id order of exp((logits[i] - max) / temperature) (f64, the core's exp) over the ids i < n
   * whose logit lies in [floor, max]; NaN logits never count. logits: f32 [n].
   */
  logitTotal(logits: number, n: number, floor: number, max: number, temperature: number): number;
  /**
   * Greedy decoding's argmax: the first id i < n not among the nBanned ids at banned (i32 [nBanned]) whose
   * logit is the largest of those ids' (NaN never counts); -1 when none is above -inf. logits: f32 [n].
   */
  logitArgmax(logits: number, n: number, banned: number, nBanned: number): number;
  /** y = exp(x) over f64 [n], through the core's exp two lanes at a time as logitWeights runs it (tests: bit for bit Math.exp). */
  expdRows(x: number, y: number, n: number): void;
  /**
   * Masked grouped-query attention for heads [h0, h1). q, out: f32 [T, nHeads * headDim]; k, v: f32
   * [nKeys, nKvHeads * headDim]; mask: u8 [T, nKeys] (1 = visible); scores: f32 [nKeys] scratch.
   */
  attention(
    q: number, k: number, v: number, mask: number, out: number, scores: number,
    T: number, nKeys: number, nHeads: number, nKvHeads: number, headDim: number, h0: number, h1: number, scale: number,
  ): void;

  // --- Backward kernels and the optimizer (training; spec/training.md). Reductions in a fixed order, so
  // gradients are batch-invariant like the forward; "+=" means the kernel adds into what is stored.

  /**
   * dx[t, k] (+)= sum over n in increasing n of dy[t, n] * W[n, k], for t < T, k in [k0, k1) (multiples of
   * 4; of 16 for quantised W). dy: f32 [T, N]; W: type [N, K]; dx: f32 [T, K]. accumulate: 1 adds to dx.
   */
  matmulBackX(type: number, dy: number, w: number, dx: number, T: number, K: number, N: number, k0: number, k1: number, accumulate: number): void;
  /** dw[n, k] += dy[t, n] * x[t, k] for t = 0 .. T-1 in order, n in [n0, n1). dy: f32 [T, N]; x: f32 [T, K]; dw: f32 [N, K]. */
  matmulBackW(dy: number, x: number, dw: number, T: number, K: number, N: number, n0: number, n1: number): void;
  /** rmsnorm backward: dx += dL/dx (x: the norm's input), dw += dL/dw (dw = 0: skipped). f32 [T, D], w / dw: [D]. */
  rmsnormBack(x: number, w: number, dy: number, dx: number, dw: number, T: number, D: number, eps: number): void;
  /** ropeApply backward (the transposed rotation), in place on the gradient; same arguments as ropeApply. */
  ropeApplyBack(x: number, cos: number, sin: number, T: number, nHeads: number, headDim: number, rowStride: number): void;
  /**
   * attention backward for the query heads of kv heads [g0, g1): dq written, dk / dv += (zero them first)
   * for the keys from kv0 on (keys below kv0 are constants to the caller: their dk / dv are left alone).
   * Shapes as `attention`; dout / dq like q, dk / dv like k; scratch: f32 [2 * nKeys].
   */
  attentionBack(
    q: number, k: number, v: number, mask: number, dout: number, dq: number, dk: number, dv: number, scratch: number,
    T: number, nKeys: number, nHeads: number, nKvHeads: number, headDim: number, g0: number, g1: number, kv0: number, scale: number,
  ): void;
  /** swiglu backward over f32 [n]: dgate, dup from gate, up and dout (dgate may alias gate, dup up). */
  swigluBack(gate: number, up: number, dout: number, dgate: number, dup: number, n: number): void;
  /** dtable[ids[t], :] += dx[t, :] for t in order. ids: i32 [T]; dx: f32 [T, D]; dtable: f32 [V, D]. */
  embedBack(ids: number, dx: number, dtable: number, T: number, D: number): void;
  /**
   * Softmax cross-entropy per row: losses[t] = w_t * (logsumexp - z_y), dlogits = (softmax - onehot(y)) *
   * w_t * scale; label -1 or weight 0: zeros. logits / dlogits f32 [T, V] (may alias); labels i32 [T];
   * weights, losses f32 [T].
   */
  crossEntropy(logits: number, labels: number, weights: number, dlogits: number, losses: number, T: number, V: number, scale: number): void;
  /** One AdamW update of f32 [n] (see spec/training.md for the formula and the meaning of each scalar). */
  adamw(
    p: number, g: number, m: number, v: number, n: number,
    beta1: number, omb1: number, beta2: number, omb2: number, eps: number, decay: number, stepSize: number, sqrtBc2: number, clip: number,
  ): void;
  /** Sum of squares of f32 [n], accumulated in f64 (four lanes, fixed order). */
  sumSquares(x: number, n: number): number;
}

/** Names of every export, for checking a module before trusting it. */
export const KERNEL_EXPORTS: readonly (keyof KernelExports)[] = [
  "heapBase", "isRelaxed", "matmul", "dequantRows", "packRows", "matmulPacked", "loraAdd", "quantizeRows", "probeRead", "probePeak", "embed", "rmsnorm", "ropeTable", "ropeApply",
  "swiglu", "add", "softmax", "expf4Rows", "logitOrder", "logitWeights", "logitTotal", "logitArgmax", "expdRows", "attention",
  "matmulBackX", "matmulBackW", "rmsnormBack", "ropeApplyBack", "attentionBack", "swigluBack", "embedBack",
  "crossEntropy", "adamw", "sumSquares",
];

/**
 * A weight matrix as the kernels see it in WebAssembly memory: where it is, its shape and how it lies
 * (GGML rows or packed panels). The runtime's vocabulary: the model layer (model/weights.ts) makes
 * matrices, the executors (src/threads/) run matmuls over them, neither knowing the other.
 */
import { PANEL, type PanelLayout } from "./kernels.js";

/**
 * How a matrix lies in memory: "rows" = GGML row-major of `type` (the `matmul` kernel), or packed 4-row
 * panels (the `matmulPacked` kernel; never pass those to the row-major kernels).
 */
export type MatrixLayout = "rows" | "f32-panels" | "bf16-panels" | "q8-panels" | "q4-panels";

/** The packed layout code of a matrix layout (0 for "rows"). */
export const PANEL_OF: Readonly<Record<MatrixLayout, PanelLayout | 0>> = {
  rows: 0, "f32-panels": PANEL.F32, "bf16-panels": PANEL.BF16, "q8-panels": PANEL.Q8, "q4-panels": PANEL.Q4,
};

/**
 * Where a "q8-panels" or "q4-panels" matrix's input rows are quantised before the matmul (quantizeRows): `rows` rows of
 * q8RowBytes(maxK) bytes, shared by every such matrix of the model (larger blocks run in pieces of
 * `rows`, which batch invariance makes invisible).
 */
export interface ActivationBuffer {
  readonly ptr: number;
  readonly rows: number;
  readonly maxK: number;
}

/** W: N rows of K elements (GGUF dims [K, N]); y[t, n] = dot(x[t, :], W[n, :]). */
export interface Matrix {
  readonly name: string;
  /** GGML type: of the rows (layout "rows"), or of the tensor the panels were made from. */
  readonly type: number;
  readonly ptr: number;
  readonly K: number;
  readonly N: number;
  /** Default "rows". */
  readonly layout?: MatrixLayout;
  /** "q8-panels" and "q4-panels" only. */
  readonly act?: ActivationBuffer;
}


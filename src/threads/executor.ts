/**
 * Where kernels run. The model calls an Executor for the two kinds of work worth splitting across
 * threads (matmuls by output rows, attention by heads); everything else is cheap and runs inline.
 *
 * Splitting never changes a result: each output element is computed by exactly one thread with the
 * same order of operations (spec/kernels.md), so any thread count gives bit-identical logits.
 */
import type { KernelExports } from "../wasm/kernels.js";
import type { Matrix } from "../model/weights.js";

export interface AttentionArgs {
  q: number; // f32 [T, nHeads * headDim]
  k: number; // f32 [nKeys, nKvHeads * headDim]
  v: number; // f32 [nKeys, nKvHeads * headDim]
  mask: number; // u8 [T, nKeys], 1 = visible
  out: number; // f32 [T, nHeads * headDim]
  T: number;
  nKeys: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  scale: number;
  scores: number; // f32 scratch [threads, scoresStride]: one slice per thread
  scoresStride: number; // floats per slice, >= nKeys
}

export interface Executor {
  readonly threads: number;
  /** y[T, m.N] = x[T, m.K] . W^T */
  matmul(m: Matrix, x: number, y: number, T: number): void;
  attention(a: AttentionArgs): void;
  /** Counters that let tests check which paths ran. */
  readonly counters: { matmulRows: number; multiRowCalls: number; parallelCalls: number };
  close(): void;
}

/** Runs everything on the calling thread. */
export class LocalExecutor implements Executor {
  readonly threads = 1;
  readonly counters = { matmulRows: 0, multiRowCalls: 0, parallelCalls: 0 };

  constructor(private readonly kernels: KernelExports) {}

  matmul(m: Matrix, x: number, y: number, T: number): void {
    this.counters.matmulRows += T;
    if (T > 1) this.counters.multiRowCalls++;
    this.kernels.matmul(m.type, x, m.ptr, y, T, m.K, m.N, 0, m.N);
  }

  attention(a: AttentionArgs): void {
    this.kernels.attention(a.q, a.k, a.v, a.mask, a.out, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, 0, a.nHeads, a.scale);
  }

  close(): void {}
}

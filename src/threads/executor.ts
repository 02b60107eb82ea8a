/**
 * Where kernels run. The model calls an Executor for the kinds of work worth splitting across threads
 * (matmuls by output rows, attention by heads; in training, their backwards by columns and kv heads);
 * everything else is cheap and runs inline.
 *
 * Splitting never changes a result: each output element is computed by exactly one thread with the
 * same order of operations (spec/kernels.md), so any thread count gives bit-identical logits.
 */
import type { KernelExports } from "../wasm/kernels.js";
import { PANEL_OF, type Matrix } from "../wasm/matrix.js";

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

/** The backward of attention (a training step): the same block, plus the output's and inputs' gradients. */
export interface AttentionBackArgs extends AttentionArgs {
  dout: number; // f32 [T, nHeads * headDim]: dL/d(out)
  dq: number; // f32 [T, nHeads * headDim], overwritten
  dk: number; // f32 [nKeys, nKvHeads * headDim], added to (the caller zeroes it)
  dv: number; // f32 [nKeys, nKvHeads * headDim], added to
  /** Keys below this one are constants: their dk / dv rows are not computed (default 0: every key). */
  kvFrom?: number;
  // scores: f32 scratch [threads, scoresStride], scoresStride >= 2 * nKeys (scores, then their gradients)
}

export interface Executor {
  readonly threads: number;
  /** y[T, m.N] = x[T, m.K] . W^T */
  matmul(m: Matrix, x: number, y: number, T: number): void;
  /**
   * ys[i][T, ms[i].N] = x[T, K] . ms[i]^T for every i: matrices that read the same input (q, k, v; gate,
   * up), as ONE unit of work, so a pool synchronises once for the group instead of once per matrix.
   * Every ms[i] has the same K (and, for "q8-panels", the same activation buffer).
   */
  matmuls(ms: readonly Matrix[], x: number, ys: readonly number[], T: number): void;
  attention(a: AttentionArgs): void;
  /**
   * The attention backward. A pool splits it by kv heads: dk and dv of a kv head are sums over its query
   * heads and every row, so one thread owns a kv head's whole group and adds in the one-thread order.
   */
  attentionBack(a: AttentionBackArgs): void;
  /**
   * Streams [ptr, ptr + bytes) once with every thread (bytes a multiple of 64; thread i reads its own
   * contiguous slice), the way a forward pass streams weights: the bandwidth probe of `space cost`.
   */
  probeRead(ptr: number, bytes: number): void;
  /**
   * The backward of a matmul with respect to its input, for a row-major m (storage "rows"):
   * dx[T, m.K] = dy[T, m.N] . W (or dx += when `accumulate`). A pool splits it by columns of dx in strips
   * of 16: each element still has one accumulator fed in increasing n, so the split changes no bit.
   */
  matmulBackX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void;
  /** Counters that let tests check which paths ran. */
  readonly counters: { matmulRows: number; multiRowCalls: number; parallelCalls: number };
  close(): void;
}

/** Checks that a group of matrices can share one input: the same K, and one activation buffer or none. */
export function checkGroup(ms: readonly Matrix[], ys: readonly number[]): void {
  if (ms.length === 0 || ms.length !== ys.length) throw new RangeError("matmuls: one output per matrix, at least one");
  for (const m of ms) {
    if (m.K !== ms[0].K || m.act?.ptr !== ms[0].act?.ptr) throw new RangeError(`matmuls: ${m.name} does not share ${ms[0].name}'s input`);
  }
}

/**
 * The pieces of T rows a matmul of m runs in: one, except for "q8-panels" blocks longer than the
 * activation buffer (each piece's rows are quantised into it first; batch invariance makes the split
 * invisible). x: f32 [T, K], y: f32 [T, N].
 */
export function matmulPieces(m: Matrix, x: number, y: number, T: number): { x: number; y: number; T: number }[] {
  const rows = m.act?.rows ?? T;
  if (T <= rows) return [{ x, y, T }];
  const out: { x: number; y: number; T: number }[] = [];
  for (let t = 0; t < T; t += rows) out.push({ x: x + t * m.K * 4, y: y + t * m.N * 4, T: Math.min(rows, T - t) });
  return out;
}

/** What the kernel reads for x: x itself, or (q8 panels) its rows quantised into m's activation buffer. */
export function matmulInput(k: KernelExports, m: Matrix, x: number, T: number): number {
  if (!m.act) return x;
  k.quantizeRows(x, m.act.ptr, T, m.K);
  return m.act.ptr;
}

/** Output rows [n0, n1) of one piece, on the calling thread, with the kernel of m's layout. */
export function matmulRange(k: KernelExports, m: Matrix, input: number, y: number, T: number, n0: number, n1: number): void {
  const panel = PANEL_OF[m.layout ?? "rows"];
  if (panel) k.matmulPacked(panel, input, m.ptr, y, T, m.K, m.N, n0, n1);
  else k.matmul(m.type, input, m.ptr, y, T, m.K, m.N, n0, n1);
}

/** Runs everything on the calling thread. */
export class LocalExecutor implements Executor {
  readonly threads = 1;
  readonly counters = { matmulRows: 0, multiRowCalls: 0, parallelCalls: 0 };

  constructor(private readonly kernels: KernelExports) {}

  matmul(m: Matrix, x: number, y: number, T: number): void {
    this.counters.matmulRows += T;
    if (T > 1) this.counters.multiRowCalls++;
    for (const p of matmulPieces(m, x, y, T)) matmulRange(this.kernels, m, matmulInput(this.kernels, m, p.x, p.T), p.y, p.T, 0, m.N);
  }

  /** As the pool does: each piece's input is quantised once for the whole group (q/k/v, gate/up), not per matrix. */
  matmuls(ms: readonly Matrix[], x: number, ys: readonly number[], T: number): void {
    checkGroup(ms, ys);
    this.counters.matmulRows += T * ms.length;
    if (T > 1) this.counters.multiRowCalls += ms.length;
    const K = ms[0].K;
    for (const p of matmulPieces(ms[0], x, ys[0], T)) {
      const t = (p.x - x) / (K * 4); // first row of the piece
      const input = matmulInput(this.kernels, ms[0], p.x, p.T);
      for (let i = 0; i < ms.length; i++) matmulRange(this.kernels, ms[i], input, ys[i] + t * ms[i].N * 4, p.T, 0, ms[i].N);
    }
  }

  attention(a: AttentionArgs): void {
    this.kernels.attention(a.q, a.k, a.v, a.mask, a.out, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, 0, a.nHeads, a.scale);
  }

  attentionBack(a: AttentionBackArgs): void {
    attentionBackHeads(this.kernels, a, a.scores, 0, a.nKvHeads);
  }

  probeRead(ptr: number, bytes: number): void {
    this.kernels.probeRead(ptr, bytes);
  }

  matmulBackX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void {
    backXRange(this.kernels, m, dy, dx, T, 0, m.K, accumulate);
  }

  close(): void {}
}

/**
 * Attention over units u = t * nHeads + h (row t, head h) in [u0, u1), on the calling thread: at most
 * three kernel calls (the tail of a first row, whole rows, the head of a last row), each with the block's
 * pointers moved to its first row. Rows are independent (each reads only q[t], mask[t] and the cache),
 * so a split by head x row computes every element exactly as the whole call would.
 */
export function attentionUnits(k: KernelExports, a: AttentionArgs, scores: number, u0: number, u1: number): void {
  const H = a.nHeads, D = H * a.headDim;
  const call = (t0: number, rows: number, h0: number, h1: number) =>
    k.attention(a.q + t0 * D * 4, a.k, a.v, a.mask + t0 * a.nKeys, a.out + t0 * D * 4, scores, rows, a.nKeys, H, a.nKvHeads, a.headDim, h0, h1, a.scale);
  let u = u0;
  if (u < u1 && u % H !== 0) {
    const t = Math.floor(u / H), h1 = Math.min(H, u1 - t * H);
    call(t, 1, u % H, h1);
    u = t * H + h1;
  }
  const whole = Math.floor((u1 - u) / H);
  if (whole > 0) {
    call(u / H, whole, 0, H);
    u += whole * H;
  }
  if (u < u1) call(u / H, 1, 0, u1 - u);
}

/** Kv heads [g0, g1) of the attention backward (with their query heads), on the calling thread. */
export function attentionBackHeads(k: KernelExports, a: AttentionBackArgs, scratch: number, g0: number, g1: number): void {
  if (g0 >= g1) return;
  k.attentionBack(a.q, a.k, a.v, a.mask, a.dout, a.dq, a.dk, a.dv, scratch, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, g0, g1, a.kvFrom ?? 0, a.scale);
}

/** Columns [k0, k1) of dx[T, m.K] = dy[T, m.N] . W (+= when accumulating), on the calling thread. */
export function backXRange(kernels: KernelExports, m: Matrix, dy: number, dx: number, T: number, k0: number, k1: number, accumulate: boolean): void {
  kernels.matmulBackX(m.type, dy, m.ptr, dx, T, m.K, m.N, k0, k1, accumulate ? 1 : 0);
}

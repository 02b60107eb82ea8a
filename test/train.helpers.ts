/**
 * Helpers of the training tests: f64 versions of the forward ops (the "truth" finite differences are taken
 * on), central finite differences, and the relative-error measure the gradient checks use.
 *
 * Finite differences are taken in f64 on these f64 ops with step FD_EPS: the truncation error is
 * O(FD_EPS^2) and the rounding error O(1e-16 / FD_EPS), both far below the f32 kernels' own rounding,
 * so what is measured is the backward kernels' error (f32 arithmetic), against a 1e-3 bound.
 */
import { expect } from "vitest";

export const FD_EPS = 1e-5;
export const GRAD_TOL = 1e-3;

/** dL/dθ_j for the given coordinates (default all) by central differences; θ is modified and restored. */
export function finiteDiff(theta: Float64Array, loss: () => number, coords?: readonly number[]): Float64Array {
  const idx = coords ?? Array.from(theta, (_, i) => i);
  const g = new Float64Array(idx.length);
  idx.forEach((j, i) => {
    const keep = theta[j];
    theta[j] = keep + FD_EPS;
    const up = loss();
    theta[j] = keep - FD_EPS;
    const down = loss();
    theta[j] = keep;
    g[i] = (up - down) / (2 * FD_EPS);
  });
  return g;
}

/** max_i |got_i - want_i| / max_i |want_i|: the error relative to the gradient's scale. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return den === 0 ? num : num / den;
}

export function expectGradClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const e = relError(got, want);
  if (!(e < GRAD_TOL)) expect.fail(`${what}: relative error ${e.toExponential(3)} >= ${GRAD_TOL}`);
}

/** sum_i a_i * r_i: the scalar loss whose gradient with respect to the op's output is r. */
export function project(a: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * r[i];
  return s;
}

export const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

// --- f64 forward ops (plain math, same semantics as the kernels) ---------------------------------------

/** y[t, n] = sum_k x[t, k] w[n, k]. */
export function matmul64(x: ArrayLike<number>, w: ArrayLike<number>, T: number, K: number, N: number): Float64Array {
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += x[t * K + k] * w[n * K + k];
    y[t * N + n] = s;
  }
  return y;
}

export function rmsnorm64(x: ArrayLike<number>, w: ArrayLike<number>, T: number, D: number, eps: number): Float64Array {
  const y = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < D; i++) ss += x[t * D + i] ** 2;
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) y[t * D + i] = x[t * D + i] * r * w[i];
  }
  return y;
}

/** Rotate-half RoPE (returns a copy) with the given tables. */
export function rope64(x: ArrayLike<number>, cos: ArrayLike<number>, sin: ArrayLike<number>, T: number, nHeads: number, headDim: number, rowStride: number): Float64Array {
  const y = Float64Array.from(x);
  const half = headDim / 2;
  for (let t = 0; t < T; t++) for (let h = 0; h < nHeads; h++) {
    const o = t * rowStride + h * headDim;
    for (let i = 0; i < half; i++) {
      const a = x[o + i], b = x[o + i + half], c = cos[t * half + i], s = sin[t * half + i];
      y[o + i] = a * c - b * s;
      y[o + i + half] = b * c + a * s;
    }
  }
  return y;
}

/** cos, sin tables in f64 for positions (f64 version of ropeTable). */
export function ropeTable64(pos: ArrayLike<number>, headDim: number, base: number): { cos: Float64Array; sin: Float64Array } {
  const half = headDim / 2;
  const cos = new Float64Array(pos.length * half), sin = new Float64Array(pos.length * half);
  for (let t = 0; t < pos.length; t++) for (let i = 0; i < half; i++) {
    const a = pos[t] * Math.pow(base, (-2 * i) / headDim);
    cos[t * half + i] = Math.cos(a);
    sin[t * half + i] = Math.sin(a);
  }
  return { cos, sin };
}

export interface AttnShape {
  T: number;
  nKeys: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  scale: number;
}

export function attention64(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, mask: Uint8Array, s: AttnShape): Float64Array {
  const { T, nKeys, nHeads, nKvHeads, headDim, scale } = s;
  const group = nHeads / nKvHeads, qs = nHeads * headDim, ks = nKvHeads * headDim;
  const out = new Float64Array(T * qs);
  const p = new Float64Array(nKeys);
  for (let t = 0; t < T; t++) for (let h = 0; h < nHeads; h++) {
    const qo = t * qs + h * headDim, ko = Math.floor(h / group) * headDim;
    let max = -Infinity;
    for (let j = 0; j < nKeys; j++) {
      if (!mask[t * nKeys + j]) continue;
      let d = 0;
      for (let i = 0; i < headDim; i++) d += q[qo + i] * k[j * ks + ko + i];
      p[j] = d * scale;
      max = Math.max(max, p[j]);
    }
    if (max === -Infinity) continue;
    let sum = 0;
    for (let j = 0; j < nKeys; j++) if (mask[t * nKeys + j]) sum += p[j] = Math.exp(p[j] - max);
    for (let j = 0; j < nKeys; j++) {
      if (!mask[t * nKeys + j]) continue;
      for (let i = 0; i < headDim; i++) out[qo + i] += (p[j] / sum) * v[j * ks + ko + i];
    }
  }
  return out;
}

export function swiglu64(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from(g, (x, i) => (x / (1 + Math.exp(-x))) * u[i]);
}

/** scale * sum_t w_t (logsumexp(z_t) - z_t[y_t]) over labelled rows. */
export function crossEntropy64(z: ArrayLike<number>, labels: ArrayLike<number>, weights: ArrayLike<number>, T: number, V: number, scale: number): number {
  let L = 0;
  for (let t = 0; t < T; t++) {
    if (labels[t] < 0 || weights[t] === 0) continue;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, z[t * V + i]);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(z[t * V + i] - m);
    L += weights[t] * (Math.log(s) + m - z[t * V + labels[t]]);
  }
  return L * scale;
}

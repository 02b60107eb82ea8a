/**
 * Plain TypeScript reference of the backward kernels and the optimizer of the WebAssembly core
 * (assembly/grad/), with the same order of f32 operations as the plain build (spec/kernels.md,
 * spec/training.md). The forward kernels' reference is reference.ts; the same emulation rule applies:
 * Math.fround after every operation equals the f32 instruction.
 *
 * Arrays are plain typed arrays; outputs that the kernels accumulate into are updated in place.
 */
import { dotRef, expf, ropeApplyRef, type AttentionShape } from "./reference.js";

const fr = Math.fround;

/**
 * dx[t, k] = sum over n (increasing) of dy[t, n] * w[n, k] (one accumulator from 0, product rounded then
 * added), or dx[t, k] + that sum when `accumulate`. w: f32 [N, K] (dequantise quantised matrices first:
 * the kernel uses the same values). Columns [k0, k1) only.
 */
export function matmulBackXRef(
  dy: Float32Array, w: Float32Array, dx: Float32Array, T: number, K: number, N: number, accumulate: boolean, k0 = 0, k1 = K,
): void {
  for (let t = 0; t < T; t++) {
    for (let k = k0; k < k1; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s = fr(s + fr(dy[t * N + n] * w[n * K + k]));
      dx[t * K + k] = accumulate ? fr(dx[t * K + k] + s) : s;
    }
  }
}

/** dw[n, k] += dy[t, n] * x[t, k] for t = 0 .. T-1 in order (rounded product, rounded add). Rows [n0, n1). */
export function matmulBackWRef(dy: Float32Array, x: Float32Array, dw: Float32Array, T: number, K: number, N: number, n0 = 0, n1 = N): void {
  for (let n = n0; n < n1; n++) {
    for (let k = 0; k < K; k++) {
      let s = dw[n * K + k];
      for (let t = 0; t < T; t++) s = fr(s + fr(dy[t * N + n] * x[t * K + k]));
      dw[n * K + k] = s;
    }
  }
}

/** rmsnorm backward: dx += ..., dw += ... (dw undefined: skipped). See assembly/grad/norm.ts. */
export function rmsnormBackRef(
  x: Float32Array, w: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array | undefined, T: number, D: number, eps: number,
): void {
  const e = fr(eps);
  for (let t = 0; t < T; t++) {
    const o = t * D;
    const r = fr(1 / fr(Math.sqrt(fr(fr(dotRef(x, o, x, o, D) / D) + e))));
    const lanes = [0, 0, 0, 0];
    for (let i = 0; i < D; i++) lanes[i & 3] = fr(lanes[i & 3] + fr(fr(dy[o + i] * w[i]) * x[o + i]));
    const c = fr(fr(lanes[0] + lanes[1]) + fr(lanes[2] + lanes[3]));
    const coef = fr(fr(fr(r * r) * r) * fr(c / D));
    for (let i = 0; i < D; i++) {
      const g = fr(dy[o + i] * w[i]);
      dx[o + i] = fr(dx[o + i] + fr(fr(r * g) - fr(x[o + i] * coef)));
      if (dw) dw[i] = fr(dw[i] + fr(dy[o + i] * fr(x[o + i] * r)));
    }
  }
}

/** ropeApply backward, in place on the gradient: the transposed rotation a*c + b*s, b*c - a*s. */
export function ropeApplyBackRef(
  x: Float32Array, cos: Float32Array, sin: Float32Array, T: number, nHeads: number, headDim: number, rowStride: number,
): void {
  ropeApplyRef(x, cos, sin, T, nHeads, headDim, rowStride, -1);
}

/** The forward's shape, with the work split by kv heads [g0, g1) (default all) instead of query heads. */
export interface AttentionBackShape extends Omit<AttentionShape, "h0" | "h1"> {
  g0?: number;
  g1?: number;
  /** dk / dv only for keys from kv0 on (default 0). */
  kv0?: number;
}

/** attention backward (assembly/grad/attention.ts): dq written for the heads of kv heads [g0, g1), dk / dv += for keys >= kv0. */
export function attentionBackRef(
  q: Float32Array, k: Float32Array, v: Float32Array, mask: Uint8Array, dout: Float32Array,
  dq: Float32Array, dk: Float32Array, dv: Float32Array, s: AttentionBackShape,
): void {
  const { T, nKeys, nHeads, nKvHeads, headDim } = s;
  const g0 = s.g0 ?? 0, g1 = s.g1 ?? nKvHeads, kv0 = s.kv0 ?? 0;
  const scale = fr(s.scale);
  const group = Math.trunc(nHeads / nKvHeads);
  const qStride = nHeads * headDim, kvStride = nKvHeads * headDim;
  const P = new Float32Array(nKeys), DP = new Float32Array(nKeys);
  for (let t = 0; t < T; t++) {
    for (let h = g0 * group; h < g1 * group; h++) {
      const qo = t * qStride + h * headDim;
      const kvo = Math.trunc(h / group) * headDim;
      dq.fill(0, qo, qo + headDim);
      const vis = (j: number) => mask[t * nKeys + j] !== 0;
      let max = -Infinity;
      let any = false;
      for (let j = 0; j < nKeys; j++) {
        if (!vis(j)) continue;
        const sj = fr(dotRef(q, qo, k, j * kvStride + kvo, headDim) * scale);
        P[j] = sj;
        if (!any || sj > max) max = sj;
        any = true;
      }
      if (!any) continue;
      let sum = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!vis(j)) continue;
        P[j] = expf(fr(P[j] - max));
        sum = fr(sum + P[j]);
      }
      const inv = fr(1 / sum);
      let dsum = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!vis(j)) continue;
        P[j] = fr(P[j] * inv);
        DP[j] = dotRef(dout, qo, v, j * kvStride + kvo, headDim);
        dsum = fr(dsum + fr(P[j] * DP[j]));
      }
      for (let j = 0; j < nKeys; j++) {
        if (!vis(j)) continue;
        const ds = fr(fr(P[j] * fr(DP[j] - dsum)) * scale);
        const ko = j * kvStride + kvo;
        for (let i = 0; i < headDim; i++) {
          dq[qo + i] = fr(dq[qo + i] + fr(ds * k[ko + i]));
          if (j < kv0) continue;
          dk[ko + i] = fr(dk[ko + i] + fr(ds * q[qo + i]));
          dv[ko + i] = fr(dv[ko + i] + fr(P[j] * dout[qo + i]));
        }
      }
    }
  }
}

/** swiglu backward: { dgate, dup }. */
export function swigluBackRef(gate: Float32Array, up: Float32Array, dout: Float32Array): { dgate: Float32Array; dup: Float32Array } {
  const n = gate.length;
  const dgate = new Float32Array(n), dup = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i], u = up[i], d = dout[i];
    const den = fr(1 + expf(-g));
    const sig = fr(1 / den);
    dup[i] = fr(d * fr(g / den));
    dgate[i] = fr(fr(d * u) * fr(sig * fr(1 + fr(g * fr(1 - sig)))));
  }
  return { dgate, dup };
}

/** dtable[ids[t], :] += dx[t, :] in row order. */
export function embedBackRef(ids: ArrayLike<number>, dx: Float32Array, dtable: Float32Array, D: number): void {
  for (let t = 0; t < ids.length; t++) {
    for (let i = 0; i < D; i++) dtable[ids[t] * D + i] = fr(dtable[ids[t] * D + i] + dx[t * D + i]);
  }
}

/** Softmax cross-entropy (assembly/grad/loss.ts): { dlogits, losses }. */
export function crossEntropyRef(
  logits: Float32Array, labels: ArrayLike<number>, weights: ArrayLike<number>, T: number, V: number, scale: number,
): { dlogits: Float32Array; losses: Float32Array } {
  const dlogits = new Float32Array(T * V);
  const losses = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    const y = labels[t], w = fr(weights[t]);
    if (y < 0 || w === 0) continue;
    const o = t * V;
    let m = logits[o];
    for (let i = 1; i < V; i++) if (logits[o + i] > m) m = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) {
      dlogits[o + i] = expf(fr(logits[o + i] - m));
      sum = fr(sum + dlogits[o + i]);
    }
    losses[t] = fr(w * (Math.log(sum) + (m - logits[o + y])));
    const ey = dlogits[o + y];
    const c = fr(w * fr(scale));
    for (let i = 0; i < V; i++) dlogits[o + i] = fr(fr(dlogits[o + i] / sum) * c);
    dlogits[o + y] = fr(fr(fr(ey / sum) - 1) * c);
  }
  return { dlogits, losses };
}

/** The scalars of one AdamW update (all f32), as the adamw kernel takes them. */
export interface AdamWScalars {
  beta1: number;
  omb1: number;
  beta2: number;
  omb2: number;
  eps: number;
  decay: number;
  stepSize: number;
  sqrtBc2: number;
  clip: number;
}

/** One AdamW update in place (assembly/grad/optim.ts). */
export function adamwRef(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWScalars): void {
  const s = Object.fromEntries(Object.entries(c).map(([k, x]) => [k, fr(x)])) as unknown as AdamWScalars;
  for (let i = 0; i < p.length; i++) {
    const gc = fr(g[i] * s.clip);
    const mi = fr(fr(s.beta1 * m[i]) + fr(s.omb1 * gc));
    const vi = fr(fr(s.beta2 * v[i]) + fr(s.omb2 * fr(gc * gc)));
    const pd = fr(p[i] * s.decay);
    m[i] = mi;
    v[i] = vi;
    p[i] = fr(pd - fr(s.stepSize * fr(mi / fr(fr(fr(Math.sqrt(vi)) / s.sqrtBc2) + s.eps))));
  }
}

/** Sum of squares in f64, four lanes (i mod 4), then (s0 + s1) + (s2 + s3). */
export function sumSquaresRef(x: ArrayLike<number>): number {
  const s = [0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) s[i & 3] += x[i] * x[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

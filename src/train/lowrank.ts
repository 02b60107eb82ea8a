/**
 * Rank truncation of a trained adapter: every LoRA term B A (B [N, R], A [R, K]) replaced by its best
 * rank-r approximation in the Frobenius norm (Eckart-Young: the r largest singular values of B A and
 * their singular vectors), split evenly between the two factors. The mask embeddings, k, the targets
 * and the base are kept; only the rank changes.
 *
 * Why: a mask row pays for every LoRA factor in every layer (spec/adapter.md, "What the LoRA still
 * costs"), and the SmolLM2 adapter's rank-16 terms are close to rank 4 (97% of their energy), so most of
 * those bytes and multiply-adds buy nothing.
 *
 * How, without forming the N x K product: B = Qb Rb and A^T = Qa Ra (thin QR), so B A = Qb (Rb Ra^T) Qa^T
 * and the SVD of the small R x R core C = Rb Ra^T = U S V^T gives B A's: singular values S, left vectors
 * Qb U, right vectors Qa V. Then B' = Qb U_r sqrt(S_r), A' = sqrt(S_r) V_r^T Qa^T. Everything runs in f64
 * (Gram-Schmidt, one-sided Jacobi) and is rounded to f32 once at the end.
 */
import { fail } from "../errors.js";
import { loraName, type AdapterData } from "../model/adapter.js";
import { Rng } from "../util/rng.js";

/** What truncation kept: the share of sum(S^2) over every term, and the largest dropped S relative to its term's largest. */
export interface TruncationReport {
  readonly energyKept: number;
  readonly worstDropped: number;
}

/** The adapter with every LoRA term truncated to rank `r` (1 <= r <= its rank), and what was kept. */
export function truncateRank(a: AdapterData, r: number): { adapter: AdapterData; report: TruncationReport } {
  const R = a.meta.rank;
  if (!Number.isInteger(r) || r < 1 || r > R) fail("E_ARGS", `rank ${r}: the adapter's rank is ${R}, so 1 to ${R}`);
  const lora = new Map<string, Float32Array>();
  let kept = 0, total = 0, worstDropped = 0;
  forEachTerm(a, (A, B, aName, bName) => {
    const term = truncateTerm(A, B, R, r);
    lora.set(aName, term.A);
    lora.set(bName, term.B);
    const s2 = term.singular.map((s) => s * s);
    total += s2.reduce((x, y) => x + y, 0);
    kept += s2.slice(0, r).reduce((x, y) => x + y, 0);
    if (term.singular[0] > 0 && r < R) worstDropped = Math.max(worstDropped, term.singular[r] / term.singular[0]);
  });
  return { adapter: { ...a, meta: { ...a.meta, rank: r }, lora }, report: { energyKept: total > 0 ? kept / total : 1, worstDropped } };
}

/**
 * The same adapter at a larger rank r, to train further with more room (`space train --init` needs the
 * run's rank): each term's A [R, K] gains r - R rows drawn as the trainer draws a fresh A (N(0, 1/K),
 * from `seed`), and B [N, R] gains r - R zero columns, so B' A' = B A term by term and every mask row's
 * logits are unchanged until training moves the new directions.
 */
export function widenRank(a: AdapterData, r: number, seed = 0): AdapterData {
  const R = a.meta.rank;
  if (!Number.isInteger(r) || r < R) fail("E_ARGS", `rank ${r}: widening needs an integer of at least the adapter's rank ${R}`);
  const rng = new Rng(seed);
  const lora = new Map<string, Float32Array>();
  forEachTerm(a, (A, B, aName, bName) => {
    const K = A.length / R, N = B.length / R;
    const A2 = new Float32Array(r * K), B2 = new Float32Array(N * r);
    A2.set(A);
    for (let i = R * K; i < r * K; i++) A2[i] = rng.gaussian() / Math.sqrt(K);
    for (let n = 0; n < N; n++) B2.set(B.subarray(n * R, (n + 1) * R), n * r);
    lora.set(aName, A2);
    lora.set(bName, B2);
  });
  return { ...a, meta: { ...a.meta, rank: r }, lora };
}

/** Calls fn with every LoRA term's factors A, B and their names, layer by layer, target by target. */
function forEachTerm(a: AdapterData, fn: (A: Float32Array, B: Float32Array, aName: string, bName: string) => void): void {
  for (let l = 0; l < a.meta.nLayers; l++) {
    for (const t of a.meta.targets) {
      const aName = loraName(l, t, "a"), bName = loraName(l, t, "b");
      const A = a.lora.get(aName), B = a.lora.get(bName);
      if (!A || !B) fail("E_MODEL", `adapter: layer ${l} ${t} lacks a LoRA factor`);
      fn(A, B, aName, bName);
    }
  }
}

/** One term: A [R, K], B [N, R] (row-major f32) to A' [r, K], B' [N, r]; singular values descending. */
export function truncateTerm(A: Float32Array, B: Float32Array, R: number, r: number): { A: Float32Array; B: Float32Array; singular: number[] } {
  const K = A.length / R, N = B.length / R;
  const At = new Float64Array(K * R); // A^T [K, R]
  for (let i = 0; i < R; i++) for (let k = 0; k < K; k++) At[k * R + i] = A[i * K + k];
  const qb = thinQR(Float64Array.from(B), N, R), qa = thinQR(At, K, R);
  const C = new Float64Array(R * R); // Rb Ra^T
  for (let i = 0; i < R; i++) {
    for (let j = 0; j < R; j++) {
      let d = 0;
      for (let k = 0; k < R; k++) d += qb.R[i * R + k] * qa.R[j * R + k];
      C[i * R + j] = d;
    }
  }
  const { U, S, V } = jacobiSVD(C, R);
  const order = Array.from({ length: R }, (_, i) => i).sort((x, y) => S[y] - S[x]);
  const B2 = new Float32Array(N * r), A2 = new Float32Array(r * K);
  for (let c = 0; c < r; c++) {
    const j = order[c], root = Math.sqrt(S[j]);
    for (let n = 0; n < N; n++) {
      let d = 0;
      for (let i = 0; i < R; i++) d += qb.Q[n * R + i] * U[i * R + j];
      B2[n * r + c] = d * root;
    }
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let i = 0; i < R; i++) d += qa.Q[k * R + i] * V[i * R + j];
      A2[c * K + k] = d * root;
    }
  }
  return { A: A2, B: B2, singular: order.map((j) => S[j]) };
}

/** Thin QR of M [m, R] by modified Gram-Schmidt (M is overwritten by Q): Q [m, R] with orthonormal columns (zero for a dependent one), R [R, R]. */
function thinQR(M: Float64Array, m: number, R: number): { Q: Float64Array; R: Float64Array } {
  const Q = M, Rm = new Float64Array(R * R);
  for (let j = 0; j < R; j++) {
    for (let i = 0; i < j; i++) {
      let d = 0;
      for (let t = 0; t < m; t++) d += Q[t * R + i] * Q[t * R + j];
      Rm[i * R + j] = d;
      for (let t = 0; t < m; t++) Q[t * R + j] -= d * Q[t * R + i];
    }
    let norm = 0;
    for (let t = 0; t < m; t++) norm += Q[t * R + j] ** 2;
    norm = Math.sqrt(norm);
    Rm[j * R + j] = norm;
    for (let t = 0; t < m; t++) Q[t * R + j] = norm > 0 ? Q[t * R + j] / norm : 0;
  }
  return { Q, R: Rm };
}

/** One-sided Jacobi SVD of C [n, n]: C = U diag(S) V^T (columns of U unit, or zero where S = 0). */
function jacobiSVD(C: Float64Array, n: number): { U: Float64Array; S: Float64Array; V: Float64Array } {
  const U = Float64Array.from(C), V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < n; i++) {
          alpha += U[i * n + p] ** 2;
          beta += U[i * n + q] ** 2;
          gamma += U[i * n + p] * U[i * n + q];
        }
        if (gamma === 0) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        // The rotation that makes columns p and q orthogonal.
        const zeta = (beta - alpha) / (2 * gamma);
        const tan = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cos = 1 / Math.sqrt(1 + tan * tan), sin = cos * tan;
        for (let i = 0; i < n; i++) {
          const up = U[i * n + p], uq = U[i * n + q];
          U[i * n + p] = cos * up - sin * uq;
          U[i * n + q] = sin * up + cos * uq;
          const vp = V[i * n + p], vq = V[i * n + q];
          V[i * n + p] = cos * vp - sin * vq;
          V[i * n + q] = sin * vp + cos * vq;
        }
      }
    }
    if (off < 1e-15) break;
  }
  const S = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let i = 0; i < n; i++) norm += U[i * n + j] ** 2;
    S[j] = Math.sqrt(norm);
    for (let i = 0; i < n; i++) U[i * n + j] = S[j] > 0 ? U[i * n + j] / S[j] : 0;
  }
  return { U, S, V };
}

/**
 * Rank truncation of an adapter (src/train/lowrank.ts): the kept product is B A's best rank-r
 * approximation (Eckart-Young), a term of rank <= r comes back unchanged, everything but the LoRA
 * factors and the rank is kept, and a rank outside [1, R] is refused.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { loraName, type AdapterData, type LoraTarget } from "../src/model/adapter.js";
import { truncateRank, truncateTerm, widenRank } from "../src/train/lowrank.js";
import { rng } from "./kernels.helpers.js";

/** B A as f64 [N, K]. */
function product(A: Float32Array, B: Float32Array, R: number): Float64Array {
  const K = A.length / R, N = B.length / R;
  const P = new Float64Array(N * K);
  for (let n = 0; n < N; n++) for (let i = 0; i < R; i++) for (let k = 0; k < K; k++) P[n * K + k] += B[n * R + i] * A[i * K + k];
  return P;
}

function frob2(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

function gaussian(r: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()));
}

describe("truncateTerm", () => {
  it("keeps B A's best rank-r approximation: the error is the dropped singular values, a rank-r term is unchanged", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 8, max: 40 }), fc.integer({ min: 8, max: 40 }), (seed, R, K, N) => {
        const r = rng(seed);
        const A = gaussian(r, R * K), B = gaussian(r, N * R);
        const full = product(A, B, R);
        const norm2 = full.reduce((s, v) => s + v * v, 0);
        for (let keep = 1; keep <= R; keep++) {
          const t = truncateTerm(A, B, R, keep);
          expect(t.A.length).toBe(keep * K);
          expect(t.B.length).toBe(N * keep);
          for (let i = 1; i < t.singular.length; i++) expect(t.singular[i]).toBeLessThanOrEqual(t.singular[i - 1] * (1 + 1e-12));
          // Eckart-Young: ||B A - B' A'||^2 = sum of the dropped singular values squared.
          const dropped = t.singular.slice(keep).reduce((s, v) => s + v * v, 0);
          const err = frob2(full, product(t.A, t.B, keep));
          expect(Math.abs(err - dropped)).toBeLessThanOrEqual(1e-5 * norm2 + 1e-9);
        }
        // A term of rank 2 (R >= 2) truncated to 2: the same product.
        if (R >= 2) {
          const low = new Float32Array(B);
          for (let n = 0; n < N; n++) for (let i = 2; i < R; i++) low[n * R + i] = 0;
          const exact = product(A, low, R), t = truncateTerm(A, low, R, 2);
          expect(frob2(exact, product(t.A, t.B, 2))).toBeLessThanOrEqual(1e-10 * exact.reduce((s, v) => s + v * v, 0) + 1e-12);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe("truncateRank", () => {
  const targets: LoraTarget[] = ["attn_q", "ffn_down"];
  const shapes: Record<string, { K: number; N: number }> = { attn_q: { K: 16, N: 16 }, ffn_down: { K: 24, N: 16 } };
  function adapter(R: number): AdapterData {
    const r = rng(7);
    const lora = new Map<string, Float32Array>();
    for (let l = 0; l < 2; l++) {
      for (const t of targets) {
        lora.set(loraName(l, t, "a"), gaussian(r, R * shapes[t].K));
        lora.set(loraName(l, t, "b"), gaussian(r, shapes[t].N * R));
      }
    }
    const meta = { baseSha256: "ab".repeat(32), baseName: "tiny", k: 3, rank: R, targets, maskToken: 5, maskEmbeddings: 3, nLayers: 2, dModel: 16 };
    return { meta, maskEmbd: gaussian(r, 3 * 16), lora };
  }

  it("changes only the rank and the factors, reports the energy kept, and refuses a rank outside [1, R]", () => {
    const a = adapter(8);
    const { adapter: t, report } = truncateRank(a, 3);
    expect(t.meta).toEqual({ ...a.meta, rank: 3 });
    expect(t.maskEmbd).toBe(a.maskEmbd);
    for (let l = 0; l < 2; l++) {
      for (const target of targets) {
        expect(t.lora.get(loraName(l, target, "a"))!.length).toBe(3 * shapes[target].K);
        expect(t.lora.get(loraName(l, target, "b"))!.length).toBe(shapes[target].N * 3);
      }
    }
    expect(report.energyKept).toBeGreaterThan(0);
    expect(report.energyKept).toBeLessThan(1); // random factors have full rank 8
    expect(report.worstDropped).toBeGreaterThan(0);
    expect(truncateRank(a, 8).report.energyKept).toBeCloseTo(1, 12);
    for (const bad of [0, 9, 2.5, NaN]) expect(() => truncateRank(a, bad)).toThrow(/rank/);
  });

  it("widenRank keeps every term's product B A (new B columns zero, A's old rows first) and refuses a smaller rank", () => {
    const a = adapter(3);
    const w = widenRank(a, 7, 11);
    expect(w.meta).toEqual({ ...a.meta, rank: 7 });
    expect(w.maskEmbd).toBe(a.maskEmbd);
    for (let l = 0; l < 2; l++) {
      for (const target of targets) {
        const { K, N } = shapes[target];
        const A = a.lora.get(loraName(l, target, "a"))!, B = a.lora.get(loraName(l, target, "b"))!;
        const A2 = w.lora.get(loraName(l, target, "a"))!, B2 = w.lora.get(loraName(l, target, "b"))!;
        expect(A2.length).toBe(7 * K);
        expect(B2.length).toBe(N * 7);
        expect(A2.subarray(0, 3 * K)).toEqual(A);
        // The new directions are live (trainable), not zero; their B columns are zero.
        expect(A2.subarray(3 * K).some((x) => x !== 0)).toBe(true);
        for (let n = 0; n < N; n++) {
          expect(B2.subarray(n * 7, n * 7 + 3)).toEqual(B.subarray(n * 3, n * 3 + 3));
          expect(B2.subarray(n * 7 + 3, n * 7 + 7).every((x) => x === 0)).toBe(true);
        }
      }
    }
    // Truncating the widened adapter back gives the same products as truncating the original.
    expect(truncateRank(w, 3).report.energyKept).toBeCloseTo(1, 6);
    for (const bad of [2, 3.5, NaN]) expect(() => widenRank(a, bad)).toThrow(/rank/);
    expect(widenRank(a, 3).lora.get(loraName(0, "attn_q", "a"))).toEqual(a.lora.get(loraName(0, "attn_q", "a")));
  });
});

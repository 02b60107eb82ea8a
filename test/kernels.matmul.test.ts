/**
 * matmul: vs the reference (plain: bit for bit; relaxed: FMA rounding, so within a tolerance), quantised
 * formats == F32 on the dequantised matrix bit for bit, and batch invariance (a row's result does not
 * depend on T, on its tile, or on the [n0, n1) split) in both builds.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GGML, blockSize, typeName } from "../src/wasm/kernels.js";
import { dequantRowsRef, matmulRef } from "../src/wasm/reference.js";
import { ALL_TYPES, BUILDS, expectClose, expectSameBits, harness, randF32, randInt, randomMatrix, rng, type Harness } from "./kernels.helpers.js";

/** y = matmul over rows [n0, n1) into a zeroed [T, N] buffer; returns a copy. */
function runMatmul(h: Harness, type: number, x: number, w: number, T: number, K: number, N: number, n0 = 0, n1 = N): Float32Array {
  const y = h.zeros(T * N);
  h.k.matmul(type, x, w, y, T, K, N, n0, n1);
  return h.read(y, T * N);
}

function kFor(type: number, r: () => number): number {
  const b = blockSize(type);
  if (b === 1) return 4 * randInt(r, 1, 160);
  return b * randInt(r, 1, b === 256 ? 6 : 48);
}

describe.each(BUILDS)("matmul (%s build)", (build) => {
  it("F32 matches the reference dot-product order", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 9), N = randInt(r, 1, 23), K = 4 * randInt(r, 1, 200);
        const x = randF32(r, T * K);
        const W = randF32(r, N * K);
        const want = matmulRef(x, W, T, K, N);
        h.scoped(() => {
          const got = runMatmul(h, GGML.F32, h.f32(x), h.f32(W), T, K, N);
          if (build === "plain") expectSameBits(got, want, `T=${T} K=${K} N=${N}`);
          else {
            // FMA rounds once per step: bound the difference by the sum of |x*w| (the dot's condition).
            const absW = W.map(Math.abs), absX = x.map(Math.abs);
            const mag = matmulRef(absX, absW, T, K, N);
            expectClose(got, want, (i) => 1e-5 * mag[i] + 1e-30, `T=${T} K=${K} N=${N}`);
          }
        });
      }),
      { numRuns: 60 },
    );
  });

  it.each(ALL_TYPES.map((t) => [typeName(t), t] as const))("matmul(%s, W) == matmul(F32, dequantRows(W)) bit for bit", async (_name, type) => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 5), N = randInt(r, 1, 11), K = kFor(type, r);
        const W = randomMatrix(type, N, K, r);
        const x = randF32(r, T * K);
        h.scoped(() => {
          const xp = h.f32(x);
          const wp = h.bytes(W, r() < 0.5);
          const deq = h.zeros(N * K);
          h.k.dequantRows(type, wp, deq, K, 0, N);
          const got = runMatmul(h, type, xp, wp, T, K, N);
          const viaF32 = runMatmul(h, GGML.F32, xp, deq, T, K, N);
          expectSameBits(got, viaF32, `${typeName(type)} T=${T} K=${K} N=${N}`);
          if (build === "plain") {
            expectSameBits(got, matmulRef(x, dequantRowsRef(type, W, K, 0, N), T, K, N), `${typeName(type)} vs reference`);
          }
        });
      }),
      { numRuns: 40 },
    );
  });

  it.each([GGML.F32, GGML.Q4_1, GGML.Q8_0, GGML.Q4_K, GGML.Q6_K, GGML.F16].map((t) => [typeName(t), t] as const))(
    "is batch invariant (%s): rows equal T=1 results and any [n0, n1) split",
    async (_name, type) => {
      const h = await harness(build);
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const r = rng(seed);
          const T = randInt(r, 1, 17);
          const N = 2 * randInt(r, 0, 12) + 1; // odd
          const K = blockSize(type) === 1 ? 4 * randInt(r, 1, 80) : blockSize(type) * randInt(r, 1, blockSize(type) === 256 ? 1 : 6);
          const W = randomMatrix(type, N, K, r);
          const x = randF32(r, T * K);
          h.scoped(() => {
            const xp = h.f32(x), wp = h.bytes(W);
            const full = runMatmul(h, type, xp, wp, T, K, N);
            // Each row alone (T = 1), at its own offset.
            for (let t = 0; t < T; t++) {
              const one = runMatmul(h, type, xp + t * K * 4, wp, 1, K, N);
              expectSameBits(one, full.subarray(t * N, (t + 1) * N), `row ${t} of T=${T} alone`);
            }
            // A random sub-block of rows [t0, t1) (changes the 2-row tiling).
            const t0 = randInt(r, 0, T - 1), t1 = randInt(r, t0 + 1, T);
            const sub = runMatmul(h, type, xp + t0 * K * 4, wp, t1 - t0, K, N);
            expectSameBits(sub, full.subarray(t0 * N, t1 * N), `rows [${t0},${t1}) of T=${T}`);
            // The n-range split into random pieces (as threads would).
            const y = h.zeros(T * N);
            let n = 0;
            while (n < N) {
              const n1 = randInt(r, n + 1, N);
              h.k.matmul(type, xp, wp, y, T, K, N, n, n1);
              n = n1;
            }
            expectSameBits(h.read(y, T * N), full, `split of N=${N}`);
          });
        }),
        { numRuns: 30 },
      );
    },
  );

  it("writes only [n0, n1) of y", async () => {
    const h = await harness(build);
    const r = rng(3);
    const T = 3, K = 32, N = 9;
    h.scoped(() => {
      const y = h.f32(new Float32Array(T * N).fill(-7));
      h.k.matmul(GGML.Q4_1, h.f32(randF32(r, T * K)), h.bytes(randomMatrix(GGML.Q4_1, N, K, r)), y, T, K, N, 2, 7);
      const out = h.read(y, T * N);
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          if (n < 2 || n >= 7) expect(out[t * N + n]).toBe(-7);
          else expect(out[t * N + n]).not.toBe(-7);
        }
      }
    });
  });
});

describe("matmul across builds", () => {
  it("plain and relaxed agree closely", async () => {
    const p = await harness("plain");
    const q = await harness("relaxed");
    const r = rng(11);
    const T = 4, K = 576, N = 13;
    const x = randF32(r, T * K);
    const W = randomMatrix(GGML.Q4_1, N, K, r);
    const a = p.scoped(() => runMatmul(p, GGML.Q4_1, p.f32(x), p.bytes(W), T, K, N));
    const b = q.scoped(() => runMatmul(q, GGML.Q4_1, q.f32(x), q.bytes(W), T, K, N));
    const absW = dequantRowsRef(GGML.Q4_1, W, K, 0, N).map(Math.abs);
    const mag = matmulRef(x.map(Math.abs), absW, T, K, N);
    expectClose(b, a, (i) => 1e-5 * mag[i] + 1e-30, "relaxed vs plain");
  });
});

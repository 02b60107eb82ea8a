/**
 * Packed weight layouts (PANEL.F32 / BF16 / Q8): packRows and quantizeRows write the reference's bytes;
 * PANEL.F32 equals the row-major F32 kernel bit for bit, PANEL.BF16 equals it on bf16-representable
 * weights; PANEL.Q8 equals its reference formula bit for bit (no fused operations in either build); and
 * every layout is batch invariant: a row's result does not depend on T, its tile, or the [n0, n1) split.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GGML, PANEL, packedBytes, q8RowBytes, typeName, type PanelLayout } from "../src/wasm/kernels.js";
import { dequantRowsRef, matmulRef } from "../src/wasm/reference.js";
import { bf16Bits, bf16Value, matmulQ4Ref, matmulQ8Ref, packQ4Ref, packRef, q4WeightsRef, q8WeightsRef, quantizeRowsRef } from "../src/wasm/reference-packed.js";
import { BUILDS, expectClose, expectSameBits, harness, randF32, randInt, randomMatrix, rng, type Harness } from "./kernels.helpers.js";

const LAYOUTS = [["F32", PANEL.F32], ["BF16", PANEL.BF16], ["Q8", PANEL.Q8], ["Q4", PANEL.Q4]] as const;

/** The 4-bit GGUF types PANEL.Q4 keeps as they are. */
const Q4_TYPES = [GGML.Q4_0, GGML.Q4_1, GGML.Q4_K] as const;

/** Whether the layout's kernel reads quantizeRows' rows rather than f32 rows. */
const integer = (layout: PanelLayout) => layout === PANEL.Q8 || layout === PANEL.Q4;

/** A random matrix in a type `layout` can be packed from (PANEL.Q4: a 4-bit type; K a multiple of 256 for Q4_K). */
function sourceFor(layout: PanelLayout, r: () => number, N: number, K: number): { type: number; W: Uint8Array } {
  if (layout !== PANEL.Q4) return { type: GGML.F32, W: new Uint8Array(randF32(r, N * K).buffer) };
  const type = K % 256 === 0 ? Q4_TYPES[randInt(r, 0, 2)] : Q4_TYPES[randInt(r, 0, 1)];
  return { type, W: randomMatrix(type, N, K, r) };
}

/** Packs W (`type` [N, K] bytes) in WASM memory; returns the packed pointer. */
function pack(h: Harness, layout: PanelLayout, type: number, W: Uint8Array, K: number, N: number): number {
  const dst = h.arena.alloc(packedBytes(layout, K, N), 16);
  const tmp = h.arena.alloc(4 * K * 4, 16);
  h.k.packRows(layout, type, h.bytes(W), K, N, dst, tmp);
  return dst;
}

/** y = matmulPacked over [n0, n1) into a zeroed [T, N] buffer (x quantised first for PANEL.Q8). */
function run(h: Harness, layout: PanelLayout, x: number, w: number, T: number, K: number, N: number, n0 = 0, n1 = N): Float32Array {
  const y = h.zeros(T * N);
  let input = x;
  if (integer(layout)) {
    input = h.arena.alloc(T * q8RowBytes(K), 16);
    h.k.quantizeRows(x, input, T, K);
  }
  h.k.matmulPacked(layout, input, w, y, T, K, N, n0, n1);
  return h.read(y, T * N);
}

/** K for a layout: a multiple of 32 for Q8, else of 4 (odd multiples of 4 too, for bf16's tail group). */
function kFor(layout: PanelLayout, r: () => number, max = 40): number {
  return integer(layout) ? 32 * randInt(r, 1, Math.ceil(max / 8)) : 4 * randInt(r, 1, max);
}

function bf16Representable(w: Float32Array): Float32Array {
  return w.map((v) => bf16Value(bf16Bits(v)));
}

describe.each(BUILDS)("packed layouts (%s build)", (build) => {
  const relaxed = build === "relaxed";

  it.each([GGML.F32, GGML.Q4_1, GGML.Q8_0, GGML.BF16].map((t) => [typeName(t), t] as const))(
    "packRows from %s writes the reference's bytes, for every layout",
    async (_name, type) => {
      const h = await harness(build);
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const r = rng(seed);
          for (const [name, layout] of LAYOUTS) {
            if (layout === PANEL.Q4) continue; // packs 4-bit types only: its own test below
            const quantised = type !== GGML.F32 && type !== GGML.BF16;
            const N = randInt(r, 1, 13), K = kFor(quantised ? PANEL.Q8 : layout, r);
            const W = randomMatrix(type, N, K, r);
            h.scoped(() => {
              const dst = pack(h, layout, type, W, K, N);
              const got = h.arena.u8(dst, packedBytes(layout, K, N)).slice();
              const want = packRef(layout, dequantRowsRef(type, W, K, 0, N), K, N, relaxed);
              const i = got.findIndex((b, j) => b !== want[j]);
              if (i >= 0) expect.fail(`${name} from ${typeName(type)} N=${N} K=${K}: byte ${i} is ${got[i]}, expected ${want[i]}`);
            });
          }
        }),
        { numRuns: 15 },
      );
    },
  );

  it("quantizeRows writes the reference's bytes (zero, tiny, saturated, tie and infinite blocks included)", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 6), K = 32 * randInt(r, 1, 6);
        const x = randF32(r, T * K, 10 ** randInt(r, -3, 3));
        // Some blocks all zero, some below the 2^-32 threshold, some with one huge value, some whose codes
        // fall on halves (ties round to even), some with an infinity (the general path; NaN below).
        for (let b = 0; b < (T * K) / 32; b++) {
          const kind = randInt(r, 0, 7);
          if (kind === 0) x.fill(0, 32 * b, 32 * b + 32);
          if (kind === 1) for (let i = 0; i < 32; i++) x[32 * b + i] *= 2 ** -40;
          if (kind === 2) x[32 * b + randInt(r, 0, 31)] = 3e30;
          if (kind === 3) for (let i = 0; i < 32; i++) x[32 * b + i] = i === 0 ? 127 : randInt(r, -127, 126) + 0.5;
          if (kind === 4) x[32 * b + randInt(r, 0, 31)] = randInt(r, 0, 1) ? Infinity : -Infinity;
        }
        h.scoped(() => {
          const xq = h.arena.alloc(T * q8RowBytes(K), 16);
          h.k.quantizeRows(h.f32(x), xq, T, K);
          const got = h.arena.u8(xq, T * q8RowBytes(K)).slice();
          const want = quantizeRowsRef(x, T, K, relaxed).image;
          // The relaxed build leaves the second half of each row's code area unwritten.
          const S = q8RowBytes(K);
          for (let i = 0; i < got.length; i++) {
            if (relaxed && i % S >= K && i % S < 2 * K) continue;
            if (got[i] !== want[i]) expect.fail(`T=${T} K=${K}: byte ${i} is ${got[i]}, expected ${want[i]}`);
          }
        });
      }),
      { numRuns: 40 },
    );
  });

  it("quantizeRows: a block with a NaN gets zero codes and a NaN scale (its sign is the CPU's), the others the reference's bytes", async () => {
    const h = await harness(build);
    const K = 96, S = q8RowBytes(K);
    const x = Float32Array.from({ length: K }, (_, i) => Math.sin(i) * 3);
    x[40] = NaN; // block 1
    h.scoped(() => {
      const xq = h.arena.alloc(S, 16);
      h.k.quantizeRows(h.f32(x), xq, 1, K);
      const got = h.arena.u8(xq, S).slice();
      const want = quantizeRowsRef(x, 1, K, relaxed).image;
      const view = new DataView(got.buffer);
      const codeBytes = relaxed ? 1 : 2;
      for (let i = 32; i < 64; i++) expect(relaxed ? view.getInt8(i) : view.getInt16(2 * i, true), `code ${i}`).toBe(0);
      expect(view.getFloat32(2 * K + 4, true)).toBeNaN();
      // Blocks 0 and 2 are untouched by block 1's NaN.
      for (const b of [0, 2]) {
        for (let i = 32 * b * codeBytes; i < 32 * (b + 1) * codeBytes; i++) expect(got[i], `byte ${i}`).toBe(want[i]);
        expect(view.getFloat32(2 * K + 4 * b, true)).toBe(new DataView(want.buffer).getFloat32(2 * K + 4 * b, true));
      }
    });
  });

  it("PANEL.F32 equals the row-major F32 kernel bit for bit (and the reference in the plain build)", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 9), N = randInt(r, 1, 23), K = 4 * randInt(r, 1, 160);
        const W = randF32(r, N * K);
        const x = randF32(r, T * K);
        h.scoped(() => {
          const xp = h.f32(x);
          const wp = h.f32(W);
          const got = run(h, PANEL.F32, xp, pack(h, PANEL.F32, GGML.F32, new Uint8Array(W.buffer), K, N), T, K, N);
          const y = h.zeros(T * N);
          h.k.matmul(GGML.F32, xp, wp, y, T, K, N, 0, N);
          expectSameBits(got, h.read(y, T * N), `T=${T} K=${K} N=${N}`);
          if (!relaxed) expectSameBits(got, matmulRef(x, W, T, K, N), `vs reference, T=${T} K=${K} N=${N}`);
        });
      }),
      { numRuns: 50 },
    );
  });

  it("PANEL.BF16 equals PANEL.F32 and the row-major kernel on bf16-representable weights", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 9), N = randInt(r, 1, 23), K = 4 * randInt(r, 1, 160);
        const W = bf16Representable(randF32(r, N * K));
        const x = randF32(r, T * K);
        h.scoped(() => {
          const xp = h.f32(x);
          const bytes = new Uint8Array(W.buffer);
          const viaBf16 = run(h, PANEL.BF16, xp, pack(h, PANEL.BF16, GGML.F32, bytes, K, N), T, K, N);
          const viaF32 = run(h, PANEL.F32, xp, pack(h, PANEL.F32, GGML.F32, bytes, K, N), T, K, N);
          expectSameBits(viaBf16, viaF32, `T=${T} K=${K} N=${N}`);
          // GGUF BF16 rows through the row-major kernel: the same values, the same order.
          const rows = new Uint8Array(N * K * 2);
          const dv = new DataView(rows.buffer);
          for (let i = 0; i < N * K; i++) dv.setUint16(2 * i, bf16Bits(W[i]), true);
          const y = h.zeros(T * N);
          h.k.matmul(GGML.BF16, xp, h.bytes(rows), y, T, K, N, 0, N);
          expectSameBits(viaBf16, h.read(y, T * N), `row-major BF16, T=${T} K=${K} N=${N}`);
        });
      }),
      { numRuns: 50 },
    );
  });

  it("PANEL.BF16 rounds other weights to nearest even (the reference on rounded weights, plain build)", async () => {
    const h = await harness(build);
    const r = rng(5);
    for (let rep = 0; rep < 10; rep++) {
      const T = randInt(r, 1, 5), N = randInt(r, 1, 9), K = 4 * randInt(r, 1, 50);
      const W = randF32(r, N * K);
      const x = randF32(r, T * K);
      h.scoped(() => {
        const got = run(h, PANEL.BF16, h.f32(x), pack(h, PANEL.BF16, GGML.F32, new Uint8Array(W.buffer), K, N), T, K, N);
        const want = matmulRef(x, bf16Representable(W), T, K, N);
        if (!relaxed) expectSameBits(got, want, `T=${T} K=${K} N=${N}`);
        else expectClose(got, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-5, `T=${T} K=${K} N=${N}`);
      });
    }
  });

  it("PANEL.Q8 equals its reference formula bit for bit", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 9), N = randInt(r, 1, 23), K = 32 * randInt(r, 1, 20);
        const W = randF32(r, N * K, 10 ** randInt(r, -2, 1));
        const x = randF32(r, T * K, 10 ** randInt(r, -2, 2));
        h.scoped(() => {
          const got = run(h, PANEL.Q8, h.f32(x), pack(h, PANEL.Q8, GGML.F32, new Uint8Array(W.buffer), K, N), T, K, N);
          const want = matmulQ8Ref(quantizeRowsRef(x, T, K, relaxed), q8WeightsRef(W, K, N, relaxed), T, K, N);
          expectSameBits(got, want, `T=${T} K=${K} N=${N}`);
        });
      }),
      { numRuns: 40 },
    );
  });

  it("PANEL.Q8 stays close to f32 (int8 weights and activations, one scale per 32)", async () => {
    const h = await harness(build);
    const r = rng(9);
    const T = 4, N = 16, K = 576;
    const W = randF32(r, N * K, 0.05);
    const x = randF32(r, T * K);
    h.scoped(() => {
      const got = run(h, PANEL.Q8, h.f32(x), pack(h, PANEL.Q8, GGML.F32, new Uint8Array(W.buffer), K, N), T, K, N);
      const exact = matmulRef(x, W, T, K, N);
      const mag = matmulRef(x.map(Math.abs), W.map(Math.abs), T, K, N);
      // Each product is off by at most about (1/127 + 1/Q) of its magnitude (Q = 63 relaxed).
      const rel = relaxed ? 1 / 127 + 1 / 63 : 2 / 127;
      expectClose(got, exact, (i) => rel * mag[i], "q8 vs f32");
    });
  });

  it.each(Q4_TYPES.map((t) => [typeName(t), t] as const))("PANEL.Q4 from %s: packRows writes the reference's bytes, and the matmul equals its formula bit for bit", async (_name, type) => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 9), N = randInt(r, 1, 23);
        const K = type === GGML.Q4_K ? 256 * randInt(r, 1, 3) : 32 * randInt(r, 1, 20);
        const W = randomMatrix(type, N, K, r);
        const x = randF32(r, T * K, 10 ** randInt(r, -2, 2));
        h.scoped(() => {
          const wp = pack(h, PANEL.Q4, type, W, K, N);
          const ref = q4WeightsRef(type, W, K, N);
          const got = h.arena.u8(wp, packedBytes(PANEL.Q4, K, N)).slice();
          const want = packQ4Ref(ref, K, N, relaxed);
          const i = got.findIndex((b, j) => b !== want[j]);
          if (i >= 0) expect.fail(`N=${N} K=${K}: byte ${i} is ${got[i]}, expected ${want[i]}`);
          const y = run(h, PANEL.Q4, h.f32(x), wp, T, K, N);
          expectSameBits(y, matmulQ4Ref(quantizeRowsRef(x, T, K, relaxed), ref, T, K, N), `T=${T} K=${K} N=${N}`);
        });
      }),
      { numRuns: 25 },
    );
  });

  it("PANEL.Q4 keeps the file's 4-bit weights: close to the f32 product with the dequantised rows (only activations are quantised)", async () => {
    const h = await harness(build);
    const r = rng(11);
    for (const type of Q4_TYPES) {
      const T = 5, N = 12, K = 512;
      const W = randomMatrix(type, N, K, r);
      const x = randF32(r, T * K);
      h.scoped(() => {
        const got = run(h, PANEL.Q4, h.f32(x), pack(h, PANEL.Q4, type, W, K, N), T, K, N);
        const Wf = dequantRowsRef(type, W, K, 0, N);
        const exact = matmulRef(x, Wf, T, K, N);
        const mag = matmulRef(x.map(Math.abs), Wf.map(Math.abs), T, K, N);
        // Each product is off by at most ~1/254 of its magnitude (activation codes round to half a step).
        expectClose(got, exact, (i) => mag[i] / 200 + 1e-6, `${typeName(type)}: q4 vs f32`);
      });
    }
  });

  it.each(LAYOUTS)("is batch invariant (%s): rows equal T=1 results, any tiling of T, any [n0, n1) split", async (name, layout) => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        // Occasionally wide enough that the n-chunk loop (about 256 KiB of weights per chunk) runs.
        const big = r() < 0.15;
        const T = randInt(r, 1, 20);
        const N = big ? randInt(r, 460, 620) : randInt(r, 1, 30);
        const K = big ? 512 : kFor(layout, r);
        const { type, W } = sourceFor(layout, r, N, K);
        const x = randF32(r, T * K);
        h.scoped(() => {
          const xp = h.f32(x);
          const wp = pack(h, layout, type, W, K, N);
          const full = run(h, layout, xp, wp, T, K, N);
          for (let t = 0; t < T; t++) {
            const one = run(h, layout, xp + t * K * 4, wp, 1, K, N);
            expectSameBits(one, full.subarray(t * N, (t + 1) * N), `${name}: row ${t} of T=${T} alone`);
          }
          const t0 = randInt(r, 0, T - 1), t1 = randInt(r, t0 + 1, T);
          expectSameBits(run(h, layout, xp + t0 * K * 4, wp, t1 - t0, K, N), full.subarray(t0 * N, t1 * N), `${name}: rows [${t0},${t1})`);
          // Split [0, N) at random multiples of 4, as the thread pool does.
          const y = h.zeros(T * N);
          let input = xp;
          if (integer(layout)) {
            input = h.arena.alloc(T * q8RowBytes(K), 16);
            h.k.quantizeRows(xp, input, T, K);
          }
          for (let n = 0; n < N; ) {
            const n1 = Math.min(N, n + 4 * randInt(r, 1, Math.ceil(N / 4)));
            h.k.matmulPacked(layout, input, wp, y, T, K, N, n, n1);
            n = n1;
          }
          expectSameBits(h.read(y, T * N), full, `${name}: split of N=${N}`);
        });
      }),
      { numRuns: 25 },
    );
  });

  // Ranges that end in a partial panel, one or two rows (T = 1 and 2, and a block's remainder row: such tiles
  // take panels two at a time, a full one beside a partial one) and guard floats after the last row.
  it("writes only [n0, n1) of y, partial panels and one- and two-row tiles included", async () => {
    const h = await harness(build);
    const r = rng(3);
    const GUARD = 8;
    for (const [, layout] of LAYOUTS) {
      for (const T of [1, 2, 3, 5]) {
        for (const [n0, n1] of [[4, 12], [4, 13], [0, 13], [8, 13]]) {
          const K = 64, N = 13;
          h.scoped(() => {
            const { type, W } = sourceFor(layout, r, N, K);
            const wp = pack(h, layout, type, W, K, N);
            let x = h.f32(randF32(r, T * K));
            if (integer(layout)) {
              const xq = h.arena.alloc(T * q8RowBytes(K), 16);
              h.k.quantizeRows(x, xq, T, K);
              x = xq;
            }
            const y = h.f32(new Float32Array(T * N + GUARD).fill(-7));
            h.k.matmulPacked(layout, x, wp, y, T, K, N, n0, n1);
            const out = h.read(y, T * N + GUARD);
            for (let t = 0; t < T; t++) {
              for (let n = 0; n < N; n++) {
                if (n < n0 || n >= n1) expect(out[t * N + n]).toBe(-7);
                else expect(out[t * N + n]).not.toBe(-7);
              }
            }
            for (let g = 0; g < GUARD; g++) expect(out[T * N + g]).toBe(-7);
          });
        }
      }
    }
  });
});

/**
 * The backward kernels (assembly/grad/): against central finite differences of f64 forward ops
 * (relative error < GRAD_TOL = 1e-3 with step FD_EPS = 1e-5, see train.helpers.ts), against the
 * TypeScript reference (bit for bit in the plain build), and the invariances training relies on: a row's
 * results do not depend on T, on tiles or on the thread split, and weight gradients accumulated over
 * consecutive calls equal one call over all rows.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { dequantRowsRef, ropeTableRef } from "../src/wasm/reference.js";
import {
  attentionBackRef, crossEntropyRef, embedBackRef, matmulBackWRef, matmulBackXRef, rmsnormBackRef, ropeApplyBackRef, swigluBackRef,
} from "../src/wasm/reference-backward.js";
import { GGML } from "../src/wasm/kernels.js";
import { BUILDS, QUANT_TYPES, expectClose, expectSameBits, harness, randF32, randInt, randomMatrix, rng, type Build, type Harness } from "./kernels.helpers.js";
import {
  attention64, crossEntropy64, expectGradClose, f64, finiteDiff, matmul64, project, rmsnorm64, rope64, swiglu64,
} from "./train.helpers.js";

/** Plain: bit-identical to the reference; relaxed (fused multiply-add in reductions): close. */
function expectRef(build: Build, got: Float32Array, want: Float32Array, what: string, tol: number | ((i: number) => number) = 1e-4): void {
  if (build === "plain") expectSameBits(got, want, what);
  else expectClose(got, want, typeof tol === "number" ? (i) => tol * (1 + Math.abs(want[i])) : tol, what);
}

const abs = (a: Float32Array) => a.map(Math.abs);

// --- WASM calls ----------------------------------------------------------------------------------------

function backX(h: Harness, type: number, dy: Float32Array, w: Uint8Array, T: number, K: number, N: number, o: { dx?: Float32Array; k0?: number; k1?: number } = {}): Float32Array {
  return h.scoped(() => {
    const dx = h.f32(o.dx ?? new Float32Array(T * K));
    h.k.matmulBackX(type, h.f32(dy), h.bytes(w), dx, T, K, N, o.k0 ?? 0, o.k1 ?? K, o.dx ? 1 : 0);
    return h.read(dx, T * K);
  });
}

function backW(h: Harness, dy: Float32Array, x: Float32Array, dw0: Float32Array, T: number, K: number, N: number, n0 = 0, n1 = N): Float32Array {
  return h.scoped(() => {
    const dw = h.f32(dw0);
    h.k.matmulBackW(h.f32(dy), h.f32(x), dw, T, K, N, n0, n1);
    return h.read(dw, N * K);
  });
}

function normBack(h: Harness, x: Float32Array, w: Float32Array, dy: Float32Array, dx0: Float32Array, dw0: Float32Array | undefined, T: number, D: number, eps: number) {
  return h.scoped(() => {
    const dx = h.f32(dx0), dw = dw0 ? h.f32(dw0) : 0;
    h.k.rmsnormBack(h.f32(x), h.f32(w), h.f32(dy), dx, dw, T, D, eps);
    return { dx: h.read(dx, T * D), dw: dw0 ? h.read(dw, D) : undefined };
  });
}

interface AttnProblem {
  T: number; nKeys: number; nHeads: number; nKvHeads: number; headDim: number; scale: number;
  q: Float32Array; k: Float32Array; v: Float32Array; mask: Uint8Array; dout: Float32Array;
}

function randomAttn(r: () => number, maxT = 5, maxKeys = 12): AttnProblem {
  const nKvHeads = randInt(r, 1, 2);
  const nHeads = nKvHeads * randInt(r, 1, 3);
  const headDim = 4 * randInt(r, 1, 4);
  const T = randInt(r, 1, maxT), nKeys = randInt(r, 1, maxKeys);
  const mask = new Uint8Array(T * nKeys);
  if (r() < 0.5) {
    for (let i = 0; i < mask.length; i++) mask[i] = r() < 0.6 ? 1 : 0;
  } else {
    // Shaped like an adapter's mask rows: a leading visible run (the prefix before the row's cut), long
    // invisible stretches, and a few visible keys further on (the row's own mask group).
    for (let t = 0; t < T; t++) {
      mask.fill(1, t * nKeys, t * nKeys + randInt(r, 0, nKeys));
      for (let j = 0; j < nKeys; j++) if (r() < 0.08) mask[t * nKeys + j] = 1;
    }
  }
  if (r() < 0.2) mask.fill(0, 0, nKeys);
  return {
    T, nKeys, nHeads, nKvHeads, headDim, scale: 1 / Math.sqrt(headDim), mask,
    q: randF32(r, T * nHeads * headDim, 1.5), k: randF32(r, nKeys * nKvHeads * headDim, 1.5),
    v: randF32(r, nKeys * nKvHeads * headDim, 1), dout: randF32(r, T * nHeads * headDim, 1),
  };
}

function attnBack(h: Harness, p: AttnProblem, g0 = 0, g1 = p.nKvHeads, dk0?: Float32Array, dv0?: Float32Array, kv0 = 0) {
  return h.scoped(() => {
    const nq = p.T * p.nHeads * p.headDim, nk = p.nKeys * p.nKvHeads * p.headDim;
    const dq = h.zeros(nq), dk = h.f32(dk0 ?? new Float32Array(nk)), dv = h.f32(dv0 ?? new Float32Array(nk));
    h.k.attentionBack(h.f32(p.q), h.f32(p.k), h.f32(p.v), h.bytes(p.mask), h.f32(p.dout), dq, dk, dv, h.zeros(2 * p.nKeys),
      p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, g0, g1, kv0, p.scale);
    return { dq: h.read(dq, nq), dk: h.read(dk, nk), dv: h.read(dv, nk) };
  });
}

function attnBackRef(p: AttnProblem) {
  const nq = p.T * p.nHeads * p.headDim, nk = p.nKeys * p.nKvHeads * p.headDim;
  const dq = new Float32Array(nq), dk = new Float32Array(nk), dv = new Float32Array(nk);
  attentionBackRef(p.q, p.k, p.v, p.mask, p.dout, dq, dk, dv, p);
  return { dq, dk, dv };
}

function ce(h: Harness, z: Float32Array, labels: Int32Array, w: Float32Array, T: number, V: number, scale: number, inPlace = false) {
  return h.scoped(() => {
    const zp = h.f32(z), dz = inPlace ? zp : h.zeros(T * V), losses = h.zeros(T);
    h.k.crossEntropy(zp, h.i32(labels), h.f32(w), dz, losses, T, V, scale);
    return { dlogits: h.read(dz, T * V), losses: h.read(losses, T) };
  });
}

function randomCE(r: () => number) {
  const T = randInt(r, 1, 5), V = randInt(r, 2, 40);
  const z = randF32(r, T * V, 6);
  // Sometimes the maximum is a zero held as both +0 and -0 (the kernel's lane-wise maximum may pick either).
  if (r() < 0.25) for (let i = 0; i < z.length; i++) z[i] = r() < 0.3 ? (r() < 0.5 ? 0 : -0) : -Math.abs(z[i]);
  const labels = Int32Array.from({ length: T }, () => (r() < 0.2 ? -1 : randInt(r, 0, V - 1)));
  const w = Float32Array.from({ length: T }, () => (r() < 0.15 ? 0 : Math.fround(0.25 + r())));
  return { T, V, z, labels, w, scale: Math.fround(1 / (1 + randInt(r, 0, 9))) };
}

// --- finite differences -------------------------------------------------------------------------------

describe.each(BUILDS)("backward kernels vs central finite differences (%s build)", (build) => {
  it("matmulBackX and matmulBackW", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const T = randInt(r, 1, 5), K = 4 * randInt(r, 1, 10), N = randInt(r, 1, 9);
      const x = randF32(r, T * K), w = randF32(r, N * K), dy = randF32(r, T * N);
      const X = f64(x), W = f64(w);
      const L = () => project(matmul64(X, W, T, K, N), dy);
      const dw0 = randF32(r, N * K); // dW accumulates: compare the increment
      const dw = backW(h, dy, x, dw0, T, K, N).map((v, i) => v - dw0[i]);
      expectGradClose(backX(h, GGML.F32, dy, new Uint8Array(w.buffer), T, K, N), finiteDiff(X, L), `dX T=${T} K=${K} N=${N}`);
      expectGradClose(dw, finiteDiff(W, L), `dW T=${T} K=${K} N=${N}`);
    }), { numRuns: 25 });
  });

  it("rmsnormBack", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const T = randInt(r, 1, 4), D = 4 * randInt(r, 1, 8), eps = 1e-5;
      const x = randF32(r, T * D, 2), w = randF32(r, D, 1.5), dy = randF32(r, T * D);
      const X = f64(x), W = f64(w);
      const L = () => project(rmsnorm64(X, W, T, D, Math.fround(eps)), dy);
      const got = normBack(h, x, w, dy, new Float32Array(T * D), new Float32Array(D), T, D, eps);
      expectGradClose(got.dx, finiteDiff(X, L), `dx T=${T} D=${D}`);
      expectGradClose(got.dw!, finiteDiff(W, L), `dw T=${T} D=${D}`);
    }), { numRuns: 25 });
  });

  it("ropeApplyBack", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const T = randInt(r, 1, 4), nHeads = randInt(r, 1, 3), headDim = 2 * randInt(r, 1, 6), rowStride = nHeads * headDim + randInt(r, 0, 3);
      const pos = Array.from({ length: T }, () => randInt(r, 0, 300));
      const { cos, sin } = ropeTableRef(pos, headDim, 10000);
      const x = randF32(r, T * rowStride), dy = randF32(r, T * rowStride);
      for (let t = 0; t < T; t++) dy.fill(0, t * rowStride + nHeads * headDim, (t + 1) * rowStride); // columns past the heads pass through
      const X = f64(x);
      const L = () => project(rope64(X, cos, sin, T, nHeads, headDim, rowStride), dy);
      const got = h.scoped(() => {
        const p = h.f32(dy);
        h.k.ropeApplyBack(p, h.f32(cos), h.f32(sin), T, nHeads, headDim, rowStride);
        return h.read(p, T * rowStride);
      });
      expectGradClose(got, finiteDiff(X, L), `T=${T} heads=${nHeads} hd=${headDim}`);
    }), { numRuns: 25 });
  });

  it("attentionBack (masked, grouped-query)", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const p = randomAttn(rng(seed));
      const Q = f64(p.q), K = f64(p.k), V = f64(p.v);
      const L = () => project(attention64(Q, K, V, p.mask, p), p.dout);
      const got = attnBack(h, p);
      const what = `T=${p.T} keys=${p.nKeys} heads=${p.nHeads}/${p.nKvHeads} hd=${p.headDim}`;
      expectGradClose(got.dq, finiteDiff(Q, L), `dq ${what}`);
      expectGradClose(got.dk, finiteDiff(K, L), `dk ${what}`);
      expectGradClose(got.dv, finiteDiff(V, L), `dv ${what}`);
    }), { numRuns: 25 });
  });

  it("swigluBack", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const n = randInt(r, 1, 40);
      const g = randF32(r, n, 6), u = randF32(r, n, 2), d = randF32(r, n);
      const G = f64(g), U = f64(u);
      const L = () => project(swiglu64(G, U), d);
      const got = h.scoped(() => {
        const dg = h.zeros(n), du = h.zeros(n);
        h.k.swigluBack(h.f32(g), h.f32(u), h.f32(d), dg, du, n);
        return { dg: h.read(dg, n), du: h.read(du, n) };
      });
      expectGradClose(got.dg, finiteDiff(G, L), `dgate n=${n}`);
      expectGradClose(got.du, finiteDiff(U, L), `dup n=${n}`);
    }), { numRuns: 25 });
  });

  it("embedBack", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const V = randInt(r, 1, 8), D = 4 * randInt(r, 1, 4), T = randInt(r, 1, 10);
      const ids = Int32Array.from({ length: T }, () => randInt(r, 0, V - 1)); // repeats: rows add up
      const table = randF32(r, V * D), dy = randF32(r, T * D);
      const E = f64(table);
      const L = () => project(Float64Array.from({ length: T * D }, (_, i) => E[ids[Math.floor(i / D)] * D + (i % D)]), dy);
      const got = h.scoped(() => {
        const dt = h.zeros(V * D);
        h.k.embedBack(h.i32(ids), h.f32(dy), dt, T, D);
        return h.read(dt, V * D);
      });
      expectGradClose(got, finiteDiff(E, L), `V=${V} D=${D} T=${T}`);
    }), { numRuns: 25 });
  });

  it("crossEntropy: dlogits and the loss", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const { T, V, z, labels, w, scale } = randomCE(rng(seed));
      const Z = f64(z);
      const L = () => crossEntropy64(Z, labels, w, T, V, scale);
      const got = ce(h, z, labels, w, T, V, scale);
      expectGradClose(got.dlogits, finiteDiff(Z, L), `dlogits T=${T} V=${V}`);
      const loss = got.losses.reduce((a, b) => a + b, 0) * scale;
      expect(Math.abs(loss - L())).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(L())));
    }), { numRuns: 25 });
  });
});

// --- the reference --------------------------------------------------------------------------------------

describe.each(BUILDS)("backward kernels vs the TypeScript reference (%s build)", (build) => {
  it("matmulBackX for every weight format, accumulating or not, and matmulBackW", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const type = [GGML.F32, GGML.F16, GGML.BF16, ...QUANT_TYPES][randInt(r, 0, 7)];
      const block = type === GGML.Q4_K || type === GGML.Q6_K ? 256 : type === GGML.F32 || type === GGML.F16 || type === GGML.BF16 ? 4 : 32;
      const K = block * randInt(r, 1, block === 4 ? 24 : block === 32 ? 3 : 1);
      const T = randInt(r, 1, 5), N = randInt(r, 1, 11);
      const wb = randomMatrix(type, N, K, r);
      const wf = dequantRowsRef(type, wb, K, 0, N);
      const dy = randF32(r, T * N);
      const acc = r() < 0.5 ? randF32(r, T * K) : undefined;
      const want = acc ? acc.slice() : new Float32Array(T * K);
      matmulBackXRef(dy, wf, want, T, K, N, acc !== undefined);
      // Relaxed: fused products; the error is relative to sum |dy * w| (quantised scales can be huge and cancel).
      const mag = acc ? abs(acc) : new Float32Array(T * K);
      matmulBackXRef(abs(dy), abs(wf), mag, T, K, N, true);
      expectRef(build, backX(h, type, dy, wb, T, K, N, { dx: acc }), want, `backX type=${type} T=${T} K=${K} N=${N}`, (i) => 1e-5 * mag[i]);
      if (type === GGML.F32) {
        const x = randF32(r, T * K), dw0 = randF32(r, N * K);
        const wantW = dw0.slice();
        matmulBackWRef(dy, x, wantW, T, K, N);
        expectRef(build, backW(h, dy, x, dw0, T, K, N), wantW, `backW T=${T} K=${K} N=${N}`);
      }
    }), { numRuns: 60 });
  });

  it("rmsnormBack, ropeApplyBack, swigluBack, embedBack, crossEntropy", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      // rmsnorm
      const T = randInt(r, 1, 5), D = 4 * randInt(r, 1, 40);
      const x = randF32(r, T * D, 3), w = randF32(r, D, 2), dy = randF32(r, T * D), dx0 = randF32(r, T * D), dw0 = randF32(r, D);
      const wantDx = dx0.slice(), wantDw = dw0.slice();
      rmsnormBackRef(x, w, dy, wantDx, wantDw, T, D, 1e-5);
      const got = normBack(h, x, w, dy, dx0, r() < 0.8 ? dw0 : undefined, T, D, 1e-5);
      expectRef(build, got.dx, wantDx, `rmsnorm dx T=${T} D=${D}`);
      if (got.dw) expectRef(build, got.dw, wantDw, `rmsnorm dw T=${T} D=${D}`);
      // rope (no reduction: bit-identical in both builds)
      const nHeads = randInt(r, 1, 4), headDim = 2 * randInt(r, 1, 20), stride = nHeads * headDim + randInt(r, 0, 5);
      const { cos, sin } = ropeTableRef(Array.from({ length: T }, () => randInt(r, 0, 5000)), headDim, 10000);
      const g = randF32(r, T * stride, 2);
      const wantRope = g.slice();
      ropeApplyBackRef(wantRope, cos, sin, T, nHeads, headDim, stride);
      expectSameBits(h.scoped(() => {
        const p = h.f32(g);
        h.k.ropeApplyBack(p, h.f32(cos), h.f32(sin), T, nHeads, headDim, stride);
        return h.read(p, T * stride);
      }), wantRope, "ropeApplyBack");
      // swiglu (element-wise: bit-identical in both builds), in place too
      const n = randInt(r, 1, 300);
      const ga = randF32(r, n, 12), ua = randF32(r, n, 3), da = randF32(r, n);
      const sw = swigluBackRef(ga, ua, da);
      h.scoped(() => {
        const gp = h.f32(ga), up = h.f32(ua);
        h.k.swigluBack(gp, up, h.f32(da), gp, up, n);
        expectSameBits(h.read(gp, n), sw.dgate, "swigluBack dgate (in place)");
        expectSameBits(h.read(up, n), sw.dup, "swigluBack dup (in place)");
      });
      // embedBack
      const V = randInt(r, 1, 9);
      const ids = Int32Array.from({ length: T }, () => randInt(r, 0, V - 1));
      const t0 = randF32(r, V * D), wantT = t0.slice();
      embedBackRef(ids, dy, wantT, D);
      expectSameBits(h.scoped(() => {
        const tp = h.f32(t0);
        h.k.embedBack(h.i32(ids), h.f32(dy), tp, T, D);
        return h.read(tp, V * D);
      }), wantT, "embedBack");
      // cross-entropy (element-wise after the softmax's sum: bit-identical in both builds), in place too
      const c = randomCE(r);
      const wantCE = crossEntropyRef(c.z, c.labels, c.w, c.T, c.V, c.scale);
      const gotCE = ce(h, c.z, c.labels, c.w, c.T, c.V, c.scale, r() < 0.5);
      expectSameBits(gotCE.dlogits, wantCE.dlogits, "crossEntropy dlogits");
      expectSameBits(gotCE.losses, wantCE.losses, "crossEntropy losses");
    }), { numRuns: 60 });
  });

  it("attentionBack", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const p = randomAttn(rng(seed), 6, 40);
      p.headDim = 4 * randInt(rng(seed + 1), 1, 20);
      const r = rng(seed + 2);
      p.q = randF32(r, p.T * p.nHeads * p.headDim, 3);
      p.k = randF32(r, p.nKeys * p.nKvHeads * p.headDim, 3);
      p.v = randF32(r, p.nKeys * p.nKvHeads * p.headDim, 2);
      p.dout = randF32(r, p.T * p.nHeads * p.headDim);
      p.scale = 1 / Math.sqrt(p.headDim);
      const want = attnBackRef(p), got = attnBack(h, p);
      expectRef(build, got.dq, want.dq, "dq", 1e-3);
      expectRef(build, got.dk, want.dk, "dk", 1e-3);
      expectRef(build, got.dv, want.dv, "dv", 1e-3);
      // Keys below kv0 are constants: their dk / dv rows keep what they held, the rest is the full call's.
      const kv0 = randInt(r, 0, p.nKeys), kv = p.nKvHeads * p.headDim;
      const dk0 = randF32(r, p.nKeys * kv), dv0 = randF32(r, p.nKeys * kv);
      const from = attnBack(h, p, 0, p.nKvHeads, dk0, dv0, kv0);
      const wantFrom = { ...want, dk: new Float32Array(dk0), dv: new Float32Array(dv0) };
      attentionBackRef(p.q, p.k, p.v, p.mask, p.dout, new Float32Array(wantFrom.dq.length), wantFrom.dk, wantFrom.dv, { ...p, kv0 });
      expectSameBits(from.dq, got.dq, `dq with kv0 ${kv0}`);
      expectSameBits(from.dk.subarray(0, kv0 * kv), dk0.subarray(0, kv0 * kv), `dk below kv0 ${kv0} untouched`);
      expectSameBits(from.dv.subarray(0, kv0 * kv), dv0.subarray(0, kv0 * kv), `dv below kv0 ${kv0} untouched`);
      expectRef(build, from.dk, wantFrom.dk, `dk from kv0 ${kv0}`, 1e-3);
      expectRef(build, from.dv, wantFrom.dv, `dv from kv0 ${kv0}`, 1e-3);
    }), { numRuns: 60 });
  });
});

// --- invariance ---------------------------------------------------------------------------------------

describe.each(BUILDS)("backward kernels are batch-invariant (%s build)", (build) => {
  it("matmulBackX: a row alone, any column split; matmulBackW: any row split of the accumulation, any n split", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const T = randInt(r, 2, 7), K = 16 * randInt(r, 1, 4), N = randInt(r, 1, 13);
      const type = [GGML.F32, GGML.Q8_0, GGML.Q4_K][randInt(r, 0, 2)];
      const Kq = type === GGML.Q4_K ? 256 : type === GGML.Q8_0 ? 32 * Math.ceil(K / 32) : K;
      const wb = randomMatrix(type, N, Kq, r);
      const dy = randF32(r, T * N), x = randF32(r, T * Kq);
      const full = backX(h, type, dy, wb, T, Kq, N);
      for (let t = 0; t < T; t++) {
        const one = backX(h, type, dy.subarray(t * N, (t + 1) * N), wb, 1, Kq, N);
        expectSameBits(one, full.subarray(t * Kq, (t + 1) * Kq), `dX row ${t} alone`);
      }
      const cut = 16 * randInt(r, 0, Kq / 16);
      const split = backX(h, type, dy, wb, T, Kq, N, { k0: 0, k1: cut });
      split.set(backX(h, type, dy, wb, T, Kq, N, { k0: cut, k1: Kq }).map((v, i) => ((i % Kq) >= cut ? v : split[i])));
      expectSameBits(split, full, `dX columns split at ${cut}`);
      // dW: rows [0, s) then [s, T) == all T rows at once; n split.
      const dw0 = randF32(r, N * Kq);
      const once = backW(h, dy, x, dw0, T, Kq, N);
      const s = randInt(r, 1, T - 1);
      const first = backW(h, dy.subarray(0, s * N), x.subarray(0, s * Kq), dw0, s, Kq, N);
      const twice = backW(h, dy.subarray(s * N), x.subarray(s * Kq), first, T - s, Kq, N);
      expectSameBits(twice, once, `dW accumulated over rows [0,${s}) then [${s},${T})`);
      const nc = randInt(r, 0, N);
      const a = backW(h, dy, x, dw0, T, Kq, N, 0, nc);
      const b = backW(h, dy, x, a, T, Kq, N, nc, N);
      expectSameBits(b, once, `dW rows split at n=${nc}`);
    }), { numRuns: 30 });
  });

  it("attentionBack: dq of a row alone, hidden keys, kv-head splits", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const p = randomAttn(r, 5, 16);
      const full = attnBack(h, p);
      const rowLen = p.nHeads * p.headDim;
      for (let t = 0; t < p.T; t++) {
        const one = attnBack(h, { ...p, T: 1, q: p.q.subarray(t * rowLen, (t + 1) * rowLen), dout: p.dout.subarray(t * rowLen, (t + 1) * rowLen), mask: p.mask.subarray(t * p.nKeys, (t + 1) * p.nKeys) });
        expectSameBits(one.dq, full.dq.subarray(t * rowLen, (t + 1) * rowLen), `dq of row ${t} alone`);
      }
      // Junk keys visible to nobody: dq and the real keys' dk, dv unchanged; the junk keys get nothing.
      const kv = p.nKvHeads * p.headDim;
      const order: number[] = [];
      for (let j = 0; j < p.nKeys; j++) {
        while (r() < 0.3) order.push(-1);
        order.push(j);
      }
      const n2 = order.length;
      const k2 = new Float32Array(n2 * kv), v2 = new Float32Array(n2 * kv), m2 = new Uint8Array(p.T * n2);
      order.forEach((j, i) => {
        if (j < 0) { k2.set(randF32(r, kv, 9), i * kv); v2.set(randF32(r, kv, 9), i * kv); return; }
        k2.set(p.k.subarray(j * kv, (j + 1) * kv), i * kv);
        v2.set(p.v.subarray(j * kv, (j + 1) * kv), i * kv);
        for (let t = 0; t < p.T; t++) m2[t * n2 + i] = p.mask[t * p.nKeys + j];
      });
      const spread = attnBack(h, { ...p, k: k2, v: v2, mask: m2, nKeys: n2 });
      expectSameBits(spread.dq, full.dq, "dq with hidden keys");
      order.forEach((j, i) => {
        const gotK = spread.dk.subarray(i * kv, (i + 1) * kv), gotV = spread.dv.subarray(i * kv, (i + 1) * kv);
        if (j < 0) {
          expect(gotK.every((x) => x === 0) && gotV.every((x) => x === 0)).toBe(true);
          return;
        }
        expectSameBits(gotK, full.dk.subarray(j * kv, (j + 1) * kv), `dk of key ${j} with hidden keys`);
        expectSameBits(gotV, full.dv.subarray(j * kv, (j + 1) * kv), `dv of key ${j} with hidden keys`);
      });
      // kv heads in two calls on the same buffers.
      const cut = randInt(r, 0, p.nKvHeads);
      const split = h.scoped(() => {
        const nq = p.T * rowLen, nk = p.nKeys * kv;
        const dq = h.zeros(nq), dk = h.zeros(nk), dv = h.zeros(nk);
        const args = [h.f32(p.q), h.f32(p.k), h.f32(p.v), h.bytes(p.mask), h.f32(p.dout), dq, dk, dv, h.zeros(2 * p.nKeys)] as const;
        h.k.attentionBack(...args, p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, 0, cut, 0, p.scale);
        h.k.attentionBack(...args, p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, cut, p.nKvHeads, 0, p.scale);
        return { dq: h.read(dq, nq), dk: h.read(dk, nk), dv: h.read(dv, nk) };
      });
      expectSameBits(split.dq, full.dq, `dq kv heads split at ${cut}`);
      expectSameBits(split.dk, full.dk, `dk kv heads split at ${cut}`);
      expectSameBits(split.dv, full.dv, `dv kv heads split at ${cut}`);
    }), { numRuns: 30 });
  });
});

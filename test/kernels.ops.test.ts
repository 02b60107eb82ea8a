/** rmsnorm, RoPE, swiglu (and so expf), add and softmax vs the reference. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { addRef, expf, f32FromBits, rmsnormRef, ropeApplyRef, ropeTableRef, softmaxRef, swigluRef } from "../src/wasm/reference.js";
import { BUILDS, expectClose, expectSameBits, harness, randF32, randInt, rng } from "./kernels.helpers.js";

describe("expf reference port", () => {
  it("is exp to within 1 ulp and handles the special cases", () => {
    const r = rng(1);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((r() * 2 - 1) * 100);
      const e = Math.exp(x);
      const got = expf(x);
      if (e > 3.4e38) expect(got).toBe(Infinity);
      else expect(Math.abs(got - e)).toBeLessThanOrEqual(Math.max(Math.abs(e) * 2 ** -23, 2 ** -149));
    }
    expect(expf(0)).toBe(1);
    expect(expf(-Infinity)).toBe(0);
    expect(expf(Infinity)).toBe(Infinity);
    expect(expf(NaN)).toBeNaN();
    expect(expf(-104)).toBe(0);
  });
});

describe.each(BUILDS)("element-wise kernels (%s build)", (build) => {
  it("swiglu matches the reference bit for bit (a sweep of expf over its whole range)", async () => {
    const h = await harness(build);
    const r = rng(2);
    const n = 200_000;
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (i < 100_000) g[i] = (r() * 2 - 1) * (i < 50_000 ? 8 : 120);
      else g[i] = f32FromBits(Math.floor(r() * 2 ** 32)); // any bit pattern: tiny, huge, inf, NaN
    }
    const u = randF32(r, n, 3);
    u.fill(1, 0, 1000);
    h.scoped(() => {
      const gp = h.f32(g), up = h.f32(u), out = h.zeros(n);
      h.k.swiglu(gp, up, out, n);
      expectSameBits(h.read(out, n), swigluRef(g, u), "swiglu");
      // in place (out aliases gate)
      h.k.swiglu(gp, up, gp, n);
      expectSameBits(h.read(gp, n), swigluRef(g, u), "swiglu in place");
    });
  });

  it("expf4 (four lanes at once) equals expf on every lane, vectors that fall back to the scalar path included", async () => {
    const h = await harness(build);
    const r = rng(11);
    const n = 400_000;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const kind = i % 8;
      if (kind < 4) x[i] = (r() * 2 - 1) * [1, 20, 90, 110][kind]; // the table path and both ends of its range
      else if (kind < 6) x[i] = f32FromBits(Math.floor(r() * 2 ** 32)); // any bit pattern
      else x[i] = f32FromBits((0x42b00000 + Math.floor(r() * 64) - 32 + (r() < 0.5 ? 0x80000000 : 0)) >>> 0); // the fallback test's edge
    }
    x.set([0, -0, Infinity, -Infinity, NaN, -103.97, 88.72, 1e-40], 0);
    h.scoped(() => {
      const y = h.zeros(n);
      h.k.expf4Rows(h.f32(x), y, n);
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) want[i] = expf(x[i]);
      expectSameBits(h.read(y, n), want, "expf4");
    });
  });

  it("add and softmax match the reference bit for bit", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const n = randInt(r, 1, 300);
        const x = randF32(r, n, 20), y = randF32(r, n, 20);
        h.scoped(() => {
          const xp = h.f32(x);
          h.k.add(xp, h.f32(y), n);
          expectSameBits(h.read(xp, n), addRef(x, y), `add n=${n}`);
          const sp = h.f32(x);
          h.k.softmax(sp, n);
          const got = h.read(sp, n);
          expectSameBits(got, softmaxRef(x), `softmax n=${n}`);
        });
      }),
      { numRuns: 60 },
    );
  });

  it("rmsnorm matches the reference", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 6), D = 4 * randInt(r, 1, 160);
        const eps = [1e-5, 1e-6, 1e-12][randInt(r, 0, 2)];
        const x = randF32(r, T * D, 4), w = randF32(r, D, 2);
        const want = rmsnormRef(x, w, T, D, eps);
        h.scoped(() => {
          const xp = h.f32(x), wp = h.f32(w), yp = h.zeros(T * D);
          h.k.rmsnorm(xp, wp, yp, T, D, eps);
          const got = h.read(yp, T * D);
          if (build === "plain") expectSameBits(got, want, `T=${T} D=${D}`);
          else expectClose(got, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-30, `T=${T} D=${D}`);
          h.k.rmsnorm(xp, wp, xp, T, D, eps); // in place
          expectSameBits(h.read(xp, T * D), got, "in place");
        });
      }),
      { numRuns: 40 },
    );
  });

  it("ropeTable matches the reference (many positions, head sizes and bases)", async () => {
    const h = await harness(build);
    const r = rng(4);
    for (const headDim of [8, 32, 48, 64, 80, 96, 128, 256]) {
      for (const base of [10000, 100000, 500000, 1e6, 10000.5]) {
        const T = 64;
        const pos = Array.from({ length: T }, (_, i) => (i < 8 ? i : randInt(r, 0, i < 40 ? 9000 : 1 << 20)));
        const half = headDim / 2;
        const want = ropeTableRef(pos, headDim, base);
        h.scoped(() => {
          const c = h.zeros(T * half), s = h.zeros(T * half);
          h.k.ropeTable(h.i32(pos), T, headDim, base, c, s);
          expectSameBits(h.read(c, T * half), want.cos, `cos hd=${headDim} base=${base}`);
          expectSameBits(h.read(s, T * half), want.sin, `sin hd=${headDim} base=${base}`);
        });
      }
    }
  });

  it("ropeApply rotates halves in place exactly like the reference", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const T = randInt(r, 1, 5), nHeads = randInt(r, 1, 4), headDim = 2 * randInt(r, 1, 40);
        const extra = randInt(r, 0, 9); // rows wider than the heads: the stride is honoured
        const rowStride = nHeads * headDim + extra;
        const x = randF32(r, T * rowStride, 3);
        const pos = Array.from({ length: T }, () => randInt(r, 0, 5000));
        const { cos, sin } = ropeTableRef(pos, headDim, 10000);
        const want = x.slice();
        ropeApplyRef(want, cos, sin, T, nHeads, headDim, rowStride);
        h.scoped(() => {
          const xp = h.f32(x);
          h.k.ropeApply(xp, h.f32(cos), h.f32(sin), T, nHeads, headDim, rowStride);
          expectSameBits(h.read(xp, T * rowStride), want, `T=${T} heads=${nHeads} hd=${headDim} stride=${rowStride}`);
        });
      }),
      { numRuns: 40 },
    );
  });
});

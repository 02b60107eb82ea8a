/** rmsnorm, RoPE, swiglu (and so expf), add and softmax vs the reference. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { addRef, expf, f32FromBits, rmsnormRef, ropeApplyRef, ropeTableRef, softmaxRef, swigluRef } from "../src/wasm/reference.js";
import { BUILDS, expectClose, expectSameBits, harness, randF32, randInt, rng, type Harness } from "./kernels.helpers.js";
import { logitOrderScratch } from "../src/wasm/kernels.js";
import { literalOrder } from "./helpers/reference-sampling.js";

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

/** logitOrder (the sort sampling weighs and draws in) against the order as written (literalOrder). */
function coreOrder(h: Harness, logits: Float32Array, floor: number, banned: Uint8Array | null): number[] {
  return h.scoped(() => {
    const n = logits.length, out = h.zeros(n), scratch = h.arena.alloc(logitOrderScratch(n), 64);
    const m = h.k.logitOrder(h.f32(logits), n, floor, banned ? h.bytes(banned) : 0, out, scratch);
    return Array.from(h.arena.i32(out, m));
  });
}

describe.each(BUILDS)("logitOrder (%s build)", (build) => {
  // Ties, both zeros, infinities, NaN, subnormals, and values whose keys differ only in the low digit.
  const special = fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.5, -3.5, Math.fround(3.5 + 2 ** -21), 1e38, -1e38);
  const logit = fc.oneof({ weight: 5, arbitrary: fc.float({ min: -60, max: 60, noNaN: true }) }, { weight: 2, arbitrary: special });

  it("is the comparator sort of the eligible ids (random rows, floors between f32 values, banned ids)", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(
        fc.array(logit, { minLength: 1, maxLength: 400 }),
        fc.oneof(fc.constant(-Infinity), fc.double({ min: -70, max: 70, noNaN: true }), fc.constantFrom(3.5, 3.5 + 2 ** -40, -0)),
        fc.option(fc.array(fc.boolean(), { minLength: 400, maxLength: 400 })),
        (values, floor, bannedFlags) => {
          const logits = Float32Array.from(values);
          const banned = bannedFlags ? Uint8Array.from(bannedFlags.slice(0, values.length), Number) : null;
          expect(coreOrder(h, logits, floor, banned)).toEqual(literalOrder(logits, floor, (i) => !!banned?.[i]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a model-sized row: 49k logits, most of them tied with others", async () => {
    const h = await harness(build);
    const r = rng(21);
    // Values on a coarse grid, so that thousands of ids share a logit and only the ids break the ties.
    const logits = Float32Array.from({ length: 49152 }, () => Math.round((r() - 0.6) * 400) / 16);
    const banned = new Uint8Array(49152);
    for (let i = 0; i < 40; i++) banned[Math.floor(r() * 49152)] = 1;
    for (const floor of [-Infinity, -3.0625, 5]) {
      expect(coreOrder(h, logits, floor, banned)).toEqual(literalOrder(logits, floor, (i) => banned[i] === 1));
    }
  });
});

describe.each(BUILDS)("logitArgmax (%s build)", (build) => {
  // Greedy decoding's rule as written: the first id, not banned, whose logit is larger than every earlier one's.
  const literal = (logits: Float32Array, banned: readonly number[]) => {
    let best = -1, bestValue = -Infinity;
    logits.forEach((v, i) => {
      if (v > bestValue && !banned.includes(i)) (best = i), (bestValue = v);
    });
    return best;
  };
  const core = (h: Harness, logits: Float32Array, banned: readonly number[]) =>
    h.scoped(() => h.k.logitArgmax(h.f32(logits), logits.length, h.i32(Int32Array.from(banned)), banned.length));
  const special = fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 7, 7, -7);
  const logit = fc.oneof({ weight: 3, arbitrary: fc.float({ min: -20, max: 20, noNaN: true }) }, { weight: 2, arbitrary: special });

  // Rows of any length up to 120 (size "max": fast-check would mostly draw short ones, which never reach
  // the kernel's 16-logit vector loop).
  it("is the rule's id: ties to the lower id (-0 with +0), NaN never, banned ids skipped even where they hold the maximum, -1 for no id above -inf", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.array(logit, { minLength: 1, maxLength: 120, size: "max" }), fc.array(fc.nat(130), { maxLength: 6 }), fc.boolean(), (values, bannedList, banTheMax) => {
        const logits = Float32Array.from(values);
        const banned = [...bannedList];
        if (banTheMax) {
          // Ban every id that holds the largest logit (the case the kernel's fast pass cannot answer).
          const max = Math.max(...values.filter((v) => !Number.isNaN(v)));
          values.forEach((v, i) => v === max && banned.push(i));
        }
        expect(core(h, logits, banned)).toBe(literal(logits, banned));
      }),
      { numRuns: 400 },
    );
  });

  it("a model-sized row with its maximum held by several ids", async () => {
    const h = await harness(build);
    const r = rng(5);
    const logits = Float32Array.from({ length: 49152 }, () => Math.round((r() - 0.5) * 200) / 8);
    for (const banned of [[], [17], literalIds(logits, 3)]) expect(core(h, logits, banned)).toBe(literal(logits, banned));
  });

  /** The first n ids holding the row's maximum. */
  function literalIds(logits: Float32Array, n: number): number[] {
    const max = Math.max(...logits);
    const ids: number[] = [];
    logits.forEach((v, i) => v === max && ids.length < n && ids.push(i));
    return ids;
  }
});

describe.each(BUILDS)("the core's f64 exp, logitWeights and logitTotal (%s build)", (build) => {
  it("logitTotal: the sum in id order over the logits in [floor, max], as sampling.ts's loop adds it (NaN never counts)", async () => {
    const h = await harness(build);
    const special = fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 40, -40);
    const logit = fc.oneof({ weight: 5, arbitrary: fc.float({ min: -60, max: 60, noNaN: true }) }, { weight: 1, arbitrary: special });
    fc.assert(
      fc.property(fc.array(logit, { minLength: 1, maxLength: 301 }), fc.double({ min: 0.05, max: 5, noNaN: true }), fc.double({ min: 0, max: 80, noNaN: true }), (values, temperature, depth) => {
        const logits = Float32Array.from(values);
        const finite = values.filter((v) => Number.isFinite(v));
        const max = finite.length ? Math.fround(Math.max(...finite)) : 0, floor = max - depth;
        let want = 0;
        for (const v of logits) if (v >= floor && v <= max) want += Math.exp((v - max) / temperature);
        h.scoped(() => expect(Object.is(h.k.logitTotal(h.f32(logits), logits.length, floor, max, temperature), want)).toBe(true));
      }),
      { numRuns: 200 },
    );
  });

  it("expd is Math.exp bit for bit: sampling's range, the whole range, the reduction's thresholds, any bits", async () => {
    const h = await harness(build);
    const r = rng(31);
    const n = 1 << 19;
    const x = new Float64Array(n), bits = new Uint32Array(x.buffer);
    for (let i = 0; i < n; i++) {
      const mode = i & 3;
      if (mode === 0) x[i] = -r() * 60;
      else if (mode === 1) x[i] = (r() * 2 - 1) * 760;
      else if (mode === 2) x[i] = (r() * 2 - 1) * 1.2;
      else (bits[2 * i] = Math.floor(r() * 2 ** 32)), (bits[2 * i + 1] = Math.floor(r() * 2 ** 32));
    }
    x.set([0, -0, 1, -1, Infinity, -Infinity, NaN, 709.782712893384, 709.79, -745.13, -745.14, -708.4, 2 ** -29, -(2 ** -29), 0.34657359027997264, 1.0397207708399179, 5e-324]);
    h.scoped(() => {
      const xp = h.arena.alloc(n * 8, 64), yp = h.arena.alloc(n * 8, 64);
      new Float64Array(h.core.memory.buffer, xp, n).set(x);
      h.k.expdRows(xp, yp, n);
      const y = new Float64Array(h.core.memory.buffer, yp, n);
      let bad = 0;
      for (let i = 0; i < n; i++) if (!Object.is(y[i], Math.exp(x[i]))) bad++;
      expect(bad).toBe(0);
    });
  });

  it("logitWeights: each weight and the total in order, as sampling.ts computes them (ids in any order, repeats, inf and NaN logits)", async () => {
    const h = await harness(build);
    const special = fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 40, -40);
    const logit = fc.oneof({ weight: 5, arbitrary: fc.float({ min: -60, max: 60, noNaN: true }) }, { weight: 1, arbitrary: special });
    fc.assert(
      fc.property(
        fc.array(logit, { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0.05, max: 5, noNaN: true }),
        (values, picks, temperature) => {
          const logits = Float32Array.from(values);
          const ids = Int32Array.from(picks, (p) => p % values.length);
          const max = logits[ids[0]];
          const want = Float64Array.from(ids, (id) => Math.exp((logits[id] - max) / temperature));
          let total = 0;
          for (const w of want) total += w;
          h.scoped(() => {
            const out = h.arena.alloc(ids.length * 8, 64);
            const got = h.k.logitWeights(h.f32(logits), logits.length, h.i32(ids), ids.length, max, temperature, out);
            expect(Array.from(new Float64Array(h.core.memory.buffer, out, ids.length))).toEqual(Array.from(want));
            expect(Object.is(got, total)).toBe(true);
            // An id outside the row (past its end, or negative) is -1, never a read beyond it.
            for (const bad of [values.length, -1]) {
              expect(h.k.logitWeights(h.f32(logits), logits.length, h.i32([...ids, bad]), ids.length + 1, max, temperature, out)).toBe(-1);
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

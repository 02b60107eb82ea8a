/**
 * attention: vs the reference, and the invariances the decoder relies on: a row's result does not change
 * when invisible keys are inserted between its visible keys, when T changes, or when heads are split.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { attentionRef, type AttentionShape } from "../src/wasm/reference.js";
import { BUILDS, expectClose, expectSameBits, harness, randF32, randInt, rng, type Harness } from "./kernels.helpers.js";

interface Problem extends AttentionShape {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  mask: Uint8Array;
}

function randomProblem(r: () => number): Problem {
  const nKvHeads = randInt(r, 1, 3);
  const nHeads = nKvHeads * randInt(r, 1, 3);
  const headDim = 4 * randInt(r, 1, 12);
  const T = randInt(r, 1, 6);
  const nKeys = randInt(r, 1, r() < 0.3 ? 90 : 40);
  const mask = new Uint8Array(T * nKeys);
  // Sometimes sparse, as an adapter's mask rows in training (other groups' keys invisible): runs of six
  // invisible keys, which the score loop skips.
  const density = r() < 0.3 ? 0.08 : 0.6;
  for (let i = 0; i < mask.length; i++) mask[i] = r() < density ? 1 : 0;
  // Half the time the decoder's shape: each row sees a leading run of keys (the committed prefix, of any
  // length, odd or even), then some of the rest. The kernel reads no mask byte inside that run.
  if (r() < 0.5) for (let t = 0; t < T; t++) mask.fill(1, t * nKeys, t * nKeys + randInt(r, 0, nKeys));
  if (r() < 0.3) mask.fill(0, 0, nKeys); // sometimes a row sees nothing
  return {
    T, nKeys, nHeads, nKvHeads, headDim,
    scale: 1 / Math.sqrt(headDim),
    q: randF32(r, T * nHeads * headDim, 3),
    k: randF32(r, nKeys * nKvHeads * headDim, 3),
    v: randF32(r, nKeys * nKvHeads * headDim, 2),
    mask,
  };
}

/** The attention of p; `scratch` (f32 [nKeys]) is the scores buffer's contents before the call (zeros if absent). */
function run(h: Harness, p: Problem, h0 = 0, h1 = p.nHeads, scratch?: Float32Array): Float32Array {
  return h.scoped(() => {
    const n = p.T * p.nHeads * p.headDim;
    const out = h.f32(new Float32Array(n).fill(0));
    const maskPtr = h.bytes(p.mask);
    const scores = scratch ? h.f32(scratch) : h.zeros(p.nKeys);
    h.k.attention(h.f32(p.q), h.f32(p.k), h.f32(p.v), maskPtr, out, scores, p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, h0, h1, p.scale);
    return h.read(out, n);
  });
}

describe.each(BUILDS)("attention (%s build)", (build) => {
  it("matches the reference", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const p = randomProblem(rng(seed));
        const want = attentionRef(p.q, p.k, p.v, p.mask, p);
        const got = run(h, p);
        if (build === "plain") expectSameBits(got, want, "attention");
        else expectClose(got, want, () => 1e-4, "attention");
      }),
      { numRuns: 120 },
    );
  });

  it("gives zeros for a row with no visible key", async () => {
    const h = await harness(build);
    const p = randomProblem(rng(5));
    p.mask.fill(0, 0, p.nKeys);
    const got = run(h, p);
    for (let i = 0; i < p.nHeads * p.headDim; i++) expect(got[i]).toBe(0);
  });

  it("does not depend on what the scores scratch held (the kernel computes weights for invisible keys too, and never reads them)", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const p = randomProblem(r);
        const junk = new Float32Array(p.nKeys).map(() => [NaN, Infinity, -Infinity, 1e30, -1e30, 3][randInt(r, 0, 5)]);
        expectSameBits(run(h, p, 0, p.nHeads, junk), run(h, p), "after a scratch of NaN / inf / huge values");
      }),
      { numRuns: 40 },
    );
  });

  it("is unchanged by invisible keys inserted between visible ones, by T and by head splits", async () => {
    const h = await harness(build);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const r = rng(seed);
        const p = randomProblem(r);
        const full = run(h, p);
        const kv = p.nKvHeads * p.headDim;
        const rowLen = p.nHeads * p.headDim;
        // Insert junk keys (visible to nobody) at random places.
        const order: number[] = []; // -1 = junk
        for (let j = 0; j < p.nKeys; j++) {
          while (r() < 0.4) order.push(-1);
          order.push(j);
        }
        const nKeys2 = order.length;
        const k2 = new Float32Array(nKeys2 * kv), v2 = new Float32Array(nKeys2 * kv);
        const mask2 = new Uint8Array(p.T * nKeys2);
        order.forEach((j, i) => {
          if (j < 0) {
            k2.set(randF32(r, kv, 50), i * kv);
            v2.set(randF32(r, kv, 50), i * kv);
          } else {
            k2.set(p.k.subarray(j * kv, (j + 1) * kv), i * kv);
            v2.set(p.v.subarray(j * kv, (j + 1) * kv), i * kv);
            for (let t = 0; t < p.T; t++) mask2[t * nKeys2 + i] = p.mask[t * p.nKeys + j];
          }
        });
        const spread = run(h, { ...p, k: k2, v: v2, mask: mask2, nKeys: nKeys2 });
        expectSameBits(spread, full, `with ${nKeys2 - p.nKeys} hidden keys`);
        // Each row alone (T = 1).
        for (let t = 0; t < p.T; t++) {
          const one = run(h, {
            ...p, T: 1,
            q: p.q.subarray(t * rowLen, (t + 1) * rowLen),
            mask: p.mask.subarray(t * p.nKeys, (t + 1) * p.nKeys),
          });
          expectSameBits(one, full.subarray(t * rowLen, (t + 1) * rowLen), `row ${t} alone`);
        }
        // Heads split in two calls on one output buffer.
        const cut = randInt(r, 0, p.nHeads);
        const split = h.scoped(() => {
          const out = h.zeros(p.T * rowLen);
          const args = [h.f32(p.q), h.f32(p.k), h.f32(p.v), h.bytes(p.mask), out, h.zeros(p.nKeys)] as const;
          h.k.attention(...args, p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, 0, cut, p.scale);
          h.k.attention(...args, p.T, p.nKeys, p.nHeads, p.nKvHeads, p.headDim, cut, p.nHeads, p.scale);
          return h.read(out, p.T * rowLen);
        });
        expectSameBits(split, full, `heads split at ${cut}`);
      }),
      { numRuns: 80 },
    );
  });
});

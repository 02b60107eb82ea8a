import { describe, expect, it } from "vitest";
import { argmax, distribution, sample, checkSampling, nucleusBySelection, type SamplingKernels } from "../src/decode/sampling.js";
import { logitOrderScratch } from "../src/wasm/kernels.js";
import { harness, type Harness } from "./kernels.helpers.js";
import { Rng } from "../src/util/rng.js";
import { SpaceError } from "../src/errors.js";
import fc from "fast-check";
import { literalOrder, referenceDistribution } from "./helpers/reference-sampling.js";

describe("sampling", () => {
  const logits = Float32Array.from([1, 3, 2, 3, -Infinity, 0.5]);

  it("argmax breaks ties toward the lowest id and honours banned ids", () => {
    expect(argmax(logits)).toBe(1);
    expect(argmax(logits, new Set([1]))).toBe(3);
  });

  it("top-k keeps the k most likely, top-p the smallest prefix reaching p", () => {
    const d = distribution(logits, { temperature: 1, topK: 3, topP: 1 });
    expect(Array.from(d.ids)).toEqual([1, 3, 2]);
    expect(d.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const e = distribution(logits, { temperature: 1, topK: 0, topP: 0.5 });
    expect(Array.from(e.ids)).toEqual([1, 3]);
  });

  it("temperature 0 is greedy", () => {
    expect(Array.from(distribution(logits, { temperature: 0, topK: 0, topP: 1 }).ids)).toEqual([1]);
  });

  it("a seed reproduces the samples, another seed does not", () => {
    const d = distribution(Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0]), { temperature: 1, topK: 0, topP: 1 });
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 32 }, () => sample(d, rng));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it("samples follow the distribution (chi-square, alpha 0.001)", () => {
    const d = distribution(Float32Array.from([0, Math.log(2), Math.log(3), Math.log(4)]), { temperature: 1, topK: 0, topP: 1 });
    const rng = new Rng(7);
    const counts = new Map<number, number>();
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const id = sample(d, rng);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    let chi2 = 0;
    [1, 2, 3, 4].forEach((w, id) => {
      const e = (w / 10) * n; // logits log(1..4): probabilities 1/10 .. 4/10, known without `distribution`
      chi2 += ((counts.get(id) ?? 0) - e) ** 2 / e;
    });
    expect(chi2).toBeLessThan(16.27); // chi-square critical value, 3 degrees of freedom, alpha = 0.001
  });

  it("equals an independent f64 reference on random logits, temperatures, top-k, top-p and banned ids", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.double({ min: 0.05, max: 5, noNaN: true }),
        fc.integer({ min: 0, max: 45 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 39 }), { maxLength: 5 }),
        (xs, temperature, topK, topP, bannedList) => {
          const logits = Float32Array.from(xs);
          const banned = new Set(bannedList);
          if (xs.every((_, i) => banned.has(i))) return; // nothing left to sample: an error, tested elsewhere
          const params = { temperature, topK, topP };
          const ref = referenceDistribution(logits, params, banned);
          if (ref.margin < 1e-9) return; // a cut on the boundary itself: either answer is right
          const d = distribution(logits, params, banned);
          expect(Array.from(d.ids).sort((a, b) => a - b)).toEqual([...ref.probs.keys()].sort((a, b) => a - b));
          d.ids.forEach((id, i) => expect(Math.abs(d.probs[i] - ref.probs.get(id)!)).toBeLessThan(1e-12));
        },
      ),
      { numRuns: 500, seed: 15 },
    );
  });

  it("rejects nonsense parameters", () => {
    for (const p of [
      { temperature: -1, topK: 0, topP: 1 },
      { temperature: NaN, topK: 0, topP: 1 },
      { temperature: 1, topK: 1.5, topP: 1 },
      { temperature: 1, topK: 0, topP: 0 },
    ]) {
      expect(() => checkSampling(p)).toThrow(SpaceError);
    }
  });
});

describe("distribution: the fast sort and the negligible tail change no bit", () => {
  /** The rule as written (spec/decoding.md): a comparator sort of every id, then top-k, top-p, renormalise. */
  function literal(logits: Float32Array, p: { temperature: number; topK: number; topP: number }, banned?: ReadonlySet<number>) {
    const ids = literalOrder(logits, -Infinity, (i) => banned?.has(i) ?? false);
    const kept = p.topK > 0 ? ids.slice(0, p.topK) : ids;
    const max = logits[kept[0]];
    const weights = kept.map((id) => Math.exp((logits[id] - max) / p.temperature));
    const total = weights.reduce((a, b) => a + b, 0);
    let n = kept.length;
    if (p.topP < 1) {
      let mass = 0;
      for (let i = 0; i < kept.length; i++) {
        mass += weights[i] / total;
        if (mass >= p.topP) {
          n = i + 1;
          break;
        }
      }
    }
    const sum = weights.slice(0, n).reduce((a, b) => a + b, 0);
    return { ids: kept.slice(0, n), probs: weights.slice(0, n).map((w) => w / sum) };
  }

  // Logits with ties, both zeros, -inf, NaN and a spread wide enough that most weights are negligible.
  const special = fc.constantFrom(0, -0, -Infinity, NaN, 3.5, -3.5, 40, -40);
  const logit = fc.oneof({ weight: 6, arbitrary: fc.float({ min: -60, max: 60, noNaN: true }) }, { weight: 1, arbitrary: special });
  /** The core's sweeps (logitOrder, logitWeights) on any row length, the way Forward drives them. */
  function coreKernels(h: Harness): SamplingKernels {
    const at = (n: number, bytes: number) => h.arena.alloc(Math.max(n, 1) * bytes, 64);
    return {
      order(logits, banned, floor) {
        const n = logits.length, out = at(n, 4);
        const mask = banned?.size ? h.bytes(Uint8Array.from({ length: n }, (_, i) => Number(banned.has(i)))) : 0;
        const m = h.k.logitOrder(h.f32(logits), n, floor, mask, out, at(logitOrderScratch(n), 1));
        return h.arena.i32(out, m).slice();
      },
      weights(logits, ids, max, temperature) {
        const out = at(ids.length, 8);
        const total = h.k.logitWeights(h.f32(logits), logits.length, h.i32(ids), ids.length, max, temperature, out);
        return { weights: new Float64Array(h.core.memory.buffer, out, ids.length).slice(), total };
      },
      total: (logits, floor, max, temperature) => h.k.logitTotal(h.f32(logits), logits.length, floor, max, temperature),
      argmax: (logits, banned) => h.k.logitArgmax(h.f32(logits), logits.length, h.i32(Int32Array.from(banned ?? [])), banned?.size ?? 0),
    };
  }

  it("equals the literal rule bit for bit (random logits, banned ids, temperature, top-k, top-p), with the TypeScript sweeps and the core's", async () => {
    const h = await harness("relaxed");
    const core = coreKernels(h);
    fc.assert(
      fc.property(
        fc.array(logit, { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0.05, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 40 }),
        fc.oneof(fc.constant(1), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.constant(0.999999999999)),
        fc.array(fc.nat(299), { maxLength: 5 }),
        (values, temperature, topK, topP, bannedList) => {
          const logits = Float32Array.from(values);
          const banned = new Set(bannedList);
          const p = { temperature, topK, topP };
          const eligible = values.some((v, i) => v > -Infinity && !banned.has(i));
          if (!eligible) {
            expect(() => distribution(logits, p, banned)).toThrow(SpaceError);
            return;
          }
          const want = literal(logits, p, banned);
          for (const got of [distribution(logits, p, banned), h.scoped(() => distribution(logits, p, banned, core))]) {
            expect(Array.from(got.ids)).toEqual(want.ids);
            expect(Array.from(got.probs)).toEqual(want.probs); // toEqual on numbers: exact (NaN equals NaN)
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("ties: -0 and +0 are one value (the lower id first), equal logits go by id", () => {
    const logits = Float32Array.from([1, -0, 2, 0, 2, -0]);
    for (const p of [{ temperature: 1, topK: 0, topP: 1 }, { temperature: 0.5, topK: 4, topP: 0.99999 }]) {
      const got = distribution(logits, p), want = literal(logits, p);
      expect(Array.from(got.ids)).toEqual(want.ids);
      expect(Array.from(got.probs)).toEqual(want.probs);
    }
    expect(Array.from(distribution(logits, { temperature: 1, topK: 0, topP: 1 }).ids)).toEqual([2, 4, 0, 1, 3, 5]);
  });

  it("top-p that the rounded mass never reaches keeps every id, as the rule says (no head-only answer)", () => {
    // Mass sums of 1/3-like weights stop a few ulps short of 1 - 1e-16: top-p is never reached.
    const logits = Float32Array.from({ length: 7 }, () => 0);
    const p = { temperature: 1, topK: 0, topP: 1 - 2 ** -53 };
    const want = literal(logits, p);
    expect(want.ids).toHaveLength(7);
    const got = distribution(logits, p);
    expect(Array.from(got.ids)).toEqual(want.ids);
    expect(Array.from(got.probs)).toEqual(want.probs);
  });

  it("top-p without top-k: the nucleus by selection (no sort of the vocabulary) is the rule's, and gives up where a mass is too close to top-p", () => {
    const r = new Rng(11);
    // Model-like rows: most of 49k logits in a broad band, a shoulder of tens of ids above it, and a
    // few far above (nuclei of one id to a hundred).
    for (let row = 0; row < 6; row++) {
      const logits = Float32Array.from({ length: 49152 }, () => (r.next() - 0.5) * 12 - 4);
      for (let j = 0; j < 30 + 20 * row; j++) logits[Math.floor(r.next() * 49152)] = 8 + 4 * r.next();
      for (let j = 0; j < 1 + row; j++) logits[Math.floor(r.next() * 49152)] = 12 + 4 * r.next();
      for (const p of [{ temperature: 0.7, topK: 0, topP: 0.9 }, { temperature: 1, topK: 0, topP: 0.95 }, { temperature: 0.4, topK: 0, topP: 0.5 }]) {
        const got = nucleusBySelection(logits, p), want = literal(logits, p);
        expect(got, `row ${row}, ${JSON.stringify(p)}`).not.toBeNull();
        expect(Array.from(got!.ids)).toEqual(want.ids);
        expect(Array.from(got!.probs)).toEqual(want.probs);
      }
    }
    // Two equal logits and top-p 0.5: the first mass is exactly top-p, within any rounding of the total.
    const tie = Float32Array.from([0, 0, -5]);
    const p = { temperature: 1, topK: 0, topP: 1 / (2 + Math.exp(-5)) };
    expect(nucleusBySelection(tie, p)).toBeNull();
    expect(Array.from(distribution(tie, p).ids)).toEqual(literal(tie, p).ids); // the sorting road decides
    // A flat row needs more ids than it gathers: the sorting road too.
    expect(nucleusBySelection(new Float32Array(49152), { temperature: 1, topK: 0, topP: 0.9 })).toBeNull();
  });

  it("a full 49k vocabulary of spread logits, as a model gives them (TypeScript and core sweeps)", async () => {
    const h = await harness("relaxed");
    const r = new Rng(5);
    const logits = Float32Array.from({ length: 49152 }, () => (r.next() - 0.7) * 50);
    for (const p of [{ temperature: 0.7, topK: 0, topP: 0.9 }, { temperature: 1, topK: 50, topP: 0.95 }, { temperature: 0.3, topK: 0, topP: 1 }, { temperature: 1, topK: 0, topP: 1 }]) {
      const want = literal(logits, p);
      for (const got of [distribution(logits, p), h.scoped(() => distribution(logits, p, undefined, coreKernels(h)))]) {
        expect(Array.from(got.ids)).toEqual(want.ids);
        expect(Array.from(got.probs)).toEqual(want.probs);
      }
    }
  });
});

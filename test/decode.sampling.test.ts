import { describe, expect, it } from "vitest";
import { argmax, distribution, sample, checkSampling } from "../src/decode/sampling.js";
import { Rng } from "../src/util/rng.js";
import { SpaceError } from "../src/errors.js";
import fc from "fast-check";
import { referenceDistribution } from "./helpers/reference-sampling.js";

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

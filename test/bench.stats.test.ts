import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { geomean, median, rotate } from "../src/util/stats.js";

describe("bench statistics", () => {
  it("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it("geomean of ratios is the ratio of geomeans, and symmetric under inversion", () => {
    expect(geomean([2, 8])).toBeCloseTo(4, 12);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 1, maxLength: 20 }), (xs) => {
        expect(geomean(xs) * geomean(xs.map((x) => 1 / x))).toBeCloseTo(1, 9);
      }),
    );
  });
  it("rotate is a cyclic shift that keeps every item", () => {
    expect(rotate(["a", "b", "c"], 1)).toEqual(["b", "c", "a"]);
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer({ min: 0, max: 50 }), (xs, k) => {
        expect([...rotate(xs, k)].sort()).toEqual([...xs].sort());
      }),
    );
  });
});

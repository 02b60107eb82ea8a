/** The pure arithmetic of `space bench`: the fastest-AR baseline, the SPACE bound, the greedy check, selection. */
import { describe, expect, it } from "vitest";
import { analyze, fastestAr, mergeRows, spaceBound, type Contender } from "../src/bench/analysis.js";
import type { RunTiming } from "../src/bench/decoder.js";
import { selectTimed } from "../src/bench/harness.js";

const ours = (decoder: string, weights: string, threads = 1): Contender => ({ id: `${decoder}/${weights}/t${threads}`, decoder, engine: "ours", weights, threads, label: `ours ${decoder}` });
const LLAMA: Contender = { id: "llama-ar/t1", decoder: "llama-ar", engine: "llama", threads: 1, label: "llama.cpp AR" };

function run(tokS: number, tokens: number[], tau = 1, stepRows?: Record<string, number>): RunTiming {
  const decoded = tokens.length - 1;
  return {
    prompt_tokens: 10, generated: tokens.length, prefill_ms: 10, decode_ms: (decoded * 1000) / tokS, prefill_tok_s: 1000, decode_tok_s: tokS,
    decode_steps: decoded / tau, tau, ...(stepRows ? { step_rows: stepRows } : {}), tokens,
  };
}

describe("fastestAr", () => {
  it("picks our AR configuration with the highest geometric mean over prompts, ignoring other decoders and llama.cpp", () => {
    const cs = [ours("ar", "native"), ours("ar", "f32"), ours("space", "native"), LLAMA];
    // native: 10 and 40 (geomean 20); f32: 18 and 21 (geomean ~19.4): native wins on the geometric mean, not the sum.
    const rates = { "ar/native/t1": [10, 40], "ar/f32/t1": [18, 21], "space/native/t1": [100, 100], "llama-ar/t1": [500, 500] };
    expect(fastestAr(cs, rates)).toBe("ar/native/t1");
    expect(fastestAr(cs, { ...rates, "ar/f32/t1": [30, 30] })).toBe("ar/f32/t1");
  });

  it("considers every thread count and refuses a run without our AR", () => {
    const cs = [ours("ar", "native", 1), ours("ar", "native", 2)];
    expect(fastestAr(cs, { "ar/native/t1": [10], "ar/native/t2": [17] })).toBe("ar/native/t2");
    expect(() => fastestAr([LLAMA], { "llama-ar/t1": [1] })).toThrow(/AR/);
  });
});

describe("spaceBound", () => {
  const cost = new Map([[1, 10], [6, 20], [36, 50]]);
  it("is tau x cost(1)/cost(T) when every step has T rows", () => {
    // 10 steps of 36 rows emitting 30 tokens: tau 3, bound 3 x 10/50 = 0.6
    expect(spaceBound({ 36: 10 }, 30, cost)).toBeCloseTo(0.6, 12);
  });
  it("weighs mixed widths by their steps (lean layouts)", () => {
    // 4 steps of 6 rows + 2 of 36: 12 tokens x 10 / (4 x 20 + 2 x 50) = 120 / 180
    expect(spaceBound({ 6: 4, 36: 2 }, 12, cost)).toBeCloseTo(120 / 180, 12);
    expect(spaceBound(mergeRows([{ 6: 3 }, { 6: 1, 36: 2 }, undefined]), 12, cost)).toBeCloseTo(120 / 180, 12);
  });
  it("is 1 for AR (T = 1, tau = 1) and NaN when a width was not measured", () => {
    expect(spaceBound({ 1: 7 }, 7, cost)).toBe(1);
    expect(spaceBound({ 13: 1 }, 2, cost)).toBeNaN();
    expect(spaceBound({}, 0, cost)).toBeNaN();
  });
});

describe("analyze", () => {
  const cs = [ours("ar", "native"), ours("ar", "f32"), ours("space", "native"), LLAMA];
  const A = [1, 2, 3, 4, 5];
  // runs[p][c][round]; llama.cpp generates end-of-generation (id 0) at index 3 and goes on differently.
  const runs = [
    [[run(10, A)], [run(20, A)], [run(30, A, 2, { 36: 2 })], [run(40, [1, 2, 3, 0, 9])]],
    [[run(10, A)], [run(20, A)], [run(10, [1, 2, 9, 4, 5], 2, { 36: 2 })], [run(40, [1, 7, 3, 4, 5])]],
  ];
  const a = analyze({
    contenders: cs, promptIds: ["p0", "p1"], runs, banned: new Set([0]),
    cost: { "space/native/t1": [{ T: 1, median_ms: 10, ratio: 1, runs_ms: [] }, { T: 36, median_ms: 50, ratio: 5, runs_ms: [] }] },
  });

  it("takes every speedup over our fastest AR and every ratio over llama.cpp AR", () => {
    expect(a.baseline).toBe("ar/f32/t1");
    expect(a.llama).toBe("llama-ar/t1");
    const space = a.summary.find((s) => s.id === "space/native/t1")!;
    expect(space.speedup).toBeCloseTo(Math.sqrt(1.5 * 0.5), 12); // geometric mean of 30/20 and 10/20
    expect(space.vs_llama).toBeCloseTo(Math.sqrt(0.75 * 0.25), 12);
    expect(space.tau).toBeCloseTo(8 / 4, 12); // 4 + 4 decode tokens in 2 + 2 steps
    expect(space.bound).toBeCloseTo((8 * 10) / (4 * 50), 12);
    expect(a.summary.find((s) => s.id === "ar/f32/t1")!.speedup).toBe(1);
  });

  it("flags output that differs from our AR's, and compares llama.cpp only up to its end-of-generation", () => {
    const space = a.summary.find((s) => s.id === "space/native/t1")!;
    expect(space.greedy_ok).toBe(false);
    expect(space.mismatches).toEqual(["p1"]);
    expect(a.prompts[1].decoders[2].agree).toEqual({ reference: "ar/native/t1", kind: "bug", same: 2, of: 5, ok: false });
    const llama = a.prompts.map((p) => p.decoders[3].agree);
    expect(llama[0]).toEqual({ reference: "ar/native/t1", kind: "peer", same: 3, of: 3, ok: true }); // cut at its end-of-generation token
    expect(llama[1].ok).toBe(false);
  });

  it("checks each decoder against our AR in its own configuration; a lossy format's AR against native AR", () => {
    const cq = [ours("ar", "native"), ours("ar", "q8"), ours("space", "q8"), ours("lookup", "native")];
    const Q = [1, 2, 8, 8, 8]; // q8 quantizes activations: its greedy output may differ from native's
    const b = analyze({
      contenders: cq, promptIds: ["p"], banned: new Set(), cost: {},
      runs: [[[run(10, A)], [run(30, Q)], [run(20, Q, 2, { 36: 2 })], [run(12, A, 2)]]],
    });
    expect(b.baseline).toBe("ar/q8/t1");
    const by = (id: string) => b.summary.find((s) => s.id === id)!;
    expect(by("space/q8/t1")).toMatchObject({ reference: "ar/q8/t1", mismatch_kind: "bug", greedy_ok: true });
    expect(by("lookup/native/t1")).toMatchObject({ reference: "ar/native/t1", greedy_ok: true });
    expect(by("ar/q8/t1")).toMatchObject({ reference: "ar/native/t1", mismatch_kind: "lossy", greedy_ok: false });
    expect(by("ar/native/t1")).toMatchObject({ reference: "ar/native/t1", greedy_ok: true });
  });

  it("marks the fastest configuration of each decoder: the baseline for AR", () => {
    expect(a.summary.filter((s) => s.best).map((s) => s.id)).toEqual(["ar/f32/t1", "space/native/t1", "llama-ar/t1"]);
  });
});

describe("selectTimed", () => {
  const cs = [ours("ar", "native"), ours("ar", "f32"), ours("space", "native"), ours("space", "f32"), LLAMA];
  it("keeps every AR configuration and the fastest configuration of every other decoder", () => {
    const rate = new Map([["ar/native/t1", 1], ["ar/f32/t1", 9], ["space/native/t1", 3], ["space/f32/t1", 5], ["llama-ar/t1", 50]]);
    expect([...selectTimed(cs, rate, "fastest")].sort()).toEqual(["ar/f32/t1", "ar/native/t1", "llama-ar/t1", "space/f32/t1"]);
    expect(selectTimed(cs, rate, "all").size).toBe(cs.length);
  });
});

/** The pure arithmetic of `space bench`: the fastest-AR baseline, the SPACE bound, the greedy check, selection. */
import { describe, expect, it } from "vitest";
import { analyze, family, fastestAr, figures, groupResults, mergeRows, spaceBound, type Contender } from "../src/bench/analysis.js";
import type { RunTiming } from "../src/bench/decoder.js";
import { selectTimed } from "../src/bench/harness.js";

const ours = (decoder: string, weights: string, threads = 1): Contender => ({ id: `${decoder}/${weights}/t${threads}`, decoder, engine: "ours", weights, threads, label: `ours ${decoder}` });
const space = (layout: string, weights = "native", threads = 1): Contender => ({ id: `space/${layout}/${weights}/t${threads}`, decoder: "space", engine: "ours", weights, threads, layout, label: `ours SPACE (${layout} layout)` });
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

describe("SPACE layouts as separate contenders", () => {
  it("ranks configurations within a decoder and, for SPACE, within a layout", () => {
    expect(family(space("full"))).toBe("space full");
    expect(family(space("auto"))).toBe("space auto");
    expect(family(ours("ar", "native"))).toBe("ar");
    const cs = [ours("ar", "native"), space("full", "native"), space("full", "q8"), space("auto", "native"), space("auto", "q8")];
    const rate = new Map([["ar/native/t1", 1], ["space/full/native/t1", 2], ["space/full/q8/t1", 3], ["space/auto/native/t1", 5], ["space/auto/q8/t1", 4]]);
    expect([...selectTimed(cs, rate, "fastest")].sort()).toEqual(["ar/native/t1", "space/auto/native/t1", "space/full/q8/t1"]);
  });

  it("marks the fastest configuration of each layout", () => {
    const cs = [ours("ar", "native"), space("full"), space("auto"), space("auto", "q8")];
    const A = [1, 2, 3];
    const b = analyze({ contenders: cs, promptIds: ["p"], banned: new Set(), cost: {}, runs: [[[run(10, A)], [run(5, A, 2)], [run(9, A, 1)], [run(11, A, 1)]]] });
    expect(b.summary.filter((x) => x.best).map((x) => x.id)).toEqual(["ar/native/t1", "space/full/native/t1", "space/auto/q8/t1"]);
  });
});

describe("per prompt group", () => {
  const cs = [ours("ar", "native"), ours("ar", "f32"), space("full"), space("auto"), LLAMA];
  const A = [1, 2, 3, 4, 5]; // 4 decode tokens per run
  const ids = ["humaneval-x/python/130", "humaneval-x/python/142", "humaneval-x/cpp/142", "chat/story"];
  const groupOf = ["python", "python", "cpp", "chat"];
  // Per prompt: our AR native 10 tok/s, f32 20 (the baseline), llama.cpp 40; SPACE full at [30, 10, 40, 20] tok/s
  // with tau [2, 2, 4, 1] (2, 2, 1, 4 decode steps); SPACE auto at 20 tok/s, tau 1 everywhere.
  const fullRate = [30, 10, 40, 20], fullTau = [2, 2, 4, 1];
  const runs = ids.map((_, p) => [[run(10, A)], [run(20, A)], [run(fullRate[p], A, fullTau[p])], [run(20, A)], [run(40, A)]]);
  const a = analyze({ contenders: cs, promptIds: ids, promptGroups: groupOf, runs, banned: new Set(), cost: {} });
  const at = (group: string, id: string) => a.groups.find((g) => g.group === group)!.decoders.find((d) => d.id === id)!;

  it("lists the groups in the order of their first prompt, then all", () => {
    expect(a.groups.map((g) => [g.group, g.prompts])).toEqual([
      ["python", ids.slice(0, 2)],
      ["cpp", [ids[2]]],
      ["chat", [ids[3]]],
      ["all", ids],
    ]);
  });

  // [group, contender, tau, decode tok/s, speedup vs our fastest AR (f32, 20 tok/s), vs llama.cpp AR (40 tok/s)]
  const cases: [string, string, number, number, number, number][] = [
    ["python", "space/full/native/t1", 8 / 4, 20, Math.sqrt(1.5 * 0.5), Math.sqrt(0.75 * 0.25)],
    ["cpp", "space/full/native/t1", 4, 40, 2, 1],
    ["chat", "space/full/native/t1", 1, 20, 1, 0.5],
    ["all", "space/full/native/t1", 16 / 9, 25, (1.5 * 0.5 * 2 * 1) ** (1 / 4), (0.75 * 0.25 * 1 * 0.5) ** (1 / 4)],
    ["python", "space/auto/native/t1", 1, 20, 1, 0.5],
    ["all", "space/auto/native/t1", 1, 20, 1, 0.5],
    ["cpp", "ar/f32/t1", 1, 20, 1, 0.5],
    ["chat", "ar/native/t1", 1, 10, 0.5, 0.25],
    ["python", "llama-ar/t1", 1, 40, 2, 1],
  ];
  it.each(cases)("%s, %s: tau %f, %f tok/s, speedup %f, vs llama.cpp %f", (group, id, tau, tokS, speedup, vsLlama) => {
    const d = at(group, id);
    expect(d.tau).toBeCloseTo(tau, 12);
    expect(d.decode_tok_s).toBeCloseTo(tokS, 12);
    expect(d.speedup).toBeCloseTo(speedup, 12);
    expect(d.vs_llama).toBeCloseTo(vsLlama, 12);
  });

  it("gives in \"all\" exactly the headline figures of every contender", () => {
    for (const s of a.summary) {
      const { tau, decode_tok_s, speedup, vs_llama } = s;
      expect(at("all", s.id)).toEqual({ id: s.id, tau, decode_tok_s, speedup, vs_llama });
    }
  });

  it("is only \"all\" without groups; NaN against llama.cpp when it did not run; NaN tau when steps are unknown", () => {
    const noLlama = analyze({ contenders: cs.slice(0, 4), promptIds: ids, runs: runs.map((r) => r.slice(0, 4)), banned: new Set(), cost: {} });
    expect(noLlama.groups.map((g) => g.group)).toEqual(["all"]);
    expect(noLlama.groups[0].decoders.every((d) => Number.isNaN(d.vs_llama))).toBe(true);
    const unknown = { ...a.prompts[0].decoders[4], runs: [{ ...a.prompts[0].decoders[4].runs[0], decode_steps: NaN }] };
    expect(figures([unknown]).tau).toBeNaN();
    expect(() => groupResults(a.prompts, ["python"], cs)).toThrow(/groups/);
  });

  it("tau pools every timed run, not the last round's (a cost model that learns decodes each round differently)", () => {
    const tokens = Array.from({ length: 13 }, (_, i) => i); // 12 decode tokens a run
    const rounds = [run(10, tokens, 3), run(10, tokens, 2), run(10, tokens, 1)]; // 4, 6 and 12 steps
    const per = { ...a.prompts[0].decoders[0], runs: rounds.map(({ tokens: _, ...rest }) => rest) };
    expect(figures([per]).tau).toBeCloseTo(36 / 22, 12);
  });
});

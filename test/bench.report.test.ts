/** The bench's Markdown: the headline table, the baseline, labels, and a loud flag on any mismatch. */
import { describe, expect, it } from "vitest";
import { analyze, type Contender } from "../src/bench/analysis.js";
import type { RunTiming } from "../src/bench/decoder.js";
import { configLabel, renderMarkdown, type BenchReport, type ContenderReport } from "../src/bench/report.js";

const contenders: Contender[] = [
  { id: "ar/native/t1", decoder: "ar", engine: "ours", weights: "native", threads: 1, label: "ours AR" },
  { id: "ar/q8/t1", decoder: "ar", engine: "ours", weights: "q8", threads: 1, label: "ours AR" },
  { id: "space/q8/t1", decoder: "space", engine: "ours", weights: "q8", threads: 1, label: "ours SPACE (untrained mask)" },
  { id: "llama-ar/t1", decoder: "llama-ar", engine: "llama", threads: 1, label: "llama.cpp AR" },
];

function run(tokS: number, tokens: number[], steps = tokens.length - 1, rows?: Record<string, number>): RunTiming {
  const d = tokens.length - 1;
  return { prompt_tokens: 9, generated: tokens.length, prefill_ms: 5, decode_ms: (d * 1000) / tokS, prefill_tok_s: 1800, decode_tok_s: tokS, decode_steps: steps, tau: d / steps, ...(rows ? { step_rows: rows } : {}), tokens };
}

function report(spaceTokens: number[]): BenchReport {
  const T = [5, 6, 7, 8, 9];
  const runs = [[[run(10, T)], [run(12, T)], [run(6, spaceTokens, 2, { 36: 2 })], [run(40, T)]]];
  const cost = { "space/q8/t1": [{ T: 1, median_ms: 10, ratio: 1, runs_ms: [10] }, { T: 36, median_ms: 40, ratio: 4, runs_ms: [40] }] };
  const analysis = analyze({ contenders, promptIds: ["humaneval-x/python/142"], runs, banned: new Set([2]), cost });
  const reports: ContenderReport[] = contenders.map((c, i) => ({ ...c, calibration_tok_s: 10 + i, timed: true, rss_mb: 200 + i, info: c.engine === "llama" ? { llama_cpp_tag: "b1234" } : {} }));
  reports.push({ id: "space/native/t1", decoder: "space", engine: "ours", weights: "native", threads: 1, label: "ours SPACE (untrained mask)", calibration_tok_s: 3, timed: false, rss_mb: 180, info: {} });
  return {
    schema: "space-bench/3", date: "2026-01-01T00:00:00Z", argv: [],
    machine: { cpu: "test CPU", cpus: 2, node: "v20", platform: "linux", loadavg_start: [0.5], loadavg_end: [0.7] },
    model: { path: "/m/model.gguf", bytes: 98e6 },
    settings: {
      n: 5, calibration_n: 5, repeats: 1, warmup: 1, problems: 1, chat: 0, weights: ["native", "q8"], threads: [1], select: "fastest", k: 5, layouts: ["full"],
      mask: { token: 16, trained: false, source: "<empty_output>" }, draft_layers: 8, cost_prefix: 100, cost_repeats: 5,
    },
    rss: { method: "one process per contender", idle_mb: 50 },
    prompts: [{ id: "humaneval-x/python/142", source: "humaneval-x", group: "python", tokens: 9 }],
    contenders: reports, cost, analysis, warnings: [], elapsed_s: 12,
  };
}

describe("renderMarkdown", () => {
  it("shows each decoder in its fastest configuration against our fastest AR, with the bound beside SPACE", () => {
    const md = renderMarkdown(report([5, 6, 7, 8, 9]));
    expect(md).toContain("baseline: **our fastest AR**, ours AR (q8, 1 thread)");
    const headline = md.split("### Each decoder in its fastest configuration")[1].split("Other configurations")[0];
    const rows = headline.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| decoder") && !l.startsWith("| ---"));
    expect(rows).toHaveLength(3); // ar (baseline), space, llama-ar
    expect(rows[0]).toContain("| ours AR | q8, 1 thread | 12.0 | 1.00 | 1.00× (baseline) |");
    // SPACE: 6 / 12 = 0.50x; tau 4 / 2 = 2; bound 4 x 10 / (2 x 40) = 0.50x; 6 / 40 = 0.15x of llama.cpp; RSS 202 - 50 idle.
    expect(rows[1]).toContain("| ours SPACE (untrained mask) | q8, 1 thread | 6.0 | 2.00 | 0.50× | 0.50× | 0.15× | 202 | 152 | yes vs q8, 1 thread AR |");
    expect(md).toContain("**untrained** (token 16");
    expect(md).not.toContain("MISMATCH");
  });

  it("lists slower configurations, timed or dropped after calibration", () => {
    const md = renderMarkdown(report([5, 6, 7, 8, 9]));
    const others = md.split("Other configurations")[1].split("###")[0];
    expect(others).toContain("| ours AR | native, 1 thread | 10.0 |");
    expect(others).toContain("| ours SPACE (untrained mask) | native, 1 thread | 3.0 (calibration) |");
    expect(others).toContain("not timed");
  });

  it("flags loudly when a decoder's output differs from our AR's", () => {
    const md = renderMarkdown(report([5, 6, 0, 8, 9]));
    expect(md).toContain("**MISMATCH: output differs from our AR's in the same configuration** for ours SPACE (untrained mask) (q8, 1 thread) on humaneval-x/python/142");
    expect(md).toContain("**NO** (1 of 1: BUG) vs q8, 1 thread AR");
    expect(md).toContain("**≠ AR at 2: BUG**");
  });

  it("labels a lossy format's AR that differs from native AR, without calling it a bug", () => {
    const r = report([5, 6, 7, 8, 9]);
    const runs = [[[run(10, [5, 6, 1, 1, 1])], [run(12, [5, 6, 7, 8, 9])], [run(6, [5, 6, 7, 8, 9], 2, { 36: 2 })], [run(40, [5, 6, 1, 1, 1])]]];
    const analysis = analyze({ contenders, promptIds: ["humaneval-x/python/142"], runs, banned: new Set([2]), cost: r.cost });
    const md = renderMarkdown({ ...r, analysis });
    expect(md).not.toContain("MISMATCH");
    expect(md).toContain("- **lossy**: ours AR (q8, 1 thread) differs from ours AR (native, 1 thread) on 1 of 1 prompts");
    expect(md).toContain("**NO** (1 of 1, lossy) vs native, 1 thread AR");
  });

  it("has a per-group table (tok/s / tau / speedup / vs llama.cpp) of the decoders in their fastest configuration", () => {
    const r = report([5, 6, 7, 8, 9]);
    const runs = [[[run(10, [5, 6, 7, 8, 9])], [run(12, [5, 6, 7, 8, 9])], [run(6, [5, 6, 7, 8, 9], 2, { 36: 2 })], [run(40, [5, 6, 7, 8, 9])]]];
    const analysis = analyze({ contenders, promptIds: ["humaneval-x/python/142"], promptGroups: ["python"], runs, banned: new Set([2]), cost: r.cost });
    const md = renderMarkdown({ ...r, analysis });
    const section = md.split("### Per prompt group")[1].split("###")[0];
    expect(section).toContain("| group (prompts) | ours AR | ours SPACE (untrained mask) | llama.cpp AR |");
    // our AR (q8) is the baseline: 12 tok/s, 12 / 40 of llama.cpp; SPACE 6 tok/s at tau 4 / 2 = 2.
    expect(section).toContain("| python (1) | 12.0 / 1.00 / 1.00× / 0.30× | 6.0 / 2.00 / 0.50× / 0.15× | 40.0 / 1.00 / 3.33× / 1.00× |");
    expect(section).toContain("| all (1) | 12.0 / 1.00 / 1.00× / 0.30× |");
  });

  it("names SPACE's layouts, the cost model's included", () => {
    const r = report([5, 6, 7, 8, 9]);
    const md = renderMarkdown({ ...r, settings: { ...r.settings, layouts: ["full", "auto"] } });
    expect(md).toContain("- SPACE: k = 5 (auto: k <= 5 per step), full layout (the paper's: a mask group after every candidate); auto layout (the cost model:");
  });

  it("labels configurations", () => {
    expect(configLabel({ weights: "f32", threads: 2 })).toBe("f32, 2 threads");
    expect(configLabel({ threads: 1 })).toBe("1 thread");
  });
});

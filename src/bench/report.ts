/** The bench's JSON document and its Markdown rendering (stdout and bench.md). */
import type { Analysis, Contender } from "./analysis.js";
import type { CostPoint } from "../decode/cost.js";
import { NOISY_SPREAD } from "../util/stats.js";

export interface ContenderReport extends Contender {
  /** Decode tok/s of the calibration (warm-up) run on the first prompt. */
  readonly calibration_tok_s: number;
  /** Timed on every prompt (false: a slower configuration of its decoder, dropped after calibration). */
  readonly timed: boolean;
  /** Peak RSS of its process after the timed runs, MiB (process.resourceUsage().maxRSS). */
  readonly rss_mb: number;
  readonly info: Record<string, unknown>;
}

export interface BenchReport {
  readonly schema: "space-bench/3";
  readonly date: string;
  readonly argv: string[];
  readonly machine: { cpu: string; cpus: number; node: string; platform: string; loadavg_start: number[]; loadavg_end: number[] };
  readonly model: { path: string; bytes: number };
  readonly settings: {
    n: number;
    calibration_n: number;
    repeats: number;
    warmup: number;
    problems: number;
    chat: number;
    weights: string[];
    threads: number[];
    select: "fastest" | "all";
    k: number;
    /** SPACE's layouts, each a contender of its own: full, lean, or auto (the cost model). */
    layouts: string[];
    mask: { token: number | null; trained: boolean; source: string };
    draft_layers: number;
    cost_prefix: number;
    cost_repeats: number;
  };
  /** How memory was measured, and the idle Node process it is compared with. */
  readonly rss: { method: string; idle_mb: number };
  readonly prompts: { id: string; source: string; group: string; tokens: number; text?: string }[];
  readonly contenders: ContenderReport[];
  readonly cost: Record<string, CostPoint[]>;
  readonly analysis: Analysis;
  readonly warnings: string[];
  readonly elapsed_s: number;
}

function num(x: number | undefined, digits = 1): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

function times(x: number | undefined): string {
  return x !== undefined && Number.isFinite(x) ? `${x.toFixed(2)}×` : "n/a";
}

export function table(head: string[], align: ("l" | "r")[], rows: string[][]): string {
  const sep = align.map((a) => (a === "r" ? "---:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** What a SPACE layout is, in the report's words. */
export function layoutLabel(layout: string): string {
  if (layout.endsWith("+store")) return `${layoutLabel(layout.slice(0, -"+store".length))}, with an n-gram store's drafts where the text has no 3-token match`;
  if (layout === "auto") return "auto layout (the cost model: k and the layout, lookup candidates at a match, or a plain AR step, chosen per step from cost(T) and acceptance)";
  if (layout === "full") return "full layout (the paper's: a mask group after every candidate)";
  return `${layout} layout`;
}

/** "native, 1 thread" */
export function configLabel(c: Pick<Contender, "weights" | "threads">): string {
  return `${c.weights !== undefined ? `${c.weights}, ` : ""}${c.threads} thread${c.threads === 1 ? "" : "s"}`;
}

export function renderMarkdown(r: BenchReport): string {
  const s = r.settings;
  const a = r.analysis;
  const byId = new Map(r.contenders.map((c) => [c.id, c]));
  const sources = new Map<string, number>();
  for (const p of r.prompts) sources.set(p.source, (sources.get(p.source) ?? 0) + 1);
  const base = byId.get(a.baseline)!;
  const out: string[] = [];
  const mismatched = a.summary.filter((x) => !x.greedy_ok && x.mismatch_kind === "bug");
  const name = (id: string) => `${byId.get(id)?.label ?? id} (${byId.has(id) ? configLabel(byId.get(id)!) : id})`;
  out.push("## space bench", "");
  if (mismatched.length > 0) {
    out.push(
      `> **MISMATCH: output differs from our AR's in the same configuration** for ${mismatched.map((x) => `${name(x.id)} on ${x.mismatches.join(", ")}`).join("; ")}. ` +
        "A lossless decoder must never do this: treat it as a bug.",
      "",
    );
  }
  out.push(`- model: \`${r.model.path}\` (${(r.model.bytes / 1e6).toFixed(1)} MB), the same file for every engine`);
  out.push(`- baseline: **our fastest AR**, ${base.label} (${configLabel(base)}), chosen among weights ${s.weights.join(", ")} × threads ${s.threads.join(", ")}`);
  out.push(
    `- SPACE: k = ${s.k}${s.layouts.includes("auto") ? ` (auto: k <= ${s.k} per step)` : ""}, ${s.layouts.map(layoutLabel).join("; ")}, mask ${s.mask.trained ? `trained (${s.mask.source})` : `**untrained** (token ${s.mask.token}, ${s.mask.source}): tau near 1 is expected until issue "SAR-SFT" supplies a trained mask`}`,
  );
  out.push(`- spec: draft = the model's first ${s.draft_layers} layers; lookup: prompt lookup, k = ${s.k}; llama.cpp: ${String(r.contenders.find((c) => c.engine === "llama")?.info.llama_cpp_tag ?? "not run")}, plain AR and InputLookupTokenPredictor`);
  out.push(
    `- method: ${r.prompts.length} prompts (${[...sources].map(([k, v]) => `${v} ${k}`).join(", ")}), ${s.n} greedy tokens per run (end-of-generation never ends a run), ` +
      `${s.warmup} warm-up run(s) of ${s.calibration_n} tokens per contender on the first prompt (also the calibration that picks each decoder's fastest configuration` +
      `${s.select === "fastest" ? "; our AR is timed in every configuration, the others only in their fastest" : "; every configuration timed"}), ` +
      `median of ${s.repeats} run(s); contenders interleaved per prompt in rotating order; ratios taken between runs of the same round`,
  );
  out.push(`- tau = decode tokens per decode step (llama.cpp lookup: from node-llama-cpp's validated predictions); bound = tau × cost(1)/cost(T) for the blocks SPACE ran (cost(T) measured in the SPACE process, ${s.cost_repeats} passes after a ${s.cost_prefix}-token prefix, rows after the first through the adapter when there is one)`);
  out.push(`- memory: ${r.rss.method}; an idle Node process of the same kind peaks at ${num(r.rss.idle_mb, 0)} MiB`);
  out.push(
    `- machine: ${r.machine.cpu}, ${r.machine.cpus} logical CPUs, Node ${r.machine.node}; load average ${num(r.machine.loadavg_start[0], 2)} at start, ` +
      `${num(r.machine.loadavg_end[0], 2)} at end`,
  );
  for (const x of a.summary.filter((y) => !y.greedy_ok && y.mismatch_kind === "lossy")) {
    out.push(`- **lossy**: ${name(x.id)} differs from ${name(x.reference)} on ${x.mismatches.length} of ${r.prompts.length} prompts: this format is its own configuration (exact within itself: every decoder on it is checked against its AR)`);
  }
  for (const x of a.summary.filter((y) => !y.greedy_ok && y.mismatch_kind === "peer")) {
    out.push(`- llama.cpp: ${name(x.id)} differs from ${name(x.reference)} on ${x.mismatches.length} of ${r.prompts.length} prompts (compared up to its first end-of-generation; it computes differently)`);
  }
  for (const w of r.warnings) out.push(`- **warning**: ${w}`);

  out.push("", "### Each decoder in its fastest configuration", "");
  const rowFor = (x: (typeof a.summary)[number]) => {
    const c = byId.get(x.id)!;
    return [
      c.label,
      configLabel(c),
      num(x.decode_tok_s),
      num(x.tau, 2),
      x.id === a.baseline ? "1.00× (baseline)" : times(x.speedup),
      x.bound !== undefined ? times(x.bound) : "",
      times(x.vs_llama),
      num(c.rss_mb, 0),
      num(c.rss_mb - r.rss.idle_mb, 0),
      `${x.greedy_ok ? "yes" : `**NO** (${x.mismatches.length} of ${r.prompts.length}${x.mismatch_kind === "bug" ? ": BUG" : `, ${x.mismatch_kind}`})`}${x.id === x.reference ? " (reference)" : ` vs ${configLabel(byId.get(x.reference)!)} AR`}`,
    ];
  };
  const head = ["decoder", "configuration", "decode tok/s", "tau", "speedup vs our fastest AR", "bound tau·cost(1)/cost(T)", "vs llama.cpp AR", "peak RSS MiB", "over idle MiB", "greedy output = our AR's"];
  const align: ("l" | "r")[] = ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"];
  out.push(table(head, align, a.summary.filter((x) => x.best).map(rowFor)));
  const others = a.summary.filter((x) => !x.best);
  const dropped = r.contenders.filter((c) => !c.timed);
  if (others.length > 0 || dropped.length > 0) {
    out.push("", "Other configurations", "");
    const rows = others.map(rowFor);
    for (const c of dropped) rows.push([c.label, configLabel(c), `${num(c.calibration_tok_s)} (calibration)`, "", "", "", "", num(c.rss_mb, 0), num(c.rss_mb - r.rss.idle_mb, 0), "not timed"]);
    out.push(table(head, align, rows));
  }

  out.push("", "### Per prompt: decode tok/s, tau, speedup vs our fastest AR", "");
  const shown = a.summary.filter((x) => x.best);
  const prow = a.prompts.map((p) => {
    const prompt = r.prompts.find((q) => q.id === p.id);
    const cells = shown.map((x) => {
      const d = p.decoders.find((y) => y.id === x.id)!;
      const noisy = d.runs.length > 1 && Math.max(...d.runs.map((q) => q.decode_tok_s)) / Math.min(...d.runs.map((q) => q.decode_tok_s)) > NOISY_SPREAD;
      const bad = d.agree.ok ? "" : d.agree.kind === "bug" ? ` **≠ AR at ${d.agree.same}: BUG**` : ` (≠ ${byId.get(d.agree.reference)?.weights ?? ""} AR at ${d.agree.same})`;
      return `${num(d.decode_tok_s)}${noisy ? " †" : ""} / ${num(d.tau, 2)} / ${times(d.speedup)}${bad}`;
    });
    return [p.id, String(prompt?.tokens ?? ""), ...cells];
  });
  out.push(table(["prompt", "tokens", ...shown.map((x) => byId.get(x.id)!.label)], ["l", "r", ...shown.map(() => "r" as const)], prow));
  out.push("", `† runs more than ${NOISY_SPREAD}× apart: the cores were busy with something else during some runs.`);

  out.push("", "### Per prompt group: decode tok/s / tau / speedup vs our fastest AR / vs llama.cpp AR", "");
  const grow = a.groups.map((g) => [
    `${g.group} (${g.prompts.length})`,
    ...shown.map((x) => {
      const d = g.decoders.find((y) => y.id === x.id)!;
      return `${num(d.decode_tok_s)} / ${num(d.tau, 2)} / ${times(d.speedup)} / ${times(d.vs_llama)}`;
    }),
  ]);
  out.push(table(["group (prompts)", ...shown.map((x) => byId.get(x.id)!.label)], ["l", ...shown.map(() => "r" as const)], grow));
  out.push(
    "",
    "Per group: tau = decode tokens / decode steps over its prompts' timed runs; tok/s the median over its prompts; ratios the geometric mean of its prompts' same-round ratios. " +
      "Each decoder in its fastest configuration (every timed configuration in the JSON).",
  );

  const costIds = Object.keys(r.cost);
  if (costIds.length > 0) {
    out.push("", "### cost(T) where SPACE ran (ms per forward of T rows; ratio to T = 1)", "");
    const rows: string[][] = [];
    for (const id of costIds) for (const p of r.cost[id]) rows.push([byId.get(id)?.label ?? id, configLabel(byId.get(id)!), String(p.T), num(p.median_ms, 2), num(p.ratio, 2)]);
    out.push(table(["decoder", "configuration", "T", "ms", "cost(T)/cost(1)"], ["l", "l", "r", "r", "r"], rows));
  }
  out.push("", `(${r.elapsed_s.toFixed(0)} s; every run in the JSON)`);
  return out.join("\n") + "\n";
}

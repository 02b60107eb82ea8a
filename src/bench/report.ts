/** The bench's JSON document and its Markdown rendering (stdout). */
import { NOISY_SPREAD, type SectionResult, type Settings } from "./harness.js";

export interface BenchReport {
  readonly schema: "space-bench/1";
  readonly date: string;
  readonly argv: string[];
  readonly machine: { cpu: string; cpus: number; node: string; platform: string; loadavg_start: number[]; loadavg_end: number[] };
  readonly model: { path: string; bytes: number };
  readonly ours: { simd: string; weights: string[] };
  readonly peer: Record<string, unknown>;
  readonly settings: Settings;
  readonly prompts: { id: string; source: string; tokens: number; text?: string }[];
  readonly warnings: string[];
  readonly sections: SectionResult[];
  readonly elapsed_s: number;
}

const LABEL_WEIGHTS: Record<string, string> = { native: "native (as stored)", f32: "f32 (dequantized at load)" };

function num(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

function times(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "n/a";
}

function table(head: string[], align: ("l" | "r")[], rows: string[][]): string {
  const sep = align.map((a) => (a === "r" ? "---:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

export function renderMarkdown(r: BenchReport): string {
  const s = r.settings;
  const peer = r.peer;
  const sources = new Map<string, number>();
  for (const p of r.prompts) sources.set(p.source, (sources.get(p.source) ?? 0) + 1);
  const out: string[] = [];
  out.push("## space bench: AR throughput vs llama.cpp, and cost(T)", "");
  out.push(`- model: \`${r.model.path}\` (${(r.model.bytes / 1e6).toFixed(1)} MB), the same file for both engines`);
  out.push(`- ours: WebAssembly **${r.ours.simd} SIMD** build, weights ${r.ours.weights.map((w) => LABEL_WEIGHTS[w] ?? w).join(" and ")}`);
  out.push(
    `- llama.cpp: node-llama-cpp ${String(peer.node_llama_cpp)} (llama.cpp tag ${String(peer.llama_cpp_tag)} as packaged), CPU backend, ` +
      `flash attention ${peer.flash_attention ? "on" : "off"}`,
  );
  out.push(`- threads: ${r.sections.map((x) => x.threads).join(", ")} (the same for both engines in each section)`);
  out.push(
    `- machine: ${r.machine.cpu}, ${r.machine.cpus} logical CPUs, Node ${r.machine.node}; load average ` +
      `${num(r.machine.loadavg_start[0], 2)} at start, ${num(r.machine.loadavg_end[0], 2)} at end`,
  );
  out.push(
    `- method: ${r.prompts.length} prompts (${[...sources].map(([k, v]) => `${v} ${k}`).join(", ")}), ${s.n} generated tokens per run ` +
      `(end-of-generation never ends a run), ${s.warmup} warm-up run(s) per engine excluded, median of ${s.repeats} runs, ` +
      `engines interleaved per prompt in rotating order; a ratio is the median of ours / llama.cpp over runs taken side by side`,
  );
  out.push(`- prefill tok/s = prompt tokens / time to the first generated token; decode tok/s = the other ${s.n - 1} tokens / their time`);
  for (const w of r.warnings) out.push(`- **warning**: ${w}`);

  for (const sec of r.sections) {
    out.push("", `### threads = ${sec.threads}`, "");
    out.push("AR throughput (tok/s: median over prompts; ratio: geometric mean over prompts)", "");
    out.push(
      table(
        ["engine", "prefill tok/s", "prefill vs llama.cpp", "decode tok/s", "decode vs llama.cpp"],
        ["l", "r", "r", "r", "r"],
        sec.summary.map((d) => [d.label, num(d.prefill_tok_s), times(d.prefill_ratio), num(d.decode_tok_s), times(d.decode_ratio)]),
      ),
    );
    out.push("", "Per prompt (greedy = llama.cpp: leading tokens equal to llama.cpp's, up to its end-of-generation)", "");
    const labels = new Map(sec.summary.map((d) => [d.id, d.label]));
    const rows: string[][] = [];
    let noisy = 0;
    const flag = (x: number) => (x > NOISY_SPREAD ? (noisy++, " †") : "");
    for (const p of sec.prompts) {
      p.decoders.forEach((d, i) => {
        rows.push([
          i === 0 ? p.id : "",
          i === 0 ? String(p.prompt_tokens) : "",
          labels.get(d.id) ?? d.id,
          num(d.prefill_tok_s) + flag(d.spread.prefill),
          times(d.prefill_ratio),
          num(d.decode_tok_s) + flag(d.spread.decode),
          times(d.decode_ratio),
          `${d.agree.same}/${d.agree.of}`,
        ]);
      });
    }
    out.push(
      table(
        ["prompt", "tokens", "engine", "prefill tok/s", "vs llama.cpp", "decode tok/s", "vs llama.cpp", "greedy = llama.cpp"],
        ["l", "r", "l", "r", "r", "r", "r", "r"],
        rows,
      ),
    );
    if (noisy > 0) {
      out.push(
        "",
        `† ${noisy} of ${rows.length * 2} medians come from runs more than ${NOISY_SPREAD}× apart: something else was using the ` +
          "cores during some runs (see the JSON); rerun on an idle machine or with more --repeats before trusting them.",
      );
    }
    out.push(
      "",
      `cost(T): one forward of T new tokens after a ${s.costPrefix}-token committed prefix, logits for all T rows, ` +
        `median of ${s.costRepeats} passes (warm-up round excluded, widths interleaved); per token = cost(T) / (T · cost(1))`,
      "",
    );
    const widths = sec.cost[0]?.points.map((p) => p.T) ?? [];
    out.push(
      table(
        ["T", ...sec.cost.flatMap((c) => [`${c.weights} ms`, `${c.weights} cost(T)/cost(1)`, `${c.weights} per token`])],
        ["r", ...sec.cost.flatMap(() => ["r", "r", "r"] as const)],
        widths.map((T, i) => [
          String(T),
          ...sec.cost.flatMap((c) => {
            const pt = c.points[i];
            return [num(pt.median_ms, 2), num(pt.ratio, 2), num(pt.ratio / T, 3)];
          }),
        ]),
      ),
    );
  }
  out.push("", `(${r.elapsed_s.toFixed(0)} s; JSON with every run in the file given by --out)`);
  return out.join("\n") + "\n";
}

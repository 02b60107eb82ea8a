/**
 * `npm run bench`: our AR decoding vs llama.cpp on the same GGUF and thread count, prefill and decode
 * tokens/s with their ratios measured side by side in one run, and the verification-width curve
 * cost(T)/cost(1) for T = 1..64 for each weight storage. Markdown on stdout, JSON to --out, progress on
 * stderr.
 *
 *   node dist/src/bench/bench.js [--threads 1[,2]] [--n 64] [--repeats 3] [--warmup 1] [--cost-repeats 7]
 *                                [--cost-prefix 100] [--simd auto|plain|relaxed] [--model PATH] [--data DIR]
 *                                [--prompts N] [--out FILE.json]
 */
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Engine } from "../engine.js";
import type { WeightStorage } from "../model/weights.js";
import { loadEngine, SMOLLM2_PATH, type SimdChoice } from "../node/engine.js";
import { packageRoot } from "../node/wasm.js";
import { ourArDecoder, type BenchDecoder } from "./decoder.js";
import { COST_WIDTHS } from "./cost.js";
import { runSection, sectionUnits, type SectionResult, type Settings } from "./harness.js";
import { openLlamaPeer } from "./llama.js";
import { Progress } from "./progress.js";
import { benchPrompts, defaultDataDir, filler } from "./prompts.js";
import { renderMarkdown, type BenchReport } from "./report.js";

const STORAGES: readonly WeightStorage[] = ["native", "f32"];
const LABELS: Record<WeightStorage, string> = { native: "ours AR, native weights", f32: "ours AR, f32 weights" };

const USAGE = `usage: npm run bench -- [options]
  --threads LIST      thread counts, each a section with the same count for both engines (default 1; e.g. 1,2)
  --n N               generated tokens per run (default 64)
  --repeats R         timed runs per prompt and engine (default 3); --warmup W warm-up runs (default 1)
  --cost-repeats R    timed passes per block width T (default 7); --cost-prefix P committed tokens (default 100)
  --simd auto|plain|relaxed   our WebAssembly build (default auto: relaxed where supported)
  --model PATH        GGUF (default ${SMOLLM2_PATH})
  --data DIR          HumanEval-X folder (default ../shared/data/humaneval-x beside the repository)
  --prompts N         only the first N prompts (quick checks)
  --out FILE          JSON output (default bench-results/bench-<date>.json)`;

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: "string" }, n: { type: "string" }, repeats: { type: "string" }, warmup: { type: "string" },
      "cost-repeats": { type: "string" }, "cost-prefix": { type: "string" }, simd: { type: "string" },
      model: { type: "string" }, data: { type: "string" }, prompts: { type: "string" }, out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const threadList = (values.threads ?? "1").split(",").map((t) => positiveInt("threads", t.trim(), 1));
  const settings: Settings = {
    n: positiveInt("n", values.n, 64, 2),
    repeats: positiveInt("repeats", values.repeats, 3),
    warmup: positiveInt("warmup", values.warmup, 1, 0),
    costPrefix: positiveInt("cost-prefix", values["cost-prefix"], 100),
    costWarmup: 1,
    costRepeats: positiveInt("cost-repeats", values["cost-repeats"], 7),
  };
  const simd = (values.simd ?? "auto") as SimdChoice;
  if (!["auto", "plain", "relaxed"].includes(simd)) throw new Error(`--simd must be auto, plain or relaxed, got ${JSON.stringify(values.simd)}`);
  const model = resolve(values.model ?? SMOLLM2_PATH);
  let modelBytes: number;
  try {
    modelBytes = statSync(model).size;
  } catch {
    throw new Error(`${model}: no such file (run \`npm run fetch-models\`)`);
  }
  const stamp = new Date().toISOString().replace(/[:]/g, "").replace(/\..*/, "");
  const outPath = resolve(values.out ?? join(packageRoot(), "bench-results", `bench-${stamp}.json`));
  const t0 = performance.now();
  const loadStart = loadavg();

  // Prompts come from our tokenizer; the engine that reads it then serves the first section.
  process.stderr.write(`bench: loading ${model}\n`);
  const first = await loadEngine(model, { simd, threads: threadList[0], weights: "native" });
  const promptSet = benchPrompts(first.tokenizer, values.data ? resolve(values.data) : defaultDataDir());
  let prompts = promptSet.prompts;
  if (values.prompts !== undefined) prompts = prompts.slice(0, positiveInt("prompts", values.prompts, prompts.length));
  for (const w of promptSet.warnings) process.stderr.write(`bench: warning: ${w}\n`);
  const simdBuild = first.core.build;
  const eog = first.tokenizer.eogTokens;
  const maxPrompt = Math.max(...prompts.map((p) => p.ids.length));
  const contextTokens = maxPrompt + settings.n + 8;
  const costTokens = filler(prompts, settings.costPrefix + Math.max(...COST_WIDTHS));

  process.stderr.write("bench: opening the llama.cpp peer (tools/peers)\n");
  const llama = await openLlamaPeer(model, Math.max(2048, contextTokens));
  const progress = new Progress(threadList.length * sectionUnits(STORAGES.length, STORAGES.length + 1, prompts.length, settings, COST_WIDTHS));
  process.stderr.write(
    `bench: ours ${simdBuild} SIMD, llama.cpp ${String(llama.info.llama_cpp_tag)}; threads ${threadList.join(", ")}; ` +
      `${prompts.length} prompts, ${settings.n} tokens, ${settings.repeats} repeats\n`,
  );

  const sections: SectionResult[] = [];
  let spare: Engine | undefined = first; // the engine that read the prompts serves the first section
  try {
    for (const threads of threadList) {
      const engines: { weights: WeightStorage; engine: Engine }[] = [];
      for (const weights of STORAGES) {
        const reuse = spare !== undefined && weights === "native" && threads === threadList[0];
        engines.push({ weights, engine: reuse ? spare! : await loadEngine(model, { simd, threads, weights }) });
        if (reuse) spare = undefined;
      }
      const decoders: BenchDecoder[] = [
        ...engines.map(({ weights, engine }) => ourArDecoder(engine, `ours-${weights}`, LABELS[weights], contextTokens)),
        llama.decoder(threads),
      ];
      try {
        sections.push(
          await runSection({
            threads, engines, decoders, prompts, settings, eog, tokens: costTokens,
            progress: (phase, units) => (units ? progress.tick(phase, units) : progress.show(phase)),
          }),
        );
      } finally {
        for (const d of decoders) d.dispose();
        for (const { engine } of engines) engine.close();
      }
    }
  } finally {
    await llama.close();
  }
  progress.end();

  const report: BenchReport = {
    schema: "space-bench/1",
    date: new Date().toISOString(),
    argv,
    machine: { cpu: cpus()[0]?.model ?? "unknown", cpus: cpus().length, node: process.version, platform: platform(), loadavg_start: loadStart, loadavg_end: loadavg() },
    model: { path: model, bytes: modelBytes },
    ours: { simd: simdBuild, weights: [...STORAGES] },
    peer: llama.info,
    settings,
    // Chat prompts with their text; HumanEval-X problems by id only (the data set stays outside the repository).
    prompts: prompts.map((p) => ({ id: p.id, source: p.source, tokens: p.ids.length, ...(p.source === "chat" ? { text: p.text } : {}) })),
    warnings: promptSet.warnings,
    sections,
    elapsed_s: (performance.now() - t0) / 1000,
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(report, null, 2)}\n`);
  await new Promise<void>((done) => process.stdout.write(renderMarkdown(report), () => done()));
  process.stderr.write(`bench: wrote ${outPath}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0), // node-llama-cpp may keep handles open after close()
  (e: unknown) => {
    process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);

/**
 * `space bench` (and `npm run bench`): one harness, one contract. Our decoders (ar, space, spec, lookup)
 * and llama.cpp (plain AR and its prompt-lookup predictor) on the same GGUF, the same prompts (held-out
 * HumanEval-X problems of six languages + chat prompts) and the same thread counts, interleaved in one
 * run, each decoder in its fastest configuration (weights x threads), every speedup over OUR fastest AR.
 * SPACE runs once per --layout (full, lean, auto: the cost model), each layout a contender of its own.
 * The report has every figure per prompt, per prompt group (language, chat, all) and per decoder.
 * Every contender runs in a process of its own, so its peak RSS is its own.
 *
 * Writes DIR/bench.json, DIR/bench.md (also on stdout) and DIR/speedup-tau.svg; progress on stderr.
 * Exit status 1 when one of our decoders' output differs from our AR's.
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { writeWhole } from "../node/outputs.js";
import { cpus, loadavg, platform } from "node:os";
import { join, resolve } from "node:path";
import { fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec, type Parsed } from "../util/args.js";
import { readGGUF, metaGetter } from "../gguf/reader.js";
import { configFromMetadata } from "../model/config.js";
import { DECODE_STORAGES, WEIGHT_STORAGES } from "../model/weights.js";
import { decodeAdapter } from "../model/adapter.js";
import { tokenizerFromMetadata } from "../tokenizer/tokenizer.js";
import { fileSource } from "../node/files.js";
import { SMOLLM2_PATH, type SimdChoice } from "../node/engine.js";
import { packageRoot } from "../node/wasm.js";
import { LAYOUTS, MAX_K } from "../decode/space.js";
import { COPYING_LAYOUTS, type DecoderKind } from "../decode/decoders.js";
import { analyze, family, type Contender } from "./analysis.js";
import type { CostPoint } from "../decode/cost.js";
import { calibrate, selectTimed, timedRuns, type Live, type Schedule } from "./harness.js";
import { ChildEngine, type ChildSpec } from "./procs.js";
import { Progress } from "./progress.js";
import { benchPrompts, CHAT_PROMPTS, defaultDataDir, filler } from "./prompts.js";
import { configLabel, renderMarkdown, type BenchReport, type ContenderReport } from "./report.js";
import { speedupTauSvg } from "./svg.js";

/**
 * Weight storages tried by default: every decoding storage (the baseline is the fastest). "f32" is f32
 * panels; "f32-rows" (row-major f32, for the trainers) computes the same logits, only slower, so it runs
 * only when --weights names it (e.g. to measure what the panels gain).
 */
const defaultStorages = (): string[] => [...DECODE_STORAGES];
const weightStorages = (): string[] => [...WEIGHT_STORAGES];

const ALL_DECODERS = ["ar", "space", "spec", "lookup", "llama-ar", "llama-lookup"] as const;
/** SPACE's fixed layouts (src/decode/space.ts) and "auto", the cost model (src/decode/costmodel.ts), as `space generate` has them. */
const SPACE_LAYOUTS = [...Object.keys(LAYOUTS), "auto"];
const DEFAULT_K = 5;
/** Defaults sized so that a default run takes at most ~10 minutes on one thread of these machines. */
const DEFAULT_CHAT = 2;

export const BENCH_OPTIONS: Record<string, OptionSpec> = {
  model: { kind: "string", help: `GGUF (default ${SMOLLM2_PATH})` },
  adapter: { kind: "string", help: "space: a SPACE adapter GGUF for --model (gives k and the trained mask)" },
  store: { kind: "string", help: "space: also run each layout that copies candidates (auto, hybrid) with an n-gram store of FILE (distilled JSONL, .gz allowed: token ids the model wrote on other prompts), as a contender of its own (layout NAME+store)" },
  k: { kind: "int", min: 1, max: 64, help: `candidates per step (space, spec, lookup; default ${DEFAULT_K}; space: at most ${MAX_K}, with --adapter at most its k, the default)` },
  "mask-token": { kind: "int", min: 0, max: 0x7fffffff, help: "space: mask token id (default: the model's space.mask_token_id, else an untrained <empty_output>)" },
  layout: { kind: "string", help: `space layouts, comma-separated, of ${SPACE_LAYOUTS.join(",")} (auto: the cost model picks k and the layout, prompt-lookup candidates at a match, or a plain AR step, per step); each is a contender of its own (default full)` },
  "draft-layers": { kind: "int", min: 1, max: 1 << 16, help: "spec: draft = the first N layers (default a quarter of them)" },
  weights: { kind: "string", help: `weight storages to try, comma-separated, of ${weightStorages().join(",")} (default ${defaultStorages().join(",")}; f32 = f32 panels)` },
  threads: { kind: "string", help: "thread counts to try, comma-separated, the same for llama.cpp (default 1)" },
  simd: { kind: "string", choices: ["auto", "plain", "relaxed"], help: "our WebAssembly build (default auto)" },
  decoders: { kind: "string", help: `comma-separated subset of ${ALL_DECODERS.join(",")} (default all)` },
  select: { kind: "string", choices: ["fastest", "all"], help: "time each decoder in its fastest configuration only (default) or in all" },
  n: { kind: "int", min: 2, max: 4096, help: "generated tokens per timed run (default 24; warm-up/calibration runs: at most 16)" },
  repeats: { kind: "int", min: 1, max: 100, help: "timed runs per prompt and contender (default 1)" },
  warmup: { kind: "int", min: 1, max: 100, help: "warm-up/calibration runs on the first prompt (default 1)" },
  problems: { kind: "int", min: 0, max: 44, help: "held-out HumanEval-X problems (120-163) per language, spread evenly (default 1)" },
  chat: { kind: "int", min: 0, max: CHAT_PROMPTS.length, help: `chat prompts, of ${CHAT_PROMPTS.length} (default ${DEFAULT_CHAT})` },
  data: { kind: "string", help: "HumanEval-X folder (default: the package's data/humaneval-x)" },
  "cost-repeats": { kind: "int", min: 1, max: 100, help: "timed passes per width for cost(T) (default 5)" },
  "cost-prefix": { kind: "int", min: 1, max: 4096, help: "committed tokens before the cost(T) block (default 100)" },
  out: { kind: "string", help: "output folder (default bench-results/bench-DATE/)" },
  help: { kind: "flag", help: "this help" },
};

export const BENCH_USAGE = `space bench [options]    our decoders vs llama.cpp: tok/s, tau, speedup over our fastest AR, peak RSS\n${usage(BENCH_OPTIONS)}`;

const intList = (name: string, s: string): number[] =>
  s.split(",").map((t) => {
    const n = Number(t.trim());
    if (!Number.isInteger(n) || n < 1 || n > 64) fail("E_ARGS", `--${name}: expected integers in [1, 64], got ${JSON.stringify(t)}`);
    return n;
  });

interface MaskChoice {
  token: number | null;
  trained: boolean;
  source: string;
  k: number;
}

export async function runBench(argv: readonly string[]): Promise<number> {
  const { options: o, positional } = parseArgs(argv, BENCH_OPTIONS);
  if (positional.length > 0) fail("E_ARGS", `space bench takes only options (got "${positional[0]}")`);
  if (o.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const t0 = performance.now();
  const loadStart = loadavg();
  const model = resolve((o.model as string | undefined) ?? SMOLLM2_PATH);
  let modelBytes = 0;
  try {
    modelBytes = statSync(model).size;
  } catch {
    fail("E_IO", `${model}: no such file (run \`npm run fetch-models\`)`);
  }
  const storages = ((o.weights as string | undefined) ?? defaultStorages().join(",")).split(",").map((w) => w.trim());
  for (const w of storages) if (!weightStorages().includes(w)) fail("E_ARGS", `--weights: ${w} is not one of ${weightStorages().join(", ")}`);
  const threadList = intList("threads", (o.threads as string | undefined) ?? "1");
  const decoders = ((o.decoders as string | undefined) ?? ALL_DECODERS.join(",")).split(",").map((d) => d.trim());
  for (const d of decoders) if (!(ALL_DECODERS as readonly string[]).includes(d)) fail("E_ARGS", `--decoders: ${d} is not one of ${ALL_DECODERS.join(", ")}`);
  if (!decoders.includes("ar")) fail("E_ARGS", "--decoders must include ar: our fastest AR is the baseline");
  const simd = ((o.simd as string | undefined) ?? "auto") as SimdChoice;
  const layouts = [...new Set(((o.layout as string | undefined) ?? "full").split(",").map((l) => l.trim()))];
  for (const l of layouts) if (!SPACE_LAYOUTS.includes(l)) fail("E_ARGS", `--layout: ${l} is not one of ${SPACE_LAYOUTS.join(", ")}`);
  const n = (o.n as number | undefined) ?? 24;
  const s: Schedule = {
    n,
    calibrationN: Math.min(n, 16),
    warmup: (o.warmup as number | undefined) ?? 1,
    repeats: (o.repeats as number | undefined) ?? 1,
    select: ((o.select as string | undefined) ?? "fastest") as "fastest" | "all",
  };
  const costRepeats = (o["cost-repeats"] as number | undefined) ?? 5;
  const costPrefix = (o["cost-prefix"] as number | undefined) ?? 100;
  if (o.adapter !== undefined && o["mask-token"] !== undefined) fail("E_ARGS", "--adapter supplies the mask: drop --mask-token");

  // The model's tokenizer and config, without loading weights in this (scheduling) process.
  const source = fileSource(model);
  const file = readGGUF(source);
  source.close();
  const get = metaGetter(file);
  const cfg = configFromMetadata(get, file.name);
  const tokenizer = tokenizerFromMetadata(get);

  // The mask: an adapter's, the model's own (SAR-SFT metadata), or an untrained token, labelled so.
  const metaInt = (key: string): number | undefined => {
    const v = get(key);
    return v === undefined ? undefined : Number(v as number | bigint);
  };
  let mask: MaskChoice;
  if (o.adapter !== undefined) {
    const meta = decodeAdapter(new Uint8Array(readFileSync(o.adapter as string)), o.adapter as string).meta;
    mask = { token: null, trained: true, source: `adapter ${o.adapter as string}`, k: meta.k };
  } else if (o["mask-token"] === undefined && metaInt("space.mask_token_id") !== undefined) {
    mask = { token: metaInt("space.mask_token_id")!, trained: true, source: `${file.name} metadata`, k: metaInt("space.k") ?? DEFAULT_K };
  } else {
    const token = (o["mask-token"] as number | undefined) ?? tokenizer.tokenToId("<empty_output>");
    if (token === undefined && decoders.includes("space")) fail("E_ARGS", `${file.name} has no trained mask and no <empty_output> token: give --mask-token ID or --adapter`);
    mask = { token: token ?? null, trained: false, source: o["mask-token"] !== undefined ? "--mask-token" : "<empty_output>", k: DEFAULT_K };
  }
  // With an adapter, --k may take fewer masks than it was trained with (its first k), never more.
  const k = (o.k as number | undefined) ?? mask.k;
  if (o.adapter !== undefined && decoders.includes("space") && k > mask.k) fail("E_ARGS", `--k ${k}: the adapter was trained with k = ${mask.k} masks (use at most that many)`);
  const lookupK = (o.k as number | undefined) ?? DEFAULT_K;
  if (decoders.includes("space") && k > MAX_K) fail("E_ARGS", `--k must be at most ${MAX_K} for space, got ${k}`);
  const draftLayers = (o["draft-layers"] as number | undefined) ?? Math.max(1, Math.ceil(cfg.nLayers / 4));
  if (draftLayers > cfg.nLayers) fail("E_ARGS", `--draft-layers ${draftLayers} exceeds the model's ${cfg.nLayers} layers`);
  // Never emitted by any of our decoders (AR included), so that all of them stay comparable token for token.
  const banned = [...tokenizer.eogTokens, ...(mask.token !== null ? [mask.token] : [])];

  const promptSet = benchPrompts(tokenizer, o.data !== undefined ? resolve(o.data as string) : defaultDataDir(), {
    problems: (o.problems as number | undefined) ?? 1,
    chat: (o.chat as number | undefined) ?? DEFAULT_CHAT,
  });
  const prompts = promptSet.prompts;
  if (prompts.length === 0) fail("E_ARGS", "no prompts (--problems 0 --chat 0, or no data)");
  const warnings = [...promptSet.warnings];
  for (const w of warnings) process.stderr.write(`bench: warning: ${w}\n`);
  const contextTokens = Math.max(...prompts.map((p) => p.ids.length)) + s.n + 8;
  const stamp = new Date().toISOString().replace(/[:]/g, "").replace(/\..*/, "");
  const outDir = resolve((o.out as string | undefined) ?? join(packageRoot(), "bench-results", `bench-${stamp}`));

  // Contenders: our decoders in every (weights, threads), SPACE also in every layout, llama.cpp's in every thread count.
  const plans: { c: Contender; spec: ChildSpec }[] = [];
  const untrained = mask.trained ? "" : ", untrained mask";
  const LABELS: Record<string, string> = { ar: "ours AR", spec: `ours spec (${draftLayers}-layer draft)`, lookup: "ours lookup" };
  // With --store, each copying layout also runs as NAME+store (the same layout, drafts from the store).
  const store = o.store !== undefined ? resolve(o.store as string) : undefined;
  const copies = (l: string) => (COPYING_LAYOUTS as readonly string[]).includes(l);
  if (store !== undefined && !layouts.some(copies)) fail("E_ARGS", `--store drafts for the layouts that copy candidates: add ${[...COPYING_LAYOUTS].sort().join(" or ")} to --layout`);
  const spaceRuns = layouts.flatMap((l) => (store !== undefined && copies(l) ? [l, `${l}+store`] : [l]));
  for (const d of decoders.filter((x) => !x.startsWith("llama"))) {
    for (const layout of d === "space" ? spaceRuns : [undefined]) {
      for (const weights of storages) {
        for (const threads of threadList) {
          plans.push({
            c: {
              id: `${d}/${layout !== undefined ? `${layout}/` : ""}${weights}/t${threads}`, decoder: d, engine: "ours", weights, threads,
              ...(layout !== undefined ? { layout } : {}),
              label: layout !== undefined ? `ours SPACE (${layout} layout${untrained})` : LABELS[d],
            },
            spec: {
              engine: "ours", model, simd, threads, weights, decoder: d as DecoderKind, k: d === "space" ? k : lookupK, layout: layout?.replace("+store", "") ?? "full", contextTokens, banned,
              ...(layout?.endsWith("+store") ? { store } : {}),
              ...(d === "space" && o.adapter !== undefined ? { adapter: resolve(o.adapter as string) } : {}),
              ...(d === "space" && o.adapter === undefined ? { maskToken: mask.token! } : {}),
              ...(d === "spec" ? { draftLayers } : {}),
            },
          });
        }
      }
    }
  }
  for (const d of decoders.filter((x) => x.startsWith("llama"))) {
    for (const threads of threadList) {
      const mode = d === "llama-ar" ? "plain" : "input_lookup";
      plans.push({
        c: { id: `${d}/t${threads}`, decoder: d, engine: "llama", threads, label: d === "llama-ar" ? "llama.cpp AR" : "llama.cpp lookup" },
        spec: { engine: "llama", model, threads, contextTokens, mode },
      });
    }
  }

  process.stderr.write(`bench: ${prompts.length} prompts, ${plans.length} contenders (a process each), ${s.n} tokens; load average ${loadStart[0].toFixed(2)}\n`);
  const live: Live[] = [];
  const reports = new Map<string, ContenderReport>();
  const cost: Record<string, CostPoint[]> = {};
  let idleMb = NaN;
  try {
    const idle = await ChildEngine.start("idle", { engine: "idle" });
    idleMb = await idle.child.rssMB();
    await idle.child.close();
    for (const { c, spec } of plans) {
      process.stderr.write(`bench: starting ${c.id}\n`);
      try {
        const { child, info } = await ChildEngine.start(c.id, spec);
        live.push({ ...c, child, info });
      } catch (e) {
        if (c.engine !== "llama") throw e;
        // The peer is development tooling (tools/peers): without it our rows still run, and the report says so.
        warnings.push(`llama.cpp (${c.id}) did not start: ${(e as Error).message}`);
        process.stderr.write(`bench: warning: ${warnings[warnings.length - 1]}\n`);
      }
    }

    const warm = new Progress(live.length * s.warmup * s.calibrationN);
    const rate = await calibrate(live, prompts[0], s, (phase, u) => (u ? warm.tick(phase, u) : warm.show(phase)));
    warm.end("calibration");
    const keep = selectTimed(live, rate, s.select);
    for (const c of live) {
      reports.set(c.id, { id: c.id, decoder: c.decoder, engine: c.engine, ...(c.weights !== undefined ? { weights: c.weights } : {}), threads: c.threads, ...(c.layout !== undefined ? { layout: c.layout } : {}), label: c.label, calibration_tok_s: rate.get(c.id) ?? NaN, timed: keep.has(c.id), rss_mb: NaN, info: c.info });
      if (!keep.has(c.id)) {
        process.stderr.write(`bench: ${c.id} is slower than another configuration of ${family(c)}: not timed\n`);
        (reports.get(c.id) as { rss_mb: number }).rss_mb = await c.child.rssMB();
        await c.child.close();
      }
    }
    const timed = live.filter((c) => keep.has(c.id));
    live.splice(0, live.length, ...timed);

    const progress = new Progress(timed.length * prompts.length * s.repeats * s.n);
    const runs = await timedRuns(timed, prompts, s, (phase, u) => (u ? progress.tick(phase, u) : progress.show(phase)));
    for (const c of timed) (reports.get(c.id) as { rss_mb: number }).rss_mb = await c.child.rssMB(); // before cost(T) allocates more

    // cost(T) at every block width SPACE ran, in SPACE's own process (same weights, threads, build).
    for (const c of timed.filter((x) => x.decoder === "space")) {
      const i = timed.indexOf(c);
      const widths = new Set<number>([1]);
      for (const p of runs) for (const r of p[i]) for (const T of Object.keys(r.step_rows ?? {})) widths.add(Number(T));
      const ws = [...widths].sort((a, b) => a - b);
      progress.show(`cost(T) for ${c.id}: T = ${ws.join(", ")}`);
      cost[c.id] = await c.child.cost(filler(prompts, costPrefix + Math.max(...ws)), costPrefix, ws, 1, costRepeats);
    }
    progress.end();

    const analysis = analyze({ contenders: timed, promptIds: prompts.map((p) => p.id), promptGroups: prompts.map((p) => p.group), runs, banned: new Set(banned), cost });
    const report: BenchReport = {
      schema: "space-bench/3",
      date: new Date().toISOString(),
      argv: [...argv],
      machine: { cpu: cpus()[0]?.model ?? "unknown", cpus: cpus().length, node: process.version, platform: platform(), loadavg_start: loadStart, loadavg_end: loadavg() },
      model: { path: model, bytes: modelBytes },
      settings: {
        n: s.n, calibration_n: s.calibrationN, repeats: s.repeats, warmup: s.warmup, problems: (o.problems as number | undefined) ?? 1, chat: (o.chat as number | undefined) ?? DEFAULT_CHAT,
        weights: storages, threads: threadList, select: s.select, k, layouts: spaceRuns, mask: { token: mask.token, trained: mask.trained, source: mask.source },
        draft_layers: draftLayers, cost_prefix: costPrefix, cost_repeats: costRepeats,
      },
      rss: { method: "one process per contender; peak RSS = process.resourceUsage().maxRSS of that process after its timed runs (before cost(T))", idle_mb: idleMb },
      // Chat prompts with their text; HumanEval-X problems by id only (the data set stays outside the repository).
      prompts: prompts.map((p) => ({ id: p.id, source: p.source, group: p.group, tokens: p.ids.length, ...(p.source === "chat" ? { text: p.text } : {}) })),
      contenders: [...reports.values()],
      cost,
      analysis,
      warnings,
      elapsed_s: (performance.now() - t0) / 1000,
    };
    const md = renderMarkdown(report);
    const points = analysis.summary
      .filter((x) => x.best && x.decoder !== "ar" && x.decoder !== "llama-ar")
      .flatMap((x) => {
        const c = reports.get(x.id)!;
        return analysis.prompts.map((p) => {
          const d = p.decoders.find((y) => y.id === x.id)!;
          return { series: `${c.label} (${configLabel(c)})`, prompt: p.id, tau: d.tau, speedup: d.speedup };
        });
      });
    mkdirSync(outDir, { recursive: true });
    // Whole files through a temporary file and a rename: an interrupted run never leaves half a report.
    writeWhole(join(outDir, "bench.json"), `${JSON.stringify(report, null, 2)}\n`);
    writeWhole(join(outDir, "bench.md"), md);
    writeWhole(join(outDir, "speedup-tau.svg"), speedupTauSvg(points));
    await new Promise<void>((done) => process.stdout.write(md, () => done()));
    process.stderr.write(`bench: wrote ${join(outDir, "bench.json")}, bench.md, speedup-tau.svg\n`);
    const bad = analysis.summary.filter((x) => !x.greedy_ok && x.mismatch_kind === "bug");
    if (bad.length > 0) {
      process.stderr.write(`bench: MISMATCH: ${bad.map((x) => `${x.id} differs from ${x.reference} on ${x.mismatches.join(", ")}`).join("; ")}\n`);
      return 1;
    }
    return 0;
  } finally {
    await Promise.all(live.map((c) => c.child.close()));
    for (const c of live) c.child.kill();
  }
}

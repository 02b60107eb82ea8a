/**
 * `space distill` and `space train` (base-preserving SAR-SFT, spec/adapter.md).
 *
 *   space distill --model BASE.gguf --out DATA.jsonl [--split train|heldout|all] [--max-tokens 256]
 *   space train --model BASE.gguf --data DATA.jsonl --run-dir DIR --out ADAPTER.gguf [--steps N] ...
 *
 * Both resume: distill skips the ids already in its output; train continues from DIR/checkpoint.gguf.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { appendLine, dropTornLine, isRegularFile, refuseInputAsOutput, requireRegularFile } from "../node/outputs.js";
import { readDistilled } from "../node/distilled.js";
import { fmtTime, logRun as log, trainSteps, trainingExamples } from "../node/train-run.js";
import { lockRunDir } from "../node/runlock.js";
import { checkRunConfig, writeRunConfig } from "../node/runconfig.js";
import { basename, join } from "node:path";
import { fail } from "../errors.js";
import type { OptionSpec, Parsed } from "../util/args.js";
import { loadEngine, SMOLLM2_PATH, type SimdChoice } from "../node/engine.js";
import { loadModelFile } from "../api/node.js";
import type { Engine } from "../engine.js";
import type { WeightStorage } from "../model/weights.js";
import { generate } from "../decode/generate.js";
import { ArProposer } from "../decode/proposer.js";
import { SpaceProposer, maxExtraRows, FULL_LAYOUT, type SpaceLayout } from "../decode/space.js";
import { userPromptIds } from "../tokenizer/chat.js";
import { defaultDataDir } from "../bench/prompts.js";
import { distillPrompts, humanEvalPrompts, readPromptsFile, sha256File, type DistillPrompt, type DistilledExample } from "../node/prompts.js";
import { HUMANEVAL_LANGUAGES } from "../train/prompts.js";
import { AdapterTrainer, liveLoraRows } from "../train/adapter.js";
import { decodeCheckpoint, encodeCheckpoint } from "../train/checkpoint.js";
import { writeFileAtomic } from "../node/checkpoint.js";
import {
  LORA_TARGETS, LoraRows, checkAdapterBase, decodeAdapter, encodeAdapter, type LoraTarget,
} from "../model/adapter.js";

const COMMON: Record<string, OptionSpec> = {
  model: { kind: "string", help: "base GGUF (default: SmolLM2-135M-Instruct from `npm run fetch-models`)" },
  simd: { kind: "string", choices: ["auto", "plain", "relaxed"], help: "WebAssembly build (default auto)" },
  threads: { kind: "int", min: 1, max: 64, help: "threads (default 1): decoding, and in train the frozen base's forward matmuls (bit-identical results for any count)" },
};

/**
 * `--weights f32` means what each command runs fastest, with the same logits either way: distill only
 * decodes, so f32 panels; train runs the backward kernels, which read rows, so row-major f32
 * ("f32-rows"). The name stays `f32` for train so existing recipes (scripts/smollm2-space.sh) keep working.
 * Distill also takes the lossy decoding storages (q8, q4): the responses are then the greedy output of
 * the model as it is decoded with that storage, which is what SPACE run with it has to predict, at the
 * speed of plain decoding (Q4_1 native: 5 tokens/s on one core; q4: over 40).
 */
const DISTILL_STORAGE: Readonly<Record<string, WeightStorage>> = { native: "native", f32: "f32", q8: "q8", q4: "q4" };
const TRAIN_STORAGE: Readonly<Record<string, WeightStorage>> = { native: "native", f32: "f32-rows" };

export const DISTILL_OPTIONS: Record<string, OptionSpec> = {
  ...COMMON,
  weights: { kind: "string", choices: Object.keys(DISTILL_STORAGE), help: "weights in memory: as stored (default), f32 (dequantised into f32 panels: same tokens, faster), or q8 / q4 (the lossy decoding storages: that storage's greedy tokens, fastest)" },
  out: { kind: "string", help: "JSONL output (appended to; ids already there are skipped)" },
  split: { kind: "string", choices: ["train", "heldout", "all"], help: "which prompts (default train: HumanEval-X 0-119 + instruction prompts)" },
  "data-dir": { kind: "string", help: "HumanEval-X directory (default: the package's data/humaneval-x)" },
  "max-tokens": { kind: "int", min: 1, max: 4096, help: "response tokens (default 256)" },
  prompts: { kind: "string", choices: ["all", "humaneval", "instruct"], help: "which sources (default all)" },
  "prompts-file": { kind: "string", help: 'your own prompts instead: JSONL, one {"message", "id"?, "split"?: "train"|"heldout"} per line' },
  limit: { kind: "int", min: 1, max: 1 << 20, help: "stop after this many new examples (prompts go problem-major: n of every source, then n + 1)" },
  shard: { kind: "string", help: "I/N: only every N-th prompt from the I-th (0-based), so N processes can distil in parallel, each to its own --out (concatenate the files)" },
};

/** --shard I/N → the prompts whose position (in the problem-major order) is I modulo N. */
function shardOf(o: Parsed): { i: number; n: number } {
  const s = o.shard as string | undefined;
  if (s === undefined) return { i: 0, n: 1 };
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(s);
  const i = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
  if (!(n >= 1 && i < n)) fail("E_ARGS", `--shard ${JSON.stringify(s)}: expected I/N with 0 <= I < N <= 9999, e.g. 0/4`);
  return { i, n };
}

export const TRAIN_OPTIONS: Record<string, OptionSpec> = {
  ...COMMON,
  weights: { kind: "string", choices: Object.keys(TRAIN_STORAGE), help: "base weights in memory: as stored (default), or f32 (dequantised to row-major f32 rows, storage f32-rows: the backward reads rows; faster than native)" },
  data: { kind: "string", help: "distilled JSONL (space distill); its train split is used" },
  "run-dir": { kind: "string", help: "checkpoints, logs and the config of the run (resumed when present)" },
  out: { kind: "string", help: "adapter GGUF, exported at every checkpoint and at the end" },
  steps: { kind: "int", min: 1, max: 1 << 24, help: "optimizer steps (default 4000)" },
  batch: { kind: "int", min: 1, max: 1024, help: "samples per step (default 4)" },
  groups: { kind: "int", min: 1, max: 1024, help: "mask groups per sample (appended-groups SAR, default 12)" },
  k: { kind: "int", min: 1, max: 16, help: "masks per group (default 5)" },
  rank: { kind: "int", min: 1, max: 512, help: "LoRA rank (default 16)" },
  targets: { kind: "string", help: `LoRA targets, comma-separated (default all: ${LORA_TARGETS.join(",")})` },
  "mask-token": { kind: "int", min: 0, max: 0x7fffffff, help: "id labelling mask rows (default 0; its embedding is replaced)" },
  lr: { kind: "number", min: 0, max: 1, help: "peak learning rate (default 1e-3)" },
  "min-lr": { kind: "number", min: 0, max: 1, help: "final learning rate (default lr / 10)" },
  warmup: { kind: "int", min: 0, max: 1 << 24, help: "warm-up steps (default 50)" },
  "max-prefix": { kind: "int", min: 8, max: 1 << 16, help: "longest prompt + response (longer responses are cut; default 640)" },
  "checkpoint-every": { kind: "int", min: 1, max: 1 << 24, help: "steps between checkpoints (default 25)" },
  "eval-every": { kind: "int", min: 0, max: 1 << 24, help: "steps between tau evaluations on held-out prompts (default 250; 0 = off)" },
  "eval-prompts": { kind: "int", min: 1, max: 1000, help: "held-out HumanEval-X problems per evaluation (default 6: one per language)" },
  "eval-tokens": { kind: "int", min: 1, max: 4096, help: "tokens generated per evaluation prompt (default 96)" },
  "data-dir": { kind: "string", help: "HumanEval-X directory for the held-out evaluation prompts" },
  seed: { kind: "int", min: 0, max: 0xffffffff, help: "seed of the run (default 0)" },
  init: { kind: "string", help: "start a new run from this adapter (same base and shape: k, rank, targets) instead of a fresh one; a resumed run passes the same one" },
  "prefix-weights": { kind: "string", choices: ["q4", "q8"], help: "run the frozen prefix on the decoder's q4 or q8 panels (faster; the keys and values that storage's decoder gives the mask rows) instead of --weights; part of the run's config" },
};

const need = (o: Parsed, name: string): string => {
  if (o[name] === undefined) fail("E_ARGS", `missing --${name}`);
  return o[name] as string;
};

function modelPath(o: Parsed): string {
  return (o.model as string | undefined) ?? SMOLLM2_PATH;
}

async function open(o: Parsed, storages: Readonly<Record<string, WeightStorage>>, alsoWeights: WeightStorage[] = []): Promise<Engine> {
  const weights = storages[(o.weights as string | undefined) ?? "native"];
  return loadEngine(modelPath(o), { simd: (o.simd as SimdChoice | undefined) ?? "auto", threads: (o.threads as number | undefined) ?? 1, weights, alsoWeights });
}

/** --prompts-file: the user's prompts instead of the built-in ones (HumanEval-X and instructions). */
function userPrompts(o: Parsed, split: string): DistillPrompt[] {
  for (const other of ["prompts", "data-dir"]) if (o[other] !== undefined) fail("E_ARGS", `--prompts-file replaces the built-in prompts: drop --${other}`);
  const all = readPromptsFile(o["prompts-file"] as string);
  return split === "all" ? all : all.filter((p) => p.split === split);
}

export async function runDistill(o: Parsed): Promise<number> {
  const out = need(o, "out");
  const split = (o.split as string | undefined) ?? "train";
  const maxTokens = (o["max-tokens"] as number | undefined) ?? 256;
  const prompts = o["prompts-file"] !== undefined
    ? userPrompts(o, split)
    : distillPrompts(split, (o["data-dir"] as string | undefined) ?? defaultDataDir(), (o.prompts as string | undefined) ?? "all");
  refuseInputAsOutput("--out", out, [["--model", modelPath(o)]]);
  // A run killed mid-line left a torn last line: drop it, so the next line does not glue onto it.
  if (dropTornLine(out) > 0) process.stderr.write(`distill: dropped the incomplete last line of ${out} (an interrupted run)\n`);
  // Only a regular file is read back for the ids already done (/dev/stdout or a FIFO is written only).
  const done = new Set((isRegularFile(out) ? readDistilled(out) : []).map((e) => e.id));
  const shard = shardOf(o);
  const mine = prompts.filter((_, j) => j % shard.n === shard.i);
  const todo = mine.filter((p) => !done.has(p.id)).slice(0, (o.limit as number | undefined) ?? Infinity);
  // Through the public API, as any user would run the model.
  const model = await loadModelFile(modelPath(o), {
    simd: (o.simd as SimdChoice | undefined) ?? "auto",
    threads: (o.threads as number | undefined) ?? 1,
    weights: DISTILL_STORAGE[(o.weights as string | undefined) ?? "native"],
  });
  try {
    const t0 = performance.now();
    let tokens = 0;
    for (const [i, p] of todo.entries()) {
      // The one ChatML wrapping (SmolLM2's default system prompt) that train and bench use too.
      const prompt = userPromptIds(model.engine.tokenizer, p.message);
      // Greedy AR decoding (prompt lookup was measured slower here: 9 vs 16 tokens/s on SmolLM2).
      const r = await model.generate(prompt, { maxTokens });
      const ex: DistilledExample = { id: p.id, split: p.split, prompt, response: r.ids };
      appendLine(out, JSON.stringify(ex));
      tokens += r.ids.length;
      const s = (performance.now() - t0) / 1000;
      const eta = (s / (i + 1)) * (todo.length - i - 1);
      process.stderr.write(`distill ${done.size + i + 1}/${done.size + todo.length} ${p.id}  ${(tokens / s).toFixed(1)} tok/s  ETA ${fmtTime(eta)}\n`);
    }
    process.stderr.write(`distill: ${todo.length} new examples in ${out} (${done.size} were already there)\n`);
    return 0;
  } finally {
    model.dispose();
  }
}

function parseTargets(o: Parsed): LoraTarget[] {
  const s = o.targets as string | undefined;
  if (s === undefined) return [...LORA_TARGETS];
  const ts = s.split(",").map((x) => x.trim()).filter(Boolean);
  for (const t of ts) if (!LORA_TARGETS.includes(t as LoraTarget)) fail("E_ARGS", `--targets: unknown projection ${t} (known: ${LORA_TARGETS.join(", ")})`);
  return ts as LoraTarget[];
}

export async function runTrain(o: Parsed): Promise<number> {
  const dataPath = need(o, "data"), runDir = need(o, "run-dir"), out = need(o, "out");
  requireRegularFile(modelPath(o), "model");
  requireRegularFile(dataPath, "training data file");
  const initPath = o.init as string | undefined;
  const inputs: [string, string][] = [["--model", modelPath(o)], ["--data", dataPath]];
  if (initPath !== undefined) {
    requireRegularFile(initPath, "initial adapter");
    inputs.push(["--init", initPath]);
  }
  refuseInputAsOutput("--out", out, inputs);
  const cfgRun = {
    model: basename(modelPath(o)),
    steps: (o.steps as number | undefined) ?? 4000,
    batch: (o.batch as number | undefined) ?? 4,
    groups: (o.groups as number | undefined) ?? 12,
    k: (o.k as number | undefined) ?? 5,
    rank: (o.rank as number | undefined) ?? 16,
    targets: parseTargets(o),
    maskToken: (o["mask-token"] as number | undefined) ?? 0,
    lr: (o.lr as number | undefined) ?? 1e-3,
    minLr: (o["min-lr"] as number | undefined) ?? ((o.lr as number | undefined) ?? 1e-3) / 10,
    warmup: (o.warmup as number | undefined) ?? 50,
    maxPrefix: (o["max-prefix"] as number | undefined) ?? 640,
    seed: (o.seed as number | undefined) ?? 0,
    // The run's starting point is part of its config: resuming with another --init is refused.
    ...(initPath === undefined ? {} : { initSha256: sha256File(initPath) }),
    // So are the prefix's weights (absent: --weights, as in runs from before the option).
    ...(o["prefix-weights"] === undefined ? {} : { prefixWeights: o["prefix-weights"] as "q4" | "q8" }),
  };

  const examples = trainingExamples(dataPath, cfgRun.maxPrefix, cfgRun.k);
  const baseSha = sha256File(modelPath(o));
  const dataSha256 = sha256File(dataPath);
  mkdirSync(runDir, { recursive: true });
  const release = lockRunDir(runDir); // one trainer per run folder
  let engine: Engine;
  try {
    checkRunConfig(runDir, { ...cfgRun, dataSha256 });
    engine = await open(o, TRAIN_STORAGE, cfgRun.prefixWeights === undefined ? [] : [cfgRun.prefixWeights]);
  } catch (e) {
    release();
    throw e;
  }
  try {
    const V = engine.config.vocabSize;
    const beyond = (ids: ArrayLike<number>) => Array.from(ids).some((t) => t >= V);
    if (examples.some((e) => beyond(e.prompt) || beyond(e.response))) {
      fail("E_ARGS", `${dataPath}: token ids beyond the model's vocabulary of ${V} (distilled from another model?)`);
    }
    for (const f of ["train.log", "eval.jsonl"]) dropTornLine(join(runDir, f));
    const { k, groups } = cfgRun;
    const trainer = new AdapterTrainer(engine.core, engine.arena, engine.config, engine.weights, {
      shape: { k, rank: cfgRun.rank, targets: cfgRun.targets, maskToken: cfgRun.maskToken },
      maxPrefix: cfgRun.maxPrefix, maxMask: k * groups, lr: cfgRun.lr, minLr: cfgRun.minLr, warmupSteps: cfgRun.warmup,
      totalSteps: cfgRun.steps, seed: cfgRun.seed, executor: engine.executor,
      prefixWeights: engine.weightsIn(cfgRun.prefixWeights ?? engine.storage),
    });
    const ckpt = join(runDir, "checkpoint.gguf");
    if (existsSync(ckpt)) {
      trainer.restore(decodeCheckpoint(new Uint8Array(readFileSync(ckpt)), ckpt));
      log(runDir, `resumed from ${ckpt} at step ${trainer.steps}`);
    } else if (initPath !== undefined) {
      const a = decodeAdapter(new Uint8Array(readFileSync(initPath)), initPath);
      checkAdapterBase(a, engine.config, baseSha, basename(modelPath(o)));
      trainer.model.load(a);
    }
    // Written only now that the run starts (an --init adapter accepted), and whole (a temporary file
    // renamed): never half a config, nor the config of a run that was refused.
    writeRunConfig(runDir, { ...cfgRun, dataSha256 });
    if (!existsSync(ckpt)) log(runDir, `new run: ${examples.length} training examples, ${trainer.store.count} adapter parameters${initPath === undefined ? "" : `, starting from ${initPath}`}`);
    const layout: SpaceLayout = FULL_LAYOUT;
    const lora = liveLoraRows(engine.core, engine.arena, trainer.model, maxExtraRows(k, layout));
    const evalPrompts = heldOutPrompts(engine, o);
    const exportAdapter = () => {
      const a = trainer.model.data({ baseSha256: baseSha, baseName: basename(modelPath(o)) });
      writeFileAtomic(out, encodeAdapter(a, engine.config));
    };
    const save = () => {
      const state = trainer.state();
      // A finite loss can still leave non-finite weights (an overflowing update): never save or export them.
      const bad = state.tensors.find((t) => !t.data.every(Number.isFinite));
      if (bad) fail("E_TRAIN", `step ${trainer.steps}: ${bad.name} holds non-finite values: training diverged (try a lower --lr); ${out} and the checkpoint keep the last saved step`);
      writeFileAtomic(ckpt, encodeCheckpoint(state));
      exportAdapter();
    };
    const evalTokens = (o["eval-tokens"] as number | undefined) ?? 96;
    const tty = process.stderr.isTTY;
    await trainSteps(trainer, examples, {
      ...cfgRun, out,
      checkpointEvery: (o["checkpoint-every"] as number | undefined) ?? 25,
      evalEvery: (o["eval-every"] as number | undefined) ?? 250,
    }, {
      save,
      progress: (line) => process.stderr.write(tty ? `\r${line}` : line + "\n"),
      evaluate: async (lossAvg) => {
        const r = await evalTau(engine, trainer, lora, layout, evalPrompts, evalTokens);
        const rec = { step: trainer.steps, loss_avg: lossAvg, tau: r.tau, tau_per_prompt: r.per, identical_to_ar: r.same, time: new Date().toISOString() };
        appendLine(join(runDir, "eval.jsonl"), JSON.stringify(rec));
        if (tty) process.stderr.write("\n");
        log(runDir, `eval step ${trainer.steps}: tau ${r.tau.toFixed(3)} on ${evalPrompts.length} held-out prompts (${r.same ? "output identical to AR" : "OUTPUT DIFFERS FROM AR"})`);
      },
    });
    if (tty) process.stderr.write("\n");
    log(runDir, `done: ${trainer.steps} steps; adapter in ${out}`);
    return 0;
  } finally {
    engine.close();
    release();
  }
}

/** Held-out HumanEval-X prompts for tau: problem 120 + i of each language, languages in turn. */
function heldOutPrompts(engine: Engine, o: Parsed): number[][] {
  const n = (o["eval-prompts"] as number | undefined) ?? 6;
  const evalEvery = (o["eval-every"] as number | undefined) ?? 250;
  if (evalEvery === 0) return [];
  const all = humanEvalPrompts((o["data-dir"] as string | undefined) ?? defaultDataDir()).filter((p) => p.split === "heldout");
  const langs = HUMANEVAL_LANGUAGES.map((lang) => all.filter((p) => p.id.startsWith(`humaneval-x/${lang}/`)));
  const out: number[][] = [];
  const room = engine.config.contextLength - ((o["eval-tokens"] as number | undefined) ?? 96);
  for (let i = 0; out.length < n && i < 64; i++) {
    for (const ps of langs) {
      if (out.length >= n || !ps[i]) continue;
      const ids = userPromptIds(engine.tokenizer, ps[i].message);
      if (ids.length <= room) out.push(ids); // prompts that do not fit the model's context are skipped
    }
  }
  return out;
}

async function evalTau(engine: Engine, trainer: AdapterTrainer, lora: LoraRows, layout: SpaceLayout, prompts: number[][], maxTokens: number) {
  const D = engine.config.dModel, E = trainer.model.embd;
  const v = trainer.store.view(E, "data");
  const embeddings = Array.from({ length: E.rows }, (_, i) => v.slice(i * D, (i + 1) * D));
  const k = trainer.model.shape.k, V = engine.config.vocabSize;
  let tokens = 0, passes = 0, same = true;
  const per: number[] = [];
  for (const prompt of prompts) {
    const run = async (p: ArProposer | SpaceProposer) => {
      const ctx = engine.newContext(prompt.length + maxTokens, p.maxExtraRows);
      try {
        return await generate(ctx, prompt, p, { maxTokens });
      } finally {
        ctx.dispose();
      }
    };
    const sp = await run(new SpaceProposer({ k, mask: { token: trainer.model.shape.maskToken, embeddings, lora }, layout, vocabSize: V }));
    const ar = await run(new ArProposer());
    same &&= sp.tokens.join(",") === ar.tokens.join(",");
    tokens += sp.tokens.length;
    passes += sp.stats.forward_passes;
    per.push(Number(sp.stats.tokens_per_forward.toFixed(3)));
  }
  return { tau: passes > 0 ? tokens / passes : 0, per, same };
}

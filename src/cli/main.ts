/**
 * The `space` command line: generate, info, demo.
 * Errors: one line on stderr and a non-zero exit; with --json also {"error": {"message", "code"}} on stdout.
 */
import { openOutput, readPromptBytes, refuseInputAsOutput } from "../node/outputs.js";
import { stopQuietlyOnClosedOutput } from "./stdio.js";
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SpaceError, fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec, type Parsed } from "../util/args.js";
import type { SimdChoice } from "../node/engine.js";
import { defaultConfiguration } from "../node/defaults.js";
import { fileSource } from "../node/files.js";
import { sha256File } from "../node/prompts.js";
import { readNgramStore } from "../node/distilled.js";
import { decodeAdapter } from "../model/adapter.js";
import type { ModelConfig } from "../model/config.js";
import { embeddedModelPath } from "../node/embedded.js";
import { runDemo } from "./demo.js";
import { packageRoot, relaxedSimdAvailable } from "../node/wasm.js";
import { WEIGHT_STORAGES, describeStorage, type WeightStorage } from "../model/weights.js";
import { LAYOUTS, MAX_K } from "../decode/space.js";
import { COPYING_LAYOUTS, DEFAULT_K, bannedIds, type LayoutChoice } from "../decode/decoders.js";
import type { TraceHeader, TraceStep } from "../decode/trace.js";
import { generateTraceHeader } from "./trace-header.js";
import { loadModelFile, type GenerationResult, type Model } from "../api/node.js";
import { decodeUtf8Strict } from "../tokenizer/utf8.js";
import { DISTILL_OPTIONS, TRAIN_OPTIONS, runDistill, runTrain } from "./train.js";
import { COST_USAGE, runCost } from "./cost.js";
import { BENCH_USAGE, runBench } from "../bench/run.js";
import { GOLDEN_USAGE, VERIFY_USAGE, runGolden, runVerify } from "./verify.js";
import { SERVE_SUMMARY, runServe, serveOptions } from "./serve.js";
import { WEB_OPTIONS, WEB_SUMMARY, runWeb } from "./web.js";
import { PULL_USAGE, runPull } from "./pull.js";
import { PLAIN_MARKS, TERMINAL_MARKS, markedText, stepsSummary } from "./show-steps.js";

const LOAD_OPTIONS: Record<string, OptionSpec> = {
  model: { kind: "string", help: "GGUF model file (default: the embedded models/space-tiny.gguf)" },
  simd: { kind: "string", choices: ["auto", "plain", "relaxed"], help: "WebAssembly build (default auto: relaxed when available)" },
  threads: { kind: "int", min: 1, max: 64, help: "threads (default: the idle cores for weights of 16 MiB and more, else 1; same results for any count)" },
  weights: { kind: "string", choices: [...WEIGHT_STORAGES], help: "weights in memory (default: f32 panels when they fit in a quarter of memory, else as stored; `space info` says which): as stored (native), f32 panels, f32-rows (row-major f32, what training reads: same logits as f32, slower), bf16 panels, or int8 panels (q8: lossy, its own configuration)" },
  json: { kind: "flag", help: "print one JSON object" },
};

const INFO_OPTIONS: Record<string, OptionSpec> = {
  ...LOAD_OPTIONS,
  adapter: { kind: "string", help: "also describe a SPACE adapter GGUF: its base (and whether --model is it), k, rank, targets, mask" },
};

const GENERATE_OPTIONS: Record<string, OptionSpec> = {
  ...LOAD_OPTIONS,
  prompt: { kind: "string", help: "prompt text" },
  "prompt-file": { kind: "string", help: "read the prompt from a UTF-8 file (- for stdin)" },
  chat: { kind: "flag", help: "wrap the prompt in the model's chat template" },
  system: { kind: "string", help: "system message (with --chat)" },
  "parse-special": { kind: "flag", help: "treat special-token text in the prompt as special tokens" },
  "max-tokens": { kind: "int", min: 0, max: 1 << 20, help: "tokens to generate (default 128)" },
  temperature: { kind: "number", min: 0, max: 100, help: "0 = greedy (default)" },
  "top-k": { kind: "int", min: 0, max: 1 << 24, help: "keep the k most likely tokens (0 = off)" },
  "top-p": { kind: "number", min: 0, max: 1, help: "nucleus sampling mass (1 = off)" },
  seed: { kind: "int", min: 0, max: 0xffffffff, help: "random seed for sampling (default 0)" },
  stop: { kind: "list", help: "stop string (repeatable)" },
  ctx: { kind: "int", min: 1, max: 1 << 20, help: "context size: prompt + generated tokens (default: prompt + max tokens)" },
  decoder: { kind: "string", choices: ["ar", "space", "spec", "lookup"], help: "ar (default), space, spec (draft model) or lookup (prompt lookup)" },
  k: { kind: "int", min: 1, max: 64, help: `candidates per step (default ${DEFAULT_K}; space: at most ${MAX_K})` },
  "mask-token": { kind: "int", min: 0, max: 0x7fffffff, help: "the mask token id (space; e.g. 16, <empty_output>, for SmolLM2); never emitted, by any decoder" },
  layout: { kind: "string", choices: [...Object.keys(LAYOUTS), "auto"], help: "space: mask groups after every candidate (full, the paper's), after the bonus and the last candidate (lean), only after the last candidate (tail), tail with prompt-lookup candidates when the text matches (hybrid), or auto (cost model, per step: k and layout, prompt-lookup candidates at a match, or a plain AR step)" },
  "draft-model": { kind: "string", help: "spec: a draft GGUF with the same tokenizer" },
  "draft-layers": { kind: "int", min: 1, max: 1 << 16, help: "spec: draft = the model's first N layers + its output head" },
  trace: { kind: "string", help: "write one JSON line per step to FILE (spec/trace.md)" },
  "show-steps": { kind: "flag", help: "print the output once done, marking the tokens that came from accepted candidates; steps and tau on stderr" },
  adapter: { kind: "string", help: "space: a base-preserving SPACE adapter GGUF for --model (spec/adapter.md); gives k and the mask" },
  store: { kind: "string", help: "space, --layout auto or hybrid: where the text has no 3-token match to copy, draft from an n-gram store of FILE (distilled JSONL, .gz allowed: token ids the model wrote on other prompts, e.g. data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz for SmolLM2)" },
};

/** `space serve`: generate's loading and decoder options, plus the server's own. */
const SERVE_OPTIONS = serveOptions(
  LOAD_OPTIONS,
  Object.fromEntries(["decoder", "k", "mask-token", "layout", "draft-model", "draft-layers", "adapter", "store"].map((n) => [n, GENERATE_OPTIONS[n]])),
);

const COMMANDS = ["generate", "info", "demo", "distill", "train", "bench", "cost", "verify", "golden", "serve", "web", "pull", "help"] as const;

/** Options of a command that takes no positional arguments: a stray word is an error, not ignored. */
function optionsOnly(argv: readonly string[], specs: Record<string, OptionSpec>): Parsed {
  const { options, positional } = parseArgs(argv, specs);
  if (positional.length > 0) {
    fail("E_ARGS", `unexpected argument "${positional[0]}" (this command takes only options; quote a value with spaces: --prompt "two words")`);
  }
  return options;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes("--json");
  stopQuietlyOnClosedOutput();
  try {
    if (command === "--version" || command === "-V" || command === "version") {
      if (rest.length > 0) fail("E_ARGS", `--version takes no arguments (got "${rest[0]}")`);
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    }
    if (command === "help" && rest.length > 0) return printCommandHelp(rest[0]) ? 0 : fail("E_ARGS", `no command "${rest[0]}" (commands: ${COMMANDS.join(", ")})`);
    if (command !== undefined && (rest.includes("--help") || rest.includes("-h")) && printCommandHelp(command)) return 0;
    switch (command) {
      case "generate":
        return await runGenerate(optionsOnly(rest, GENERATE_OPTIONS));
      case "info":
        return await runInfo(optionsOnly(rest, INFO_OPTIONS));
      case "demo":
        return await demo(optionsOnly(rest, LOAD_OPTIONS));
      case "distill":
        return await runDistill(optionsOnly(rest, DISTILL_OPTIONS));
      case "train":
        return await runTrain(optionsOnly(rest, TRAIN_OPTIONS));
      case "bench":
        return await runBench(rest);
      case "verify":
        return await runVerify(rest, (s) => process.stdout.write(s));
      case "cost":
        return await runCost(rest, (s) => process.stdout.write(s));
      case "golden":
        return await runGolden(rest, (s) => process.stdout.write(s));
      case "serve":
        return await runServe(optionsOnly(rest, SERVE_OPTIONS), SERVE_OPTIONS);
      case "pull":
        return await runPull(rest);
      case "web":
        return await runWeb(optionsOnly(rest, WEB_OPTIONS), (s) => process.stdout.write(s));
      case undefined:
      case "help":
      case "--help":
        printHelp();
        return 0;
      default:
        fail("E_ARGS", `unknown command "${command}" (commands: ${COMMANDS.join(", ")})`);
    }
  } catch (e) {
    return reportError(e, json);
  }
}

/** This package's version (package.json beside bin/ and dist/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/** `space COMMAND --help` and `space help COMMAND`: that command's usage; false for an unknown command. */
function printCommandHelp(command: string): boolean {
  const help: Record<string, () => string> = {
    generate: () => `space generate --prompt TEXT | --prompt-file PATH [options]    generate text with a decoder\n${usage(GENERATE_OPTIONS)}`,
    info: () => `space info [options]    the model, its configuration (and the default rule), SIMD, threads; an adapter with --adapter\n${usage(INFO_OPTIONS)}`,
    demo: () => `space demo [options]    AR and SPACE on a held-out prompt: the same text, tau, the speedup\n${usage(LOAD_OPTIONS)}`,
    distill: () => `space distill --out DATA.jsonl [options]    self-distillation data: greedy responses of --model\n${usage(DISTILL_OPTIONS)}`,
    train: () => `space train --data DATA.jsonl --run-dir DIR --out ADAPTER.gguf [options]    base-preserving SAR-SFT\n${usage(TRAIN_OPTIONS)}`,
    bench: () => BENCH_USAGE,
    cost: () => COST_USAGE,
    verify: () => VERIFY_USAGE,
    golden: () => GOLDEN_USAGE,
    serve: () => `${SERVE_SUMMARY}\n${usage(SERVE_OPTIONS)}`,
    web: () => `${WEB_SUMMARY}\n${usage(WEB_OPTIONS)}`,
    pull: () => PULL_USAGE,
    help: () => "space help [COMMAND]    all commands, or one command's options (same as space COMMAND --help)",
  };
  const text = help[command];
  if (!text) return false;
  process.stdout.write(text() + "\n");
  return true;
}

function printHelp(): void {
  process.stdout.write(
    `space: SPACE (Smart Parallel Auto-Correct dEcoding) in TypeScript + WebAssembly SIMD\n\n` +
      `space generate --prompt TEXT [options]\n${usage(GENERATE_OPTIONS)}\n\n` +
      `space info [--model PATH] [--simd ...]\n\nspace demo [--model PATH]    AR and SPACE on a held-out prompt: the same text, tau, the speedup\n\n` +
      `space distill --out DATA.jsonl [options]    self-distillation data: greedy responses of --model\n${usage(DISTILL_OPTIONS)}\n\n` +
      `space train --data DATA.jsonl --run-dir DIR --out ADAPTER.gguf [options]    base-preserving SAR-SFT\n${usage(TRAIN_OPTIONS)}\n\n` +
      `${BENCH_USAGE}\n\n${COST_USAGE}\n\n${VERIFY_USAGE}\n\n${GOLDEN_USAGE}\n\n${SERVE_SUMMARY} (space serve --help)\n\n${WEB_SUMMARY}\n${usage(WEB_OPTIONS)}\n\n${PULL_USAGE}\n`,
  );
}

function reportError(e: unknown, json: boolean): number {
  const err = e instanceof SpaceError ? e : new SpaceError("E_IO", e instanceof Error ? e.message : String(e));
  if (!(e instanceof SpaceError) && e instanceof Error && !(e as NodeJS.ErrnoException).code) {
    // Not a user error: a bug. Still one line, but say so.
    err.message = `internal error: ${err.message}`;
  }
  process.stderr.write(`space: ${err.code}: ${err.message.replace(/\n/g, " ")}\n`);
  if (json) process.stdout.write(JSON.stringify({ error: { message: err.message, code: err.code } }) + "\n");
  return err.code === "E_ARGS" ? 2 : 1;
}

/** The model of --model (default: the embedded one) through the public API, with its adapter if any. */
async function openModel(o: Parsed, adapter: string | undefined): Promise<Model> {
  return loadModelFile((o.model as string | undefined) ?? defaultModel(), {
    simd: (o.simd as SimdChoice | undefined) ?? "auto",
    // Unset: the default rule (src/node/defaults.ts; `space info` states it).
    threads: o.threads as number | undefined,
    weights: o.weights as WeightStorage | undefined,
    adapter,
  });
}

function defaultModel(): string {
  return embeddedModelPath();
}

function readPrompt(o: Parsed): string {
  if (o.prompt !== undefined && o["prompt-file"] !== undefined) fail("E_ARGS", "give --prompt or --prompt-file, not both");
  if (o.prompt !== undefined) return o.prompt as string;
  const file = o["prompt-file"] as string | undefined;
  if (file === undefined) fail("E_ARGS", "missing --prompt (or --prompt-file)");
  return decodeUtf8Strict(readPromptBytes(file), file === "-" ? "standard input" : file);
}

async function runGenerate(o: Parsed): Promise<number> {
  const text = readPrompt(o);
  if (o.system !== undefined && !o.chat) fail("E_ARGS", "--system needs --chat");
  if (((o.stop as string[] | undefined) ?? []).includes("")) fail("E_ARGS", "--stop must not be empty (an empty stop string would end the output after one token)");
  const decoder = checkDecoderOptions(o);
  if (o["show-steps"] && o.json) fail("E_ARGS", "--show-steps prints marked text: drop --json (the JSON output's stats have the accept histogram)");
  if (o.trace !== undefined) {
    const inputs = ["model", "adapter", "draft-model", "prompt-file", "store"].map((n) => [`--${n}`, o[n] as string | undefined] as const);
    refuseInputAsOutput("--trace", o.trace as string, [...inputs, ["the embedded model", o.model === undefined ? defaultModel() : undefined]]);
  }
  const model = await openModel(o, decoder === "space" ? (o.adapter as string | undefined) : undefined);
  let draft: Model | undefined;
  try {
    checkLoadedDecoderOptions(o, decoder, model);
    if (o["draft-model"] !== undefined) draft = await openModel({ ...o, model: o["draft-model"] }, undefined);
    const prompt = o.chat ? [...(o.system !== undefined ? [{ role: "system" as const, content: o.system as string }] : []), { role: "user" as const, content: text }] : text;
    const trace = o.trace !== undefined ? openTrace(o.trace as string) : null;
    const steps: TraceStep[] | null = o["show-steps"] ? [] : null;
    try {
      const result = await model.generate(prompt, {
        maxTokens: (o["max-tokens"] as number | undefined) ?? 128,
        decoder,
        k: o.k as number | undefined,
        maskToken: o["mask-token"] as number | undefined,
        layout: o.layout as LayoutChoice | undefined,
        draftLayers: o["draft-layers"] as number | undefined,
        draftModel: draft,
        store: o.store !== undefined ? readNgramStore(o.store as string, model.info.config.vocabSize) : undefined,
        temperature: o.temperature as number | undefined,
        topK: o["top-k"] as number | undefined,
        topP: o["top-p"] as number | undefined,
        seed: o.seed as number | undefined,
        stop: o.stop as string[] | undefined,
        contextSize: o.ctx as number | undefined,
        parseSpecial: o["parse-special"] ? true : undefined,
        onText: o.json || steps ? undefined : (t) => process.stdout.write(t),
        onStep: trace || steps ? (s) => (trace?.write(s), steps?.push(s)) : undefined,
      });
      if (o.json) printJson(result);
      else if (steps) {
        const marks = process.stdout.isTTY ? TERMINAL_MARKS : PLAIN_MARKS;
        process.stdout.write(markedText(result.ids, steps, result.text, (ids) => model.detokenize(ids), marks) + "\n");
        process.stderr.write(`${stepsSummary(decoder, steps, result.ids.length)}${marks === PLAIN_MARKS ? " (\u27e6marked\u27e7: from accepted candidates)" : ""}\n`);
      } else process.stdout.write("\n");
      trace?.commit(generateTraceHeader(o, (o.model as string | undefined) ?? defaultModel(), model.info, result, (o["max-tokens"] as number | undefined) ?? 128));
    } finally {
      trace?.abort(); // after a commit: nothing to do; after a failure: the temporary file goes
    }
    return 0;
  } finally {
    draft?.dispose();
    model.dispose();
  }
}

type Decoder = "ar" | "space" | "spec" | "lookup";

/** Checks the decoder options against each other before anything is loaded. */
function checkDecoderOptions(o: Parsed): Decoder {
  const decoder = ((o.decoder as string | undefined) ?? "ar") as Decoder;
  const only = (name: string, allowed: readonly Decoder[]) => {
    if (o[name] !== undefined && !allowed.includes(decoder)) fail("E_ARGS", `--${name} applies to --decoder ${allowed.join("|")}, not ${decoder}`);
  };
  only("k", ["space", "spec", "lookup"]);
  only("layout", ["space"]);
  only("draft-model", ["spec"]);
  only("draft-layers", ["spec"]);
  only("adapter", ["space"]);
  only("store", ["space"]);
  if (o.store !== undefined && !COPYING_LAYOUTS.includes(((o.layout as string | undefined) ?? "full") as LayoutChoice)) {
    fail("E_ARGS", `--store drafts for the layouts that copy candidates: give --layout ${[...COPYING_LAYOUTS].sort().join(" or ")}`);
  }
  if (o.adapter !== undefined && o["mask-token"] !== undefined) fail("E_ARGS", "--adapter supplies the mask: drop --mask-token");
  if (decoder === "space") {
    const k = (o.k as number | undefined) ?? DEFAULT_K;
    if (k > MAX_K) fail("E_ARGS", `--k must be at most ${MAX_K} for --decoder space (a block of 1 + k(k+2) rows), got ${k}`);
  }
  if (decoder === "spec") {
    const model = o["draft-model"] !== undefined;
    const layers = o["draft-layers"] !== undefined;
    if (model && layers) fail("E_ARGS", "give --draft-model or --draft-layers, not both");
    if (!model && !layers) fail("E_ARGS", "--decoder spec needs a draft: --draft-model PATH or --draft-layers N");
  }
  return decoder;
}

/** The checks that need the model, worded with the flags (the library words them with its option names). */
function checkLoadedDecoderOptions(o: Parsed, decoder: Decoder, model: Model): void {
  const info = model.info;
  const maskToken = (o["mask-token"] as number | undefined) ?? info.space.maskToken;
  if (decoder === "space" && maskToken === undefined) {
    fail("E_ARGS", `--decoder space needs --mask-token ID (the token id of the mask [M]): ${info.name} has no space.mask_token_id`);
  }
  if (decoder === "space" && o.k === undefined && (info.space.k ?? DEFAULT_K) > MAX_K) {
    fail("E_ARGS", `k must be at most ${MAX_K} for --decoder space, got ${info.space.k} (space.k of ${info.name})`);
  }
  if (maskToken !== undefined && o["mask-token"] !== undefined) bannedIds(model.engine, maskToken, "--mask-token");
  const layers = o["draft-layers"] as number | undefined;
  if (layers !== undefined && layers > info.config.nLayers) fail("E_ARGS", `--draft-layers ${layers} exceeds the model's ${info.config.nLayers} layers`);
}

/** --trace FILE: the header line (spec/trace.md), then one JSON line per step. */
function openTrace(path: string): { write: (s: TraceStep) => void; commit: (header: TraceHeader) => void; abort: () => void } {
  // Written into a temporary file that replaces FILE when the run succeeds (node/outputs.ts). The header
  // needs the run's prompt ids, so the steps wait in memory (a few hundred bytes each) until the end.
  const out = openOutput(path);
  const steps: string[] = [];
  const commit = (header: TraceHeader) => {
    out.write(JSON.stringify(header) + "\n" + steps.join(""));
    out.commit();
  };
  return { write: (s) => void steps.push(JSON.stringify(s) + "\n"), commit, abort: () => out.abort() };
}

function printJson(r: GenerationResult): void {
  const s = r.stats;
  // The --json schema (spec/decoding.md) keeps its snake_case names; spec also reports its draft's
  // forward passes, so that the cost of a spec run is visible beside the target's.
  const stats = {
    forward_passes: s.forwardPasses,
    prefill_passes: s.prefillPasses,
    tokens_per_forward: s.tau,
    prefill_ms: s.prefillMs,
    decode_ms: s.decodeMs,
    tokens_per_second: s.tokensPerSecond,
    accept_histogram: s.acceptHistogram,
    alpha: s.alpha,
    ...(s.draftPasses !== undefined ? { draft_passes: s.draftPasses } : {}),
  };
  process.stdout.write(JSON.stringify({ text: r.text, tokens: r.ids, prompt_tokens: r.promptIds, stop_reason: r.stopReason, decoder: r.decoder, stats }) + "\n");
}

async function runInfo(o: Parsed): Promise<number> {
  const model = await openModel(o, undefined);
  try {
    const engine = model.engine;
    const types = new Map<string, number>();
    for (const t of engine.file.tensors) types.set(t.typeName, (types.get(t.typeName) ?? 0) + 1);
    const rule = defaultConfiguration(engine.file);
    const lossy = engine.storage === "q8" || engine.storage === "q4";
    const info = {
      model: engine.file.name,
      config: engine.config,
      tensor_types: Object.fromEntries(types),
      weights: engine.storage,
      weights_format: describeStorage(engine.storage, engine.core.build),
      weight_bytes: engine.weights.bytes,
      simd_build: engine.core.build,
      relaxed_simd_available: relaxedSimdAvailable(),
      threads: engine.executor.threads,
      cpus: availableParallelism(),
      default_configuration: rule.why,
      faster: lossy
        ? "this storage is lossy: its outputs are its own (exact within itself); drop --weights for the exact default"
        : "--weights q8 (int8 panels) or q4 (the file's 4-bit codes) run faster but are lossy: their outputs are their own; `space bench --weights f32,q8` measures both",
      tokenizer: { vocab: engine.tokenizer.vocabSize, bos: engine.tokenizer.bos, eos: engine.tokenizer.eos },
      space: model.info.space,
      ...(o.adapter !== undefined ? { adapter: adapterInfo(o.adapter as string, (o.model as string | undefined) ?? defaultModel(), engine.config) } : {}),
    };
    if (o.json) process.stdout.write(JSON.stringify(info) + "\n");
    else for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(24)}${typeof v === "object" ? JSON.stringify(v) : v}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}

/** `space info --adapter FILE`: what the adapter is (its base, k, rank, targets, mask) and whether --model is its base. */
function adapterInfo(file: string, modelFile: string, config: ModelConfig): Record<string, unknown> {
  const source = fileSource(file);
  let bytes: Uint8Array;
  try {
    bytes = source.read(0, source.byteLength);
  } finally {
    source.close();
  }
  const m = decodeAdapter(bytes, file).meta;
  const sha = sha256File(modelFile);
  const isBase = sha === m.baseSha256;
  return {
    file,
    base: m.baseName,
    base_sha256: m.baseSha256,
    base_is_model: isBase,
    ...(isBase ? {} : { why_not: `--model ${modelFile} has sha256 ${sha.slice(0, 16)}...: load this adapter with its base` }),
    k: m.k,
    rank: m.rank,
    targets: m.targets,
    mask_token: m.maskToken,
    mask: `${m.maskEmbeddings === 1 ? "one shared vector" : `${m.maskEmbeddings} vectors (mask j of every group uses vector j)`} replacing the embedding of id ${m.maskToken}, which only labels mask rows`,
    layers: m.nLayers,
    width: m.dModel,
    fits_model: m.nLayers === config.nLayers && m.dModel === config.dModel,
  };
}

async function demo(o: Parsed): Promise<number> {
  const model = await openModel(o, undefined);
  try {
    await runDemo(model.engine, (s) => process.stdout.write(s));
    return 0;
  } finally {
    model.dispose();
  }
}

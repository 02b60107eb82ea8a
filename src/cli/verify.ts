/**
 * `space verify`: the face of src/verify/ (spec/verify.md). Reads another engine's generations (JSONL),
 * teacher-forces each through our engine and prints a verdict per record; exit status 3 when any record
 * is divergent. `--check-trace` checks another SPACE implementation's trace step by step instead.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeWhole } from "../node/outputs.js";
import { fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec, type Parsed } from "../util/args.js";
import { loadEngine, type SimdChoice } from "../node/engine.js";
import { embeddedModelPath } from "../node/embedded.js";
import { WEIGHT_STORAGES, type WeightStorage } from "../model/weights.js";
import { decodeUtf8Strict } from "../tokenizer/utf8.js";
import { bannedIds, spaceMetadata } from "../decode/decoders.js";
import { readAdapterFile } from "../node/adapter.js";
import { PREFILL_CHUNK } from "../model/forward.js";
import { sha256File } from "../node/prompts.js";
import { choiceFromHeader, recordSteps } from "../verify/steps.js";
import { goldenFiles } from "../verify/golden.js";
import { compareTraces, parseTrace, traceCheckText } from "../verify/trace-check.js";
import { parseRecords } from "../verify/records.js";
import { checkContext, checkRecord, type RecordReport } from "../verify/check.js";
import { reportJson, reportTable } from "../verify/report.js";
import type { Engine } from "../engine.js";

/** Exit status when a record is divergent (errors exit 1, bad arguments 2). */
export const EXIT_DIVERGENT = 3;
export const DEFAULT_TIE = 0.05;

export const VERIFY_OPTIONS: Record<string, OptionSpec> = {
  model: { kind: "string", help: "GGUF model file (default: the embedded models/space-tiny.gguf)" },
  simd: { kind: "string", choices: ["plain", "relaxed", "auto"], help: "WebAssembly build (default plain: the portable reference)" },
  weights: { kind: "string", choices: [...WEIGHT_STORAGES], help: "weights in memory (default native: the exact reference)" },
  threads: { kind: "int", min: 1, max: 64, help: "threads (default 1; results are identical for any count)" },
  tie: { kind: "number", min: 0, max: 1e6, help: `a divergence is a near-tie when our logit gap is below this (default ${DEFAULT_TIE})` },
  "mask-token": { kind: "int", min: 0, max: 0x7fffffff, help: "an id our decoding never emits (default: the model's space.mask_token_id, if any)" },
  json: { kind: "flag", help: "one JSON object per record (JSON Lines)" },
  "check-trace": { kind: "string", help: "instead: check another implementation's SPACE trace (header + steps, spec/trace.md) step by step" },
  adapter: { kind: "string", help: "--check-trace: the adapter GGUF the trace was made with" },
  "draft-model": { kind: "string", help: "--check-trace: the draft GGUF a spec trace was made with (loaded like --model)" },
};

export const VERIFY_USAGE =
  `space verify [--model M] FILE.jsonl [options]    teacher-force another engine's generations (spec/verify.md)\n` +
  `space verify [--model M] --check-trace TRACE.jsonl [--adapter A] [--draft-model D]    replay a trace from its header, name the first differing step\n${usage(VERIFY_OPTIONS)}`;

export async function runVerify(argv: readonly string[], write: (s: string) => void): Promise<number> {
  const { options: o, positional } = parseArgs(argv, VERIFY_OPTIONS);
  if (o["check-trace"] !== undefined) return runCheckTrace(o, positional, write);
  for (const name of ["adapter", "draft-model"]) if (o[name] !== undefined) fail("E_ARGS", `--${name} applies to --check-trace`);
  if (positional.length !== 1) fail("E_ARGS", `space verify needs exactly one input file (FILE.jsonl or - for stdin), got ${positional.length}`);
  const file = positional[0];
  const text = readInput(file);
  const engine = await openVerifyEngine(o);
  try {
    const meta = spaceMetadata(engine);
    const banned = bannedIds(engine, (o["mask-token"] as number | undefined) ?? meta.maskToken, "--mask-token");
    const name = file === "-" ? "standard input" : file;
    const records = parseRecords(text, name, engine.config.vocabSize);
    checkContext(engine, records, name); // every record fits before any is reported
    const tie = (o.tie as number | undefined) ?? DEFAULT_TIE;
    const reports: RecordReport[] = [];
    for (const r of records) {
      const report = checkRecord(engine, r, { tie, banned });
      reports.push(report);
      if (o.json) write(reportJson(report) + "\n");
    }
    if (!o.json) write(reportTable(reports, tie));
    return reports.some((r) => r.verdict === "divergent") ? EXIT_DIVERGENT : 0;
  } finally {
    engine.close();
  }
}

export const GOLDEN_OPTIONS: Record<string, OptionSpec> = {
  model: VERIFY_OPTIONS.model,
  adapter: { kind: "string", help: "a base-preserving SPACE adapter GGUF for --model (its k and mask drive the SPACE traces)" },
  out: { kind: "string", help: "the directory to write the files into (created if missing; files are replaced whole)" },
  threads: VERIFY_OPTIONS.threads,
};

export const GOLDEN_USAGE = `space golden [--model M] [--adapter A] --out DIR    golden vectors: AR tokens and logits, SPACE traces (spec/golden.md)\n${usage(GOLDEN_OPTIONS)}`;

/** `space golden`: always the exact reference (plain SIMD, weights as stored). */
export async function runGolden(argv: readonly string[], write: (s: string) => void): Promise<number> {
  const { options: o, positional } = parseArgs(argv, GOLDEN_OPTIONS);
  if (positional.length) fail("E_ARGS", `space golden takes no input file (got ${positional.join(" ")})`);
  const out = o.out as string | undefined;
  if (out === undefined) fail("E_ARGS", "space golden needs --out DIR");
  const modelPath = (o.model as string | undefined) ?? embeddedModelPath();
  const engine = await openVerifyEngine({ model: modelPath, threads: o.threads });
  try {
    const modelSha256 = sha256File(modelPath);
    const adapterPath = o.adapter as string | undefined;
    const adapter = adapterPath !== undefined
      ? { attached: readAdapterFile(engine, modelPath, adapterPath), sha256: sha256File(adapterPath) }
      : undefined;
    const files = await goldenFiles(engine, { modelSha256, ...(adapter ? { adapter } : {}) });
    try {
      mkdirSync(out, { recursive: true });
    } catch (e) {
      fail("E_IO", `${out}: ${(e as Error).message}`);
    }
    for (const f of files) writeWhole(join(out, f.name), f.text); // a temporary file, renamed over the old one
    write(`${files.length} files in ${out}: ${files.map((f) => `${f.name} (${f.text.length} bytes)`).join(", ")}\n`);
    return 0;
  } finally {
    engine.close();
  }
}

/** --check-trace: replay the trace's header on our engine and compare every step. */
async function runCheckTrace(o: Parsed, positional: string[], write: (s: string) => void): Promise<number> {
  if (positional.length) fail("E_ARGS", `--check-trace takes no other input file (got ${positional.join(" ")})`);
  for (const name of ["tie", "mask-token"]) if (o[name] !== undefined) fail("E_ARGS", `--${name} does not apply to --check-trace (the trace's header says everything)`);
  const file = o["check-trace"] as string;
  const { header, steps } = parseTrace(readInput(file), file === "-" ? "standard input" : file);
  if (header.layout === "auto") fail("E_ARGS", `${file}: a --layout auto trace cannot be checked: the cost model chooses from measured timings, so no other run reproduces it`);
  if (header.prefill_chunk !== PREFILL_CHUNK) fail("E_ARGS", `${file}: prefill_chunk ${header.prefill_chunk}; prompts run in blocks of ${PREFILL_CHUNK} tokens (spec/trace.md)`);
  const modelPath = (o.model as string | undefined) ?? embeddedModelPath();
  const sha = sha256File(modelPath);
  if (sha !== header.model_sha256) fail("E_ARGS", `${file} was made with the model of sha256 ${header.model_sha256}, not ${modelPath} (${sha}): give it with --model`);
  const adapterPath = traceInput(file, "adapter", o.adapter as string | undefined, header.adapter_sha256);
  const draftPath = traceInput(file, "draft model", o["draft-model"] as string | undefined, header.draft_model_sha256);
  const engine = await openVerifyEngine(o);
  // The draft runs as the model does (the same SIMD build, storage and threads): its logits, and so its
  // candidates, are the exact reference's too.
  let draft: Engine | undefined;
  try {
    if (draftPath !== undefined) draft = await openVerifyEngine({ ...o, model: draftPath });
    const adapter = adapterPath !== undefined ? readAdapterFile(engine, modelPath, adapterPath) : undefined;
    const detail = steps.some((s) => "attention" in s || "kept_rows" in s);
    const ours = await recordSteps(engine, header, choiceFromHeader(header, adapter, draft), detail);
    const check = compareTraces(steps, ours);
    write(o.json ? JSON.stringify({ trace: file, ...check }) + "\n" : traceCheckText(file, check));
    return check.first_difference ? EXIT_DIVERGENT : 0;
  } finally {
    draft?.close();
    engine.close();
  }
}

/**
 * An input a trace header names by sha256 (adapter, draft model): required when the header has one and
 * then the same file, refused when it has none. Returns the path given, if any.
 */
function traceInput(trace: string, what: string, path: string | undefined, sha: string | null): string | undefined {
  const flag = `--${what.replace(" ", "-")}`;
  if (sha === null) {
    if (path !== undefined) fail("E_ARGS", `${trace} was made without a${/^[aeiou]/.test(what) ? "n" : ""} ${what}: drop ${flag}`);
    return undefined;
  }
  if (path === undefined) fail("E_ARGS", `${trace} was made with the ${what} of sha256 ${sha}: give it with ${flag}`);
  const actual = sha256File(path);
  if (actual !== sha) fail("E_ARGS", `${trace} was made with the ${what} of sha256 ${sha}, not ${path} (${actual})`);
  return path;
}

/** The whole file ("-": standard input), or one E_IO line. */
function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file === "-" ? 0 : file);
  } catch (e) {
    fail("E_IO", `${file}: ${(e as Error).message}`);
  }
}

export function readInput(file: string): string {
  return decodeUtf8Strict(readBytes(file), file === "-" ? "standard input" : file);
}

/** The exact reference by default: plain SIMD, weights as stored. */
export async function openVerifyEngine(o: Parsed): Promise<Engine> {
  return loadEngine((o.model as string | undefined) ?? embeddedModelPath(), {
    simd: (o.simd as SimdChoice | undefined) ?? "plain",
    threads: (o.threads as number | undefined) ?? 1,
    weights: (o.weights as WeightStorage | undefined) ?? "native",
  });
}

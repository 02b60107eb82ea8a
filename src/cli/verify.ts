/**
 * `space verify`: the face of src/verify/ (spec/verify.md). Reads another engine's generations (JSONL),
 * teacher-forces each through our engine and prints a verdict per record; exit status 3 when any record
 * is divergent. `--check-trace` checks another SPACE implementation's trace step by step instead.
 */
import { readFileSync } from "node:fs";
import { fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec, type Parsed } from "./args.js";
import { loadEngine, type SimdChoice } from "../node/engine.js";
import { embeddedModelPath } from "../node/embedded.js";
import { WEIGHT_STORAGES, type WeightStorage } from "../model/weights.js";
import { decodeUtf8Strict } from "../tokenizer/utf8.js";
import { bannedIds, spaceMetadata } from "../decode/decoders.js";
import { parseRecords } from "../verify/records.js";
import { checkRecord, type RecordReport } from "../verify/check.js";
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
};

export const VERIFY_USAGE = `space verify [--model M] FILE.jsonl [options]    teacher-force another engine's generations (spec/verify.md)\n${usage(VERIFY_OPTIONS)}`;

export async function runVerify(argv: readonly string[], write: (s: string) => void): Promise<number> {
  const { options: o, positional } = parseArgs(argv, VERIFY_OPTIONS);
  if (positional.length !== 1) fail("E_ARGS", `space verify needs exactly one input file (FILE.jsonl or - for stdin), got ${positional.length}`);
  const file = positional[0];
  const text = readInput(file);
  const engine = await openVerifyEngine(o);
  try {
    const meta = spaceMetadata(engine);
    const banned = bannedIds(engine, (o["mask-token"] as number | undefined) ?? meta.maskToken, "--mask-token");
    const records = parseRecords(text, file === "-" ? "standard input" : file, engine.config.vocabSize);
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

export function readInput(file: string): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file === "-" ? 0 : file);
  } catch (e) {
    fail("E_IO", `${file}: ${(e as Error).message}`);
  }
  return decodeUtf8Strict(bytes, file === "-" ? "standard input" : file);
}

/** The exact reference by default: plain SIMD, weights as stored. */
export async function openVerifyEngine(o: Parsed): Promise<Engine> {
  return loadEngine((o.model as string | undefined) ?? embeddedModelPath(), {
    simd: (o.simd as SimdChoice | undefined) ?? "plain",
    threads: (o.threads as number | undefined) ?? 1,
    weights: (o.weights as WeightStorage | undefined) ?? "native",
  });
}

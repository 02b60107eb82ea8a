/**
 * Node edge of the distillation prompts: reads HumanEval-X problems from the package's data/humaneval-x/
 * (src/train/prompts.ts has the split and the wording), and JSONL files of examples.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fail } from "../errors.js";
import { packageRoot } from "./wasm.js";
import { decodeUtf8Strict } from "../tokenizer/utf8.js";
import { HUMANEVAL_LANGUAGES, INSTRUCTION_PROMPTS, humanEvalMessage, splitOf, type HumanEvalLanguage } from "../train/prompts.js";

export interface DistillPrompt {
  readonly id: string; // "humaneval-x/python/12" or "instruct/3"
  readonly split: "train" | "heldout";
  readonly message: string; // the user message (wrapped in the chat template by the caller)
}

/**
 * The HumanEval-X files shipped with the package (data/humaneval-x/: the six languages, their licence and
 * source in its README), found from the package root, so a fresh clone and an installed package both
 * have them.
 */
export function humanEvalDir(): string {
  return join(packageRoot(), "data", "humaneval-x");
}

/** Where one language's HumanEval-X problems are: DIR/humaneval_LANG.jsonl.gz. */
export function humanEvalPath(dir: string, lang: HumanEvalLanguage): string {
  return join(dir, `humaneval_${lang}.jsonl.gz`);
}

/**
 * One language's HumanEval-X problems in file order, each with its split and its user message
 * (humanEvalMessage); undefined when the file is missing. `space distill` and `space bench` both read
 * the problems through here, so a problem is the same id and the same message in both.
 */
export function humanEvalLanguagePrompts(dir: string, lang: HumanEvalLanguage): DistillPrompt[] | undefined {
  const path = humanEvalPath(dir, lang);
  if (!existsSync(path)) return undefined;
  const out: DistillPrompt[] = [];
  for (const line of gunzipSync(readFileSync(path)).toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    const row = JSON.parse(line) as { task_id: string; prompt: string };
    const n = Number(row.task_id.split("/")[1]);
    out.push({ id: `humaneval-x/${lang}/${n}`, split: splitOf(n), message: humanEvalMessage(lang, row.prompt) });
  }
  return out;
}

/** Every HumanEval-X problem of the six languages, in language then problem order. */
export function humanEvalPrompts(dir: string): DistillPrompt[] {
  const out: DistillPrompt[] = [];
  for (const lang of HUMANEVAL_LANGUAGES) {
    const ps = humanEvalLanguagePrompts(dir, lang);
    if (ps === undefined) fail("E_IO", `${humanEvalPath(dir, lang)}: HumanEval-X data not found (the package ships it in data/humaneval-x/; --data-dir names another copy)`);
    out.push(...ps);
  }
  return out;
}

/** At most this many bytes of a --prompts-file (a prompt set, not a corpus). */
export const MAX_PROMPTS_FILE_BYTES = 64 << 20;

/**
 * `space distill --prompts-file FILE`: the user's own prompts, one JSON object per line:
 *   {"message": "the user message", "id": "optional unique id", "split": "train" | "heldout"}
 * `id` defaults to `prompts/LINE` (its 1-based line number), `split` to "train". Blank lines are skipped;
 * anything else that is not such an object is an E_ARGS error naming the file and line.
 */
export function readPromptsFile(path: string): DistillPrompt[] {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    fail("E_IO", `${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) fail("E_IO", `${path}: not a regular file`);
  if (st.size > MAX_PROMPTS_FILE_BYTES) fail("E_ARGS", `${path}: ${st.size} bytes, more than the ${MAX_PROMPTS_FILE_BYTES} a prompts file may have`);
  const text = decodeUtf8Strict(readFileSync(path), path);
  const out: DistillPrompt[] = [];
  const ids = new Set<string>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${path}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      fail("E_ARGS", `${where}: not JSON (expected {"message": "...", "id"?: "...", "split"?: "train"|"heldout"})`);
    }
    if (row === null || typeof row !== "object" || Array.isArray(row)) fail("E_ARGS", `${where}: expected a JSON object with a "message"`);
    const r = row as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!["message", "id", "split"].includes(key)) fail("E_ARGS", `${where}: unknown field "${key}" (fields: message, id, split)`);
    if (typeof r.message !== "string" || r.message.trim() === "") fail("E_ARGS", `${where}: "message" must be a non-empty string`);
    if (r.id !== undefined && (typeof r.id !== "string" || r.id === "")) fail("E_ARGS", `${where}: "id" must be a non-empty string`);
    if (r.split !== undefined && r.split !== "train" && r.split !== "heldout") fail("E_ARGS", `${where}: "split" must be "train" or "heldout"`);
    const id = (r.id as string | undefined) ?? `prompts/${i + 1}`;
    if (ids.has(id)) fail("E_ARGS", `${where}: id "${id}" appears twice (ids name examples in the output)`);
    ids.add(id);
    out.push({ id, split: (r.split as "train" | "heldout" | undefined) ?? "train", message: r.message });
  });
  if (out.length === 0) fail("E_ARGS", `${path}: no prompts`);
  return out;
}

/**
 * `space distill`'s built-in prompts of one split ("train", "heldout" or "all") from the sources
 * ("all", "humaneval" or "instruct"), HumanEval-X read from `dataDir`.
 */
export function distillPrompts(split: string, dataDir: string, sources: string): DistillPrompt[] {
  const he = sources === "instruct" ? [] : humanEvalPrompts(dataDir);
  const instruct: DistillPrompt[] = INSTRUCTION_PROMPTS.map((m, i) => ({ id: `instruct/${i}`, split: "train", message: m }));
  const all = sources === "humaneval" ? he : [...he, ...instruct];
  // Problem-major order (problem n of every language and instruction n, then n + 1, ...), so a run cut
  // short by --limit still covers every language and the instruction prompts evenly. The sort is stable.
  const index = (p: DistillPrompt) => Number(p.id.slice(p.id.lastIndexOf("/") + 1));
  const ordered = [...all].sort((a, b) => index(a) - index(b));
  return split === "all" ? ordered : ordered.filter((p) => p.split === split);
}

export type { DistilledExample } from "../decode/distilled.js";

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      if (i < lines.length - 1) fail("E_IO", `${path}:${i + 1}: not JSON`); // a torn last line is dropped
    }
  });
  return out;
}

/** SHA-256 (lowercase hex) of a file's bytes. */
export function sha256File(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 22);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

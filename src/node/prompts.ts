/**
 * Node edge of the distillation prompts: reads HumanEval-X problems from the shared data directory at run
 * time (src/train/prompts.ts has the split and the wording), and JSONL files of examples.
 */
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fail } from "../errors.js";
import { HUMANEVAL_LANGUAGES, humanEvalMessage, splitOf, type HumanEvalLanguage } from "../train/prompts.js";

export interface DistillPrompt {
  readonly id: string; // "humaneval-x/python/12" or "instruct/3"
  readonly split: "train" | "heldout";
  readonly message: string; // the user message (wrapped in the chat template by the caller)
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
    if (ps === undefined) fail("E_IO", `${humanEvalPath(dir, lang)}: HumanEval-X data not found (expected ../shared/data/humaneval-x/ beside the repository)`);
    out.push(...ps);
  }
  return out;
}

/** One line of a distilled JSONL file. */
export interface DistilledExample {
  readonly id: string;
  readonly split: "train" | "heldout";
  readonly prompt: number[]; // token ids, chat template included
  readonly response: number[]; // the model's greedy response (ending with the end-of-turn token when it stopped)
}

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

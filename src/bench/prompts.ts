/**
 * The bench's prompts: held-out HumanEval-X problems (ids 120-163 of all six languages, the range SPACE is
 * evaluated on) and a few chat prompts. HumanEval-X is read at run time from ../shared/data/humaneval-x/ beside the repository (never
 * copied into it). Every prompt is a ChatML conversation with SmolLM2's default system prompt, tokenized
 * by our tokenizer; llama.cpp gets the same ids.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { encodeChat } from "../tokenizer/chat.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { packageRoot } from "../node/wasm.js";

export interface BenchPrompt {
  readonly id: string;
  readonly source: "chat" | "humaneval-x";
  /** The user message. */
  readonly text: string;
  /** ChatML token ids, generation prompt included. */
  readonly ids: readonly number[];
}

export const CHAT_PROMPTS: readonly { id: string; text: string }[] = [
  { id: "chat/hashmap", text: "Explain how a hash map works, with a short example in Python." },
  { id: "chat/story", text: "Write a short story about a lighthouse keeper who finds a message in a bottle." },
  { id: "chat/email", text: "Write a polite email to a colleague asking to move our Tuesday meeting to Thursday afternoon." },
  {
    id: "chat/summary",
    text:
      "Summarize the following paragraph in two sentences.\n\n" +
      "The printing press, developed by Johannes Gutenberg around 1440, transformed the way information " +
      "spread across Europe. Before it, books were copied by hand, which made them rare and expensive. " +
      "Movable metal type allowed printers to produce hundreds of identical pages quickly, and within a few " +
      "decades presses operated in more than two hundred cities. Cheaper books raised literacy, helped " +
      "standardize languages, and carried the ideas of the Renaissance, the Reformation and the scientific " +
      "revolution to readers who had never had access to them.",
  },
];

/** The six HumanEval-X languages: file suffix, task-id prefix, fence name, name in the instruction. */
export const LANGUAGES: readonly { file: string; prefix: string; fence: string; name: string }[] = [
  { file: "cpp", prefix: "CPP", fence: "cpp", name: "C++" },
  { file: "go", prefix: "Go", fence: "go", name: "Go" },
  { file: "java", prefix: "Java", fence: "java", name: "Java" },
  { file: "js", prefix: "JavaScript", fence: "javascript", name: "JavaScript" },
  { file: "python", prefix: "Python", fence: "python", name: "Python" },
  { file: "rust", prefix: "Rust", fence: "rust", name: "Rust" },
];

/** The held-out problems (never trained on by issue "SAR-SFT"): ids 120..163. */
export const HELD_OUT_FIRST = 120;
export const HELD_OUT_LAST = 163;

/**
 * `count` problem numbers spread evenly over the held-out range (the middle of each of `count` equal
 * slices), so a small subsample still spans it; count >= 44 gives all of them.
 */
export function heldOutProblems(count: number): number[] {
  const n = HELD_OUT_LAST - HELD_OUT_FIRST + 1;
  if (count >= n) return Array.from({ length: n }, (_, i) => HELD_OUT_FIRST + i);
  return Array.from({ length: count }, (_, i) => HELD_OUT_FIRST + Math.floor(((i + 0.5) * n) / count));
}

/** Where the HumanEval-X files live: ../shared/data/humaneval-x/ next to the repository. */
export function defaultDataDir(): string {
  return join(packageRoot(), "..", "shared", "data", "humaneval-x");
}

function readHumanEval(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of gunzipSync(readFileSync(path)).toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    const row = JSON.parse(line) as { task_id: string; prompt: string };
    out.set(row.task_id, row.prompt);
  }
  return out;
}

function chatIds(tokenizer: Tokenizer, text: string): number[] {
  return encodeChat(tokenizer, [{ role: "user", content: text }], { addGenerationPrompt: true, parseSpecial: false });
}

export interface PromptSet {
  readonly prompts: BenchPrompt[];
  /** Why prompts are missing (e.g. the HumanEval-X data is not there); shown in the report. */
  readonly warnings: string[];
}

export interface PromptChoice {
  readonly problems: number; // held-out problems per language
  readonly chat: number; // chat prompts (at most CHAT_PROMPTS.length)
}

export function benchPrompts(tokenizer: Tokenizer, dataDir = defaultDataDir(), choice: PromptChoice = { problems: 1, chat: CHAT_PROMPTS.length }): PromptSet {
  const prompts: BenchPrompt[] = [];
  const warnings: string[] = [];
  const numbers = heldOutProblems(choice.problems);
  for (const lang of choice.problems > 0 ? LANGUAGES : []) {
    const path = join(dataDir, `humaneval_${lang.file}.jsonl.gz`);
    if (!existsSync(path)) {
      warnings.push(`${path} not found: no ${lang.name} prompts`);
      continue;
    }
    const problems = readHumanEval(path);
    for (const number of numbers) {
      const task = `${lang.prefix}/${number}`;
      const code = problems.get(task);
      if (code === undefined) {
        warnings.push(`${task} not found in ${path}`);
        continue;
      }
      const text = `Complete the following ${lang.name} function.\n\n\`\`\`${lang.fence}\n${code}\`\`\``;
      prompts.push({ id: `humaneval-x/${task.toLowerCase()}`, source: "humaneval-x", text, ids: chatIds(tokenizer, text) });
    }
  }
  for (const p of CHAT_PROMPTS.slice(0, choice.chat)) prompts.push({ id: p.id, source: "chat", text: p.text, ids: chatIds(tokenizer, p.text) });
  return { prompts, warnings };
}

/**
 * `length` token ids of ordinary text (the prompts' tokens, concatenated and repeated): the committed
 * prefix and block tokens of the cost(T) curve. Their values do not change a forward's cost.
 */
export function filler(prompts: readonly BenchPrompt[], length: number): number[] {
  const pool = prompts.flatMap((p) => p.ids);
  if (pool.length === 0) throw new Error("no prompt tokens to build the cost(T) prefix from");
  return Array.from({ length }, (_, i) => pool[i % pool.length]);
}

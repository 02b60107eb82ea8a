/**
 * The bench's prompts: a few chat prompts, and held-out HumanEval-X problems (ids 120-163, the range later
 * issues evaluate SPACE on) read at run time from ../shared/data/humaneval-x/ beside the repository (never
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

/** Held-out HumanEval-X problems (Python), short enough to keep a bench run within minutes. */
export const HUMANEVAL_PROBLEMS: readonly string[] = ["Python/135", "Python/150"];

/** Where the HumanEval-X files live: ../shared/data/humaneval-x/ next to the repository. */
export function defaultDataDir(): string {
  return join(packageRoot(), "..", "shared", "data", "humaneval-x");
}

function readHumanEval(dir: string, language: string): Map<string, string> {
  const path = join(dir, `humaneval_${language}.jsonl.gz`);
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

export function benchPrompts(tokenizer: Tokenizer, dataDir = defaultDataDir()): PromptSet {
  const prompts: BenchPrompt[] = CHAT_PROMPTS.map((p) => ({ id: p.id, source: "chat", text: p.text, ids: chatIds(tokenizer, p.text) }));
  const warnings: string[] = [];
  if (!existsSync(join(dataDir, "humaneval_python.jsonl.gz"))) {
    warnings.push(`HumanEval-X data not found in ${dataDir}: running the chat prompts only`);
  } else {
    const problems = readHumanEval(dataDir, "python");
    for (const task of HUMANEVAL_PROBLEMS) {
      const code = problems.get(task);
      if (code === undefined) {
        warnings.push(`${task} not found in ${dataDir}/humaneval_python.jsonl.gz`);
        continue;
      }
      const text = `Complete the following Python function.\n\n\`\`\`python\n${code}\`\`\``;
      prompts.push({ id: `humaneval-x/${task.toLowerCase()}`, source: "humaneval-x", text, ids: chatIds(tokenizer, text) });
    }
  }
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

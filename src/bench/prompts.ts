/**
 * The bench's prompts: held-out HumanEval-X problems (ids 120-163 of all six languages, the range SPACE is
 * evaluated on) and a few chat prompts. HumanEval-X is read from the package's data/humaneval-x/ through
 * the same reader and the same wording as `space distill` (src/node/prompts.ts, humanEvalMessage of
 * src/train/prompts.ts), so a problem has the same id, message and token ids in the
 * training data and in the bench. Every prompt is a ChatML conversation with SmolLM2's default system
 * prompt (userPromptIds), tokenized by our tokenizer; llama.cpp gets the same ids.
 */
import { userPromptIds } from "../tokenizer/chat.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { humanEvalDir, humanEvalLanguagePrompts, humanEvalPath } from "../node/prompts.js";
import { HUMANEVAL_LANGUAGES, TRAIN_PROBLEMS, type HumanEvalLanguage } from "../train/prompts.js";

/** What a prompt is reported under in the per-group summary: its HumanEval-X language, or "chat". */
export type PromptGroup = HumanEvalLanguage | "chat";

export interface BenchPrompt {
  readonly id: string; // "humaneval-x/python/142" (the id `space distill` gives the problem) or "chat/story"
  readonly source: "chat" | "humaneval-x";
  readonly group: PromptGroup;
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

/** The held-out problems (never trained on: `space distill`'s split, src/train/prompts.ts): ids 120..163. */
export const HELD_OUT_FIRST = TRAIN_PROBLEMS;
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

/** Where the HumanEval-X files live: the package's data/humaneval-x/. */
export function defaultDataDir(): string {
  return humanEvalDir();
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
  for (const lang of choice.problems > 0 ? HUMANEVAL_LANGUAGES : []) {
    const problems = humanEvalLanguagePrompts(dataDir, lang);
    if (problems === undefined) {
      warnings.push(`${humanEvalPath(dataDir, lang)} not found: no ${lang} prompts`);
      continue;
    }
    const byId = new Map(problems.map((p) => [p.id, p]));
    for (const number of numbers) {
      const p = byId.get(`humaneval-x/${lang}/${number}`);
      if (p === undefined) {
        warnings.push(`problem ${number} not found in ${humanEvalPath(dataDir, lang)}`);
        continue;
      }
      prompts.push({ id: p.id, source: "humaneval-x", group: lang, text: p.message, ids: userPromptIds(tokenizer, p.message) });
    }
  }
  for (const p of CHAT_PROMPTS.slice(0, choice.chat)) prompts.push({ id: p.id, source: "chat", group: "chat", text: p.text, ids: userPromptIds(tokenizer, p.text) });
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

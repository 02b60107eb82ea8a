/**
 * The distilled JSONL format (`space distill`'s output, `space train --data`'s input, `--store`'s corpus;
 * data/distilled/README.md): one JSON object per line, `{"id", "split", "prompt", "response"}` with token
 * ids. Parsed from text here, with every row checked: a row with a missing or wrong field is an E_ARGS
 * error naming the source, the line and the field, never "Cannot read properties of undefined" later. A
 * torn last line (a killed distill) is skipped. No Node APIs: files are read at the edges (node/distilled.ts,
 * the web page's worker).
 */
import { fail } from "../errors.js";
import { NgramStore } from "./ngramstore.js";

/** One line of a distilled JSONL file. */
export interface DistilledExample {
  readonly id: string;
  readonly split: "train" | "heldout";
  readonly prompt: number[]; // token ids, chat template included
  readonly response: number[]; // the model's greedy response (ending with the end-of-turn token when it stopped)
}

function tokenIds(v: unknown, vocab: number): boolean {
  return Array.isArray(v) && v.every((t) => Number.isInteger(t) && t >= 0 && t < vocab);
}

/** Checks one parsed row; `where` is "SOURCE:LINE". */
export function checkDistilledRow(row: unknown, where: string, vocab: number): DistilledExample {
  if (typeof row !== "object" || row === null || Array.isArray(row)) fail("E_ARGS", `${where}: a row must be a JSON object {id, split, prompt, response}`);
  const r = row as Record<string, unknown>;
  if (typeof r.id !== "string") fail("E_ARGS", `${where}: "id" must be a string`);
  if (r.split !== "train" && r.split !== "heldout") fail("E_ARGS", `${where}: "split" must be "train" or "heldout"`);
  for (const f of ["prompt", "response"] as const) {
    if (!tokenIds(r[f], vocab)) fail("E_ARGS", `${where}: "${f}" must be an array of token ids in [0, ${vocab})`);
  }
  if ((r.prompt as number[]).length === 0) fail("E_ARGS", `${where}: "prompt" is empty`);
  return r as unknown as DistilledExample;
}

/** Every row of a distilled file's text (`source` names it in errors), token ids checked against `vocab`. */
export function parseDistilled(text: string, source: string, vocab = 2 ** 31): DistilledExample[] {
  const lines = text.split("\n");
  const torn = !text.endsWith("\n") ? lines.length - 1 : -1; // maybe the last line of a killed run
  const out: DistilledExample[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      if (i === torn) return; // cut short by a killed run: dropped
      fail("E_ARGS", `${source}:${i + 1}: not JSON`);
    }
    out.push(checkDistilledRow(row, `${source}:${i + 1}`, vocab));
  });
  return out;
}

/**
 * The n-gram store (ngramstore.ts) of a distilled file's prompts and responses: what the model wrote on
 * other prompts, the corpus of `--store` (token ids checked against the model's vocabulary of `vocab`).
 */
export function distilledStore(text: string, source: string, vocab: number): NgramStore {
  const rows = parseDistilled(text, source, vocab);
  if (rows.length === 0) fail("E_ARGS", `${source}: no rows to build an n-gram store from`);
  return NgramStore.build(rows.map((r) => [...r.prompt, ...r.response]));
}

/**
 * Reading a distilled JSONL file (`space distill`'s output, `space train --data`'s input) with every row
 * checked: a row with a missing or wrong field is an E_ARGS error naming the file, the line and the field,
 * never "Cannot read properties of undefined" later. A torn last line (a killed distill) is skipped
 * (distill itself drops it before appending: node/outputs.ts dropTornLine).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fail } from "../errors.js";
import { NgramStore } from "../decode/ngramstore.js";
import type { DistilledExample } from "./prompts.js";

function tokenIds(v: unknown, vocab: number): boolean {
  return Array.isArray(v) && v.every((t) => Number.isInteger(t) && t >= 0 && t < vocab);
}

/** Checks one parsed row; `where` is "FILE:LINE". */
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

/**
 * Every row of `path` (JSONL, or gzip-compressed JSONL when the name ends in .gz, like
 * data/distilled/), checked (token ids against a vocabulary of `vocab` tokens when given).
 */
export function readDistilled(path: string, vocab = 2 ** 31): DistilledExample[] {
  let text: string;
  try {
    const bytes = readFileSync(path);
    text = (path.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  } catch (e) {
    fail("E_IO", `${path}: cannot read (${(e as Error).message})`);
  }
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
      fail("E_ARGS", `${path}:${i + 1}: not JSON`);
    }
    out.push(checkDistilledRow(row, `${path}:${i + 1}`, vocab));
  });
  return out;
}

/**
 * An n-gram store (decode/ngramstore.ts) of a distilled file's prompts and responses: what the model wrote
 * on other prompts, for `--store` (token ids checked against the model's vocabulary of `vocab` tokens).
 */
export function readNgramStore(path: string, vocab: number): NgramStore {
  const rows = readDistilled(path, vocab);
  if (rows.length === 0) fail("E_ARGS", `${path}: no rows to build an n-gram store from`);
  return NgramStore.build(rows.map((r) => [...r.prompt, ...r.response]));
}

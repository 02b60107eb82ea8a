/**
 * Distilled JSONL files (decode/distilled.ts: the format and its checks) read from disk: plain, or
 * gzip-compressed when the name ends in .gz (data/distilled/).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fail } from "../errors.js";
import { distilledStore, parseDistilled, type DistilledExample } from "../decode/distilled.js";
import type { NgramStore } from "../decode/ngramstore.js";

/** A distilled file's text. */
function readText(path: string): string {
  try {
    const bytes = readFileSync(path);
    return (path.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
  } catch (e) {
    fail("E_IO", `${path}: cannot read (${(e as Error).message})`);
  }
}

/** Every row of `path`, checked (token ids against a vocabulary of `vocab` tokens when given). */
export function readDistilled(path: string, vocab = 2 ** 31): DistilledExample[] {
  return parseDistilled(readText(path), path, vocab);
}

/** The n-gram store of a distilled file, for `--store` (decode/distilled.ts distilledStore). */
export function readNgramStore(path: string, vocab: number): NgramStore {
  return distilledStore(readText(path), path, vocab);
}

/**
 * The input of `space verify` (spec/verify.md): JSON Lines, one record per generation made by any engine,
 *
 *   {"id": "q1", "engine": "llama.cpp", "prompt_tokens": [1, 9690], "tokens": [504, 2229],
 *    "logits": [{"ids": [504, 17], "values": [12.5, 11.9]}, {"ids": [2229], "values": [9.25]}]}
 *
 * `prompt_tokens` and `tokens` are required; `logits` (per generated token, that engine's raw logits for
 * some ids, e.g. its top n), `id`, `engine` and a free-form `meta` are optional. Anything else is an
 * error, so that a misspelt field is never silently ignored. Parsing is strict and names the line.
 */
import { fail } from "../errors.js";

export interface LogitEntries {
  readonly ids: readonly number[]; // [n]
  readonly values: readonly number[]; // [n], raw logits (before softmax, temperature or penalties)
}

export interface VerifyRecord {
  readonly line: number; // 1-based line of the file
  readonly id: string | number; // the record's `id`, or its index in the file (0-based) when absent
  readonly engine?: string;
  readonly prompt: readonly number[]; // [P]
  readonly tokens: readonly number[]; // [N], the engine's output after the prompt
  readonly logits?: readonly LogitEntries[]; // [N]: logits[i] predicted tokens[i]
}

const FIELDS = new Set(["id", "engine", "prompt_tokens", "tokens", "logits", "meta"]);

/** Parses a whole JSONL file; `name` labels errors. Token ids are checked against [0, vocabSize). */
export function parseRecords(text: string, name: string, vocabSize: number): VerifyRecord[] {
  const records: VerifyRecord[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    records.push(parseRecord(line, `${name}:${i + 1}`, i + 1, records.length, vocabSize));
  });
  if (records.length === 0) fail("E_ARGS", `${name}: no records (expected JSON lines with "prompt_tokens" and "tokens")`);
  return records;
}

function parseRecord(line: string, where: string, lineNo: number, index: number, V: number): VerifyRecord {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    fail("E_ARGS", `${where}: not JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail("E_ARGS", `${where}: expected a JSON object`);
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!FIELDS.has(key)) fail("E_ARGS", `${where}: unknown field "${key}" (fields: ${[...FIELDS].join(", ")})`);
  const prompt = ids(o.prompt_tokens, `${where}: "prompt_tokens"`, V);
  if (prompt.length === 0) fail("E_ARGS", `${where}: "prompt_tokens" is empty`);
  const tokens = ids(o.tokens, `${where}: "tokens"`, V);
  const id = o.id ?? index;
  if (typeof id !== "string" && typeof id !== "number") fail("E_ARGS", `${where}: "id" must be a string or a number`);
  if (o.engine !== undefined && typeof o.engine !== "string") fail("E_ARGS", `${where}: "engine" must be a string`);
  let logits: LogitEntries[] | undefined;
  if (o.logits !== undefined) {
    if (!Array.isArray(o.logits)) fail("E_ARGS", `${where}: "logits" must be an array (one entry per token)`);
    if (o.logits.length !== tokens.length) fail("E_ARGS", `${where}: "logits" has ${o.logits.length} entries for ${tokens.length} tokens (one per token)`);
    logits = o.logits.map((e, i) => logitEntries(e, `${where}: logits[${i}]`, V));
  }
  return { line: lineNo, id, ...(o.engine !== undefined ? { engine: o.engine as string } : {}), prompt, tokens, ...(logits ? { logits } : {}) };
}

function ids(v: unknown, what: string, V: number): number[] {
  if (!Array.isArray(v)) fail("E_ARGS", `${what} must be an array of token ids`);
  v.forEach((t, i) => {
    if (!(typeof t === "number" && Number.isInteger(t) && t >= 0 && t < V)) fail("E_ARGS", `${what}[${i}] = ${JSON.stringify(t)} is not a token id in [0, ${V})`);
  });
  return v as number[];
}

function logitEntries(e: unknown, what: string, V: number): LogitEntries {
  if (typeof e !== "object" || e === null || Array.isArray(e)) fail("E_ARGS", `${what} must be {"ids": [...], "values": [...]}`);
  const o = e as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== "ids" && key !== "values") fail("E_ARGS", `${what}: unknown field "${key}" (fields: ids, values)`);
  const entryIds = ids(o.ids, `${what}.ids`, V);
  if (!Array.isArray(o.values)) fail("E_ARGS", `${what}.values must be an array of numbers`);
  if (o.values.length !== entryIds.length) fail("E_ARGS", `${what}: ${entryIds.length} ids but ${o.values.length} values`);
  o.values.forEach((x, i) => {
    if (!(typeof x === "number" && Number.isFinite(x))) fail("E_ARGS", `${what}.values[${i}] = ${JSON.stringify(x)} is not a finite number`);
  });
  return { ids: entryIds, values: o.values as number[] };
}

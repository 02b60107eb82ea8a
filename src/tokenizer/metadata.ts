/**
 * Typed reads of GGUF tokenizer keys through the caller's getter, each failure a SpaceError E_TOKENIZER that
 * names the key. The getter returns plain JS values (strings, numbers or bigints, booleans, arrays or typed
 * arrays) and undefined for a missing key.
 */
import { SpaceError } from "../errors.js";

export type MetadataGetter = (key: string) => unknown;

function bad(key: string, what: string): never {
  throw new SpaceError("E_TOKENIZER", `${key}: ${what}`);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return "a typed array";
  return v === null ? "null" : typeof v;
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function asInteger(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  return undefined;
}

export function readString(get: MetadataGetter, key: string): string | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "string") bad(key, `expected a string, got ${describe(v)}`);
  return v;
}

export function readBool(get: MetadataGetter, key: string): boolean | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") bad(key, `expected a boolean, got ${describe(v)}`);
  return v;
}

export function readStringArray(get: MetadataGetter, key: string): string[] | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(key, `expected an array of strings, got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== "string") bad(key, `element ${i} is ${describe(v[i])}, expected a string`);
  }
  return v as string[];
}

export function readIntArray(get: MetadataGetter, key: string): number[] | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (!isArrayLike(v)) bad(key, `expected an array of integers, got ${describe(v)}`);
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) {
    const n = asInteger(v[i]);
    if (n === undefined) bad(key, `element ${i} is not an integer`);
    out[i] = n;
  }
  return out;
}

/** A token id key: absent -> undefined; otherwise an integer in [0, vocabSize). */
export function readTokenId(get: MetadataGetter, key: string, vocabSize: number): number | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  const n = asInteger(v);
  if (n === undefined) bad(key, `expected a token id (integer), got ${describe(v)}`);
  if (n < 0 || n >= vocabSize) bad(key, `token id ${n} is out of range (the vocabulary has ${vocabSize} tokens)`);
  return n;
}

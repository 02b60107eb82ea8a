/**
 * GGUF metadata accessors. Failures are E_MODEL: the file is well-formed GGUF, but its metadata does not
 * describe a usable model.
 */
import { fail } from "../errors.js";
import type { GGUFFile } from "./reader.js";
import { printable } from "./text.js";
import { MetaType, metaTypeName, type GGUFMetaValue, type MetaScalar } from "./types.js";

/** A metadata value as plain JS: numbers (64-bit integers as numbers when safe, else bigint), booleans, strings, arrays of those. */
export type PlainMeta = number | bigint | boolean | string | PlainMeta[];

function plainScalar(v: MetaScalar): number | bigint | boolean | string {
  if (typeof v === "bigint") return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  return v;
}

export function toPlain(m: GGUFMetaValue): PlainMeta {
  if (Array.isArray(m.value)) {
    const items = m.value;
    const out = new Array<PlainMeta>(items.length);
    for (let i = 0; i < items.length; i++) out[i] = plainScalar(items[i]!);
    return out;
  }
  return plainScalar(m.value);
}

/** The value of `key` as plain JS, or undefined when absent. */
export function metaGet(f: GGUFFile, key: string): PlainMeta | undefined {
  const m = f.metadata.get(key);
  return m === undefined ? undefined : toPlain(m);
}

/** `(key) => plain value or undefined`; arrays are converted once and cached. */
export function metaGetter(f: GGUFFile): (key: string) => unknown {
  const cache = new Map<string, PlainMeta>();
  return (key: string): unknown => {
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const m = f.metadata.get(key);
    if (m === undefined) return undefined;
    const v = toPlain(m);
    cache.set(key, v);
    return v;
  };
}

function wrongType(f: GGUFFile, key: string, want: string, m: GGUFMetaValue): never {
  const got = m.type === MetaType.ARRAY ? `ARRAY of ${metaTypeName(m.itemType ?? -1)}` : metaTypeName(m.type);
  fail("E_MODEL", `${f.name}: metadata key ${printable(key)} has type ${got}, expected ${want}`);
}

function required(f: GGUFFile, key: string): GGUFMetaValue {
  const m = f.metadata.get(key);
  if (m === undefined) fail("E_MODEL", `${f.name}: metadata key ${printable(key)} is missing`);
  return m;
}

function asNumber(f: GGUFFile, key: string, v: MetaScalar, m: GGUFMetaValue): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") {
    const n = plainScalar(v);
    if (typeof n === "number") return n;
    fail("E_MODEL", `${f.name}: metadata key ${printable(key)} value ${v} is too large for a JS number`);
  }
  return wrongType(f, key, "a number", m);
}

/** A STRING value; E_MODEL when missing (and no fallback) or of another type. */
export function metaString(f: GGUFFile, key: string, fallback?: string): string {
  const m = f.metadata.get(key);
  if (m === undefined && fallback !== undefined) return fallback;
  const r = m ?? required(f, key);
  if (r.type !== MetaType.STRING) wrongType(f, key, "STRING", r);
  return r.value as string;
}

/** Any numeric scalar (64-bit integers must be safe); E_MODEL when missing (and no fallback) or not numeric. */
export function metaNumber(f: GGUFFile, key: string, fallback?: number): number {
  const m = f.metadata.get(key);
  if (m === undefined && fallback !== undefined) return fallback;
  const r = m ?? required(f, key);
  if (r.type === MetaType.ARRAY || r.type === MetaType.BOOL || r.type === MetaType.STRING) wrongType(f, key, "a number", r);
  return asNumber(f, key, r.value as MetaScalar, r);
}

export function metaBool(f: GGUFFile, key: string, fallback?: boolean): boolean {
  const m = f.metadata.get(key);
  if (m === undefined && fallback !== undefined) return fallback;
  const r = m ?? required(f, key);
  if (r.type !== MetaType.BOOL) wrongType(f, key, "BOOL", r);
  return r.value as boolean;
}

export function metaStringArray(f: GGUFFile, key: string, fallback?: string[]): string[] {
  const m = f.metadata.get(key);
  if (m === undefined && fallback !== undefined) return fallback;
  const r = m ?? required(f, key);
  if (r.type !== MetaType.ARRAY || r.itemType !== MetaType.STRING) wrongType(f, key, "ARRAY of STRING", r);
  return r.value as string[];
}

export function metaNumberArray(f: GGUFFile, key: string, fallback?: number[]): number[] {
  const m = f.metadata.get(key);
  if (m === undefined && fallback !== undefined) return fallback;
  const r = m ?? required(f, key);
  const it = r.itemType;
  if (r.type !== MetaType.ARRAY || it === undefined || it === MetaType.STRING || it === MetaType.BOOL || it === MetaType.ARRAY) {
    wrongType(f, key, "ARRAY of numbers", r);
  }
  const items = r.value as MetaScalar[];
  if (it !== MetaType.UINT64 && it !== MetaType.INT64) return items as number[];
  return items.map((v) => asNumber(f, key, v, r));
}

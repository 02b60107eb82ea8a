/**
 * The embedded default model (models/space-tiny.gguf, trained by scripts/train-embedded.ts) and its
 * corpus: TypeScript's own standard-library declarations, node_modules/typescript/lib/lib.es*.d.ts
 * (typescript 5.9.3 is pinned in package-lock.json, so every machine has the same files after `npm ci`).
 *
 * Files: those whose cleaned text has at least MIN_CHARS characters (the rest are only reference lists
 * or a few lines). Split, by file: sorted by name, every HELD_OUT_EVERY-th one (index % 8 === 7) is held out;
 * the model never trains on them, and every tau reported for it is measured on prompts from them.
 * Cleaning: the Apache licence banner (up to the end of the first block comment) and `/// <reference`
 * lines are dropped, then the text is trimmed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors.js";
import { packageRoot } from "./wasm.js";

/** Where the embedded model lives, relative to the package root. */
export const EMBEDDED_MODEL_FILE = join("models", "space-tiny.gguf");
export const HELD_OUT_EVERY = 8;
export const MIN_CHARS = 1000;

export function embeddedModelPath(): string {
  return join(packageRoot(), EMBEDDED_MODEL_FILE);
}

export interface CorpusFile {
  readonly name: string; // e.g. lib.es2015.promise.d.ts
  readonly text: string; // cleaned
}

export interface Corpus {
  readonly train: CorpusFile[];
  readonly heldOut: CorpusFile[];
  readonly typescriptVersion: string;
}

/** Drops the licence banner and reference directives. */
export function cleanDeclarations(text: string): string {
  let body = text.replace(/\r\n/g, "\n");
  const banner = body.indexOf("*/");
  if (body.startsWith("/*!") && banner >= 0) body = body.slice(banner + 2);
  return body
    .split("\n")
    .filter((l) => !l.startsWith("/// <reference"))
    .join("\n")
    .trim();
}

/** The corpus from `root`/node_modules/typescript/lib (default: this package's). */
export function embeddedCorpus(root = packageRoot()): Corpus {
  const dir = join(root, "node_modules", "typescript", "lib");
  if (!existsSync(dir)) fail("E_IO", `${dir}: missing (run \`npm ci\`): the embedded model's corpus is TypeScript's lib.es*.d.ts`);
  const version = (JSON.parse(readFileSync(join(root, "node_modules", "typescript", "package.json"), "utf8")) as { version: string }).version;
  const names = readdirSync(dir).filter((n) => /^lib\.es.*\.d\.ts$/.test(n)).sort();
  const files = names
    .map((name) => ({ name, text: cleanDeclarations(readFileSync(join(dir, name), "utf8")) }))
    .filter((f) => f.text.length >= MIN_CHARS);
  const train: CorpusFile[] = [], heldOut: CorpusFile[] = [];
  files.forEach((f, i) => (i % HELD_OUT_EVERY === HELD_OUT_EVERY - 1 ? heldOut : train).push(f));
  return { train, heldOut, typescriptVersion: version };
}

/**
 * `count` text snippets of about `chars` characters, each starting at a line start: prompt j comes from
 * file j mod F, at the line nearest to fraction (floor(j / F) + 0.5) / ceil(count / F) of the file.
 * Deterministic, so held-out prompts are the same everywhere.
 */
export function snippets(files: readonly CorpusFile[], count: number, chars: number): string[] {
  const out: string[] = [];
  const per = Math.ceil(count / files.length);
  for (let j = 0; j < count; j++) {
    const { text } = files[j % files.length];
    const at = Math.floor(((Math.floor(j / files.length) + 0.5) / per) * text.length);
    const lineStart = text.lastIndexOf("\n", at) + 1;
    const start = text.slice(lineStart).search(/\S/) >= 0 ? lineStart + text.slice(lineStart).search(/\S/) : lineStart;
    out.push(text.slice(start, start + chars));
  }
  return out;
}

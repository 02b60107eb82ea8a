/**
 * The layers of src/, top to bottom (issue 11; /work/shared/whiteboard.json draws them):
 *   faces (cli, bench, web, serve) -> public API (api) -> Node edges and the oracle (node, verify)
 *   -> decode | train -> model (model, engine.ts) -> runtime (wasm, threads) -> formats (gguf, tokenizer)
 *   -> leaves (errors.ts, util).
 * No import (type-only ones included) may run from a lower layer to a higher one; decode and train never
 * import each other; of the faces only the CLI calls the others (the bench is a library the face calls).
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const SRC = join(__dirname, "..", "src");
const RANK: Record<string, number> = {
  "errors.ts": 0, util: 0,
  gguf: 1, tokenizer: 1,
  wasm: 2, threads: 2,
  model: 3, "engine.ts": 3,
  decode: 4, train: 4,
  node: 5, verify: 5,
  api: 6,
  cli: 7, bench: 7, web: 7, serve: 7,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const part = (file: string) => relative(SRC, file).split("/")[0];

function imports(): { from: string; to: string }[] {
  const out: { from: string; to: string }[] = [];
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gm)) {
      out.push({ from: f, to: normalize(join(dirname(f), m[1].replace(/\.js$/, ".ts"))) });
    }
  }
  return out;
}

describe("architecture", () => {
  const all = imports();

  it("every part of src/ has a layer", () => {
    const parts = [...new Set(files(SRC).map(part))];
    expect(parts.filter((p) => RANK[p] === undefined)).toEqual([]);
    expect(all.length).toBeGreaterThan(200);
  });

  it("no import runs from a lower layer to a higher one", () => {
    const up = all
      .filter(({ from, to }) => RANK[part(from)] < RANK[part(to)])
      .map(({ from, to }) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
    expect(up).toEqual([]);
  });

  it("decode and train never import each other; no face but the CLI imports another face", () => {
    const bad = all
      .filter(({ from, to }) => {
        const a = part(from), b = part(to);
        if ((a === "decode" && b === "train") || (a === "train" && b === "decode")) return true;
        return a !== b && RANK[a] === 7 && RANK[b] === 7 && a !== "cli";
      })
      .map(({ from, to }) => `${relative(SRC, from)} -> ${relative(SRC, to)}`);
    expect(bad).toEqual([]);
  });
});

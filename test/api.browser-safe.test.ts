/**
 * The public API's root (src/api/index.ts) is browser-safe: following its static imports through src/,
 * no module imports a Node built-in (node:*) or the Node edges (src/node/). The Node entry (src/api/node.ts)
 * is where files and threads come in. A stray `import ... from "node:fs"` anywhere below the root fails here.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = join(__dirname, "..", "src");

/** Every src/ module reachable from `entry` by static imports and re-exports, with what each imports. */
function closure(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm), ...text.matchAll(/^\s*import\s+"([^"]+)"/gm)].map((m) => m[1]);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) todo.push(resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  }
  return seen;
}

describe("src/api/index.ts is browser-safe", () => {
  it("reaches no Node built-in and no src/node/ module", () => {
    const graph = closure(join(SRC, "api", "index.ts"));
    expect(graph.size).toBeGreaterThan(20); // the engine, decoders, tokenizer, gguf, wasm: the walk really ran
    const bad: string[] = [];
    for (const [file, specs] of graph) {
      const rel = relative(SRC, file);
      if (rel.startsWith("node/") || rel === join("api", "node.ts")) bad.push(rel);
      for (const s of specs) if (s.startsWith("node:") || !s.startsWith(".")) bad.push(`${rel} imports ${s}`);
    }
    expect(bad).toEqual([]);
  });

  it("the Node entry does bring in the Node edges (so the walk would see them)", () => {
    const graph = closure(join(SRC, "api", "node.ts"));
    expect([...graph.keys()].some((f) => relative(SRC, f).startsWith("node/"))).toBe(true);
    expect([...graph.values()].flat().some((s) => s.startsWith("node:"))).toBe(true);
  });
});

/**
 * The mask token is never emitted, by any decoder, even when the model would pick it: the mask here is
 * chosen as the token unbanned AR emits most often, so removing the ban (decode/decoders.ts bannedIds)
 * makes these runs emit it. Through the real binary, so the whole path (flags, wiring, the API, the
 * generate loop) is covered.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyModelBytes, TINY_EOS } from "./helpers/tiny-model.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let model = "";

function tokens(args: string[]): number[] {
  const r = spawnSync(process.execPath, [BIN, "generate", "--model", model, "--prompt", "the cat sat on the mat", "--max-tokens", "40", "--json", ...args], { encoding: "utf8", timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout).tokens as number[];
}

/** The most frequent token of `ids` that does not end generation. */
function mostFrequent(ids: number[]): number {
  const counts = new Map<number, number>();
  for (const t of ids) if (t !== TINY_EOS) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

beforeAll(() => {
  model = join(mkdtempSync(join(tmpdir(), "space-maskban-")), "tiny.gguf");
  writeFileSync(model, tinyModelBytes({ seed: 9 }));
});

describe("the mask token is banned for every decoder", () => {
  it("greedy: AR and SPACE never emit a mask that unbanned AR emits, and still agree token for token", () => {
    const free = tokens([]);
    const mask = mostFrequent(free);
    expect(free).toContain(mask); // the premise: without the ban, AR emits it
    const ar = tokens(["--mask-token", String(mask)]);
    const space = tokens(["--decoder", "space", "--k", "3", "--mask-token", String(mask)]);
    const lookup = tokens(["--decoder", "lookup", "--k", "3", "--mask-token", String(mask)]);
    for (const out of [ar, space, lookup]) expect(out).not.toContain(mask);
    expect(space).toEqual(ar);
    expect(lookup).toEqual(ar);
  });

  it("sampled: a mask that unbanned sampling emits never appears with the ban", () => {
    const sampled = ["--temperature", "1", "--seed", "3"];
    const mask = mostFrequent(tokens(sampled));
    for (const seed of ["3", "4", "5"]) {
      const args = ["--temperature", "1", "--seed", seed, "--mask-token", String(mask)];
      expect(tokens(args)).not.toContain(mask);
      expect(tokens(["--decoder", "space", "--k", "3", ...args])).not.toContain(mask);
    }
  });
});

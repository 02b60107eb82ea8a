/**
 * `space generate --decoder ...` through the real binary (bin/space.mjs over dist/, built by `npm test`):
 * every decoder gives AR's tokens, reports tau and the acceptance histogram, writes a trace; bad decoder
 * options are E_ARGS errors that say what is wrong.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { SpecProposer } from "../src/decode/spec.js";
import type { DecodingContext } from "../src/decode/generate.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let dir = "";
let model = "";

function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "generate", "--model", model, ...args], { timeout: 60_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-cli-dec-"));
  model = join(dir, "tiny.gguf");
  writeFileSync(model, tinyModelBytes({ seed: 9 }));
});

const BASE = ["--prompt", "the cat sat on the mat, the cat sat", "--max-tokens", "24", "--mask-token", "141", "--json"];

describe("space generate --decoder", () => {
  it("ar, space (full, lean, auto), spec (truncated draft, draft model) and lookup emit the same tokens", () => {
    const runs: [string, string[]][] = [
      ["ar", ["--decoder", "ar"]],
      ["space", ["--decoder", "space", "--k", "3"]],
      ["space", ["--decoder", "space", "--k", "2", "--layout", "lean"]],
      ["space", ["--decoder", "space", "--k", "3", "--layout", "auto"]],
      ["spec", ["--decoder", "spec", "--draft-layers", "1", "--k", "3"]],
      ["spec", ["--decoder", "spec", "--draft-model", model, "--k", "4"]],
      ["lookup", ["--decoder", "lookup"]],
    ];
    const outs = runs.map(([name, args]) => {
      const r = space([...BASE, ...args]);
      expect(r.stderr, name).toBe("");
      expect(r.code, name).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.decoder).toBe(name);
      const s = out.stats;
      expect(s.tokens_per_forward).toBeCloseTo(out.tokens.length / s.forward_passes, 12);
      expect(s.accept_histogram.reduce((a: number, b: number) => a + b, 0)).toBe(s.forward_passes);
      return out;
    });
    for (const out of outs) expect(out.tokens).toEqual(outs[0].tokens);
    expect(outs[5].stats.accept_histogram.at(-1)).toBeGreaterThan(0); // the draft is the model itself: all accepted
    // spec reports its draft's forward passes: at least one per accepted candidate.
    for (const out of outs) {
      if (out.decoder !== "spec") expect(out.stats.draft_passes).toBeUndefined();
      else {
        const accepted = out.stats.accept_histogram.reduce((a: number, n: number, i: number) => a + n * i, 0);
        expect(out.stats.draft_passes).toBeGreaterThanOrEqual(Math.max(1, accepted));
      }
    }
  });

  it("--store: the hybrid and auto layouts draft from an n-gram store of a distilled file (.gz too) and still emit AR's tokens", () => {
    const ar = JSON.parse(space([...BASE, "--decoder", "ar"]).stdout);
    // A distilled file whose response is AR's own output: the store's drafts are accepted.
    const row = { id: "x", split: "train", prompt: ar.tokens.slice(0, 3), response: ar.tokens };
    const file = join(dir, "store.jsonl.gz");
    writeFileSync(file, gzipSync(JSON.stringify(row) + "\n"));
    for (const layout of ["hybrid", "auto"]) {
      const r = space([...BASE, "--decoder", "space", "--k", "3", "--layout", layout, "--store", file]);
      expect(r.stderr, layout).toBe("");
      const out = JSON.parse(r.stdout);
      expect(out.tokens, layout).toEqual(ar.tokens);
      if (layout === "hybrid") expect(out.stats.tokens_per_forward, "drafts accepted").toBeGreaterThan(1.5);
    }
  });

  it("--trace writes one JSON line per step; sampling with a seed is reproducible", () => {
    const file = join(dir, "trace.jsonl");
    const args = [...BASE, "--decoder", "space", "--k", "2", "--temperature", "1.5", "--top-k", "8", "--seed", "4"];
    const a = JSON.parse(space([...args, "--trace", file]).stdout);
    const [header, ...lines] = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    // The header line makes the trace self-contained (spec/trace.md): the run's resolved settings.
    expect(header).toMatchObject({ format: "space-trace/1", prompt_tokens: a.prompt_tokens, decoder: "space", k: 2, mask_token: 141, layout: "full" });
    expect(header).toMatchObject({ sampling: { temperature: 1.5, top_k: 8, top_p: 1 }, seed: 4, prefill_chunk: 64 });
    expect(header.model_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(lines).toHaveLength(a.stats.forward_passes);
    expect(lines[0]).toMatchObject({ decoder: "space", step: 1, cached: 0, candidates: [] });
    expect(lines.flatMap((l) => l.emitted).slice(0, a.tokens.length)).toEqual(a.tokens);
    const b = JSON.parse(space(args).stdout);
    expect(b.tokens).toEqual(a.tokens);
    expect(a.tokens).not.toContain(141);
  });

  const bad: [string, string[], string, RegExp][] = [
    ["space without a mask", ["--decoder", "space"], "E_ARGS", /--decoder space needs --mask-token/],
    ["k of 0", ["--decoder", "lookup", "--k", "0"], "E_ARGS", /--k must be at least 1/],
    ["k too large for space", ["--decoder", "space", "--mask-token", "5", "--k", "17"], "E_ARGS", /--k must be at most 16 for --decoder space/],
    ["mask token outside the vocabulary", ["--decoder", "space", "--mask-token", "269"], "E_ARGS", /--mask-token 269 is outside the vocabulary \[0, 269\)/],
    ["mask token = end of generation", ["--decoder", "space", "--mask-token", "2"], "E_ARGS", /--mask-token 2 is an end-of-generation token/],
    ["both draft options", ["--decoder", "spec", "--draft-layers", "1", "--draft-model", "x.gguf"], "E_ARGS", /--draft-model or --draft-layers, not both/],
    ["spec without a draft", ["--decoder", "spec"], "E_ARGS", /--decoder spec needs a draft/],
    ["draft layers beyond the model", ["--decoder", "spec", "--draft-layers", "3"], "E_ARGS", /--draft-layers 3 exceeds the model's 2 layers/],
    ["a draft option without spec", ["--decoder", "space", "--mask-token", "5", "--draft-layers", "1"], "E_ARGS", /--draft-layers applies to --decoder spec, not space/],
    ["layout without space", ["--decoder", "lookup", "--layout", "lean"], "E_ARGS", /--layout applies to --decoder space, not lookup/],
    ["k with ar", ["--k", "3"], "E_ARGS", /--k applies to --decoder space\|spec\|lookup, not ar/],
    ["unknown decoder", ["--decoder", "medusa"], "E_ARGS", /--decoder must be one of ar, space, spec, lookup/],
    ["unknown layout", ["--decoder", "space", "--mask-token", "5", "--layout", "tree"], "E_ARGS", /--layout must be one of full, lean/],
    ["missing draft model", ["--decoder", "spec", "--draft-model", "/nonexistent/draft.gguf"], "E_IO", /draft\.gguf/],
    ["unwritable trace", ["--trace", "/nonexistent/dir/t.jsonl"], "E_IO", /t\.jsonl/],
    ["a store without space", ["--store", "s.jsonl"], "E_ARGS", /--store applies to --decoder space, not ar/],
    ["a store with a layout that copies nothing", ["--decoder", "space", "--mask-token", "5", "--store", "s.jsonl"], "E_ARGS", /--store drafts for the layouts that copy candidates/],
    ["a missing store", ["--decoder", "space", "--mask-token", "5", "--layout", "auto", "--store", "/nonexistent/s.jsonl"], "E_IO", /s\.jsonl/],
  ];
  for (const [name, args, code, pattern] of bad) {
    it(`rejects: ${name}`, () => {
      const r = space(["--prompt", "hi", "--max-tokens", "2", ...args]);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
      expect(lines[0]).toMatch(pattern);
    });
  }

  it("a draft with another vocabulary is an E_MODEL error", () => {
    const draft = { forward: { cfg: { vocabSize: 100 } } } as unknown as DecodingContext;
    expect(() => new SpecProposer({ k: 2, draft, vocabSize: 269 })).toThrow(/draft's vocabulary has 100 tokens, the target's 269/);
  });
});

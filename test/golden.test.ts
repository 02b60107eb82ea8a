/**
 * Golden vectors (spec/golden.md): the shipped set for the embedded model is regenerated here, by the
 * exact reference (plain SIMD, native weights), and must be byte for byte what spec/golden/space-tiny/
 * holds; the set checks itself (its AR file verifies identical with zero logit difference, its traces
 * check identical step by step); and --check-trace names the first step where a changed trace differs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { f32Decimal } from "../src/verify/golden.js";
import { runGolden, runVerify } from "../src/cli/verify.js";
import { parseTrace } from "../src/verify/trace-check.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";

const ROOT = join(__dirname, "..");
const GOLDEN = join(ROOT, "spec", "golden", "space-tiny");
const BIN = join(ROOT, "bin", "space.mjs");
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-golden-"));
});
afterAll(() => {});

async function cli(run: typeof runVerify, args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(args, (s) => (out += s));
  return { code, out };
}

describe("golden vectors of the embedded model", () => {
  it("regenerate byte for byte (plain SIMD, native weights)", async () => {
    const out = join(dir, "regen");
    expect((await cli(runGolden, ["--out", out])).code).toBe(0);
    const want = readdirSync(GOLDEN).sort();
    expect(readdirSync(out).sort()).toEqual(want);
    expect(want).toEqual(["ar.jsonl", "rows.jsonl", "space-full-p0.jsonl", "space-full-p1.jsonl", "space-full-p2.jsonl", "space-lean-p0.jsonl", "space-sampled-p1.jsonl"]);
    for (const f of want) expect(readFileSync(join(out, f), "utf8"), f).toBe(readFileSync(join(GOLDEN, f), "utf8"));
  });

  it("the AR file verifies identical with zero logit difference; every trace checks identical", async () => {
    const r = await cli(runVerify, [join(GOLDEN, "ar.jsonl"), "--json"]);
    expect(r.code).toBe(0);
    for (const line of r.out.trim().split("\n")) expect(JSON.parse(line)).toMatchObject({ verdict: "identical", checked: 16, max_logit_diff: 0 });
    for (const f of readdirSync(GOLDEN).filter((n) => n.startsWith("space-"))) {
      const c = await cli(runVerify, ["--check-trace", join(GOLDEN, f), "--json"]);
      expect(JSON.parse(c.out), f).toMatchObject({ first_difference: null });
      expect(c.code).toBe(0);
    }
  });

  it("traces are self-contained and carry attention and kept rows consistent with the other fields", () => {
    for (const f of readdirSync(GOLDEN).filter((n) => n.startsWith("space-"))) {
      const { header, steps } = parseTrace(readFileSync(join(GOLDEN, f), "utf8"), f);
      expect(header).toMatchObject({ format: "space-trace/1", decoder: "space", k: 4, prefill_chunk: 64, simd: "plain", weights: "native" });
      for (const s of steps as any[]) {
        expect(s.attention).toHaveLength(s.tokens.length);
        // Mask rows are never kept; a row sees itself; positions = visible keys - 1.
        for (const r of s.kept_rows) expect(s.mask_rows).not.toContain(r);
        s.attention.forEach((row: string, t: number) => {
          expect(row).toHaveLength(t + 1);
          expect(row[t]).toBe("1");
          expect(s.positions[t]).toBe(s.cached + [...row].filter((c) => c === "1").length - 1);
        });
        expect(s.kept_rows).toHaveLength(s.tokens.length - s.mask_rows.length - (s.candidates.length - s.accepted));
      }
    }
  });

  it("logits are the shortest decimals that read back as the same f32", () => {
    expect(f32Decimal(Math.fround(11.36))).toBe(11.36);
    expect(f32Decimal(Math.fround(0.1))).toBe(0.1);
    for (const x of [Math.fround(Math.PI), Math.fround(-1e-7), Math.fround(123456.789)]) {
      const y = f32Decimal(x);
      expect(Math.fround(y)).toBe(x);
      expect(String(y).replace(/[-.]|e.*$/g, "").replace(/^0+/, "").length).toBeLessThanOrEqual(9);
    }
  });
});

describe("space verify --check-trace", () => {
  const golden = () => readFileSync(join(GOLDEN, "space-full-p0.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const write = (name: string, lines: object[]) => {
    const p = join(dir, name);
    writeFileSync(p, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    return p;
  };

  // steps[i] is step i + 1.
  const changes: [string, (steps: any[]) => void, number, string[]][] = [
    ["an accepted count", (s) => (s[3].accepted += 1), 4, ["accepted"]],
    ["a position in the block", (s) => (s[2].positions[5] += 1), 3, ["positions"]],
    ["a mask row and the attention", (s) => { s[4].mask_rows.pop(); s[4].attention[3] = "0001"; }, 5, ["mask_rows", "attention"]],
    ["the emitted tokens", (s) => (s[5].emitted[0] = 7), 6, ["emitted"]],
    ["the kept rows", (s) => s[1].kept_rows.pop(), 2, ["kept_rows"]],
    ["a missing last step", (s) => s.pop(), 11, ["step"]],
  ];
  for (const [name, change, step, fields] of changes) {
    it(`names the first step whose ${name} differs (exit 3)`, async () => {
      const [header, ...steps] = golden();
      change(steps);
      const r = await cli(runVerify, ["--check-trace", write(`changed-${step}.jsonl`, [header, ...steps]), "--json"]);
      expect(r.code).toBe(3);
      const c = JSON.parse(r.out);
      expect(c.first_difference.step).toBe(step);
      expect(c.first_difference.fields.map((f: { field: string }) => f.field)).toEqual(fields);
      expect(c.steps_matching).toBe(step - 1);
    });
  }

  it("a trace without attention and kept rows (plain `space generate --trace`) is compared on the other fields", async () => {
    const [header, ...steps] = golden();
    const plain = steps.map(({ attention: _a, kept_rows: _k, ...rest }: any) => rest);
    const r = await cli(runVerify, ["--check-trace", write("plain.jsonl", [header, ...plain])]);
    expect(r.out).toMatch(/11 steps, every one identical to ours/);
    expect(r.code).toBe(0);
  });

  it("traces written by `space generate --trace` replay identically, for every decoder (the header is complete)", () => {
    const model = join(dir, "tiny.gguf"), draft = join(dir, "tiny-draft.gguf");
    writeFileSync(model, tinyModelBytes({ seed: 9 }));
    writeFileSync(draft, tinyModelBytes({ seed: 10, nLayers: 1 })); // the same tokenizer, other weights
    const base = ["generate", "--model", model, "--prompt", "the cat sat on the mat, the cat sat", "--max-tokens", "12", "--json"];
    const runs: [string, string[], string[]?][] = [
      ["ar", []],
      ["space sampled", ["--decoder", "space", "--k", "2", "--mask-token", "141", "--temperature", "1.5", "--top-k", "8", "--seed", "4"]],
      ["space lean", ["--decoder", "space", "--k", "3", "--mask-token", "141", "--layout", "lean"]],
      ["space tail", ["--decoder", "space", "--k", "3", "--mask-token", "141", "--layout", "tail"]],
      ["space hybrid", ["--decoder", "space", "--k", "3", "--mask-token", "141", "--layout", "hybrid"]],
      ["lookup", ["--decoder", "lookup", "--k", "3"]],
      ["spec", ["--decoder", "spec", "--draft-layers", "1", "--k", "2", "--stop", "zz"]],
      ["spec draft model", ["--decoder", "spec", "--draft-model", draft, "--k", "3"], ["--draft-model", draft]],
    ];
    for (const [name, args, verifyArgs = []] of runs) {
      const trace = join(dir, `gen-${name.replaceAll(" ", "-")}.jsonl`);
      const g = spawnSync(process.execPath, [BIN, ...base, ...args, "--trace", trace], { encoding: "utf8", timeout: 60_000 });
      expect(g.status, g.stderr).toBe(0);
      const c = spawnSync(process.execPath, [BIN, "verify", "--model", model, "--check-trace", trace, ...verifyArgs], { encoding: "utf8", timeout: 60_000 });
      expect(c.stdout + c.stderr, name).toMatch(/steps, every one identical to ours/);
      expect(c.status).toBe(0);
    }
  });

  it("misuse: --adapter or --draft-model without --check-trace (or without a trace that needs it), golden without --out, golden into a file", () => {
    const cases: [string[], string, RegExp][] = [
      [["verify", "x.jsonl", "--adapter", "a.gguf"], "E_ARGS", /--adapter applies to --check-trace/],
      [["verify", "x.jsonl", "--draft-model", "d.gguf"], "E_ARGS", /--draft-model applies to --check-trace/],
      [["verify", "--check-trace", join(GOLDEN, "space-full-p0.jsonl"), "--draft-model", join(GOLDEN, "ar.jsonl")], "E_ARGS", /made without a draft model: drop --draft-model/],
      [["verify", "--check-trace", join(GOLDEN, "space-full-p0.jsonl"), "--tie", "0.1"], "E_ARGS", /--tie does not apply to --check-trace/],
      [["golden"], "E_ARGS", /needs --out DIR/],
      [["golden", "--out", join(GOLDEN, "ar.jsonl", "sub")], "E_IO", /ar\.jsonl/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
      expect(r.status).not.toBe(0);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
      expect(lines[0]).toMatch(pattern);
    }
  });

  const refusals: [string, (h: any, s: any[]) => object[], string, RegExp][] = [
    ["a --layout auto trace", (h, s) => [{ ...h, layout: "auto" }, ...s], "E_ARGS", /--layout auto trace cannot be checked/],
    ["another model's trace", (h, s) => [{ ...h, model_sha256: "0".repeat(64) }, ...s], "E_ARGS", /was made with the model of sha256 0{64}/],
    ["a trace without a header", (_h, s) => s, "E_ARGS", /:1: no header line/],
    ["another prefill chunk", (h, s) => [{ ...h, prefill_chunk: 32 }, ...s], "E_ARGS", /prefill_chunk 32; prompts run in blocks of 64/],
    ["a header field of the wrong type", (h, s) => [{ ...h, seed: -1 }, ...s], "E_ARGS", /header "seed" must be an integer/],
    ["an unknown step field", (h, s) => [h, { ...s[0], extra: 1 }, ...s.slice(1)], "E_ARGS", /:2: unknown step field "extra"/],
    ["an adapter trace without --adapter", (h, s) => [{ ...h, adapter_sha256: "a".repeat(64) }, ...s], "E_ARGS", /give it with --adapter/],
    ["a draft-model trace without --draft-model", (h, s) => [{ ...h, draft_model_sha256: "b".repeat(64) }, ...s], "E_ARGS", /give it with --draft-model/],
  ];
  for (const [name, make, code, pattern] of refusals) {
    it(`refuses ${name} with one line`, () => {
      const [header, ...steps] = golden();
      const file = write(`refused-${name.replace(/\W+/g, "-")}.jsonl`, make(header, steps));
      const r = spawnSync(process.execPath, [BIN, "verify", "--check-trace", file], { encoding: "utf8", timeout: 60_000 });
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
      expect(lines[0]).toMatch(pattern);
    });
  }
});

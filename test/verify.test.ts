/**
 * `space verify` (spec/verify.md): teacher forcing gives exactly our greedy decoding's logits (also across
 * block boundaries), the verdict rules table by table, strict input parsing, the CLI's exit statuses and
 * errors, and the spec's worked example, byte for byte, on the embedded model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "../src/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { chainBlock } from "../src/decode/block.js";
import { teacherForce } from "../src/verify/teacher.js";
import { checkRecord, compareStep, verdictOf, type Divergence } from "../src/verify/check.js";
import { parseRecords } from "../src/verify/records.js";
import { runVerify } from "../src/cli/verify.js";
import { tinyEngine } from "./helpers/engine.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";

const ROOT = join(__dirname, "..");
const BIN = join(ROOT, "bin", "space.mjs");
let engine: Engine;
let dir = "";
beforeAll(async () => {
  engine = await tinyEngine({ seed: 9 });
  dir = mkdtempSync(join(tmpdir(), "space-verify-"));
});
afterAll(() => engine.close());

async function greedy(prompt: number[], n: number): Promise<number[]> {
  const ctx = engine.newContext(prompt.length + n, 0);
  const r = await generate(ctx, prompt, new ArProposer(), { maxTokens: n });
  ctx.dispose();
  return r.tokens;
}

describe("teacher forcing", () => {
  it("gives, bit for bit, the logits of one-token-at-a-time AR decoding, across 64-row block boundaries", async () => {
    const prompt = Array.from({ length: 70 }, (_, i) => 3 + ((i * 37) % 260)); // > PREFILL_CHUNK
    const tokens = await greedy(prompt, 90);
    expect(prompt.length + tokens.length).toBeGreaterThan(2 * 64); // the sequence spans three teacher-forcing blocks
    const V = engine.config.vocabSize;
    const forced: Float32Array[] = [];
    teacherForce(engine, prompt, tokens, (i, row) => {
      expect(i).toBe(forced.length);
      forced.push(row.slice());
    });
    expect(forced).toHaveLength(tokens.length);
    // Reference: the prompt in one block, then one row per token, as AR decoding runs it.
    const ctx = engine.newContext(prompt.length + tokens.length, prompt.length);
    const seq = [...prompt, ...tokens];
    let logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, prompt.slice(0, 64), []));
    ctx.cache.commit(Int32Array.from({ length: 64 }, (_, r) => r));
    for (let t = 64; t < seq.length - 1; t++) {
      logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, [seq[t]], t >= prompt.length - 1 ? [0] : []));
      ctx.cache.commit(Int32Array.of(0));
      if (t >= prompt.length - 1) expect(forced[t - (prompt.length - 1)]).toEqual(logits.slice(0, V));
    }
    ctx.dispose();
    // ... so our teacher-forced argmax is our greedy output.
    const report = checkRecord(engine, { line: 1, id: 0, prompt, tokens }, { tie: 0.05 });
    expect(report).toMatchObject({ verdict: "identical", checked: tokens.length, first_divergence: null, margins: [] });
  });

  it("a changed token is found where it was changed, and teacher forcing goes on with it", async () => {
    const prompt = [119, 261, 35, 102, 268];
    const tokens = await greedy(prompt, 12);
    const changed = [...tokens];
    changed[4] = (tokens[4] + 1) % engine.config.vocabSize;
    const r = checkRecord(engine, { line: 1, id: "x", prompt, tokens: changed }, { tie: 0.05 });
    expect(r.first_divergence).toMatchObject({ step: 4, theirs: changed[4], ours: tokens[4] });
    expect(r.first_divergence!.gap).toBeGreaterThanOrEqual(r.first_divergence!.margin);
    expect(r.margins).toEqual(r.divergences.map((d) => d.margin));
    // The next step's "ours" is taken after THEIR token 4, not after ours.
    const after = await greedy([...prompt, ...changed.slice(0, 5)], 1);
    const d5 = r.divergences.find((d) => d.step === 5);
    expect(d5?.ours ?? changed[5]).toBe(after[0]);
  });

  it("given logits are compared with ours (max |difference| and its step)", async () => {
    const prompt = [119, 261, 35];
    const tokens = await greedy(prompt, 3);
    const rows: Float32Array[] = [];
    teacherForce(engine, prompt, tokens, (_, row) => rows.push(row.slice()));
    const logits = tokens.map((t, i) => ({ ids: [t, 7], values: [rows[i][t] + (i === 1 ? 0.25 : 0), rows[i][7]] }));
    const r = checkRecord(engine, { line: 1, id: 0, prompt, tokens, logits }, { tie: 0.05 });
    expect(r.max_logit_diff).toBeCloseTo(0.25, 5);
    expect(r.max_logit_diff_step).toBe(1);
    expect(checkRecord(engine, { line: 1, id: 0, prompt, tokens }, { tie: 0.05 }).max_logit_diff).toBeNull();
  });

  it("refuses a sequence longer than the model's context", () => {
    expect(() => teacherForce(engine, [1, 2, 3], new Array(510).fill(5), () => {})).toThrow(/exceed the model's context of 512/);
  });
});

describe("verdict rules", () => {
  const d = (gap: number, margin = gap): Divergence => ({ step: 0, theirs: 1, ours: 2, margin, gap });
  const cases: [string, Divergence[], string][] = [
    ["no divergence", [], "identical"],
    ["one gap below the tie", [d(0.01)], "near-tie"],
    ["a gap of exactly 0 (a tie broken by id)", [d(0)], "near-tie"],
    ["a gap equal to the tie", [d(0.05)], "divergent"],
    ["all below the tie", [d(0.01), d(0.049)], "near-tie"],
    ["one of several above the tie", [d(0.01), d(0.3)], "divergent"],
    ["close top two, but their token ranked far below", [d(2, 0.001)], "divergent"],
  ];
  for (const [name, divs, want] of cases) it(`${name}: ${want}`, () => expect(verdictOf(divs, 0.05)).toBe(want));

  it("compareStep: argmax with ties to the lowest id, banned ids excluded from ours and from the margin", () => {
    const row = Float32Array.from([1, 5, 5, 4.5, 9]);
    expect(compareStep(row, 4)).toEqual({ ours: 4, margin: 4, gap: 0 });
    expect(compareStep(row, 2, new Set([4]))).toEqual({ ours: 1, margin: 0, gap: 0 });
    expect(compareStep(row, 3, new Set([4, 2]))).toEqual({ ours: 1, margin: 0.5, gap: 0.5 });
  });
});

describe("input records", () => {
  const V = 269;
  const ok = '{"prompt_tokens":[1,2],"tokens":[3]}';
  it("parses records, defaulting id to the index and skipping blank lines", () => {
    const r = parseRecords(`${ok}\n\n{"id":"b","engine":"e","prompt_tokens":[4],"tokens":[],"meta":{"x":1}}\n`, "f", V);
    expect(r.map((x) => [x.id, x.line, x.engine])).toEqual([[0, 1, undefined], ["b", 3, "e"]]);
  });
  const bad: [string, string, RegExp][] = [
    ["not JSON", "{", /f:1: not JSON/],
    ["an array", "[1]", /f:1: expected a JSON object/],
    ["a misspelt field", '{"prompt_ids":[1],"tokens":[]}', /f:1: unknown field "prompt_ids"/],
    ["no prompt", '{"tokens":[1]}', /"prompt_tokens" must be an array/],
    ["an empty prompt", '{"prompt_tokens":[],"tokens":[1]}', /"prompt_tokens" is empty/],
    ["an id outside the vocabulary", '{"prompt_tokens":[1],"tokens":[269]}', /"tokens"\[0\] = 269 is not a token id in \[0, 269\)/],
    ["a fractional id", '{"prompt_tokens":[1.5],"tokens":[]}', /"prompt_tokens"\[0\] = 1.5/],
    ["logits of the wrong length", '{"prompt_tokens":[1],"tokens":[1,2],"logits":[{"ids":[1],"values":[0]}]}', /1 entries for 2 tokens/],
    ["ids and values of different lengths", '{"prompt_tokens":[1],"tokens":[1],"logits":[{"ids":[1,2],"values":[0]}]}', /2 ids but 1 values/],
    ["a bad id type", '{"id":true,"prompt_tokens":[1],"tokens":[1]}', /"id" must be a string or a number/],
  ];
  for (const [name, line, pattern] of bad) it(`rejects ${name}`, () => expect(() => parseRecords(`${ok}\n${line}`.split("\n").reverse().join("\n"), "f", V)).toThrow(pattern));
  it("rejects an empty file", () => expect(() => parseRecords("\n\n", "f", V)).toThrow(/no records/));
});

function space(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, timeout: 60_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

describe("space verify (the binary)", () => {
  it("exit 0 for identical records, 3 when one is divergent; reads standard input", async () => {
    const model = join(dir, "tiny.gguf");
    writeFileSync(model, tinyModelBytes({ seed: 9 }));
    const prompt = [119, 261, 35, 102, 268];
    const tokens = await greedy(prompt, 6);
    const same = JSON.stringify({ prompt_tokens: prompt, tokens });
    const r = space(["verify", "--model", model, "-", "--json"], same + "\n");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 0, verdict: "identical", checked: 6 });
    const off = JSON.stringify({ prompt_tokens: prompt, tokens: [...tokens.slice(0, 2), (tokens[2] + 1) % 269] });
    const r2 = space(["verify", "--model", model, "-"], `${same}\n${off}\n`);
    expect(r2.code).toBe(3);
    expect(r2.stdout).toMatch(/2 records: 1 identical, 0 near-tie \(every gap < 0\.05\), 1 divergent/);
  });

  const cases: [string, string[], string | undefined, string, RegExp][] = [
    ["no input file", ["verify"], undefined, "E_ARGS", /needs exactly one input file/],
    ["a missing input file", ["verify", "/nonexistent/in.jsonl"], undefined, "E_IO", /in\.jsonl/],
    ["a bad line", ["verify", "-"], '{"prompt_tokens":[1],"tokens":[2]}\n{oops\n', "E_ARGS", /standard input:2: not JSON/],
    ["a negative tie", ["verify", "-", "--tie", "-1"], "", "E_ARGS", /--tie must be at least 0/],
    ["too long for the context", ["verify", "-"], JSON.stringify({ prompt_tokens: [1], tokens: new Array(300).fill(5) }), "E_CONTEXT", /standard input:1: 1 prompt \+ 300 generated tokens exceed the model's context of 256/],
  ];
  for (const [name, args, input, code, pattern] of cases) {
    it(`rejects ${name} with one line`, () => {
      const r = space([...args, "--json"], input);
      expect(r.signal).toBeNull();
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
      expect(lines[0]).toMatch(pattern);
      expect(JSON.parse(r.stdout).error.code).toBe(code);
    });
  }
});

describe("spec/verify.md", () => {
  it("the worked example's table and JSON are what `space verify` prints on the embedded model (exit 3)", async () => {
    const doc = readFileSync(join(ROOT, "spec", "verify.md"), "utf8");
    const block = (name: string) => {
      const at = doc.indexOf(`<!-- example: ${name} -->`);
      expect(at).toBeGreaterThan(0);
      const open = doc.indexOf("\n", doc.indexOf("```", at)) + 1;
      return doc.slice(open, doc.indexOf("```", open));
    };
    const input = join(dir, "example.jsonl");
    writeFileSync(input, block("verify-input"));
    for (const [args, want] of [[[], block("verify-table")], [["--json"], block("verify-json")]] as const) {
      let out = "";
      const code = await runVerify([input, ...args], (s) => (out += s));
      expect(code).toBe(3);
      expect(out).toBe(want);
    }
    // The records really are what the text says: `same` is our greedy output (identical), `tie` diverges only at a gap < 0.05.
    const json = block("verify-json").trim().split("\n").map((l) => JSON.parse(l));
    expect(json.map((r) => r.verdict)).toEqual(["identical", "near-tie", "divergent"]);
  });
});

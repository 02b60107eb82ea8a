/**
 * Real-model tier: `space verify` on SmolLM2-135M-Instruct's generations from the two adapters in tools/:
 *  - transformers (tools/verify_hf.py, fp32 greedy with a KV cache, top-8 logits per step): every record
 *    must come back identical or near-tie, and its logits within 1e-3 of ours;
 *  - llama.cpp (tools/verify-llama.mjs, greedy through node-llama-cpp): verdicts and margins are printed
 *    as they are. llama.cpp multiplies Q4_1 weights by activations quantised to 8 bits, so divergences are
 *    expected; they are reported, never hidden or relabelled. The test checks the report is complete and
 *    consistent (one record per prompt, every token checked, exit status 3 exactly when one is divergent).
 * Both run through the real `space` binary with its defaults (plain SIMD, native weights).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEngine } from "../../src/node/engine.js";
import { userPromptIds } from "../../src/tokenizer/chat.js";
import { reportTable } from "../../src/verify/report.js";
import { DEFAULT_TIE } from "../../src/cli/verify.js";
import { ROOT, VENV_PYTHON, requireRealModel } from "./peers.js";

const N = 48;
const CHAT = ["What is the capital of France?", "Write a Python function that returns the n-th Fibonacci number.", "Explain photosynthesis in two sentences.", "List three tips for writing clean code."];
const RAW = ["def quicksort(arr):\n", "The history of the Roman Empire"];
const BIN = join(ROOT, "bin", "space.mjs");

let dir = "";
let model = "";
let promptsFile = "";
let promptCount = 0;

beforeAll(async () => {
  model = requireRealModel();
  dir = mkdtempSync(join(tmpdir(), "space-verify-real-"));
  const engine = await loadEngine(model, { simd: "plain" });
  const tok = engine.tokenizer;
  const prompts = [...CHAT.map((q, i) => ({ id: `chat${i}`, ids: userPromptIds(tok, q) })), ...RAW.map((t, i) => ({ id: `raw${i}`, ids: tok.encode(t) }))];
  engine.close();
  promptCount = prompts.length;
  promptsFile = join(dir, "prompts.json");
  writeFileSync(promptsFile, JSON.stringify(prompts));
});

function run(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 28, timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `space verify --json` on a file: the reports, the exit status, and the table `space verify` prints for them. */
function verify(file: string) {
  const json = run(process.execPath, [BIN, "verify", "--model", model, file, "--json"]);
  if (json.code !== 0 && json.code !== 3) throw new Error(`space verify failed (${json.code}): ${json.stderr}`);
  const reports = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  return { code: json.code, reports, table: reportTable(reports, DEFAULT_TIE) };
}

function records(file: string): { id: string; tokens: number[] }[] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
}

describe("space golden on SmolLM2-135M-Instruct with its SPACE adapter", () => {
  it("writes AR records that verify identical (logit difference 0) and SPACE traces that replay identically", () => {
    const adapter = join(ROOT, "models", "smollm2-135m-instruct-space-k5.gguf");
    const out = join(dir, "golden-smollm2");
    const g = run(process.execPath, [BIN, "golden", "--model", model, "--adapter", adapter, "--out", out]);
    expect(g.code, g.stderr).toBe(0);
    console.log(g.stdout);
    const v = verify(join(out, "ar.jsonl"));
    console.log(v.table);
    for (const x of v.reports) expect(x).toMatchObject({ verdict: "identical", max_logit_diff: 0 });
    for (const f of ["space-full-p0.jsonl", "space-sampled-p1.jsonl"]) {
      const [header] = records(join(out, f)) as unknown as { k: number; adapter_sha256: string }[];
      expect(header).toMatchObject({ k: 5 });
      expect(header.adapter_sha256).toMatch(/^[0-9a-f]{64}$/);
      const c = run(process.execPath, [BIN, "verify", "--model", model, "--adapter", adapter, "--check-trace", join(out, f)]);
      console.log(c.stdout);
      expect(c.stdout, c.stderr).toMatch(/steps, every one identical to ours/);
      expect(c.code).toBe(0);
    }
  });
});

describe("space verify on SmolLM2-135M-Instruct", () => {
  it("transformers fp32 (tools/verify_hf.py): every record identical or near-tie, logits within 1e-3", () => {
    if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run \`bash tools/setup-venv.sh\``);
    const out = join(dir, "hf.jsonl");
    const r = run(VENV_PYTHON, ["tools/verify_hf.py", "--model", model, "--input", promptsFile, "--n", String(N), "--out", out]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const given = records(out);
    expect(given).toHaveLength(promptCount);
    const v = verify(out);
    console.log(`transformers fp32 vs space:\n${v.table}`);
    expect(v.reports.map((x) => x.checked)).toEqual(given.map((g) => g.tokens.length));
    for (const x of v.reports) {
      expect(["identical", "near-tie"], `${x.id}: ${JSON.stringify(x.divergences)}`).toContain(x.verdict);
      expect(x.max_logit_diff).toBeLessThanOrEqual(1e-3);
    }
    expect(v.code).toBe(0);
  });

  it("llama.cpp (tools/verify-llama.mjs): verdicts and margins reported as they are", () => {
    const out = join(dir, "llama.jsonl");
    const r = run(process.execPath, ["tools/verify-llama.mjs", "--model", model, "--input", promptsFile, "--n", String(N), "--out", out]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const given = records(out);
    expect(given.map((g) => g.id)).toEqual([...CHAT.map((_, i) => `chat${i}`), ...RAW.map((_, i) => `raw${i}`)]);
    const v = verify(out);
    console.log(`llama.cpp vs space (8-bit activations in llama.cpp: divergences are expected and shown):\n${v.table}`);
    expect(v.reports.map((x) => x.checked)).toEqual(given.map((g) => g.tokens.length));
    for (const x of v.reports) {
      expect(x.margins).toEqual(x.divergences.map((d: { margin: number }) => d.margin));
      expect(x.first_divergence).toEqual(x.divergences[0] ?? null);
    }
    expect(v.code).toBe(v.reports.some((x) => x.verdict === "divergent") ? 3 : 0);
  });
});

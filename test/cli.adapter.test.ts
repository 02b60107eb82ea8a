/**
 * `space generate --adapter` through the real binary: a base-preserving adapter trained for a few steps
 * gives AR's tokens with --decoder space and no other flag; an adapter for another base is refused
 * (E_MODEL); `space distill` + `space train` run end to end and resume.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { drawAppended } from "../src/train/sar.js";
import { LORA_TARGETS, decodeAdapter, encodeAdapter } from "../src/model/adapter.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let dir = "", model = "", other = "", adapter = "";

function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 120_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "space-cli-adapter-"));
  model = join(dir, "tiny.gguf");
  other = join(dir, "other.gguf");
  const bytes = tinyModelBytes({ seed: 9 });
  writeFileSync(model, bytes);
  writeFileSync(other, tinyModelBytes({ seed: 10 }));
  const e = await engineFromBytes(bytes);
  try {
    const t = new AdapterTrainer(e.core, e.arena, e.config, e.weights, {
      shape: { k: 3, rank: 2, targets: LORA_TARGETS, maskToken: 7 }, maxPrefix: 64, maxMask: 12, lr: 1e-2, totalSteps: 3,
    });
    const ex = { prompt: [10, 20, 30], response: Array.from({ length: 20 }, (_, i) => 40 + ((i * 7) % 30)) };
    for (let s = 0; s < 3; s++) t.step([drawAppended(ex, { k: 3, maskId: 7, groups: 4 }, t.rng)]);
    const sha = createHash("sha256").update(bytes).digest("hex");
    adapter = join(dir, "tiny-space.gguf");
    writeFileSync(adapter, encodeAdapter(t.model.data({ baseSha256: sha, baseName: "tiny.gguf" }), e.config));
  } finally {
    e.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = ["--prompt", "the cat sat on the mat, the cat sat", "--max-tokens", "24", "--json"];

describe("space generate --adapter", () => {
  it("needs no other flag and emits AR's tokens", () => {
    const ar = space(["generate", "--model", model, ...PROMPT]);
    const sp = space(["generate", "--model", model, "--adapter", adapter, "--decoder", "space", ...PROMPT]);
    expect(sp.stderr).toBe("");
    expect(sp.code).toBe(0);
    const a = JSON.parse(ar.stdout), s = JSON.parse(sp.stdout);
    expect(s.decoder).toBe("space");
    expect(s.tokens).toEqual(a.tokens);
  });

  it("refuses an adapter trained for another base (E_MODEL) and a conflicting --mask-token (E_ARGS)", () => {
    const r = space(["generate", "--model", other, "--adapter", adapter, "--decoder", "space", ...PROMPT]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_MODEL: .*wrong base model/);
    const m = space(["generate", "--model", model, "--adapter", adapter, "--decoder", "space", "--mask-token", "3", ...PROMPT]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/E_ARGS/);
  });
});

describe("space distill + space train", () => {
  it("distils, trains with checkpoints, resumes, exports an adapter generate accepts", () => {
    const data = join(dir, "d.jsonl"), run = join(dir, "run"), out = join(dir, "a.gguf");
    const d = space(["distill", "--model", model, "--out", data, "--prompts", "instruct", "--limit", "3", "--max-tokens", "24"]);
    expect(d.code, d.stderr).toBe(0);
    const lines = readFileSync(data, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].split).toBe("train");
    const again = space(["distill", "--model", model, "--out", data, "--prompts", "instruct", "--limit", "1", "--max-tokens", "24"]);
    expect(readFileSync(data, "utf8").trim().split("\n")).toHaveLength(4); // resumed: skipped the 3 done
    expect(again.code).toBe(0);
    const train = (steps: number) => space(["train", "--model", model, "--data", data, "--run-dir", run, "--out", out,
      "--steps", String(steps), "--k", "2", "--rank", "2", "--groups", "3", "--batch", "1", "--checkpoint-every", "2",
      "--eval-every", "2", "--eval-prompts", "1", "--eval-tokens", "8", "--max-prefix", "400"]); // HumanEval-X: the repository's data/
    const t = train(4);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/step 4\/4 .*loss .*mask tok\/s.*ETA/);
    expect(readFileSync(join(run, "eval.jsonl"), "utf8")).toMatch(/"identical_to_ar":true/);
    const r = train(4); // already done: resumes at step 4 and only exports
    expect(r.stderr).toMatch(/resumed from .* at step 4/);
    const g = space(["generate", "--model", model, "--adapter", out, "--decoder", "space", ...PROMPT]);
    expect(g.code, g.stderr).toBe(0);
  }, 240_000);

  it("distill --shard I/N keeps every N-th prompt from the I-th (parallel distillation), and refuses a bad shard", () => {
    const a = join(dir, "s1.jsonl"), b = join(dir, "s0.jsonl");
    const one = space(["distill", "--model", model, "--out", a, "--prompts", "instruct", "--shard", "1/3", "--limit", "2", "--max-tokens", "4", "--weights", "q8"]);
    expect(one.code, one.stderr).toBe(0);
    expect(readFileSync(a, "utf8").trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["instruct/1", "instruct/4"]);
    const zero = space(["distill", "--model", model, "--out", b, "--prompts", "instruct", "--shard", "0/3", "--limit", "2", "--max-tokens", "4"]);
    expect(readFileSync(b, "utf8").trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(["instruct/0", "instruct/3"]);
    expect(zero.code).toBe(0);
    for (const bad of ["3/3", "1/0", "x/2", "-1/2"]) {
      const r = space(["distill", "--model", model, "--out", join(dir, "never.jsonl"), "--shard", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/E_ARGS: --shard .*expected I\/N/);
    }
    expect(existsSync(join(dir, "never.jsonl"))).toBe(false);
  });

  it("train --init starts from the given adapter (lr 1e-12: exports it unchanged but for rounding) and refuses one of another shape", () => {
    const data = join(dir, "init.jsonl");
    writeFileSync(data, JSON.stringify({ id: "x", split: "train", prompt: [10, 20, 30], response: Array.from({ length: 20 }, (_, i) => 40 + ((i * 5) % 30)) }) + "\n");
    const args = (run: string, out: string, rank: string) => ["train", "--model", model, "--data", data, "--run-dir", join(dir, run), "--out", join(dir, out),
      "--init", adapter, "--k", "3", "--rank", rank, "--mask-token", "7", "--groups", "2", "--batch", "1", "--steps", "1", "--lr", "1e-12", "--warmup", "0", "--eval-every", "0", "--max-prefix", "64"];
    const t = space(args("init-run", "init.gguf", "2"));
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/starting from .*tiny-space\.gguf/);
    const want = decodeAdapter(new Uint8Array(readFileSync(adapter))), got = decodeAdapter(new Uint8Array(readFileSync(join(dir, "init.gguf"))));
    // Within a few f32 ulps (a fresh start differs wholesale: B = 0, mask embeddings = the mean embedding).
    const close = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])));
    expect(close(got.maskEmbd, want.maskEmbd)).toBe(true);
    expect([...got.lora.keys()]).toEqual([...want.lora.keys()]);
    for (const [name, m] of want.lora) {
      expect(m.some((v) => v !== 0), name).toBe(true); // trained, so unlike a fresh B
      expect(close(got.lora.get(name)!, m), name).toBe(true);
    }
    const bad = space(args("init-bad", "bad.gguf", "3"));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/E_ARGS: the initial adapter has rank 2, this run 3/);
    // The refused run recorded no settings: the same folder takes the corrected command.
    const retry = space(args("init-bad", "bad.gguf", "2"));
    expect(retry.code, retry.stderr).toBe(0);
  });

  it("train --prefix-weights q8 runs the prefix on q8 panels, records it in the run's config, and refuses to resume without it", () => {
    const data = join(dir, "pw.jsonl");
    writeFileSync(data, JSON.stringify({ id: "x", split: "train", prompt: [10, 20, 30], response: Array.from({ length: 20 }, (_, i) => 40 + ((i * 3) % 30)) }) + "\n");
    const args = (more: string[]) => ["train", "--model", model, "--data", data, "--run-dir", join(dir, "pw-run"), "--out", join(dir, "pw.gguf"),
      "--k", "3", "--rank", "2", "--groups", "2", "--batch", "1", "--steps", "2", "--warmup", "0", "--eval-every", "0", "--max-prefix", "64", ...more];
    const t = space(args(["--prefix-weights", "q8"]));
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "pw-run", "config.json"), "utf8")).prefixWeights).toBe("q8");
    const without = space(args([]));
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/E_ARGS: .* holds a run with other settings/);
    const bad = space(args(["--prefix-weights", "q5"]));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--prefix-weights/);
  });

  it("distils the user's own prompts from --prompts-file (JSONL), and refuses a malformed one naming the line", () => {
    const prompts = join(dir, "prompts.jsonl"), out = join(dir, "mine.jsonl");
    writeFileSync(prompts, ['{"message": "Say hello."}', "", '{"id": "q2", "message": "Count to three.", "split": "heldout"}'].join("\n") + "\n");
    const d = space(["distill", "--model", model, "--out", out, "--prompts-file", prompts, "--split", "all", "--max-tokens", "8"]);
    expect(d.code, d.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.split])).toEqual([["prompts/1", "train"], ["q2", "heldout"]]);
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"message": "ok"}\n{"text": "no message"}\n');
    const b = space(["distill", "--model", model, "--out", join(dir, "never.jsonl"), "--prompts-file", bad]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^space: E_ARGS: .*bad\.jsonl:2: unknown field "text"/);
    expect(existsSync(join(dir, "never.jsonl"))).toBe(false);
    const both = space(["distill", "--model", model, "--out", out, "--prompts-file", prompts, "--prompts", "instruct"]);
    expect(both.stderr).toMatch(/E_ARGS: --prompts-file replaces the built-in prompts: drop --prompts/);
  });
});

/**
 * The command line as a new user meets it: `--version`, `--help` on every command (and `space help
 * COMMAND`), `space info` stating the default configuration rule, and `space info --adapter` describing
 * an adapter (its base, k, rank, targets, mask) and whether --model is its base.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { encodeAdapter } from "../src/model/adapter.js";
import { defaultConfiguration } from "../src/node/defaults.js";
import { readGGUF } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";

const ROOT = join(__dirname, "..");
const BIN = join(ROOT, "bin", "space.mjs");
function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 120_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = ["generate", "info", "demo", "distill", "train", "bench", "cost", "verify", "golden", "serve", "web", "pull"];

describe("--version and --help", () => {
  it("--version prints the package's version", () => {
    const r = space(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version + "\n");
  });

  it("every command answers --help with its own usage, exit 0, and loads nothing", () => {
    for (const c of COMMANDS) {
      const r = space([c, "--help"]);
      expect(r.code, `${c}: ${r.stderr}`).toBe(0);
      expect(r.stderr, c).toBe("");
      expect(r.stdout, c).toMatch(new RegExp(`space ${c}\\b`));
      expect(r.stdout.length, c).toBeLessThan(6000); // its own usage, not the whole manual
    }
    expect(space(["help", "generate"]).stdout).toBe(space(["generate", "--help"]).stdout);
    expect(space(["generate", "--help"]).stdout).toMatch(/--decoder <ar\|space\|spec\|lookup>/);
    expect(space(["info", "--help"]).stdout).toMatch(/--adapter/);
  });

  it("refuses stray words on every command that takes only options", () => {
    for (const c of ["generate", "info", "demo", "distill", "train", "bench", "cost", "golden", "serve", "web"]) {
      const r = space([c, "stray"]);
      expect(r.code, `${c}: ${r.stderr}`).toBe(2);
      expect(r.stderr, c).toMatch(/^space: E_ARGS: .*\bstray\b/);
    }
  });

  it("refuses help on an unknown command, and stray words after --version", () => {
    const r = space(["help", "nonsense"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^space: E_ARGS: no command "nonsense"/);
    expect(space(["--version", "x"]).stderr).toMatch(/^space: E_ARGS: --version takes no arguments/);
  });
});

describe("the default configuration rule", () => {
  it("f32 panels when they fit in a quarter of memory, else as stored; every idle core from 16 MiB of weights", () => {
    const file = readGGUF(bytesSource("tiny.gguf", tinyModelBytes({ seed: 1 })));
    const big = { memory: 64 * 2 ** 30, cores: 8, load: 0 };
    expect(defaultConfiguration(file, big)).toMatchObject({ weights: "f32", threads: 1 }); // tiny: one thread
    expect(defaultConfiguration(file, { ...big, memory: 1024 }).weights).toBe("native"); // does not fit
    const large = { ...file, tensors: file.tensors.map((t) => ({ ...t, nElements: t.nElements * 1000, byteLength: t.byteLength * 1000 })) };
    expect(defaultConfiguration(large, big)).toMatchObject({ weights: "f32", threads: 8 });
    expect(defaultConfiguration(large, { ...big, load: 2.6 }).threads).toBe(5); // cores other work keeps busy are left to it
    expect(defaultConfiguration(large, { ...big, load: 20 }).threads).toBe(1);
  });

  it("space info states the rule and the lossy way to go faster; flags override it", () => {
    const r = JSON.parse(space(["info", "--json"]).stdout);
    expect(r.weights).toBe("f32");
    expect(r.threads).toBe(1);
    expect(r.default_configuration).toMatch(/^weights f32 \(exact; .* fits in a quarter of memory\), threads 1/);
    expect(r.faster).toMatch(/--weights q8 .* lossy/);
    const o = JSON.parse(space(["info", "--json", "--weights", "native", "--threads", "2"]).stdout);
    expect([o.weights, o.threads]).toEqual(["native", 2]);
  });
});

describe("space info --adapter", () => {
  let dir = "", model = "", other = "", adapter = "";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "space-cli-help-"));
    const bytes = tinyModelBytes({ seed: 9 });
    model = join(dir, "tiny.gguf");
    other = join(dir, "other.gguf");
    writeFileSync(model, bytes);
    writeFileSync(other, tinyModelBytes({ seed: 10 }));
    const e = await engineFromBytes(bytes);
    try {
      const t = new AdapterTrainer(e.core, e.arena, e.config, e.weights, {
        shape: { k: 3, rank: 2, targets: ["attn_q", "ffn_up"], maskToken: 7 }, maxPrefix: 64, maxMask: 12, lr: 1e-2, totalSteps: 1,
      });
      adapter = join(dir, "a.gguf");
      writeFileSync(adapter, encodeAdapter(t.model.data({ baseSha256: createHash("sha256").update(bytes).digest("hex"), baseName: "tiny.gguf" }), e.config));
    } finally {
      e.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("shows base, k, rank, targets and mask, and whether --model is the base", () => {
    const r = space(["info", "--json", "--model", model, "--adapter", adapter]);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout).adapter;
    expect(a).toMatchObject({ base: "tiny.gguf", base_is_model: true, k: 3, rank: 2, targets: ["attn_q", "ffn_up"], mask_token: 7, fits_model: true });
    expect(a.mask).toMatch(/^3 vectors/);
    const o = JSON.parse(space(["info", "--json", "--model", other, "--adapter", adapter]).stdout).adapter;
    expect(o.base_is_model).toBe(false);
    expect(o.why_not).toMatch(/load this adapter with its base/);
    const bad = space(["info", "--adapter", model]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^space: E_MODEL: /);
  });
});

/**
 * Bad input through the real `space` binary (bin/space.mjs over dist/, built by `npm test`): each case
 * gives one clear line on stderr, a non-zero exit, and with --json an {"error"} object on stdout.
 * Never a crash, a hang or a wrong answer.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML } from "../src/gguf/types.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let dir = "";
let good = "";

function space(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, timeout: 60_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-cli-"));
  good = file("tiny.gguf", tinyModelBytes({ seed: 9 }));
});

function expectError(r: ReturnType<typeof space>, code: string, pattern: RegExp) {
  expect(r.signal).toBeNull();
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
  expect(lines[0]).toMatch(pattern);
}

describe("space CLI: bad input", () => {
  it("a good tiny model generates (the baseline for the cases below)", () => {
    const r = space(["generate", "--model", good, "--prompt", "the cat", "--max-tokens", "5", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokens).toHaveLength(5);
    expect(out.stats.forward_passes).toBe(5);
  });

  const bytes = () => tinyModelBytes({ seed: 9 });
  const cases: { name: string; make: () => string[]; code: string; pattern: RegExp }[] = [
    { name: "missing file", make: () => ["--model", join(dir, "nope.gguf")], code: "E_IO", pattern: /nope\.gguf/ },
    { name: "truncated GGUF", make: () => ["--model", file("trunc.gguf", bytes().subarray(0, 1000))], code: "E_GGUF", pattern: /trunc\.gguf/ },
    { name: "truncated tensor data", make: () => ["--model", file("trunc2.gguf", bytes().subarray(0, bytes().length - 100))], code: "E_GGUF", pattern: /trunc2\.gguf/ },
    { name: "wrong magic", make: () => { const b = bytes(); b[0] = 0x58; return ["--model", file("magic.gguf", b)]; }, code: "E_GGUF", pattern: /magic/i },
    { name: "empty file", make: () => ["--model", file("empty.gguf", new Uint8Array(0))], code: "E_GGUF", pattern: /empty\.gguf/ },
    { name: "unsupported tensor type", make: () => ["--model", file("iq.gguf", tinyModelBytes({ seed: 9, matrixType: GGML.Q5_0 }))], code: "E_UNSUPPORTED", pattern: /Q5_0/ },
    { name: "negative max tokens", make: () => ["--model", good, "--max-tokens", "-3"], code: "E_ARGS", pattern: /max-tokens/ },
    { name: "temperature not a number", make: () => ["--model", good, "--temperature", "hot"], code: "E_ARGS", pattern: /temperature/ },
    { name: "absurd top-p", make: () => ["--model", good, "--temperature", "1", "--top-p", "7"], code: "E_ARGS", pattern: /top-p/ },
    { name: "absurd threads", make: () => ["--model", good, "--threads", "100000"], code: "E_ARGS", pattern: /threads/ },
    { name: "unknown option", make: () => ["--model", good, "--frobnicate"], code: "E_ARGS", pattern: /frobnicate/ },
    { name: "prompt longer than the context", make: () => ["--model", good, "--prompt", "a b c d e f g h i j k l m n o p", "--ctx", "8"], code: "E_CONTEXT", pattern: /context/ },
    { name: "context larger than the model's", make: () => ["--model", good, "--ctx", "100000"], code: "E_CONTEXT", pattern: /context/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const args = c.make();
      const withPrompt = args.includes("--prompt") ? args : [...args, "--prompt", "hello"];
      expectError(space(["generate", ...withPrompt]), c.code, c.pattern);
      const j = space(["generate", ...withPrompt, "--json"]);
      expect(JSON.parse(j.stdout).error.code).toBe(c.code);
    });
  }

  it("invalid UTF-8 in a prompt file", () => {
    const p = file("bad.txt", Uint8Array.from([0x68, 0x69, 0xff, 0x21]));
    expectError(space(["generate", "--model", good, "--prompt-file", p]), "E_UTF8", /byte 2/);
  });

  it("invalid UTF-8 on standard input", () => {
    expectError(space(["generate", "--model", good, "--prompt-file", "-"], Uint8Array.from([0xe2, 0x82])), "E_UTF8", /standard input/);
  });

  it("unknown command", () => {
    expectError(space(["frobnicate"]), "E_ARGS", /frobnicate/);
  });
});

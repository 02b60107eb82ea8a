/**
 * The CLI without --model uses the embedded model, and takes the mask and k for --decoder space from
 * its metadata; `space demo` shows AR and SPACE giving the same text, tau and the speedup.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const BIN = join(__dirname, "..", "bin", "space.mjs");

function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 60_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the embedded default model in the CLI", () => {
  it("generate --decoder space needs no --model, --mask-token or --k, and gives AR's tokens", () => {
    const base = ["generate", "--prompt", "interface ArrayConstructor {\n", "--max-tokens", "32", "--json"];
    const ar = space([...base, "--decoder", "ar"]);
    const sp = space([...base, "--decoder", "space"]);
    expect(ar.stderr).toBe("");
    expect(sp.stderr).toBe("");
    const a = JSON.parse(ar.stdout), s = JSON.parse(sp.stdout);
    expect(s.tokens).toEqual(a.tokens);
    expect(s.tokens.length).toBe(32);
    expect(a.tokens).not.toContain(1); // the mask is never emitted
    expect(s.stats.tokens_per_forward).toBeGreaterThan(1);
  });

  it("demo prints both texts, identical, tau and the speedup", () => {
    const r = space(["demo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/space-tiny\.gguf/);
    expect(r.stdout).toMatch(/\nar:\n[\s\S]*\nspace:\n/);
    expect(r.stdout).toMatch(/identical: yes/);
    expect(r.stdout).toMatch(/tau: ar 1\.00, space \d+\.\d\d/);
    expect(r.stdout).toMatch(/speedup \d+\.\d\dx/);
  });
});

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

  it("demo names its prompt rule and both layouts, with tau, steps, speed against AR and identical output", () => {
    const r = space(["demo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/space-tiny\.gguf/);
    expect(r.stdout).toMatch(/held-out snippet of median tau/);
    expect(r.stdout).toMatch(/\nar:\n[\s\S]*\nspace:\n/);
    for (const layout of [/space, full layout \(the paper's: 25-row blocks\)/, /space, layout auto \(the cost model\)/]) {
      const line = r.stdout.split("\n").find((l) => layout.test(l));
      expect(line, String(layout)).toBeDefined();
      expect(line).toMatch(/tau \d+\.\d\d \(64 tokens in \d+ forward passes; AR: 64\)/);
      expect(line).toMatch(/: \d+\.\d\dx AR/);
      expect(line).toMatch(/output identical to AR's/);
    }
    // The paper's layout on the median prompt: tau well above 1 (the method works), whatever it costs here.
    const tau = Number(/full layout[^\n]*tau (\d+\.\d\d)/.exec(r.stdout)?.[1]);
    expect(tau).toBeGreaterThan(1.8);
    expect(r.stdout).toMatch(/why: on this CPU a 25-row block costs \d+\.\dx AR's one row/);
  });
});

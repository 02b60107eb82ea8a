/**
 * `space generate --show-steps`: the output with the tokens from accepted candidates marked. Through the
 * real binary on the embedded model (which accepts candidates): without its marks the output is exactly
 * plain `space generate`'s, the marked tokens are those the --trace file says were accepted, and the
 * summary lists each step's accepted count. markedText's edge cases (stop strings, an end token,
 * characters split across tokens) are checked on a made-up vocabulary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PLAIN_MARKS, acceptedFlags, markedText } from "../src/cli/show-steps.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
const PROMPT = ["--prompt", "interface PromiseLike<T> {", "--max-tokens", "40", "--decoder", "space", "--simd", "plain"];
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-show-steps-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, "generate", ...args], { timeout: 60_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("space generate --show-steps", () => {
  it("marks exactly the tokens from accepted candidates; the text is plain generate's", () => {
    const plain = space(PROMPT);
    expect(plain.code, plain.stderr).toBe(0);
    const tracePath = join(dir, "t.jsonl");
    const shown = space([...PROMPT, "--show-steps", "--trace", tracePath]);
    expect(shown.code, shown.stderr).toBe(0);
    const unmarked = shown.stdout.replace(/[\u27e6\u27e7]/g, "");
    expect(unmarked).toBe(plain.stdout);
    const steps = readFileSync(tracePath, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((x) => "step" in x);
    expect(steps.some((s) => s.accepted > 0)).toBe(true);
    expect(shown.stdout).toContain("\u27e6");
    expect(shown.stderr).toContain(`accepted per step: ${steps.map((s) => s.accepted).join(" ")}`);
    expect(shown.stderr).toMatch(new RegExp(`space: ${steps.length} steps, 40 tokens \\(\\d+ from accepted candidates\\)`));
  });
  it("refuses --json", () => {
    const r = space([...PROMPT, "--show-steps", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^space: E_ARGS: --show-steps prints marked text: drop --json/);
  });
});

describe("markedText", () => {
  // Token i's text is VOCAB[i]; 9 ends generation (no text); 7 and 8 are the two bytes of "é".
  const VOCAB = ["a", "b", "c", "d", "STOP", "", "", "\xc3", "\xa9", ""];
  const detok = (ids: readonly number[]) => {
    const bytes = ids.flatMap((id) => (id === 9 ? [] : Array.from(VOCAB[id], (ch) => ch.charCodeAt(0))));
    return new TextDecoder().decode(new Uint8Array(bytes));
  };
  const M = { open: "[", close: "]" };
  it("marks runs of accepted tokens, across steps", () => {
    const steps = [{ accepted: 0, emitted: [0] }, { accepted: 2, emitted: [1, 2, 3] }, { accepted: 1, emitted: [0, 1] }];
    expect(markedText([0, 1, 2, 3, 0, 1], steps, "abcdab", detok, M)).toBe("a[bc]d[a]b");
  });
  it("ends where the output ended: a stop string cut inside a step, an end-of-generation token", () => {
    const steps = [{ accepted: 0, emitted: [0] }, { accepted: 3, emitted: [1, 4, 2, 3] }];
    expect(markedText([0, 1, 4, 2, 3], steps, "ab", detok, M)).toBe("a[b]");
    expect(markedText([0, 1, 9], [{ accepted: 0, emitted: [0] }, { accepted: 2, emitted: [1, 9] }], "ab", detok, M)).toBe("a[b]");
  });
  it("keeps a character split across tokens whole", () => {
    const steps = [{ accepted: 0, emitted: [0] }, { accepted: 1, emitted: [7, 8] }];
    // Token 7 (accepted) has no whole character yet; the é appears with token 8, which was not accepted.
    expect(markedText([0, 7, 8], steps, "aé", detok, PLAIN_MARKS)).toBe("aé");
    expect(markedText([0, 7, 8], [{ accepted: 0, emitted: [0] }, { accepted: 2, emitted: [7, 8] }], "aé", detok, PLAIN_MARKS)).toBe("a\u27e6é\u27e7");
    expect(acceptedFlags(steps, 3)).toEqual([false, true, false]);
  });
});

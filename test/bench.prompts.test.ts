/**
 * One wording for HumanEval-X: the bench times exactly the prompts `space distill` trains on (the same id,
 * user message and ChatML token ids for the same problem), read from a small fixture in the data set's
 * format (the real files stay outside the repository).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchPrompts, heldOutProblems } from "../src/bench/prompts.js";
import { humanEvalPrompts } from "../src/node/prompts.js";
import { HUMANEVAL_LANGUAGES, type HumanEvalLanguage } from "../src/train/prompts.js";
import { userPromptIds } from "../src/tokenizer/chat.js";
import { syntheticTokenizer } from "./helpers/synthetic-tokenizer.js";

/** HumanEval-X task-id prefixes, as in the data set's files. */
const PREFIX: Record<HumanEvalLanguage, string> = { python: "Python", cpp: "CPP", java: "Java", js: "JavaScript", go: "Go", rust: "Rust" };
const PROBLEMS = [3, 119, 120, 142, 163]; // training, last training, first held-out, the 1-problem pick, last held-out

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-humaneval-"));
  for (const lang of HUMANEVAL_LANGUAGES) {
    const rows = PROBLEMS.map((n) => JSON.stringify({ task_id: `${PREFIX[lang]}/${n}`, prompt: `// ${lang} problem ${n}\nfn f${n}(x) {\n` }));
    writeFileSync(join(dir, `humaneval_${lang}.jsonl.gz`), gzipSync(rows.join("\n") + "\n"));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("benchPrompts and humanEvalPrompts", () => {
  const tok = syntheticTokenizer();

  it("give the same id, message and token ids for the same problem, in every language", () => {
    const bench = benchPrompts(tok, dir, { problems: 3, chat: 0 });
    expect(heldOutProblems(3)).toEqual([127, 142, 156]); // 127 and 156 are not in the fixture: a warning each
    expect(bench.warnings).toHaveLength(6 * 2);
    const distill = new Map(humanEvalPrompts(dir).map((p) => [p.id, p]));
    const present = bench.prompts.map((p) => p.id);
    expect(present).toEqual(HUMANEVAL_LANGUAGES.map((lang) => `humaneval-x/${lang}/142`));
    for (const p of bench.prompts) {
      const d = distill.get(p.id)!;
      expect(d.split).toBe("heldout");
      expect(p.text).toBe(d.message);
      expect(p.ids).toEqual(userPromptIds(tok, d.message)); // what `space distill` feeds the model
      expect(p.group).toBe(p.id.split("/")[1]);
    }
  });

  it("use the distill wording (language name and fence)", () => {
    const [js] = benchPrompts(tok, dir, { problems: 1, chat: 0 }).prompts.filter((p) => p.group === "js");
    expect(js.text).toBe("Complete the following JavaScript function.\n\n```javascript\n// js problem 142\nfn f142(x) {\n```");
  });

  it("report the held-out problems it could not find, and a missing language, as warnings", () => {
    const bench = benchPrompts(tok, dir, { problems: 44, chat: 1 });
    expect(bench.prompts.filter((p) => p.source === "humaneval-x")).toHaveLength(6 * 3); // 120, 142, 163
    expect(bench.prompts.at(-1)).toMatchObject({ source: "chat", group: "chat" });
    expect(bench.warnings).toHaveLength(6 * 41);
    rmSync(join(dir, "humaneval_go.jsonl.gz"));
    try {
      const without = benchPrompts(tok, dir, { problems: 1, chat: 0 });
      expect(without.prompts.map((p) => p.group)).not.toContain("go");
      expect(without.warnings.join("\n")).toMatch(/humaneval_go\.jsonl\.gz not found/);
      expect(() => humanEvalPrompts(dir)).toThrow(/not found/); // distill refuses a partial data set
    } finally {
      const rows = PROBLEMS.map((n) => JSON.stringify({ task_id: `Go/${n}`, prompt: `// go problem ${n}\nfn f${n}(x) {\n` }));
      writeFileSync(join(dir, "humaneval_go.jsonl.gz"), gzipSync(rows.join("\n") + "\n"));
    }
  });
});

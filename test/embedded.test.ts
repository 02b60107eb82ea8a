/**
 * Floors of the embedded default model (models/space-tiny.gguf, scripts/train-embedded.ts): its
 * metadata carries the mask and k, and on prompts from the held-out files of its corpus SPACE emits
 * exactly AR's tokens with tau >= 1.8.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadEngine } from "../src/node/engine.js";
import { embeddedCorpus, embeddedModelPath, snippets } from "../src/node/embedded.js";
import { spaceMetadata } from "../src/cli/demo.js";
import { compareArSpace } from "../src/decode/compare.js";
import type { Engine } from "../src/engine.js";

let engine: Engine;
beforeAll(async () => {
  engine = await loadEngine(embeddedModelPath(), { simd: "auto" });
});
afterAll(() => engine?.close());

describe("the embedded model", () => {
  it("is a small llama with its mask token and k in metadata; the mask is a control token, not end-of-generation", () => {
    expect(engine.config.arch).toBe("llama");
    const meta = spaceMetadata(engine);
    expect(meta).toEqual({ maskToken: 1, k: 4 });
    expect(engine.tokenizer.tokenText(1)).toBe("[MASK]");
    expect(engine.tokenizer.isSpecial(1)).toBe(true);
    expect(engine.tokenizer.eogTokens.has(1)).toBe(false);
  });

  it("SPACE = AR on held-out prompts, tau >= 1.8", async () => {
    // The protocol of RECIPE.eval in scripts/train-embedded.ts: 12 held-out snippets, 64 tokens each.
    const { maskToken, k } = spaceMetadata(engine);
    const prompts = snippets(embeddedCorpus().heldOut, 12, 120);
    let emitted = 0, steps = 0;
    for (const text of prompts) {
      const c = await compareArSpace(engine, engine.tokenizer.encode(text), { k: k!, maskToken: maskToken!, maxTokens: 64 });
      expect(c.space.tokens, text).toEqual(c.ar.tokens);
      expect(c.ar.tokens).not.toContain(maskToken);
      emitted += c.space.tokens.length;
      steps += c.space.stats.forward_passes;
      taus.push(c.tau);
    }
    expect(emitted / steps).toBeGreaterThanOrEqual(1.8);
  });
});

/** Each held-out snippet's tau, from the test above (same protocol as the demo's rule). */
const taus: number[] = [];

describe("the demo prompt", () => {
  it("is the held-out snippet whose tau is the lower median of the 12 (the rule in src/cli/demo.ts)", async () => {
    const { DEMO_PROMPT } = await import("../src/cli/demo.js");
    expect(taus).toHaveLength(12);
    const lowerMedian = [...taus].sort((a, b) => a - b)[5];
    const prompts = snippets(embeddedCorpus().heldOut, 12, 120);
    const i = prompts.indexOf(DEMO_PROMPT);
    expect(i, "DEMO_PROMPT is one of the held-out snippets").toBeGreaterThanOrEqual(0);
    expect(taus[i]).toBe(lowerMedian);
  });
});

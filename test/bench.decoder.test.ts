/**
 * The shared decoder builder (src/decode/decoders.ts) through the bench's contract (ourDecoder): every
 * decoder emits exactly n tokens, AR's tokens, and reports tau and the block widths of its decode steps.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { bannedIds, type DecoderSpec } from "../src/decode/decoders.js";
import { LEAN_LAYOUT } from "../src/decode/space.js";
import { autoSpace } from "../src/decode/costmodel.js";
import { ourDecoder } from "../src/bench/decoder.js";
import { tinyEngine } from "./helpers/engine.js";

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 9 });
});
afterAll(() => engine.close());

const MASK = 141;

describe("ourDecoder over buildDecoder", () => {
  it("ar, space (full, lean, auto), spec and lookup give AR's n tokens; tau and step widths add up", async () => {
    const prompt = engine.tokenizer.encode("the cat sat on the mat, the cat sat");
    const banned = new Set([...engine.tokenizer.eogTokens, ...bannedIds(engine, MASK)]);
    const n = 20;
    const specs: DecoderSpec[] = [
      { kind: "ar", k: 1 },
      { kind: "space", k: 3, mask: { token: MASK } },
      { kind: "space", k: 2, mask: { token: MASK }, layout: LEAN_LAYOUT },
      { kind: "space", k: 3, mask: { token: MASK }, auto: autoSpace(engine, 3) }, // the bench's --layout auto
      { kind: "spec", k: 3, draftLayers: 1 },
      { kind: "lookup", k: 4 },
    ];
    const results = [];
    for (const spec of specs) {
      const d = ourDecoder(engine, spec, banned, prompt.length + n + 8);
      try {
        results.push(await d.run(prompt, n));
        results.push(await d.run(prompt, n)); // a second run starts from a fresh sequence
      } finally {
        d.dispose();
      }
    }
    for (const r of results) {
      expect(r.tokens).toEqual(results[0].tokens);
      expect(r.generated).toBe(n);
      const steps = Object.values(r.step_rows!).reduce((a, b) => a + b, 0);
      expect(steps).toBe(r.decode_steps);
      expect(r.tau).toBeCloseTo((n - 1) / r.decode_steps, 12);
    }
    expect(results[0].step_rows).toEqual({ 1: n - 1 }); // AR: one row per step
    expect(Object.keys(results[2].step_rows!).map(Number).every((T) => T === 1 + 3 * 5 || T === 1 + 3)).toBe(true); // full, k = 3: 1 + k(k+2), or 1 + k without candidates
  });

  it("refuses a mask outside the vocabulary or one that ends generation", () => {
    expect(() => bannedIds(engine, engine.config.vocabSize)).toThrow(/outside the vocabulary/);
    expect(() => bannedIds(engine, [...engine.tokenizer.eogTokens][0])).toThrow(/end-of-generation/);
    expect(bannedIds(engine, undefined).size).toBe(0);
  });
});

/**
 * Real-model tier for the decoders: SmolLM2-135M-Instruct (GGUF Q4_1). Fails (does not skip) when the
 * model is missing: run `npm run fetch-models`.
 *
 * On a handful of prompts, in one run, with one engine: every decoder emits exactly AR's greedy tokens;
 *  - space with an untrained mask (<empty_output>, id 16): tau near 1 is expected until issue "SAR-SFT"
 *    trains the mask;
 *  - lookup: tau > 1 on a prompt that repeats text;
 *  - spec with a truncated draft (the first 25 of 30 layers + the output head): tau > 1.
 * Prints tau and tokens/s per decoder and prompt (the closing table of issue 3).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import type { Engine } from "../../src/engine.js";
import { loadEngine, SMOLLM2_PATH } from "../../src/node/engine.js";
import { generate, type GenerateResult } from "../../src/decode/generate.js";
import { ArProposer, type Proposer } from "../../src/decode/proposer.js";
import { SpaceProposer, LEAN_LAYOUT } from "../../src/decode/space.js";
import { LookupProposer } from "../../src/decode/lookup.js";
import { SpecProposer } from "../../src/decode/spec.js";
import { userPromptIds } from "../../src/tokenizer/chat.js";

const N = 40; // tokens per prompt
const MASK = 16; // <empty_output>: a special token SmolLM2 never needs to emit
const DRAFT_LAYERS = 25;

const PROMPTS: { name: string; chat?: string; raw?: string }[] = [
  { name: "code (chat)", chat: "Write a Python function that returns the n-th Fibonacci number." },
  { name: "explain (chat)", chat: "Explain photosynthesis in two sentences." },
  {
    name: "repeat (chat)",
    chat: "Repeat the following text exactly, twice: The quick brown fox jumps over the lazy dog while the cat sleeps on the warm windowsill.",
  },
  { name: "code (raw)", raw: "def quicksort(arr):\n" },
];

type Make = (contextTokens: number) => { proposer: Proposer; dispose?: () => void };

let engine: Engine;
const makers: Record<string, Make> = {
  ar: () => ({ proposer: new ArProposer() }),
  "space k=3": () => ({ proposer: new SpaceProposer({ k: 3, mask: { token: MASK }, vocabSize: engine.config.vocabSize }) }),
  "space k=3 lean": () => ({ proposer: new SpaceProposer({ k: 3, mask: { token: MASK }, layout: LEAN_LAYOUT, vocabSize: engine.config.vocabSize }) }),
  "lookup k=5": () => ({ proposer: new LookupProposer({ k: 5 }) }),
  [`spec k=3 (${DRAFT_LAYERS}-layer draft)`]: (contextTokens) => {
    const draft = engine.newContext(contextTokens, 3, { layers: DRAFT_LAYERS });
    return {
      proposer: new SpecProposer({ k: 3, draft, vocabSize: engine.config.vocabSize, stopAt: engine.tokenizer.eogTokens }),
      dispose: () => draft.dispose(),
    };
  },
};
const results = new Map<string, Map<string, GenerateResult>>(); // prompt -> decoder -> result

beforeAll(async () => {
  if (!existsSync(SMOLLM2_PATH)) throw new Error(`${SMOLLM2_PATH} is missing: run \`npm run fetch-models\``);
  engine = await loadEngine(SMOLLM2_PATH, { simd: "auto", threads: 1 });
  const tok = engine.tokenizer;
  for (const p of PROMPTS) {
    const ids = p.chat !== undefined ? userPromptIds(tok, p.chat) : tok.encode(p.raw!);
    const byDecoder = new Map<string, GenerateResult>();
    for (const [name, make] of Object.entries(makers)) {
      const contextTokens = ids.length + N;
      const { proposer, dispose } = make(contextTokens);
      const ctx = engine.newContext(contextTokens, proposer.maxExtraRows);
      byDecoder.set(name, await generate(ctx, ids, proposer, { maxTokens: N, banned: new Set([MASK]) }));
      ctx.dispose();
      dispose?.();
    }
    results.set(p.name, byDecoder);
  }
  printTable();
});
afterAll(() => engine?.close());

function printTable() {
  const names = Object.keys(makers);
  const lines = [`SmolLM2-135M-Instruct Q4_1, ${engine.core.build} SIMD build, 1 thread, greedy, ${N} tokens per prompt; tau / tokens per second (after the first step)`];
  lines.push(["prompt", ...names].join(" | "));
  for (const [prompt, byDecoder] of results) {
    lines.push([prompt, ...names.map((n) => `${byDecoder.get(n)!.stats.tokens_per_forward.toFixed(2)} / ${byDecoder.get(n)!.stats.tokens_per_second.toFixed(1)}`)].join(" | "));
  }
  console.log(lines.join("\n"));
}

const tau = (name: string, prompts = PROMPTS.map((p) => p.name)) => {
  let tokens = 0;
  let steps = 0;
  for (const p of prompts) {
    const r = results.get(p)!.get(name)!;
    tokens += r.tokens.length;
    steps += r.stats.forward_passes;
  }
  return tokens / steps;
};

describe("decoders on SmolLM2-135M-Instruct", () => {
  it("every decoder emits exactly AR's greedy tokens on every prompt", () => {
    for (const [prompt, byDecoder] of results) {
      const want = byDecoder.get("ar")!;
      expect(want.tokens.length, prompt).toBeGreaterThan(10);
      for (const [name, r] of byDecoder) {
        expect(r.tokens, `${name} on ${prompt}`).toEqual(want.tokens);
        expect(r.stopReason, `${name} on ${prompt}`).toBe(want.stopReason);
      }
    }
  });

  it("space with an untrained mask: lossless, tau >= 1 (near 1 until the mask is trained)", () => {
    expect(tau("space k=3")).toBeGreaterThanOrEqual(1);
    expect(tau("space k=3 lean")).toBeGreaterThanOrEqual(1);
  });

  it("lookup: tau > 1 on the prompt that repeats text", () => {
    expect(tau("lookup k=5", ["repeat (chat)"])).toBeGreaterThan(1.5);
  });

  it(`spec with the first ${DRAFT_LAYERS} layers as the draft: tau > 1`, () => {
    expect(tau(`spec k=3 (${DRAFT_LAYERS}-layer draft)`)).toBeGreaterThan(1);
  });
});

/** The generate loop on tiny random models: stopping, streaming, sampling reproducibility, abort. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateOptions } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { tinyEngine } from "./helpers/engine.js";
import { chainBlock } from "../src/decode/block.js";
import { SpaceError } from "../src/errors.js";
import { literalOrder } from "./helpers/reference-sampling.js";
import { argmax } from "../src/decode/sampling.js";
import { SpaceProposer } from "../src/decode/space.js";

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 21 });
});
afterAll(() => engine.close());

const PROMPT = [40, 41, 42, 43];
// A random model hits end-of-generation early; most cases here want long outputs.
const SPECIALS = new Set([0, 1, 2]);

async function run(opts: Partial<GenerateOptions> & { maxTokens: number }, prompt = PROMPT) {
  const ctx = engine.newContext(prompt.length + opts.maxTokens, 0);
  try {
    return await generate(ctx, prompt, new ArProposer(), { banned: SPECIALS, ...opts });
  } finally {
    ctx.dispose();
  }
}

describe("generate (AR)", () => {
  it("greedy is deterministic and tau is exactly 1", async () => {
    const a = await run({ maxTokens: 20 });
    const b = await run({ maxTokens: 20 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.stats.forward_passes).toBe(a.tokens.length);
    expect(a.stats.tokens_per_forward).toBe(1);
  });

  it("streamed text equals the final text and the decoded tokens", async () => {
    let streamed = "";
    const r = await run({ maxTokens: 30, onText: (t) => (streamed += t) });
    expect(streamed).toBe(r.text);
    expect(r.text).toBe(engine.tokenizer.decode(r.tokens.filter((t) => !engine.tokenizer.eogTokens.has(t))));
  });

  it("a seed reproduces a sampled output; another seed changes it", async () => {
    const sampling = { temperature: 1, topK: 0, topP: 1 };
    const a = await run({ maxTokens: 24, sampling, seed: 5 });
    const b = await run({ maxTokens: 24, sampling, seed: 5 });
    const c = await run({ maxTokens: 24, sampling, seed: 6 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
  });

  it("sampling sorts and weighs each row in the core (Forward.descendingOrder, logitWeights, logitTotal): the tokens of the rule as written", async () => {
    // Temperature only: every row sorted and weighed whole; top-p: the nucleus by selection's total first.
    for (const [sampling, calls] of [[{ temperature: 1.5, topK: 0, topP: 1 }, [1, 1, 0]], [{ temperature: 0.8, topK: 0, topP: 0.9 }, [0, 0, 1]]] as const) {
      const ctx = engine.newContext(PROMPT.length + 24, 0);
      try {
        const f = ctx.forward, counts = [0, 0, 0];
        const order = f.descendingOrder.bind(f), weigh = f.logitWeights.bind(f), total = f.logitTotal.bind(f);
        f.descendingOrder = (...a) => (counts[0]++, order(...a));
        f.logitWeights = (...a) => (counts[1]++, weigh(...a));
        f.logitTotal = (...a) => (counts[2]++, total(...a));
        const fast = await generate(ctx, PROMPT, new ArProposer(), { banned: SPECIALS, sampling, seed: 9, maxTokens: 24 });
        // Per sampled token: at least the sweeps this road needs (the selection road may fall back to the sort).
        calls.forEach((c, i) => expect(counts[i]).toBeGreaterThanOrEqual(c * fast.tokens.length));
        // The rule as written: eligible ids by a comparator sort (descending logit, ties to the lower id),
        // weights through Math.exp, totals summed in order.
        f.descendingOrder = (_ws, row, banned, floor) => Int32Array.from(literalOrder(row, floor, (i) => banned?.has(i) ?? false));
        f.logitWeights = (_ws, row, ids, max, temperature) => {
          const weights = Float64Array.from(ids, (id) => Math.exp((row[id] - max) / temperature));
          return { weights, total: weights.reduce((a, b) => a + b, 0) };
        };
        f.logitTotal = (_ws, row, floor, max, temperature) => row.reduce((t, v) => (v >= floor && v <= max ? t + Math.exp((v - max) / temperature) : t), 0);
        ctx.cache.truncate(0);
        const literal = await generate(ctx, PROMPT, new ArProposer(), { banned: SPECIALS, sampling, seed: 9, maxTokens: 24 });
        expect(literal.tokens).toEqual(fast.tokens);
      } finally {
        ctx.dispose();
      }
    }
  });

  it("greedy decoding picks each token by the core's argmax (Forward.argmax), verifying and proposing: the tokens of the rule as written", async () => {
    const V = engine.config.vocabSize;
    const decoders = [() => new ArProposer(), () => new SpaceProposer({ k: 3, mask: { token: 3 }, vocabSize: V })];
    for (const make of decoders) {
      const ctx = engine.newContext(PROMPT.length + 40, make().maxExtraRows);
      try {
        const f = ctx.forward, pick = f.argmax.bind(f);
        let calls = 0;
        f.argmax = (...a) => (calls++, pick(...a));
        const fast = await generate(ctx, PROMPT, make(), { banned: SPECIALS, maxTokens: 24 });
        expect(calls).toBeGreaterThanOrEqual(fast.stats.forward_passes);
        // The rule as written (sampling.ts's loop) in its place.
        f.argmax = (_ws, row, banned) => argmax(row, banned);
        ctx.cache.truncate(0);
        const literal = await generate(ctx, PROMPT, make(), { banned: SPECIALS, maxTokens: 24 });
        expect(literal.tokens).toEqual(fast.tokens);
      } finally {
        ctx.dispose();
      }
    }
  });

  it("Forward.argmax: a row in the core's memory or a copy, ties, NaN, banned ids (the maximum's holder among them); every logit -inf is E_MODEL, a row of the wrong size E_ARGS", () => {
    const ctx = engine.newContext(8, 0);
    try {
      const V = engine.config.vocabSize;
      const inCore = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, PROMPT, [PROMPT.length - 1]));
      const copy = inCore.slice();
      const top = argmax(copy);
      copy[top + 1] = copy[top]; // a tie after the maximum's holder
      copy[0] = NaN;
      // An order a caller still reads (a view into the workspace) survives argmax's banned list.
      const order = ctx.forward.descendingOrder(ctx.ws, inCore, undefined, -Infinity);
      const before = order.slice();
      for (const [row, banned] of [[inCore, undefined], [copy, new Set<number>()], [copy, new Set([top, V + 4])], [copy, new Set([top, top + 1])]] as const) {
        expect(ctx.forward.argmax(ctx.ws, row, banned)).toBe(argmax(row, banned));
      }
      expect(order).toEqual(before);
      expect(() => ctx.forward.argmax(ctx.ws, new Float32Array(V).fill(-Infinity), undefined)).toThrow(SpaceError);
      expect(() => ctx.forward.argmax(ctx.ws, new Float32Array(V - 1), undefined)).toThrow(SpaceError);
    } finally {
      ctx.dispose();
    }
  });

  it("Forward.descendingOrder, logitWeights and logitTotal: rows and ids in the core's memory and outside it, banned ids, a floor; a row of the wrong size or an id outside it is E_ARGS", () => {
    const ctx = engine.newContext(8, 0);
    try {
      const V = engine.config.vocabSize;
      const inCore = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, PROMPT, [PROMPT.length - 1]));
      const copy = inCore.slice();
      copy[7] = copy[3]; // a tie: id 3 before id 7
      for (const [row, banned, floor] of [[inCore, undefined, -Infinity], [copy, new Set([3, 5, V + 4]), -Infinity], [copy, new Set<number>(), 0.25]] as const) {
        const want = literalOrder(row, floor, (i) => banned?.has(i) ?? false);
        expect(Array.from(ctx.forward.descendingOrder(ctx.ws, row, banned, floor))).toEqual(want);
      }
      expect(() => ctx.forward.descendingOrder(ctx.ws, new Float32Array(V - 1), undefined, -Infinity)).toThrow(SpaceError);
      // Weights: ids in the core's memory (an order) or outside it, a row in memory or a copy.
      const ids = ctx.forward.descendingOrder(ctx.ws, inCore, undefined, -Infinity).slice(0, 50);
      for (const [row, list] of [[inCore, ids], [copy, Int32Array.from(ids).reverse()]] as const) {
        const max = row[list[0]];
        const want = Float64Array.from(list, (id) => Math.exp((row[id] - max) / 0.7));
        const got = ctx.forward.logitWeights(ctx.ws, row, list, max, 0.7);
        expect(Array.from(got.weights)).toEqual(Array.from(want));
        expect(got.total).toBe(want.reduce((a, b) => a + b, 0));
      }
      expect(() => ctx.forward.logitWeights(ctx.ws, copy, Int32Array.of(0, V), 0, 1)).toThrow(SpaceError);
      // The selection road's total: the ids in [floor, max], in id order, NaN never.
      copy[9] = NaN;
      const max = Math.max(...copy.filter((v) => !Number.isNaN(v))), floor = max - 3;
      const want = copy.reduce((t, v) => (v >= floor && v <= max ? t + Math.exp((v - max) / 0.9) : t), 0);
      expect(ctx.forward.logitTotal(ctx.ws, copy, floor, max, 0.9)).toBe(want);
    } finally {
      ctx.dispose();
    }
  });

  it("stops at a stop string, before it, and reports why", async () => {
    const full = await run({ maxTokens: 30 });
    const stop = full.text.slice(5, 8);
    const r = await run({ maxTokens: 30, stop: [stop] });
    expect(r.stopReason).toBe("stop");
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it("honours max tokens, including 0", async () => {
    expect((await run({ maxTokens: 7 })).tokens).toHaveLength(7);
    const none = await run({ maxTokens: 0 });
    expect(none.tokens).toEqual([]);
    expect(none.stopReason).toBe("max_tokens");
  });

  it("an AbortSignal ends generation between steps", async () => {
    const controller = new AbortController();
    let steps = 0;
    const r = await run({
      maxTokens: 50,
      yieldEvery: () => {
        if (++steps === 3) controller.abort();
      },
      signal: controller.signal,
    });
    expect(r.stopReason).toBe("abort");
    expect(r.tokens).toHaveLength(3);
  });

  it("banned ids are never emitted", async () => {
    const free = await run({ maxTokens: 10 });
    const banned = new Set([...SPECIALS, free.tokens[0]]);
    const r = await run({ maxTokens: 10, banned });
    expect(r.tokens).not.toContain(free.tokens[0]);
  });

  it("a long prompt is prefilled in chunks with the same result as the tokens one by one", async () => {
    const long = Array.from({ length: 150 }, (_, i) => 3 + ((i * 7) % 250));
    const r = await run({ maxTokens: 5 }, long);
    expect(r.stats.prefill_passes).toBe(2); // 64 + 64 in chunks, the last 22 with the first step
    // Reference: feed the prompt as AR would, token by token, through the cache.
    const ctx = engine.newContext(long.length + 5, 0);
    const { chainBlock, range } = await import("../src/decode/block.js");
    const { argmax } = await import("../src/decode/sampling.js");
    let last = new Float32Array(0);
    for (const t of long) {
      last = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, [t], [0])).slice();
      ctx.cache.commit(range(0, 1));
    }
    expect(argmax(last)).toBe(r.tokens[0]);
    ctx.dispose();
  });

  it("a prompt that does not fit the context is an E_CONTEXT error", async () => {
    const ctx = engine.newContext(8, 0);
    await expect(generate(ctx, Array.from({ length: 9 }, () => 5), new ArProposer(), { maxTokens: 1 })).rejects.toMatchObject({ code: "E_CONTEXT" });
    ctx.dispose();
  });
});

it("end-of-generation ends the output (the token is reported, its text is not)", async () => {
  const r = await run({ maxTokens: 30, banned: new Set() });
  expect(r.stopReason).toBe("eos");
  expect(engine.tokenizer.eogTokens.has(r.tokens[r.tokens.length - 1])).toBe(true);
});

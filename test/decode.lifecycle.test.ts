/**
 * Misuse of a generation, its context and its engine: every case either works or fails with a clear
 * E_STATE error, and nothing hangs. An AbortSignal fired by a timer lands at the next step or prefill
 * chunk without the caller passing yieldEvery.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateOptions } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { chainBlock } from "../src/decode/block.js";
import { Arena } from "../src/wasm/arena.js";
import { ArenaRegions } from "../src/wasm/regions.js";
import { tinyEngine } from "./helpers/engine.js";

// Wide enough that a 64-token prefill chunk takes milliseconds (so a timer can fire between chunks).
const WIDE = { seed: 5, nLayers: 4, dModel: 256, nHeads: 4, nKvHeads: 2, dFF: 512 };
const SPECIALS = new Set([0, 1, 2]); // never end early: these runs want long outputs
const PROMPT = [40, 41, 42, 43];

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 21 });
});
afterAll(() => engine.close());

const opts = (o: Partial<GenerateOptions> = {}): GenerateOptions => ({ maxTokens: 40, banned: SPECIALS, ...o });

async function fresh(e: Engine, o: Partial<GenerateOptions> = {}, prompt = PROMPT) {
  const ctx = e.newContext(prompt.length + 40, 0);
  try {
    return await generate(ctx, prompt, new ArProposer(), opts(o));
  } finally {
    ctx.dispose();
  }
}

describe("abort", () => {
  it("a timer's abort lands at the next step: no forward pass runs after the timer fired", async () => {
    const e = await tinyEngine(WIDE);
    try {
      const ctx = e.newContext(500, 0);
      const controller = new AbortController();
      let steps = 0;
      let stepsAtAbort = -1;
      setTimeout(() => {
        stepsAtAbort = steps;
        controller.abort();
      }, 5);
      const r = await generate(ctx, PROMPT, new ArProposer(), { maxTokens: 490, banned: SPECIALS, signal: controller.signal, onStep: () => steps++ });
      expect(r.stopReason).toBe("abort");
      expect(stepsAtAbort).toBeGreaterThan(0);
      expect(r.stats.forward_passes).toBe(stepsAtAbort);
      expect(r.tokens.length).toBeLessThan(490);
      ctx.dispose();
    } finally {
      e.close();
    }
  });

  it("a timer's abort lands between prefill chunks of a long prompt", async () => {
    const e = await tinyEngine(WIDE);
    try {
      const prompt = Array.from({ length: 500 }, (_, i) => 3 + ((i * 13) % 250)); // 7 chunks of 64, then 52
      const ctx = e.newContext(510, 0);
      const controller = new AbortController();
      let passesAtAbort = -1;
      setTimeout(() => {
        passesAtAbort = ctx.forward.count;
        controller.abort();
      }, 0);
      const r = await generate(ctx, prompt, new ArProposer(), { maxTokens: 5, banned: SPECIALS, signal: controller.signal });
      expect(r.stopReason).toBe("abort");
      expect(r.tokens).toEqual([]);
      // A chunk of this model takes well over the 4 ms between yields, so the timer fires right after
      // the first chunk, and nothing runs after it.
      expect(passesAtAbort).toBe(1);
      expect(ctx.forward.count).toBe(passesAtAbort);
      expect(r.stats.prefill_passes).toBe(1);
      ctx.dispose();
    } finally {
      e.close();
    }
  });
});

describe("one context", () => {
  it("two concurrent generations on one context: the second is an E_STATE error, the first is intact", async () => {
    const ref = await fresh(engine);
    const ctx = engine.newContext(PROMPT.length + 40, 0);
    const first = generate(ctx, PROMPT, new ArProposer(), opts());
    const second = generate(ctx, PROMPT, new ArProposer(), opts());
    await expect(second).rejects.toMatchObject({ code: "E_STATE", message: expect.stringMatching(/already running/) });
    expect((await first).tokens).toEqual(ref.tokens);
    ctx.dispose();
  });

  it("reusing a context after a generation starts afresh: the same output as a new context", async () => {
    const ref = await fresh(engine);
    const other = await fresh(engine, {}, [50, 51, 52]);
    const ctx = engine.newContext(PROMPT.length + 40, 0);
    await generate(ctx, [50, 51, 52], new ArProposer(), opts());
    expect((await generate(ctx, PROMPT, new ArProposer(), opts())).tokens).toEqual(ref.tokens);
    expect((await generate(ctx, [50, 51, 52], new ArProposer(), opts())).tokens).toEqual(other.tokens);
    // ...also after a generation that failed part-way
    await expect(generate(ctx, PROMPT, new ArProposer(), opts({ maxTokens: -1 }))).rejects.toMatchObject({ code: "E_ARGS" });
    expect((await generate(ctx, PROMPT, new ArProposer(), opts())).tokens).toEqual(ref.tokens);
    ctx.dispose();
  });

  it("a disposed context is an E_STATE error; disposing twice is harmless", async () => {
    const ctx = engine.newContext(PROMPT.length + 40, 0);
    ctx.dispose();
    ctx.dispose();
    await expect(generate(ctx, PROMPT, new ArProposer(), opts())).rejects.toMatchObject({ code: "E_STATE", message: expect.stringMatching(/disposed/) });
  });

  it("disposing a context while it generates stops the generation at its next step; its memory is freed after", async () => {
    const before = engine.arena.used;
    const ctx = engine.newContext(500, 0);
    let steps = 0;
    const run = generate(ctx, PROMPT, new ArProposer(), {
      maxTokens: 400,
      banned: SPECIALS,
      onStep: () => {
        if (++steps === 3) setTimeout(() => ctx.dispose(), 0);
      },
    });
    await expect(run).rejects.toMatchObject({ code: "E_STATE", message: expect.stringMatching(/disposed/) });
    expect(steps).toBeLessThan(400);
    expect(engine.arena.used).toBe(before);
  });
});

describe("contexts disposed out of creation order", () => {
  it("disposing an earlier context never frees a later one's memory", async () => {
    const refA = await fresh(engine);
    const refB = await fresh(engine, {}, [60, 61, 62]);
    const before = engine.arena.used;
    const a = engine.newContext(PROMPT.length + 40, 0);
    const b = engine.newContext(PROMPT.length + 40, 0);
    a.dispose(); // b is still live: a's memory must not be handed out again under b
    const c = engine.newContext(PROMPT.length + 40, 0);
    // b and c generate at the same time; if c overlapped b, each would overwrite the other's KV cache.
    const [rb, rc] = await Promise.all([
      generate(b, [60, 61, 62], new ArProposer(), opts({ yieldEvery: () => new Promise((r) => setImmediate(r)) })),
      generate(c, PROMPT, new ArProposer(), opts({ yieldEvery: () => new Promise((r) => setImmediate(r)) })),
    ]);
    expect(rb.tokens).toEqual(refB.tokens);
    expect(rc.tokens).toEqual(refA.tokens);
    b.dispose();
    c.dispose();
    expect(engine.arena.used).toBe(before); // everything came back once all three were disposed
  });

  it("ArenaRegions: any release order returns the arena to where it started", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const arena = new Arena({ memory, exports: { heapBase: () => 1024 } });
    const regions = new ArenaRegions(arena);
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]]) {
      const start = arena.used;
      const rs = [100, 2000, 30].map((n) => regions.carve(() => arena.alloc(n)).region);
      for (const i of order) {
        regions.release(rs[i]);
        regions.release(rs[i]); // twice: no effect
      }
      expect(arena.used).toBe(start);
      expect(regions.count).toBe(0);
    }
    // Something allocated above a region keeps that region's memory reserved (never reused while live).
    const r = regions.carve(() => arena.alloc(64)).region;
    const other = arena.alloc(64);
    regions.release(r);
    expect(arena.alloc(64)).toBeGreaterThan(other);
    // A failed allocation inside carve gives back what it took.
    const top = arena.used;
    expect(() => regions.carve(() => (arena.alloc(500), arena.alloc(-1)))).toThrow();
    expect(arena.used).toBe(top);
  });
});

describe("engine.close()", () => {
  it("with 2 threads: a running generation, the next one and a new context fail with E_STATE, never hang", async () => {
    const e = await tinyEngine(WIDE, { threads: 2 });
    const ctx = e.newContext(500, 0);
    let steps = 0;
    const run = generate(ctx, PROMPT, new ArProposer(), {
      maxTokens: 400,
      banned: SPECIALS,
      onStep: () => {
        if (++steps === 2) setTimeout(() => e.close(), 0);
      },
    });
    await expect(run).rejects.toMatchObject({ code: "E_STATE", message: expect.stringMatching(/closed/) });
    expect(steps).toBeLessThan(400);
    await expect(generate(ctx, PROMPT, new ArProposer(), opts())).rejects.toMatchObject({ code: "E_STATE" });
    expect(() => ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, [5], [0]))).toThrow(/closed/); // direct use too
    expect(() => e.newContext(10, 0)).toThrow(/closed/);
    e.close(); // idempotent
    ctx.dispose();
  }, 30_000);
});

describe("a spec decoder's draft context", () => {
  it("disposed while its proposer is in use: E_STATE at the next step (its memory may be another context's)", async () => {
    const { SpecProposer } = await import("../src/decode/spec.js");
    const draft = engine.newContext(PROMPT.length + 40, 3, { layers: 1 });
    const ctx = engine.newContext(PROMPT.length + 40, 3);
    const proposer = new SpecProposer({ k: 3, draft, vocabSize: engine.config.vocabSize });
    let steps = 0;
    const run = generate(ctx, PROMPT, proposer, opts({ onStep: () => ++steps === 2 && draft.dispose() }));
    await expect(run).rejects.toMatchObject({ code: "E_STATE", message: expect.stringMatching(/disposed/) });
    ctx.dispose();
  });
});

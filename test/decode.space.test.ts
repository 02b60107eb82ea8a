/**
 * Greedy exactness of every decoder through the one generate loop, on random tiny models:
 *  - fast-check: space (every configuration the cost model may pick, spaceConfigs: plain AR steps and
 *    k x AUTO_LAYOUTS, each held fixed, and a chooser switching among all of them at random every step),
 *    spec (truncated draft) and lookup emit exactly AR's tokens, text and stop reason, over random
 *    weights and dims, mask tokens, prompts, k, max tokens, contexts and end-of-generation tokens;
 *  - every acceptance length through the real block: SPACE with candidates injected at the proposer
 *    boundary (always right, always wrong, right for a scheduled number), the forward, verifier and KV
 *    compaction running for real; the acceptance histogram must cover 0..k;
 *  - mask embeddings supplied as vectors (the adapter hook) and drafts that are always right.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateOptions, type GenerateResult } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { SpaceProposer, AR_CONFIG, FULL_LAYOUT, HYBRID_LAYOUT, LEAN_LAYOUT, LOOKUP_LAYOUT, STORE_CLASS, spaceBlock, storeMatchClass, lookupMatchClass, type SpaceAuto, type SpaceConfig, type SpaceLayout } from "../src/decode/space.js";
import { spaceConfigs } from "../src/decode/costmodel.js";
import { Rng } from "../src/util/rng.js";
import { LookupProposer } from "../src/decode/lookup.js";
import { NgramStore } from "../src/decode/ngramstore.js";
import { SpecProposer } from "../src/decode/spec.js";
import { chainBlock, range } from "../src/decode/block.js";
import { readGGUF } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";
import { engineFromBytes } from "./helpers/engine.js";
import { tinyModelBytes, tinyVocab, type TinySpec } from "./helpers/tiny-model.js";

const V = tinyVocab().tokens.length;
const SPECIALS = [0, 1, 2];
const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

async function load(spec: TinySpec): Promise<Engine> {
  const e = await engineFromBytes(tinyModelBytes(spec));
  engines.push(e);
  return e;
}

type Make = (e: Engine, contextTokens: number) => { proposer: Proposer; dispose?: () => void };

const ar: Make = () => ({ proposer: new ArProposer() });
const space = (k: number, mask: number, layout: SpaceLayout = FULL_LAYOUT, inject?: ConstructorParameters<typeof SpaceProposer>[0]["inject"]): Make =>
  (e) => ({ proposer: new SpaceProposer({ k, mask: { token: mask }, layout, vocabSize: e.config.vocabSize, inject }) });
/** SPACE driven the way the cost model drives it (SpaceAuto), by a given chooser. */
const spaceAuto = (k: number, mask: number, auto: () => SpaceAuto): Make =>
  (e) => ({ proposer: new SpaceProposer({ k, mask: { token: mask }, vocabSize: e.config.vocabSize, auto: auto() }) });
/** Always the same configuration. */
const fixed = (c: SpaceConfig): SpaceAuto => ({ configs: [c], choose: () => c, observe() {} });
/** A configuration of `configs` drawn at random every step: every switch, into and out of plain AR steps too. */
const switching = (configs: SpaceConfig[], seed: number): SpaceAuto => {
  const rng = new Rng(seed);
  return { configs, choose: () => configs[Math.floor(rng.next() * configs.length)], observe() {} };
};
const lookup = (k: number): Make => () => ({ proposer: new LookupProposer({ k }) });
/** The hybrid layout (no `auto`) or the chooser `auto`, with candidates from an n-gram store where the text has no 3-token match. */
const spaceStore = (k: number, mask: number, store: NgramStore, auto: () => SpaceAuto | undefined): Make => (e) => {
  const a = auto();
  return { proposer: new SpaceProposer({ k, mask: { token: mask }, layout: HYBRID_LAYOUT, vocabSize: e.config.vocabSize, store, ...(a ? { auto: a } : {}) }) };
};
/** A store of `text` between random sequences over the vocabulary (seeded). */
function storeOf(seed: number, text: number[]): NgramStore {
  const rng = new Rng(seed);
  const noise = () => Array.from({ length: 40 }, () => 3 + Math.floor(rng.next() * (V - 3)));
  return NgramStore.build([noise(), text, noise()], { nMin: 2, nMax: 4 });
}
const spec = (k: number, layers: number): Make => (e, contextTokens) => {
  const draft = e.newContext(contextTokens, k, { layers });
  return { proposer: new SpecProposer({ k, draft, vocabSize: e.config.vocabSize, stopAt: e.tokenizer.eogTokens }), dispose: () => draft.dispose() };
};

async function run(e: Engine, make: Make, prompt: number[], opts: GenerateOptions, contextTokens = prompt.length + opts.maxTokens): Promise<GenerateResult> {
  const { proposer, dispose } = make(e, contextTokens);
  const ctx = e.newContext(contextTokens, proposer.maxExtraRows);
  try {
    return await generate(ctx, prompt, proposer, opts);
  } finally {
    ctx.dispose(); // allocated after the draft: freed first
    dispose?.();
  }
}

function expectSameOutput(got: GenerateResult, want: GenerateResult, label: string) {
  expect(got.tokens, label).toEqual(want.tokens);
  expect(got.text, label).toBe(want.text);
  expect(got.stopReason, label).toBe(want.stopReason);
  const emitted = got.stats.accept_histogram.reduce((a, count, n) => a + count * (n + 1), 0);
  expect(emitted, `${label}: every step emits n + 1 tokens, except a cut-short last one`).toBeGreaterThanOrEqual(got.tokens.length);
}

describe("greedy: every decoder emits exactly AR's output (property over random tiny models)", () => {
  const dims = fc.constantFrom(
    { dModel: 32, nHeads: 2, nKvHeads: 1 },
    { dModel: 48, nHeads: 4, nKvHeads: 2 },
    { dModel: 64, nHeads: 4, nKvHeads: 4 },
    { dModel: 64, nHeads: 8, nKvHeads: 2 },
  );
  const cases = fc.record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    dims,
    nLayers: fc.integer({ min: 1, max: 3 }),
    dFF: fc.integer({ min: 1, max: 6 }).map((n) => 16 * n),
    weightScale: fc.constantFrom(0.6, 1.5, 3),
    prompt: fc.array(fc.integer({ min: 3, max: V - 1 }), { minLength: 1, maxLength: 24 }),
    k: fc.integer({ min: 1, max: 6 }),
    mask: fc.integer({ min: 3, max: V - 1 }),
    maxTokens: fc.integer({ min: 1, max: 40 }),
    banSpecials: fc.boolean(), // random models end early; banning end-of-generation gives long outputs
    contextCut: sometimes(fc.integer({ min: 1, max: 39 })), // a context that ends generation
    eosAt: sometimes(fc.integer({ min: 0, max: 39 })), // make AR's i-th token end-of-generation
    pick: fc.nat(), // which of spaceConfigs(k): every configuration the cost model can pick (test/decode.costmodel.test.ts)
    draftDepth: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  it("space, spec and lookup == ar: tokens, text and stop reason", async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const tiny: TinySpec = { seed: c.seed, ...c.dims, nLayers: c.nLayers, dFF: c.dFF, weightScale: c.weightScale };
        let e = await load(tiny);
        const banned = new Set([c.mask, ...(c.banSpecials ? SPECIALS : [])]);
        const opts: GenerateOptions = { maxTokens: c.maxTokens, banned };
        const contextTokens = c.prompt.length + (c.contextCut === null ? c.maxTokens : Math.min(c.contextCut, c.maxTokens));
        let want = await run(e, ar, c.prompt, opts, contextTokens);
        if (c.eosAt !== null && c.eosAt < want.tokens.length && !banned.has(want.tokens[c.eosAt])) {
          // Same weights, another end-of-generation id: AR now stops at that token's first occurrence.
          e = await load({ ...tiny, eos: want.tokens[c.eosAt] });
          want = await run(e, ar, c.prompt, opts, contextTokens);
          expect(want.stopReason).toBe("eos");
        }
        const draftLayers = 1 + Math.floor(c.draftDepth * (c.nLayers - 0.001));
        const configs = spaceConfigs(c.k); // AR_CONFIG, then k' = 1..k x AUTO_LAYOUTS
        const config = configs[c.pick % configs.length];
        const decoders: [string, Make][] = [
          [`space ${config.layout.name} k=${config.k}`, spaceAuto(c.k, c.mask, () => fixed(config))],
          ["space switching at random", spaceAuto(c.k, c.mask, () => switching(configs, c.seed))],
          [`space hybrid k=${c.k}`, space(c.k, c.mask, HYBRID_LAYOUT)],
          // An n-gram store that knows AR's own continuation (drafts accepted) amid random text (rejected).
          [`space hybrid + store k=${c.k}`, spaceStore(c.k, c.mask, storeOf(c.seed, [...c.prompt, ...want.tokens]), () => undefined)],
          ["space switching + store", spaceStore(c.k, c.mask, storeOf(c.seed + 1, [...c.prompt, ...want.tokens]), () => switching([...configs, { k: c.k, layout: LOOKUP_LAYOUT }], c.seed))],
          ["spec", spec(c.k, draftLayers)],
          ["lookup", lookup(c.k)],
        ];
        for (const [name, make] of decoders) expectSameOutput(await run(e, make, c.prompt, opts, contextTokens), want, name);
      }),
      { numRuns: 150 },
    );
  });
});

describe("long prompts and threads", () => {
  it("a prompt prefilled in chunks (150 tokens), on 2 threads: every decoder == ar", async () => {
    const e = await engineFromBytes(tinyModelBytes({ seed: 23 }), { threads: 2 });
    engines.push(e);
    const prompt = Array.from({ length: 150 }, (_, i) => 3 + ((i * 7) % 40)); // repetitive: lookup finds matches
    const opts = { maxTokens: 30, banned: new Set([99, ...SPECIALS]) };
    const want = await run(e, ar, prompt, opts);
    expect(want.tokens).toHaveLength(30);
    for (const [name, make] of [["space", space(4, 99)], ["space hybrid", space(4, 99, HYBRID_LAYOUT)], ["spec", spec(3, 1)], ["lookup", lookup(4)]] as const) {
      const got = await run(e, make, prompt, opts);
      expectSameOutput(got, want, name);
      expect(got.stats.prefill_passes, name).toBe(2);
      // The repetitive prompt makes lookup (and the hybrid's lookup slots) accept candidates.
      if (name === "space hybrid" || name === "lookup") expect(got.stats.tokens_per_forward, name).toBeGreaterThan(1);
    }
  });
});

describe("every acceptance length through the real block (SPACE, injected candidates)", () => {
  const PROMPT = [40, 41, 42, 43, 44];
  const MASK = 200;
  const banned = new Set([MASK, ...SPECIALS]);
  const wrong = (t: number) => (t + 1 === MASK ? t + 2 : t + 1) % V || 3; // never t, never banned

  /** Candidates for the next step: the first `right` from AR's continuation, the rest wrong. */
  function oracle(arTokens: number[], k: number, right: (step: number) => number) {
    let step = 0;
    return (ctx: { history: readonly number[] }) => {
      const e = ctx.history.length - PROMPT.length; // tokens emitted so far; the next are arTokens[e..]
      const r = right(step++);
      return Array.from({ length: k }, (_, i) => {
        const t = arTokens[e + i] ?? 3;
        return i < r ? t : wrong(t);
      });
    };
  }

  it("always right, always wrong and scheduled: output == ar, histogram covers 0..k", async () => {
    const e = await load({ seed: 77 });
    const maxTokens = 60;
    const want = await run(e, ar, PROMPT, { maxTokens, banned });
    expect(want.tokens).toHaveLength(maxTokens);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 10 }), async (k, schedule) => {
        const cases: [string, (step: number) => number][] = [
          ["always right", () => k],
          ["always wrong", () => 0],
          ["each length in turn", (s) => s % (k + 1)],
          ["random lengths", (s) => Math.min(k, schedule[s % schedule.length])],
        ];
        for (const [label, right] of cases) {
          const got = await run(e, space(k, MASK, FULL_LAYOUT, oracle(want.tokens, k, right)), PROMPT, { maxTokens, banned });
          expectSameOutput(got, want, label);
          const h = got.stats.accept_histogram;
          const alpha = got.stats.alpha.injected ?? [];
          if (label === "always right") {
            expect(h[k], label).toBeGreaterThanOrEqual(got.stats.forward_passes - 1);
            // Every examined position accepted (a step cut short by max tokens may examine fewer).
            expect(alpha.length, label).toBe(k);
            expect(alpha.every((a) => a === 1), `${label}: alpha ${alpha}`).toBe(true);
          }
          if (label === "always wrong") {
            expect(h.slice(1).every((n) => n === 0), label).toBe(true);
            expect(alpha, label).toEqual([0]); // only c_1 is ever examined
          }
          if (label === "each length in turn") {
            // Every step verifies k injected candidates: alpha_j = steps accepting >= j / steps accepting >= j - 1.
            const reach = (j: number) => h.slice(j).reduce((a, b) => a + b, 0);
            for (let j = 1; j <= k; j++) expect(alpha[j - 1], `${label}: alpha_${j}`).toBeCloseTo(reach(j) / reach(j - 1), 12);
          }
          if (label === "each length in turn") expect(coversAllLengths(h, k), `${label}: histogram ${h}`).toBe(true);
        }
      }),
      { numRuns: 8 },
    );
  });

  it("a decoder that accepts nothing fails the histogram check", async () => {
    const e = await load({ seed: 77 });
    const want = await run(e, ar, PROMPT, { maxTokens: 30, banned });
    // Every candidate wrong, whatever the schedule: the output is still right, the histogram is not.
    const rejectAll = oracle(want.tokens, 3, () => 0);
    const got = await run(e, space(3, MASK, FULL_LAYOUT, rejectAll), PROMPT, { maxTokens: 30, banned });
    expect(got.tokens).toEqual(want.tokens);
    expect(coversAllLengths(got.stats.accept_histogram, 3)).toBe(false);
  });

  it("a draft equal to the target (all layers) is always right: tau = k + 1", async () => {
    const e = await load({ seed: 5, nLayers: 2 });
    const want = await run(e, ar, PROMPT, { maxTokens: 40, banned });
    const got = await run(e, spec(4, 2), PROMPT, { maxTokens: 40, banned });
    expectSameOutput(got, want, "spec, full-depth draft");
    expect(got.stats.accept_histogram.slice(0, 4).every((n) => n === 0)).toBe(true);
    expect(got.stats.tokens_per_forward).toBe(5);
  });
});

describe("the plain AR step of SPACE (AR_CONFIG)", () => {
  it("is AR's block: the pending tokens only, causal, no mask row, no candidate, and nothing proposed", () => {
    const lora = {} as never; // a mask given as vectors + LoRA: none of it applies without mask rows
    const mask = { token: 9, embeddings: [new Float32Array(4), new Float32Array(4)], lora };
    const plan = spaceBlock(3, [7, 8], [], AR_CONFIG.k, mask, AR_CONFIG.layout);
    const ar = chainBlock(3, [7, 8], [1]);
    expect(plan.block).toEqual(ar);
    expect(Array.from(plan.verifyRows)).toEqual([0]);
    expect(Array.from(plan.maskRows ?? [])).toEqual([]);
    expect(plan.groups).toEqual([null]);
    expect(Array.from(plan.keepRows(0))).toEqual([0, 1]);
  });

  /** A k = 3 proposer whose model always runs the lookup configuration; hint() is the match class it was told last. */
  const lookupSteps = (store?: NgramStore) => {
    let hint: { lookup: number } | undefined;
    const c: SpaceConfig = { k: 3, layout: LOOKUP_LAYOUT };
    const auto: SpaceAuto = { configs: [AR_CONFIG, c], choose: (h) => ((hint = h), c), observe() {} };
    const p = new SpaceProposer({ k: 3, mask: { token: 9 }, vocabSize: V, auto, ...(store ? { store } : {}) });
    const step = (history: number[]) =>
      p.plan({ pending: Int32Array.of(history[history.length - 1]), cached: history.length - 1, history, sampling: { temperature: 0, topK: 0, topP: 1 }, rng: new Rng(0) });
    return { step, hint: () => hint };
  };

  it("a lookup step: the copied candidates (a longer tail match first), no mask row; no match: an AR block", () => {
    const { step, hint } = lookupSteps();
    // [5 6 7 8 ... 6 7]: the trigram "x 6 7" does not recur, the bigram "6 7" does, followed by 8 20 21.
    const matched = step([5, 6, 7, 8, 20, 21, 4, 6, 7]);
    expect(hint()).toEqual({ lookup: 2 });
    expect(matched.source).toBe("lookup");
    expect(Array.from(matched.candidates)).toEqual([8, 20, 21]);
    expect(matched.block).toEqual(chainBlock(8, [7, 8, 20, 21], [0, 1, 2, 3]));
    expect(Array.from(matched.maskRows ?? [])).toEqual([]);
    const none = step([5, 6, 7, 8]);
    expect(hint()).toEqual({ lookup: 0 });
    expect(Array.from(none.candidates)).toEqual([]);
    expect(none.block).toEqual(chainBlock(3, [8], [0]));
  });

  it("a copy follows the longest tail match (up to 6 tokens), not the most recent 3-gram; its class groups 4-5 and 6+", () => {
    const { step, hint } = lookupSteps();
    // "1 2 3 4 5" is followed by 40 41 42 early on; "3 4 5" recurs later, followed by 50 51 52.
    const text = [1, 2, 3, 4, 5, 40, 41, 42, 3, 4, 5, 50, 51, 52, 1, 2, 3, 4, 5];
    const long = step(text);
    expect(hint()).toEqual({ lookup: 4 }); // a 5-token match: class 4
    expect(Array.from(long.candidates)).toEqual([40, 41, 42]);
    expect(step([7, 1, 2, 3, 4, 5, 40, 8, 7, 1, 2, 3, 4, 5]).candidates).toEqual(Int32Array.of(40, 8, 7));
    expect(hint()).toEqual({ lookup: 6 }); // 6 tokens: class 6
    expect([2, 3, 4, 5, 6, 7, 12].map(lookupMatchClass)).toEqual([2, 3, 4, 4, 6, 6, 6]);
  });

  it("a store draft where the text has no 3-token match (class STORE_CLASS, + 1 when strong); a 3-token match wins", () => {
    // The store knows "30 31 32 -> 33 34 35" (once: share 1) and "31 32 -> 33" (n = 2).
    const { step, hint } = lookupSteps(NgramStore.build([[30, 31, 32, 33, 34, 35]], { nMin: 2, nMax: 3 }));
    const drafted = step([5, 30, 31, 32]);
    expect(hint()).toEqual({ lookup: STORE_CLASS }); // n = 3: not a strong draft, however one-sided
    expect([storeMatchClass(3, 1), storeMatchClass(4, 0.5), storeMatchClass(5, 0.49)]).toEqual([STORE_CLASS, STORE_CLASS + 1, STORE_CLASS]);
    expect(Array.from(drafted.candidates)).toEqual([33, 34, 35]);
    expect(drafted.source).toBe("lookup");
    // The text's own 3-token match ("6 7 8" recurs) comes first, even where the store knows the tail.
    const own = step([6, 7, 8, 50, 6, 7, 8]);
    expect(hint()).toEqual({ lookup: 3 });
    expect(Array.from(own.candidates)).toEqual([50, 6, 7]);
    // Neither: an AR block.
    const none = step([60, 61, 62]);
    expect(hint()).toEqual({ lookup: 0 });
    expect(Array.from(none.candidates)).toEqual([]);
  });

  it("k = 0 only as the plain AR configuration", () => {
    const make = (c: SpaceConfig) => () => new SpaceProposer({ k: 2, mask: { token: 9 }, vocabSize: V, auto: fixed(c) });
    expect(make(AR_CONFIG)).not.toThrow();
    expect(make({ k: 0, layout: FULL_LAYOUT })).toThrow(/k = 0 \(a plain AR step\) needs the "ar" layout/);
    expect(make({ k: 3, layout: FULL_LAYOUT })).toThrow(/outside \[0, 2\]/);
  });

  it("drops the candidates an earlier step proposed; switching back proposes again: output == ar", async () => {
    const e = await load({ seed: 78 });
    const prompt = [40, 41, 42];
    const banned = new Set([200, ...SPECIALS]);
    const want = await run(e, ar, prompt, { maxTokens: 30, banned });
    // Into and out of AR steps, with candidates left over from groups of another k.
    const schedule: SpaceConfig[] = [
      { k: 3, layout: FULL_LAYOUT }, { k: 3, layout: FULL_LAYOUT }, AR_CONFIG, { k: 2, layout: LEAN_LAYOUT }, { k: 2, layout: LEAN_LAYOUT }, AR_CONFIG, AR_CONFIG, { k: 1, layout: FULL_LAYOUT },
    ];
    const verified: number[] = [];
    let step = 0;
    const auto: SpaceAuto = { configs: schedule, choose: () => schedule[step++ % schedule.length], observe: (m) => void verified.push(m) };
    const got = await run(e, spaceAuto(3, 200, () => auto), prompt, { maxTokens: 30, banned });
    expectSameOutput(got, want, "scheduled AR steps");
    // Steps right after an AR step verify nothing; the others verify the candidates left over.
    verified.forEach((m, i) => {
      if (schedule[i % schedule.length].k === 0 || schedule[(i + schedule.length - 1) % schedule.length].k === 0) expect(m, `step ${i}`).toBe(0);
    });
    expect(verified.some((m) => m > 0)).toBe(true);
  });
});

describe("mask embeddings supplied as vectors (adapter hook)", () => {
  it("a block row given a token's embedding vector has that token's logits, bit for bit", async () => {
    const bytes = tinyModelBytes({ seed: 12 });
    const e = await engineFromBytes(bytes);
    engines.push(e);
    const D = e.config.dModel;
    const table = tokenEmbeddings(bytes);
    const ctx = e.newContext(16, 8);
    const tokens = [30, 31, 32, 33];
    const a = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, tokens, range(0, 4))).slice();
    // Same block with token 32 replaced by a placeholder id, its row given 32's embedding vector.
    const block = { ...chainBlock(0, [30, 31, 7, 33], range(0, 4)), embeddings: { rows: Int32Array.of(2), vectors: table.slice(32 * D, 33 * D) } };
    const b = ctx.forward.run(ctx.cache, ctx.ws, block).slice();
    expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
    expect(() => ctx.forward.run(ctx.cache, ctx.ws, { ...block, embeddings: { rows: Int32Array.of(2), vectors: new Float32Array(3) } })).toThrow(/embedding rows need/);
    ctx.dispose();
  });

  it("SPACE with the mask given as vectors: the mask token's own vector changes nothing; any vector stays lossless", async () => {
    const bytes = tinyModelBytes({ seed: 13 });
    const e = await engineFromBytes(bytes);
    engines.push(e);
    const D = e.config.dModel;
    const table = tokenEmbeddings(bytes);
    const MASK = 100;
    const prompt = [50, 60, 70];
    const banned = new Set([MASK, ...SPECIALS]);
    const steps = (mask: ConstructorParameters<typeof SpaceProposer>[0]["mask"]) => {
      const trace: unknown[] = [];
      return run(e, (en) => ({ proposer: new SpaceProposer({ k: 3, mask, vocabSize: en.config.vocabSize }) }), prompt, {
        maxTokens: 20,
        banned,
        onStep: (s) => trace.push({ ...s, ms: 0 }),
      }).then((r) => ({ r, trace }));
    };
    const byToken = await steps({ token: MASK });
    const byVector = await steps({ token: MASK, embeddings: [table.slice(MASK * D, (MASK + 1) * D)] });
    expect(byVector.trace).toEqual(byToken.trace); // same candidates, step by step
    const random = Array.from({ length: 3 }, (_, j) => Float32Array.from({ length: D }, (_, i) => Math.sin(i * 0.7 + j)));
    const other = await steps({ token: MASK, embeddings: random });
    const want = await run(e, ar, prompt, { maxTokens: 20, banned });
    expect(other.r.tokens).toEqual(want.tokens);
  });
});

function coversAllLengths(histogram: number[], k: number): boolean {
  return [...Array(k + 1).keys()].every((n) => (histogram[n] ?? 0) > 0);
}

/** null three times in four, else a value. */
function sometimes<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: arb, weight: 1 });
}

/** token_embd of an F32 tiny model: f32 [V, D]. */
function tokenEmbeddings(bytes: Uint8Array): Float32Array {
  const f = readGGUF(bytesSource("tiny.gguf", bytes));
  const t = f.tensors.find((x) => x.name === "token_embd.weight")!;
  return new Float32Array(bytes.slice(t.offset, t.offset + t.byteLength).buffer);
}

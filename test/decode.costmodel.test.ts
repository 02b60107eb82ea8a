/**
 * The SPACE cost model (src/decode/costmodel.ts):
 *  - its choice on synthetic cost curves and acceptance rates (table-driven);
 *  - expectedRate against a simulation of the proposer's state machine (candidates or none per layout);
 *  - the acceptance tracker (prior, exponentially weighted counts);
 *  - coverage: every configuration it can pick has a layout the exactness property tests iterate over
 *    (AUTO_LAYOUTS, test/decode.space.test.ts) and a k within the mask source's;
 *  - greedy output of `auto` (the real cost model, and a chooser switching at random every step) == ar.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateResult } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { FULL_LAYOUT, LEAN_LAYOUT, MAX_K, SpaceProposer, type SpaceAuto, type SpaceConfig, type SpaceMask } from "../src/decode/space.js";
import {
  AcceptanceTracker,
  AUTO_LAYOUTS,
  blockRows,
  chooseConfig,
  configWidths,
  costFromTable,
  expectedRate,
  measureCost,
  SpaceCostModel,
  spaceConfigs,
  type CostFn,
} from "../src/decode/costmodel.js";
import { Rng } from "../src/decode/rng.js";
import { engineFromBytes } from "./helpers/engine.js";
import { tinyModelBytes, tinyVocab } from "./helpers/tiny-model.js";

const flat: CostFn = () => 1;
const linear: CostFn = (T) => T;
const overhead: CostFn = (T) => 1 + 0.05 * T; // fixed cost per step dominates (a large, memory-bound model)
const const_ = (a: number) => () => a;

describe("choice on synthetic cost curves and acceptance rates", () => {
  const cases: { name: string; cost: CostFn; alpha: number; kMax: number; want: (c: SpaceConfig) => boolean }[] = [
    { name: "flat cost, high acceptance: full layout, largest k", cost: flat, alpha: 0.9, kMax: 6, want: (c) => c.layout === FULL_LAYOUT && c.k === 6 },
    { name: "flat cost, low acceptance: still full, largest k (rows are free)", cost: flat, alpha: 0.1, kMax: 4, want: (c) => c.layout === FULL_LAYOUT && c.k === 4 },
    { name: "steep cost, low acceptance: the smallest block", cost: linear, alpha: 0.1, kMax: 8, want: (c) => blockRows(c, c.k) === 4 },
    { name: "steep cost, high acceptance: the smallest block still", cost: linear, alpha: 0.95, kMax: 8, want: (c) => c.k === 1 },
    { name: "overhead-dominated cost, high acceptance: lean, large k", cost: overhead, alpha: 0.9, kMax: 8, want: (c) => c.layout === LEAN_LAYOUT && c.k >= 6 },
    { name: "measured tiny-model curve (cost(25) = 15 cost(1)), tau ~1.4: k = 1", cost: costFromTable([{ T: 1, ms: 1 }, { T: 4, ms: 2.5 }, { T: 25, ms: 15 }]), alpha: 0.4, kMax: 4, want: (c) => c.k === 1 },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const configs = spaceConfigs(t.kMax);
      const c = chooseConfig(configs, const_(t.alpha), t.cost);
      expect(configs).toContain(c);
      expect(t.want(c), `${c.layout.name} k = ${c.k}`).toBe(true);
      // It is the best: no configuration has a higher expected rate.
      const rate = expectedRate(c, const_(t.alpha), t.cost).rate;
      for (const o of configs) expect(expectedRate(o, const_(t.alpha), t.cost).rate).toBeLessThanOrEqual(rate * (1 + 1e-9));
    });
  }

  it("full layout: tokens per step = 1 + sum of products of alpha; rows 1 + k(k+2)", () => {
    const r = expectedRate({ k: 3, layout: FULL_LAYOUT }, const_(0.5), linear);
    expect(r.tokensPerStep).toBeCloseTo(1 + 0.5 + 0.25 + 0.125, 12);
    expect(r.costPerStep).toBe(16);
    expect(blockRows({ k: 3, layout: LEAN_LAYOUT }, 3)).toBe(10);
    expect(blockRows({ k: 3, layout: LEAN_LAYOUT }, 0)).toBe(4);
    expect(configWidths(spaceConfigs(2))).toEqual([1, 2, 3, 4, 7, 9]);
  });
});

describe("expectedRate matches a simulation of the proposer's state machine", () => {
  it("random alphas, costs and layouts", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.constantFrom(...AUTO_LAYOUTS), fc.integer({ min: 1, max: 1e6 }), (k, a, layout, seed) => {
        const cfg = { k, layout };
        const cost: CostFn = (T) => 1 + T * 0.3;
        const want = expectedRate(cfg, (j) => a[j - 1], cost);
        const rng = new Rng(seed);
        let m = 0, tokens = 0, time = 0;
        for (let s = 0; s < 40_000; s++) {
          let n = 0;
          while (n < m && rng.next() < a[n]) n++;
          tokens += n + 1;
          time += cost(blockRows(cfg, m));
          m = layout.groupAfter(n, m) ? k : 0;
        }
        expect(Math.abs(tokens / time - want.rate) / want.rate).toBeLessThan(0.03);
      }),
      { numRuns: 30 },
    );
  });
});

describe("acceptance tracker", () => {
  it("starts at the prior, follows the verdicts, leaves untried positions at the prior", () => {
    const t = new AcceptanceTracker(4, { prior: 0.5, priorWeight: 2, decay: 0.9 });
    expect(t.alpha(1)).toBe(0.5);
    for (let i = 0; i < 100; i++) t.observe(4, 0); // the first candidate always rejected
    expect(t.alpha(1)).toBeLessThan(0.1);
    expect(t.alpha(2)).toBe(0.5); // never tried: candidate 1 was never accepted
    for (let i = 0; i < 100; i++) t.observe(4, 4);
    for (let j = 1; j <= 4; j++) expect(t.alpha(j)).toBeGreaterThan(0.9);
    t.observe(2, 1, true); // ended after 1 accepted: no verdict on position 2
    expect(t.alpha(2)).toBeGreaterThan(0.9);
  });

  it("the cost model shrinks k when candidates are rejected, grows it back when accepted", () => {
    const cost = costFromTable([{ T: 1, ms: 1 }, { T: 100, ms: 5 }]);
    const model = new SpaceCostModel(spaceConfigs(5), cost, { prior: 0.9 });
    expect(model.choose().k).toBe(5);
    const verdict = (accepted: number) => ({ accepted, emitted: [], ended: false }) as never;
    for (let i = 0; i < 60; i++) model.observe(5, verdict(0));
    expect(model.choose().k).toBe(1);
    for (let i = 0; i < 60; i++) model.observe(1, verdict(1));
    expect(model.choose().k).toBeGreaterThan(1);
  });
});

describe("coverage: the cost model only picks layouts the exactness tests cover", () => {
  it("every configuration of every mask source has a layout in AUTO_LAYOUTS and k in [1, kMax]", () => {
    for (let kMax = 1; kMax <= MAX_K; kMax++) {
      for (const c of spaceConfigs(kMax)) {
        expect(AUTO_LAYOUTS).toContain(c.layout);
        expect(c.k >= 1 && c.k <= kMax).toBe(true);
      }
    }
  });

  it("whatever the cost curve and verdicts, choose() returns one of its configurations", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_K }),
        fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: MAX_K }), fc.boolean()), { maxLength: 50 }),
        (kMax, ms, verdicts) => {
          const configs = spaceConfigs(kMax);
          const model = new SpaceCostModel(configs, costFromTable(ms.map((y, i) => ({ T: 1 + 40 * i, ms: y }))));
          for (const [n, ended] of verdicts) {
            const c = model.choose();
            expect(configs).toContain(c);
            model.observe(c.k, { accepted: Math.min(n, c.k), emitted: [], ended } as never);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("greedy: auto == ar on random tiny models", () => {
  const V = tinyVocab().tokens.length;
  const engines: Engine[] = [];
  afterAll(() => engines.forEach((e) => e.close()));

  async function run(e: Engine, proposer: Proposer, prompt: number[], maxTokens: number, banned: Set<number>): Promise<GenerateResult> {
    const ctx = e.newContext(prompt.length + maxTokens, proposer.maxExtraRows);
    try {
      return await generate(ctx, prompt, proposer, { maxTokens, banned });
    } finally {
      ctx.dispose();
    }
  }

  /** Picks a random configuration every step: every switch of k and layout, mid-run. */
  function randomAuto(configs: SpaceConfig[], seed: number, picked: SpaceConfig[]): SpaceAuto {
    const rng = new Rng(seed);
    return { configs, choose: () => (picked.push(configs[Math.floor(rng.next() * configs.length)]), picked[picked.length - 1]), observe() {} };
  }

  it("the cost model (random cost curves, priors) and random switching: tokens == ar's, picks within its configurations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          nLayers: fc.integer({ min: 1, max: 2 }),
          prompt: fc.array(fc.integer({ min: 3, max: V - 1 }), { minLength: 1, maxLength: 16 }),
          kMax: fc.integer({ min: 1, max: 5 }),
          mask: fc.integer({ min: 3, max: V - 1 }),
          maxTokens: fc.integer({ min: 1, max: 30 }),
          slope: fc.double({ min: 0, max: 2, noNaN: true }),
          prior: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
          vectors: fc.boolean(), // the mask as k vectors (an adapter's): a smaller k uses the first ones
        }),
        async (c) => {
          const e = await engineFromBytes(tinyModelBytes({ seed: c.seed, nLayers: c.nLayers }));
          engines.push(e);
          const banned = new Set([c.mask, 0, 1, 2]);
          const want = await run(e, new ArProposer(), c.prompt, c.maxTokens, banned);
          const D = e.config.dModel;
          const mask: SpaceMask = c.vectors ? { token: c.mask, embeddings: Array.from({ length: c.kMax }, (_, j) => Float32Array.from({ length: D }, (_, i) => Math.sin(i + j * 3))) } : { token: c.mask };
          const configs = spaceConfigs(c.kMax);
          const model = new SpaceCostModel(configs, (T) => 1 + c.slope * T, { prior: c.prior, every: 2 });
          const picked: SpaceConfig[] = [];
          const autos: [string, SpaceAuto][] = [["cost model", model], ["random", randomAuto(configs, c.seed, picked)]];
          for (const [name, auto] of autos) {
            const got = await run(e, new SpaceProposer({ k: c.kMax, mask, vocabSize: e.config.vocabSize, auto }), c.prompt, c.maxTokens, banned);
            expect(got.tokens, name).toEqual(want.tokens);
            expect(got.stopReason, name).toBe(want.stopReason);
          }
          for (const p of picked) expect(configs).toContain(p);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("measureCost: real forwards once per engine, then cached; cost grows with T", async () => {
    const e = await engineFromBytes(tinyModelBytes({ seed: 3 }));
    engines.push(e);
    const configs = spaceConfigs(3);
    const cost = measureCost(e, configs, { warmup: 1, repeats: 3 });
    for (const T of configWidths(configs)) expect(cost(T)).toBeGreaterThan(0);
    expect(cost(16)).toBeGreaterThan(cost(1));
    const before = e.newContext; // a cached measurement opens no context
    let opened = 0;
    (e as { newContext: typeof before }).newContext = (...a: Parameters<typeof before>) => (opened++, before.apply(e, a));
    measureCost(e, configs);
    expect(opened).toBe(0);
    (e as { newContext: typeof before }).newContext = before;
  });
});

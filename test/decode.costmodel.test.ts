/**
 * The SPACE cost model (src/decode/costmodel.ts):
 *  - its choice on synthetic cost curves and acceptance rates (table-driven);
 *  - expectedRate against a simulation of the proposer's state machine (candidates or none per layout);
 *  - the acceptance tracker (prior, exponentially weighted counts);
 *  - coverage: every configuration it can pick is plain AR (AR_CONFIG), a mask configuration (a layout
 *    of AUTO_LAYOUTS) or a lookup step (LOOKUP_LAYOUT), with a k within the mask source's;
 *    test/decode.space.test.ts runs every one of spaceConfigs;
 *  - lookup steps: chosen only at a match and when they pay, with acceptance of their own per n-gram
 *    length that leaves the masks' estimate and exploration alone, and a calibration of their own;
 *  - the AR fallback: AR whenever no block is expected to beat it, probes within their budget, and a
 *    return to SPACE when the masks start being accepted;
 *  - greedy output of `auto` (the real cost model, and a chooser switching at random every step) == ar.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateResult } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { AR_CONFIG, FULL_LAYOUT, LEAN_LAYOUT, LOOKUP_LAYOUT, STORE_CLASS, TAIL_LAYOUT, MAX_K, SpaceProposer, type SpaceAuto, type SpaceConfig, type SpaceMask } from "../src/decode/space.js";
import {
  AcceptanceTracker,
  AUTO_LAYOUTS,
  blockRows,
  chooseConfig,
  configWidths,
  costFromTable,
  expectedRate,
  isAr,
  isLookup,
  measureCost,
  autoSpace,
  probeCost,
  SpaceCostModel,
  spaceConfigs,
  type CostFn,
} from "../src/decode/costmodel.js";
import { Rng } from "../src/util/rng.js";
import { LoraRows, loadLora, loraName, targetShape } from "../src/model/adapter.js";
import { engineFromBytes } from "./helpers/engine.js";
import { tinyModelBytes, tinyVocab } from "./helpers/tiny-model.js";

const flat: CostFn = () => 1;
const linear: CostFn = (T) => T;
const overhead: CostFn = (T) => 1 + 0.05 * T; // fixed cost per step dominates (a large, memory-bound model)
const const_ = (a: number) => () => a;
/** The embedded model's measured shape on this CPU (README: a 25-row step costs ~15x AR's row). */
const TINY_CURVE = costFromTable([{ T: 1, ms: 1 }, { T: 4, ms: 2.5 }, { T: 25, ms: 15 }]);

describe("choice on synthetic cost curves and acceptance rates", () => {
  const cases: { name: string; cost: CostFn; alpha: number; kMax: number; want: (c: SpaceConfig) => boolean }[] = [
    { name: "flat cost, high acceptance: full layout, largest k", cost: flat, alpha: 0.9, kMax: 6, want: (c) => c.layout === FULL_LAYOUT && c.k === 6 },
    { name: "flat cost, low acceptance: still full, largest k (rows are free)", cost: flat, alpha: 0.1, kMax: 4, want: (c) => c.layout === FULL_LAYOUT && c.k === 4 },
    { name: "flat cost, no acceptance: plain AR (a tie, and ties go to the smaller block)", cost: flat, alpha: 0, kMax: 4, want: isAr },
    { name: "steep cost (cost(T) = T), low acceptance: plain AR", cost: linear, alpha: 0.1, kMax: 8, want: isAr },
    { name: "steep cost, high acceptance: still plain AR (k + 1 tokens never pay for 1 + 2k rows or more)", cost: linear, alpha: 0.95, kMax: 8, want: isAr },
    { name: "cost(T) = 1 + 0.2 T, high acceptance: SPACE, not AR", cost: (T) => 1 + 0.2 * T, alpha: 0.95, kMax: 8, want: (c) => !isAr(c) },
    { name: "overhead-dominated cost, high acceptance: the tail layout (fewest rows per candidate), large k", cost: overhead, alpha: 0.9, kMax: 8, want: (c) => c.layout === TAIL_LAYOUT && c.k >= 6 },
    { name: "measured tiny-model curve (cost(25) = 15 cost(1)), tau ~1.4: plain AR", cost: TINY_CURVE, alpha: 0.4, kMax: 4, want: isAr },
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
    expect(blockRows({ k: 3, layout: TAIL_LAYOUT }, 3)).toBe(7);
    expect(blockRows({ k: 3, layout: TAIL_LAYOUT }, 0)).toBe(4);
    expect(configWidths(spaceConfigs(2))).toEqual([1, 2, 3, 4, 5, 7, 9]);
  });

  it("plain AR: one row, one token per step, rate 1 / cost(1), whatever alpha", () => {
    expect(blockRows(AR_CONFIG, 0)).toBe(1);
    for (const a of [0, 0.5, 1]) expect(expectedRate(AR_CONFIG, const_(a), overhead)).toEqual({ tokensPerStep: 1, costPerStep: overhead(1), rate: 1 / overhead(1) });
  });

  it("the choice is never slower than AR by the model's estimate (random curves, alphas, kMax)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_K }),
        fc.array(fc.double({ min: 0.01, max: 100, noNaN: true }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: MAX_K, maxLength: MAX_K }),
        (kMax, ms, a) => {
          const cost = costFromTable(ms.map((y, i) => ({ T: 1 + 40 * i, ms: y })));
          const alpha = (j: number) => a[j - 1];
          const c = chooseConfig(spaceConfigs(kMax), alpha, cost);
          expect(expectedRate(c, alpha, cost).rate).toBeGreaterThanOrEqual(1 / cost(1));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("expectedRate matches a simulation of the proposer's state machine", () => {
  it("random alphas, costs and layouts", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 1e6 }), (kMax, a, pick, seed) => {
        const configs = spaceConfigs(kMax); // plain AR included
        const cfg = configs[pick % configs.length];
        const { k, layout } = cfg;
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

  it("the cost model falls back to plain AR when candidates are rejected, grows k back when accepted", () => {
    const cost = costFromTable([{ T: 1, ms: 1 }, { T: 100, ms: 5 }]);
    const model = new SpaceCostModel(spaceConfigs(5), cost, { prior: 0.9 });
    expect(model.choose().k).toBe(5);
    const verdict = (accepted: number) => ({ accepted, emitted: [], ended: false }) as never;
    for (let i = 0; i < 60; i++) model.observe(5, verdict(0));
    expect(model.best()).toBe(AR_CONFIG);
    expect(model.choose()).toBe(AR_CONFIG); // no probe yet: the last verdict reset the exploration credit
    expect(model.bestSpeculating()!.k).toBe(1);
    for (let i = 0; i < 60; i++) model.observe(1, verdict(1));
    expect(model.choose().k).toBeGreaterThan(1);
  });
});

describe("a new sequence (reset)", () => {
  const verdict = (accepted: number) => ({ accepted, emitted: [], ended: false }) as never;

  it("carryOver keeps the estimate but lets the next text's first verdicts move it", () => {
    const fresh = () => {
      const t = new AcceptanceTracker(2, { prior: 0.5, priorWeight: 2, decay: 0.95 });
      for (let i = 0; i < 200; i++) t.observe(2, 2); // a code prompt: everything accepted
      return t;
    };
    const kept = fresh(), carried = fresh();
    carried.carryOver(4);
    // The estimate is kept, worth 4 verdicts beside the prior's 2: (4 * ~1 + 2 * 0.5) / 6.
    expect(carried.alpha(1)).toBeGreaterThan(0.8);
    for (const t of [kept, carried]) for (let i = 0; i < 4; i++) t.observe(2, 0); // then chat: rejected
    expect(kept.alpha(1)).toBeGreaterThan(0.75); // ~20 verdicts of weight: 4 rejections barely move it
    expect(carried.alpha(1)).toBeLessThan(0.55); // weight 4 + 4 new: half way
    expect(carried.alpha(2)).toBeGreaterThan(0.8); // position 2 was not tried by these verdicts
  });

  it("SpaceCostModel.reset: acceptance carries over lightly, the first AR choice probes at once, the gap is no step's cost", () => {
    const cost: CostFn = (T) => 1 + 0.5 * T;
    /** A model after a text whose candidates were always rejected (100 verdicts: it runs AR). */
    const afterRejections = (carry: number) => {
      const clock = { now: 0 };
      const model = new SpaceCostModel(spaceConfigs(3), cost, { clock: () => clock.now, probeBudget: 0.01, carry });
      for (let i = 0; i < 100; i++) {
        const c = model.choose();
        model.planned(blockRows(c, 0));
        clock.now += cost(blockRows(c, 0));
        model.observe(1, verdict(0));
      }
      return { model, clock };
    };
    const { model, clock } = afterRejections(4);
    expect(model.choose()).toBe(AR_CONFIG); // the last verdict reset the credit
    const corrections = configWidths(model.configs).map((T) => model.correction(T));
    clock.now += 10_000; // between sequences: tokenising, the caller's work
    model.reset();
    const first = model.choose();
    expect(isAr(first)).toBe(false); // probes at once, as before any verdict
    model.planned(blockRows(first, 0));
    expect(configWidths(model.configs).map((T) => model.correction(T))).toEqual(corrections);
    // The next text accepts everything: with the light carry-over a few verdicts take the model off AR;
    // with one running estimate (carry Infinity) it takes several times as many.
    const verdictsUntilSpeculating = (m: SpaceCostModel) => {
      let n = 0;
      while (isAr(m.best()) && n < 1000) m.observe(1, verdict(1)), n++;
      return n;
    };
    const light = verdictsUntilSpeculating(model);
    const heavy = afterRejections(Infinity).model;
    heavy.reset();
    const running = verdictsUntilSpeculating(heavy);
    expect(light).toBeLessThan(15);
    expect(running).toBeGreaterThan(2 * light);
  });

  it("SpaceProposer.reset (generate, before each sequence) resets its auto", async () => {
    const e = await engineFromBytes(tinyModelBytes({ seed: 5 }));
    try {
      let resets = 0;
      const configs = spaceConfigs(2);
      const auto: SpaceAuto = { configs, choose: () => configs[1], observe() {}, reset: () => void resets++ };
      const proposer = new SpaceProposer({ k: 2, mask: { token: 3 }, vocabSize: e.config.vocabSize, auto });
      for (let i = 0; i < 2; i++) {
        const ctx = e.newContext(16, proposer.maxExtraRows);
        try {
          await generate(ctx, [5, 6, 7], proposer, { maxTokens: 4, banned: new Set([3]) });
        } finally {
          ctx.dispose();
        }
      }
      expect(resets).toBe(2);
    } finally {
      e.close();
    }
  });
});

describe("the AR fallback and its probes", () => {
  /**
   * Runs the model for `steps` steps against a simulated mask source: the proposer's candidate state (k
   * candidates after a step with a group after the last accepted one, else none; a smaller next k keeps
   * the first ones) and a true acceptance rate per step. Time is the model's own cost(T) of each block.
   */
  function simulate(model: SpaceCostModel, steps: number, trueAlpha: (step: number) => number, seed = 1) {
    const rng = new Rng(seed);
    const picks: SpaceConfig[] = [];
    let carried = 0, time = 0, tokens = 0;
    for (let s = 0; s < steps; s++) {
      const c = model.choose();
      picks.push(c);
      const m = Math.min(carried, c.k);
      let n = 0;
      while (n < m && rng.next() < trueAlpha(s)) n++;
      time += model.cost(blockRows(c, m));
      tokens += n + 1;
      model.observe(m, { accepted: n, emitted: [], ended: false } as never);
      carried = c.layout.groupAfter(n, m) ? c.k : 0;
    }
    return { picks, time, tokens };
  }

  it("no configuration would beat AR even if 9 candidates in 10 were accepted: AR at every step, no probe", () => {
    const model = new SpaceCostModel(spaceConfigs(4), TINY_CURVE, { probeBudget: 0.05 });
    // Tail, k = 1 at alpha 0.9: 1.9 tokens for 2.0 units; every wider block pays less per row.
    const { picks, time, tokens } = simulate(model, 1000, () => 0.3);
    expect(picks.every(isAr)).toBe(true);
    expect(model.counts.probes).toBe(0);
    expect(time).toBe(tokens * TINY_CURVE(1));
  });

  it("nothing beats AR at the acceptance seen: AR steps, and probes (the best speculating configuration, two steps) within their budget", () => {
    const budget = 0.05;
    // Rows at 0.4 of AR's 1.4: AR wins below alpha ~0.67, the tail layout (k = 2) at 0.9.
    const curve: CostFn = (T) => 1 + 0.4 * T;
    const model = new SpaceCostModel(spaceConfigs(4), curve, { probeBudget: budget });
    const { picks, time, tokens } = simulate(model, 4000, () => 0.3);
    // No verdict yet, so the first choice probes; on this curve every speculating step is a probe step.
    expect(isAr(picks[0])).toBe(false);
    expect(picks[1]).toBe(picks[0]);
    expect(model.counts.speculating).toBe(2 * model.counts.probes);
    for (let i = 0; i < picks.length; i++) if (!isAr(picks[i]) && (i === 0 || isAr(picks[i - 1]))) expect(picks[i + 1], `step ${i}`).toBe(picks[i]);
    // The estimate stays alive (a probe every few dozen steps here), and costs at most ~the budget.
    expect(model.counts.probes).toBeGreaterThan(50);
    const overhead = time / (tokens * curve(1)) - 1;
    expect(overhead).toBeGreaterThan(0);
    expect(overhead).toBeLessThan(budget * 1.2);
    expect(model.tracker.alpha(1)).toBeCloseTo(0.3, 0);
  });

  it("a probe is paid for by AR steps: none between a verdict and the credit for its extra cost", () => {
    const cost: CostFn = (T) => 1 + 0.5 * T;
    const model = new SpaceCostModel(spaceConfigs(3), cost, { probeBudget: 0.1 });
    const { picks } = simulate(model, 400, () => 0);
    const p = model.bestSpeculating()!;
    const gap = Math.ceil(probeCost(p, (j) => model.tracker.alpha(j), cost).extra / (0.1 * cost(1)));
    // Once alpha has settled (the last probes), AR steps between two probes = the credit for one.
    const starts = picks.flatMap((c, i) => (!isAr(c) && (i === 0 || isAr(picks[i - 1])) ? [i] : [])).slice(-8);
    const gaps = starts.slice(1).map((s, i) => s - starts[i] - 2);
    expect(gaps).toHaveLength(7);
    for (const g of gaps) expect(Math.abs(g - gap), `gaps ${gaps}, want ${gap}`).toBeLessThanOrEqual(1);
  });

  it("when the masks start being accepted, the model leaves AR", () => {
    const model = new SpaceCostModel(spaceConfigs(6), (T) => 1 + 0.2 * T, { probeBudget: 0.05 });
    const { picks } = simulate(model, 2000, (s) => (s < 1000 ? 0 : 0.95));
    const speculating = (from: number, to: number) => picks.slice(from, to).filter((c) => !isAr(c)).length / (to - from);
    // AR, and its probes: the cheapest (tail, k = 1: blocks of 2 and 3 rows, 3.0 units for 2 tokens)
    // costs 0.6 units more than AR's 2 tokens, earned at 5% of cost(1) = 0.06 per AR step: 2 speculating
    // steps in every 12, 0.167.
    expect(speculating(500, 1000)).toBeLessThan(0.18);
    expect(speculating(1300, 2000)).toBeGreaterThan(0.9);
  });

  it("probeBudget 0: one probe (before the first verdict), then AR for good", () => {
    const model = new SpaceCostModel(spaceConfigs(4), (T) => 1 + 0.4 * T, { probeBudget: 0 });
    const { picks } = simulate(model, 500, () => 0.5);
    expect(model.counts.probes).toBe(1);
    expect(picks.slice(2).every(isAr)).toBe(true);
  });
});

describe("calibration by the steps' own wall time", () => {
  /**
   * Runs `steps` steps with a fake clock: a step of width T takes trueCost(T) ms, plus `extra` ms when it
   * speculates (what a step costs beyond its forward pass). The model is told each block's rows by
   * planned(), as SpaceProposer does. Acceptance: every candidate accepted with probability alpha.
   */
  function run(model: SpaceCostModel, clock: { now: number }, steps: number, trueCost: CostFn, extra: number, alpha = 0.8) {
    const rng = new Rng(4);
    const picks: SpaceConfig[] = [];
    const widths: number[] = [];
    let carried = 0, tokens = 0;
    const t0 = clock.now;
    for (let s = 0; s < steps; s++) {
      const c = model.choose();
      const m = Math.min(carried, c.k);
      const rows = blockRows(c, m);
      model.planned(rows);
      picks.push(c);
      widths.push(rows);
      clock.now += trueCost(rows) + (isAr(c) ? 0 : extra);
      let n = 0;
      while (n < m && rng.next() < alpha) n++;
      tokens += n + 1;
      model.observe(m, { accepted: n, emitted: [], ended: false } as never);
      carried = c.layout.groupAfter(n, m) ? c.k : 0;
    }
    return { picks, widths, tokensPerMs: tokens / (clock.now - t0) };
  }
  const curve: CostFn = (T) => 1 + 0.2 * T; // the forward pass: SPACE pays at alpha 0.8 by this alone

  it("steps that cost more than their forward pass (an overhead of 3 ms a step) turn the model to AR", () => {
    const clock = { now: 0 };
    const model = new SpaceCostModel(spaceConfigs(4), curve, { clock: () => clock.now });
    expect(isAr(model.best())).toBe(false);
    const { picks, tokensPerMs } = run(model, clock, 600, curve, 3);
    const late = picks.slice(300);
    expect(late.filter((c) => !isAr(c)).length / late.length).toBeLessThan(0.2); // AR, and probes
    // AR's rate is 1 / 1.2 tokens per ms; speculating at that overhead would be far below it.
    expect(tokensPerMs).toBeGreaterThan(0.9 / 1.2);
    const wide = configWidths(model.configs).filter((T) => T > 1);
    expect(wide.some((T) => model.correction(T) > 1.5)).toBe(true);
    expect(model.correction(1)).toBeCloseTo(1, 5);
  });

  it("a new text starts from the measured costs: a correction learnt on long contexts does not make AR look dear on a short one", () => {
    const clock = { now: 0 };
    const model = new SpaceCostModel(spaceConfigs(4), curve, { clock: () => clock.now });
    // A long text: every row attends to many keys, so every step costs 1.5 ms more than its forward pass.
    run(model, clock, 200, (T) => curve(T) + 1.5 * T, 0, 0.1);
    expect(model.correction(1)).toBeGreaterThan(1.5);
    model.reset();
    for (const T of configWidths(model.configs)) expect(model.correction(T)).toBe(1);
    // A short text after it: the steps cost their forward pass, and at alpha 0.1 AR is the right choice.
    const { picks } = run(model, clock, 200, curve, 0, 0.1);
    expect(picks.slice(50).filter((c) => !isAr(c)).length / 150).toBeLessThan(0.2);
  });

  it("the shape the steps found carries to the next text (a start-up curve that says rows are free); the level does not", () => {
    const clock = { now: 0 };
    const measured: CostFn = (T) => 1.1 + 0.1 * T; // rows at half their true cost: a noisy start-up measurement
    const model = new SpaceCostModel(spaceConfigs(4), measured, { clock: () => clock.now });
    const slow = (T: number) => 1.3 * curve(T); // this text's steps: 1.3 times the curve's level, its shape
    const { widths } = run(model, clock, 400, slow, 0, 0.5); // AR steps and speculating ones
    // Widths run three times or more (a correction resting on fewer steps is not yet the machine's word).
    const ran = configWidths(model.configs).filter((T) => T > 1 && widths.filter((w) => w === T).length >= 3);
    expect(ran.length).toBeGreaterThan(1);
    model.reset();
    for (const T of configWidths(model.configs)) expect(model.correction(T)).toBe(1); // the level: measured again
    // cost(T) / cost(1) as the steps showed it, not as measured: at most half the measured curve's error
    // (a running mean still holds its prior step: widths run a few times only are partly corrected).
    for (const T of ran) {
      const truth = curve(T) / curve(1), error = Math.abs(measured(T) / measured(1) - truth);
      expect(Math.abs(model.stepCost(T) / model.stepCost(1) - truth), `T = ${T}`).toBeLessThan(0.5 * error);
    }
    // The level of the next text is its own: cost(1) is the measured one until its steps say otherwise.
    expect(model.stepCost(1)).toBe(measured(1));
  });

  it("a change of the machine's speed within a text is no shape; a shape its width no longer tests relaxes to the measured curve", () => {
    const clock = { now: 0 };
    const model = new SpaceCostModel(spaceConfigs(4), curve, { clock: () => clock.now });
    const ratio = (T: number) => model.stepCost(T) / model.stepCost(1) / (curve(T) / curve(1));
    // One text: its first half on a machine 1.8x slower, its second half at the curve's speed.
    const { widths } = run(model, clock, 300, (T) => 1.8 * curve(T), 0, 0.5);
    run(model, clock, 300, curve, 0, 0.5);
    model.reset();
    const ran = configWidths(model.configs).filter((T) => T > 1 && widths.filter((w) => w === T).length >= 3);
    expect(ran.length).toBeGreaterThan(1);
    for (const T of ran) expect(Math.abs(ratio(T) - 1), `T = ${T}`).toBeLessThan(0.1);

    // A text whose wide steps really cost 1.8x their measured price: the shape follows...
    run(model, clock, 400, (T) => (T > 1 ? 1.8 : 1) * curve(T), 0, 0.5);
    model.reset();
    const dear = ran.filter((T) => ratio(T) > 1.4);
    expect(dear.length).toBeGreaterThan(0);
    // ...and texts that run AR steps only (the widths never tested again) take it back half way each.
    for (let text = 0; text < 4; text++) {
      const before = dear.map(ratio);
      for (let i = 0; i < 10; i++) model.planned(1), (clock.now += curve(1));
      model.reset();
      dear.forEach((T, i) => expect(Math.log(ratio(T)), `T = ${T}`).toBeCloseTo(Math.log(before[i]) / 2, 6));
    }
  });

  it("a text that would speculate from its first step still times AR steps, so a start-up cost(1) measured too dear is corrected", () => {
    const truth: CostFn = (T) => 1 + 0.4 * T; // AR 1.4; at alpha 0.3 AR is the best choice
    const measured: CostFn = (T) => (T === 1 ? 2.2 : truth(T)); // AR measured in a slow phase
    const clock = { now: 0 };
    const model = new SpaceCostModel(spaceConfigs(3), measured, { clock: () => clock.now });
    expect(isAr(model.best())).toBe(false); // by the measured curve, speculating beats AR
    const { picks } = run(model, clock, 400, truth, 0, 0.3);
    expect(picks.slice(0, 16).filter(isAr).length).toBeGreaterThanOrEqual(3); // the level's samples
    expect(model.correction(1)).toBeLessThan(0.8);
    expect(picks.slice(200).filter(isAr).length / 200).toBeGreaterThan(0.8); // AR and probes
  });

  it("without the overhead it keeps speculating, and calibrate: false ignores the clock", () => {
    const clock = { now: 0 };
    const honest = new SpaceCostModel(spaceConfigs(4), curve, { clock: () => clock.now });
    const a = run(honest, clock, 600, curve, 0);
    expect(a.picks.slice(300).filter((c) => !isAr(c)).length).toBeGreaterThan(270);
    const blind = new SpaceCostModel(spaceConfigs(4), curve, { clock: () => clock.now, calibrate: false });
    const b = run(blind, clock, 600, curve, 3);
    expect(b.picks.slice(300).filter((c) => !isAr(c)).length).toBeGreaterThan(270);
    expect(configWidths(blind.configs).every((T) => blind.correction(T) === 1)).toBe(true);
  });

  it("a stall (a step 1000x its cost) moves the correction at most to the clip, and it recovers", () => {
    const clock = { now: 0 };
    const model = new SpaceCostModel([AR_CONFIG], curve, { clock: () => clock.now });
    model.planned(1);
    clock.now += 1000 * curve(1);
    model.planned(1);
    expect(model.correction(1)).toBeLessThanOrEqual(2.5); // (1 + 4) / 2: the prior step and the clipped one
    for (let i = 0; i < 40; i++) {
      clock.now += curve(1);
      model.planned(1);
    }
    expect(model.correction(1)).toBeLessThan(1.05);
  });
});

describe("lookup steps", () => {
  const verdict = (accepted: number) => ({ accepted, emitted: [], ended: false }) as never;
  // A CPU-like curve: every row costs 0.3 of AR's (SmolLM2 on 2 cores); masks never pay on it.
  const rows: CostFn = (T) => 1 + 0.3 * (T - 1);

  it("run only at a match, and only while the copies pay: a rejected n-gram length falls back to AR", () => {
    const model = new SpaceCostModel(spaceConfigs(3), rows, { probeBudget: 0 });
    model.observe(1, verdict(0)); // one mask verdict: no probing from here on (budget 0)
    expect(model.choose({ lookup: 0 })).toBe(AR_CONFIG);
    const first = model.choose({ lookup: 3 }); // the prior (0.5) pays for one copied token: 1.5 / 1.3
    expect(isLookup(first) && first.k).toBe(1);
    for (let i = 0; i < 40; i++) model.observe(1, verdict(0), "lookup"), model.choose({ lookup: 3 });
    expect(model.choose({ lookup: 3 })).toBe(AR_CONFIG); // length-3 matches are always wrong here
    expect(isLookup(model.choose({ lookup: 2 }))).toBe(true); // length 2 keeps its own (prior) estimate
  });

  it("a class that fell below AR is retried from a third of the probe budget, and comes back once its copies hold", () => {
    // No mask configuration: lookup retries alone, without mask probes beside them.
    const configs = spaceConfigs(3).filter((c) => isAr(c) || isLookup(c));
    const model = new SpaceCostModel(configs, rows, { probeBudget: 0.03 });
    let tries = 0, arSteps = 0;
    const phase = (steps: number, accepted: number) => {
      const picks: SpaceConfig[] = [];
      for (let i = 0; i < steps; i++) {
        const c = model.choose({ lookup: 3 });
        picks.push(c);
        if (isLookup(c)) tries++, model.observe(1, verdict(accepted), "lookup");
        else arSteps++;
      }
      return picks;
    };
    phase(10, 0); // copies of 3-grams rejected: the class falls below AR
    tries = arSteps = 0;
    phase(3000, 0);
    // Each retry costs cost(2) - (1 + a_1) cost(1) ~ 0.3 - a_1 units beyond AR; the credit is 0.01 of an
    // AR step's cost per AR step, so a retry comes every few dozen steps and costs ~1% of the time.
    expect(tries).toBeGreaterThan(30);
    const overhead = (tries * (rows(2) - 1)) / (arSteps + tries);
    expect(overhead).toBeLessThan(0.03 / 3 + 0.002);
    const later = phase(300, 1); // the text turns to copying: a few retries accepted bring the class back
    expect(later.slice(150).every(isLookup)).toBe(true);
  });

  it("a store draft's class starts from the lower prior: one try on a 1.2 curve, then AR until a verdict says otherwise", () => {
    const curve: CostFn = (T) => 1 + 0.2 * (T - 1);
    const model = new SpaceCostModel(spaceConfigs(3), curve, { probeBudget: 0 });
    model.observe(1, verdict(0));
    expect(model.lookupAcceptance(STORE_CLASS).alpha(1)).toBeCloseTo(0.3, 12);
    expect(model.lookupAcceptance(2).alpha(1)).toBeCloseTo(0.5, 12); // the text's own matches: 0.5
    expect(isLookup(model.choose({ lookup: STORE_CLASS + 1 }))).toBe(true); // 1.3 / 1.2 pays, barely
    model.observe(1, verdict(0), "lookup");
    expect(model.choose({ lookup: STORE_CLASS + 1 })).toBe(AR_CONFIG); // one miss: no longer
    expect(isLookup(model.choose({ lookup: 3 }))).toBe(true); // another class: its own estimate
  });

  it("accepted copies grow d up to the widest configuration", () => {
    const model = new SpaceCostModel(spaceConfigs(4), rows);
    const widths: number[] = [];
    for (let i = 0; i < 100; i++) {
      const c = model.choose({ lookup: 2 });
      widths.push(c.k);
      expect(isLookup(c)).toBe(true);
      model.observe(c.k, verdict(c.k), "lookup");
    }
    expect(model.choose({ lookup: 2 })).toEqual({ k: 4, layout: LOOKUP_LAYOUT });
    expect(widths.slice(0, 3)).toEqual([1, 2, 3]); // one more copied token at a time
    expect(model.bestLookup(2)!.rate).toBeGreaterThan(2 / rows(1)); // > 2 tokens per AR step's time
  });

  it("lookup verdicts leave the masks' acceptance, decision and exploration alone", () => {
    const model = new SpaceCostModel(spaceConfigs(3), TINY_CURVE, { probeBudget: 0.05 });
    model.observe(3, verdict(0)); // masks rejected: AR, and the credit restarts from 0
    const alphas = () => [1, 2, 3].map((j) => model.tracker.alpha(j));
    const before = alphas();
    const steps = (n: number) => Array.from({ length: n }, () => model.choose()).filter((c) => !isAr(c)).length;
    const arOnly = new SpaceCostModel(spaceConfigs(3), TINY_CURVE, { probeBudget: 0.05 });
    arOnly.observe(3, verdict(0));
    for (let i = 0; i < 30; i++) model.observe(2, verdict(2), "lookup"); // a run of copies, all accepted
    expect(alphas()).toEqual(before);
    expect(steps(200)).toBe(Array.from({ length: 200 }, () => arOnly.choose()).filter((c) => !isAr(c)).length);
  });

  it("lookup blocks calibrate their own cost: slow lookup steps move neither AR's nor the masks' correction", () => {
    const clock = { now: 0 };
    const model = new SpaceCostModel(spaceConfigs(2), rows, { clock: () => clock.now, lookupCost: rows });
    for (let i = 0; i < 10; i++) {
      model.planned(3, true); // a lookup block of 3 rows...
      clock.now += 3 * rows(3); // ...that took 3x its cost
    }
    model.planned(1);
    expect(model.correction(3, true)).toBeGreaterThan(2);
    expect(model.correction(3)).toBe(1);
    expect(model.correction(1)).toBe(1);
    expect(model.lookupStepCost(3)).toBeCloseTo(rows(3) * model.correction(3, true), 9);
  });
});

describe("coverage: the cost model only picks layouts the exactness tests cover", () => {
  it("every configuration of every mask source is plain AR, or has a layout in AUTO_LAYOUTS or the lookup layout and k in [1, kMax]", () => {
    for (let kMax = 1; kMax <= MAX_K; kMax++) {
      const configs = spaceConfigs(kMax);
      expect(configs[0]).toBe(AR_CONFIG);
      for (const c of configs.slice(1)) {
        expect([...AUTO_LAYOUTS, LOOKUP_LAYOUT]).toContain(c.layout);
        expect(c.k >= 1 && c.k <= kMax).toBe(true);
      }
      expect(configs.filter(isLookup).map((c) => c.k)).toEqual(Array.from({ length: kMax }, (_, i) => i + 1));
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
          for (const [i, [n, ended]] of verdicts.entries()) {
            const match = i % 4; // 0: no lookup match at this step
            const c = model.choose({ lookup: match });
            expect(configs).toContain(c);
            if (isLookup(c)) expect(match).toBeGreaterThan(0);
            model.observe(c.k, { accepted: Math.min(n, c.k), emitted: [], ended } as never, isLookup(c) ? "lookup" : "masks");
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
    let arSteps = 0, probes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          nLayers: fc.integer({ min: 1, max: 2 }),
          prompt: fc.array(fc.integer({ min: 3, max: V - 1 }), { minLength: 1, maxLength: 16 }),
          kMax: fc.integer({ min: 1, max: 5 }),
          mask: fc.integer({ min: 3, max: V - 1 }),
          maxTokens: fc.integer({ min: 1, max: 30 }),
          // Tenths (fc.double keeps to its ends): flat curves, steep ones where nothing pays, and between.
          slope: fc.integer({ min: 0, max: 20 }).map((x) => x / 10),
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
          arSteps += model.counts.ar;
          probes += model.counts.probes;
        },
      ),
      { numRuns: 25 },
    );
    // The real cost model ran plain AR steps and probes in these runs, not only SPACE blocks.
    expect(arSteps).toBeGreaterThan(0);
    expect(probes).toBeGreaterThan(0);
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

  it("measureCost with an adapter: every block wider than one row runs its LoRA on rows 1..T-1; cached per adapter", async () => {
    const e = await engineFromBytes(tinyModelBytes({ seed: 5 }));
    engines.push(e);
    const cfg = e.config;
    const lora = new Map<string, Float32Array>();
    for (let l = 0; l < cfg.nLayers; l++) {
      const { K, N } = targetShape(cfg, "attn_q");
      lora.set(loraName(l, "attn_q", "a"), new Float32Array(4 * K).fill(0.01));
      lora.set(loraName(l, "attn_q", "b"), new Float32Array(N * 4).fill(0.01));
    }
    const meta = { baseSha256: "0".repeat(64), baseName: "tiny", k: 2, rank: 4, targets: ["attn_q" as const], maskToken: 9, maskEmbeddings: 1, nLayers: cfg.nLayers, dModel: cfg.dModel };
    const rows = new LoraRows(e.core, e.arena, loadLora(e.arena, cfg, { meta, maskEmbd: new Float32Array(cfg.dModel), lora }), 64, cfg);
    const seen: number[][] = []; // the adapter rows of each apply() at layer 0
    const apply = rows.apply.bind(rows);
    rows.apply = (layer, target, x, y, r) => (layer === 0 && target === "attn_q" && seen.push(Array.from(r)), apply(layer, target, x, y, r));
    const configs = spaceConfigs(2);
    measureCost(e, configs, { warmup: 0, repeats: 1, lora: rows });
    const widths = configWidths(configs);
    // One pass per width, its LoRA on the rows after the first (AR's one-row block has none).
    expect(seen.map((r) => r.length + 1).sort((a, b) => a - b)).toEqual(widths.filter((T) => T > 1));
    for (const r of seen) expect(r).toEqual(Array.from({ length: r.length }, (_, i) => i + 1));
    measureCost(e, configs, { lora: rows });
    expect(seen).toHaveLength(widths.length - 1); // cached for this adapter
    measureCost(e, configs, { warmup: 0, repeats: 1 });
    expect(seen).toHaveLength(widths.length - 1); // no adapter: its own measurement, no LoRA rows
    // autoSpace: mask blocks on the adapter's curve, lookup blocks (no mask rows) on the plain one.
    const model = autoSpace(e, 2, { lora: rows });
    expect(seen).toHaveLength(widths.length - 1); // both curves were cached: nothing measured again
    const plain = measureCost(e, configs), withLora = measureCost(e, configs, { lora: rows });
    for (const T of [2, 3]) {
      expect(model.lookupStepCost(T)).toBe(plain(T));
      expect(model.stepCost(T)).toBe(withLora(T));
    }
  });
});

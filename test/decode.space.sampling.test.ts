/**
 * Lossless sampling, statistically: on a tiny model, the tokens that space (fixed layouts, and every
 * configuration of the cost model, plain AR steps included, switched at random), spec and lookup sample are
 * distributed exactly like AR sampling's. The reference is the exact AR distribution of the first three
 * tokens, p(t1) p(t2 | t1) p(t3 | t1, t2), computed by teacher forcing with an independent f64 reference
 * of the sampling rule (test/helpers/reference-sampling.ts: temperature, top-k, top-p, banned ids), not
 * with the `distribution` the decoders use; each decoder's samples (one run per seed) are tested against
 * it with Pearson's chi-square at alpha = 0.001, on the joint and on each position's marginal.
 *
 * The same test, with the same seeds, must REJECT the published code's rule (on rejection, resample from
 * p instead of the residual norm(max(0, p - q))): that shows the sample size has the power to see the bias.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { SpaceProposer, LEAN_LAYOUT, type SpaceAuto } from "../src/decode/space.js";
import { spaceConfigs } from "../src/decode/costmodel.js";
import { Rng } from "../src/util/rng.js";
import { SpecProposer } from "../src/decode/spec.js";
import { LookupProposer } from "../src/decode/lookup.js";
import { chainBlock, range } from "../src/decode/block.js";
import type { SamplingParams } from "../src/decode/sampling.js";
import { referenceDistribution } from "./helpers/reference-sampling.js";
import { verifySampled } from "../src/decode/verify.js";
import { tinyEngine } from "./helpers/engine.js";
import { chiSquare, gammaQ } from "./helpers/stats.js";

const ALPHA = 0.001;
const N = 3000; // samples per decoder
const TOKENS = 3;
const PROMPT = [60, 61, 62, 60, 61];
const MASK = 150;
const BANNED = new Set([0, 1, 2, MASK]); // no end-of-generation: every sample has TOKENS tokens
const PARAMS: SamplingParams = { temperature: 3, topK: 8, topP: 0.95 }; // flat enough that masks and drafts overlap p

/** The published code's flaw: on rejection, draw from p itself. */
const resampleFromP: typeof verifySampled = (c, p, q, rng, isEog) => verifySampled(c, p, q, rng, isEog, (pi) => pi);

let engine: Engine;
let exact: { joint: Map<string, number>; marginals: Map<string, number>[] };

beforeAll(async () => {
  engine = await tinyEngine({ seed: 31 });
  exact = exactArDistribution();
});
afterAll(() => engine.close());

/** p(t1 .. t_TOKENS) by teacher forcing: f64 probabilities keyed "t1,t2,t3", and each position's marginal. */
function exactArDistribution() {
  const joint = new Map<string, number>();
  const marginals = Array.from({ length: TOKENS }, () => new Map<string, number>());
  const ctx = engine.newContext(PROMPT.length + TOKENS, 0);
  const V = engine.config.vocabSize;
  const walk = (prefix: number[], prob: number) => {
    if (prefix.length === TOKENS) {
      joint.set(prefix.join(","), prob);
      prefix.forEach((t, i) => marginals[i].set(String(t), (marginals[i].get(String(t)) ?? 0) + prob));
      return;
    }
    ctx.cache.truncate(0);
    const ids = [...PROMPT, ...prefix];
    const logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, ids, [ids.length - 1])).slice(0, V);
    // The independent f64 reference, not the `distribution` under test (helpers/reference-sampling.ts).
    const ref = referenceDistribution(logits, PARAMS, BANNED);
    expect(ref.margin, "a top-p cut this close to p would make the reference ambiguous").toBeGreaterThan(1e-9);
    for (const [id, q] of ref.probs) walk([...prefix, id], prob * q);
  };
  walk([], 1);
  ctx.dispose();
  return { joint, marginals };
}

/** N runs (seeds 1..N) of TOKENS sampled tokens: counts of the joint and of each position. */
async function sampleCounts(make: (contextTokens: number) => { proposer: Proposer; dispose?: () => void }, verify?: typeof verifySampled) {
  const contextTokens = PROMPT.length + TOKENS;
  const { proposer, dispose } = make(contextTokens);
  const ctx = engine.newContext(contextTokens, proposer.maxExtraRows);
  const joint = new Map<string, number>();
  const marginals = Array.from({ length: TOKENS }, () => new Map<string, number>());
  let accepted = 0;
  for (let seed = 1; seed <= N; seed++) {
    ctx.cache.truncate(0);
    const r = await generate(ctx, PROMPT, proposer, { maxTokens: TOKENS, sampling: PARAMS, seed, banned: BANNED, verifySampled: verify });
    expect(r.tokens).toHaveLength(TOKENS);
    joint.set(r.tokens.join(","), (joint.get(r.tokens.join(",")) ?? 0) + 1);
    r.tokens.forEach((t, i) => marginals[i].set(String(t), (marginals[i].get(String(t)) ?? 0) + 1));
    accepted += r.stats.accept_histogram.reduce((a, count, n) => a + count * n, 0);
  }
  ctx.dispose();
  dispose?.();
  return { joint, marginals, accepted };
}

function pValues(counts: Awaited<ReturnType<typeof sampleCounts>>) {
  return {
    joint: chiSquare(counts.joint, exact.joint, N).pValue,
    positions: counts.marginals.map((m, i) => chiSquare(m, exact.marginals[i], N).pValue),
  };
}

const V = () => engine.config.vocabSize;
const decoders: Record<string, (contextTokens: number) => { proposer: Proposer; dispose?: () => void }> = {
  ar: () => ({ proposer: new ArProposer() }),
  "space k=2": () => ({ proposer: new SpaceProposer({ k: 2, mask: { token: MASK }, vocabSize: V() }) }),
  "space k=3 lean": () => ({ proposer: new SpaceProposer({ k: 3, mask: { token: MASK }, layout: LEAN_LAYOUT, vocabSize: V() }) }),
  // Every configuration the cost model may pick, switched at random each step: AR steps drop sampled candidates.
  "space auto (random switching, AR steps included)": () => {
    const configs = spaceConfigs(3);
    const rng = new Rng(7);
    const auto: SpaceAuto = { configs, choose: () => configs[Math.floor(rng.next() * configs.length)], observe() {} };
    return { proposer: new SpaceProposer({ k: 3, mask: { token: MASK }, vocabSize: V(), auto }) };
  },
  "spec k=2 (1-layer draft)": (contextTokens) => {
    const draft = engine.newContext(contextTokens, 2, { layers: 1 });
    return { proposer: new SpecProposer({ k: 2, draft, vocabSize: V() }), dispose: () => draft.dispose() };
  },
  "lookup k=2": () => ({ proposer: new LookupProposer({ k: 2 }) }),
};

describe("speculative sampling is lossless (chi-square against the exact AR distribution, alpha = 0.001)", () => {
  it("the chi-square p-value is right (df = 3: 16.27 is the 0.001 critical value)", () => {
    expect(gammaQ(1.5, 16.27 / 2)).toBeCloseTo(0.001, 4);
    expect(gammaQ(5, 0)).toBe(1);
  });

  for (const [name, make] of Object.entries(decoders)) {
    it(`${name}: joint and per-position distributions match AR sampling`, async () => {
      const counts = await sampleCounts(make);
      const p = pValues(counts);
      expect(p.joint, `${name}: joint p-value`).toBeGreaterThan(ALPHA);
      p.positions.forEach((pv, i) => expect(pv, `${name}: token ${i + 1} p-value`).toBeGreaterThan(ALPHA));
      if (name !== "ar") expect(counts.accepted, `${name} accepted some candidates`).toBeGreaterThan(N / 10);
    });
  }

  for (const name of ["space k=2", "spec k=2 (1-layer draft)"]) {
    it(`${name} with the published code's rule (resample from p on rejection) is rejected by the same test`, async () => {
      const p = pValues(await sampleCounts(decoders[name], resampleFromP));
      expect(Math.min(p.joint, ...p.positions)).toBeLessThan(ALPHA);
    });
  }
});

/**
 * Base-preserving SAR-SFT (spec/adapter.md): an adapter (mask embeddings + LoRA on mask rows) trained on
 * self-distilled data through the frozen base.
 *  - After real training steps, every non-mask logit is bit-identical to the base model's, and SPACE's
 *    greedy output equals AR's on the base.
 *  - The mask rows of the training graph compute exactly the decoder's mask rows (bit for bit).
 *  - Adapter gradients agree with finite differences of the loss.
 *  - Training raises tau (an adapter that never trains fails this).
 *  - The adapter GGUF round-trips; a wrong base is refused with E_MODEL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { SpaceProposer, spaceBlock } from "../src/decode/space.js";
import { Rng } from "../src/util/rng.js";
import { AdapterTrainer, liveLoraRows } from "../src/train/adapter.js";
import { appendedSample, drawAppended, type SarSample, type SftExample } from "../src/train/sar.js";
import {
  LORA_TARGETS, LoraRows, checkAdapterBase, decodeAdapter, encodeAdapter, loadLora, maskVectors, type AdapterData,
} from "../src/model/adapter.js";
import { SpaceError } from "../src/errors.js";
import { tinyEngine } from "./helpers/engine.js";

const K = 3;
const MASK = 5; // any id: the adapter's vectors replace its embedding
const SHA = "ab".repeat(32);
let e: Engine;
let data: SftExample[];

beforeAll(async () => {
  e = await tinyEngine({ seed: 11, nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, dFF: 96 });
  // Self-distillation: the base model's own greedy continuations of random prompts.
  const rng = new Rng(3);
  data = [];
  for (let i = 0; i < 6; i++) {
    const prompt = Array.from({ length: 4 + (i % 3) }, () => 3 + Math.floor(rng.next() * 250));
    const out = await run(prompt, new ArProposer(), 40);
    data.push({ prompt, response: out.tokens });
  }
});
afterAll(() => e.close());

async function run(prompt: number[], proposer: ConstructorParameters<typeof Object>[0], maxTokens: number) {
  const p = proposer as ArProposer;
  const ctx = e.newContext(prompt.length + maxTokens, p.maxExtraRows);
  try {
    return await generate(ctx, prompt, p, { maxTokens, banned: new Set([2]) });
  } finally {
    ctx.dispose();
  }
}

function trainer(totalSteps: number, seed = 0): AdapterTrainer {
  return new AdapterTrainer(e.core, e.arena, e.config, e.weights, {
    shape: { k: K, rank: 4, targets: LORA_TARGETS, maskToken: MASK }, maxPrefix: 64, maxMask: 8 * K, lr: 1e-2, totalSteps, seed,
  });
}

function batch(t: AdapterTrainer, n: number): SarSample[] {
  return Array.from({ length: n }, () => drawAppended(data[Math.floor(t.rng.next() * data.length)], { k: K, maskId: MASK, groups: 8 }, t.rng));
}

async function spaceTau(t: AdapterTrainer, lora: LoraRows): Promise<{ tau: number; same: boolean }> {
  const E = t.model.embd, D = e.config.dModel;
  const v = t.store.view(E, "data");
  const embeddings = Array.from({ length: E.rows }, (_, i) => v.slice(i * D, (i + 1) * D));
  let tokens = 0, passes = 0, same = true;
  for (const ex of data) {
    const prompt = Array.from(ex.prompt);
    const sp = await run(prompt, new SpaceProposer({ k: K, mask: { token: MASK, embeddings, lora }, vocabSize: e.config.vocabSize }), 40);
    const ar = await run(prompt, new ArProposer(), 40);
    same &&= JSON.stringify(sp.tokens) === JSON.stringify(ar.tokens);
    tokens += sp.tokens.length;
    passes += sp.stats.forward_passes;
  }
  return { tau: tokens / passes, same };
}

/** Each named tensor's gradient of batch b agrees with finite differences of the loss along it (2%). */
function expectGradientsMatchLoss(t: AdapterTrainer, b: SarSample[], names: string[]): void {
  t.gradients(b);
  for (const name of names) {
    const p = t.store.get(name)!;
    const g = t.store.view(p, "grad").slice();
    const theta = t.store.view(p, "data").slice();
    let gg = 0;
    for (const x of g) gg += x * x;
    expect(gg, name).toBeGreaterThan(0);
    const eps = 1e-2 / Math.sqrt(gg);
    const lossAt = (sign: number) => {
      t.store.view(p, "data").set(theta.map((x, i) => x + sign * eps * g[i]));
      return t.evaluate(b).loss;
    };
    const fd = (lossAt(1) - lossAt(-1)) / (2 * eps);
    t.store.view(p, "data").set(theta);
    expect(Math.abs(fd - gg) / gg, name).toBeLessThan(2e-2);
  }
}

describe("base-preserving adapter", () => {
  it("trains: loss falls, tau rises, output stays AR's, non-mask logits stay bit-identical", async () => {
    const mark = e.arena.mark();
    try {
      const t = trainer(60);
      const lora = liveLoraRows(e.core, e.arena, t.model, 64);
      const before = await spaceTau(t, lora);
      const evalBatch = data.map((ex) => appendedSample(ex, { k: K, maskId: MASK }, [0, 5, 10, 20]));
      const loss0 = t.evaluate(evalBatch).loss;
      for (let s = 0; s < 60; s++) t.step(batch(t, 2));
      const loss1 = t.evaluate(evalBatch).loss;
      const after = await spaceTau(t, lora);
      expect(loss1).toBeLessThan(loss0 * 0.5);
      expect(before.same && after.same).toBe(true);
      expect(after.tau).toBeGreaterThan(before.tau + 0.5);
      expect(after.tau).toBeGreaterThan(1.8);

      // One SPACE block through the trained adapter vs the plain base: non-mask rows bit-identical.
      const ex = data[0], prefix = [...Array.from(ex.prompt), ...Array.from(ex.response).slice(0, 6)];
      const D = e.config.dModel, v = t.store.view(t.model.embd, "data");
      const embeddings = Array.from({ length: K }, (_, i) => v.slice(i * D, (i + 1) * D));
      const cands = Array.from(ex.response).slice(6, 6 + K);
      const withA = spaceBlock(0, prefix, cands, K, { token: MASK, embeddings, lora });
      const without = spaceBlock(0, prefix, cands, K, { token: MASK });
      // Logits of every row from the last pending one (the decoder asks for fewer: see spec/space.md).
      const logits = (b: typeof withA.block) => {
        const ctx = e.newContext(prefix.length + 40, 40);
        try {
          const from = b.logitRows[0];
          return ctx.forward.run(ctx.cache, ctx.ws, { ...b, logitRows: Int32Array.from({ length: b.tokens.length - from }, (_, i) => from + i) }).slice();
        } finally {
          ctx.dispose();
        }
      };
      const la = logits(withA.block), lb = logits(without.block);
      const V = e.config.vocabSize;
      const rowsOf = (idx: Int32Array) => Array.from(idx, (r) => [r * V, (r + 1) * V] as const);
      const verifyIdx = Int32Array.from(withA.verifyRows, (i) => withA.block.logitRows[i] - (prefix.length - 1));
      for (const [a, b] of rowsOf(verifyIdx)) expect(new Uint32Array(la.slice(a, b).buffer)).toEqual(new Uint32Array(lb.slice(a, b).buffer));
      const maskIdx = Int32Array.from(withA.maskRows!, (r) => r - (prefix.length - 1));
      const [m0, m1] = rowsOf(maskIdx)[0];
      expect(Array.from(la.slice(m0, m1))).not.toEqual(Array.from(lb.slice(m0, m1)));

      // The training graph's mask rows are the decoder's mask rows, bit for bit (group after the prefix).
      const s = appendedSample({ prompt: ex.prompt, response: ex.response }, { k: K, maskId: MASK }, [6]);
      t.model.forward(s);
      const trainLogits = t.model.logits([0, 1, 2]);
      const P = ex.prompt.length;
      const rowsToCut = s.tokens.length - K; // the group follows the whole X + Y in the sample, seeing X + y_1..y_6
      const blk = spaceBlock(0, s.tokens.subarray(0, P + 6), [], K, { token: MASK, embeddings, lora });
      const dec = logits(blk.block);
      expect(rowsToCut).toBeGreaterThan(0);
      expect(new Uint32Array(trainLogits.buffer)).toEqual(new Uint32Array(dec.slice(V, (K + 1) * V).buffer));
    } finally {
      e.arena.reset(mark);
    }
  }, 120_000);

  it("gradients agree with finite differences of the loss (per tensor, along the gradient)", () => {
    const mark = e.arena.mark();
    try {
      const t = trainer(100, 1);
      for (let s = 0; s < 5; s++) t.step(batch(t, 2)); // B != 0, so every tensor has a gradient
      const b = batch(t, 2);
      expectGradientsMatchLoss(t, b, ["space.mask_embd", "blk.0.attn_q.lora_a", "blk.0.attn_k.lora_b", "blk.1.attn_v.lora_a", "blk.0.attn_output.lora_b", "blk.1.ffn_gate.lora_a", "blk.0.ffn_up.lora_b", "blk.1.ffn_down.lora_a"]);
    } finally {
      e.arena.reset(mark);
    }
  }, 60_000);

  it("round-trips through the adapter GGUF and refuses a wrong base", () => {
    const mark = e.arena.mark();
    try {
      const t = trainer(10, 2);
      t.step(batch(t, 2));
      const a: AdapterData = t.model.data({ baseSha256: SHA, baseName: "tiny" });
      const bytes = encodeAdapter(a, e.config);
      const b = decodeAdapter(bytes, "tiny-space.gguf");
      expect(b.meta).toEqual(a.meta);
      expect(b.maskEmbd).toEqual(a.maskEmbd);
      for (const [n, v] of a.lora) expect(b.lora.get(n), n).toEqual(v);
      expect(maskVectors(b)).toHaveLength(K);
      checkAdapterBase(b, e.config, SHA);
      expect(() => checkAdapterBase(b, e.config, "cd".repeat(32), "other.gguf")).toThrow(/wrong base/);
      try {
        checkAdapterBase(b, e.config, "cd".repeat(32));
      } catch (err) {
        expect(err).toBeInstanceOf(SpaceError);
        expect((err as SpaceError).code).toBe("E_MODEL");
      }
      const w = loadLora(e.arena, e.config, b);
      expect(w.layers).toHaveLength(e.config.nLayers);
    } finally {
      e.arena.reset(mark);
    }
  });

  it("runs the frozen prefix on other weights (prefixWeights): the loss moves a little, gradients still match the loss", async () => {
    const spec = { seed: 11, nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, dFF: 96 };
    const e2 = await tinyEngine(spec, { alsoWeights: ["q8"] });
    try {
      expect(() => e2.weightsIn("q4")).toThrow(/no q4 weights/);
      expect(e2.weightsIn("native")).toBe(e2.weights);
      const make = (prefixWeights?: typeof e2.weights) => new AdapterTrainer(e2.core, e2.arena, e2.config, e2.weights, {
        shape: { k: K, rank: 4, targets: LORA_TARGETS, maskToken: MASK }, maxPrefix: 64, maxMask: 8 * K, lr: 1e-2, totalSteps: 10, seed: 4, prefixWeights,
      });
      const own = make(), q8 = make(e2.weightsIn("q8"));
      // The same draws for both (each trainer's RNG starts from the same seed); two steps so that B != 0.
      for (let s = 0; s < 2; s++) {
        const b = batch(own, 2);
        own.step(b);
        q8.step(b);
      }
      const b = batch(own, 2);
      const lOwn = own.evaluate(b).loss, lQ8 = q8.evaluate(b).loss;
      expect(lQ8).not.toBe(lOwn); // the prefix's keys and values came from the q8 panels
      expect(Math.abs(lQ8 - lOwn) / lOwn).toBeLessThan(0.05);
      // The backward is the derivative of the loss it trains on.
      expectGradientsMatchLoss(q8, b, ["blk.1.attn_k.lora_b", "blk.0.attn_v.lora_a", "blk.0.ffn_up.lora_b"]);
    } finally {
      e2.close();
    }
  }, 60_000);
});

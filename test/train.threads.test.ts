/**
 * Adapter training on a worker pool: the frozen base's forward matmuls (prefix and mask rows) split by
 * output rows, the mask rows' attention by head x row, the backward matmuls by columns and the attention
 * backward by kv heads, so the trained adapter is bit-identical to training on one thread.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { GGML } from "../src/gguf/types.js";
import { Rng } from "../src/util/rng.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { drawAppended } from "../src/train/sar.js";
import { LORA_TARGETS } from "../src/model/adapter.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

// Wide enough that the pool runs the matmuls in parallel (it runs tiny ones inline).
const SPEC = { seed: 5, nLayers: 2, dModel: 256, nHeads: 4, nKvHeads: 2, dFF: 512, matrixType: GGML.Q4_1 };
const K = 2;

/** Trains 3 steps on fixed data; returns every parameter's values and the loss of each step. */
async function train(threads: number) {
  const e = await engineFromBytes(tinyModelBytes(SPEC), { threads, weights: "f32-rows" });
  engines.push(e);
  const calls = { attention: 0, attentionBack: 0 };
  const ex = e.executor as { attention: (a: never) => void; attentionBack: (a: never) => void };
  for (const name of ["attention", "attentionBack"] as const) {
    const inner = ex[name].bind(ex);
    ex[name] = (a) => (calls[name]++, inner(a));
  }
  const t = new AdapterTrainer(e.core, e.arena, e.config, e.weights, {
    shape: { k: K, rank: 2, targets: LORA_TARGETS, maskToken: 7 }, maxPrefix: 48, maxMask: 6 * K, lr: 1e-2, totalSteps: 3,
    executor: e.executor,
  });
  const rng = new Rng(9);
  const examples = Array.from({ length: 3 }, (_, i) => ({
    prompt: [10 + i, 20, 30],
    response: Array.from({ length: 24 }, () => 3 + Math.floor(rng.next() * 200)),
  }));
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const batch = examples.map((ex) => drawAppended(ex, { k: K, maskId: 7, groups: 6 }, t.rng));
    losses.push(t.step(batch).loss);
  }
  const params = t.store.list.map((p) => t.store.view(p, "data").slice());
  return { params, losses, parallel: e.executor.counters.parallelCalls, calls };
}

describe("adapter training on threads", () => {
  it("2 and 3 threads train a bit-identical adapter, and the pool really ran (attention and its backward too)", async () => {
    const one = await train(1);
    for (const threads of [2, 3]) { // 3 threads, 2 kv heads: one thread has no kv head of the backward
      const many = await train(threads);
      expect(many.parallel).toBeGreaterThan(0);
      // Every layer's mask-row attention and its backward went through the executor: 3 steps x 3 samples x 2 layers.
      expect(many.calls.attentionBack).toBe(18);
      expect(many.calls.attention).toBeGreaterThanOrEqual(18);
      expect(many.losses).toEqual(one.losses);
      expect(many.params.length).toBe(one.params.length);
      one.params.forEach((p, i) => {
        const a = new Uint32Array(p.buffer), b = new Uint32Array(many.params[i].buffer);
        expect(b.every((v, j) => v === a[j]), `${threads} threads: parameter ${i}`).toBe(true);
      });
    }
  });
});

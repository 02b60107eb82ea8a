/**
 * `npx tsx scripts/train-profile.ts [--threads 2] [--prefix-weights q4] [--samples 3]`: where one SmolLM2
 * adapter-training sample's time goes (k 5, rank 16, 32 groups, max prefix 640, the distilled training
 * split): the prefix's forward, the mask rows' forward, the loss and backward, and inside them the
 * executor's calls and the adapter's own steps (milliseconds, wall time, summed over a sample). The
 * model is the cached SmolLM2-135M-Instruct (scripts/fetch-models.mjs); spec/training.md quotes it.
 */
import { parseArgs } from "node:util";
import { loadEngine, SMOLLM2_PATH } from "../src/node/engine.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { trainingExamples } from "../src/node/train-run.js";
import { drawAppended } from "../src/train/sar.js";
import { LORA_TARGETS } from "../src/model/adapter.js";
import { Forward } from "../src/model/forward.js";
import type { WeightStorage } from "../src/model/weights.js";

const { values: o } = parseArgs({ options: {
  threads: { type: "string", default: "2" }, "prefix-weights": { type: "string" }, samples: { type: "string", default: "3" },
} });
const prefix = o["prefix-weights"] as WeightStorage | undefined;
const engine = await loadEngine(SMOLLM2_PATH, { weights: "f32-rows", threads: Number(o.threads), alsoWeights: prefix ? [prefix] : [] });
try {
  const examples = trainingExamples("data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz", 640, 5);
  const trainer = new AdapterTrainer(engine.core, engine.arena, engine.config, engine.weights, {
    shape: { k: 5, rank: 16, targets: LORA_TARGETS, maskToken: 0 }, maxPrefix: 640, maxMask: 160, lr: 1e-3, totalSteps: 100,
    executor: engine.executor, prefixWeights: prefix ? engine.weightsIn(prefix) : undefined,
  });
  // Wall-clock timers around methods (the prefix is the only Forward.run of a sample).
  const times = new Map<string, number>();
  const timed = (obj: Record<string, unknown>, name: string, label: string) => {
    const f = obj[name] as (...a: unknown[]) => unknown;
    obj[name] = function (this: unknown, ...a: unknown[]) {
      const t = performance.now();
      try {
        return f.apply(this, a);
      } finally {
        times.set(label, (times.get(label) ?? 0) + performance.now() - t);
      }
    };
  };
  timed(Forward.prototype as unknown as Record<string, unknown>, "run", "prefix");
  const model = trainer.model as unknown as Record<string, unknown>;
  for (const n of ["matmuls", "matmul", "attention", "attentionBack", "matmulBackX"]) timed(model.exec as Record<string, unknown>, n, `exec.${n}`);
  for (const n of ["addLora", "loraBack", "headLoss"]) timed(model, n, n);
  const m = trainer.model;
  for (let i = -1; i < Number(o.samples); i++) { // sample -1 warms up (compilation, first touches), unreported
    const s = drawAppended(examples[((i + 1) * 37) % examples.length], { k: 5, maskId: 0, groups: 32 }, trainer.rng);
    times.clear();
    const t0 = performance.now();
    m.forward(s);
    const t1 = performance.now();
    m.backward(s, 1);
    const t2 = performance.now();
    if (i < 0) continue;
    const pre = times.get("prefix") ?? 0;
    console.log(`sample ${i}: ${s.tokens.length - s.maskRows.length} prefix rows, ${s.maskRows.length} mask rows: prefix ${pre.toFixed(0)} ms, mask rows' forward ${(t1 - t0 - pre).toFixed(0)} ms, loss + backward ${(t2 - t1).toFixed(0)} ms`);
    console.log(`  ${[...times].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")} (exec.* include the prefix's calls)`);
  }
} finally {
  engine.close();
}

/**
 * Batch invariance: a token row's logits are bit-identical whether the row is computed alone, inside a
 * block of any size, with hidden rows between its keys, after the cache was compacted, or with any
 * thread count. This is what lets every other test demand exact equality.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { chainBlock, range } from "../src/decode/block.js";
import type { Block } from "../src/model/forward.js";
import { GGML } from "../src/gguf/types.js";
import { tinyEngine } from "./helpers/engine.js";
import { logitsInBlocks, splits } from "./helpers/blocks.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

async function engine(seed: number, threads = 1, matrixType: number = GGML.F32) {
  const e = await tinyEngine({ seed, matrixType }, { threads });
  engines.push(e);
  return e;
}


function expectBitIdentical(a: Float32Array[], b: Float32Array[]) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const x = new Uint32Array(a[i].buffer, a[i].byteOffset, a[i].length);
    const y = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
    if (!x.every((v, j) => v === y[j])) expect.fail(`row ${i}: logits differ`);
  }
}

describe("batch invariance", () => {
  it("any split of a sequence into blocks of 1..16 gives bit-identical logits per row", async () => {
    const e = await engine(1);
    const tokens = Array.from({ length: 24 }, (_, i) => (i * 37 + 5) % e.config.vocabSize);
    const alone = logitsInBlocks(e, tokens, tokens.map(() => 1));
    await fc.assert(
      fc.asyncProperty(splits(tokens.length, 16), async (sizes) => {
        expectBitIdentical(logitsInBlocks(e, tokens, sizes), alone);
      }),
      { numRuns: 25 },
    );
  });

  it("holds for a quantised model (Q4_1 matrices, Q8_0 embeddings) and both f32 storages of it (panels, rows), tied or not", async () => {
    const { tinyModelBytes } = await import("./helpers/tiny-model.js");
    const { engineFromBytes } = await import("./helpers/engine.js");
    for (const tied of [true, false]) {
      const bytes = tinyModelBytes({ seed: 3, matrixType: GGML.Q4_1, embedType: GGML.Q8_0, tied });
      const native = await engineFromBytes(bytes, { weights: "native" });
      const f32 = await engineFromBytes(bytes, { weights: "f32" });
      const rows = await engineFromBytes(bytes, { weights: "f32-rows" });
      engines.push(native, f32, rows);
      // "f32" really is panels (the head too), with the embedding table kept row-major for lookups.
      expect([f32.weights.layers[0].wq.layout, f32.weights.output.layout, f32.weights.tokenEmbd.layout ?? "rows"]).toEqual(["f32-panels", "f32-panels", "rows"]);
      expect(rows.weights.layers[0].wq.layout ?? "rows").toBe("rows");
      const tokens = Array.from({ length: 12 }, (_, i) => (i * 11 + 3) % native.config.vocabSize);
      const ref = logitsInBlocks(native, tokens, tokens.map(() => 1));
      expectBitIdentical(logitsInBlocks(native, tokens, [5, 7]), ref);
      expectBitIdentical(logitsInBlocks(f32, tokens, [12]), ref);
      expectBitIdentical(logitsInBlocks(f32, tokens, [1, 4, 7]), ref);
      expectBitIdentical(logitsInBlocks(rows, tokens, [12]), ref);
    }
  });

  it("hidden rows between a row's keys, and compacting them away, change nothing", async () => {
    const e = await engine(2);
    const V = e.config.vocabSize;
    const real = [17, 99, 4, 250, 31, 8, 77, 140];
    const ref = logitsInBlocks(e, real, [real.length]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: real.length, maxLength: real.length }), fc.integer({ min: 3, max: V - 1 }), async (extra, junk) => {
        // Interleave `extra[i]` junk rows after real token i; real rows never see junk rows.
        const tokens: number[] = [];
        const isReal: boolean[] = [];
        real.forEach((t, i) => {
          tokens.push(t);
          isReal.push(true);
          for (let j = 0; j < extra[i]; j++) {
            tokens.push((junk + j) % V);
            isReal.push(false);
          }
        });
        const T = tokens.length;
        // Real rows see only real rows; a junk row sees everything before it (like a mask group).
        // Real row i sits at position i; junk rows after it at the following positions.
        const mask = new Uint8Array(T * T);
        const positions = new Int32Array(T);
        let realSeen = 0;
        let junkRun = 0;
        for (let t = 0; t < T; t++) {
          for (let j = 0; j <= t; j++) if (!isReal[t] || isReal[j]) mask[t * T + j] = 1;
          if (isReal[t]) {
            positions[t] = realSeen++;
            junkRun = 0;
          } else positions[t] = realSeen + junkRun++;
        }
        const realRows = Int32Array.from(range(0, T).filter((t) => isReal[t]));
        const block: Block = { tokens: Int32Array.from(tokens), positions, mask, logitRows: realRows };
        const ctx = e.newContext(T + 8, 32);
        const logits = ctx.forward.run(ctx.cache, ctx.ws, block);
        const got = real.map((_, i) => logits.slice(i * V, (i + 1) * V));
        expectBitIdentical(got, ref);
        // Compaction: keep only the real rows, then continue; must equal the clean run's next step.
        ctx.cache.commit(realRows);
        const next = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, [5], [0]));
        const clean = logitsInBlocks(e, [...real, 5], [real.length, 1]);
        expectBitIdentical([next.slice(0, V)], [clean[real.length]]);
        ctx.dispose();
      }),
      { numRuns: 15 },
    );
  });

  it("thread counts 1 and 2 give bit-identical logits, and the parallel and multi-row paths ran", async () => {
    const one = await engine(4, 1);
    const two = await engine(4, 2);
    const tokens = Array.from({ length: 20 }, (_, i) => (i * 13 + 1) % one.config.vocabSize);
    const a = logitsInBlocks(one, tokens, [7, 1, 12]);
    const before = { ...two.executor.counters };
    const b = logitsInBlocks(two, tokens, [7, 1, 12]);
    expectBitIdentical(a, b);
    expect(two.executor.threads).toBe(2);
    expect(two.executor.counters.parallelCalls).toBeGreaterThan(before.parallelCalls);
    expect(two.executor.counters.multiRowCalls).toBeGreaterThan(before.multiRowCalls);
  });
});

/**
 * Weight storages (native, f32 panels, f32-rows, bf16, q8) at the model level: each is batch invariant (a
 * row's logits do not depend on how the sequence is cut into blocks, nor on the thread count), "bf16",
 * "f32" and "f32-rows" equal "native" bit for bit when the model's weights are bf16 values, "q8" (lossy by
 * design) stays close to f32 while being exact within itself, in both WebAssembly builds; only the
 * row-major storages can be trained.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { chainBlock, range } from "../src/decode/block.js";
import { GGML } from "../src/gguf/types.js";
import { ACTIVATION_ROWS, ROW_MAJOR_STORAGES, WEIGHT_STORAGES, describeStorage, isRowMajor, type WeightStorage } from "../src/model/weights.js";
import { engineFromBytes } from "./helpers/engine.js";
import { tinyModelBytes, type TinySpec } from "./helpers/tiny-model.js";
import { logitsInBlocks, splits } from "./helpers/blocks.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

async function open(spec: TinySpec, weights: WeightStorage, opts: { threads?: number; simd?: "plain" | "relaxed" } = {}): Promise<Engine> {
  const e = await engineFromBytes(tinyModelBytes(spec), { weights, ...opts });
  engines.push(e);
  return e;
}


function firstDiff(a: Float32Array[], b: Float32Array[]): string | undefined {
  if (a.length !== b.length) return `${a.length} rows vs ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = new Uint32Array(a[i].buffer, a[i].byteOffset, a[i].length);
    const y = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
    const j = x.findIndex((v, k) => v !== y[k]);
    if (j >= 0) return `row ${i}, logit ${j}: ${a[i][j]} vs ${b[i][j]}`;
  }
  return undefined;
}

function expectBitIdentical(a: Float32Array[], b: Float32Array[], what: string): void {
  const d = firstDiff(a, b);
  if (d) expect.fail(`${what}: ${d}`);
}

const tokensOf = (e: Engine, n: number, mul = 37, add = 5) => Array.from({ length: n }, (_, i) => (i * mul + add) % e.config.vocabSize);

describe.each(WEIGHT_STORAGES)("weights %s", (storage) => {
  it.each(["plain", "relaxed"] as const)("any split into blocks of 1..16 gives bit-identical logits per row (%s build)", async (simd) => {
    const e = await open({ seed: 21, matrixType: GGML.Q4_1, embedType: GGML.Q8_0 }, storage, { simd });
    const tokens = tokensOf(e, 20);
    const alone = logitsInBlocks(e, tokens, tokens.map(() => 1));
    await fc.assert(
      fc.asyncProperty(splits(tokens.length, 16), async (sizes) => {
        expectBitIdentical(logitsInBlocks(e, tokens, sizes), alone, `${storage}, blocks ${sizes.join("+")}`);
      }),
      { numRuns: 8 },
    );
  });

  it("1 and 2 threads give bit-identical logits, and the parallel path ran", async () => {
    const spec = { seed: 22, matrixType: GGML.Q4_1, embedType: GGML.Q8_0 };
    const one = await open(spec, storage, { threads: 1 });
    const two = await open(spec, storage, { threads: 2 });
    const tokens = tokensOf(one, 24, 13, 1);
    const before = two.executor.counters.parallelCalls;
    expectBitIdentical(logitsInBlocks(two, tokens, [9, 1, 14]), logitsInBlocks(one, tokens, [9, 1, 14]), `${storage}: threads`);
    expect(two.executor.counters.parallelCalls).toBeGreaterThan(before);
  });

  it(`a block longer than the q8 activation buffer (${ACTIVATION_ROWS} rows) equals row-by-row decoding`, async () => {
    const e = await open({ seed: 23, matrixType: GGML.Q8_0 }, storage);
    const tokens = tokensOf(e, ACTIVATION_ROWS + 13, 11, 3);
    expectBitIdentical(logitsInBlocks(e, tokens, [tokens.length]), logitsInBlocks(e, tokens, tokens.map(() => 1)), `${storage}: long block`);
  });

  it("is labelled, and packs the matrices it says it packs", async () => {
    const e = await open({ seed: 24, matrixType: GGML.Q4_1 }, storage);
    const packed = storage === "f32" || storage === "bf16" || storage === "q8" || storage === "q4";
    expect(describeStorage(storage, e.core.build).length).toBeGreaterThan(10);
    expect(isRowMajor(e.weights.layers[0].wq)).toBe(!packed);
    expect(isRowMajor(e.weights.output)).toBe(!packed);
    expect(isRowMajor(e.weights.tokenEmbd)).toBe(true); // looked up by row in every storage
  });
});

describe("weights across storages", () => {
  it("bf16 == f32 == native bit for bit on a model whose weights are bf16 values (both builds)", async () => {
    for (const simd of ["plain", "relaxed"] as const) {
      const spec = { seed: 31, matrixType: GGML.BF16, embedType: GGML.BF16 };
      const [n, f, r, b] = await Promise.all((["native", "f32", "f32-rows", "bf16"] as const).map((w) => open(spec, w, { simd })));
      const tokens = tokensOf(n, 12, 11, 3);
      const ref = logitsInBlocks(n, tokens, [5, 7]);
      expectBitIdentical(logitsInBlocks(f, tokens, [12]), ref, `${simd}: f32 vs native`);
      expectBitIdentical(logitsInBlocks(r, tokens, [2, 10]), ref, `${simd}: f32-rows vs native`);
      expectBitIdentical(logitsInBlocks(b, tokens, [3, 9]), ref, `${simd}: bf16 vs native`);
    }
  });

  it("q8 stays close to f32, and stores the matrices in about a quarter of the bytes", async () => {
    for (const simd of ["plain", "relaxed"] as const) {
      const spec = { seed: 32, matrixType: GGML.F32, dModel: 128, dFF: 256, weightScale: 1 };
      const f = await open(spec, "f32", { simd });
      const q = await open(spec, "q8", { simd });
      const tokens = tokensOf(f, 10, 7, 9);
      const a = logitsInBlocks(f, tokens, [10]);
      const b = logitsInBlocks(q, tokens, [10]);
      for (let t = 0; t < a.length; t++) {
        let scale = 0, err = 0;
        for (let i = 0; i < a[t].length; i++) {
          scale = Math.max(scale, Math.abs(a[t][i]));
          err = Math.max(err, Math.abs(a[t][i] - b[t][i]));
        }
        // 8-bit (relaxed: 7-bit) weights and 8-bit activations through 2 layers: a few percent.
        expect(err, `${simd} row ${t}`).toBeLessThan((simd === "relaxed" ? 0.1 : 0.05) * scale);
      }
      // Matrices at 1.125 bytes per weight (the native f32 embedding table is kept for lookups).
      expect(q.weights.bytes).toBeLessThan(0.6 * f.weights.bytes);
    }
  });

  it("q4 keeps 4-bit matrices as 4-bit panels (other types as q8), stays close to native, in fewer bytes than q8", async () => {
    for (const simd of ["plain", "relaxed"] as const) {
      const spec = { seed: 34, matrixType: GGML.Q4_1, embedType: GGML.Q8_0, dModel: 128, dFF: 256, weightScale: 1 };
      const n = await open(spec, "native", { simd });
      const q4 = await open(spec, "q4", { simd });
      const q8 = await open(spec, "q8", { simd });
      expect(q4.weights.layers[0].wq.layout).toBe("q4-panels");
      expect(q4.weights.output.layout).toBe("q8-panels"); // the tied Q8_0 head
      expect(q4.weights.bytes).toBeLessThan(0.8 * q8.weights.bytes);
      const tokens = tokensOf(n, 10, 7, 9);
      const a = logitsInBlocks(n, tokens, [10]);
      const b = logitsInBlocks(q4, tokens, [10]);
      for (let t = 0; t < a.length; t++) {
        let scale = 0, err = 0;
        for (let i = 0; i < a[t].length; i++) {
          scale = Math.max(scale, Math.abs(a[t][i]));
          err = Math.max(err, Math.abs(a[t][i] - b[t][i]));
        }
        // The file's own 4-bit weights: only the activations (and the q8 head) are quantised.
        expect(err, `${simd} row ${t}`).toBeLessThan((simd === "relaxed" ? 0.1 : 0.05) * scale);
      }
    }
  });

  it("q8 on the plain and relaxed builds are different configurations (7-bit weights in the relaxed one)", async () => {
    const spec = { seed: 33, matrixType: GGML.F32 };
    const p = await open(spec, "q8", { simd: "plain" });
    const r = await open(spec, "q8", { simd: "relaxed" });
    const tokens = tokensOf(p, 6);
    expect(firstDiff(logitsInBlocks(p, tokens, [6]), logitsInBlocks(r, tokens, [6]))).toBeDefined();
    expect(describeStorage("q8", "relaxed")).toMatch(/7-bit/);
  });
});

describe("training refuses packed weights", () => {
  it("a trainer on f32, bf16 or q8 panels fails with a clear E_ARGS error; native and f32-rows train", async () => {
    const { Trainer } = await import("../src/train/trainer.js");
    for (const weights of WEIGHT_STORAGES) {
      const e = await engineFromBytes(tinyModelBytes({ seed: 41, matrixType: GGML.Q8_0 }), { weights });
      engines.push(e);
      const make = () => Trainer.fromEngine(e, { maxT: 16, lr: 1e-3, totalSteps: 1 });
      if (ROW_MAJOR_STORAGES.includes(weights)) expect(make, weights).not.toThrow();
      else expect(make, weights).toThrow(/needs row-major weights \(storage native or f32-rows\)/);
    }
  });
});

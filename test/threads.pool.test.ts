/**
 * The worker pool's fused jobs: matrices that read the same input (q, k, v; gate, up) run as ONE job,
 * so a forward pass synchronises five times per layer (q/k/v, attention, output projection, gate/up,
 * down) plus once for the output head, and the results stay bit-identical to one thread for every
 * weight storage.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { GGML } from "../src/gguf/types.js";
import { PoolExecutor, MAX_GROUP, SPIN, nextSpin } from "../src/threads/pool.js";
import { WEIGHT_STORAGES } from "../src/model/weights.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";
import { logitsInBlocks } from "./helpers/blocks.js";
import { Rng } from "../src/util/rng.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

// Wide enough that every matmul group is worth a parallel job (the pool runs tiny ones inline).
const SPEC = { seed: 11, nLayers: 2, dModel: 256, nHeads: 4, nKvHeads: 2, dFF: 512, matrixType: GGML.Q4_1 };

async function load(threads: number, weights: (typeof WEIGHT_STORAGES)[number]) {
  const e = await engineFromBytes(tinyModelBytes(SPEC), { threads, weights });
  engines.push(e);
  return e;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe("fused thread pool", () => {
  it("a one-token forward pass synchronises 5 times per layer plus once for the head", async () => {
    const e = await load(2, "native");
    expect(e.executor).toBeInstanceOf(PoolExecutor);
    const tokens = [5, 9, 13];
    logitsInBlocks(e, tokens, [2]); // warm: the prompt rows
    const before = e.executor.counters.parallelCalls;
    logitsInBlocks(e, tokens, [2, 1]); // prompt block, then a one-row block: count the pair and subtract
    const pair = e.executor.counters.parallelCalls - before;
    const perPass = 5 * SPEC.nLayers + 1;
    expect(pair).toBe(2 * perPass);
  });

  it("a closed pool refuses work at once (E_STATE) instead of waiting for workers that are gone", async () => {
    const e = await load(2, "native");
    const buf = e.arena.alloc(1 << 16, 64);
    e.executor.probeRead(buf, 1 << 16); // runs while open
    e.close();
    expect(() => e.executor.probeRead(buf, 1 << 16)).toThrow(/worker pool is closed/);
  });

  for (const weights of WEIGHT_STORAGES) {
    it(`2 and 3 threads give logits bit-identical to 1 thread (${weights} weights)`, async () => {
      const one = await load(1, weights);
      const tokens = Array.from({ length: 9 }, (_, i) => (i * 7 + 2) % one.config.vocabSize);
      const ref = logitsInBlocks(one, tokens, [4, 1, 4]);
      for (const threads of [2, 3]) {
        const many = await load(threads, weights);
        const got = logitsInBlocks(many, tokens, [4, 1, 4]);
        expect(got.length).toBe(ref.length);
        got.forEach((row, i) => expect(sameBits(row, ref[i]), `row ${i}, ${threads} threads`).toBe(true));
        expect(many.executor.counters.parallelCalls).toBeGreaterThan(0);
      }
    });
  }

  for (const weights of ["native", "f32-rows"] as const) {
    it(`the backward dX = dY W split by columns over 2 and 3 threads is bit-identical to 1 thread (${weights})`, async () => {
      const T = 5;
      const run = async (threads: number) => {
        const e = await load(threads, weights);
        const m = e.weights.layers[0].wDown; // K = dFF (512: 32 strips of 16, uneven over 3 threads)
        const dy = e.arena.alloc(T * m.N * 4, 64), dx = e.arena.alloc(T * m.K * 4, 64);
        const rng = new Rng(3);
        e.arena.f32(dy, T * m.N).set(Float32Array.from({ length: T * m.N }, () => rng.next() - 0.5));
        e.arena.f32(dx, T * m.K).fill(0.25); // accumulate onto a known value
        const before = e.executor.counters.parallelCalls;
        e.executor.matmulBackX(m, dy, dx, T, true);
        return { dx: e.arena.f32(dx, T * m.K).slice(), jobs: e.executor.counters.parallelCalls - before };
      };
      const one = await run(1);
      expect(one.dx.some((v) => v !== 0.25)).toBe(true);
      for (const threads of [2, 3]) {
        const many = await run(threads);
        expect(many.jobs, `${threads} threads ran one parallel job`).toBe(1);
        expect(sameBits(many.dx, one.dx), `${threads} threads`).toBe(true);
      }
    });
  }

  it("measures a round trip (an empty job answered by every worker)", async () => {
    const e = await load(2, "native");
    const pool = e.executor as PoolExecutor;
    const us = pool.roundTripMicros(200);
    expect(Number.isFinite(us) && us > 0).toBe(true);
  });

  it("the spin budget doubles after a covered wait, halves after one it missed, within [MIN, MAX]", () => {
    expect(nextSpin(1024, 10)).toBe(2048); // the answer came within the spin: spin longer next time
    expect(nextSpin(1024, 1024)).toBe(512); // the spin ran out (the thread slept): spin less
    expect(nextSpin(SPIN.MAX, 0)).toBe(SPIN.MAX);
    expect(nextSpin(SPIN.MIN, SPIN.MIN)).toBe(SPIN.MIN);
    // Sharing a core, every spin runs out: from MAX the budget reaches MIN in log2(MAX / MIN) waits.
    let b: number = SPIN.MAX;
    for (let i = 0; i < Math.log2(SPIN.MAX / SPIN.MIN); i++) b = nextSpin(b, b);
    expect(b).toBe(SPIN.MIN);
  });

  it("refuses groups that cannot share one input or are larger than a job holds", async () => {
    const e = await load(2, "native");
    const L = e.weights.layers[0];
    expect(() => e.executor.matmuls([L.wq, L.wDown], 0, [0, 0], 1)).toThrow(/share/);
    expect(() => e.executor.matmuls([L.wq], 0, [0, 0], 1)).toThrow(/one output per matrix/);
    const many = Array.from({ length: MAX_GROUP + 1 }, () => L.wq);
    expect(() => e.executor.matmuls(many, 0, many.map(() => 0), 1)).toThrow(/at most/);
  });
});

/**
 * The trainer: AdamW and the schedule against their formulas, a tiny model that overfits a tiny corpus,
 * and checkpoints: a run stopped and resumed (in memory or through a file) ends with parameters
 * bit-identical to an uninterrupted run.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Engine } from "../src/engine.js";
import { adamwRef, sumSquaresRef } from "../src/wasm/reference-backward.js";
import { Trainer, type TrainerOptions } from "../src/train/trainer.js";
import { clipFactor, learningRate } from "../src/train/optim.js";
import { causalSample, type TrainSample } from "../src/train/sample.js";
import { decodeCheckpoint, encodeCheckpoint } from "../src/train/checkpoint.js";
import { resumeCheckpoint, saveCheckpoint } from "../src/node/checkpoint.js";
import { tinyEngine } from "./helpers/engine.js";
import type { TinySpec } from "./helpers/tiny-model.js";
import { BUILDS, expectSameBits, harness, randF32, randInt, rng } from "./kernels.helpers.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

async function engine(spec: TinySpec): Promise<Engine> {
  const e = await tinyEngine(spec);
  engines.push(e);
  return e;
}

describe("the schedule", () => {
  it("is linear warm-up then cosine to minLr (table)", () => {
    const sch = { lr: 1e-3, minLr: 1e-4, warmupSteps: 4, totalSteps: 14 };
    const table: [number, number][] = [
      [1, 2.5e-4], [2, 5e-4], [4, 1e-3],
      [5, 1e-4 + 9e-4 * (1 + Math.cos(Math.PI * 0.1)) / 2],
      [9, 5.5e-4], // halfway through the cosine
      [14, 1e-4], [20, 1e-4], // after totalSteps it stays at minLr
    ];
    for (const [s, want] of table) expect(learningRate(s, sch), `step ${s}`).toBeCloseTo(want, 15);
    expect(learningRate(1, { ...sch, warmupSteps: 0 })).toBeCloseTo(1e-4 + 9e-4 * (1 + Math.cos(Math.PI / 14)) / 2, 15);
  });

  it("clips like clip_grad_norm_: min(1, max / (norm + 1e-6)); 0 = off", () => {
    expect(clipFactor(2, 1)).toBeCloseTo(1 / (2 + 1e-6), 15);
    expect(clipFactor(0.5, 1)).toBe(1);
    expect(clipFactor(1e9, 0)).toBe(1);
  });
});

describe.each(BUILDS)("optimizer kernels (%s build)", (build) => {
  it("adamw and sumSquares match the reference bit for bit", async () => {
    const h = await harness(build);
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const n = randInt(r, 1, 70);
      const p = randF32(r, n, 2), g = randF32(r, n, 3), m = randF32(r, n, 0.1), v = randF32(r, n, 0.1).map(Math.abs);
      const s = randInt(r, 1, 50), lr = 1e-3 * r(), b1 = 0.9, b2 = 0.999;
      const c = {
        beta1: b1, omb1: 1 - b1, beta2: b2, omb2: 1 - b2, eps: 1e-8, decay: 1 - lr * 0.1,
        stepSize: lr / (1 - b1 ** s), sqrtBc2: Math.sqrt(1 - b2 ** s), clip: r() < 0.5 ? 1 : r(),
      };
      const fr = Math.fround;
      const want = { p: p.slice(), m: m.slice(), v: v.slice() };
      adamwRef(want.p, g, want.m, want.v, c);
      h.scoped(() => {
        const pp = h.f32(p), mp = h.f32(m), vp = h.f32(v);
        h.k.adamw(pp, h.f32(g), mp, vp, n, fr(c.beta1), fr(c.omb1), fr(c.beta2), fr(c.omb2), fr(c.eps), fr(c.decay), fr(c.stepSize), fr(c.sqrtBc2), fr(c.clip));
        expectSameBits(h.read(pp, n), want.p, "p");
        expectSameBits(h.read(mp, n), want.m, "m");
        expectSameBits(h.read(vp, n), want.v, "v");
        expect(h.k.sumSquares(h.f32(g), n)).toBe(sumSquaresRef(g));
      });
    }), { numRuns: 60 });
  });
});

const TEXT = "the cat sat on the mat. the dog sat on the log. the cat saw the dog and the dog saw the cat. ";

describe("training", () => {
  it("a tiny model overfits a tiny corpus: mean loss < 0.05 within 150 steps", async () => {
    const e = await engine({ seed: 1, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64, weightScale: 0.5 });
    const ids = e.tokenizer.encode(TEXT);
    const T = 32;
    const batch = [causalSample(ids.slice(0, T)), causalSample(ids.slice(T - 1, 2 * T - 1))];
    const tr = Trainer.fromEngine(e, { maxT: T, lr: 3e-3, warmupSteps: 10, totalSteps: 150 });
    const first = tr.evaluate(batch).loss;
    const t0 = performance.now();
    let last = tr.step(batch);
    for (let s = 1; s < 150; s++) last = tr.step(batch);
    const seconds = (performance.now() - t0) / 1000;
    const after = tr.evaluate(batch).loss;
    expect(first).toBeGreaterThan(3);
    expect(after).toBeLessThan(0.05);
    expect(last.step).toBe(150);
    expect(last.lr).toBeCloseTo(0, 12); // the cosine ends at minLr = 0
    expect(seconds).toBeLessThan(20);
  });

  it("a checkpointed, stopped and resumed run ends bit-identical to an uninterrupted one", async () => {
    const spec = { seed: 2, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64, tied: false };
    const opts: TrainerOptions = { maxT: 24, lr: 2e-3, warmupSteps: 3, totalSteps: 12, weightDecay: 0.1, maxGradNorm: 0.5, seed: 7 };
    const ids = (await engine(spec)).tokenizer.encode(TEXT);
    // Data drawn from the trainer's RNG: a resumed run must continue the same random stream.
    const batchFor = (tr: Trainer): TrainSample[] => [0, 1].map(() => {
      const at = Math.floor(tr.rng.next() * (ids.length - 24));
      return causalSample(ids.slice(at, at + 24));
    });
    const straight = Trainer.fromEngine(await engine(spec), opts);
    for (let s = 0; s < 12; s++) straight.step(batchFor(straight));

    const dir = mkdtempSync(join(tmpdir(), "space-train-"));
    try {
      const path = join(dir, "run.ckpt");
      const a = Trainer.fromEngine(await engine(spec), opts);
      expect(resumeCheckpoint(path, a)).toBe(false); // nothing to resume yet
      for (let s = 0; s < 5; s++) a.step(batchFor(a));
      saveCheckpoint(path, a);
      a.step(batchFor(a)); // work after the last checkpoint is lost when the run is killed
      // A new process: fresh engine, fresh trainer, resume from the file.
      const b = Trainer.fromEngine(await engine(spec), opts);
      expect(resumeCheckpoint(path, b)).toBe(true);
      expect(b.steps).toBe(5);
      for (let s = b.steps; s < 8; s++) b.step(batchFor(b));
      // ... and once more, through bytes in memory.
      const c = Trainer.fromEngine(await engine(spec), opts);
      c.restore(decodeCheckpoint(encodeCheckpoint(b.state())));
      for (let s = c.steps; s < 12; s++) c.step(batchFor(c));
      expect(c.steps).toBe(12);
      const want = straight.state(), got = c.state();
      expect(Array.from(got.rng)).toEqual(Array.from(want.rng));
      got.tensors.forEach((t, i) => {
        expectSameBits(t.data, want.tensors[i].data, `${t.name} values`);
        expectSameBits(t.m, want.tensors[i].m, `${t.name} m`);
        expectSameBits(t.v, want.tensors[i].v, `${t.name} v`);
      });
      expect(existsSync(`${path}.tmp`)).toBe(false);
      // A torn file is refused, not half-loaded.
      writeFileSync(path, new Uint8Array(100));
      expect(() => resumeCheckpoint(path, Trainer.fromEngine(engines[engines.length - 1], opts))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a checkpoint of another run with a message naming the difference", async () => {
    const spec = { seed: 3, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64 };
    const opts: TrainerOptions = { maxT: 8, lr: 1e-3, totalSteps: 5 };
    const a = Trainer.fromEngine(await engine(spec), opts);
    a.step([causalSample([5, 6, 7, 8])]);
    const st = decodeCheckpoint(encodeCheckpoint(a.state()));
    expect(st.step).toBe(1);
    expect(() => Trainer.fromEngine(engines[engines.length - 1], { ...opts, lr: 2e-3 }).restore(st)).toThrow(/lr = 0.001, this run has 0.002/);
    expect(() => Trainer.fromEngine(engines[engines.length - 1], { ...opts, trainable: (n) => n !== "output_norm.weight" }).restore(st))
      .toThrow(/the checkpoint trains/);
    const other = await engine({ ...spec, dFF: 96 });
    expect(() => Trainer.fromEngine(other, opts).restore(st)).toThrow(/model dFF = 64, this run has 96/);
  });
});

/**
 * The Llama training graph (src/train/model.ts): its forward is the model's forward (bit-identical
 * logits), its gradients match central finite differences of an f64 Llama on a tiny model, and they are
 * batch-invariant (packing samples into one block changes no bit) and independent of which other tensors
 * train.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { GGML } from "../src/gguf/types.js";
import type { ModelConfig } from "../src/model/config.js";
import { ropeTableRef } from "../src/wasm/reference.js";
import { Trainer, type TrainerOptions } from "../src/train/trainer.js";
import { causalMask, causalSample, packSamples, type TrainSample } from "../src/train/sample.js";
import { tinyEngine } from "./helpers/engine.js";
import type { TinySpec } from "./helpers/tiny-model.js";
import { randInt, rng } from "./kernels.helpers.js";
import { expectSameBits } from "./kernels.helpers.js";
import { attention64, crossEntropy64, finiteDiff, matmul64, relError, rmsnorm64, rope64, swiglu64, GRAD_TOL, FD_EPS } from "./train.helpers.js";

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

async function engine(spec: TinySpec, simd: "plain" | "relaxed" = "plain"): Promise<Engine> {
  const e = await tinyEngine(spec, { simd });
  engines.push(e);
  return e;
}

const OPTS: TrainerOptions = { maxT: 24, lr: 1e-3, totalSteps: 10 };

/**
 * A SAR-shaped sample (the paper's layout, built by hand): a causal prefix of P tokens, then a group of G
 * "mask" rows (token id `maskId`) that see the prefix up to `cut` and the group's earlier rows, with
 * positions continuing from the cut; some rows unlabelled, non-unit weights.
 */
function sarSample(r: () => number, V: number, P: number, cut: number, G: number, maskId: number): TrainSample {
  const T = P + G;
  const tokens = Int32Array.from({ length: T }, (_, t) => (t < P ? randInt(r, 3, V - 1) : maskId));
  const positions = Int32Array.from({ length: T }, (_, t) => (t < P ? t : cut + (t - P)));
  const mask = new Uint8Array(T * T);
  for (let t = 0; t < T; t++) {
    if (t < P) mask.fill(1, t * T, t * T + t + 1);
    else {
      mask.fill(1, t * T, t * T + cut);
      mask.fill(1, t * T + P, t * T + t + 1);
    }
  }
  const labels = Int32Array.from({ length: T }, (_, t) => (r() < 0.15 ? -1 : randInt(r, 0, V - 1)));
  labels[T - 1] = -1;
  const weights = Float32Array.from({ length: T }, () => Math.fround(0.5 + r()));
  return { tokens, positions, mask, labels, weights };
}

function gradsOf(tr: Trainer): Map<string, Float32Array> {
  return new Map(tr.store.list.map((p) => [p.name, tr.store.view(p, "grad").slice()]));
}

describe("the training forward is the model's forward", () => {
  for (const spec of [
    { seed: 3, matrixType: GGML.F32 },
    { seed: 4, matrixType: GGML.Q8_0, tied: false },
    { seed: 5, matrixType: GGML.F16, embedType: GGML.Q4_1 },
  ] as TinySpec[]) {
    it(`gives bit-identical logits (matrices ${spec.matrixType}, ${spec.tied === false ? "untied" : "tied"})`, async () => {
      const e = await engine(spec);
      const before = e.arena.f32(e.weights.layers[0].wq.ptr, 16).slice();
      const tr = Trainer.fromEngine(e, OPTS);
      const r = rng(spec.seed);
      for (const s of [causalSample(Array.from({ length: 13 }, () => randInt(r, 0, 200))), sarSample(r, e.config.vocabSize, 9, 5, 4, 7)]) {
        const T = s.tokens.length;
        const rows = Int32Array.from({ length: T }, (_, i) => i);
        tr.model.forward(s);
        const got = tr.model.logits(rows);
        const ctx = e.newContext(T + 1, 32);
        const want = ctx.forward.run(ctx.cache, ctx.ws, { tokens: s.tokens, positions: s.positions, mask: s.mask, logitRows: rows }).slice();
        ctx.dispose();
        expectSameBits(got, want, "logits");
      }
      expectSameBits(e.arena.f32(e.weights.layers[0].wq.ptr, 16), before, "the engine's weights are untouched");
    });
  }
});

// --- an f64 Llama on the trainer's parameters, for finite differences ------------------------------------

/** scale * sum_t w_t CE_t of the sample, in f64, with the given parameter values (by GGUF name). */
function llamaLoss64(P: Map<string, Float64Array>, cfg: ModelConfig, s: TrainSample, scale: number): number {
  const { dModel: D, dFF: F, nHeads: H, nKvHeads: KV, headDim: hd, vocabSize: V } = cfg;
  const kvDim = KV * hd, T = s.tokens.length, eps = Math.fround(cfg.rmsEps);
  const emb = P.get("token_embd.weight")!;
  let x = new Float64Array(T * D);
  for (let t = 0; t < T; t++) x.set(emb.subarray(s.tokens[t] * D, (s.tokens[t] + 1) * D), t * D);
  const { cos, sin } = ropeTableRef(s.positions, hd, cfg.ropeBase);
  const shape = { T, nKeys: T, nHeads: H, nKvHeads: KV, headDim: hd, scale: Math.fround(1 / Math.sqrt(hd)) };
  for (let l = 0; l < cfg.nLayers; l++) {
    const g = (n: string) => P.get(`blk.${l}.${n}.weight`)!;
    const xn = rmsnorm64(x, g("attn_norm"), T, D, eps);
    const q = rope64(matmul64(xn, g("attn_q"), T, D, D), cos, sin, T, H, hd, D);
    const k = rope64(matmul64(xn, g("attn_k"), T, D, kvDim), cos, sin, T, KV, hd, kvDim);
    const v = matmul64(xn, g("attn_v"), T, D, kvDim);
    const o = matmul64(attention64(q, k, v, s.mask, shape), g("attn_output"), T, D, D);
    x = x.map((a, i) => a + o[i]);
    const xn2 = rmsnorm64(x, g("ffn_norm"), T, D, eps);
    const act = swiglu64(matmul64(xn2, g("ffn_gate"), T, D, F), matmul64(xn2, g("ffn_up"), T, D, F));
    const d = matmul64(act, g("ffn_down"), T, F, D);
    x = x.map((a, i) => a + d[i]);
  }
  const logits = matmul64(rmsnorm64(x, P.get("output_norm.weight")!, T, D, eps), P.get("output.weight") ?? emb, T, D, V);
  return crossEntropy64(logits, s.labels, s.weights ?? new Float32Array(T).fill(1), T, V, scale);
}

describe("whole-model gradients", () => {
  it.each([false, true])(`match central finite differences of an f64 Llama (eps ${FD_EPS}, relative error < ${GRAD_TOL}; tied embeddings: %s)`, async (tied) => {
    const e = await engine({ seed: 11, nLayers: 2, dModel: 16, nHeads: 2, nKvHeads: 1, dFF: 32, tied, weightScale: 1 });
    const tr = Trainer.fromEngine(e, OPTS);
    const r = rng(12);
    const batch = [sarSample(r, e.config.vocabSize, 8, 5, 3, 9), causalSample([5, 80, 81, 82, 5, 80])];
    const b = tr.gradients(batch);
    const scale = Math.fround(1 / b.weight);
    const params = new Map(tr.store.list.map((p) => [p.name, Float64Array.from(tr.store.view(p, "data"))]));
    const loss = () => batch.reduce((a, s) => a + llamaLoss64(params, e.config, s, scale), 0);
    expect(Math.abs(loss() - b.loss)).toBeLessThan(1e-5 * b.loss); // the f64 model is the same model
    const grads = gradsOf(tr);
    const used = new Set(batch.flatMap((s) => Array.from(s.tokens)));
    const worst: string[] = [];
    for (const p of tr.store.list) {
      // Coordinates: 6 random ones; for the embedding, in rows the batch uses (and one it does not: 0).
      const coords: number[] = [];
      while (coords.length < 6) {
        const c = randInt(r, 0, p.size - 1);
        if (p.name !== "token_embd.weight" || used.has(Math.floor(c / p.cols)) || coords.length === 0) coords.push(c);
      }
      const fd = finiteDiff(params.get(p.name)!, loss, coords);
      const g = coords.map((c) => grads.get(p.name)![c]);
      const err = relError(g, fd);
      if (!(err < GRAD_TOL)) worst.push(`${p.name}: ${err.toExponential(2)} (got ${g.map((x) => x.toExponential(3))}, fd ${Array.from(fd, (x) => x.toExponential(3))})`);
    }
    expect(worst).toEqual([]);
    // The directional derivative along a random direction through every parameter at once.
    const dir = new Map([...params].map(([n, a]) => [n, Float64Array.from(a, () => r() * 2 - 1)]));
    let analytic = 0;
    for (const [n, d] of dir) analytic += d.reduce((a, x, i) => a + x * grads.get(n)![i], 0);
    const base = new Map([...params].map(([n, a]) => [n, a.slice()]));
    const along = (h: number) => {
      for (const [n, a] of params) a.set(base.get(n)!.map((x, i) => x + h * dir.get(n)![i]));
      return loss();
    };
    const numeric = (along(FD_EPS) - along(-FD_EPS)) / (2 * FD_EPS);
    expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(GRAD_TOL);
  });

  it("relaxed build: gradients close to the plain build's", async () => {
    const spec = { seed: 13, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64 };
    const [a, b] = [Trainer.fromEngine(await engine(spec), OPTS), Trainer.fromEngine(await engine(spec, "relaxed"), OPTS)];
    const s = sarSample(rng(14), a.cfg.vocabSize, 12, 7, 5, 9);
    a.gradients([s]);
    b.gradients([s]);
    const ga = gradsOf(a), gb = gradsOf(b);
    for (const [n, g] of ga) expect(relError(gb.get(n)!, g), n).toBeLessThan(1e-3);
  });
});

describe("gradient invariance", () => {
  it("samples one by one or packed into one block: bit-identical gradients", async () => {
    const e = await engine({ seed: 21, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64, tied: false });
    const tr = Trainer.fromEngine(e, { ...OPTS, maxT: 64 });
    const r = rng(22);
    const V = e.config.vocabSize;
    const samples = [sarSample(r, V, 10, 4, 5, 9), causalSample(Array.from({ length: 11 }, () => randInt(r, 0, V - 1))), sarSample(r, V, 6, 6, 3, 9)];
    const one = tr.gradients(samples);
    const g1 = gradsOf(tr);
    const packed = tr.gradients([packSamples(samples)]);
    const g2 = gradsOf(tr);
    expect(packed.weight).toBe(one.weight);
    expect(packed.loss).toBeCloseTo(one.loss, 12);
    for (const [n, g] of g1) expectSameBits(g2.get(n)!, g, n);
    // Split differently: the first two packed, the third alone.
    tr.gradients([packSamples(samples.slice(0, 2)), samples[2]]);
    for (const [n, g] of gradsOf(tr)) expectSameBits(g, g1.get(n)!, `${n} (2 + 1)`);
  });

  it("a tensor's gradient does not depend on which other tensors train; frozen tensors never change", async () => {
    const spec = { seed: 31, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64, matrixType: GGML.Q8_0 };
    const full = Trainer.fromEngine(await engine(spec), OPTS);
    const pick = (n: string) => n.startsWith("blk.1.ffn") || n === "output_norm.weight" || n === "blk.1.attn_v.weight";
    const e = await engine(spec);
    const part = Trainer.fromEngine(e, { ...OPTS, trainable: pick });
    expect(part.store.list.map((p) => p.name)).toEqual(full.store.list.map((p) => p.name).filter(pick));
    const s = sarSample(rng(32), full.cfg.vocabSize, 12, 8, 4, 9);
    full.gradients([s]);
    part.gradients([s]);
    const gf = gradsOf(full);
    for (const [n, g] of gradsOf(part)) expectSameBits(g, gf.get(n)!, n);
    const frozen = e.weights.layers[0].wq;
    const before = e.arena.u8(frozen.ptr, 64).slice();
    part.step([s]);
    expect(part.weights.layers[0].wq).toBe(frozen); // frozen tensors are the loaded ones (Q8_0 here)
    expect(Array.from(e.arena.u8(frozen.ptr, 64))).toEqual(Array.from(before));
  });

  it("rejects malformed samples with clear errors", async () => {
    const tr = Trainer.fromEngine(await engine({ seed: 41 }), OPTS);
    const ok = causalSample([1, 2, 3]);
    expect(() => tr.step([{ ...ok, labels: Int32Array.of(1, 2) }])).toThrow(/2 labels for 3 tokens/);
    expect(() => tr.step([{ ...ok, mask: causalMask(2) }])).toThrow(/mask of 4 entries, expected 3x3/);
    expect(() => tr.step([{ ...ok, tokens: Int32Array.of(1, 2, 9999) }])).toThrow(/token id 9999/);
    expect(() => tr.step([causalSample(Array.from({ length: 30 }, () => 5))])).toThrow(/exceeds the trainer's maxT of 24/);
    expect(() => tr.step([{ ...ok, labels: Int32Array.of(-1, -1, -1) }])).toThrow(/no labelled row/);
  });
});

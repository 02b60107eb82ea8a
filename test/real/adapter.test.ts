/**
 * Real-model tier for base-preserving SAR-SFT (spec/adapter.md, issue 4): SmolLM2-135M-Instruct (GGUF
 * Q4_1). Fails (does not skip) when the model is missing: run `npm run fetch-models`.
 *
 * A few real AdapterTrainer updates (k = 3, rank 4, every LoRA target) on the base model's own greedy
 * continuations, exported to an adapter GGUF file and read back the way `space generate --adapter` reads
 * it (readAdapterFile: SHA-256 of the base, shapes). Then, on 3 chat prompts x 32 tokens:
 *  - greedy SPACE with the adapter emits exactly the base model's greedy AR tokens (AR with nothing banned);
 *  - the adapter did train: every trained tensor differs from its initial value, and in one SPACE block the
 *    mask rows' logits differ from the untrained adapter's, while every non-mask row is bit-identical to
 *    the untrained adapter's and to the plain base's.
 * Prints the loss and tau (tau is not asserted: a few updates do not make a good adapter).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { Engine } from "../../src/engine.js";
import { loadEngine } from "../../src/node/engine.js";
import { sha256File } from "../../src/node/prompts.js";
import { generate, type GenerateResult } from "../../src/decode/generate.js";
import { ArProposer } from "../../src/decode/proposer.js";
import { SpaceProposer, spaceBlock, maxExtraRows, FULL_LAYOUT, type SpaceMask } from "../../src/decode/space.js";
import type { Block } from "../../src/model/forward.js";
import { userPromptIds } from "../../src/tokenizer/chat.js";
import { AdapterTrainer } from "../../src/train/adapter.js";
import { appendedSample, drawAppended, type SftExample } from "../../src/train/sar.js";
import { LORA_TARGETS, LoraRows, encodeAdapter, loadLora, maskVectors, type AdapterData } from "../../src/model/adapter.js";
import { readAdapterFile } from "../../src/node/adapter.js";
import { requireRealModel } from "./peers.js";

const N = 32; // tokens per prompt
const K = 3;
const RANK = 4;
const GROUPS = 4;
const STEPS = 4;
const MASK = 16; // <empty_output>: labels the mask rows; the adapter's vectors replace its embedding
const CHAT = [
  "Write a Python function that returns the n-th Fibonacci number.",
  "Explain photosynthesis in two sentences.",
  "List three tips for writing clean code.",
];

let engine: Engine;
let modelPath: string;
let prompts: number[][];
let base: GenerateResult[]; // the base model's greedy AR output, nothing banned
let initial: Map<string, Float32Array>; // adapter tensors before training
let trained: Map<string, Float32Array>; // after
let losses: number[];
let evalLoss: [number, number];
let loaded: ReturnType<typeof readAdapterFile>;
let dir: string;

async function run(prompt: number[], proposer: ArProposer | SpaceProposer, banned?: Set<number>): Promise<GenerateResult> {
  const ctx = engine.newContext(prompt.length + N, proposer.maxExtraRows);
  try {
    return await generate(ctx, prompt, proposer, { maxTokens: N, ...(banned ? { banned } : {}) });
  } finally {
    ctx.dispose();
  }
}

beforeAll(async () => {
  modelPath = requireRealModel();
  engine = await loadEngine(modelPath, { simd: "auto", threads: 1 });
  prompts = CHAT.map((q) => userPromptIds(engine.tokenizer, q));
  base = [];
  for (const p of prompts) base.push(await run(p, new ArProposer()));

  // Self-distilled data: the base's own greedy continuations.
  const data: SftExample[] = prompts.map((p, i) => ({ prompt: p, response: base[i].tokens }));
  const maxPrefix = Math.max(...prompts.map((p) => p.length)) + N + 8;
  const trainer = new AdapterTrainer(engine.core, engine.arena, engine.config, engine.weights, {
    shape: { k: K, rank: RANK, targets: LORA_TARGETS, maskToken: MASK }, maxPrefix, maxMask: K * GROUPS, lr: 5e-3, totalSteps: STEPS + 1, seed: 0,
  });
  const snapshot = () => new Map(trainer.store.list.map((p) => [p.name, trainer.store.view(p, "data").slice()]));
  initial = snapshot();
  const evalBatch = data.map((ex) => appendedSample(ex, { k: K, maskId: MASK }, [0, 8, 16]));
  const before = trainer.evaluate(evalBatch).loss;
  losses = [];
  for (let s = 0; s < STEPS; s++) {
    const batch = data.map((ex) => drawAppended(ex, { k: K, maskId: MASK, groups: GROUPS }, trainer.rng)).filter((b) => b.maskRows.length > 0);
    losses.push(trainer.step(batch).loss);
  }
  evalLoss = [before, trainer.evaluate(evalBatch).loss];
  trained = snapshot();

  // The user's path: export the adapter GGUF, read it back (base SHA-256 checked), build the LoRA rows.
  dir = mkdtempSync(join(tmpdir(), "space-adapter-real-"));
  const file = join(dir, "smollm2-space.gguf");
  writeFileSync(file, encodeAdapter(trainer.model.data({ baseSha256: sha256File(modelPath), baseName: basename(modelPath) }), engine.config));
  loaded = readAdapterFile(engine, modelPath, file);
});

afterAll(() => {
  engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("base-preserving adapter on SmolLM2-135M-Instruct", () => {
  it("the adapter file holds the trained tensors, which moved away from their initial values", () => {
    console.log(`adapter training: ${STEPS} updates, k ${K}, rank ${RANK}, ${LORA_TARGETS.length} targets; step losses ${losses.map((l) => l.toFixed(3)).join(", ")}; eval loss ${evalLoss[0].toFixed(3)} -> ${evalLoss[1].toFixed(3)}`);
    expect(loaded.k).toBe(K);
    expect(loaded.maskToken).toBe(MASK);
    expect(loaded.data.maskEmbd).toEqual(trained.get("space.mask_embd"));
    for (const [name, v] of loaded.data.lora) expect(v, name).toEqual(trained.get(name));
    expect(trained.size).toBe(1 + 2 * LORA_TARGETS.length * engine.config.nLayers);
    for (const [name, v] of trained) {
      const v0 = initial.get(name)!;
      expect(v.some((x, i) => x !== v0[i]), `${name} changed`).toBe(true);
      expect(v.every(Number.isFinite), name).toBe(true);
    }
  });

  it("greedy SPACE with the adapter emits exactly the base model's greedy tokens (3 prompts x 32 tokens)", async () => {
    let tokens = 0, passes = 0;
    const per: string[] = [];
    for (const [i, p] of prompts.entries()) {
      const mask: SpaceMask = { token: loaded.maskToken, embeddings: loaded.embeddings, lora: loaded.lora };
      const sp = await run(p, new SpaceProposer({ k: loaded.k, mask, layout: FULL_LAYOUT, vocabSize: engine.config.vocabSize }), new Set([MASK]));
      expect(base[i].tokens.length, CHAT[i]).toBe(N);
      expect(sp.tokens, CHAT[i]).toEqual(base[i].tokens);
      expect(sp.stopReason, CHAT[i]).toBe(base[i].stopReason);
      tokens += sp.tokens.length;
      passes += sp.stats.forward_passes;
      per.push(`${sp.stats.tokens_per_forward.toFixed(2)}`);
    }
    console.log(`SPACE k=${K} with the trained adapter (read from its GGUF): output identical to base greedy; tau ${(tokens / passes).toFixed(3)} overall, per prompt ${per.join(" / ")}`);
    expect(tokens / passes).toBeGreaterThanOrEqual(1);
  });

  it("mask rows' logits differ from the untrained adapter's; every non-mask row stays bit-identical", () => {
    const V = engine.config.vocabSize, D = engine.config.dModel;
    // The untrained adapter, through the same file-format path (B = 0: its LoRA adds nothing).
    const untrained: AdapterData = {
      meta: loaded.data.meta,
      maskEmbd: initial.get("space.mask_embd")!,
      lora: new Map([...loaded.data.lora.keys()].map((n) => [n, initial.get(n)!])),
    };
    const mark = engine.arena.mark();
    try {
      const lora0 = new LoraRows(engine.core, engine.arena, loadLora(engine.arena, engine.config, untrained), maxExtraRows(K, FULL_LAYOUT), engine.config);
      const masks: Record<string, SpaceMask> = {
        trained: { token: MASK, embeddings: loaded.embeddings, lora: loaded.lora },
        untrained: { token: MASK, embeddings: maskVectors(untrained), lora: lora0 },
        plain: { token: MASK },
      };
      expect(loaded.embeddings[0]).toHaveLength(D);
      let maskRowsDiffer = 0, maskRows = 0;
      for (const [i, p] of prompts.entries()) {
        const prefix = [...p, ...base[i].tokens.slice(0, 6)], cands = base[i].tokens.slice(6, 6 + K);
        const logits = (m: SpaceMask) => {
          const plan = spaceBlock(0, prefix, cands, K, m, FULL_LAYOUT);
          const ctx = engine.newContext(prefix.length + N, maxExtraRows(K, FULL_LAYOUT));
          try {
            // Logits of every row from the last prefix token on (the decoder itself reads fewer: spec/space.md).
            const from = prefix.length - 1;
            const all: Block = { ...plan.block, logitRows: Int32Array.from({ length: plan.block.tokens.length - from }, (_, j) => from + j) };
            return { plan, out: ctx.forward.run(ctx.cache, ctx.ws, all).slice() };
          } finally {
            ctx.dispose();
          }
        };
        const t = logits(masks.trained), u = logits(masks.untrained), b = logits(masks.plain);
        // r: a block row; its logits sit at r - (prefix.length - 1) in `out`.
        const row = (x: Float32Array, r: number) => new Uint32Array(x.buffer, (r - (prefix.length - 1)) * V * 4, V);
        for (const r of Array.from(t.plan.verifyRows, (i) => t.plan.block.logitRows[i])) {
          expect(row(t.out, r), `${CHAT[i]}: verify row ${r} vs untrained`).toEqual(row(u.out, r));
          expect(row(t.out, r), `${CHAT[i]}: verify row ${r} vs base`).toEqual(row(b.out, r));
        }
        for (const g of t.plan.groups) {
          for (const r of g ?? []) {
            maskRows++;
            if (row(t.out, r).some((x, j) => x !== row(u.out, r)[j])) maskRowsDiffer++;
          }
        }
      }
      console.log(`mask rows whose logits differ from the untrained adapter's: ${maskRowsDiffer}/${maskRows}`);
      expect(maskRowsDiffer).toBe(maskRows);
    } finally {
      engine.arena.reset(mark);
    }
  });
});

/**
 * Two things that make a SPACE step cheaper without changing a bit:
 *  - a block with a single mask group (the tail layout, or no candidates) gets that group's logits from
 *    the pass itself (SpacePlan.eagerGroup), instead of a second pass over the output head after the
 *    verdict; they must be the bits Forward.moreLogits gives, and generation must never ask `more` then;
 *  - the LoRA of an attached adapter lies in panels (loraPanelsFor): PANEL_F32 must give the row-major
 *    LoRA's bits, PANEL_BF16 the row-major LoRA's bits on bf16-rounded weights.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Engine } from "../src/engine.js";
import { chainBlock, range } from "../src/decode/block.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { FULL_LAYOUT, LEAN_LAYOUT, TAIL_LAYOUT, SpaceProposer, type SpaceLayout, type SpacePlan } from "../src/decode/space.js";
import { LORA_TARGETS, LoraRows, loadLora, loraName, loraPanelsFor, targetShape, type AdapterData, type LoraTarget } from "../src/model/adapter.js";
import { tinyEngine } from "./helpers/engine.js";
import { expectSameBits, firstBitDiff } from "./kernels.helpers.js";

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 47 });
});
afterAll(() => engine.close());

const MASK = 9;


/** One plan of SpaceProposer with these candidates (injected), its pass, and the group logits both ways. */
function planAndPass(layout: SpaceLayout, k: number, candidates: number[]) {
  const prefix = [3, 14, 15, 92, 65];
  const pending = [35];
  const p = new SpaceProposer({ k, mask: { token: MASK }, layout, vocabSize: engine.config.vocabSize, inject: () => candidates });
  const ctx = engine.newContext(prefix.length + 64, p.maxExtraRows + 8);
  try {
    ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, prefix, [prefix.length - 1]));
    ctx.cache.commit(range(0, prefix.length));
    const plan: SpacePlan = p.plan({ pending: Int32Array.from(pending), cached: prefix.length, history: [...prefix, ...pending], sampling: { temperature: 0, topK: 0, topP: 1 }, rng: null as never });
    const logits = ctx.forward.run(ctx.cache, ctx.ws, plan.block).slice();
    const V = engine.config.vocabSize;
    const onDemand = plan.groups.map((g) => (g ? ctx.forward.moreLogits(ctx.ws, g, plan.block.logitRows.length).slice() : null));
    return { plan, logits, V, onDemand };
  } finally {
    ctx.dispose();
  }
}

describe("SPACE: a single mask group's logits come with the pass", () => {
  it("tail layout and candidate-free blocks: eagerGroup set, logitRows = verify rows + the group's rows, same bits as moreLogits", () => {
    const cases: [SpaceLayout, number, number[]][] = [
      [TAIL_LAYOUT, 3, [40, 41, 42]],
      [TAIL_LAYOUT, 2, [50]],
      [TAIL_LAYOUT, 4, []],
      [FULL_LAYOUT, 3, []],
      [LEAN_LAYOUT, 2, []],
    ];
    for (const [layout, k, cands] of cases) {
      const { plan, logits, V, onDemand } = planAndPass(layout, k, cands);
      const j = plan.groups.findIndex((g) => g !== null);
      expect(plan.eagerGroup, `${layout.name} k ${k} m ${cands.length}`).toBe(j);
      expect(plan.groups.filter((g) => g !== null)).toHaveLength(1);
      const m = cands.length;
      expect(Array.from(plan.block.logitRows).slice(m + 1)).toEqual(Array.from(plan.groups[j]!));
      const rows = Array.from(plan.block.logitRows);
      expect(rows.every((r, i) => i === 0 || r > rows[i - 1])).toBe(true);
      const eager = logits.subarray((m + 1) * V, (m + 1 + k) * V);
      expectSameBits(eager, onDemand[j]!, `${layout.name}: eager vs moreLogits`);
    }
  });

  it("several groups (full and lean layouts with candidates): nothing eager, logitRows = the verify rows", () => {
    for (const [layout, cands] of [[FULL_LAYOUT, [40, 41]], [LEAN_LAYOUT, [40, 41, 42]]] as const) {
      const { plan } = planAndPass(layout, 3, [...cands]);
      expect(plan.eagerGroup).toBe(-1);
      expect(plan.block.logitRows).toHaveLength(cands.length + 1);
    }
  });

  it("generation: the tail layout never asks for more logits, the full layout does; both emit AR's tokens", async () => {
    const prompt = [5, 17, 33, 60, 2, 9 + 1];
    const ar = engine.newContext(prompt.length + 40, 0);
    const want = (await generate(ar, prompt, new ArProposer(), { maxTokens: 32, banned: new Set([MASK]) })).tokens;
    ar.dispose();
    for (const [layout, expectMore] of [[TAIL_LAYOUT, false], [FULL_LAYOUT, true]] as const) {
      const p = new SpaceProposer({ k: 3, mask: { token: MASK }, layout, vocabSize: engine.config.vocabSize });
      let moreCalls = 0;
      const observe = p.observe.bind(p);
      p.observe = (plan, logits, verdict, ctx, more) => observe(plan, logits, verdict, ctx, (rows) => (moreCalls++, more(rows)));
      const ctx = engine.newContext(prompt.length + 40, p.maxExtraRows);
      const got = await generate(ctx, prompt, p, { maxTokens: 32, banned: new Set([MASK]) });
      ctx.dispose();
      expect(got.tokens, layout.name).toEqual(want);
      expect(moreCalls > 0, `${layout.name}: calls to more`).toBe(expectMore);
    }
  });
});

// Both builds: the plain one adds rounded products, the relaxed one fuses them, and loraAdd must follow
// the panel kernels' order in each.
describe.each(["plain", "relaxed"] as const)("LoRA panels (%s build)", (simd) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await tinyEngine({ seed: 47 }, { simd });
  });
  afterAll(() => engine.close());

  /** A random adapter for the tiny engine: rank r on the given targets. */
  function randomAdapter(seed: number, rank: number, targets: readonly LoraTarget[], scale: number): AdapterData {
    let s = seed >>> 0;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * scale;
    const cfg = engine.config;
    const lora = new Map<string, Float32Array>();
    for (let l = 0; l < cfg.nLayers; l++) {
      for (const t of targets) {
        const { K, N } = targetShape(cfg, t);
        lora.set(loraName(l, t, "a"), Float32Array.from({ length: rank * K }, rnd));
        lora.set(loraName(l, t, "b"), Float32Array.from({ length: N * rank }, rnd));
      }
    }
    const meta = { baseSha256: "0".repeat(64), baseName: "tiny", k: 2, rank, targets, maskToken: MASK, maskEmbeddings: 1, nLayers: cfg.nLayers, dModel: cfg.dModel };
    return { meta, maskEmbd: new Float32Array(cfg.dModel), lora };
  }

  const bf16 = (v: Float32Array) => {
    const u = new Uint32Array(Float32Array.from(v).buffer);
    for (let i = 0; i < u.length; i++) u[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000; // nearest even
    return new Float32Array(u.buffer);
  };

  /** The widest row a LoRA target reads or writes (dModel, dFF or the K/V width). */
  const widest = () => Math.max(engine.config.dModel, engine.config.dFF, engine.config.nKvHeads * engine.config.headDim);

  /** n token rows of W f32 in the engine's arena, element i = f(i). */
  function inputRows(n: number, W: number, f: (i: number) => number): number {
    const x = engine.arena.alloc(n * W * 4, 64);
    engine.arena.f32(x, n * W).set(Float32Array.from({ length: n * W }, (_, i) => f(i)));
    return x;
  }

  /** y (n rows of W, every element `fill`) after lora.apply(l, t, x, y, rows), copied out. */
  function applied(lora: LoraRows, x: number, n: number, W: number, fill: number, rows: Int32Array, l: number, t: LoraTarget): Float32Array {
    const y = engine.arena.alloc(n * W * 4, 64);
    engine.arena.f32(y, n * W).fill(fill);
    lora.apply(l, t, x, y, rows);
    return engine.arena.f32(y, n * W).slice();
  }

  it("loraPanelsFor: f32 beside the exact storages, bf16 beside the rounding ones", () => {
    for (const s of ["native", "f32", "f32-rows"] as const) expect(loraPanelsFor(s)).toBe("f32-panels");
    for (const s of ["bf16", "q8", "q4"] as const) expect(loraPanelsFor(s)).toBe("bf16-panels");
  });

  it("apply(): f32 panels == rows bit for bit; bf16 panels == rows on bf16-rounded weights (random adapters, rows, targets)", () => {
    const cfg = engine.config;
    const W = widest();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(1, 3, 4, 8, 16),
        fc.subarray([...LORA_TARGETS], { minLength: 1 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 }),
        (seed, rank, targets, rowList) => {
          const mark = engine.arena.mark();
          try {
            const data = randomAdapter(seed, rank, targets, 0.5);
            const rounded: AdapterData = { ...data, lora: new Map([...data.lora].map(([n, v]) => [n, bf16(v)])) };
            const core = engine.core, arena = engine.arena;
            const rowsOf = (d: AdapterData) => new LoraRows(core, arena, loadLora(arena, cfg, d), 8, cfg);
            const variants = {
              rows: rowsOf(data),
              f32: new LoraRows(core, arena, loadLora(arena, cfg, data, { core, layout: "f32-panels" }), 8, cfg),
              roundedRows: rowsOf(rounded),
              bf16: new LoraRows(core, arena, loadLora(arena, cfg, data, { core, layout: "bf16-panels" }), 8, cfg),
            };
            const x = inputRows(6, W, (i) => Math.sin(i * 0.37 + seed));
            const rows = Int32Array.from(rowList);
            const out = (lora: LoraRows, l: number, t: LoraTarget) => applied(lora, x, 6, W, 0.25, rows, l, t);
            for (let l = 0; l < cfg.nLayers; l++) {
              for (const t of targets) {
                // Panels need groups of 4 k: a rank that is not a multiple of 4 keeps the rows.
                expect(variants.bf16.weights.layers[l][t]!.layout).toBe(rank % 4 === 0 ? "bf16-panels" : undefined);
                expectSameBits(out(variants.f32, l, t), out(variants.rows, l, t), `f32 panels, layer ${l} ${t}`);
                const b = out(variants.bf16, l, t);
                if (rank % 4 !== 0) {
                  expectSameBits(b, out(variants.rows, l, t), `rank ${rank}: rows`);
                  continue;
                }
                expectSameBits(b, out(variants.roundedRows, l, t), `bf16 panels, layer ${l} ${t}`);
                expect(firstBitDiff(b, out(variants.rows, l, t)), "bf16 rounding changes something").toBeGreaterThanOrEqual(0);
              }
            }
          } finally {
            engine.arena.reset(mark);
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  it("apply(): consecutive rows, read and updated in place, give the bits of the same rows gathered", () => {
    const cfg = engine.config;
    const W = widest();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(3, 4, 16),
        fc.constantFrom("f32-panels", "bf16-panels", undefined),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 2, max: 5 }),
        (seed, rank, layout, r0, R) => {
          const mark = engine.arena.mark();
          try {
            const core = engine.core, arena = engine.arena;
            const data = randomAdapter(seed, rank, [...LORA_TARGETS], 0.5);
            const lora = new LoraRows(core, arena, loadLora(arena, cfg, data, layout ? { core, layout } : undefined), 8, cfg);
            const x = inputRows(8, W, (i) => Math.cos(i * 0.29 + seed));
            const run = Int32Array.from({ length: R }, (_, i) => r0 + i);
            const out = (rows: Int32Array, l: number, t: LoraTarget) => applied(lora, x, 8, W, -0.5, rows, l, t);
            for (let l = 0; l < cfg.nLayers; l++) {
              for (const t of LORA_TARGETS) {
                const inPlace = out(run, l, t), gathered = out(run.slice().reverse(), l, t);
                expectSameBits(inPlace, gathered, `rank ${rank} ${layout ?? "rows"}, rows ${r0}..${r0 + R - 1}, layer ${l} ${t}`);
                expect(inPlace[0 * W + 0] === -0.5 || r0 === 0, "rows before the run untouched").toBe(true);
              }
            }
          } finally {
            engine.arena.reset(mark);
          }
        },
      ),
      { numRuns: 10 },
    );
  });
});

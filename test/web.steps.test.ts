/**
 * The step-through page draws each step from its trace line alone (src/web/steps.ts). These tests hold
 * that picture against the engine's real blocks: for every step of every decoder (SPACE full, lean and
 * auto, AR, spec, lookup; greedy and sampled), the attention mask drawn from the trace equals the mask the
 * forward pass ran with, and the kept rows equal the proposer's keepRows. Also: trace parsing (header
 * lines tolerated, bad lines named), running tau/tokens per second, and the accepted-token flags.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer, type Proposer, type StepPlan } from "../src/decode/proposer.js";
import { HYBRID_LAYOUT, LEAN_LAYOUT, SpaceProposer, TAIL_LAYOUT } from "../src/decode/space.js";
import { SpecProposer } from "../src/decode/spec.js";
import { LookupProposer } from "../src/decode/lookup.js";
import { autoSpace } from "../src/decode/costmodel.js";
import type { TraceStep } from "../src/decode/trace.js";
import { acceptedFlags, parseTrace, picture, runningStats } from "../src/web/steps.js";
import { engineFromBytes, tinyEngine } from "./helpers/engine.js";
import { readFileSync } from "node:fs";
import { embeddedModelPath } from "../src/node/embedded.js";
import { metaGetter } from "../src/gguf/meta.js";

let tiny: Engine;
let embedded: Engine;
beforeAll(async () => {
  tiny = await tinyEngine({ seed: 9 });
  embedded = await engineFromBytes(new Uint8Array(readFileSync(embeddedModelPath())));
});
afterAll(() => {
  tiny.close();
  embedded.close();
});

/** Runs a decoder, keeping each step's plan (the real block) beside its trace line. */
async function run(engine: Engine, proposer: Proposer, prompt: number[], opts: { maxTokens: number; banned?: Set<number>; sampling?: { temperature: number; topK: number; topP: number } }) {
  const plans: StepPlan[] = [];
  const recording: Proposer = {
    name: proposer.name,
    maxExtraRows: proposer.maxExtraRows,
    reset: () => proposer.reset(),
    plan: (ctx) => {
      const p = proposer.plan(ctx);
      plans.push(p);
      return p;
    },
    observe: (p, logits, verdict, ctx, more) => proposer.observe(p, logits, verdict, ctx, more),
  };
  const ctx = engine.newContext(prompt.length + opts.maxTokens, proposer.maxExtraRows);
  const steps: TraceStep[] = [];
  try {
    const r = await generate(ctx, prompt, recording, { ...opts, seed: 5, onStep: (s) => steps.push(s) });
    return { r, steps, plans };
  } finally {
    ctx.dispose();
  }
}

function expectPictureMatchesBlocks(steps: readonly TraceStep[], plans: readonly StepPlan[]): void {
  expect(plans).toHaveLength(steps.length);
  steps.forEach((s, i) => {
    const { block } = plans[i];
    const T = block.tokens.length;
    const nKeys = s.cached + T;
    const pic = picture(s);
    for (let r = 0; r < T; r++) {
      for (let c = 0; c < s.cached; c++) expect(block.mask[r * nKeys + c], `step ${s.step} row ${r} cached ${c}`).toBe(1);
      const real = Array.from({ length: T }, (_, c) => block.mask[r * nKeys + s.cached + c] === 1);
      expect(pic.visible[r], `step ${s.step} row ${r}`).toEqual(real);
    }
    expect(pic.keptRows).toEqual(Array.from(plans[i].keepRows(s.accepted)));
    expect(pic.rows.filter((x) => x.kind === "candidate").map((x) => x.token)).toEqual(s.candidates);
  });
}

describe("step pictures equal the engine's blocks", () => {
  const PROMPT = [119, 261, 35, 102, 268, 119, 261];
  const V = () => tiny.config.vocabSize;
  const cases: [string, () => Proposer, () => void][] = [
    ["space full", () => new SpaceProposer({ k: 3, mask: { token: 141 }, vocabSize: V() }), () => {}],
    ["space lean", () => new SpaceProposer({ k: 3, mask: { token: 141 }, layout: LEAN_LAYOUT, vocabSize: V() }), () => {}],
    ["space tail", () => new SpaceProposer({ k: 3, mask: { token: 141 }, layout: TAIL_LAYOUT, vocabSize: V() }), () => {}],
    ["space hybrid", () => new SpaceProposer({ k: 3, mask: { token: 141 }, layout: HYBRID_LAYOUT, vocabSize: V() }), () => {}],
    ["ar", () => new ArProposer(), () => {}],
    ["lookup", () => new LookupProposer({ k: 3 }), () => {}],
  ];
  for (const [name, make] of cases) {
    for (const sampling of [undefined, { temperature: 2, topK: 8, topP: 1 }]) {
      it(`${name}${sampling ? ", sampled" : ""} (tiny random model)`, async () => {
        const { steps, plans } = await run(tiny, make(), PROMPT, { maxTokens: 24, banned: new Set([141]), sampling });
        expectPictureMatchesBlocks(steps, plans);
      });
    }
  }

  it("spec (a one-layer draft)", async () => {
    const draft = tiny.newContext(64, 3, { layers: 1 });
    try {
      const { steps, plans } = await run(tiny, new SpecProposer({ k: 3, draft, vocabSize: V() }), PROMPT, { maxTokens: 24 });
      expectPictureMatchesBlocks(steps, plans);
    } finally {
      draft.dispose();
    }
  });

  it("SPACE on the embedded SAR-SFT model (real acceptances), full layout and the cost model's auto layouts", async () => {
    const prompt = embedded.tokenizer.encode("interface PromiseLike<T> {");
    const get = metaGetter(embedded.file); // the embedded model's space.mask_token_id and space.k
    const mask = { token: Number(get("space.mask_token_id")) };
    const k = Number(get("space.k"));
    const banned = new Set([mask.token]);
    const V = embedded.config.vocabSize;
    const full = await run(embedded, new SpaceProposer({ k, mask, vocabSize: V }), prompt, { maxTokens: 48, banned });
    expect(full.steps.some((s) => s.accepted >= 2)).toBe(true);
    expectPictureMatchesBlocks(full.steps, full.plans);
    const pics = full.steps.map(picture);
    // A step that accepted candidates draws them accepted and the next one rejected (or all accepted: the bonus).
    const s = pics.find((p) => p.step.accepted > 0)!;
    expect(s.rows.filter((r) => r.fate === "accepted").length).toBe(s.step.accepted);
    expect(s.corrected?.kind).toBe(s.step.accepted === s.step.candidates.length ? "bonus" : "corrected");
    const auto = await run(embedded, new SpaceProposer({ k, mask, vocabSize: V, auto: autoSpace(embedded, k) }), prompt, { maxTokens: 48, banned });
    expectPictureMatchesBlocks(auto.steps, auto.plans);
    expect(auto.r.tokens).toEqual(full.r.tokens);
  });
});

describe("picture refuses what it cannot draw", () => {
  const good: TraceStep = {
    decoder: "space", step: 2, cached: 5, tokens: [13, 141, 141, 212, 141, 141, 207, 141, 141], positions: [5, 6, 7, 6, 7, 8, 7, 8, 9],
    mask_rows: [1, 2, 4, 5, 7, 8], candidates: [212, 207], accepted: 0, emitted: [13], bonus: 13, new_candidates: [215, 215], ms: 0.3,
  };
  it("spec/trace.md's step 2 draws as the spec describes it", () => {
    const p = picture(good);
    expect(p.rows.map((r) => r.kind)).toEqual(["pending", "mask", "mask", "candidate", "mask", "mask", "candidate", "mask", "mask"]);
    expect(p.rows.map((r) => r.fate)).toEqual(["kept", "dropped", "dropped", "rejected", "dropped", "dropped", "unverified", "dropped", "dropped"]);
    expect(p.keptRows).toEqual([0]);
    expect(p.corrected).toEqual({ token: 13, kind: "corrected" });
  });
  it("positions that no mask of these layouts gives, emitted tokens that are not c_1..c_n + bonus, rows that are not the candidates", () => {
    expect(() => picture({ ...good, positions: [5, 6, 7, 7, 8, 9, 8, 9, 10] })).toThrow(/position/);
    expect(() => picture({ ...good, emitted: [14] })).toThrow(/emitted/);
    expect(() => picture({ ...good, candidates: [212, 208] })).toThrow(/candidate c_2/);
    expect(() => picture({ ...good, accepted: 3 })).toThrow(/accepted 3 of 2/);
    expect(() => picture({ ...good, mask_rows: [1, 2, 4, 5, 7, 9] })).toThrow(/outside the block/);
  });
});

describe("trace files", () => {
  const line = (step: number, accepted: number, emitted: number[]) =>
    JSON.stringify({ decoder: "ar", step, cached: step - 1, tokens: [1], positions: [step - 1], mask_rows: [], candidates: [], accepted, emitted, bonus: emitted[0], new_candidates: null, ms: 2 });
  it("skips header and blank lines, keeps steps in order", () => {
    const { steps, headers } = parseTrace(`{"trace":"header","model":"x"}\n${line(1, 0, [5])}\n\n${line(2, 0, [6])}\n`);
    expect(steps.map((s) => s.emitted)).toEqual([[5], [6]]);
    expect(headers).toEqual([{ trace: "header", model: "x" }]);
  });
  it("names the bad line; refuses a gap in the steps and a file without steps", () => {
    expect(() => parseTrace(`${line(1, 0, [5])}\n{oops`, "t.jsonl")).toThrow("t.jsonl:2: not JSON");
    expect(() => parseTrace(`${line(1, 0, [5])}\n${line(3, 0, [6])}`, "t.jsonl")).toThrow(/step 3 where step 2/);
    expect(() => parseTrace(`{"a":1}\n`, "t.jsonl")).toThrow(/no step lines/);
    expect(() => parseTrace(line(1, 0, [5]).replace('"tokens":[1]', '"tokens":[-1]'), "t.jsonl")).toThrow(/t.jsonl:1: tokens/);
  });
  it("running tau counts every step; tokens per second leaves out the first (the prompt's) step", () => {
    const { steps } = parseTrace([line(1, 0, [5]), JSON.stringify({ ...JSON.parse(line(2, 0, [6])), ms: 4 }), line(3, 0, [7])].join("\n"));
    expect(runningStats(steps, 1)).toEqual({ tokens: 2, steps: 2, tau: 1, tokensPerSecond: 250 });
    expect(runningStats(steps, 2).tokensPerSecond).toBeCloseTo(2000 / 6);
  });
  it("accepted flags: each step's first `accepted` tokens, cut where the output stopped", () => {
    expect(acceptedFlags([{ accepted: 0, emitted: [1] }, { accepted: 2, emitted: [2, 3, 4] }, { accepted: 1, emitted: [5, 6] }], 5)).toEqual([false, true, true, false, true]);
  });
});

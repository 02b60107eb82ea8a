/**
 * SAR-SFT data (src/train/sar.ts): spec/sar.md's worked example, read from the spec itself; the random
 * draws; properties of random examples (positions = visible keys - 1, labels, group isolation); and the
 * link to decoding: a mask group's logits are bit-identical in the paper's sample, in the appended one and
 * in the decoder's SPACE block for the same prefix.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../src/engine.js";
import { spaceBlock } from "../src/decode/space.js";
import { Rng } from "../src/util/rng.js";
import { appendedSample, drawAppended, drawPaper, paperSample, sftSample, type SarSample, type SftExample } from "../src/train/sar.js";
import { Trainer } from "../src/train/trainer.js";
import { tinyEngine } from "./helpers/engine.js";
import { expectSameBits, randInt, rng } from "./kernels.helpers.js";

const SPEC = readFileSync(join(__dirname, "..", "spec", "sar.md"), "utf8");
const K = 2, M = 50;
const EX: SftExample = { prompt: [10, 11], response: [20, 21, 22, 23, 24, 25] };
const name = (id: number) => (id === M ? "M" : id < 20 ? `x_${id - 9}` : `y_${id - 19}`);

/** Rows of the markdown table after `<!-- example: NAME -->`. */
function table(tag: string): string[][] {
  const at = SPEC.indexOf(`<!-- example: ${tag} -->`);
  if (at < 0) throw new Error(`spec/sar.md has no example "${tag}"`);
  const rows: string[][] = [];
  for (const line of SPEC.slice(at).split("\n").slice(3)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((c) => c.trim()));
  }
  return rows;
}

function expectTable(s: SarSample, tag: string): void {
  const rows = table(tag);
  const T = rows.length;
  expect(s.tokens.length).toBe(T);
  rows.forEach(([row, token, position, sees, label], t) => {
    expect(Number(row)).toBe(t);
    expect(name(s.tokens[t]), `row ${t} token`).toBe(token);
    expect(s.positions[t], `row ${t} position`).toBe(Number(position));
    const got = [...Array(T).keys()].filter((j) => s.mask[t * T + j] === 1);
    expect(got, `row ${t} sees`).toEqual(sees.split(" ").map(Number));
    expect(s.labels[t] < 0 ? "-" : name(s.labels[t]), `row ${t} label`).toBe(label);
  });
  expect(Array.from(s.maskRows)).toEqual(rows.filter((r) => r[1] === "M").map((r) => Number(r[0])));
}

/** A source that returns the given draws, then fails. */
function scripted(...draws: number[]) {
  return { next: () => {
    const d = draws.shift();
    if (d === undefined) throw new Error("more draws than scripted");
    return d;
  } };
}

describe("spec/sar.md's worked example", () => {
  it("ordinary SFT sample", () => {
    expectTable(sftSample(EX), "sft");
    expectTable(drawPaper(EX, { k: K, maskId: M, pAr: 0.5 }, scripted(0.3)), "sft");
  });

  it("the paper's recipe, cut 2", () => {
    expectTable(paperSample(EX, { k: K, maskId: M }, 2), "paper s=2");
    const s = drawPaper(EX, { k: K, maskId: M, pAr: 0.5 }, scripted(0.7, 0.55));
    expect(s.cuts).toEqual([2]);
    expectTable(s, "paper s=2");
  });

  it("the appended variant, cuts 0 and 2", () => {
    expectTable(appendedSample(EX, { k: K, maskId: M }, [0, 2]), "appended cuts=0,2");
    const s = drawAppended(EX, { k: K, maskId: M, groups: 2 }, scripted(0.1, 0.5));
    expect(s.cuts).toEqual([0, 2]);
    expectTable(s, "appended cuts=0,2");
  });
});

function randomExample(r: () => number): SftExample {
  return {
    prompt: Array.from({ length: randInt(r, 1, 6) }, () => randInt(r, 3, 200)),
    response: Array.from({ length: randInt(r, 1, 14) }, () => randInt(r, 3, 200)),
  };
}

describe("SAR samples: properties", () => {
  it("positions = visible keys - 1; masks predict y_{s+1+j}; groups see only their prefix and themselves", () => {
    fc.assert(fc.property(fc.integer(), (seed) => {
      const r = rng(seed);
      const ex = randomExample(r);
      const k = randInt(r, 1, 4);
      const P = ex.prompt.length, N = ex.response.length;
      const random = new Rng(seed);
      const samples = [
        drawPaper(ex, { k, maskId: M, pAr: 0.3 }, random),
        drawAppended(ex, { k, maskId: M, groups: randInt(r, 0, 5) }, random),
      ];
      for (const s of samples) {
        const T = s.tokens.length;
        const isMask = new Set(s.maskRows);
        for (let t = 0; t < T; t++) {
          const sees = [...Array(T).keys()].filter((j) => s.mask[t * T + j]);
          expect(s.positions[t]).toBe(sees.length - 1);
          expect(sees.includes(t)).toBe(true);
          if (!isMask.has(t)) {
            // A real row sees only real rows before it and has the ordinary label (the next token of X + Y
            // from the last prompt row on; in the paper's sample the last kept row predicts y_{s+1}).
            expect(sees).toEqual([...Array(t + 1).keys()]);
            const next = t >= P - 1 && t + 1 < P + N ? ex.response[t + 1 - P] : -1;
            expect(s.labels[t], `row ${t} label`).toBe(next);
          } else {
            // The real rows a mask row sees are exactly X + y_1..y_s: s = (real rows seen) - P.
            const real = sees.filter((j) => !isMask.has(j));
            expect(real).toEqual([...Array(real.length).keys()]);
            const s0 = real.length - P;
            const j = sees.length - real.length; // mask index within its group, 1-based
            const target = s0 + 1 + j; // y_{s+1+j}
            expect(s.labels[t]).toBe(target <= N && j <= k ? ex.response[target - 1] : -1);
          }
        }
      }
    }), { numRuns: 200 });
  });

  it("rejects cuts without a target for every mask, an empty prompt, a bad p_ar", () => {
    expect(() => paperSample(EX, { k: K, maskId: M }, 4)).toThrow(/cut 4 outside \[0, 3\]/);
    expect(() => appendedSample(EX, { k: 6, maskId: M }, [0])).toThrow(/outside \[0, -1\]/);
    expect(() => sftSample({ prompt: [], response: [1] })).toThrow(/at least one token/);
    expect(() => drawPaper(EX, { k: K, maskId: M, pAr: 2 }, new Rng(1))).toThrow(/p_ar/);
    // Too short for a group: the draws give ordinary samples.
    const short = { prompt: [10], response: [20, 21] };
    expect(drawPaper(short, { k: K, maskId: M, pAr: 0 }, new Rng(1)).maskRows.length).toBe(0);
    expect(drawAppended(short, { k: K, maskId: M, groups: 3 }, new Rng(1)).maskRows.length).toBe(0);
  });
});

const engines: Engine[] = [];
afterAll(() => engines.forEach((e) => e.close()));

describe("SAR samples and the decoder see the same thing", () => {
  it("a mask group's logits: paper sample = appended sample = the decoder's SPACE block, bit for bit", async () => {
    const e = await tinyEngine({ seed: 5, dModel: 32, nHeads: 4, nKvHeads: 2, dFF: 64 });
    engines.push(e);
    const tr = Trainer.fromEngine(e, { maxT: 40, lr: 1e-3, totalSteps: 1 });
    const V = e.config.vocabSize;
    const r = rng(6);
    const ex: SftExample = { prompt: [1, 40, 41, 42], response: Array.from({ length: 9 }, () => randInt(r, 3, V - 1)) };
    const k = 3, maskId = 7;
    const logitsOf = (s: SarSample, rows: ArrayLike<number>) => {
      tr.model.forward(s);
      return tr.model.logits(rows);
    };
    const cuts = [1, 4, 5];
    const app = appendedSample(ex, { k, maskId }, cuts);
    cuts.forEach((s, g) => {
      const paper = paperSample(ex, { k, maskId }, s);
      const fromApp = logitsOf(app, app.maskRows.subarray(g * k, (g + 1) * k));
      const fromPaper = logitsOf(paper, paper.maskRows.subarray(0, k));
      expectSameBits(fromApp, fromPaper, `cut ${s}: appended vs paper`);
      // The decoder: prefix X + y_1..y_s pending, no candidates, one group of k masks.
      const prefix = [...Array.from(ex.prompt), ...Array.from(ex.response).slice(0, s)];
      const plan = spaceBlock(0, prefix, [], k, { token: maskId });
      const ctx = e.newContext(prefix.length + k + 1, 32);
      // The decoder reads a group's logits on demand (Forward.moreLogits): ask for them the same way.
      ctx.forward.run(ctx.cache, ctx.ws, plan.block);
      const all = ctx.forward.moreLogits(ctx.ws, plan.maskRows!, plan.block.logitRows.length).slice();
      ctx.dispose();
      const V0 = e.config.vocabSize;
      const rows = Array.from(plan.maskRows!);
      const maskLogits = new Float32Array(k * V0);
      Array.from(plan.maskRows!).forEach((row, i) => maskLogits.set(all.subarray(rows.indexOf(row) * V0, (rows.indexOf(row) + 1) * V0), i * V0));
      expectSameBits(fromPaper, maskLogits, `cut ${s}: training vs decoding`);
    });
  });
});

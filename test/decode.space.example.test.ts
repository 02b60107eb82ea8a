/**
 * spec/space.md's worked example (k = 2, prompt x_0 x_1), executed: the tables are read from the spec
 * itself, so the document and the code cannot drift apart. Table-driven tests of the block builder
 * (tokens, mask groups, attention, positions, logit rows) and of one step's verify / keep / next
 * candidates with stipulated model choices.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { spaceBlock, SpaceProposer, LEAN_LAYOUT, FULL_LAYOUT, TAIL_LAYOUT, HYBRID_LAYOUT, maxExtraRows, type SpacePlan } from "../src/decode/space.js";
import { verifyGreedy } from "../src/decode/verify.js";
import { argmax, GREEDY } from "../src/decode/sampling.js";
import { Rng } from "../src/util/rng.js";
import type { StepContext } from "../src/decode/proposer.js";

const SPEC = readFileSync(join(__dirname, "..", "spec", "space.md"), "utf8");
const K = 2;
const M = 50;
const ID: Record<string, number> = { x_0: 10, x_1: 11, x_2: 12, M, c_1: 20, c_2: 21 };

/** The markdown table after `<!-- example: NAME ... -->`: its header attributes and its rows as cells. */
function table(name: string): { attrs: Record<string, number>; rows: string[][] } {
  const at = SPEC.indexOf(`<!-- example: ${name}`);
  if (at < 0) throw new Error(`spec/space.md has no example "${name}"`);
  const header = SPEC.slice(at, SPEC.indexOf("-->", at));
  const attrs = Object.fromEntries([...header.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const lines = SPEC.slice(at).split("\n").slice(1);
  const rows: string[][] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((c) => c.trim()));
  }
  return { attrs, rows };
}

const ints = (s: string) => (s === "" ? [] : s.split(/\s+/).map(Number));

function expectBlockMatches(name: string, pending: number[], candidates: number[]) {
  const { attrs, rows } = table(name);
  const C = attrs.C;
  const plan = spaceBlock(C, pending, candidates, K, { token: M });
  const T = rows.length;
  const nKeys = C + T;
  expect(Array.from(plan.block.tokens)).toEqual(rows.map((r) => ID[r[1]]));
  expect(Array.from(plan.block.positions)).toEqual(rows.map((r) => Number(r[3])));
  expect(Array.from(plan.maskRows!)).toEqual(rows.filter((r) => r[2] !== "-").map((r) => Number(r[0])));
  for (let t = 0; t < T; t++) {
    const sees = ints(rows[t][4]);
    const got = [...Array(nKeys).keys()].filter((j) => plan.block.mask[t * nKeys + j] === 1);
    expect(got, `row ${t} sees`).toEqual(sees);
  }
  // Logits with the pass: the verify rows only (the last pending row, then each candidate's row). Groups:
  // each listed group's block rows, whose logits come on demand.
  const P = pending.length;
  const tokenRows = rows.filter((r) => r[2] === "-").map((r) => Number(r[0]));
  expect(Array.from(plan.block.logitRows)).toEqual(tokenRows.slice(P - 1));
  const groups = new Map<number, number[]>();
  for (const r of rows) if (r[2] !== "-") groups.set(Number(r[2]), [...(groups.get(Number(r[2])) ?? []), Number(r[0])]);
  expect(plan.groups.map((g) => Array.from(g!))).toEqual([...groups.values()]);
  return plan;
}

describe("spec/space.md worked example (k = 2)", () => {
  it("step 1: prompt x_0 x_1 then one mask group; no candidates", () => {
    const plan = expectBlockMatches("step1", [ID.x_0, ID.x_1], []);
    expect(Array.from(plan.verifyRows)).toEqual([0]);
    expect(Array.from(plan.keepRows(0))).toEqual([0, 1]);
  });

  it("step 2: the full layout after the 3-token prefix; c_i's rows give g_i", () => {
    const plan = expectBlockMatches("step2", [ID.x_2], [ID.c_1, ID.c_2]);
    expect(Array.from(plan.verifyRows)).toEqual([0, 1, 2]); // logit rows of x_2, c_1, c_2 (block rows 0, 3, 6)
    expect(Array.from(plan.block.logitRows)).toEqual([0, 3, 6]);
  });

  it("step 2 verification: accepted, emitted, kept rows and next candidates as the table says", () => {
    const v = Object.fromEntries(table("verify").rows.map((r) => [r[0], ints(r[1])]));
    const proposer = new SpaceProposer({ k: K, mask: { token: M }, vocabSize: 64 });
    const stepCtx = (pending: number[], cached: number, history: number[]): StepContext => ({
      pending: Int32Array.from(pending), cached, history, sampling: GREEDY, rng: new Rng(0),
    });
    // Step 1, with stipulated choices: g_0 = x_2 at x_1's row, group 0 proposes c_1 c_2.
    const plan1 = proposer.plan(stepCtx([ID.x_0, ID.x_1], 0, [ID.x_0, ID.x_1]));
    // Choices per block row (x_0, x_1, then group 0's masks): the pass computes the verify rows' logits,
    // observe() asks for the selected group's.
    const byRow1 = [1, ID.x_2, ...v.candidates];
    const logitsOf = (byRow: number[]) => (rows: ArrayLike<number>) => fakeLogits(Array.from(rows, (r) => byRow[r]));
    const logits1 = logitsOf(byRow1)(plan1.block.logitRows);
    const verdict1 = verifyGreedy(plan1.candidates, (i) => argmax(rowOf(logits1, plan1.verifyRows[i])), () => false);
    expect(verdict1.emitted).toEqual([ID.x_2]);
    expect(Array.from(proposer.observe(plan1, logits1, verdict1, stepCtx([], 0, []), logitsOf(byRow1)))).toEqual(v.candidates);

    // Step 2: choices per block row (rows 0..8): g_0 at x_2, group 0, g_1 at c_1, group 1, g_2 at c_2, group 2.
    const plan2: SpacePlan = proposer.plan(stepCtx([ID.x_2], 2, [ID.x_0, ID.x_1, ID.x_2]));
    expect(Array.from(plan2.candidates)).toEqual(v.candidates);
    const [g0, g1, g2] = v.g;
    const nextGroup = v["next group"][0];
    const byRow = [g0, 1, 1, g1, 1, 1, g2, 1, 1];
    plan2.groups[nextGroup]!.forEach((r, j) => (byRow[r] = v["next candidates"][j]));
    const logits2 = logitsOf(byRow)(plan2.block.logitRows);
    const verdict2 = verifyGreedy(plan2.candidates, (i) => argmax(rowOf(logits2, plan2.verifyRows[i])), () => false);
    expect(verdict2.accepted).toBe(v.accepted[0]);
    expect(verdict2.emitted).toEqual(v.emitted);
    expect(Array.from(plan2.keepRows(verdict2.accepted))).toEqual(v["keep rows"]);
    expect(Array.from(proposer.observe(plan2, logits2, verdict2, stepCtx([], 0, []), logitsOf(byRow)))).toEqual(v["next candidates"]);

    // Step 3 (C = 4): the block the spec's last paragraph describes.
    const plan3 = proposer.plan(stepCtx([verdict2.emitted[1]], 4, []));
    expect(Array.from(plan3.block.tokens)).toEqual([30, M, M, 40, M, M, 41, M, M]);
    expect(Array.from(plan3.block.positions)).toEqual([4, 5, 6, 5, 6, 7, 6, 7, 8]);
  });
});

describe("layouts", () => {
  it("lean: groups only after the bonus and the last candidate; positions follow the same rule", () => {
    const plan = spaceBlock(2, [12], [20, 21, 22], 2, { token: M }, LEAN_LAYOUT);
    expect(Array.from(plan.block.tokens)).toEqual([12, M, M, 20, 21, 22, M, M]);
    expect(Array.from(plan.block.positions)).toEqual([2, 3, 4, 3, 4, 5, 6, 7]);
    expect(plan.groups.map((g) => (g ? Array.from(g) : null))).toEqual([[1, 2], null, null, [6, 7]]);
    expect(Array.from(plan.keepRows(2))).toEqual([0, 3, 4]);
  });

  it("extra rows: k(k+2) for the full layout, 3k for the lean one, 2k for the tail one", () => {
    for (let k = 1; k <= 8; k++) {
      expect(maxExtraRows(k, FULL_LAYOUT)).toBe(k * (k + 2));
      expect(maxExtraRows(k, LEAN_LAYOUT)).toBe(3 * k);
      expect(maxExtraRows(k, TAIL_LAYOUT)).toBe(2 * k);
    }
  });

  it("tail: one group, after the last candidate (after the bonus when there is none)", () => {
    const plan = spaceBlock(2, [12], [20, 21], 2, { token: M }, TAIL_LAYOUT);
    expect(Array.from(plan.block.tokens)).toEqual([12, 20, 21, M, M]);
    expect(Array.from(plan.block.positions)).toEqual([2, 3, 4, 5, 6]);
    expect(plan.groups.map((g) => (g ? Array.from(g) : null))).toEqual([null, null, [3, 4]]);
    const none = spaceBlock(2, [12], [], 2, { token: M }, TAIL_LAYOUT);
    expect(Array.from(none.block.tokens)).toEqual([12, M, M]);
    expect(none.groups.map((g) => (g ? Array.from(g) : null))).toEqual([[1, 2]]);
  });

  it("hybrid: candidates from a matching n-gram of the text so far, else from the mask group; the masks follow either", () => {
    const proposer = new SpaceProposer({ k: 2, mask: { token: M }, layout: HYBRID_LAYOUT, vocabSize: 100 });
    // History ... 7 8 9 ... 7 8: the bigram "7 8" matched, followed by 9, 5.
    const ctx = (history: number[], pending: number[]) => ({ pending: Int32Array.from(pending), cached: history.length - pending.length, history, sampling: GREEDY, rng: new Rng(1) });
    const looked = proposer.plan(ctx([7, 8, 9, 5, 6, 7, 8], [8]));
    expect(Array.from(looked.candidates)).toEqual([9, 5]);
    expect(looked.draft).toBeUndefined(); // a deterministic draft
    expect(Array.from(looked.block.tokens)).toEqual([8, 9, 5, M, M]);
    // No match: the mask group's candidates (none before the first step), so the block proposes.
    const unmatched = proposer.plan(ctx([1, 2, 3], [3]));
    expect(Array.from(unmatched.candidates)).toEqual([]);
    expect(Array.from(unmatched.block.tokens)).toEqual([3, M, M]);
  });

  it("mask embeddings from an adapter go to every mask row (vector j to mask j of each group)", () => {
    const a = Float32Array.of(1, 2);
    const b = Float32Array.of(3, 4);
    const plan = spaceBlock(0, [12], [20], 2, { token: M, embeddings: [a, b] });
    expect(Array.from(plan.block.embeddings!.rows)).toEqual([1, 2, 4, 5]);
    expect(Array.from(plan.block.embeddings!.vectors)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });
});

/** Logits f32 [R, 64] whose row r has its maximum at choice[r]. */
function fakeLogits(choice: number[]): Float32Array {
  const V = 64;
  const out = new Float32Array(choice.length * V);
  choice.forEach((id, r) => (out[r * V + id] = 1));
  return out;
}

function rowOf(logits: Float32Array, r: number): Float32Array {
  return logits.subarray(r * 64, (r + 1) * 64);
}

import { describe, expect, it } from "vitest";
import { lookupCandidates, LookupProposer } from "../src/decode/lookup.js";
import { GREEDY } from "../src/decode/sampling.js";
import { Rng } from "../src/util/rng.js";

describe("prompt lookup: candidates copied after the most recent match of the longest tail n-gram", () => {
  const table: { name: string; history: number[]; k: number; want: number[] }[] = [
    { name: "bigram match (the doc comment's example)", history: [1, 2, 3, 4, 1, 2], k: 3, want: [3, 4, 1] },
    { name: "the copy continues into the tokens it proposes", history: [1, 2, 3, 4, 1, 2], k: 5, want: [3, 4, 1, 2, 3] },
    { name: "the most recent match wins", history: [7, 8, 5, 7, 8, 6, 9, 7, 8], k: 2, want: [6, 9] },
    { name: "a longer n-gram wins over a more recent shorter one", history: [1, 2, 3, 9, 5, 2, 3, 8, 1, 2, 3], k: 1, want: [9] },
    { name: "a repeated token proposes more of it", history: [4, 6, 6, 6], k: 3, want: [6, 6, 6] },
    { name: "falls back to a single-token match", history: [5, 1, 6, 2, 1], k: 2, want: [6, 2] },
    { name: "no match: no candidates", history: [1, 2, 3], k: 4, want: [] },
    { name: "a one-token history: no candidates", history: [1], k: 4, want: [] },
  ];
  for (const row of table) {
    it(row.name, () => expect(lookupCandidates(row.history, row.k, 3, 1)).toEqual(row.want));
  }

  it("a banned candidate ends the candidates (it could never be accepted)", () => {
    const p = new LookupProposer({ k: 4 });
    const history = [1, 2, 3, 9, 4, 1, 2];
    const plan = p.plan({ pending: Int32Array.of(2), cached: 6, history, sampling: GREEDY, rng: new Rng(0), banned: new Set([9]) });
    expect(Array.from(plan.candidates)).toEqual([3]);
    expect(Array.from(plan.block.tokens)).toEqual([2, 3]);
    expect(Array.from(plan.block.positions)).toEqual([6, 7]);
    expect(Array.from(plan.keepRows(1))).toEqual([0, 1]);
  });
});

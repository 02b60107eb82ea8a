/**
 * The n-gram store (src/decode/ngramstore.ts): the draft's first token is, for the longest stored n-gram
 * ending the text, the token that followed it most often (ties: the one that reached that count first),
 * with its share; then the draft goes on from the text plus what it drafted. Checked against a brute-force
 * count over the corpus.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NgramStore } from "../src/decode/ngramstore.js";

/** Brute force: the first drafted token, its n and share (n = 0 when no n-gram of nMin..nMax ends `text`). */
function bruteNext(corpus: number[][], text: number[], nMin: number, nMax: number): { token: number; n: number; share: number } | null {
  for (let n = Math.min(nMax, text.length); n >= nMin; n--) {
    const tail = text.slice(text.length - n);
    const counts = new Map<number, number>();
    let best = -1, bestCount = 0, total = 0;
    for (const seq of corpus) {
      for (let end = n; end < seq.length; end++) {
        if (!tail.every((t, i) => seq[end - n + i] === t)) continue;
        const next = seq[end];
        const c = (counts.get(next) ?? 0) + 1;
        counts.set(next, c);
        total++;
        if (c > bestCount) {
          best = next;
          bestCount = c;
        }
      }
    }
    if (total > 0) return { token: best, n, share: bestCount / total };
  }
  return null;
}

describe("NgramStore", () => {
  it("drafts the stored continuation, then continues from its own draft (the doc's example)", () => {
    const s = NgramStore.build([[5, 6, 7, 8]], { nMin: 2, nMax: 2 });
    expect(s.draft([1, 5, 6], 5)).toEqual({ tokens: [7, 8], n: 2, share: 1 });
    expect(s.draft([1, 2, 3], 5)).toEqual({ tokens: [], n: 0, share: 0 });
    expect(s.draft([5, 6], 1).tokens).toEqual([7]);
  });

  it("the longest n-gram wins; the most frequent continuation, its share", () => {
    // After "1 2" comes 3 twice and 4 once; after "9 1 2" only 4.
    const s = NgramStore.build([[1, 2, 3], [1, 2, 3], [9, 1, 2, 4]], { nMin: 2, nMax: 3 });
    expect(s.draft([0, 1, 2], 1)).toEqual({ tokens: [3], n: 2, share: 2 / 3 });
    expect(s.draft([9, 1, 2], 1)).toEqual({ tokens: [4], n: 3, share: 1 });
  });

  it("a tie goes to the continuation that reached the count first", () => {
    const s = NgramStore.build([[1, 2, 7], [1, 2, 8], [1, 2, 8], [1, 2, 7]], { nMin: 2, nMax: 2 });
    expect(s.draft([1, 2], 1)).toEqual({ tokens: [8], n: 2, share: 0.5 });
  });

  it("matches a brute-force count on random corpora (first token, n, share; every drafted token)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 30 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 6 }),
        (corpus, history, nMin, extra, k) => {
          const nMax = nMin + extra;
          const s = NgramStore.build(corpus, { nMin, nMax });
          const d = s.draft(history, k);
          const text = [...history];
          for (let i = 0; i < k; i++) {
            const want = bruteNext(corpus, text, nMin, nMax);
            if (!want) {
              expect(d.tokens.length, `stops at ${i}`).toBe(i);
              break;
            }
            expect(d.tokens[i], `token ${i}`).toBe(want.token);
            if (i === 0) expect({ n: d.n, share: d.share }).toEqual({ n: want.n, share: want.share });
            text.push(want.token);
          }
          if (d.tokens.length === 0) expect({ n: d.n, share: d.share }).toEqual({ n: 0, share: 0 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses token ids outside [0, 2^21) and bad n-gram sizes (E_ARGS)", () => {
    expect(() => NgramStore.build([[1, -1, 2]])).toThrow(/token -1/);
    expect(() => NgramStore.build([[1, 2 ** 21]])).toThrow(/not an id/);
    expect(() => NgramStore.build([[1, 2.5]])).toThrow(/not an id/);
    expect(() => NgramStore.build([[1, 2]], { nMin: 0 })).toThrow(/nMin <= nMax/);
    expect(() => NgramStore.build([[1, 2]], { nMin: 4, nMax: 3 })).toThrow(/nMin <= nMax/);
  });
});

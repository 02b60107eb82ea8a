import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { verifyGreedy } from "../src/decode/verify.js";

const EOS = 2;
const isEog = (id: number) => id === EOS;

describe("verifyGreedy (paper notation: accept c_i while c_i == g_{i-1}; emit the bonus g_n)", () => {
  const table: { name: string; c: number[]; g: number[]; accepted: number; emitted: number[]; ended: boolean }[] = [
    { name: "AR step (k = 0)", c: [], g: [7], accepted: 0, emitted: [7], ended: false },
    { name: "first candidate wrong", c: [5, 7], g: [4, 9, 9], accepted: 0, emitted: [4], ended: false },
    { name: "prefix accepted, then corrected", c: [5, 7, 9], g: [5, 7, 4, 8], accepted: 2, emitted: [5, 7, 4], ended: false },
    { name: "all accepted plus bonus", c: [5, 7, 9], g: [5, 7, 9, 8], accepted: 3, emitted: [5, 7, 9, 8], ended: false },
    { name: "accepted EOS ends the step, no bonus", c: [5, EOS, 9], g: [5, EOS, 1, 1], accepted: 2, emitted: [5, EOS], ended: true },
    { name: "bonus EOS", c: [5], g: [5, EOS], accepted: 1, emitted: [5, EOS], ended: true },
    { name: "correction to EOS", c: [5, 6], g: [EOS, 1, 1], accepted: 0, emitted: [EOS], ended: true },
  ];
  for (const row of table) {
    it(row.name, () => {
      const v = verifyGreedy(row.c, (i) => row.g[i], isEog);
      expect(v).toEqual({ accepted: row.accepted, emitted: row.emitted, ended: row.ended });
    });
  }

  it("only asks for the g_i the rule needs", () => {
    const asked: number[] = [];
    verifyGreedy([5, 7, 9], (i) => (asked.push(i), [5, 1, 1, 1][i]), isEog);
    expect(asked).toEqual([0, 1]);
  });

  it("emits exactly the AR continuation, whatever the candidates (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 3, max: 6 }), { maxLength: 8 }), fc.array(fc.integer({ min: 3, max: 6 }), { minLength: 9, maxLength: 9 }), (c, g) => {
        const v = verifyGreedy(c, (i) => g[i], isEog);
        // What AR would emit is g_0, then (if c_1 = g_0) g_1, ... : the emitted tokens are g_0..g_n.
        expect(v.emitted).toEqual(g.slice(0, v.accepted + 1));
        expect(c.slice(0, v.accepted)).toEqual(g.slice(0, v.accepted));
        if (v.accepted < c.length) expect(c[v.accepted]).not.toBe(g[v.accepted]);
      }),
    );
  });
});

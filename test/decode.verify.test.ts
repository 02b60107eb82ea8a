import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { verifyGreedy, verifySampled, residual, probOf, pointMass } from "../src/decode/verify.js";
import type { Distribution } from "../src/decode/sampling.js";

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

describe("verifySampled (speculative sampling: accept c_i with prob min(1, p/q), else draw from norm(max(0, p - q)))", () => {
  const dist = (o: Record<number, number>): Distribution => ({ ids: Int32Array.from(Object.keys(o).map(Number)), probs: Float64Array.from(Object.values(o)) });
  const scripted = (u: number[]) => ({ next: () => (u.length ? u.shift()! : expect.fail("the rule drew more uniforms than scripted")) });
  const p0 = dist({ 5: 0.5, 7: 0.3, 9: 0.2 });
  const p1 = dist({ 11: 1 });
  const table: { name: string; c: number[]; q: (Distribution | null)[]; u: number[]; accepted: number; emitted: number[]; ended?: boolean }[] = [
    { name: "k = 0 is one draw from p_0", c: [], q: [], u: [0.6], accepted: 0, emitted: [7] },
    { name: "point mass: u < p(c) accepts, then the bonus from p_1", c: [5], q: [null], u: [0.49, 0.3], accepted: 1, emitted: [5, 11] },
    { name: "point mass: u >= p(c) rejects; residual = p without c, renormalised {7: .6, 9: .4}", c: [5], q: [null], u: [0.5, 0.59], accepted: 0, emitted: [7] },
    { name: "point mass: the residual's upper part", c: [5], q: [null], u: [0.5, 0.6], accepted: 0, emitted: [9] },
    { name: "draft q: accept with p/q = 0.3/0.6", c: [7], q: [dist({ 7: 0.6, 5: 0.4 })], u: [0.49, 0.9], accepted: 1, emitted: [7, 11] },
    { name: "draft q: rejected; residual max(0, p - q) = {5: .1, 9: .2} -> {5: 1/3, 9: 2/3}", c: [7], q: [dist({ 7: 0.6, 5: 0.4 })], u: [0.5, 0.33], accepted: 0, emitted: [5] },
    { name: "draft q: rejected, upper part of the residual", c: [7], q: [dist({ 7: 0.6, 5: 0.4 })], u: [0.5, 0.34], accepted: 0, emitted: [9] },
    { name: "c outside p's support (top-k) is always rejected", c: [3], q: [null], u: [0, 0.99], accepted: 0, emitted: [9] },
    { name: "an accepted end-of-generation token ends the step: no bonus draw", c: [EOS, 5], q: [null, null], u: [0.1], accepted: 1, emitted: [EOS], ended: true },
  ];
  const p = (i: number) => (i === 0 ? p0 : p1);
  for (const row of table) {
    it(row.name, () => {
      const pi = row.c[0] === EOS ? (i: number) => (i === 0 ? dist({ [EOS]: 0.5, 5: 0.5 }) : p1) : p;
      const u = [...row.u];
      const v = verifySampled(row.c, pi, (i) => row.q[i - 1], scripted(u), isEog);
      expect(v).toEqual({ accepted: row.accepted, emitted: row.emitted, ended: row.ended ?? false });
      expect(u, "every scripted uniform was used").toEqual([]);
    });
  }

  it("the rule's output distribution is exactly p_0, for any p and q (exact algebra, property)", () => {
    const probs = (n: number) => fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n, maxLength: n }).filter((w) => w.reduce((a, b) => a + b, 0) > 1e-3);
    fc.assert(
      fc.property(probs(6), probs(6), fc.integer({ min: 0, max: 5 }), (pw, qw, c) => {
        const norm = (w: number[]) => dist(Object.fromEntries(w.map((x, i) => [i + 3, x / w.reduce((a, b) => a + b, 0)])));
        const P = norm(pw);
        const Q = norm(qw);
        if (probOf(Q, c + 3) === 0) return; // a draft never proposes what it gives probability 0
        // P(emit x) = sum over c of q(c) * [accept c and x = c, or reject c and x ~ residual].
        const out = new Map<number, number>();
        let reject = 0;
        for (let j = 0; j < Q.ids.length; j++) {
          const cj = Q.ids[j];
          if (Q.probs[j] === 0) continue; // never proposed (and p/q would be 0/0)
          const accept = Math.min(1, probOf(P, cj) / Q.probs[j]);
          out.set(cj, (out.get(cj) ?? 0) + Q.probs[j] * accept);
          reject += Q.probs[j] * (1 - accept);
        }
        const R = residual(P, Q);
        R.ids.forEach((x, j) => out.set(x, (out.get(x) ?? 0) + reject * R.probs[j]));
        P.ids.forEach((x, j) => expect(out.get(x) ?? 0).toBeCloseTo(P.probs[j], 12));
      }),
    );
  });

  it("residual: max(0, p(x) - q(x)) over p's ids in p's order, each divided by their sum (property, supports of 1-200 ids)", () => {
    // The definition written out, with probOf for every q(x): what residual must equal bit for bit.
    const reference = (p: Distribution, q: Distribution): Distribution => {
      const kept = [...p.ids].map((id, j) => ({ id, m: p.probs[j] - probOf(q, id) })).filter((x) => x.m > 0);
      let total = 0;
      for (const x of kept) total += x.m;
      return total === 0 ? p : { ids: Int32Array.from(kept, (x) => x.id), probs: Float64Array.from(kept, (x) => x.m / total) };
    };
    const normed = (w: number[], ids: number[]): Distribution => {
      const sum = w.reduce((a, b) => a + b, 0);
      return { ids: Int32Array.from(ids), probs: Float64Array.from(w, (x) => x / sum) };
    };
    const support = fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 });
    const dist = support.chain((ids) => fc.array(fc.double({ min: 0.001, max: 1, noNaN: true }), { minLength: ids.length, maxLength: ids.length }).map((w) => normed(w, ids)));
    fc.assert(fc.property(dist, dist, (p, q) => {
      const r = residual(p, q), want = reference(p, q);
      expect(Array.from(r.ids)).toEqual(Array.from(want.ids));
      expect(Array.from(r.probs)).toEqual(Array.from(want.probs));
    }), { numRuns: 300 });
  });

  it("residual: p where p = q (rejection then has probability 0)", () => {
    expect(residual(p0, p0)).toBe(p0);
    expect(probOf(residual(p0, pointMass(5)), 5)).toBe(0);
  });
});

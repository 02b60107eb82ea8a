/**
 * Every mask group of a SPACE block, not only group 0: the k mask rows after c_j must give, bit for bit,
 * the logits of the single-group block built on the same prefix + c_1..c_j (which is what SAR-SFT trains,
 * test/train.sar.test.ts). A mask visible to a later group's rows, a candidate hidden from its own group,
 * or a position off by one changes some group's logits and fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../src/engine.js";
import { chainBlock, range } from "../src/decode/block.js";
import { spaceBlock, FULL_LAYOUT, LEAN_LAYOUT, maxExtraRows, type SpaceMask } from "../src/decode/space.js";
import { tinyEngine } from "./helpers/engine.js";

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 31 });
});
afterAll(() => engine.close());

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe("SPACE: every mask group equals its single-group block", () => {
  const V = () => engine.config.vocabSize;
  const cases = [
    { committed: 0, pending: [11, 12, 13], candidates: [40, 41, 42], k: 3 },
    { committed: 5, pending: [17], candidates: [50, 51, 52, 53], k: 4 },
    { committed: 9, pending: [18], candidates: [60, 61], k: 2 },
    { committed: 3, pending: [19, 20], candidates: [70], k: 5 },
  ];
  const D = () => engine.config.dModel;
  const vectors = (k: number) => Array.from({ length: k }, (_, j) => Float32Array.from({ length: D() }, (_, d) => Math.sin(7 * j + d) * 0.5));
  const masks: [string, (k: number) => SpaceMask][] = [
    ["the mask token", () => ({ token: 9 })],
    ["k mask vectors", (k) => ({ token: 9, embeddings: vectors(k) })],
  ];

  for (const [maskName, maskOf] of masks) {
    for (const layout of [FULL_LAYOUT, LEAN_LAYOUT]) {
      it(`${maskName}, ${layout.name} layout`, () => {
        for (const c of cases) {
          const prefix = Array.from({ length: c.committed }, (_, i) => 3 + ((i * 37) % 200));
          const mask = maskOf(c.k);
          const ctx = engine.newContext(prefix.length + c.pending.length + c.candidates.length + 2, maxExtraRows(c.k, FULL_LAYOUT) + c.candidates.length + 4);
          try {
            if (prefix.length > 0) {
              ctx.forward.run(ctx.cache, ctx.ws, chainBlock(0, prefix, [prefix.length - 1]));
              ctx.cache.commit(range(0, prefix.length));
            }
            const plan = spaceBlock(c.committed, c.pending, c.candidates, c.k, mask, layout);
            ctx.forward.run(ctx.cache, ctx.ws, plan.block);
            // A block's mask rows get logits on demand (Forward.moreLogits, after its verify rows); each
            // is copied before the next call overwrites it.
            const after = plan.block.logitRows.length;
            const got = plan.groups.map((group) => (group ? ctx.forward.moreLogits(ctx.ws, group, after).slice() : null));
            let compared = 0;
            got.forEach((rows, j) => {
              if (!rows) return;
              // The reference: prefix + c_1..c_j pending, no candidates, one group. The cache still holds
              // only the committed prefix (a forward pass does not commit), so it runs on the same context.
              const single = spaceBlock(c.committed, [...c.pending, ...c.candidates.slice(0, j)], [], c.k, mask);
              ctx.forward.run(ctx.cache, ctx.ws, single.block);
              const want = ctx.forward.moreLogits(ctx.ws, single.maskRows!, single.block.logitRows.length);
              for (let i = 0; i < c.k; i++) {
                const row = (x: Float32Array) => x.subarray(i * V(), (i + 1) * V());
                expect(sameBits(row(rows), row(want)), `case ${JSON.stringify(c)}: group ${j}, mask ${i}`).toBe(true);
              }
              compared++;
            });
            expect(compared).toBe(plan.groups.filter(Boolean).length);
            expect(compared).toBeGreaterThan(layout === FULL_LAYOUT ? c.candidates.length : 0);
          } finally {
            ctx.dispose();
          }
        }
      });
    }
  }
});

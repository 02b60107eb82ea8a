/** Running a token sequence through the forward in chosen blocks, and comparing logits bit for bit. */
import fc from "fast-check";
import type { Engine } from "../../src/engine.js";
import { chainBlock, range } from "../../src/decode/block.js";

/**
 * Logits of every token of `tokens` (f32 [V] each), computed in causal blocks of the given sizes
 * (sum = tokens.length), each block committed to the cache before the next.
 */
export function logitsInBlocks(e: Engine, tokens: number[], sizes: number[]): Float32Array[] {
  const ctx = e.newContext(tokens.length + 1, Math.max(...sizes));
  const V = e.config.vocabSize;
  const out: Float32Array[] = [];
  let at = 0;
  for (const n of sizes) {
    const logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, tokens.slice(at, at + n), range(0, n)));
    for (let r = 0; r < n; r++) out.push(logits.slice(r * V, (r + 1) * V));
    ctx.cache.commit(range(0, n));
    at += n;
  }
  ctx.dispose();
  return out;
}

/** Random splits of `total` tokens into blocks of 1..maxPart. */
export function splits(total: number, maxPart: number) {
  return fc.array(fc.integer({ min: 1, max: maxPart }), { minLength: 1, maxLength: total }).map((parts) => {
    const out: number[] = [];
    let left = total;
    for (const p of parts) {
      if (left === 0) break;
      out.push(Math.min(p, left));
      left -= out[out.length - 1];
    }
    if (left > 0) out.push(left);
    return out;
  });
}

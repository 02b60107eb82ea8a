/**
 * Teacher forcing: our logits at every position of another engine's output, whatever it chose. The
 * sequence prompt + tokens runs as ordinary causal blocks of at most PREFILL_CHUNK rows (the same split
 * the generate loop uses for a prompt); batch invariance (spec/kernels.md) makes each row's logits
 * bit-identical to the ones our own greedy decoding computes at that position, so "our token" below is
 * exactly what `space generate` would emit after the same prefix.
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import { PREFILL_CHUNK } from "../model/forward.js";
import { chainBlock } from "../decode/block.js";

/**
 * Calls `onRow(i, row)` for i = 0..N-1 with our logits (f32 [V]) after prompt + tokens[0..i), the row
 * that predicts tokens[i]. `row` is a view of the workspace: read it during the call only.
 */
export function teacherForce(engine: Engine, prompt: readonly number[], tokens: readonly number[], onRow: (i: number, row: Float32Array) => void): void {
  const P = prompt.length;
  const N = tokens.length;
  if (P === 0) fail("E_ARGS", "teacher forcing needs a non-empty prompt");
  if (N === 0) return;
  if (P + N > engine.config.contextLength) {
    fail("E_CONTEXT", `${P} prompt + ${N} generated tokens exceed the model's context of ${engine.config.contextLength}`);
  }
  // The last token is never an input: nothing after it is checked.
  const inputs = [...prompt, ...tokens.slice(0, N - 1)]; // [P + N - 1]
  const V = engine.config.vocabSize;
  // Blocks of up to PREFILL_CHUNK rows, each asking for logits of the rows at positions >= P - 1.
  const ctx = engine.newContext(P + N, PREFILL_CHUNK - 1);
  try {
    for (let at = 0; at < inputs.length; at += PREFILL_CHUNK) {
      const chunk = inputs.slice(at, at + PREFILL_CHUNK);
      const first = Math.max(0, P - 1 - at); // first block row with logits
      const rows = Array.from({ length: Math.max(0, chunk.length - first) }, (_, r) => first + r);
      const logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, chunk, rows));
      rows.forEach((r, j) => onRow(at + r - (P - 1), logits.subarray(j * V, (j + 1) * V)));
      ctx.cache.commit(Int32Array.from(chunk, (_, r) => r));
    }
  } finally {
    ctx.dispose();
  }
}

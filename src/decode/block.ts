/**
 * Building blocks (the input of one forward pass): tokens, positions and the attention mask against
 * the committed cache rows plus the block rows.
 */
import type { Block } from "../model/forward.js";

/**
 * A causal chain: `tokens` follow the C committed rows in order, each at the next position and seeing
 * every committed row and every earlier block row. This is the whole block for AR decoding, prefill,
 * prompt lookup and draft-model speculation.
 *
 * Example, C = 2, tokens [a, b]: positions [2, 3]; mask rows [1 1 1 0], [1 1 1 1].
 */
export function chainBlock(C: number, tokens: ArrayLike<number>, logitRows: ArrayLike<number>): Block {
  const T = tokens.length;
  const nKeys = C + T;
  const mask = new Uint8Array(T * nKeys);
  const positions = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    positions[t] = C + t;
    mask.fill(1, t * nKeys, t * nKeys + C + t + 1);
  }
  return { tokens: Int32Array.from(tokens), positions, mask, logitRows: Int32Array.from(logitRows) };
}

export function range(from: number, to: number): Int32Array {
  return Int32Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/**
 * The KV cache: per layer, K and V rows of width kvDim = nKvHeads * headDim, f32.
 *
 * Rows [0, length) are committed: the verified prefix plus every accepted token, in order, so committed
 * row r always holds position r. A forward pass writes its block's T rows at [length, length + T) and
 * attends over all length + T rows through an explicit mask; `commit(keep)` then keeps only the block
 * rows the decoder accepted, sliding them down to be contiguous (SPACE discards its mask rows and
 * rejected candidates here). Because attention reduces over visible keys in key order, dropping
 * invisible rows cannot change any later result, bit for bit.
 *
 * The cache is sized for the context actually in use (prompt + generation + one block), not for the
 * model's maximum context.
 */
import { fail } from "../errors.js";
import type { Arena } from "../wasm/arena.js";

export class KVCache {
  readonly k: readonly number[]; // per layer: f32 [capacity, kvDim]
  readonly v: readonly number[];
  private committed = 0;

  constructor(
    arena: Arena,
    private readonly memory: WebAssembly.Memory,
    nLayers: number,
    readonly kvDim: number,
    readonly capacity: number, // rows, including room for one block
  ) {
    const bytes = capacity * kvDim * 4;
    const k: number[] = [];
    const v: number[] = [];
    for (let l = 0; l < nLayers; l++) {
      k.push(arena.alloc(bytes, 64));
      v.push(arena.alloc(bytes, 64));
    }
    this.k = k;
    this.v = v;
  }

  /** Committed rows (= the position the next token will take). */
  get length(): number {
    return this.committed;
  }

  /** Byte offset of row `row` of layer `layer`'s K (or V) matrix. */
  rowPtr(base: number, row: number): number {
    return base + row * this.kvDim * 4;
  }

  /** Checks that a block of T rows fits after the committed rows. */
  reserve(T: number): void {
    if (this.committed + T > this.capacity) {
      fail("E_CONTEXT", `the context is full: ${this.committed} cached tokens + a block of ${T} exceed the ${this.capacity} allocated`);
    }
  }

  /**
   * Keeps block rows `keep` (indices into the last block, strictly increasing) after the committed rows.
   * keep = [0, 1, ..., T-1] (AR) moves nothing.
   */
  commit(keep: ArrayLike<number>): void {
    const rowBytes = this.kvDim * 4;
    const mem = new Uint8Array(this.memory.buffer);
    for (let i = 0; i < keep.length; i++) {
      const from = this.committed + keep[i];
      const to = this.committed + i;
      if (i > 0 && keep[i] <= keep[i - 1]) fail("E_ARGS", "KVCache.commit: kept rows must be strictly increasing");
      if (from === to) continue;
      for (let l = 0; l < this.k.length; l++) {
        mem.copyWithin(this.rowPtr(this.k[l], to), this.rowPtr(this.k[l], from), this.rowPtr(this.k[l], from) + rowBytes);
        mem.copyWithin(this.rowPtr(this.v[l], to), this.rowPtr(this.v[l], from), this.rowPtr(this.v[l], from) + rowBytes);
      }
    }
    this.committed += keep.length;
  }

  /** Forgets everything after the first `n` committed rows. */
  truncate(n: number): void {
    if (n < 0 || n > this.committed) fail("E_ARGS", `KVCache.truncate(${n}) outside [0, ${this.committed}]`);
    this.committed = n;
  }
}

/**
 * Trainable parameters: named f32 tensors in WebAssembly memory, each with its gradient and the two AdamW
 * moments, allocated once from the arena. The store knows nothing about the model: the Llama training
 * graph (model.ts) adds the model's tensors it trains, and later parts add their own (adapters, a mask
 * embedding) to the same store, so one optimizer and one checkpoint format serve every mode.
 */
import { fail } from "../errors.js";
import type { Arena } from "../wasm/arena.js";

export interface Param {
  /** The GGUF tensor name (`blk.0.attn_q.weight`), or an adapter's own name. */
  readonly name: string;
  /** [rows, cols], cols contiguous; a vector is [1, n]. */
  readonly rows: number;
  readonly cols: number;
  readonly size: number; // rows * cols
  readonly data: number; // f32 [rows, cols]
  readonly grad: number; // f32 [rows, cols]
  readonly m: number; // f32 [rows, cols]: AdamW first moment
  readonly v: number; // f32 [rows, cols]: AdamW second moment
  /** Whether decoupled weight decay applies (matrices by default, not norm vectors). */
  readonly decay: boolean;
}

export type ParamBuffer = "data" | "grad" | "m" | "v";

export class ParamStore {
  private readonly byName = new Map<string, Param>();
  private readonly order: Param[] = [];

  constructor(private readonly arena: Arena) {}

  /** Parameters in the order they were added (the order of the gradient norm and of checkpoints). */
  get list(): readonly Param[] {
    return this.order;
  }

  /** Total number of trainable values. */
  get count(): number {
    let n = 0;
    for (const p of this.order) n += p.size;
    return n;
  }

  get(name: string): Param | undefined {
    return this.byName.get(name);
  }

  /**
   * Adds a parameter with zero gradient and moments. `init` fills its values: an f32 array of rows * cols,
   * or a function that writes them at the given pointer (e.g. a dequantising kernel).
   */
  add(name: string, rows: number, cols: number, init: Float32Array | ((data: number) => void), decay = rows > 1): Param {
    if (this.byName.has(name)) fail("E_ARGS", `parameter ${name} is already in the store`);
    if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0)) fail("E_ARGS", `parameter ${name}: bad shape [${rows}, ${cols}]`);
    const size = rows * cols;
    const alloc = () => this.arena.alloc(size * 4, 64);
    const p: Param = { name, rows, cols, size, data: alloc(), grad: alloc(), m: alloc(), v: alloc(), decay };
    if (typeof init === "function") init(p.data);
    else {
      if (init.length !== size) fail("E_ARGS", `parameter ${name}: ${init.length} initial values for shape [${rows}, ${cols}]`);
      this.view(p, "data").set(init);
    }
    this.view(p, "grad").fill(0);
    this.view(p, "m").fill(0);
    this.view(p, "v").fill(0);
    this.byName.set(name, p);
    this.order.push(p);
    return p;
  }

  /** A view of one of a parameter's buffers (invalid after the next arena allocation: copy to keep). */
  view(p: Param, which: ParamBuffer): Float32Array {
    return this.arena.f32(p[which], p.size);
  }

  zeroGrads(): void {
    for (const p of this.order) this.view(p, "grad").fill(0);
  }
}

/**
 * A bump allocator over the core's shared memory, from heapBase() (rounded up to 64) upwards. The
 * kernels never allocate; everything they touch (weights, KV cache, activations, scratch) comes from here.
 *
 * Views are created fresh on every call: growing a memory replaces its buffer object (for a shared
 * memory, `memory.buffer` must be re-read after a grow to see the new length), so never keep a view
 * across an `alloc`.
 */
import { SpaceError } from "../errors.js";
import { MAX_PAGES, PAGE_BYTES } from "./core.js";

const LIMIT = MAX_PAGES * PAGE_BYTES; // 4 GiB: the wasm32 address space

export class Arena {
  /** First byte the arena hands out. */
  readonly base: number;
  private top: number;
  /** The highest top so far (a leak shows as a peak that keeps rising over repeated work). */
  private high: number;
  readonly memory: WebAssembly.Memory;

  constructor(core: { readonly memory: WebAssembly.Memory; readonly exports: { heapBase(): number } }) {
    this.memory = core.memory;
    this.base = alignUp(core.exports.heapBase() >>> 0, 64);
    this.top = this.base;
    this.high = this.base;
  }

  /** Bytes handed out (including alignment padding). */
  get used(): number {
    return this.top - this.base;
  }

  /** The most bytes ever handed out at once (the high-water mark of `used`). */
  get peak(): number {
    return this.high - this.base;
  }

  /** Reserves `bytes` at a multiple of `align` (a power of two), growing the memory as needed. */
  alloc(bytes: number, align = 16): number {
    if (!(Number.isInteger(bytes) && bytes >= 0)) throw new RangeError(`Arena.alloc: bad size ${bytes}`);
    if (!(Number.isInteger(align) && align > 0 && (align & (align - 1)) === 0)) throw new RangeError(`Arena.alloc: bad alignment ${align}`);
    const ptr = alignUp(this.top, align);
    const end = ptr + bytes;
    if (end > LIMIT) {
      throw new SpaceError("E_MODEL", `the model needs ${fmtMiB(end)} of WebAssembly memory, more than the 4 GiB a wasm32 memory can address`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_BYTES);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new SpaceError("E_MODEL", `cannot grow WebAssembly memory to ${fmtMiB(have + pages * PAGE_BYTES)}: ${(e as Error).message}`);
      }
    }
    this.top = end;
    if (end > this.high) this.high = end;
    return ptr;
  }

  /** The current top, to hand back to `reset` (scratch allocations in between are released). */
  mark(): number {
    return this.top;
  }

  /** Releases everything allocated since `mark()` returned m. */
  reset(m: number): void {
    if (!(m >= this.base && m <= this.top)) throw new RangeError(`Arena.reset: ${m} is not a mark of this arena`);
    this.top = m;
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function fmtMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Instantiating the WebAssembly core on a shared memory. No Node-only APIs: this runs in browsers too
 * (src/node/wasm.ts is the Node edge that reads the .wasm files).
 *
 * Two builds of the same kernels: "plain" (simd128 + threads) and "relaxed" (+ relaxed-simd: fused
 * multiply-add in dot products; faster, deterministic on one machine, not bit-equal to "plain").
 */
import { SpaceError } from "../errors.js";
import { KERNEL_EXPORTS, type KernelExports } from "./kernels.js";

export type CoreBuild = "plain" | "relaxed";
export type CoreChoice = "auto" | CoreBuild;

export interface WasmCore {
  /** The shared memory every kernel reads and writes (also what workers instantiate on). */
  readonly memory: WebAssembly.Memory;
  /** The compiled module, to instantiate again in worker threads (instantiateWithModule). */
  readonly module: WebAssembly.Module;
  readonly exports: KernelExports;
  readonly build: CoreBuild;
}

export interface CoreBytes {
  readonly plain: BufferSource;
  readonly relaxed?: BufferSource;
}

/** The module's declared minimum (asconfig.json initialMemory) and the wasm32 maximum (4 GiB). */
export const MIN_PAGES = 32;
export const MAX_PAGES = 65536;
export const PAGE_BYTES = 65536;

/** A fresh shared memory for the core. */
export function createMemory(initialPages = MIN_PAGES): WebAssembly.Memory {
  try {
    return new WebAssembly.Memory({ initial: Math.max(initialPages, MIN_PAGES), maximum: MAX_PAGES, shared: true });
  } catch (e) {
    throw new SpaceError("E_WASM", `cannot create a shared WebAssembly memory (${(e as Error).message}); ` +
      "this browser gives shared memory only to cross-origin isolated pages (serve it with COOP/COEP headers, as `space web` does)");
  }
}

/**
 * Whether a buffer is shared memory. Not `instanceof SharedArrayBuffer`: a browser page that is not
 * cross-origin isolated hides that global, yet Chromium still gives a shared WebAssembly.Memory a shared
 * buffer, and that is all one thread needs (only worker threads need the isolation: src/web/threads.ts).
 */
export function isSharedBuffer(buffer: ArrayBufferLike): boolean {
  return Object.prototype.toString.call(buffer) === "[object SharedArrayBuffer]";
}

/** Whether this engine can compile the relaxed-simd build. */
export function relaxedSupported(bytes: CoreBytes): boolean {
  return bytes.relaxed !== undefined && WebAssembly.validate(bytes.relaxed);
}

/**
 * Compiles and instantiates the chosen build. "auto" takes "relaxed" iff its bytes are given and valid
 * on this engine; "relaxed" throws E_WASM where relaxed SIMD is unsupported. `opts.memory` (shared, at
 * least MIN_PAGES) is used instead of a fresh memory.
 */
export async function instantiateCore(
  bytes: CoreBytes,
  choice: CoreChoice,
  opts: { memory?: WebAssembly.Memory } = {},
): Promise<WasmCore> {
  let build: CoreBuild;
  if (choice === "plain") build = "plain";
  else if (relaxedSupported(bytes)) build = "relaxed";
  else if (choice === "auto") build = "plain";
  else {
    throw new SpaceError("E_WASM", bytes.relaxed === undefined
      ? "the relaxed-SIMD WebAssembly core was requested but its bytes were not provided"
      : "this JavaScript engine does not support WebAssembly relaxed SIMD; use the plain build (--simd plain or auto)");
  }
  const source = build === "relaxed" ? bytes.relaxed! : bytes.plain;
  if (!WebAssembly.validate(source)) {
    throw new SpaceError("E_WASM", `the ${build} WebAssembly core does not validate on this engine (it needs SIMD and threads)`);
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(source);
  } catch (e) {
    throw new SpaceError("E_WASM", `cannot compile the ${build} WebAssembly core: ${(e as Error).message}`);
  }
  return instantiateWithModule(module, opts.memory ?? createMemory());
}

/**
 * Instantiates an already compiled core on a given shared memory: how a worker thread gets its own
 * instance of the same kernels on the same memory. The build is read back from the module.
 */
export async function instantiateWithModule(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WasmCore> {
  if (!isSharedBuffer(memory.buffer)) {
    throw new SpaceError("E_WASM", "the WebAssembly core needs a shared memory (new WebAssembly.Memory({ shared: true, ... }))");
  }
  const pages = memory.buffer.byteLength / PAGE_BYTES;
  if (pages < MIN_PAGES) memory.grow(MIN_PAGES - pages);
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new SpaceError("E_WASM", `cannot instantiate the WebAssembly core: ${(e as Error).message}`);
  }
  const exports = instance.exports as unknown as KernelExports;
  for (const name of KERNEL_EXPORTS) {
    if (typeof exports[name] !== "function") throw new SpaceError("E_WASM", `the WebAssembly core lacks the export ${name}`);
  }
  return { memory, module, exports, build: exports.isRelaxed() ? "relaxed" : "plain" };
}

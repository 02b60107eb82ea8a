/**
 * The browser entry (`space-decoding/web`): the public API, plus what a page needs around it.
 *
 *   const wasm = await fetchCoreBytes({ plain: "space-plain.wasm", relaxed: "space-relaxed.wasm" });
 *   const model = await loadBrowserModel(await urlSource("model.gguf"), { wasm, threads: 1 });
 *   const r = await model.generate("interface Foo {", { decoder: "space", onStep: draw });
 *
 * Model bytes come from a URL (urlSource), a File or a Blob (blobSource). One thread works on any page;
 * more need a cross-origin isolated page (COOP/COEP) and a dedicated worker (src/web/threads.ts).
 */
import { fail } from "../errors.js";
import { loadModel, type LoadOptions, type Model } from "../api/index.js";
import type { ByteSource } from "../gguf/source.js";
import { deferredExecutor, threadsUnavailable, type DeferredExecutor } from "./threads.js";

export * from "../api/index.js";
export { blobSource, blobText, fetchBytes, urlSource } from "./sources.js";
export { fetchCoreBytes, type CoreUrls } from "./core.js";
export { browserExecutor, deferredExecutor, threadsUnavailable, type DeferredExecutor } from "./threads.js";
export { parseTrace, picture, runningStats, type StepPicture, type StepRecord } from "./steps.js";

export interface BrowserLoadOptions extends Omit<LoadOptions, "executor"> {
  /** Threads running the kernels (default 1). More than one: a cross-origin isolated page, in a worker. */
  readonly threads?: number;
}

/**
 * loadModel with browser worker threads: resolves once the pool runs (a pool that cannot start fails the
 * load, with the reason: headers, main thread, a worker that failed).
 */
export async function loadBrowserModel(model: Uint8Array | ByteSource, opts: BrowserLoadOptions): Promise<Model> {
  const threads = opts.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) fail("E_ARGS", `threads must be an integer in [1, 64], got ${threads}`);
  const why = threads > 1 ? threadsUnavailable() : null;
  if (why !== null) fail("E_ARGS", `${threads} threads: ${why}; one thread works anywhere`);
  let pool: DeferredExecutor | null = null;
  const { threads: _threads, ...rest } = opts;
  const loaded = await loadModel(model, threads > 1 ? { ...rest, executor: (core) => (pool = deferredExecutor(core, threads)) } : rest);
  try {
    await (pool as DeferredExecutor | null)?.ready; // every run uses the pool
  } catch (e) {
    loaded.dispose();
    throw e;
  }
  return loaded;
}

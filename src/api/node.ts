/**
 * The Node entry of space-decoding: everything of the browser-safe API (src/api/index.ts), plus models
 * and adapters from files, the package's own WebAssembly core and embedded model, and worker threads.
 *
 *   import { loadModelFile } from "space-decoding/node";
 *   const model = await loadModelFile();                       // the embedded models/space-tiny.gguf
 *   const r = await model.generate("interface Foo {", { decoder: "space", maxTokens: 32 });
 *   model.dispose();
 */
import { fail } from "../errors.js";
import { readGGUF } from "../gguf/reader.js";
import type { WeightStorage } from "../model/weights.js";
import { defaultConfiguration } from "../node/defaults.js";
import { embeddedModelPath } from "../node/embedded.js";
import { fileSource } from "../node/files.js";
import { sha256File } from "../node/prompts.js";
import { nodeExecutor } from "../node/threads.js";
import { readCoreBytes } from "../node/wasm.js";
import { loadModel, type LoadOptions, type Model } from "./index.js";

export * from "./index.js";
export { embeddedModelPath } from "../node/embedded.js";
export { defaultConfiguration, type DefaultConfiguration } from "../node/defaults.js";

export interface FileLoadOptions extends Omit<LoadOptions, "wasm" | "adapter" | "modelSha256" | "executor" | "weights"> {
  /** A base-preserving SPACE adapter GGUF file for this model (spec/adapter.md). */
  readonly adapter?: string;
  /** Weights in memory; default "auto": the default rule (src/node/defaults.ts: f32 panels when they fit, else native). */
  readonly weights?: WeightStorage | "auto";
  /** Worker threads running the kernels; default "auto": the default rule (the idle cores, for weights of 16 MiB and more). Same results for any count. */
  readonly threads?: number | "auto";
}

/**
 * Loads a GGUF file (default: the embedded model shipped in the package) with the package's WebAssembly
 * core. The file is read into WebAssembly memory and closed before this resolves.
 */
export async function loadModelFile(path: string = embeddedModelPath(), opts: FileLoadOptions = {}): Promise<Model> {
  if (typeof path !== "string" || path === "") fail("E_ARGS", "the model path must be a non-empty string");
  if (opts.threads !== undefined && opts.threads !== "auto" && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 64)) {
    fail("E_ARGS", `threads must be an integer in [1, 64] or "auto", got ${String(opts.threads)}`);
  }
  const source = fileSource(path);
  let adapter: ReturnType<typeof fileSource> | undefined;
  try {
    const auto = opts.weights === undefined || opts.weights === "auto" || opts.threads === undefined || opts.threads === "auto";
    const rule = auto ? defaultConfiguration(readGGUF(source)) : undefined;
    const weights = opts.weights === undefined || opts.weights === "auto" ? rule!.weights : opts.weights;
    const threads = opts.threads === undefined || opts.threads === "auto" ? rule!.threads : opts.threads;
    adapter = opts.adapter !== undefined ? fileSource(opts.adapter) : undefined;
    return await loadModel(source, {
      wasm: readCoreBytes(opts.simd ?? "auto"),
      simd: opts.simd,
      weights,
      adapter,
      // Streamed from the file, so the model is not read into JavaScript memory a second time.
      modelSha256: adapter ? sha256File(path) : undefined,
      executor: (core) => nodeExecutor(core, threads),
    });
  } finally {
    adapter?.close();
    source.close(); // the weights now live in WebAssembly memory
  }
}

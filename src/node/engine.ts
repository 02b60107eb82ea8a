/** Node edge: load the WebAssembly core and a GGUF file from disk into an Engine. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Engine } from "../engine.js";
import { fail } from "../errors.js";
import type { WeightStorage } from "../model/weights.js";
import { fileSource } from "./files.js";
import { nodeExecutor } from "./threads.js";
import { loadCoreNode } from "./wasm.js";

export type SimdChoice = "auto" | "plain" | "relaxed";

export interface LoadOptions {
  readonly simd?: SimdChoice;
  readonly threads?: number;
  readonly weights?: WeightStorage;
  readonly alsoWeights?: readonly WeightStorage[];
}

/** The real model's cache location (scripts/fetch-models.mjs puts it there). */
export const SMOLLM2_PATH = join(homedir(), ".cache", "space", "models", "SmolLM2-135M-Instruct.Q4_1.gguf");

export async function loadEngine(path: string, opts: LoadOptions = {}): Promise<Engine> {
  if (!existsSync(path)) fail("E_IO", `${path}: no such file`);
  const core = await loadCoreNode(opts.simd ?? "auto");
  const threads = opts.threads ?? 1;
  const source = fileSource(path);
  try {
    return Engine.load(core, source, { weights: opts.weights, alsoWeights: opts.alsoWeights, executor: (c) => nodeExecutor(c, threads) });
  } finally {
    source.close(); // the weights now live in WebAssembly memory
  }
}

/** Test helpers: engines over tiny in-memory models, and running blocks by hand. */
import { Engine } from "../../src/engine.js";
import { bytesSource } from "../../src/gguf/source.js";
import { loadCoreNode } from "../../src/node/wasm.js";
import { nodeExecutor } from "../../src/node/threads.js";
import type { WeightStorage } from "../../src/model/weights.js";
import { tinyModelBytes, type TinySpec } from "./tiny-model.js";

export interface EngineChoice {
  simd?: "plain" | "relaxed";
  threads?: number;
  weights?: WeightStorage;
  alsoWeights?: WeightStorage[];
}

export async function engineFromBytes(bytes: Uint8Array, choice: EngineChoice = {}): Promise<Engine> {
  const core = await loadCoreNode(choice.simd ?? "plain");
  const threads = choice.threads ?? 1;
  return Engine.load(core, bytesSource("tiny.gguf", bytes), { weights: choice.weights, alsoWeights: choice.alsoWeights, executor: (c) => nodeExecutor(c, threads) });
}

export async function tinyEngine(spec: TinySpec, choice: EngineChoice = {}): Promise<Engine> {
  return engineFromBytes(tinyModelBytes(spec), choice);
}

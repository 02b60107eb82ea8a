/** Messages between the step-through page (app.ts) and its engine worker (worker.ts). */
import type { GenerationStats, LayoutChoice } from "../../api/index.js";
import type { CoreChoice } from "../../wasm/core.js";
import type { ModelInfo, WebDecoder } from "../session.js";
import type { StepRecord } from "../steps.js";

export type ToWorker =
  | {
      type: "load";
      wasm: { plain: string; relaxed: string };
      simd: CoreChoice;
      threads: number;
      model: { url: string } | { blob: Blob; name: string };
      adapter?: { blob: Blob; name: string };
      store?: { blob: Blob; name: string }; // a distilled JSONL file (.gz too): an n-gram store's corpus
    }
  | { type: "run"; prompt: string; chat: boolean; maxTokens: number; layout: LayoutChoice; decoders: WebDecoder[] };

export type FromWorker =
  | { type: "loaded"; info: ModelInfo; texts: string[]; isolated: boolean }
  | { type: "start"; decoder: WebDecoder; prompt: number[] }
  | { type: "step"; decoder: WebDecoder; step: StepRecord }
  | { type: "done"; decoder: WebDecoder; text: string; tokens: number[]; stopReason: string; stats: GenerationStats; parallelCalls: number }
  | { type: "error"; code: string; message: string };

/**
 * The llama.cpp peer as a BenchDecoder: tools/peers/llama.mjs (node-llama-cpp@3.21.1, CPU backend), plain
 * greedy AR or with node-llama-cpp's InputLookupTokenPredictor (prompt lookup, verified by the target).
 * The peer is development tooling outside src/ (its node_modules are installed on demand by
 * tools/peers/ensure.mjs), so it is imported at run time by path, never statically.
 *
 * Flash attention stays off (the peer's default): llama.cpp's plain attention path, like ours.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../node/wasm.js";
import { timing, type BenchDecoder } from "./decoder.js";

export type LlamaMode = "plain" | "input_lookup";

/** What the bench uses of tools/peers/llama.mjs (see tools/README.md). */
interface LlamaRun {
  prefill_ms: number;
  decode_ms: number;
  generated: number;
  llama_perf: { eval_runs?: number };
  /** node-llama-cpp's sequence.tokenPredictions (with a predictor). */
  predictions?: { validated?: number; refuted?: number; used?: number; unused?: number };
}
type LlamaModeResult = { tokens: number[]; runs: LlamaRun[] };
interface LlamaBench {
  results: ({ threads: number } & Partial<Record<LlamaMode, LlamaModeResult>>)[];
}
interface LlamaPeer {
  info(): Record<string, unknown>;
  bench(ids: number[], o: { n: number; threads: number[]; repeats: number; warmup: number; stopAtEos: boolean; modes: LlamaMode[] }): Promise<LlamaBench>;
  close(): Promise<void>;
}
interface LlamaModule {
  openLlama(o: { model: string; threads: number; contextSize: number; flashAttention: boolean }): Promise<LlamaPeer>;
}

export interface LlamaDecoder extends BenchDecoder {
  readonly info: Record<string, unknown>;
  close(): Promise<void>;
}

export async function openLlamaDecoder(model: string, threads: number, contextTokens: number, mode: LlamaMode): Promise<LlamaDecoder> {
  const url = pathToFileURL(join(packageRoot(), "tools", "peers", "llama.mjs")).href;
  const mod = (await import(url)) as LlamaModule;
  const peer = await mod.openLlama({ model, threads, contextSize: Math.max(2048, contextTokens), flashAttention: false });
  return {
    info: peer.info(),
    async run(prompt, n) {
      // One timed run, no warm-up inside: the harness does warm-up and repeats, interleaved with ours.
      const b = await peer.bench([...prompt], { n, threads: [threads], repeats: 1, warmup: 0, stopAtEos: false, modes: [mode] });
      const res = b.results[0][mode]!;
      const r = res.runs[0];
      if (r.generated !== n) throw new Error(`llama.cpp: generated ${r.generated} tokens, expected ${n}`);
      // Decode steps: plain AR runs one target forward per token; with the predictor every validated
      // prediction is a token that needed no forward of its own (node-llama-cpp's tokenPredictions).
      const decoded = r.generated - 1;
      const steps = mode === "plain" ? decoded : r.predictions?.validated !== undefined ? decoded - r.predictions.validated : NaN;
      return timing(prompt.length, res.tokens, r.prefill_ms, r.decode_ms, steps);
    },
    dispose() {},
    close: () => peer.close(),
  };
}

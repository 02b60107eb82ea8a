/**
 * The llama.cpp peer as a BenchDecoder: tools/peers/llama.mjs (node-llama-cpp@3.21.1, CPU backend),
 * loaded in this process so that it runs interleaved with our decoders. The peer is development tooling
 * outside src/ (its node_modules are installed on demand by tools/peers/ensure.mjs), so it is imported
 * at run time by path, never statically.
 *
 * Flash attention stays off (the peer's default): llama.cpp's plain attention path, like ours.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../node/wasm.js";
import { timing, type BenchDecoder } from "./decoder.js";

/** What the bench uses of tools/peers/llama.mjs (see tools/README.md). */
interface LlamaRun {
  prefill_ms: number;
  decode_ms: number;
  generated: number;
}
interface LlamaBench {
  results: { threads: number; plain: { tokens: number[]; runs: LlamaRun[] } }[];
}
interface LlamaPeer {
  info(): Record<string, unknown>;
  bench(ids: number[], o: { n: number; threads: number[]; repeats: number; warmup: number; stopAtEos: boolean }): Promise<LlamaBench>;
  close(): Promise<void>;
}
interface LlamaModule {
  openLlama(o: { model: string; threads: number; contextSize: number; flashAttention: boolean }): Promise<LlamaPeer>;
}

export interface LlamaHandle {
  readonly info: Record<string, unknown>;
  /** A decoder on `threads` llama.cpp threads (each thread count gets its own llama.cpp context). */
  decoder(threads: number): BenchDecoder;
  close(): Promise<void>;
}

export async function openLlamaPeer(model: string, contextTokens: number): Promise<LlamaHandle> {
  const url = pathToFileURL(join(packageRoot(), "tools", "peers", "llama.mjs")).href;
  const mod = (await import(url)) as LlamaModule;
  const peer = await mod.openLlama({ model, threads: 1, contextSize: contextTokens, flashAttention: false });
  return {
    info: peer.info(),
    decoder: (threads) => ({
      id: "llama.cpp",
      label: "llama.cpp AR",
      baseline: true,
      async run(prompt, n) {
        // One timed run, no warm-up inside: the harness does warm-up and repeats, interleaved with ours.
        const b = await peer.bench([...prompt], { n, threads: [threads], repeats: 1, warmup: 0, stopAtEos: false });
        const plain = b.results[0].plain;
        const r = plain.runs[0];
        if (r.generated !== n) throw new Error(`llama.cpp: generated ${r.generated} tokens, expected ${n}`);
        return timing(prompt.length, plain.tokens, r.prefill_ms, r.decode_ms);
      },
      dispose() {},
    }),
    close: () => peer.close(),
  };
}

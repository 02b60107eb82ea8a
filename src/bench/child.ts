/**
 * One bench contender in a process of its own (forked by procs.ts): it loads one engine in one
 * configuration and runs one decoder on request, so that process.resourceUsage().maxRSS is exactly that
 * decoder's peak (Node + WebAssembly module + weights as stored + its KV caches and workspaces).
 *
 * Requests (IPC messages) are answered in order: open, run, cost, rss, close (see procs.ts).
 */
import type { Engine } from "../engine.js";
import { loadEngine } from "../node/engine.js";
import { wireDecoder, type LayoutChoice } from "../decode/decoders.js";
import { readAdapterFile } from "../node/adapter.js";
import { readNgramStore } from "../node/distilled.js";
import { costCurve } from "../decode/cost.js";
import { benchDecoder, type BenchDecoder } from "./decoder.js";
import { openLlamaDecoder, type LlamaDecoder } from "./llama.js";
import type { ChildRequest, ChildSpec } from "./procs.js";
import type { LoraRows } from "../model/adapter.js";

let engine: Engine | null = null;
let decoder: BenchDecoder | null = null;
let llama: LlamaDecoder | null = null;
let lora: LoraRows | undefined; // the SPACE contender's adapter: its mask rows are part of cost(T > 1)

const rssMB = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

async function open(spec: ChildSpec): Promise<Record<string, unknown>> {
  if (spec.engine === "idle") return {};
  if (spec.engine === "llama") {
    llama = await openLlamaDecoder(spec.model, spec.threads, spec.contextTokens, spec.mode);
    decoder = llama;
    return llama.info;
  }
  engine = await loadEngine(spec.model, { simd: spec.simd, threads: spec.threads, weights: spec.weights as never });
  // The one decoder wiring (decode/decoders.ts wireDecoder), as `space generate` and the API use it. With
  // --layout auto the cost model measures this engine's cost(T) here, before any timed run.
  const space = spec.decoder === "space";
  const adapter = space && spec.adapter !== undefined ? readAdapterFile(engine, spec.model, spec.adapter) : undefined;
  lora = adapter?.lora;
  const wired = wireDecoder(engine, {
    kind: spec.decoder,
    k: spec.decoder === "ar" ? undefined : spec.k,
    maskToken: space && !adapter ? spec.maskToken : undefined,
    layout: space ? (spec.layout as LayoutChoice) : undefined,
    adapter,
    draftLayers: spec.draftLayers,
    ...(space && spec.store !== undefined ? { store: readNgramStore(spec.store, engine.config.vocabSize) } : {}),
  }, spec.contextTokens);
  const k = wired.k;
  decoder = benchDecoder(engine, wired, new Set(spec.banned), spec.contextTokens);
  return { simd: engine.core.build, weights: engine.storage, weight_bytes: engine.weights.bytes, threads: engine.executor.threads, k, ...(spec.decoder === "space" ? { layout: spec.layout } : {}) };
}

async function handle(req: ChildRequest): Promise<unknown> {
  switch (req.op) {
    case "open":
      return open(req.spec);
    case "run": {
      const r = await decoder!.run(req.prompt, req.n);
      return r;
    }
    case "cost":
      if (!engine) throw new Error("cost(T) needs one of our engines");
      return costCurve(engine, req.tokens, { prefix: req.prefix, widths: req.widths, warmup: req.warmup, repeats: req.repeats, ...(lora ? { lora } : {}) });
    case "rss":
      return rssMB();
    case "close":
      decoder?.dispose();
      engine?.close();
      await llama?.close();
      return null;
  }
}

process.on("message", (msg: { id: number; req: ChildRequest }) => {
  handle(msg.req).then(
    (result) => process.send!({ id: msg.id, ok: true, result }, () => {
      if (msg.req.op === "close") process.exit(0); // node-llama-cpp may keep handles open after close()
    }),
    (e: unknown) => process.send!({ id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});

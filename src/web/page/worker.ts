/**
 * The step-through page's engine, in a dedicated module worker: the page stays responsive while it
 * decodes, and worker threads become possible (a pool blocks in Atomics.wait, which only a worker may;
 * src/web/threads.ts). Messages in: load, run. Messages out: loaded, step, done, error (protocol.ts).
 */
import { SpaceError } from "../../errors.js";
import { fetchCoreBytes } from "../core.js";
import { WebSession } from "../session.js";
import { blobSource, blobText, urlSource } from "../sources.js";
import type { FromWorker, ToWorker } from "./protocol.js";

const scope = self as unknown as { onmessage: ((ev: MessageEvent<ToWorker>) => void) | null; postMessage(m: FromWorker): void };
let session: WebSession | null = null;
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (ev) => {
  // One request at a time, in order: a run never overlaps a load.
  queue = queue.then(() => handle(ev.data)).catch((e: unknown) => {
    const err = e instanceof SpaceError ? e : new SpaceError("E_WASM", `internal error: ${(e as Error)?.message ?? String(e)}`);
    scope.postMessage({ type: "error", code: err.code, message: err.message });
  });
};

async function handle(m: ToWorker): Promise<void> {
  if (m.type === "load") {
    session?.close();
    session = null;
    const wasm = await fetchCoreBytes(m.wasm, m.simd);
    const model = "url" in m.model ? await urlSource(m.model.url) : await blobSource(m.model.blob, m.model.name);
    const adapter = m.adapter ? await blobSource(m.adapter.blob, m.adapter.name) : undefined;
    const store = m.store ? { text: await blobText(m.store.blob, m.store.name), name: m.store.name } : undefined;
    session = await WebSession.load(model, { wasm, simd: m.simd, threads: m.threads, ...(adapter ? { adapter } : {}), ...(store ? { store } : {}) });
    scope.postMessage({ type: "loaded", info: session.info, texts: session.tokenTexts(), isolated: (self as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated });
    return;
  }
  if (!session) throw new SpaceError("E_STATE", "no model is loaded");
  const prompt = session.encode(m.prompt, m.chat);
  for (const decoder of m.decoders) {
    scope.postMessage({ type: "start", decoder, prompt });
    const result = await session.run(prompt, {
      decoder,
      maxTokens: m.maxTokens,
      layout: m.layout,
      onStep: (step) => scope.postMessage({ type: "step", decoder, step }),
    });
    scope.postMessage({ type: "done", decoder, text: result.text, tokens: result.ids, stopReason: result.stopReason, stats: result.stats, parallelCalls: session.parallelCalls() });
  }
}

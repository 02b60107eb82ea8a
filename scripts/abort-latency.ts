// How soon an AbortSignal fired by a timer ends a generation on a real model (no yieldEvery passed):
// during the prefill of a long prompt, and during decoding. Run: npx tsx scripts/abort-latency.ts [MODEL]
import { loadEngine, SMOLLM2_PATH } from "../src/node/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";

const engine = await loadEngine(process.argv[2] ?? SMOLLM2_PATH, { simd: "plain" });
try {
  const prompt = Array.from({ length: 601 }, (_, i) => 100 + ((i * 7919) % 20000));
  // Warm-up: the first forward passes run before the WebAssembly tiers up.
  const warm = engine.newContext(80, 0);
  await generate(warm, prompt.slice(0, 70), new ArProposer(), { maxTokens: 4 });
  warm.dispose();
  for (const [label, ids, abortMs, maxTokens] of [
    ["prefill of 601 tokens, abort at 300 ms", prompt, 300, 5],
    ["decoding 400 tokens, abort at 300 ms", prompt.slice(0, 8), 300, 400],
  ] as const) {
    const ctx = engine.newContext(ids.length + maxTokens, 0);
    const controller = new AbortController();
    let firedAt = 0;
    const t0 = performance.now();
    setTimeout(() => {
      firedAt = performance.now() - t0;
      controller.abort();
    }, abortMs);
    const r = await generate(ctx, ids, new ArProposer(), { maxTokens, signal: controller.signal });
    const end = performance.now() - t0;
    console.log(`${label}: fired at ${firedAt.toFixed(0)} ms, generate returned at ${end.toFixed(0)} ms (${(end - firedAt).toFixed(1)} ms later), stop ${r.stopReason}, ${r.tokens.length} tokens, ${r.stats.prefill_passes} prefill chunks`);
    ctx.dispose();
  }
} finally {
  engine.close();
}

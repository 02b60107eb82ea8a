/**
 * `npx tsx scripts/sampled.ts [problems=1] [layouts=full,auto] [temperature=0.7] [top-p=0.9] [rounds=3]`:
 * sampled decoding (seeded) of SmolLM2 with the committed SPACE adapter on the bench's held-out prompts
 * (problems 120-163 per language, 2 chat prompts), q4, 2 threads: per layout, tau and decode speed
 * (prefill excluded, as the bench measures it) against sampled AR in the same run. Each decoder is wired
 * once and kept across prompts and rounds, as the bench and the server keep theirs, so the cost model
 * carries what earlier texts taught it; one warm-up round, then `rounds` timed ones, the decoders
 * alternating per prompt. Not a test.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { loadEngine } from "../src/node/engine.js";
import { readAdapterFile } from "../src/node/adapter.js";
import { wireDecoder, type LayoutChoice } from "../src/decode/decoders.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { benchPrompts } from "../src/bench/prompts.js";
const model = join(homedir(), ".cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf");
const engine = await loadEngine(model, { weights: "q4" as never, threads: 2 });
const adapter = readAdapterFile(engine, model, "models/smollm2-135m-instruct-space-k5.gguf");
const n = 128;
const sampling = { temperature: Number(process.argv[4] ?? 0.7), topK: 0, topP: Number(process.argv[5] ?? 0.9) };
const { prompts } = benchPrompts(engine.tokenizer, undefined, { problems: Number(process.argv[2] ?? 1), chat: 2 });
const layouts = (process.argv[3] ?? "full,auto").split(",");
const rounds = Number(process.argv[6] ?? 3);
const maxPrompt = Math.max(...prompts.map((p) => p.ids.length));
const decoders = ["ar", ...layouts].map((name) => {
  const wired = name === "ar" ? null : wireDecoder(engine, { kind: "space", layout: name as LayoutChoice, adapter }, maxPrompt + n);
  const proposer = wired ? wired.proposer : new ArProposer();
  return { name, proposer, ctx: engine.newContext(maxPrompt + n, proposer.maxExtraRows), wired };
});
const banned = new Set(engine.tokenizer.eogTokens);
const tot: Record<string, { ms: number; tok: number; steps: number }> = {};
for (let rep = 0; rep <= rounds; rep++) for (const p of prompts) {
  for (let j = 0; j < decoders.length; j++) {
    const { name, proposer, ctx } = decoders[(j + rep) % decoders.length];
    ctx.cache.truncate(0);
    const r = await generate(ctx, p.ids, proposer, { maxTokens: n, banned, sampling, seed: 7 + rep });
    if (rep === 0) continue; // warm-up
    const key = `${p.group === "chat" ? "chat" : "code"} ${name}`;
    const t = (tot[key] ??= { ms: 0, tok: 0, steps: 0 });
    t.ms += r.stats.decode_ms; t.tok += r.tokens.length - 1; t.steps += r.stats.forward_passes - 1;
  }
}
for (const d of decoders) {
  d.ctx.dispose();
  d.wired?.dispose();
}
for (const g of ["code", "chat"]) for (const name of ["ar", ...layouts]) {
  const t = tot[`${g} ${name}`], a = tot[`${g} ar`];
  console.log(`${g} ${name}: tau ${(t.tok / t.steps).toFixed(2)}, ${(t.tok * 1000 / t.ms).toFixed(1)} tok/s, ${((t.tok / t.ms) / (a.tok / a.ms)).toFixed(2)}x sampled AR`);
}
engine.close();

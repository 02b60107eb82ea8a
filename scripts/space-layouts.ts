/**
 * AR against SPACE's layouts (full, lean, auto = the cost model) on the embedded model and the demo
 * prompt, greedy, same engine, same run: tau and decode tokens per second of each, interleaved over
 * rounds (rotated order) after a warm-up round, medians reported. Every output must equal AR's.
 *
 *   npx tsx scripts/space-layouts.ts [rounds] [maxTokens]
 */
import { loadEngine } from "../src/node/engine.js";
import { embeddedModelPath } from "../src/node/embedded.js";
import { DEMO_PROMPT, spaceMetadata } from "../src/cli/demo.js";
import { generate, type GenerateResult } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { FULL_LAYOUT, LEAN_LAYOUT, SpaceProposer } from "../src/decode/space.js";
import { autoSpace, isAr } from "../src/decode/costmodel.js";
import { median, rotate } from "../src/util/stats.js";

const rounds = Number(process.argv[2] ?? 5);
const maxTokens = Number(process.argv[3] ?? 64);
const engine = await loadEngine(embeddedModelPath());
const meta = spaceMetadata(engine);
const k = meta.k ?? 4;
const mask = { token: meta.maskToken! };
const V = engine.config.vocabSize;
const banned = new Set([mask.token]);
const prompt = engine.tokenizer.encode(DEMO_PROMPT);
const auto = autoSpace(engine, k); // measures cost(T) once for this engine
const decoders: [string, () => Proposer][] = [
  ["ar", () => new ArProposer()],
  ["space full", () => new SpaceProposer({ k, mask, layout: FULL_LAYOUT, vocabSize: V })],
  ["space lean", () => new SpaceProposer({ k, mask, layout: LEAN_LAYOUT, vocabSize: V })],
  ["space auto", () => new SpaceProposer({ k, mask, vocabSize: V, auto })],
];
const results = new Map<string, GenerateResult[]>(decoders.map(([n]) => [n, []]));
for (let r = 0; r <= rounds; r++) {
  for (const [name, make] of rotate(decoders, r)) {
    const p = make();
    const ctx = engine.newContext(prompt.length + maxTokens, p.maxExtraRows);
    const res = await generate(ctx, prompt, p, { maxTokens, banned });
    ctx.dispose();
    if (r > 0) results.get(name)!.push(res); // round 0 warms up (WebAssembly tier-up)
  }
}
const want = results.get("ar")![0].tokens.join();
const cost = [1, 4, 7, 13, 25].map((T) => `${T}:${(auto.cost(T) / auto.cost(1)).toFixed(2)}`).join(" ");
console.log(`${engine.file.name}: k = ${k}, greedy, ${maxTokens} tokens, ${rounds} rounds, ${engine.executor.threads} thread(s); cost(T)/cost(1) ${cost}`);
const arTps = median(results.get("ar")!.map((x) => x.stats.tokens_per_second));
for (const [name, rs] of results) {
  const tps = median(rs.map((x) => x.stats.tokens_per_second));
  const same = rs.every((x) => x.tokens.join() === want);
  console.log(`${name.padEnd(11)} tau ${rs[0].stats.tokens_per_forward.toFixed(2)}  ${tps.toFixed(0).padStart(5)} tok/s  ${(tps / arTps).toFixed(2)}x ar  identical ${same ? "yes" : "NO"}`);
}
const c = auto.best();
console.log(
  `auto's choice after the runs: ${isAr(c) ? "plain AR" : `k = ${c.k}, ${c.layout.name}`}; alpha ${Array.from({ length: k }, (_, j) => auto.tracker.alpha(j + 1).toFixed(2)).join(" ")}; ` +
    `steps ${auto.counts.ar} AR, ${auto.counts.speculating} SPACE (${auto.counts.probes} probes)`,
);
engine.close();

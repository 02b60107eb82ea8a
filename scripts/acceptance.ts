/**
 * `npx tsx scripts/acceptance.ts [--problems 2] [--n 128] [--weights q4] [--threads 2] [--k 5] [--adapter A.gguf]`: the SmolLM2
 * SPACE adapter's per-position acceptance alpha_1..alpha_k of the MASKS alone (spec/decoding.md: accepted
 * / examined at position j), per HumanEval-X language on held-out problems 120-163 (the bench's prompts),
 * with the paper's full layout, greedy. Every step of the full layout has a mask group after the last
 * accepted token, so every step after the first verifies k mask candidates. Output identical to AR is
 * checked on every prompt. Counts are pooled over a language's prompts (positions weighted by how often
 * they were examined).
 *
 * It also prints how acceptance follows the masks' own confidence: for every examined candidate, the
 * softmax probability its mask gave it (the largest of the row, since greedy candidates are argmaxes),
 * bucketed, with the share accepted. On the committed adapter (2026-12-07, 8 prompts) the two track each
 * other (a candidate proposed with probability p is accepted about p of the time), which is what a
 * per-step policy that verifies only confident candidates would rely on.
 */
import { parseArgs } from "node:util";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadEngine } from "../src/node/engine.js";
import { readAdapterFile } from "../src/node/adapter.js";
import { wireDecoder } from "../src/decode/decoders.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { benchPrompts } from "../src/bench/prompts.js";
import type { SpaceProposer } from "../src/decode/space.js";
import { softmaxRef } from "../src/wasm/reference.js";

const { values: o } = parseArgs({ options: {
  problems: { type: "string", default: "2" }, n: { type: "string", default: "128" }, weights: { type: "string", default: "q4" },
  threads: { type: "string", default: "2" }, k: { type: "string", default: "5" }, layout: { type: "string", default: "full" },
  adapter: { type: "string", default: "models/smollm2-135m-instruct-space-k5.gguf" },
} });
const model = join(homedir(), ".cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf");
const adapterPath = o.adapter!;
const engine = await loadEngine(model, { weights: o.weights as never, threads: Number(o.threads) });
const adapter = readAdapterFile(engine, model, adapterPath);
const n = Number(o.n), k = Number(o.k);
const { prompts } = benchPrompts(engine.tokenizer, undefined, { problems: Number(o.problems), chat: 2 });
const confident: { j: number; p: number; accepted: boolean }[] = [];
const byGroup = new Map<string, { examined: number[]; accepted: number[]; tokens: number; steps: number }>();
for (const p of prompts) {
  const ctx = engine.newContext(p.ids.length + n, 64);
  const ar = await generate(ctx, p.ids, new ArProposer(), { maxTokens: n, banned: new Set(engine.tokenizer.eogTokens) });
  ctx.dispose();
  const wired = wireDecoder(engine, { kind: "space", k, layout: o.layout as never, adapter }, p.ids.length + n);
  recordConfidence(wired.proposer as SpaceProposer);
  const sctx = engine.newContext(p.ids.length + n, wired.proposer.maxExtraRows);
  const sp = await generate(sctx, p.ids, wired.proposer, { maxTokens: n, banned: new Set(engine.tokenizer.eogTokens) });
  sctx.dispose();
  wired.dispose();
  if (sp.tokens.join() !== ar.tokens.join()) throw new Error(`${p.id}: SPACE differs from AR`);
  const g = byGroup.get(p.group) ?? { examined: [], accepted: [], tokens: 0, steps: 0 };
  // From the histogram: steps after the first verify k candidates; position j is examined when n >= j - 1.
  const h = sp.stats.accept_histogram.slice();
  h[0] -= 1; // the first step had no candidates
  for (let j = 1; j <= k; j++) {
    const reach = (m: number) => h.slice(m).reduce((a, b) => a + b, 0);
    g.examined[j - 1] = (g.examined[j - 1] ?? 0) + reach(j - 1);
    g.accepted[j - 1] = (g.accepted[j - 1] ?? 0) + reach(j);
  }
  g.tokens += sp.tokens.length;
  g.steps += sp.stats.forward_passes;
  byGroup.set(p.group, g);
  process.stderr.write(`${p.id}: tau ${sp.stats.tokens_per_forward.toFixed(2)}, alpha ${JSON.stringify(sp.stats.alpha.masks?.map((a) => +a.toFixed(2)))}\n`);
}
const all = { examined: [] as number[], accepted: [] as number[], tokens: 0, steps: 0 };
console.log(`| group | tau | ${Array.from({ length: k }, (_, j) => `alpha_${j + 1}`).join(" | ")} |`);
console.log(`|---|---:|${"---:|".repeat(k)}`);
for (const [group, g] of [...byGroup, ["all", all] as const]) {
  if (group !== "all") {
    for (let j = 0; j < k; j++) {
      all.examined[j] = (all.examined[j] ?? 0) + g.examined[j];
      all.accepted[j] = (all.accepted[j] ?? 0) + g.accepted[j];
    }
    all.tokens += g.tokens;
    all.steps += g.steps;
  }
  console.log(`| ${group} | ${(g.tokens / g.steps).toFixed(2)} | ${g.examined.map((e, j) => (e ? (g.accepted[j] / e).toFixed(2) : "-")).join(" | ")} |`);
}
const BUCKETS = [0, 0.2, 0.4, 0.6, 0.8, 0.9];
console.log(`\nacceptance by the mask's confidence p in its candidate (position j: examined / share accepted)\n`);
console.log(`| j | ${BUCKETS.map((lo, i) => `p in [${lo}, ${BUCKETS[i + 1] ?? 1}]`).join(" | ")} |`);
console.log(`|---|${"---:|".repeat(BUCKETS.length)}`);
for (let j = 1; j <= k; j++) {
  const cells = BUCKETS.map((lo, i) => {
    const hi = BUCKETS[i + 1] ?? 1.01;
    const b = confident.filter((c) => c.j === j && c.p >= lo && c.p < hi);
    return b.length ? `${b.length} / ${(b.filter((c) => c.accepted).length / b.length).toFixed(2)}` : "-";
  });
  console.log(`| ${j} | ${cells.join(" | ")} |`);
}
engine.close();

/**
 * Wraps the proposer's observe: each step's verdict is matched with the confidences of the candidates it
 * verified (computed when the previous step proposed them from its mask group's logits).
 */
function recordConfidence(sp: SpaceProposer): void {
  let pending: number[] = [];
  const observe = sp.observe.bind(sp);
  sp.observe = (plan, logits, verdict, ctx, more) => {
    const m = plan.candidates.length;
    if (m > 0 && pending.length >= m) {
      const tried = verdict.ended ? verdict.accepted : Math.min(verdict.accepted + 1, m);
      for (let j = 1; j <= tried; j++) confident.push({ j, p: pending[j - 1], accepted: j <= verdict.accepted });
    }
    let group: Float32Array | null = null;
    const next = observe(plan, logits, verdict, ctx, (rows) => (group = more(rows)));
    const V = engine.config.vocabSize;
    // The eager group (tail layouts) never asks `more`: its logits follow the verify rows in `logits`.
    const rows = group ?? (plan.eagerGroup === verdict.accepted ? logits.subarray(plan.verifyRows.length * V) : null);
    pending = rows ? Array.from(next, (c, i) => softmaxRef(rows.subarray(i * V, (i + 1) * V))[c]) : [];
    return next;
  };
}

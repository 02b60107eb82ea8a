/**
 * `npx tsx scripts/lookup-ceiling.ts [--problems 1] [--n 128] [--weights q4] [--threads 2] [--k 3]`: how much
 * prompt lookup could gain on this machine at best. It decodes the bench's prompts with greedy AR, measures
 * cost(T) of blocks without mask rows here (decode/cost.ts), then replays each AR output step by step: at a
 * step whose text has a tail match (what `--layout auto` copies without a store: space.ts copyDraft), it
 * copies d <= k candidates, with d chosen to maximise (1 + a_1 + a_1 a_2 + ... ) / cost(1 + d) from
 * acceptance a_j measured on these very outputs per kind of text and match class (an oracle no decoder has: it knows the rates in
 * advance), and otherwise takes an AR step. Tokens over time, relative to AR's one token per cost(1), is
 * the ceiling of copying for these prompts; `--layout auto` can only come close to it from below (its
 * acceptance is learnt as it goes, and its mask steps and probes cost). Not a test.
 */
import { parseArgs } from "node:util";
import { loadEngine, SMOLLM2_PATH } from "../src/node/engine.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { measureCost } from "../src/decode/costmodel.js";
import { AR_CONFIG, LOOKUP_LAYOUT, copyDraft } from "../src/decode/space.js";
import { benchPrompts } from "../src/bench/prompts.js";
import type { CostFn } from "../src/decode/costmodel.js";

const { values: o } = parseArgs({ options: {
  problems: { type: "string", default: "1" }, n: { type: "string", default: "128" }, weights: { type: "string", default: "q4" },
  threads: { type: "string", default: "2" }, k: { type: "string", default: "3" },
} });
const n = Number(o.n), k = Number(o.k);
const engine = await loadEngine(SMOLLM2_PATH, { weights: o.weights as never, threads: Number(o.threads) });
const { prompts } = benchPrompts(engine.tokenizer, undefined, { problems: Number(o.problems), chat: 2 });
const banned = new Set(engine.tokenizer.eogTokens);
const texts: { group: string; id: string; prompt: number[]; out: number[] }[] = [];
for (const p of prompts) {
  const ctx = engine.newContext(p.ids.length + n, 8);
  const r = await generate(ctx, p.ids, new ArProposer(), { maxTokens: n, banned });
  ctx.dispose();
  texts.push({ group: p.group, id: p.id, prompt: [...p.ids], out: [...r.tokens] });
}
const configs = [AR_CONFIG, ...Array.from({ length: k }, (_, i) => ({ k: i + 1, layout: LOOKUP_LAYOUT }))];
const cost: CostFn = measureCost(engine, configs);
console.log(`cost(T)/cost(1), T = 1..${k + 1}: ${Array.from({ length: k + 1 }, (_, i) => (cost(i + 1) / cost(1)).toFixed(2)).join(" ")}`);

/** How many of the copied `tokens` are the AR tokens at position t of `full` and on (a verdict). */
function accepted(full: number[], t: number, tokens: readonly number[]): number {
  let n = 0;
  while (n < tokens.length && t + n < full.length && tokens[n] === full[t + n]) n++;
  return n;
}

// Acceptance a_j per kind of text (code, chat) and match length n, over every position of every output
// of that kind (the oracle's rates).
const kind = (x: (typeof texts)[number]) => (x.group === "chat" ? "chat" : "code");
const tries = new Map<string, number[]>(), accepts = new Map<string, number[]>();
for (const x of texts) {
  const full = [...x.prompt, ...x.out];
  for (let t = x.prompt.length; t < full.length; t++) {
    const m = copyDraft(full.slice(0, t), k);
    if (m.n === 0) continue;
    const c = { n: m.n, accepted: accepted(full, t, m.tokens) };
    const key = `${kind(x)} ${c.n}`;
    const tr = tries.get(key) ?? new Array(k + 1).fill(0), ac = accepts.get(key) ?? new Array(k + 1).fill(0);
    for (let j = 1; j <= k && j <= c.accepted + 1; j++) {
      tr[j]++;
      if (j <= c.accepted) ac[j]++;
    }
    tries.set(key, tr);
    accepts.set(key, ac);
  }
}
const alpha = (key: string, j: number) => (tries.get(key)?.[j] ? accepts.get(key)![j] / tries.get(key)![j] : 0);
for (const key of [...tries.keys()].sort()) console.log(`${key} (match class): alpha_1..${k} = ${Array.from({ length: k }, (_, j) => alpha(key, j + 1).toFixed(2)).join(" ")} (${tries.get(key)![1]} positions)`);

/** Tokens / time of the replay of one output, in units of AR's rate. */
function replay(x: (typeof texts)[number]): number {
  const full = [...x.prompt, ...x.out];
  let t = x.prompt.length, time = 0;
  while (t < full.length) {
    let best = { rate: 1 / cost(1), d: 0 };
    const m = copyDraft(full.slice(0, t), k);
    if (m.n > 0) {
      let tokens = 1, reach = 1;
      for (let d = 1; d <= m.tokens.length; d++) {
        reach *= alpha(`${kind(x)} ${m.n}`, d);
        tokens += reach;
        if (tokens / cost(1 + d) > best.rate) best = { rate: tokens / cost(1 + d), d };
      }
    }
    if (best.d === 0) {
      time += cost(1);
      t += 1;
      continue;
    }
    time += cost(1 + best.d);
    t += Math.min(accepted(full, t, m.tokens.slice(0, best.d)) + 1, full.length - t);
  }
  return (x.out.length / time) * cost(1);
}
const groups = new Map<string, number[]>();
for (const x of texts) {
  const r = replay(x);
  console.log(`${x.id}: ${r.toFixed(2)}x AR`);
  groups.set(kind(x), [...(groups.get(kind(x)) ?? []), r]);
}
for (const [g, rs] of groups) console.log(`${g}: ${(rs.reduce((s, r) => s + r, 0) / rs.length).toFixed(2)}x AR (mean over prompts)`);
engine.close();

/**
 * `npx tsx scripts/copy-classes.ts [--split 100] [--n 128] [--curve 1,1.42,1.95,2.45] [--max-ngram 6]`:
 * how well copied drafts predict, per match class, without running the model. The distilled training
 * data (data/distilled/: SmolLM2's own greedy outputs) is split by problem: an n-gram store is built from
 * problems below `--split` (and the instruction prompts), and the outputs of the others are replayed
 * token by token, drafting at each position as auto's lookup steps do (space.ts: the longest tail match
 * of `--max-ngram` down to 2 tokens, else the store). Prints, per class, how often it occurs and how
 * often its first drafted token is right, then the best fixed number of copied candidates per class (0-8)
 * and the rate it gives, tokens / sum of cost(1 + d) relative to AR, at the given cost(T)/cost(1) (extended
 * linearly): an oracle's ceiling (it knows each class's rates in advance), what lets two draft searches
 * be compared without this VM's noise. Not a test.
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { NgramStore } from "../src/decode/ngramstore.js";
import { copyDraft, STORE_CLASS } from "../src/decode/space.js";

const { values: o } = parseArgs({ options: {
  split: { type: "string", default: "100" }, n: { type: "string", default: "128" },
  curve: { type: "string", default: "1,1.42,1.95,2.45" }, "max-ngram": { type: "string", default: "6" },
  data: { type: "string", default: "data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz" },
} });
const split = Number(o.split), n = Number(o.n), maxNgram = Number(o["max-ngram"]), D = 8;
const ratios = o.curve.split(",").map(Number);
const cost = (T: number) => ratios[T - 1] ?? ratios.at(-1)! + (T - ratios.length) * (ratios.at(-1)! - ratios.at(-2)!);

interface Example { id: string; prompt: number[]; response: number[] }
const examples: Example[] = gunzipSync(readFileSync(o.data)).toString().trim().split("\n").map((l) => JSON.parse(l));
const problem = (id: string) => (id.startsWith("humaneval-x/") ? Number(id.split("/")[2]) : -1);
const store = NgramStore.build(examples.filter((e) => problem(e.id) < split).map((e) => e.response));
const held = examples.filter((e) => problem(e.id) >= split);

// Per held-out output and position: the class and how many drafted tokens are right.
const texts = held.map((e) => {
  const history = [...e.prompt];
  return e.response.slice(0, n).map((token, i) => {
    const d = copyDraft(history, D, store, maxNgram); // as auto's lookup steps draft
    let right = 0;
    while (right < d.tokens.length && d.tokens[right] === e.response[i + right]) right++;
    history.push(token);
    return { cls: d.n, right };
  });
});

/** Tokens per cost unit over AR's, drafting policy.get(class) tokens at each step. */
function rate(policy: Map<number, number>): { speedup: number; tau: number } {
  let tokens = 0, time = 0, steps = 0;
  for (const t of texts) {
    for (let i = 0; i < t.length; steps++) {
      const d = policy.get(t[i].cls) ?? 0;
      const step = Math.min(d, t[i].right) + 1;
      tokens += Math.min(step, t.length - i);
      time += cost(1 + d);
      i += step;
    }
  }
  return { speedup: tokens / time, tau: tokens / steps };
}

const all = texts.flat();
const classes = [...new Set(all.map((x) => x.cls))].filter((c) => c > 0).sort((a, b) => a - b);
const policy = new Map<number, number>();
for (let round = 0; round < 3; round++) {
  for (const c of classes) {
    let best = 0, bestRate = -Infinity;
    for (let d = 0; d <= D; d++) {
      policy.set(c, d);
      const r = rate(policy).speedup;
      if (r > bestRate + 1e-12) (best = d), (bestRate = r);
    }
    policy.set(c, best);
  }
}
const name = (c: number) => (c === 0 ? "none" : c >= STORE_CLASS ? `store ${c === STORE_CLASS ? "weak" : "strong"}` : `text ${c}`);
console.log(`held out: ${held.length} outputs (problems >= ${split}), first ${n} tokens; store from the rest; search ${maxNgram}..2; cost ${o.curve}`);
for (const c of [...classes, 0]) {
  const of = all.filter((x) => x.cls === c);
  console.log(`${name(c).padEnd(13)} ${String(of.length).padStart(6)} positions  first token right ${(of.filter((x) => x.right > 0).length / of.length).toFixed(2)}  best d ${policy.get(c) ?? 0}`);
}
const r = rate(policy);
console.log(`best fixed policy: ${r.speedup.toFixed(3)}x AR, tau ${r.tau.toFixed(2)}`);

/**
 * `npx tsx scripts/distribution-speed.ts [--rows 40] [--temperature 0.7] [--top-p 0.9]`: the time of
 * `distribution` (decode/sampling.ts) on SmolLM2's own logits rows, by three roads. With top-k 0 it
 * first tries the nucleus by selection; with top-k = the vocabulary size it keeps every id and sorts them
 * all: the same rule, so the same result (checked here, bit for bit), by the sorting road; "core" is the
 * first road with the sort and the weights in a decoding context's core (SamplingKernels, what generate
 * passes). The rows are those of a greedy AR run on a chat prompt (q4, 1 thread); the roads alternate in
 * 6 rounds. Not a test.
 */
import { parseArgs } from "node:util";
import { loadEngine, SMOLLM2_PATH } from "../src/node/engine.js";
import { chainBlock, range } from "../src/decode/block.js";
import { argmax, distribution } from "../src/decode/sampling.js";
import { samplingKernels } from "../src/decode/generate.js";

const { values: o } = parseArgs({ options: {
  rows: { type: "string", default: "40" }, temperature: { type: "string", default: "0.7" }, "top-p": { type: "string", default: "0.9" },
} });
const engine = await loadEngine(SMOLLM2_PATH, { weights: "q4", threads: 1 });
const V = engine.config.vocabSize;
const prompt = engine.tokenizer.encode("Explain how a hash map works, with a short example in Python.");
const rows: Float32Array[] = [];
const ctx = engine.newContext(prompt.length + Number(o.rows), 0);
let pending = prompt;
while (rows.length < Number(o.rows)) {
  const logits = ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, pending, [pending.length - 1]));
  ctx.cache.commit(range(0, pending.length));
  rows.push(logits.slice(0, V));
  pending = [argmax(rows[rows.length - 1])];
}
const core = samplingKernels(ctx);

const banned = new Set(engine.tokenizer.eogTokens);
const roads = {
  selection: { temperature: Number(o.temperature), topK: 0, topP: Number(o["top-p"]) },
  sort: { temperature: Number(o.temperature), topK: V, topP: Number(o["top-p"]) },
};
const run = { selection: (row: Float32Array) => distribution(row, roads.selection, banned), sort: (row: Float32Array) => distribution(row, roads.sort, banned), core: (row: Float32Array) => distribution(row, roads.selection, banned, core) };
const ms = { selection: 0, sort: 0, core: 0 };
const names = ["selection", "sort", "core"] as const;
for (let round = 0; round < 6; round++) {
  for (let j = 0; j < 3; j++) {
    const road = names[(round + j) % 3];
    const t0 = performance.now();
    for (const row of rows) run[road](row);
    ms[road] += performance.now() - t0;
  }
}
let same = 0;
for (const row of rows) {
  const [a, b, c] = names.map((road) => run[road](row));
  const eq = (x: typeof a, y: typeof a) => x.ids.join() === y.ids.join() && x.probs.every((p, i) => Object.is(p, y.probs[i]));
  if (eq(a, b) && eq(a, c)) same++;
}
ctx.dispose();
engine.close();
const per = (road: keyof typeof ms) => (ms[road] / 6 / rows.length).toFixed(3);
console.log(`${rows.length} rows of ${V} logits: selection ${per("selection")} ms a row, sort ${per("sort")}, core ${per("core")}; all three identical on ${same}/${rows.length}`);
process.exit(0);

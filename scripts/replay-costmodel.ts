/**
 * `npx tsx scripts/replay-costmodel.ts [--curve 1,1.42,1.95,2.45] [--measured LIST] [--measured-plain LIST]
 * [--jitter 0.2] [--seeds 3] [--problems 1] [--chat 4] [--n 128] [--store FILE] [--adapter FILE]`: the cost model's
 * choices on the bench's prompts under a cost curve given in advance, so that two versions of the model can
 * be compared without this VM's noise (its speed swings 2x between seconds; a paired wall-clock run cannot
 * tell a 3% change on two chat prompts from chance). Not a test.
 *
 * Every step runs for real (SmolLM2 q4 and the committed adapter: real candidates, real verdicts), but its
 * price is the table's: `--curve` is cost(T) / cost(1) for T = 1, 2, ... (extended linearly), for blocks
 * without mask rows, and the same plus 0.05 (the adapter's LoRA) for blocks with them. The calibration
 * sees a clock that advances by each step's price times a log-normal jitter (`--jitter`, its sigma), and
 * starts from the curves that measureCost would have measured (`--measured`, `--measured-plain`; default:
 * the true ones), as a noisy start-up measurement can be wrong. The model's choices follow the jittered
 * clock, and small differences grow (a class tried a step earlier or later), so the whole run is repeated
 * for `--seeds` jitter seeds and pooled. Prints, per prompt and per kind of text, AR's time over the
 * replayed time (the speedup the prices imply), for auto and auto with the n-gram store.
 */
import { parseArgs } from "node:util";
import { loadEngine, SMOLLM2_PATH } from "../src/node/engine.js";
import { readAdapterFile } from "../src/node/adapter.js";
import { readNgramStore } from "../src/node/distilled.js";
import { generate } from "../src/decode/generate.js";
import { SpaceProposer } from "../src/decode/space.js";
import { SpaceCostModel, spaceConfigs, costFromTable, type CostFn } from "../src/decode/costmodel.js";
import { benchPrompts } from "../src/bench/prompts.js";
import { Rng } from "../src/util/rng.js";

const { values: o } = parseArgs({ options: {
  curve: { type: "string", default: "1,1.42,1.95,2.45" }, measured: { type: "string" }, "measured-plain": { type: "string" },
  jitter: { type: "string", default: "0.2" }, seeds: { type: "string", default: "3" }, problems: { type: "string", default: "1" }, chat: { type: "string", default: "4" },
  n: { type: "string", default: "128" }, k: { type: "string", default: "3" },
  store: { type: "string", default: "data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz" },
  adapter: { type: "string", default: "models/smollm2-135m-instruct-space-k5.gguf" },
} });
const LORA_SHARE = 0.05; // a mask block's LoRA rows, in units of cost(1)
const list = (s: string) => s.split(",").map(Number);
const curveOf = (ratios: number[], extra: number): CostFn => costFromTable(ratios.map((r, i) => ({ T: i + 1, ms: i === 0 ? r : r + extra })));
const truth = { mask: curveOf(list(o.curve), LORA_SHARE), plain: curveOf(list(o.curve), 0) };
const believed = {
  mask: o.measured ? curveOf(list(o.measured), 0) : truth.mask,
  plain: o["measured-plain"] ? curveOf(list(o["measured-plain"]), 0) : truth.plain,
};

const engine = await loadEngine(SMOLLM2_PATH, { weights: "q4", threads: 2 });
const adapter = readAdapterFile(engine, SMOLLM2_PATH, o.adapter);
const store = readNgramStore(o.store, engine.config.vocabSize);
const { prompts } = benchPrompts(engine.tokenizer, undefined, { problems: Number(o.problems), chat: Number(o.chat) });
const n = Number(o.n), k = Number(o.k), sigma = Number(o.jitter);
const banned = new Set(engine.tokenizer.eogTokens);

for (const withStore of [false, true]) {
  const totals = new Map<string, { replayed: number; tokens: number }>();
  for (let seed = 1; seed <= Number(o.seeds); seed++) {
    const rng = new Rng(seed);
    const jitter = () => Math.exp(sigma * Math.sqrt(-2 * Math.log(Math.max(1e-12, rng.next()))) * Math.cos(2 * Math.PI * rng.next()));
    let clock = 0;
    const auto = new SpaceCostModel(spaceConfigs(k), believed.mask, { lookupCost: believed.plain, clock: () => clock });
    const mask = { token: adapter.maskToken, embeddings: adapter.embeddings, lora: adapter.lora };
    const proposer = new SpaceProposer({ k, mask, vocabSize: engine.config.vocabSize, auto, ...(withStore ? { store } : {}) });
    for (const p of prompts) {
      const ctx = engine.newContext(p.ids.length + n, proposer.maxExtraRows);
      let replayed = 0, tokens = 0, first = true;
      await generate(ctx, p.ids, proposer, {
        maxTokens: n,
        banned,
        onStep: (s) => {
          const price = first ? 50 : (s.mask_rows.length ? truth.mask : truth.plain)(s.tokens.length);
          clock += price * jitter();
          if (!first) (replayed += price), (tokens += s.emitted.length); // the prompt's step is no decode step
          first = false;
        },
      });
      ctx.dispose();
      for (const key of [p.group === "chat" ? "chat" : "code", p.id]) {
        const t = totals.get(key) ?? { replayed: 0, tokens: 0 };
        totals.set(key, { replayed: t.replayed + replayed, tokens: t.tokens + tokens });
      }
    }
  }
  console.log(`${withStore ? "auto+store" : "auto"}: ${[...totals].map(([key, t]) => `${key} ${(t.tokens / t.replayed).toFixed(3)}x`).join(" | ")}`);
}
process.exit(0);

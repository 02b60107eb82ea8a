/**
 * `space demo`: AR and SPACE on a held-out prompt of a SAR-SFT model, whose mask token and k come from
 * its metadata (spaceMetadata, src/decode/decoders.ts: the UINT32 keys `space.mask_token_id`, the id of
 * [M], never emitted, and `space.k`), so `space generate --decoder space` needs no extra flags either.
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import { FULL_LAYOUT } from "../decode/space.js";
import { compareArSpace, type Comparison } from "../decode/compare.js";
import { spaceMetadata } from "../decode/decoders.js";
import { autoSpace } from "../decode/costmodel.js";

export { spaceMetadata, type SpaceMeta } from "../decode/decoders.js";

/**
 * The demo's prompt, chosen by a stated rule: of the embedded model's 12 held-out snippets
 * (`snippets(embeddedCorpus().heldOut, 12, 120)`, src/node/embedded.ts, from files it never trained on),
 * the one whose SPACE tau (full layout, k = 4, 64 greedy tokens) is the lower median of the 12: a typical
 * prompt, neither the best nor the worst. That is snippet 1 (tau 2.13; the 12 range from 1.39 to 2.78).
 * Written out so that the demo does not need TypeScript's files at run time; test/embedded.test.ts
 * recomputes the rule.
 */
export const DEMO_PROMPT =
  "type?: PluralRuleType | undefined;\n        minimumIntegerDigits?: number | undefined;\n        minimumFractionDigits?: nu";

/** One decoder's line of the demo: what it ran, tau, steps and speed against AR's in the same run. */
function report(label: string, c: Comparison): string {
  const tps = (tokens: number, ms: number) => (tokens * 1000) / ms;
  const s = c.space;
  return (
    `${label}: tau ${c.tau.toFixed(2)} (${s.tokens.length} tokens in ${s.stats.forward_passes} forward passes; AR: ${c.ar.stats.forward_passes}), ` +
    `${tps(s.tokens.length, c.spaceMs).toFixed(0)} tok/s vs AR ${tps(c.ar.tokens.length, c.arMs).toFixed(0)} tok/s: ` +
    `${(c.arMs / c.spaceMs).toFixed(2)}x AR (wall time, prefill included, same run), output ${c.identical ? "identical to AR's" : "DIFFERENT (a bug)"}\n`
  );
}

/**
 * Greedy AR against greedy SPACE on the demo prompt, same engine, same run (after one warm-up run of
 * each, so WebAssembly tier-up does not count against whichever runs first), twice: the paper's full
 * layout (what the method is: tau is the point), and the cost model (`--layout auto`: k and the layout,
 * or a plain AR step, chosen per step from this CPU's cost(T)), which is what pays on a CPU.
 */
export async function runDemo(engine: Engine, write: (s: string) => void, maxTokens = 64): Promise<void> {
  const meta = spaceMetadata(engine);
  if (meta.maskToken === undefined) {
    fail("E_ARGS", `${engine.file.name} has no space.mask_token_id: the demo needs a SAR-SFT model (the default, models/space-tiny.gguf, has one)`);
  }
  const k = meta.k ?? 4;
  const prompt = engine.tokenizer.encode(DEMO_PROMPT);
  const show = (s: string) => s.replace(/\n/g, "\n  ");
  write(`space demo: ${engine.file.name} (${engine.config.nLayers} layers, d ${engine.config.dModel}, vocab ${engine.config.vocabSize}), k ${k}, greedy, ${maxTokens} tokens, ${engine.core.build} SIMD, ${engine.executor.threads} thread(s)\n`);
  write(`prompt (the held-out snippet of median tau, src/cli/demo.ts):\n  ${show(DEMO_PROMPT)}\n`);

  const full = { k, maskToken: meta.maskToken, maxTokens, layout: FULL_LAYOUT };
  await compareArSpace(engine, prompt, full); // warm-up
  const paper = await compareArSpace(engine, prompt, full);
  write(`ar:\n  ${show(paper.ar.text)}\n`);
  write(`space:\n  ${show(paper.space.text)}\n`);
  const rows = 1 + k * (k + 2);
  write(report(`space, full layout (the paper's: ${rows}-row blocks)`, paper));

  const auto = autoSpace(engine, k);
  const costModel = { k, maskToken: meta.maskToken, maxTokens, auto };
  await compareArSpace(engine, prompt, costModel); // warm-up (its acceptance estimate carries on)
  const chosen = await compareArSpace(engine, prompt, costModel);
  write(report("space, layout auto (the cost model)", chosen));
  const { ar, speculating, lookup, probes } = auto.counts;
  const ratio = (T: number) => (auto.cost(T) / auto.cost(1)).toFixed(1);
  write(
    `why: on this CPU a ${rows}-row block costs ${ratio(rows)}x AR's one row (a 4-row block ${ratio(4)}x), so tau ${paper.tau.toFixed(2)} ` +
      `${paper.arMs < paper.spaceMs ? "does not pay for the full layout" : "pays even for the full layout"}; the cost model ran ${ar} AR steps and ` +
      `${speculating} SPACE steps (${probes} probes) and ${lookup} lookup steps over both of its runs (spec/space.md, layouts)\n`,
  );
  if (!paper.identical || !chosen.identical) fail("E_MODEL", "SPACE output differs from AR output: a bug (SPACE is lossless)");
}

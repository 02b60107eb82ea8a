/**
 * `space demo` and the SPACE settings a model file carries: a model trained with SAR-SFT in full mode
 * (e.g. the embedded models/space-tiny.gguf) stores its mask token id and k in metadata, so
 * `space generate --decoder space` needs no extra flags.
 *
 * Metadata keys (UINT32): `space.mask_token_id` (the vocabulary id of [M], never emitted), `space.k`
 * (the k it was trained with).
 */
import { fail } from "../errors.js";
import { metaGetter } from "../gguf/meta.js";
import type { Engine } from "../engine.js";
import { FULL_LAYOUT } from "../decode/space.js";
import { compareArSpace } from "../decode/compare.js";
import { autoSpace, expectedRate, isAr } from "../decode/costmodel.js";

export interface SpaceMeta {
  readonly maskToken?: number;
  readonly k?: number;
}

/** space.mask_token_id and space.k of the loaded model (undefined where absent). */
export function spaceMetadata(engine: Engine): SpaceMeta {
  const get = metaGetter(engine.file);
  const int = (key: string, max: number): number | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= max) fail("E_MODEL", `${engine.file.name}: metadata ${key} must be an integer in [0, ${max}), got ${String(v)}`);
    return n;
  };
  return { maskToken: int("space.mask_token_id", engine.config.vocabSize), k: int("space.k", 1 << 16) };
}

/**
 * A held-out prompt of the embedded model: `snippets(embeddedCorpus().heldOut, 12, 120)[5]`
 * (src/node/embedded.ts), from lib.es2018.intl.d.ts, a file it never trained on. Written out so that
 * the demo does not need TypeScript's files at run time.
 */
export const DEMO_PROMPT =
  "resolvedOptions(): ResolvedPluralRulesOptions;\n        select(n: number): LDMLPluralRule;\n    }\n\n    interface PluralRul";

/**
 * Greedy AR and greedy SPACE on the same prompt, same engine, same run (after one warm-up run of each,
 * so WebAssembly tier-up does not count against whichever runs first): both texts, tau, and the
 * speedup in wall time and in decode tokens per second.
 */
export async function runDemo(engine: Engine, write: (s: string) => void, maxTokens = 64): Promise<void> {
  const meta = spaceMetadata(engine);
  if (meta.maskToken === undefined) {
    fail("E_ARGS", `${engine.file.name} has no space.mask_token_id: the demo needs a SAR-SFT model (the default, models/space-tiny.gguf, has one)`);
  }
  const k = meta.k ?? 4;
  const prompt = engine.tokenizer.encode(DEMO_PROMPT);
  // The cost model picks k (at most the model's) and the layout per step from this engine's measured
  // cost(T) and the running acceptance: on a CPU the paper's full layout rarely pays (spec/space.md).
  const auto = autoSpace(engine, k);
  const opts = { k, maskToken: meta.maskToken, maxTokens, auto };
  await compareArSpace(engine, prompt, opts); // warm-up
  const c = await compareArSpace(engine, prompt, opts);
  const show = (s: string) => s.replace(/\n/g, "\n  ");
  write(`space demo: ${engine.file.name} (${engine.config.nLayers} layers, d ${engine.config.dModel}, vocab ${engine.config.vocabSize}), k up to ${k} (layout auto), greedy, ${maxTokens} tokens, ${engine.core.build} SIMD, ${engine.executor.threads} thread(s)\n`);
  write(`prompt:\n  ${show(DEMO_PROMPT)}\n`);
  write(`ar:\n  ${show(c.ar.text)}\n`);
  write(`space:\n  ${show(c.space.text)}\n`);
  write(`identical: ${c.identical ? "yes" : "NO"}\n`);
  write(`tau: ar 1.00, space ${c.tau.toFixed(2)} (${c.space.tokens.length} tokens in ${c.space.stats.forward_passes} forward passes)\n`);
  const tps = (r: typeof c.ar) => (r.tokens.length * 1000) / (r === c.ar ? c.arMs : c.spaceMs);
  write(
    `speed: ar ${tps(c.ar).toFixed(0)} tok/s (${c.arMs.toFixed(1)} ms), space ${tps(c.space).toFixed(0)} tok/s (${c.spaceMs.toFixed(1)} ms): ` +
      `speedup ${(c.arMs / c.spaceMs).toFixed(2)}x (wall time, prefill included, same run)\n`,
  );
  const best = auto.best();
  const alpha = (j: number) => auto.tracker.alpha(j);
  const predicted = expectedRate(best, alpha, auto.cost).rate * auto.cost(1);
  const now = isAr(best) ? "plain AR steps (no SPACE block is predicted to pay for its rows)" : `k = ${best.k}, ${best.layout.name}`;
  const { ar, speculating, probes } = auto.counts;
  write(`layout: auto (cost model): now ${now}; predicted ${predicted.toFixed(2)}x AR's tokens per second; steps of both runs: ${ar} AR, ${speculating} SPACE (${probes} probes)\n`);
  if (c.arMs < c.spaceMs) {
    const full = { k, layout: FULL_LAYOUT };
    write(
      `(a model this small is compute-bound on a CPU: a step of SPACE's full layout runs 1 + k(k+2) = ${1 + k * (k + 2)} rows at ` +
        `${(auto.cost(1 + k * (k + 2)) / auto.cost(1)).toFixed(1)}x the cost of AR's one row (predicted ${(expectedRate(full, alpha, auto.cost).rate * auto.cost(1)).toFixed(2)}x AR), ` +
        (isAr(best) ? "so the cost model falls back to plain AR steps, probing the masks now and then" : "so the cost model picks a smaller block") +
        `; spec/space.md, layouts)\n`,
    );
  }
  if (!c.identical) fail("E_MODEL", "SPACE output differs from AR output: a bug (SPACE is lossless)");
}

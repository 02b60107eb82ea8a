/**
 * One bench section = one thread count: our engines (one per weight storage) and the llama.cpp peer on
 * the same GGUF, the same prompts and the same thread count.
 *   1. cost(T) curve for each weight storage (cost.ts);
 *   2. warm-up runs (excluded) of every decoder;
 *   3. `repeats` rounds; in each round every prompt runs on every decoder back to back, the decoders'
 *      order rotating, so that machine drift hits all of them alike. Ratios to the baseline (llama.cpp)
 *      are taken per round, between runs seconds apart, then their median.
 */
import type { Engine } from "../engine.js";
import type { WeightStorage } from "../model/weights.js";
import type { BenchDecoder, RunTiming } from "./decoder.js";
import { costCurve, type CostPoint } from "./cost.js";
import type { BenchPrompt } from "./prompts.js";
import { geomean, median, rotate } from "./stats.js";

export interface Settings {
  readonly n: number; // generated tokens per run
  readonly warmup: number; // warm-up runs per decoder (first prompt), excluded
  readonly repeats: number; // timed runs per prompt and decoder
  readonly costPrefix: number; // committed tokens before the cost(T) block
  readonly costWarmup: number;
  readonly costRepeats: number;
}

export type RunRecord = Omit<RunTiming, "tokens">;

export interface DecoderOnPrompt {
  readonly id: string;
  readonly prefill_tok_s: number; // median over runs
  readonly decode_tok_s: number;
  readonly prefill_ratio: number; // median over rounds of this / baseline (1 for the baseline)
  readonly decode_ratio: number;
  /** Leading greedy tokens equal to the baseline's, out of the baseline's tokens before its first end-of-generation. */
  readonly agree: { same: number; of: number };
  /** max / min over the runs: above NOISY_SPREAD the runs were disturbed (another process on the cores?). */
  readonly spread: { prefill: number; decode: number };
  readonly runs: RunRecord[];
}

/** Runs of one prompt on one engine that differ by more than this factor are flagged in the report. */
export const NOISY_SPREAD = 1.5;

const spread = (xs: number[]): number => Math.max(...xs) / Math.min(...xs);

export interface PromptResult {
  readonly id: string;
  readonly source: string;
  readonly prompt_tokens: number;
  readonly decoders: DecoderOnPrompt[];
}

export interface DecoderSummary {
  readonly id: string;
  readonly label: string;
  readonly baseline: boolean;
  readonly prefill_tok_s: number; // median over prompts of the per-prompt medians
  readonly decode_tok_s: number;
  readonly prefill_ratio: number; // geometric mean over prompts of the per-prompt ratios
  readonly decode_ratio: number;
}

export interface CostCurve {
  readonly weights: WeightStorage;
  readonly points: CostPoint[];
}

export interface SectionResult {
  readonly threads: number;
  readonly summary: DecoderSummary[];
  readonly prompts: PromptResult[];
  readonly cost: CostCurve[];
}

export interface SectionInput {
  readonly threads: number;
  readonly engines: readonly { weights: WeightStorage; engine: Engine }[];
  readonly decoders: readonly BenchDecoder[]; // exactly one has baseline: true
  readonly prompts: readonly BenchPrompt[];
  readonly settings: Settings;
  readonly eog: ReadonlySet<number>;
  readonly tokens: readonly number[]; // for the cost(T) prefix and blocks
  /** Called before (units 0) and after each piece of work. */
  readonly progress: (phase: string, units: number) => void;
}

/**
 * Progress units, roughly proportional to time: a generation run counts n (its forward passes), a cost
 * pass of width T counts costUnits(T).
 */
export const costUnits = (T: number): number => 1 + T / 3;

export function sectionUnits(engines: number, decoders: number, prompts: number, s: Settings, widths: readonly number[]): number {
  const costRound = widths.reduce((a, T) => a + costUnits(T), 0);
  return engines * (s.costWarmup + s.costRepeats) * costRound + decoders * (s.warmup + s.repeats * prompts) * s.n;
}

export async function runSection(inp: SectionInput): Promise<SectionResult> {
  const { threads, settings: s, decoders, prompts } = inp;
  const tag = `threads ${threads}`;

  const cost: CostCurve[] = [];
  for (const { weights, engine } of inp.engines) {
    const points = costCurve(engine, inp.tokens, {
      prefix: s.costPrefix,
      warmup: s.costWarmup,
      repeats: s.costRepeats,
      onPass: (T) => inp.progress(`${tag}: cost(T), ${weights} weights`, costUnits(T)),
    });
    cost.push({ weights, points });
  }

  for (let w = 0; w < s.warmup; w++) {
    for (const d of rotate(decoders, w)) {
      inp.progress(`${tag}: warm-up, ${d.id}`, 0);
      await d.run(prompts[0].ids, s.n);
      inp.progress(`${tag}: warm-up, ${d.id}`, s.n);
    }
  }

  // runs[prompt][decoder][round]
  const runs: RunTiming[][][] = prompts.map(() => decoders.map(() => []));
  for (let round = 0; round < s.repeats; round++) {
    for (let p = 0; p < prompts.length; p++) {
      for (const d of rotate(decoders, round + p)) {
        const phase = `${tag}: run ${round + 1}/${s.repeats}, ${prompts[p].id}, ${d.id}`;
        inp.progress(phase, 0);
        runs[p][decoders.indexOf(d)].push(await d.run(prompts[p].ids, s.n));
        inp.progress(phase, s.n);
      }
    }
  }

  const base = decoders.findIndex((d) => d.baseline);
  const promptResults: PromptResult[] = prompts.map((prompt, p) => {
    const baseRuns = runs[p][base];
    const baseTokens = baseRuns[baseRuns.length - 1].tokens;
    let of = baseTokens.findIndex((t) => inp.eog.has(t));
    if (of < 0) of = baseTokens.length;
    return {
      id: prompt.id,
      source: prompt.source,
      prompt_tokens: prompt.ids.length,
      decoders: decoders.map((d, i) => {
        const mine = runs[p][i];
        const tokens = mine[mine.length - 1].tokens;
        let same = 0;
        while (same < of && tokens[same] === baseTokens[same]) same++;
        return {
          id: d.id,
          prefill_tok_s: median(mine.map((r) => r.prefill_tok_s)),
          decode_tok_s: median(mine.map((r) => r.decode_tok_s)),
          prefill_ratio: median(mine.map((r, k) => r.prefill_tok_s / baseRuns[k].prefill_tok_s)),
          decode_ratio: median(mine.map((r, k) => r.decode_tok_s / baseRuns[k].decode_tok_s)),
          agree: { same, of },
          spread: { prefill: spread(mine.map((r) => r.prefill_tok_s)), decode: spread(mine.map((r) => r.decode_tok_s)) },
          runs: mine.map(({ tokens: _, ...rest }) => rest),
        };
      }),
    };
  });

  const summary: DecoderSummary[] = decoders.map((d, i) => {
    const per = promptResults.map((p) => p.decoders[i]);
    return {
      id: d.id,
      label: d.label,
      baseline: d.baseline,
      prefill_tok_s: median(per.map((x) => x.prefill_tok_s)),
      decode_tok_s: median(per.map((x) => x.decode_tok_s)),
      prefill_ratio: geomean(per.map((x) => x.prefill_ratio)),
      decode_ratio: geomean(per.map((x) => x.decode_ratio)),
    };
  });

  return { threads, summary, prompts: promptResults, cost };
}

/**
 * The bench's schedule. Every contender (one decoder in one configuration: weights x threads) is a
 * process of its own (procs.ts):
 *   1. calibration = warm-up: `warmup` runs of every contender on the first prompt, in rotating order
 *      (JIT tier-up, caches); the last one's decode tok/s picks each decoder's fastest configuration;
 *   2. with select "fastest", the slower configurations of every decoder but our AR are closed (SPACE per
 *      layout: full and auto are both timed; our AR is timed in every configuration: the fastest of them,
 *      over all prompts, is the baseline);
 *   3. `repeats` rounds; in each round every prompt runs on every contender back to back, the order
 *      rotating, so that machine drift hits all of them alike and ratios compare runs seconds apart.
 */
import { family, type Contender } from "./analysis.js";
import type { RunTiming } from "./decoder.js";
import type { ChildEngine } from "./procs.js";
import type { BenchPrompt } from "./prompts.js";
import { rotate } from "../util/stats.js";

export interface Live extends Contender {
  readonly child: ChildEngine;
  readonly info: Record<string, unknown>;
}

export interface Schedule {
  readonly n: number;
  /** Tokens of each warm-up/calibration run (at most n: calibration only ranks configurations). */
  readonly calibrationN: number;
  readonly warmup: number;
  readonly repeats: number;
  readonly select: "fastest" | "all";
}

export type Tick = (phase: string, units: number) => void;

/** Decode tok/s of each contender's last warm-up run on the first prompt (NaN with no warm-up). */
export async function calibrate(live: readonly Live[], prompt: BenchPrompt, s: Schedule, tick: Tick): Promise<Map<string, number>> {
  const rate = new Map<string, number>(live.map((c) => [c.id, NaN]));
  for (let w = 0; w < s.warmup; w++) {
    for (const c of rotate(live, w)) {
      tick(`warm-up ${w + 1}/${s.warmup}: ${c.id}`, 0);
      rate.set(c.id, (await c.child.run(prompt.ids, s.calibrationN)).decode_tok_s);
      tick(`warm-up ${w + 1}/${s.warmup}: ${c.id}`, s.calibrationN);
    }
  }
  return rate;
}

/**
 * Which contenders are timed: all of them, or (select "fastest") every configuration of our AR plus the
 * configuration of each other decoder family (SPACE: per layout) with the highest calibration rate (the
 * first one when none has a rate).
 */
export function selectTimed(contenders: readonly Contender[], rate: ReadonlyMap<string, number>, select: "fastest" | "all"): Set<string> {
  if (select === "all") return new Set(contenders.map((c) => c.id));
  const keep = new Set<string>();
  const best = new Map<string, Contender>();
  for (const c of contenders) {
    if (c.engine === "ours" && c.decoder === "ar") {
      keep.add(c.id);
      continue;
    }
    const b = best.get(family(c));
    const r = rate.get(c.id) ?? NaN;
    if (!b || (Number.isFinite(r) && !((rate.get(b.id) ?? NaN) >= r))) best.set(family(c), c);
  }
  for (const c of best.values()) keep.add(c.id);
  return keep;
}

/** runs[p][c][round] over the timed contenders, in their order. */
export async function timedRuns(live: readonly Live[], prompts: readonly BenchPrompt[], s: Schedule, tick: Tick): Promise<RunTiming[][][]> {
  const runs: RunTiming[][][] = prompts.map(() => live.map(() => []));
  for (let round = 0; round < s.repeats; round++) {
    for (let p = 0; p < prompts.length; p++) {
      for (const c of rotate(live, round + p)) {
        const phase = `run ${round + 1}/${s.repeats}, ${prompts[p].id}, ${c.id}`;
        tick(phase, 0);
        runs[p][live.indexOf(c)].push(await c.child.run(prompts[p].ids, s.n));
        tick(phase, s.n);
      }
    }
  }
  return runs;
}

/**
 * The loop of a base-preserving training run (`space train`, spec/adapter.md) and its folder's log: the
 * training examples of a distilled file, the optimizer steps with their progress line, and when to
 * checkpoint and evaluate. What a checkpoint writes and how tau is evaluated are the caller's (the
 * command line wires them): this module knows the trainer, not the decoders.
 */
import { join } from "node:path";
import { fail } from "../errors.js";
import type { AdapterTrainer } from "../train/adapter.js";
import { drawAppended, maxCut, type SftExample } from "../train/sar.js";
import { readDistilled } from "./distilled.js";
import { appendLine } from "./outputs.js";

/** What the loop needs of a run's settings (the rest shape the trainer). */
export interface LoopSettings {
  readonly steps: number; // optimizer steps in all (a resumed run continues to this)
  readonly batch: number; // samples per step
  readonly groups: number; // mask groups per sample
  readonly k: number; // masks per group
  readonly maskToken: number;
  readonly checkpointEvery: number;
  readonly evalEvery: number; // 0: never
  readonly out: string; // the adapter file (named when the run stops)
}

/** What the loop calls: a checkpoint, an evaluation, a progress line. */
export interface LoopHooks {
  save(): void;
  evaluate(lossAvg: number): Promise<void>;
  progress(line: string): void;
}

/**
 * The train split of a distilled file as SAR-SFT examples: responses cut to fit maxPrefix, prompts that
 * leave no room for a mask group dropped. Fails when no example could hold a mask group.
 */
export function trainingExamples(dataPath: string, maxPrefix: number, k: number): SftExample[] {
  const examples: SftExample[] = [];
  for (const e of readDistilled(dataPath)) {
    if (e.split !== "train") continue;
    const room = maxPrefix - e.prompt.length;
    if (room <= k + 1) continue; // prompt too long to leave room for a group
    examples.push({ prompt: e.prompt, response: e.response.slice(0, room) });
  }
  if (examples.length === 0) fail("E_ARGS", `${dataPath}: no training example (run space distill first)`);
  // A sample has mask rows only when its response is longer than k: without one, no step could run.
  if (!examples.some((e) => maxCut(e, k) >= 0)) {
    fail("E_ARGS", `${dataPath}: no training example has a response of more than k = ${k} tokens within --max-prefix ${maxPrefix}: no sample would hold a mask group`);
  }
  return examples;
}

/**
 * Steps until trainer.steps reaches s.steps: each draws s.batch samples (the trainer's RNG, so a resumed
 * run continues the same stream), stops on a non-finite loss before anything of that step is saved,
 * checkpoints every s.checkpointEvery steps and once at the end, and evaluates every s.evalEvery steps.
 */
export async function trainSteps(trainer: AdapterTrainer, examples: readonly SftExample[], s: LoopSettings, hooks: LoopHooks): Promise<void> {
  const t0 = performance.now(), s0 = trainer.steps;
  let savedAt = -1; // the step last saved: the end saves only if the last step did not (a resumed, finished run does)
  const save = () => {
    hooks.save();
    savedAt = trainer.steps;
  };
  let maskTokens = 0, rows = 0, lossAvg = NaN;
  while (trainer.steps < s.steps) {
    const batch = Array.from({ length: s.batch }, () => {
      const ex = examples[Math.floor(trainer.rng.next() * examples.length)];
      return drawAppended(ex, { k: s.k, maskId: s.maskToken, groups: s.groups }, trainer.rng);
    }).filter((b) => b.maskRows.length > 0);
    if (batch.length === 0) continue;
    const st = trainer.step(batch);
    if (!Number.isFinite(st.loss)) {
      // Nothing of this step is saved: the checkpoint and the adapter keep the last finite state.
      fail("E_TRAIN", `step ${trainer.steps}: the loss is ${st.loss}: training diverged (try a lower --lr); ${s.out} and the checkpoint keep the last saved step`);
    }
    maskTokens += st.tokens;
    rows += batch.reduce((n, b) => n + b.tokens.length, 0);
    lossAvg = Number.isNaN(lossAvg) ? st.loss : 0.98 * lossAvg + 0.02 * st.loss;
    const sec = (performance.now() - t0) / 1000, done = trainer.steps - s0;
    const eta = (sec / done) * (s.steps - trainer.steps);
    hooks.progress(
      `step ${trainer.steps}/${s.steps} ${bar(trainer.steps / s.steps)} loss ${st.loss.toFixed(3)} (avg ${lossAvg.toFixed(3)}) lr ${st.lr.toExponential(2)} | ` +
        `${(maskTokens / sec).toFixed(1)} mask tok/s, ${(rows / sec).toFixed(0)} rows/s | ETA ${fmtTime(eta)}`,
    );
    if (trainer.steps % s.checkpointEvery === 0 || trainer.steps === s.steps) save();
    if (s.evalEvery > 0 && (trainer.steps % s.evalEvery === 0 || trainer.steps === s.steps)) await hooks.evaluate(lossAvg);
  }
  if (savedAt !== trainer.steps) save();
}

/** A line on standard error and in the run folder's train.log, time-stamped. */
export function logRun(runDir: string, msg: string): void {
  const line = `${new Date().toISOString()} ${msg}`;
  process.stderr.write(line + "\n");
  appendLine(join(runDir, "train.log"), line);
}

/** Seconds as "1h02m" or "3m07s" ("?" when unknown). */
export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
}

function bar(f: number): string {
  const n = Math.round(Math.max(0, Math.min(1, f)) * 20);
  return `[${"#".repeat(n)}${".".repeat(20 - n)}]`;
}

/**
 * The optimizer: AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's torch.optim.AdamW),
 * a cosine learning-rate schedule with linear warm-up, and clipping by the global gradient norm
 * (torch.nn.utils.clip_grad_norm_). Formulas: spec/training.md. The update itself is the `adamw` kernel,
 * element-wise f32 without fused operations, so it is the same in both builds and in the reference.
 */
import { fail } from "../errors.js";
import type { KernelExports } from "../wasm/kernels.js";
import type { Param } from "./params.js";

export interface Schedule {
  readonly lr: number; // peak learning rate
  readonly minLr: number; // the cosine decays to this at totalSteps
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Clip the global gradient norm to this (0 or Infinity: no clipping). */
  readonly maxGradNorm: number;
}

/**
 * Learning rate of update s (1-based: the first update is s = 1):
 *   s <= W:  lr * s / W
 *   s >  W:  minLr + (lr - minLr) * (1 + cos(pi * min(1, (s - W) / (S - W)))) / 2
 * (f64; the kernel receives f32 values derived from it).
 */
export function learningRate(s: number, sch: Schedule): number {
  const { lr, minLr, warmupSteps: W, totalSteps: S } = sch;
  if (s <= W) return (lr * s) / W;
  const progress = S > W ? Math.min(1, (s - W) / (S - W)) : 1;
  return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}

export function checkSchedule(sch: Schedule, opt: AdamWConfig): void {
  const bad = (what: string, v: number) => fail("E_ARGS", `training: ${what} ${v} is out of range`);
  if (!(sch.lr > 0 && Number.isFinite(sch.lr))) bad("learning rate", sch.lr);
  if (!(sch.minLr >= 0 && sch.minLr <= sch.lr)) bad("minimum learning rate", sch.minLr);
  if (!(Number.isInteger(sch.warmupSteps) && sch.warmupSteps >= 0)) bad("warm-up steps", sch.warmupSteps);
  if (!(Number.isInteger(sch.totalSteps) && sch.totalSteps > 0)) bad("total steps", sch.totalSteps);
  if (!(opt.beta1 >= 0 && opt.beta1 < 1)) bad("beta1", opt.beta1);
  if (!(opt.beta2 >= 0 && opt.beta2 < 1)) bad("beta2", opt.beta2);
  if (!(opt.eps > 0)) bad("eps", opt.eps);
  if (!(opt.weightDecay >= 0)) bad("weight decay", opt.weightDecay);
  if (!(opt.maxGradNorm >= 0)) bad("max gradient norm", opt.maxGradNorm);
}

/** sqrt of the sum of squares of every gradient (f64, parameters in store order). */
export function globalGradNorm(k: KernelExports, params: readonly Param[]): number {
  let s = 0;
  for (const p of params) s += k.sumSquares(p.grad, p.size);
  return Math.sqrt(s);
}

/** The factor gradients are multiplied by: min(1, maxNorm / (norm + 1e-6)), as clip_grad_norm_. */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || maxNorm === Infinity) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * Update s (1-based) of every parameter with learning rate lr and gradient factor clip. The scalars are
 * rounded to f32 once here, in the order spec/training.md gives.
 */
export function adamwUpdate(k: KernelExports, params: readonly Param[], opt: AdamWConfig, s: number, lr: number, clip: number): void {
  const fr = Math.fround;
  const stepSize = fr(lr / (1 - opt.beta1 ** s));
  const sqrtBc2 = fr(Math.sqrt(1 - opt.beta2 ** s));
  for (const p of params) {
    const decay = p.decay ? fr(1 - lr * opt.weightDecay) : 1;
    k.adamw(p.data, p.grad, p.m, p.v, p.size, fr(opt.beta1), fr(1 - opt.beta1), fr(opt.beta2), fr(1 - opt.beta2), fr(opt.eps),
      decay, stepSize, sqrtBc2, fr(clip));
  }
}

/** What one optimizer update did. */
export interface UpdateStats {
  step: number; // updates so far, this one included
  lr: number;
  gradNorm: number;
  clip: number;
  skipped: boolean; // a non-finite gradient norm: the parameters were left as they were
}

/**
 * Update number s = done + 1 on gradients already accumulated in `params`: global-norm clipping, then
 * AdamW at the scheduled learning rate. Shared by every trainer, so they all follow spec/training.md.
 */
export function optimizerUpdate(k: KernelExports, params: readonly Param[], hyper: Schedule & AdamWConfig, done: number): UpdateStats {
  const gradNorm = globalGradNorm(k, params);
  const step = done + 1;
  const lr = learningRate(step, hyper);
  const clip = clipFactor(gradNorm, hyper.maxGradNorm);
  const skipped = !Number.isFinite(gradNorm);
  if (!skipped) adamwUpdate(k, params, hyper, step, lr, clip);
  return { step, lr, gradNorm, clip, skipped };
}

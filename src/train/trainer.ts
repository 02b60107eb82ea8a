/**
 * The trainer: gradient accumulation over a batch of samples, global-norm clipping, AdamW on a cosine
 * schedule, and the state a checkpoint needs. Later parts (the SAR data builder, adapters, `space train`)
 * drive it with `step(batch)`; each sample is one block with its own attention mask and positions
 * (sample.ts), so SAR mask groups are just samples.
 *
 * Loss: the token-level mean over the whole batch, sum_t w_t CE_t / sum_t w_t over every labelled row of
 * every sample (unit weights by default, as the paper's code). Gradients are accumulated sample by sample
 * (each sample is a micro-batch of one block), already scaled by 1 / sum_t w_t, so the accumulation is
 * exact whatever the number of samples.
 *
 * Example:
 *   const trainer = Trainer.fromEngine(engine, { maxT: 64, lr: 1e-3, warmupSteps: 10, totalSteps: 200 });
 *   for (let s = trainer.steps; s < 200; s++) trainer.step(batchFor(s, trainer.rng));
 */
import { fail } from "../errors.js";
import { Rng } from "../util/rng.js";
import type { Engine } from "../engine.js";
import type { Arena } from "../wasm/arena.js";
import type { WasmCore } from "../wasm/core.js";
import type { ModelConfig } from "../model/config.js";
import type { ModelWeights } from "../model/weights.js";
import { ParamStore } from "./params.js";
import { TrainModel, type TrainableFilter } from "./model.js";
import { checkSchedule, optimizerUpdate } from "./optim.js";
import { batchGradients, batchLoss, type BatchLoss } from "./batch.js";
import { sampleWeight, type TrainSample } from "./sample.js";
import { captureState, restoreState, type TrainHyper, type TrainState } from "./checkpoint.js";

export interface TrainerOptions {
  /** Rows of the longest sample (activations are allocated for it). */
  readonly maxT: number;
  readonly lr: number;
  readonly totalSteps: number;
  readonly minLr?: number; // default 0
  readonly warmupSteps?: number; // default 0
  readonly beta1?: number; // default 0.9
  readonly beta2?: number; // default 0.999
  readonly eps?: number; // default 1e-8
  readonly weightDecay?: number; // default 0 (applies to matrices only)
  readonly maxGradNorm?: number; // default 1; 0 = no clipping
  /** Seeds `trainer.rng` (data order, SAR cut points: whatever the caller draws from it). Default 0. */
  readonly seed?: number;
  /** Which model tensors train, by GGUF name; default all ("full" mode). */
  readonly trainable?: TrainableFilter;
}

export type { BatchLoss } from "./batch.js";

export interface StepStats extends BatchLoss {
  readonly step: number; // updates done, this one included
  readonly lr: number;
  readonly gradNorm: number; // global norm before clipping
  readonly clip: number; // factor the gradients were multiplied by
  readonly skipped: boolean; // non-finite gradients: the parameters were left unchanged
}

export class Trainer {
  readonly store: ParamStore;
  readonly model: TrainModel;
  /** The run's random source; saved in checkpoints, so data drawn from it resumes identically. */
  readonly rng: Rng;
  readonly hyper: TrainHyper;
  private updates = 0;

  constructor(
    private readonly core: WasmCore,
    arena: Arena,
    readonly cfg: ModelConfig,
    weights: ModelWeights,
    opts: TrainerOptions,
  ) {
    this.hyper = {
      lr: opts.lr, minLr: opts.minLr ?? 0, warmupSteps: opts.warmupSteps ?? 0, totalSteps: opts.totalSteps,
      beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.999, eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0, maxGradNorm: opts.maxGradNorm ?? 1,
    };
    checkSchedule(this.hyper, this.hyper);
    this.store = new ParamStore(arena);
    this.model = new TrainModel(core, arena, cfg, weights, this.store, opts.trainable ?? (() => true), opts.maxT);
    if (this.store.list.length === 0) fail("E_ARGS", "training: no tensor is trainable");
    this.rng = new Rng(opts.seed ?? 0);
  }

  /**
   * A trainer over an engine's model (its weights stay untouched: trainable tensors are copied). The
   * trainer allocates from the engine's arena: create it before any decoding context that will be
   * disposed (disposing a context releases everything allocated after it).
   */
  static fromEngine(engine: Engine, opts: TrainerOptions): Trainer {
    return new Trainer(engine.core, engine.arena, engine.config, engine.weights, opts);
  }

  /** Optimizer updates done. */
  get steps(): number {
    return this.updates;
  }

  /** The weights being trained (frozen tensors shared with the base): build a Forward on them to decode. */
  get weights(): ModelWeights {
    return this.model.weights;
  }

  /**
   * Zeroes the gradients and accumulates those of the batch's mean loss, sample by sample in order.
   * Returns the batch's loss.
   */
  gradients(batch: readonly TrainSample[]): BatchLoss {
    return batchGradients(this.model, this.store, batch, sampleWeight, "training batch");
  }

  /** One optimizer update on the batch: gradients, clipping, AdamW at the scheduled learning rate. */
  step(batch: readonly TrainSample[]): StepStats {
    const b = this.gradients(batch);
    const u = optimizerUpdate(this.core.exports, this.store.list, this.hyper, this.updates);
    this.updates = u.step;
    return { ...b, ...u };
  }

  /** The batch's loss without gradients. */
  evaluate(batch: readonly TrainSample[]): BatchLoss {
    return batchLoss(this.model, batch);
  }

  /** Everything a checkpoint holds (copies). */
  state(): TrainState {
    return captureState(this.store, this.updates, this.rng, this.hyper, this.cfg);
  }

  /** Continues from a checkpoint made by a trainer with the same model, trainable tensors and hyper-parameters. */
  restore(s: TrainState): void {
    this.updates = restoreState(s, this.store, this.rng, this.hyper, this.cfg);
  }
}

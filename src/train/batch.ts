/**
 * One batch through a trainable model, shared by the full-model trainer and the adapter trainer: the loss
 * is one token-level weighted mean over every labelled row of the batch (spec/training.md), so it does
 * not depend on how the batch is split into samples.
 */
import { fail } from "../errors.js";
import type { ParamStore } from "./params.js";
import type { LossSum } from "./model.js";

export interface BatchLoss {
  readonly loss: number; // weighted mean cross-entropy
  readonly weight: number; // sum of row weights
  readonly tokens: number; // labelled rows
}

/** What both training graphs offer: a forward that keeps activations, its backward, and the loss alone. */
export interface TrainableGraph<S> {
  forward(s: S): void;
  backward(s: S, scale: number): LossSum;
  loss(s: S): LossSum;
}

/** Zeroes the gradients, then accumulates the batch's gradients of the mean loss (each sample scaled 1/total weight). */
export function batchGradients<S>(graph: TrainableGraph<S>, store: ParamStore, batch: readonly S[], weightOf: (s: S) => number, what: string): BatchLoss {
  let total = 0;
  for (const s of batch) total += weightOf(s);
  if (!(total > 0)) fail("E_ARGS", `${what}: no labelled row (the total loss weight is 0)`);
  const scale = Math.fround(1 / total);
  store.zeroGrads();
  let loss = 0, tokens = 0;
  for (const s of batch) {
    graph.forward(s);
    const r = graph.backward(s, scale);
    loss += r.loss;
    tokens += r.tokens;
  }
  return { loss: loss / total, weight: total, tokens };
}

/** The batch's mean loss, no gradients. */
export function batchLoss<S>(graph: TrainableGraph<S>, batch: readonly S[]): BatchLoss {
  let loss = 0, weight = 0, tokens = 0;
  for (const s of batch) {
    graph.forward(s);
    const r = graph.loss(s);
    loss += r.loss;
    weight += r.weight;
    tokens += r.tokens;
  }
  return { loss: weight > 0 ? loss / weight : 0, weight, tokens };
}

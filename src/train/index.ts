// The training engine (spec/training.md): samples, the Llama training graph, AdamW, the trainer, checkpoints.
export { causalMask, causalSample, checkSample, packSamples, sampleWeight, type TrainSample } from "./sample.js";
export { ParamStore, type Param } from "./params.js";
export { TrainModel, HEAD_CHUNK, modelTensorNames, type TrainableFilter, type LossSum } from "./model.js";
export { learningRate, clipFactor, globalGradNorm, adamwUpdate, type Schedule, type AdamWConfig } from "./optim.js";
export { Trainer, type TrainerOptions, type StepStats, type BatchLoss } from "./trainer.js";
export { encodeCheckpoint, decodeCheckpoint, CHECKPOINT_VERSION, type TrainState, type TrainHyper, type TensorState } from "./checkpoint.js";
export {
  sftSample, paperSample, appendedSample, drawPaper, drawAppended, maxCut,
  type SftExample, type SarSample, type SarShape, type RandomSource,
} from "./sar.js";

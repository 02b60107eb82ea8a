// The WebAssembly tensor core: the exports of build/space-{plain,relaxed}.wasm (spec/kernels.md).
// Raw byte offsets into the imported shared memory; nothing here allocates or keeps mutable state, so
// worker threads can run the same module on the same memory.

/** First byte the TypeScript arena may use (everything below is this module's constant data). */
export function heapBase(): usize {
  return __heap_base;
}

/** Whether this is the relaxed-simd build (fused multiply-add in dot products). */
export function isRelaxed(): bool {
  return ASC_FEATURE_RELAXED_SIMD;
}

export { matmul } from "./matmul";
export { dequantRows } from "./quant";
export { embed } from "./embed";
export { rmsnorm } from "./norm";
export { ropeTable, ropeApply } from "./rope";
export { swiglu, add, softmax } from "./activation";
export { expf4Rows } from "./expf";
export { attention } from "./attention";
export { logitOrder, logitWeights, logitTotal, logitArgmax, expdRows } from "./sampling";

// Packed weight layouts (4-row panels: f32, bf16, int8) and the int8 activation quantiser.
export { packRows, matmulPacked } from "./packed";
export { loraAdd } from "./lora";
export { quantizeRows } from "./q8";
export { probeRead, probePeak } from "./probe";

// Backward kernels and the optimizer (training, spec/training.md).
export { matmulBackX, matmulBackW } from "./grad/matmul";
export { rmsnormBack } from "./grad/norm";
export { ropeApplyBack } from "./grad/rope";
export { attentionBack } from "./grad/attention";
export { swigluBack, embedBack } from "./grad/activation";
export { crossEntropy } from "./grad/loss";
export { adamw, sumSquares } from "./grad/optim";

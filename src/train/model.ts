/**
 * The Llama training graph: the forward pass of spec/model.md over one training block (no KV cache),
 * keeping the activations the backward needs, and the backward through the whole model into the
 * gradients of a ParamStore.
 *
 * It is not a second model: the forward calls the same kernels in the same order as src/model/forward.ts
 * (test/train.model.test.ts checks that the logits are bit-identical), on the same config and weight
 * layout. Trainable tensors are f32 copies in the ParamStore (dequantised with the forward's values, so
 * an untrained copy computes exactly what the loaded model computes); frozen ones are the loaded weights
 * themselves, in whatever format they were loaded.
 *
 * Shapes: D = dModel, F = dFF, V = vocabSize, kvDim = nKvHeads * headDim, T = rows of the sample.
 * Every gradient kernel reduces in a fixed order (spec/training.md), so a sample's gradients do not
 * depend on how many other rows are packed with it, and weight gradients accumulate over samples in
 * row order.
 */
import { fail } from "../errors.js";
import { GGML } from "../wasm/kernels.js";
import type { Arena } from "../wasm/arena.js";
import type { WasmCore } from "../wasm/core.js";
import type { ModelConfig } from "../model/config.js";
import { requireRowMajor, type LayerWeights, type Matrix, type ModelWeights } from "../model/weights.js";
import type { ParamStore } from "./params.js";
import { checkSample, rowWeight, type TrainSample } from "./sample.js";

/** Output-head rows per chunk: bounds the logits buffer to HEAD_CHUNK * V floats. */
export const HEAD_CHUNK = 32;

/** `trainable(name)` picks the model tensors that train, by GGUF name. */
export type TrainableFilter = (name: string) => boolean;

/** GGUF names of the model's tensors, in the store's order (also the checkpoint's). */
export function modelTensorNames(cfg: ModelConfig, tied: boolean): string[] {
  const names = ["token_embd.weight"];
  for (let l = 0; l < cfg.nLayers; l++) {
    for (const n of LAYER_TENSORS) names.push(`blk.${l}.${n}`);
  }
  names.push("output_norm.weight");
  if (!tied) names.push("output.weight");
  return names;
}

const LAYER_TENSORS = [
  "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
  "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
] as const;

/** Gradient pointers of one layer (0 = frozen). */
interface LayerGrads {
  attnNorm: number;
  wq: number;
  wk: number;
  wv: number;
  wo: number;
  ffnNorm: number;
  wGate: number;
  wUp: number;
  wDown: number;
}

/** Activations of one layer kept for the backward, all [maxT, ...] f32. */
interface LayerActs {
  xn1: number; // [T, D] rmsnorm(x_in, attn_norm)
  q: number; // [T, D] after RoPE
  k: number; // [T, kvDim] after RoPE
  v: number; // [T, kvDim]
  attn: number; // [T, D] attention output
  xMid: number; // [T, D] residual after attention
  xn2: number; // [T, D] rmsnorm(xMid, ffn_norm)
  gate: number; // [T, F] before the activation
  up: number; // [T, F]
  act: number; // [T, F] swiglu(gate, up)
}

/** Loss of a forward pass: sum over labelled rows of weight * cross-entropy, and the total weight. */
export interface LossSum {
  readonly loss: number; // sum of w_t * CE_t (f64 sum of the per-row f32 values, in row order)
  readonly weight: number; // sum of w_t
  readonly tokens: number; // labelled rows
}

export class TrainModel {
  /** The effective weights (trainable tensors point at their f32 copies): a Forward can decode with them. */
  readonly weights: ModelWeights;
  readonly maxT: number;
  private readonly tied: boolean;
  private readonly gEmbd: number;
  private readonly gOutNorm: number;
  private readonly gOut: number;
  private readonly grads: LayerGrads[];
  /** Backward stops after this layer (the lowest one with a trainable tensor below it, or the embedding). */
  private readonly lowest: number;
  private readonly xs: number[]; // residual stream: xs[l] = input of layer l, xs[nLayers] = final; [maxT, D]
  private readonly acts: LayerActs[];
  private readonly buf: {
    ids: number; pos: number; mask: number; cos: number; sin: number; tmp: number;
    dx: number; dxn: number; dattn: number; dq: number; dk: number; dv: number;
    dact: number; dgate: number; dup: number; scratch: number;
    hx: number; hxn: number; hdxn: number; hdx: number; logits: number; labels: number; rowW: number; losses: number;
  };
  private T = 0;
  private readonly chunkRows: number; // rows per head chunk: min(HEAD_CHUNK, maxT)

  /**
   * Adds the trainable tensors of `base` to `store` (f32 copies) and allocates the activations for
   * blocks of up to maxT rows.
   */
  constructor(
    private readonly core: WasmCore,
    private readonly arena: Arena,
    readonly cfg: ModelConfig,
    base: ModelWeights,
    readonly store: ParamStore,
    trainable: TrainableFilter,
    maxT: number,
  ) {
    if (!(Number.isInteger(maxT) && maxT > 0)) fail("E_ARGS", `maxT must be a positive integer, got ${maxT}`);
    this.maxT = maxT;
    const D = cfg.dModel, F = cfg.dFF, V = cfg.vocabSize, kvDim = cfg.nKvHeads * cfg.headDim;
    this.tied = base.output === base.tokenEmbd;

    requireRowMajor(base, "training");
    // Effective weights: trainable tensors become f32 parameters (dequantised with the forward's values).
    const k = core.exports;
    const matrix = (m: Matrix): { m: Matrix; grad: number } => {
      if (!trainable(m.name)) return { m, grad: 0 };
      const p = store.add(m.name, m.N, m.K, (dst) => k.dequantRows(m.type, m.ptr, dst, m.K, 0, m.N));
      return { m: { name: m.name, type: GGML.F32, ptr: p.data, K: m.K, N: m.N }, grad: p.grad };
    };
    const vector = (name: string, ptr: number): { ptr: number; grad: number } => {
      if (!trainable(name)) return { ptr, grad: 0 };
      const p = store.add(name, 1, D, arena.f32(ptr, D).slice());
      return { ptr: p.data, grad: p.grad };
    };
    const emb = matrix(base.tokenEmbd);
    const layers: LayerWeights[] = [];
    this.grads = [];
    base.layers.forEach((L, l) => {
      const an = vector(`blk.${l}.attn_norm.weight`, L.attnNorm);
      const wq = matrix(L.wq), wk = matrix(L.wk), wv = matrix(L.wv), wo = matrix(L.wo);
      const fn = vector(`blk.${l}.ffn_norm.weight`, L.ffnNorm);
      const wg = matrix(L.wGate), wu = matrix(L.wUp), wd = matrix(L.wDown);
      layers.push({ attnNorm: an.ptr, wq: wq.m, wk: wk.m, wv: wv.m, wo: wo.m, ffnNorm: fn.ptr, wGate: wg.m, wUp: wu.m, wDown: wd.m });
      this.grads.push({
        attnNorm: an.grad, wq: wq.grad, wk: wk.grad, wv: wv.grad, wo: wo.grad,
        ffnNorm: fn.grad, wGate: wg.grad, wUp: wu.grad, wDown: wd.grad,
      });
    });
    const on = vector("output_norm.weight", base.outputNorm);
    const out = this.tied ? emb : matrix(base.output);
    this.gEmbd = emb.grad;
    this.gOutNorm = on.grad;
    this.gOut = out.grad;
    this.weights = { tokenEmbd: emb.m, layers, outputNorm: on.ptr, output: out.m, bytes: base.bytes };
    let lowest = cfg.nLayers; // nothing below the head trains
    for (let l = cfg.nLayers - 1; l >= 0; l--) if (Object.values(this.grads[l]).some((g) => g !== 0)) lowest = l;
    this.lowest = this.gEmbd ? 0 : lowest;

    const f32 = (n: number) => arena.alloc(n * 4, 64);
    this.xs = Array.from({ length: cfg.nLayers + 1 }, () => f32(maxT * D));
    this.acts = Array.from({ length: cfg.nLayers }, () => ({
      xn1: f32(maxT * D), q: f32(maxT * D), k: f32(maxT * kvDim), v: f32(maxT * kvDim), attn: f32(maxT * D),
      xMid: f32(maxT * D), xn2: f32(maxT * D), gate: f32(maxT * F), up: f32(maxT * F), act: f32(maxT * F),
    }));
    const C = (this.chunkRows = Math.min(HEAD_CHUNK, maxT));
    this.buf = {
      ids: arena.alloc(maxT * 4, 64), pos: arena.alloc(maxT * 4, 64), mask: arena.alloc(maxT * maxT, 64),
      cos: f32((maxT * cfg.headDim) / 2), sin: f32((maxT * cfg.headDim) / 2), tmp: f32(maxT * D),
      dx: f32(maxT * D), dxn: f32(maxT * D), dattn: f32(maxT * D), dq: f32(maxT * D), dk: f32(maxT * kvDim), dv: f32(maxT * kvDim),
      dact: f32(maxT * F), dgate: f32(maxT * F), dup: f32(maxT * F), scratch: f32(2 * maxT),
      hx: f32(C * D), hxn: f32(C * D), hdxn: f32(C * D), hdx: f32(C * D), logits: f32(C * V),
      labels: arena.alloc(C * 4, 64), rowW: f32(C), losses: f32(C),
    };
  }

  /**
   * Forward pass over the sample, keeping activations for `backward`. Returns nothing: the head runs in
   * `loss` / `backward`, chunk by chunk.
   */
  forward(s: TrainSample): void {
    const { cfg, weights: w, buf } = this;
    const k = this.core.exports;
    const T = checkSample(s, cfg.vocabSize, this.maxT);
    const D = cfg.dModel, kvDim = cfg.nKvHeads * cfg.headDim;
    this.T = T;
    this.arena.i32(buf.ids, T).set(s.tokens);
    this.arena.i32(buf.pos, T).set(s.positions);
    this.arena.u8(buf.mask, T * T).set(s.mask);
    k.embed(w.tokenEmbd.type, w.tokenEmbd.ptr, buf.ids, T, D, this.xs[0]);
    k.ropeTable(buf.pos, T, cfg.headDim, cfg.ropeBase, buf.cos, buf.sin);
    const scale = Math.fround(1 / Math.sqrt(cfg.headDim));
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l], A = this.acts[l];
      k.rmsnorm(this.xs[l], L.attnNorm, A.xn1, T, D, cfg.rmsEps);
      this.matmul(L.wq, A.xn1, A.q, T);
      this.matmul(L.wk, A.xn1, A.k, T);
      this.matmul(L.wv, A.xn1, A.v, T);
      k.ropeApply(A.q, buf.cos, buf.sin, T, cfg.nHeads, cfg.headDim, D);
      k.ropeApply(A.k, buf.cos, buf.sin, T, cfg.nKvHeads, cfg.headDim, kvDim);
      k.attention(A.q, A.k, A.v, buf.mask, A.attn, buf.scratch, T, T, cfg.nHeads, cfg.nKvHeads, cfg.headDim, 0, cfg.nHeads, scale);
      this.matmul(L.wo, A.attn, buf.tmp, T);
      this.copy(A.xMid, this.xs[l], T * D);
      k.add(A.xMid, buf.tmp, T * D);
      k.rmsnorm(A.xMid, L.ffnNorm, A.xn2, T, D, cfg.rmsEps);
      this.matmul(L.wGate, A.xn2, A.gate, T);
      this.matmul(L.wUp, A.xn2, A.up, T);
      k.swiglu(A.gate, A.up, A.act, T * cfg.dFF);
      this.matmul(L.wDown, A.act, buf.tmp, T);
      this.copy(this.xs[l + 1], A.xMid, T * D);
      k.add(this.xs[l + 1], buf.tmp, T * D);
    }
  }

  /** Logits f32 [R, V] of the given rows of the last forward (a copy). */
  logits(rows: ArrayLike<number>): Float32Array {
    const V = this.cfg.vocabSize;
    const out = new Float32Array(rows.length * V);
    for (let r0 = 0; r0 < rows.length; r0 += this.chunkRows) {
      const n = Math.min(this.chunkRows, rows.length - r0);
      this.head(Array.from({ length: n }, (_, i) => rows[r0 + i]));
      out.set(this.arena.f32(this.buf.logits, n * V), r0 * V);
    }
    return out;
  }

  /** Weighted cross-entropy of the last forward's labelled rows (no gradients). */
  loss(s: TrainSample): LossSum {
    return this.headLoss(s, 0, false);
  }

  /**
   * Backward of the last forward: adds d(scale * sum_t w_t CE_t)/dθ into the store's gradients (callers
   * zero them once per optimizer step). Returns the loss of the sample (unscaled).
   */
  backward(s: TrainSample, scale: number): LossSum {
    const { cfg, weights: w, buf } = this;
    const k = this.core.exports;
    const T = this.T;
    if (s.tokens.length !== T) fail("E_ARGS", "TrainModel.backward: not the sample of the last forward");
    const D = cfg.dModel, F = cfg.dFF, kvDim = cfg.nKvHeads * cfg.headDim;
    this.arena.f32(buf.dx, T * D).fill(0);
    const result = this.headLoss(s, scale, true); // dx = gradient at the final residual
    const attnScale = Math.fround(1 / Math.sqrt(cfg.headDim));
    for (let l = cfg.nLayers - 1; l >= this.lowest; l--) {
      const L = w.layers[l], A = this.acts[l], g = this.grads[l];
      // MLP: xs[l+1] = xMid + act Wdown^T, act = swiglu(xn2 Wgate^T, xn2 Wup^T), xn2 = rmsnorm(xMid).
      this.backX(L.wDown, buf.dx, buf.dact, T, false);
      if (g.wDown) k.matmulBackW(buf.dx, A.act, g.wDown, T, F, D, 0, D);
      k.swigluBack(A.gate, A.up, buf.dact, buf.dgate, buf.dup, T * F);
      this.backX(L.wGate, buf.dgate, buf.dxn, T, false);
      this.backX(L.wUp, buf.dup, buf.dxn, T, true);
      if (g.wGate) k.matmulBackW(buf.dgate, A.xn2, g.wGate, T, D, F, 0, F);
      if (g.wUp) k.matmulBackW(buf.dup, A.xn2, g.wUp, T, D, F, 0, F);
      k.rmsnormBack(A.xMid, L.ffnNorm, buf.dxn, buf.dx, g.ffnNorm, T, D, cfg.rmsEps); // dx = dL/dxMid
      // Attention: xMid = xs[l] + attn Wo^T.
      this.backX(L.wo, buf.dx, buf.dattn, T, false);
      if (g.wo) k.matmulBackW(buf.dx, A.attn, g.wo, T, D, D, 0, D);
      this.arena.f32(buf.dk, T * kvDim).fill(0);
      this.arena.f32(buf.dv, T * kvDim).fill(0);
      k.attentionBack(A.q, A.k, A.v, buf.mask, buf.dattn, buf.dq, buf.dk, buf.dv, buf.scratch,
        T, T, cfg.nHeads, cfg.nKvHeads, cfg.headDim, 0, cfg.nKvHeads, 0, attnScale);
      k.ropeApplyBack(buf.dq, buf.cos, buf.sin, T, cfg.nHeads, cfg.headDim, D);
      k.ropeApplyBack(buf.dk, buf.cos, buf.sin, T, cfg.nKvHeads, cfg.headDim, kvDim);
      this.backX(L.wq, buf.dq, buf.dxn, T, false);
      this.backX(L.wk, buf.dk, buf.dxn, T, true);
      this.backX(L.wv, buf.dv, buf.dxn, T, true);
      if (g.wq) k.matmulBackW(buf.dq, A.xn1, g.wq, T, D, D, 0, D);
      if (g.wk) k.matmulBackW(buf.dk, A.xn1, g.wk, T, D, kvDim, 0, kvDim);
      if (g.wv) k.matmulBackW(buf.dv, A.xn1, g.wv, T, D, kvDim, 0, kvDim);
      k.rmsnormBack(this.xs[l], L.attnNorm, buf.dxn, buf.dx, g.attnNorm, T, D, cfg.rmsEps); // dx = dL/dxs[l]
    }
    if (this.gEmbd) k.embedBack(buf.ids, buf.dx, this.gEmbd, T, D);
    return result;
  }

  /**
   * The output head over the labelled rows of the last forward, HEAD_CHUNK rows at a time: logits, the
   * weighted cross-entropy and, when `grad`, dlogits (times `scale`) back into dx and the head's weights.
   */
  private headLoss(s: TrainSample, scale: number, grad: boolean): LossSum {
    const { cfg, weights: w, buf } = this;
    const k = this.core.exports;
    const D = cfg.dModel, V = cfg.vocabSize;
    const rows: number[] = [];
    for (let t = 0; t < this.T; t++) if (rowWeight(s, t) !== 0) rows.push(t);
    let loss = 0, weight = 0;
    const sc = Math.fround(scale);
    for (let r0 = 0; r0 < rows.length; r0 += this.chunkRows) {
      const chunk = rows.slice(r0, r0 + this.chunkRows);
      const n = chunk.length;
      this.head(chunk);
      const labels = this.arena.i32(buf.labels, n), rw = this.arena.f32(buf.rowW, n);
      chunk.forEach((t, i) => {
        labels[i] = s.labels[t];
        rw[i] = rowWeight(s, t);
        weight += rw[i];
      });
      k.crossEntropy(buf.logits, buf.labels, buf.rowW, buf.logits, buf.losses, n, V, sc);
      const losses = this.arena.f32(buf.losses, n);
      for (let i = 0; i < n; i++) loss += losses[i];
      if (!grad) continue;
      // logits = hxn Wout^T, hxn = rmsnorm(hx, output_norm), hx = the chunk's final residual rows.
      this.backX(w.output, buf.logits, buf.hdxn, n, false);
      if (this.gOut) k.matmulBackW(buf.logits, buf.hxn, this.gOut, n, D, V, 0, V);
      this.arena.f32(buf.hdx, n * D).fill(0);
      k.rmsnormBack(buf.hx, w.outputNorm, buf.hdxn, buf.hdx, this.gOutNorm, n, D, cfg.rmsEps);
      const dx = this.arena.f32(buf.dx, this.T * D), hdx = this.arena.f32(buf.hdx, n * D);
      chunk.forEach((t, i) => dx.set(hdx.subarray(i * D, (i + 1) * D), t * D));
    }
    return { loss, weight, tokens: rows.length };
  }

  /** Logits of up to chunkRows rows of the last forward into buf.logits (normalised rows in buf.hxn). */
  private head(rows: readonly number[]): void {
    const { cfg, weights: w, buf } = this;
    const D = cfg.dModel;
    const x = this.arena.f32(this.xs[cfg.nLayers], this.T * D), hx = this.arena.f32(buf.hx, rows.length * D);
    rows.forEach((t, i) => {
      if (!(t >= 0 && t < this.T)) fail("E_ARGS", `logits of row ${t}: outside the last sample's ${this.T} rows`);
      hx.set(x.subarray(t * D, (t + 1) * D), i * D);
    });
    this.core.exports.rmsnorm(buf.hx, w.outputNorm, buf.hxn, rows.length, D, cfg.rmsEps);
    this.matmul(w.output, buf.hxn, buf.logits, rows.length);
  }

  private matmul(m: Matrix, x: number, y: number, T: number): void {
    this.core.exports.matmul(m.type, x, m.ptr, y, T, m.K, m.N, 0, m.N);
  }

  /** dx (+)= dy W for W: [N, K]: dy [T, N] -> dx [T, K]. */
  private backX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void {
    this.core.exports.matmulBackX(m.type, dy, m.ptr, dx, T, m.K, m.N, 0, m.K, accumulate ? 1 : 0);
  }

  private copy(dst: number, src: number, n: number): void {
    new Uint8Array(this.core.memory.buffer).copyWithin(dst, src, src + n * 4);
  }
}

/**
 * Base-preserving SAR-SFT (spec/adapter.md, spec/training.md "Base-preserving mode"): trains only an
 * adapter (mask embeddings + LoRA applied to mask rows) through the frozen base model.
 *
 * The shortcut that makes it cheap: in a SAR sample the mask rows come after the real rows (prefix), no
 * real row sees a mask row, and the base is frozen, so
 *  - the prefix is run once by the ordinary decoding forward (Forward.run, into a KV cache), with no
 *    activations kept and no backward at all: its values do not depend on the adapter (and it may run
 *    on other weights than the backward's f32 rows: `prefixWeights`, the decoder's q4 panels, several
 *    times faster, and the keys and values the q4 decoder's mask rows see);
 *  - only the mask rows run through the training graph (forward keeping activations, backward), with
 *    their attention over the cached prefix keys plus their own group; the backward touches mask rows
 *    only (gradients into the cached keys are discarded: they are constants).
 * A mask row's forward runs the same kernels in the same order as the decoder's mask rows (Forward.run
 * with `Block.adapter`), so its logits equal the decoder's for the same prefix.
 *
 * Parameters (in a ParamStore, so the optimizer and checkpoints of spec/training.md apply unchanged):
 * `space.mask_embd` [E, D] (E = k: mask j of a group uses row j; or 1), and per layer and target
 * `blk.L.T.lora_a` [r, K] (init N(0, 1/K)), `blk.L.T.lora_b` [N, r] (init 0, so an untrained adapter adds
 * nothing). The mask embeddings start as the mean of the token embedding rows.
 */
import { fail } from "../errors.js";
import { Rng } from "../util/rng.js";
import { GGML } from "../wasm/kernels.js";
import type { Arena } from "../wasm/arena.js";
import type { WasmCore } from "../wasm/core.js";
import type { ModelConfig } from "../model/config.js";
import { requireRowMajor, type Matrix, type ModelWeights } from "../model/weights.js";
import { Forward, Workspace } from "../model/forward.js";
import { KVCache } from "../model/kvcache.js";
import { LocalExecutor, type AttentionArgs, type Executor } from "../threads/executor.js";
import {
  LoraRows, loraName, maskEmbdName, targetShape,
  type AdapterData, type AdapterMeta, type LoraMatrix, type LoraTarget, type LoraWeights,
} from "../model/adapter.js";
import { ParamStore, type Param } from "./params.js";
import { HEAD_CHUNK, type LossSum } from "./model.js";
import { checkSchedule, optimizerUpdate } from "./optim.js";
import { rowWeight } from "./sample.js";
import type { SarSample } from "./sar.js";
import { captureState, restoreState, type TrainHyper, type TrainState } from "./checkpoint.js";
import type { StepStats } from "./trainer.js";
import { batchGradients, batchLoss, type BatchLoss } from "./batch.js";

export interface AdapterShape {
  readonly k: number;
  readonly rank: number;
  readonly targets: readonly LoraTarget[];
  readonly maskToken: number;
  /** "per-position": k vectors (mask j uses vector j, the default); "shared": one vector. */
  readonly maskEmbeddings?: "per-position" | "shared";
}

interface LoraParam extends LoraMatrix {
  readonly ga: number; // gradient of A
  readonly gb: number; // gradient of B
}

interface MaskActs {
  x: number; // [M, D] layer input
  xn1: number; q: number; attn: number; xMid: number; xn2: number; // [M, D]
  gate: number; up: number; act: number; // [M, F]
  u: Partial<Record<LoraTarget, number>>; // [M, r]: A x of each target
}

/** Rows of the prefix run per Forward.run call. */
const PREFIX_CHUNK = 128;

export class AdapterModel {
  readonly lora: LoraWeights;
  readonly embd: Param;
  private readonly params: Partial<Record<LoraTarget, LoraParam>>[];
  private readonly forwardBase: Forward;
  private readonly cache: KVCache;
  private readonly ws: Workspace;
  private readonly acts: MaskActs[];
  private readonly buf: {
    mask: number; cos: number; sin: number; pos: number; tmp: number; scratch: number;
    dx: number; dxn: number; dattn: number; dq: number; dk: number; dv: number; dact: number; dgate: number; dup: number; du: number; d: number;
    hx: number; hxn: number; hdxn: number; hdx: number; logits: number; labels: number; rowW: number; losses: number;
  };
  private readonly xTop: number; // [M, D] final residual of the mask rows
  private readonly capacity: number; // keys a sample can have (prefix + mask rows)
  private C = 0; // prefix rows of the last forward
  private M = 0; // mask rows of the last forward
  private slots = new Int32Array(0);

  constructor(
    private readonly core: WasmCore,
    arena: Arena,
    readonly cfg: ModelConfig,
    readonly base: ModelWeights,
    readonly store: ParamStore,
    readonly shape: AdapterShape,
    readonly maxPrefix: number,
    readonly maxMask: number,
    seed = 0,
    /**
     * Where the frozen base's forward matmuls run (the prefix, and the mask rows' base projections and
     * head): a worker pool splits them by output rows, which changes no bit of any result (src/threads/).
     * The backward of the frozen matrices (dX = dY W) is split too, by columns of dX, and so are the
     * mask rows' attention (by head x row) and its backward (by kv heads); the adapter's own small
     * kernels (LoRA and its gradients, norms and their backward) run on the calling thread.
     */
    private readonly exec: Executor = new LocalExecutor(core.exports),
    /** The weights the prefix runs on (default: `base`); the same model in another storage. */
    prefixWeights: ModelWeights = base,
  ) {
    const D = cfg.dModel, F = cfg.dFF, V = cfg.vocabSize, kvDim = cfg.nKvHeads * cfg.headDim, r = shape.rank;
    if (!(Number.isInteger(maxPrefix) && maxPrefix > 0 && Number.isInteger(maxMask) && maxMask > 0)) fail("E_ARGS", "adapter training: maxPrefix and maxMask must be positive integers");
    if (!(Number.isInteger(r) && r >= 1)) fail("E_ARGS", `adapter training: rank must be a positive integer, got ${r}`);
    requireRowMajor(base, "adapter training");
    const k = core.exports;
    // Mask embeddings: the mean token embedding, in f64, rounded once.
    const E = shape.maskEmbeddings === "shared" ? 1 : shape.k;
    const mean = new Float64Array(D);
    const te = base.tokenEmbd, chunk = 256, mark = arena.mark();
    const tmp = arena.alloc(chunk * D * 4, 64);
    for (let r0 = 0; r0 < te.N; r0 += chunk) {
      const n = Math.min(chunk, te.N - r0);
      k.dequantRows(te.type, te.ptr, tmp, te.K, r0, r0 + n);
      const v = arena.f32(tmp, n * D);
      for (let i = 0; i < n * D; i++) mean[i % D] += v[i];
    }
    arena.reset(mark);
    const init = new Float32Array(E * D);
    for (let i = 0; i < E * D; i++) init[i] = mean[i % D] / te.N;
    this.embd = store.add(maskEmbdName, E, D, init, false);
    // LoRA.
    const rng = new Rng(seed);
    this.params = [];
    for (let l = 0; l < cfg.nLayers; l++) {
      const out: Partial<Record<LoraTarget, LoraParam>> = {};
      for (const t of shape.targets) {
        const { K, N } = targetShape(cfg, t);
        const a = store.add(loraName(l, t, "a"), r, K, Float32Array.from({ length: r * K }, () => rng.gaussian() / Math.sqrt(K)));
        const b = store.add(loraName(l, t, "b"), N, r, new Float32Array(N * r));
        out[t] = { a: a.data, b: b.data, K, N, ga: a.grad, gb: b.grad };
      }
      this.params.push(out);
    }
    this.lora = { rank: r, layers: this.params };

    // The prefix runs through the decoding forward into this cache; mask rows' K/V go after it.
    const capacity = maxPrefix + maxMask;
    this.capacity = capacity;
    this.cache = new KVCache(arena, core.memory, cfg.nLayers, kvDim, capacity);
    this.ws = new Workspace(arena, cfg, { maxT: Math.min(PREFIX_CHUNK, maxPrefix), maxKeys: capacity, maxLogitRows: 1, threads: exec.threads });
    this.forwardBase = new Forward(core, arena, cfg, prefixWeights, exec);

    const f32 = (n: number) => arena.alloc(n * 4, 64);
    const M = maxMask;
    this.acts = Array.from({ length: cfg.nLayers }, () => {
      const u: Partial<Record<LoraTarget, number>> = {};
      for (const t of shape.targets) u[t] = f32(M * r);
      return {
        x: f32(M * D), xn1: f32(M * D), q: f32(M * D), attn: f32(M * D), xMid: f32(M * D), xn2: f32(M * D),
        gate: f32(M * F), up: f32(M * F), act: f32(M * F), u,
      };
    });
    this.xTop = f32(M * D);
    const W = Math.max(D, F, kvDim);
    const Ch = Math.min(HEAD_CHUNK, M);
    this.buf = {
      mask: arena.alloc(M * capacity, 64), cos: f32((M * cfg.headDim) / 2), sin: f32((M * cfg.headDim) / 2), pos: arena.alloc(M * 4, 64),
      tmp: f32(M * W), scratch: f32(exec.threads * 2 * capacity), // a slice of 2 x keys per thread
      dx: f32(M * D), dxn: f32(M * D), dattn: f32(M * D), dq: f32(M * D), dk: f32(capacity * kvDim), dv: f32(capacity * kvDim),
      dact: f32(M * F), dgate: f32(M * F), dup: f32(M * F), du: f32(M * r), d: f32(M * W),
      hx: f32(Ch * D), hxn: f32(Ch * D), hdxn: f32(Ch * D), hdx: f32(Ch * D), logits: f32(Ch * V),
      labels: arena.alloc(Ch * 4, 64), rowW: f32(Ch), losses: f32(Ch),
    };
  }

  /** The current adapter (copies): mask embeddings and LoRA matrices. */
  data(meta: Omit<AdapterMeta, "k" | "rank" | "targets" | "maskToken" | "maskEmbeddings" | "nLayers" | "dModel">): AdapterData {
    const { store } = this;
    const lora = new Map(this.loraNames().map((n) => [n, store.view(store.get(n)!, "data").slice()]));
    return { meta: { ...meta, ...this.shapeMeta() }, maskEmbd: store.view(this.embd, "data").slice(), lora };
  }

  /** The adapter's shape as its file records it (AdapterMeta without the base). */
  private shapeMeta() {
    const { shape, cfg } = this;
    return {
      k: shape.k, rank: shape.rank, targets: [...shape.targets], maskToken: shape.maskToken,
      maskEmbeddings: this.embd.rows, nLayers: cfg.nLayers, dModel: cfg.dModel,
    };
  }

  /** Names of every LoRA matrix (loraName), layer by layer, target by target, A then B. */
  private loraNames(): string[] {
    return Array.from({ length: this.cfg.nLayers }, (_, l) => this.shape.targets.flatMap((t) => [loraName(l, t, "a"), loraName(l, t, "b")])).flat();
  }

  /**
   * Starts from a trained adapter instead of the fresh initialisation (`space train --init`): its mask
   * embeddings and LoRA matrices are copied in. Its shape (k, rank, targets, mask token, number of mask
   * embeddings, layers, width) must be this model's; the caller checks its base (checkAdapterBase).
   */
  load(a: AdapterData): void {
    const want = this.shapeMeta();
    for (const key of Object.keys(want) as (keyof typeof want)[]) {
      const mine = String(want[key]), theirs = String(a.meta[key]);
      if (mine !== theirs) fail("E_ARGS", `the initial adapter has ${key} ${theirs}, this run ${mine}`);
    }
    const { store } = this;
    store.view(this.embd, "data").set(a.maskEmbd);
    for (const n of this.loraNames()) store.view(store.get(n)!, "data").set(a.lora.get(n)!);
  }

  /**
   * Forward of a SAR sample whose mask rows are its last rows (paperSample / appendedSample): the prefix
   * (the rows before the first mask row: causal, positions 0..C-1) through the base, then the mask rows
   * through the adapted graph, keeping their activations.
   */
  forward(s: SarSample): void {
    const { cfg, buf } = this;
    const k = this.core.exports;
    const T = s.tokens.length, M = s.maskRows.length, C = T - M;
    if (M === 0) fail("E_ARGS", "adapter training: the sample has no mask row");
    if (M > this.maxMask) fail("E_CONTEXT", `adapter training: ${M} mask rows exceed maxMask ${this.maxMask}`);
    if (C > this.maxPrefix) fail("E_CONTEXT", `adapter training: a prefix of ${C} rows exceeds maxPrefix ${this.maxPrefix}`);
    for (let i = 0; i < M; i++) if (s.maskRows[i] !== C + i) fail("E_ARGS", "adapter training: the mask rows must be the sample's last rows");
    for (let t = 0; t < C; t++) if (s.positions[t] !== t) fail("E_ARGS", "adapter training: the prefix must have positions 0..C-1 (causal)");
    this.C = C;
    this.M = M;
    // Prefix: the base model, chunk by chunk into the cache (causal).
    this.cache.truncate(0);
    for (let t0 = 0; t0 < C; t0 += this.ws.maxT) {
      const n = Math.min(this.ws.maxT, C - t0), keys = t0 + n;
      const mask = new Uint8Array(n * keys);
      for (let i = 0; i < n; i++) mask.fill(1, i * keys, i * keys + t0 + i + 1);
      this.forwardBase.run(this.cache, this.ws, {
        tokens: s.tokens.subarray(t0, t0 + n), positions: s.positions.subarray(t0, t0 + n), mask, logitRows: new Int32Array(0),
      });
      this.cache.commit(Int32Array.from({ length: n }, (_, i) => i));
    }
    // Mask rows: attention mask over the C prefix keys + the M mask keys.
    const nKeys = T;
    const m8 = this.core.memory.buffer;
    new Uint8Array(m8, buf.mask, M * nKeys).set(s.mask.subarray(C * T, T * T));
    new Int32Array(m8, buf.pos, M).set(s.positions.subarray(C));
    k.ropeTable(buf.pos, M, cfg.headDim, cfg.ropeBase, buf.cos, buf.sin);
    // Inputs: mask embedding j (row i of the mask rows uses vector i mod k; one shared vector when E = 1).
    const D = cfg.dModel, E = this.embd.rows;
    const e = this.store.view(this.embd, "data");
    const x0 = new Float32Array(m8, this.acts[0].x, M * D);
    this.slots = Int32Array.from({ length: M }, (_, i) => (E === 1 ? 0 : i % this.shape.k));
    for (let i = 0; i < M; i++) x0.set(e.subarray(this.slots[i] * D, (this.slots[i] + 1) * D), i * D);

    const kvDim = cfg.nKvHeads * cfg.headDim;
    const scale = Math.fround(1 / Math.sqrt(cfg.headDim));
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = this.base.layers[l], A = this.acts[l];
      const kRows = this.cache.rowPtr(this.cache.k[l], C), vRows = this.cache.rowPtr(this.cache.v[l], C);
      k.rmsnorm(A.x, L.attnNorm, A.xn1, M, D, cfg.rmsEps);
      this.exec.matmuls([L.wq, L.wk, L.wv], A.xn1, [A.q, kRows, vRows], M);
      this.addLora(l, "attn_q", A.xn1, A.q);
      this.addLora(l, "attn_k", A.xn1, kRows);
      this.addLora(l, "attn_v", A.xn1, vRows);
      k.ropeApply(A.q, buf.cos, buf.sin, M, cfg.nHeads, cfg.headDim, D);
      k.ropeApply(kRows, buf.cos, buf.sin, M, cfg.nKvHeads, cfg.headDim, kvDim);
      this.exec.attention(this.attentionArgs(A.q, this.cache.k[l], this.cache.v[l], A.attn, M, nKeys, scale));
      this.matmul(L.wo, A.attn, buf.tmp, M);
      this.addLora(l, "attn_output", A.attn, buf.tmp);
      this.copy(A.xMid, A.x, M * D);
      k.add(A.xMid, buf.tmp, M * D);
      k.rmsnorm(A.xMid, L.ffnNorm, A.xn2, M, D, cfg.rmsEps);
      this.exec.matmuls([L.wGate, L.wUp], A.xn2, [A.gate, A.up], M);
      this.addLora(l, "ffn_gate", A.xn2, A.gate);
      this.addLora(l, "ffn_up", A.xn2, A.up);
      k.swiglu(A.gate, A.up, A.act, M * cfg.dFF);
      this.matmul(L.wDown, A.act, buf.tmp, M);
      this.addLora(l, "ffn_down", A.act, buf.tmp);
      const next = l + 1 < cfg.nLayers ? this.acts[l + 1].x : this.xTop;
      this.copy(next, A.xMid, M * D);
      k.add(next, buf.tmp, M * D);
    }
  }

  /** Logits f32 [R, V] of mask rows (indices into the mask rows, 0..M-1) of the last forward (a copy). */
  logits(maskIdx: ArrayLike<number>): Float32Array {
    const V = this.cfg.vocabSize, out = new Float32Array(maskIdx.length * V);
    const ch = Math.min(HEAD_CHUNK, this.maxMask);
    for (let r0 = 0; r0 < maskIdx.length; r0 += ch) {
      const rows = Array.from({ length: Math.min(ch, maskIdx.length - r0) }, (_, i) => maskIdx[r0 + i]);
      this.head(rows);
      out.set(this.f32(this.buf.logits, rows.length * V), r0 * V);
    }
    return out;
  }

  /** Cross-entropy of the last forward's labelled mask rows (prefix labels are ignored: nothing there trains). */
  loss(s: SarSample): LossSum {
    return this.headLoss(s, 0, false);
  }

  /** Backward of the last forward through the mask rows only: adds d(scale * loss)/dθ to the adapter's gradients. */
  backward(s: SarSample, scale: number): LossSum {
    const { cfg, buf } = this;
    const k = this.core.exports;
    const M = this.M, C = this.C, nKeys = C + M;
    if (s.tokens.length !== nKeys) fail("E_ARGS", "AdapterModel.backward: not the sample of the last forward");
    const D = cfg.dModel, F = cfg.dFF, kvDim = cfg.nKvHeads * cfg.headDim;
    this.f32(buf.dx, M * D).fill(0);
    const result = this.headLoss(s, scale, true);
    const attnScale = Math.fround(1 / Math.sqrt(cfg.headDim));
    for (let l = cfg.nLayers - 1; l >= 0; l--) {
      const L = this.base.layers[l], A = this.acts[l];
      this.backX(L.wDown, buf.dx, buf.dact, M, false);
      this.loraBack(l, "ffn_down", buf.dx, A.act, buf.dact);
      k.swigluBack(A.gate, A.up, buf.dact, buf.dgate, buf.dup, M * F);
      this.backX(L.wGate, buf.dgate, buf.dxn, M, false);
      this.backX(L.wUp, buf.dup, buf.dxn, M, true);
      this.loraBack(l, "ffn_gate", buf.dgate, A.xn2, buf.dxn);
      this.loraBack(l, "ffn_up", buf.dup, A.xn2, buf.dxn);
      k.rmsnormBack(A.xMid, L.ffnNorm, buf.dxn, buf.dx, 0, M, D, cfg.rmsEps);
      this.backX(L.wo, buf.dx, buf.dattn, M, false);
      this.loraBack(l, "attn_output", buf.dx, A.attn, buf.dattn);
      this.f32(buf.dk + C * kvDim * 4, M * kvDim).fill(0);
      this.f32(buf.dv + C * kvDim * 4, M * kvDim).fill(0);
      const a = this.attentionArgs(A.q, this.cache.k[l], this.cache.v[l], A.attn, M, nKeys, attnScale);
      // Only the mask rows' own keys depend on the adapter: the prefix keys' gradients are not computed.
      this.exec.attentionBack({ ...a, dout: buf.dattn, dq: buf.dq, dk: buf.dk, dv: buf.dv, kvFrom: C });
      const dkm = buf.dk + C * kvDim * 4, dvm = buf.dv + C * kvDim * 4;
      k.ropeApplyBack(buf.dq, buf.cos, buf.sin, M, cfg.nHeads, cfg.headDim, D);
      k.ropeApplyBack(dkm, buf.cos, buf.sin, M, cfg.nKvHeads, cfg.headDim, kvDim);
      this.backX(L.wq, buf.dq, buf.dxn, M, false);
      this.backX(L.wk, dkm, buf.dxn, M, true);
      this.backX(L.wv, dvm, buf.dxn, M, true);
      this.loraBack(l, "attn_q", buf.dq, A.xn1, buf.dxn);
      this.loraBack(l, "attn_k", dkm, A.xn1, buf.dxn);
      this.loraBack(l, "attn_v", dvm, A.xn1, buf.dxn);
      k.rmsnormBack(A.x, L.attnNorm, buf.dxn, buf.dx, 0, M, D, cfg.rmsEps);
    }
    // Mask embeddings: row i's input is vector slots[i].
    const g = this.store.view(this.embd, "grad"), dx = this.f32(buf.dx, M * D);
    for (let i = 0; i < M; i++) {
      const o = this.slots[i] * D;
      for (let j = 0; j < D; j++) g[o + j] = Math.fround(g[o + j] + dx[i * D + j]);
    }
    return result;
  }

  private headLoss(s: SarSample, scale: number, grad: boolean): LossSum {
    const { cfg, base: w, buf } = this;
    const k = this.core.exports;
    const D = cfg.dModel, V = cfg.vocabSize, C = this.C;
    const rows: number[] = [];
    for (let i = 0; i < this.M; i++) if (rowWeight(s, C + i) !== 0) rows.push(i);
    let loss = 0, weight = 0;
    const sc = Math.fround(scale), ch = Math.min(HEAD_CHUNK, this.maxMask);
    for (let r0 = 0; r0 < rows.length; r0 += ch) {
      const chunk = rows.slice(r0, r0 + ch), n = chunk.length;
      this.head(chunk);
      const labels = new Int32Array(this.core.memory.buffer, buf.labels, n), rw = this.f32(buf.rowW, n);
      chunk.forEach((i, j) => {
        labels[j] = s.labels[C + i];
        rw[j] = rowWeight(s, C + i);
        weight += rw[j];
      });
      k.crossEntropy(buf.logits, buf.labels, buf.rowW, buf.logits, buf.losses, n, V, sc);
      const losses = this.f32(buf.losses, n);
      for (let i = 0; i < n; i++) loss += losses[i];
      if (!grad) continue;
      this.backX(w.output, buf.logits, buf.hdxn, n, false);
      this.f32(buf.hdx, n * D).fill(0);
      k.rmsnormBack(buf.hx, w.outputNorm, buf.hdxn, buf.hdx, 0, n, D, cfg.rmsEps);
      const dx = this.f32(buf.dx, this.M * D), hdx = this.f32(buf.hdx, n * D);
      chunk.forEach((i, j) => dx.set(hdx.subarray(j * D, (j + 1) * D), i * D));
    }
    return { loss, weight, tokens: rows.length };
  }

  private head(rows: readonly number[]): void {
    const { cfg, base: w, buf } = this;
    const D = cfg.dModel;
    const x = this.f32(this.xTop, this.M * D), hx = this.f32(buf.hx, rows.length * D);
    rows.forEach((i, j) => hx.set(x.subarray(i * D, (i + 1) * D), j * D));
    this.core.exports.rmsnorm(buf.hx, w.outputNorm, buf.hxn, rows.length, D, cfg.rmsEps);
    this.matmul(w.output, buf.hxn, buf.logits, rows.length);
  }

  /** y [M, N] += B (A x) for the layer's target (the same kernels as LoraRows.apply); keeps A x. */
  private addLora(l: number, t: LoraTarget, x: number, y: number): void {
    const p = this.params[l][t];
    if (!p) return;
    const k = this.core.exports, r = this.shape.rank, M = this.M, u = this.acts[l].u[t]!;
    k.matmul(GGML.F32, x, p.a, u, M, p.K, r, 0, r);
    k.matmul(GGML.F32, u, p.b, this.buf.d, M, r, p.N, 0, p.N);
    k.add(y, this.buf.d, M * p.N);
  }

  /** Backward of y += B (A x) given dy: dB += dy^T u, du = dy B, dA += du^T x, dx += du A. */
  private loraBack(l: number, t: LoraTarget, dy: number, x: number, dx: number): void {
    const p = this.params[l][t];
    if (!p) return;
    const k = this.core.exports, r = this.shape.rank, M = this.M, u = this.acts[l].u[t]!, du = this.buf.du;
    k.matmulBackW(dy, u, p.gb, M, r, p.N, 0, p.N);
    k.matmulBackX(GGML.F32, dy, p.b, du, M, r, p.N, 0, r, 0);
    k.matmulBackW(du, x, p.ga, M, p.K, r, 0, r);
    k.matmulBackX(GGML.F32, du, p.a, dx, M, p.K, r, 0, p.K, 1);
  }

  /** The mask rows' attention over nKeys keys (the executor splits it; each thread its scratch slice). */
  private attentionArgs(q: number, kc: number, vc: number, out: number, M: number, nKeys: number, scale: number): AttentionArgs {
    const cfg = this.cfg;
    return {
      q, k: kc, v: vc, mask: this.buf.mask, out, T: M, nKeys, nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, headDim: cfg.headDim, scale,
      scores: this.buf.scratch, scoresStride: 2 * this.capacity,
    };
  }

  private matmul(m: Matrix, x: number, y: number, T: number): void {
    this.exec.matmul(m, x, y, T);
  }

  private backX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void {
    this.exec.matmulBackX(m, dy, dx, T, accumulate);
  }

  private copy(dst: number, src: number, n: number): void {
    new Uint8Array(this.core.memory.buffer).copyWithin(dst, src, src + n * 4);
  }

  private f32(p: number, n: number): Float32Array {
    return new Float32Array(this.core.memory.buffer, p, n);
  }
}

export interface AdapterTrainerOptions {
  readonly shape: AdapterShape;
  readonly maxPrefix: number;
  readonly maxMask: number;
  readonly lr: number;
  readonly totalSteps: number;
  readonly minLr?: number;
  readonly warmupSteps?: number;
  readonly weightDecay?: number;
  readonly maxGradNorm?: number;
  readonly seed?: number;
  /** Runs the base's forward matmuls (default: the calling thread); see AdapterModel. */
  readonly executor?: Executor;
  /** The weights the frozen prefix runs on (default: the base's); see AdapterModel. */
  readonly prefixWeights?: ModelWeights;
}

/**
 * The trainer of base-preserving mode: the optimizer, schedule, clipping and checkpoint state of
 * spec/training.md over the adapter's parameters only.
 */
export class AdapterTrainer {
  readonly store: ParamStore;
  readonly model: AdapterModel;
  readonly rng: Rng;
  readonly hyper: TrainHyper;
  private updates = 0;

  constructor(private readonly core: WasmCore, arena: Arena, readonly cfg: ModelConfig, base: ModelWeights, opts: AdapterTrainerOptions) {
    this.hyper = {
      lr: opts.lr, minLr: opts.minLr ?? 0, warmupSteps: opts.warmupSteps ?? 0, totalSteps: opts.totalSteps,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: opts.weightDecay ?? 0, maxGradNorm: opts.maxGradNorm ?? 1,
    };
    checkSchedule(this.hyper, this.hyper);
    this.store = new ParamStore(arena);
    this.model = new AdapterModel(core, arena, cfg, base, this.store, opts.shape, opts.maxPrefix, opts.maxMask, opts.seed ?? 0, opts.executor, opts.prefixWeights);
    this.rng = new Rng(opts.seed ?? 0);
  }

  get steps(): number {
    return this.updates;
  }

  gradients(batch: readonly SarSample[]): BatchLoss {
    const maskWeight = (s: SarSample) => {
      let w = 0;
      for (let i = 0; i < s.maskRows.length; i++) w += Math.fround(rowWeight(s, s.maskRows[i]));
      return w;
    };
    return batchGradients(this.model, this.store, batch, maskWeight, "adapter training batch");
  }

  step(batch: readonly SarSample[]): StepStats {
    const b = this.gradients(batch);
    const u = optimizerUpdate(this.core.exports, this.store.list, this.hyper, this.updates);
    this.updates = u.step;
    return { ...b, ...u };
  }

  /** Mean cross-entropy of the batch's labelled mask rows, no gradients. */
  evaluate(batch: readonly SarSample[]): BatchLoss {
    return batchLoss(this.model, batch);
  }

  state(): TrainState {
    return captureState(this.store, this.updates, this.rng, this.hyper, this.cfg);
  }

  restore(s: TrainState): void {
    this.updates = restoreState(s, this.store, this.rng, this.hyper, this.cfg);
  }
}

/** A LoraRows over the trainer's live parameters (decoding while training, e.g. tau evaluations). */
export function liveLoraRows(core: WasmCore, arena: Arena, model: AdapterModel, maxRows: number): LoraRows {
  return new LoraRows(core, arena, model.lora, maxRows, model.cfg);
}

/**
 * The Llama-family forward pass over a *block* of T tokens, each with an explicit position and an
 * explicit attention mask against the committed KV-cache rows plus the block itself.
 *
 * This is the only model code. Decoders differ in what they put in the block (AR: the last token;
 * SPACE: the bonus token, candidates and mask groups; prefill: the whole prompt), never in how the
 * block is computed. Every kernel reduces in a fixed order per row (spec/kernels.md), so a row's logits
 * do not depend on T, on the other rows, on hidden keys or on the thread count.
 *
 * Shapes: D = dModel, F = dFF, V = vocabSize, kvDim = nKvHeads * headDim, nKeys = cache.length + T.
 */
import { fail } from "../errors.js";
import type { Executor } from "../threads/executor.js";
import type { Arena } from "../wasm/arena.js";
import { logitOrderScratch } from "../wasm/kernels.js";
import type { WasmCore } from "../wasm/core.js";
import type { ModelConfig } from "./config.js";
import type { KVCache } from "./kvcache.js";
import type { ModelWeights } from "./weights.js";
import type { LoraRows } from "./adapter.js";

/** One forward pass's input. */
export interface Block {
  readonly tokens: Int32Array; // [T]
  readonly positions: Int32Array; // [T]; RoPE position of each row
  readonly mask: Uint8Array; // [T, cache.length + T], 1 = row t may attend to key j
  /** Rows whose logits are needed (ascending); the output head only runs for these. */
  readonly logitRows: Int32Array; // [R]
  /**
   * Optional input vectors that replace the token embedding of some rows (a mask embedding supplied by an
   * adapter instead of a vocabulary row): row rows[i] starts from vectors[i*D .. (i+1)*D).
   */
  readonly embeddings?: { readonly rows: Int32Array; readonly vectors: Float32Array }; // [E], f32 [E, D]
  /**
   * Optional low-rank adapters applied to these rows only (a base-preserving SPACE adapter on the mask
   * rows, spec/adapter.md): after each adapted projection, y[row] += B (A x[row]). Other rows are computed
   * by exactly the same code as without it, so rows that never see an adapted row are bit-identical.
   */
  readonly adapter?: { readonly rows: Int32Array; readonly lora: LoraRows };
}

/**
 * Prompts are run in blocks of at most this many tokens (batch invariance makes the split invisible in
 * the results); it bounds the workspace, whatever the prompt length.
 */
export const PREFILL_CHUNK = 64;

export interface WorkspaceSize {
  readonly maxT: number; // rows per block
  readonly maxKeys: number; // cache rows + block rows
  readonly maxLogitRows: number; // rows whose logits one block may ask for
  readonly threads: number;
}

/** Scratch buffers for one decoding context, allocated once. */
export class Workspace {
  readonly x: number; // f32 [maxT, D] residual stream
  readonly xn: number; // f32 [maxT, D] normalised
  readonly q: number; // f32 [maxT, D]
  readonly attn: number; // f32 [maxT, D]
  readonly tmp: number; // f32 [maxT, D]
  readonly gate: number; // f32 [maxT, F]
  readonly up: number; // f32 [maxT, F]
  readonly cos: number; // f32 [maxT, headDim/2]
  readonly sin: number; // f32 [maxT, headDim/2]
  readonly ids: number; // i32 [maxT]
  readonly pos: number; // i32 [maxT]
  readonly mask: number; // u8 [maxT, maxKeys]
  readonly scores: number; // f32 [threads, maxKeys]
  readonly logits: number; // f32 [maxLogitRows, V]
  /**
   * Sampling's sweeps (descendingOrder, logitWeights, logitTotal, argmax): a row f32 [V], banned u8 [V] (argmax: a
   * list of i32 there), ids i32 [V], weights f64 [V], sort scratch.
   */
  readonly sampling: { row: number; banned: number; ids: number; weights: number; scratch: number };
  readonly maxT: number;
  readonly maxKeys: number;
  readonly maxLogitRows: number;

  constructor(arena: Arena, cfg: ModelConfig, size: WorkspaceSize) {
    const { maxT, maxKeys, threads } = size;
    this.maxT = maxT;
    this.maxKeys = maxKeys;
    this.maxLogitRows = size.maxLogitRows;
    const f32 = (n: number) => arena.alloc(n * 4, 64);
    this.x = f32(maxT * cfg.dModel);
    this.xn = f32(maxT * cfg.dModel);
    this.q = f32(maxT * cfg.dModel);
    this.attn = f32(maxT * cfg.dModel);
    this.tmp = f32(maxT * cfg.dModel);
    this.gate = f32(maxT * cfg.dFF);
    this.up = f32(maxT * cfg.dFF);
    this.cos = f32((maxT * cfg.headDim) / 2);
    this.sin = f32((maxT * cfg.headDim) / 2);
    this.ids = arena.alloc(maxT * 4, 64);
    this.pos = arena.alloc(maxT * 4, 64);
    this.mask = arena.alloc(maxT * maxKeys, 64);
    this.scores = f32(threads * maxKeys);
    this.logits = f32(size.maxLogitRows * cfg.vocabSize);
    const V = cfg.vocabSize;
    this.sampling = { row: f32(V), banned: arena.alloc(V, 64), ids: arena.alloc(V * 4, 64), weights: arena.alloc(V * 8, 64), scratch: arena.alloc(logitOrderScratch(V), 64) };
  }
}

export class Forward {
  private passes = 0;
  /** Rows of the last block run (whose hidden states ws.x holds). */
  private lastT = 0;

  constructor(
    private readonly core: WasmCore,
    private readonly arena: Arena,
    readonly cfg: ModelConfig,
    readonly weights: ModelWeights,
    private readonly exec: Executor,
  ) {}

  /** Forward passes run so far. */
  get count(): number {
    return this.passes;
  }

  /**
   * Runs the block, writes its K/V rows after the cache's committed rows (the caller then commits the
   * ones it keeps), and returns the logits of `block.logitRows`: a view f32 [R, V] valid until the next
   * call.
   */
  run(cache: KVCache, ws: Workspace, block: Block): Float32Array {
    const { cfg, weights: w, exec } = this;
    const k = this.core.exports;
    const T = block.tokens.length;
    const C = cache.length;
    const nKeys = C + T;
    const D = cfg.dModel;
    const kvDim = cfg.nKvHeads * cfg.headDim;
    const R = block.logitRows.length;
    this.check(block, T, nKeys, R, ws);
    cache.reserve(T);

    this.arena.i32(ws.ids, T).set(block.tokens);
    this.arena.i32(ws.pos, T).set(block.positions);
    this.arena.u8(ws.mask, T * nKeys).set(block.mask);

    k.embed(w.tokenEmbd.type, w.tokenEmbd.ptr, ws.ids, T, D, ws.x);
    if (block.embeddings) {
      const { rows, vectors } = block.embeddings;
      const x = this.arena.f32(ws.x, T * D);
      for (let i = 0; i < rows.length; i++) x.set(vectors.subarray(i * D, (i + 1) * D), rows[i] * D);
    }
    k.ropeTable(ws.pos, T, cfg.headDim, cfg.ropeBase, ws.cos, ws.sin);
    const scale = Math.fround(1 / Math.sqrt(cfg.headDim));

    const ad = block.adapter;
    for (let l = 0; l < cfg.nLayers; l++) {
      const L = w.layers[l];
      // Attention: q [T, D]; this block's k, v [T, kvDim] go straight into the cache at rows C..C+T-1.
      const kRows = cache.rowPtr(cache.k[l], C);
      const vRows = cache.rowPtr(cache.v[l], C);
      k.rmsnorm(ws.x, L.attnNorm, ws.xn, T, D, cfg.rmsEps);
      exec.matmuls([L.wq, L.wk, L.wv], ws.xn, [ws.q, kRows, vRows], T); // one synchronisation for three
      if (ad) {
        ad.lora.apply(l, "attn_q", ws.xn, ws.q, ad.rows);
        ad.lora.apply(l, "attn_k", ws.xn, kRows, ad.rows);
        ad.lora.apply(l, "attn_v", ws.xn, vRows, ad.rows);
      }
      k.ropeApply(ws.q, ws.cos, ws.sin, T, cfg.nHeads, cfg.headDim, D);
      k.ropeApply(kRows, ws.cos, ws.sin, T, cfg.nKvHeads, cfg.headDim, kvDim);
      exec.attention({
        q: ws.q, k: cache.k[l], v: cache.v[l], mask: ws.mask, out: ws.attn,
        T, nKeys, nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, headDim: cfg.headDim, scale,
        scores: ws.scores, scoresStride: ws.maxKeys,
      });
      exec.matmul(L.wo, ws.attn, ws.tmp, T);
      ad?.lora.apply(l, "attn_output", ws.attn, ws.tmp, ad.rows);
      k.add(ws.x, ws.tmp, T * D);
      // SwiGLU MLP: gate, up [T, F]; down [T, D].
      k.rmsnorm(ws.x, L.ffnNorm, ws.xn, T, D, cfg.rmsEps);
      exec.matmuls([L.wGate, L.wUp], ws.xn, [ws.gate, ws.up], T);
      if (ad) {
        ad.lora.apply(l, "ffn_gate", ws.xn, ws.gate, ad.rows);
        ad.lora.apply(l, "ffn_up", ws.xn, ws.up, ad.rows);
      }
      k.swiglu(ws.gate, ws.up, ws.gate, T * cfg.dFF);
      exec.matmul(L.wDown, ws.gate, ws.tmp, T);
      ad?.lora.apply(l, "ffn_down", ws.gate, ws.tmp, ad.rows);
      k.add(ws.x, ws.tmp, T * D);
    }

    this.passes++;
    this.lastT = T;
    return this.head(ws, block.logitRows, 0);
  }

  /**
   * Logits of more rows of the block the last run() computed (its final hidden states are still in
   * ws.x): f32 [rows.length, V], written after the first `after` logit rows of ws.logits, so the run's
   * own logits stay valid. What lets a step pay for the output head only on the rows it reads (SPACE:
   * the one mask group the verdict selects). Valid until the next run.
   */
  moreLogits(ws: Workspace, rows: Int32Array, after: number): Float32Array {
    for (let r = 0; r < rows.length; r++) {
      if (!(rows[r] >= 0 && rows[r] < this.lastT)) fail("E_ARGS", `logits for row ${rows[r]}: the last block had ${this.lastT} rows`);
    }
    return this.head(ws, rows, after);
  }

  /**
   * The ids of a logits row (f32 [V]) by descending logit, ties to the lower id, leaving out banned ids,
   * -inf, NaN and logits below `floor`: the order sampling weighs and draws in (decode/sampling.ts's
   * byDescendingLogit gives the same ids in TypeScript, about 4x slower on SmolLM2's rows). A view into
   * ws, valid until the next call. A row outside the core's memory is copied in first.
   */
  descendingOrder(ws: Workspace, row: Float32Array, banned: ReadonlySet<number> | undefined, floor: number): Int32Array {
    const V = this.cfg.vocabSize;
    const o = ws.sampling, at = this.rowInCore(ws, row, "descendingOrder");
    let mask = 0;
    if (banned !== undefined && banned.size > 0) {
      const b = this.arena.u8(o.banned, V);
      b.fill(0);
      for (const id of banned) if (id >= 0 && id < V) b[id] = 1;
      mask = o.banned;
    }
    const n = this.core.exports.logitOrder(at, V, floor, mask, o.ids, o.scratch);
    return this.arena.i32(o.ids, n);
  }

  /**
   * weights[i] = exp((row[ids[i]] - max) / temperature) in f64 and their total summed in order: what
   * sampling weighs a row with (sampling.ts's weighIds gives the same bits through Math.exp, a little
   * slower). `weights` is a view into ws, valid until the next call.
   */
  logitWeights(ws: Workspace, row: Float32Array, ids: Int32Array, max: number, temperature: number): { weights: Float64Array; total: number } {
    const o = ws.sampling, at = this.rowInCore(ws, row, "logitWeights");
    if (ids.length > this.cfg.vocabSize) fail("E_ARGS", `logitWeights: ${ids.length} ids, the vocabulary has ${this.cfg.vocabSize}`);
    let idsAt = ids.byteOffset;
    if (ids.buffer !== this.core.memory.buffer) {
      this.arena.i32(o.ids, ids.length).set(ids);
      idsAt = o.ids;
    }
    const total = this.core.exports.logitWeights(at, row.length, idsAt, ids.length, max, temperature, o.weights);
    if (total === -1) fail("E_ARGS", `logitWeights: an id outside the row of ${row.length} logits`);
    return { weights: new Float64Array(this.core.memory.buffer, o.weights, ids.length), total };
  }

  /**
   * The sum in id order of exp((logit - max) / temperature) over the row's ids whose logit lies in
   * [floor, max]: the total that sampling's nucleus by selection estimates its cut with (sampling.ts's
   * totalInRange gives the same bits through Math.exp).
   */
  logitTotal(ws: Workspace, row: Float32Array, floor: number, max: number, temperature: number): number {
    return this.core.exports.logitTotal(this.rowInCore(ws, row, "logitTotal"), row.length, floor, max, temperature);
  }

  /**
   * The id greedy decoding picks from a row: the first not banned whose logit is the largest of those ids'
   * (sampling.ts's argmax, the same id, about ten times faster). The banned ids go to the core as a list.
   */
  argmax(ws: Workspace, row: Float32Array, banned: ReadonlySet<number> | undefined): number {
    const at = this.rowInCore(ws, row, "argmax");
    const n = banned?.size ?? 0;
    // The list goes where descendingOrder writes its banned mask (V bytes; it writes the whole mask again
    // at every call), not over `ids`, which holds the last order a caller may still be reading.
    if (4 * n > this.cfg.vocabSize) fail("E_ARGS", `argmax: ${n} banned ids, more than a quarter of the vocabulary of ${this.cfg.vocabSize}`);
    if (n > 0) this.arena.i32(ws.sampling.banned, n).set([...banned!]);
    const id = this.core.exports.logitArgmax(at, row.length, ws.sampling.banned, n);
    if (id < 0) fail("E_MODEL", "every logit is -inf or NaN");
    return id;
  }

  /** Where a logits row of the vocabulary's size is in the core's memory: its own place, or a copy in ws. */
  private rowInCore(ws: Workspace, row: Float32Array, who: string): number {
    const V = this.cfg.vocabSize;
    if (row.length !== V) fail("E_ARGS", `${who}: a row of ${row.length} logits, the vocabulary has ${V}`);
    if (row.buffer === this.core.memory.buffer) return row.byteOffset;
    this.arena.f32(ws.sampling.row, V).set(row);
    return ws.sampling.row;
  }

  /** Output head for block rows `rows` (hidden states in ws.x): normalise, project into ws.logits from row `at`. */
  private head(ws: Workspace, rows: Int32Array, at: number): Float32Array {
    const { cfg, weights: w, exec } = this;
    const k = this.core.exports;
    const R = rows.length, D = cfg.dModel, V = cfg.vocabSize;
    if (R === 0) return new Float32Array(0);
    if (at + R > ws.maxLogitRows) fail("E_CONTEXT", `logits for ${at + R} rows exceed the workspace's ${ws.maxLogitRows}`);
    const x = this.arena.f32(ws.x, this.lastT * D);
    const sel = this.arena.f32(ws.tmp, R * D);
    for (let r = 0; r < R; r++) sel.set(x.subarray(rows[r] * D, (rows[r] + 1) * D), r * D);
    k.rmsnorm(ws.tmp, w.outputNorm, ws.xn, R, D, cfg.rmsEps);
    const out = ws.logits + at * V * 4;
    exec.matmul(w.output, ws.xn, out, R);
    return this.arena.f32(out, R * V);
  }

  private check(block: Block, T: number, nKeys: number, R: number, ws: Workspace): void {
    if (T === 0) fail("E_ARGS", "empty block");
    if (T > ws.maxT) fail("E_CONTEXT", `block of ${T} tokens exceeds the workspace's ${ws.maxT}`);
    if (R > ws.maxLogitRows) fail("E_CONTEXT", `logits for ${R} rows exceed the workspace's ${ws.maxLogitRows}`);
    if (nKeys > ws.maxKeys) fail("E_CONTEXT", `${nKeys} keys exceed the workspace's ${ws.maxKeys}`);
    if (block.positions.length !== T || block.mask.length !== T * nKeys) fail("E_ARGS", "block: positions or mask of the wrong size");
    for (const id of block.tokens) {
      if (!(id >= 0 && id < this.cfg.vocabSize)) fail("E_ARGS", `token id ${id} outside the vocabulary [0, ${this.cfg.vocabSize})`);
    }
    for (let r = 0; r < R; r++) {
      const t = block.logitRows[r];
      if (!(t >= 0 && t < T) || (r > 0 && t <= block.logitRows[r - 1])) fail("E_ARGS", "block: logitRows must be increasing rows of the block");
    }
    const e = block.embeddings;
    if (e) {
      if (e.vectors.length !== e.rows.length * this.cfg.dModel) fail("E_ARGS", `block: ${e.rows.length} embedding rows need ${e.rows.length * this.cfg.dModel} values, got ${e.vectors.length}`);
      for (const t of e.rows) if (!(t >= 0 && t < T)) fail("E_ARGS", `block: embedding row ${t} outside the block's ${T} rows`);
    }
    if (block.adapter) for (const t of block.adapter.rows) if (!(t >= 0 && t < T)) fail("E_ARGS", `block: adapter row ${t} outside the block's ${T} rows`);
  }
}

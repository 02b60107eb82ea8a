/**
 * Base-preserving SPACE adapters (spec/adapter.md): the trained part of a SPACE model that leaves the base
 * GGUF untouched. An adapter holds
 *  - mask embeddings: input vectors that replace the token embedding of mask rows (one per mask position
 *    j = 1..k of a group: mask j of every group starts from vector j), never vocabulary rows, so the
 *    output distribution is the base model's;
 *  - low-rank adapters (LoRA, y += B (A x)) on some projections, applied to MASK ROWS ONLY.
 *
 * No non-mask row ever attends to a mask row (spec/space.md), and the adapter only changes the values of
 * mask rows, so every non-mask row computes exactly what the base model computes: SPACE with an adapter is
 * lossless with respect to the ORIGINAL model, bit for bit.
 *
 * Bytes only here (no Node APIs): the caller computes the base file's SHA-256 and reads the files.
 */
import { fail } from "../errors.js";
import { bytesSource } from "../gguf/source.js";
import { readGGUF, metaNumber, metaString, metaStringArray } from "../gguf/reader.js";
import { writeGGUF, type GGUFTensorSpec } from "../gguf/writer.js";
import { GGML, MetaType, type GGUFMetaValue } from "../gguf/types.js";
import { f32ToBF16 } from "../gguf/half.js";
import type { Arena } from "../wasm/arena.js";
import type { WasmCore } from "../wasm/core.js";
import { packedBytes } from "../wasm/kernels.js";
import { PANEL_OF, type MatrixLayout } from "../wasm/matrix.js";
import { matmulRange } from "../threads/executor.js";
import type { ModelConfig } from "./config.js";
import type { WeightStorage } from "./weights.js";

export const ADAPTER_VERSION = 1;
export const ADAPTER_ARCH = "space-adapter";
export const ADAPTER_MODE = "base-preserving";
const KEY = "space.adapter.";

/** Projections a LoRA can target, by the base tensor's name inside a layer (`blk.L.NAME.weight`). */
export const LORA_TARGETS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** Input width K and output width N of a target projection (y [N] = W [N, K] x [K]). */
export function targetShape(cfg: ModelConfig, t: LoraTarget): { K: number; N: number } {
  const D = cfg.dModel, F = cfg.dFF, kvDim = cfg.nKvHeads * cfg.headDim;
  switch (t) {
    case "attn_q": case "attn_output": return { K: D, N: D };
    case "attn_k": case "attn_v": return { K: D, N: kvDim };
    case "ffn_gate": case "ffn_up": return { K: D, N: F };
    case "ffn_down": return { K: F, N: D };
  }
}

export const maskEmbdName = "space.mask_embd";
export const loraName = (layer: number, t: LoraTarget, which: "a" | "b") => `blk.${layer}.${t}.lora_${which}`;

export interface AdapterMeta {
  readonly baseSha256: string; // lowercase hex of the base GGUF file's bytes
  readonly baseName: string; // informative only
  readonly k: number; // masks per group (the decoder's k)
  readonly rank: number; // LoRA rank r (0: no LoRA)
  readonly targets: readonly LoraTarget[];
  readonly maskToken: number; // id written at mask rows (labels them in traces); never emitted
  readonly maskEmbeddings: number; // 1 (shared) or k (mask j uses vector j)
  readonly nLayers: number;
  readonly dModel: number;
}

/** An adapter in host memory: the metadata and its f32 tensors (row-major, [rows, cols]). */
export interface AdapterData {
  readonly meta: AdapterMeta;
  readonly maskEmbd: Float32Array; // [maskEmbeddings, D]
  /** LoRA matrices by name (loraName): A [r, K], B [N, r]. */
  readonly lora: ReadonlyMap<string, Float32Array>;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function checkMeta(m: AdapterMeta, where: string): void {
  const int = (v: number, lo: number) => Number.isInteger(v) && v >= lo;
  if (!/^[0-9a-f]{64}$/.test(m.baseSha256)) fail("E_MODEL", `${where}: base sha256 must be 64 lowercase hex digits`);
  if (!int(m.k, 1) || !int(m.rank, 0) || !int(m.nLayers, 1) || !int(m.dModel, 1) || !int(m.maskToken, 0)) fail("E_MODEL", `${where}: bad k / rank / layers / width / mask token`);
  if (m.maskEmbeddings !== 1 && m.maskEmbeddings !== m.k) fail("E_MODEL", `${where}: ${m.maskEmbeddings} mask embeddings, expected 1 or k = ${m.k}`);
  for (const t of m.targets) if (!LORA_TARGETS.includes(t)) fail("E_MODEL", `${where}: unknown LoRA target ${t} (known: ${LORA_TARGETS.join(", ")})`);
  if (m.rank === 0 && m.targets.length > 0) fail("E_MODEL", `${where}: LoRA targets with rank 0`);
}

/** The adapter GGUF (spec/adapter.md). `cfg` gives the tensor shapes. */
export function encodeAdapter(a: AdapterData, cfg: ModelConfig): Uint8Array {
  const m = a.meta;
  checkMeta(m, "adapter");
  const meta = new Map<string, GGUFMetaValue>([
    ["general.architecture", { type: MetaType.STRING, value: ADAPTER_ARCH }],
    ["general.name", { type: MetaType.STRING, value: `SPACE adapter for ${m.baseName}` }],
    [KEY + "version", { type: MetaType.UINT32, value: ADAPTER_VERSION }],
    [KEY + "mode", { type: MetaType.STRING, value: ADAPTER_MODE }],
    [KEY + "base.sha256", { type: MetaType.STRING, value: m.baseSha256 }],
    [KEY + "base.name", { type: MetaType.STRING, value: m.baseName }],
    [KEY + "base.block_count", { type: MetaType.UINT32, value: m.nLayers }],
    [KEY + "base.embedding_length", { type: MetaType.UINT32, value: m.dModel }],
    [KEY + "k", { type: MetaType.UINT32, value: m.k }],
    [KEY + "mask_token_id", { type: MetaType.UINT32, value: m.maskToken }],
    [KEY + "mask_embeddings", { type: MetaType.UINT32, value: m.maskEmbeddings }],
    [KEY + "lora.rank", { type: MetaType.UINT32, value: m.rank }],
    [KEY + "lora.targets", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: [...m.targets] }],
  ]);
  const D = m.dModel;
  if (a.maskEmbd.length !== m.maskEmbeddings * D) fail("E_ARGS", `adapter: mask embeddings hold ${a.maskEmbd.length} values, expected ${m.maskEmbeddings * D}`);
  const tensors: GGUFTensorSpec[] = [{ name: maskEmbdName, type: GGML.F32, dims: [D, m.maskEmbeddings], data: bytesOf(a.maskEmbd) }];
  for (let l = 0; l < m.nLayers; l++) {
    for (const t of m.targets) {
      const { K, N } = targetShape(cfg, t);
      for (const [which, rows, cols] of [["a", m.rank, K], ["b", N, m.rank]] as const) {
        const name = loraName(l, t, which), v = a.lora.get(name);
        if (!v || v.length !== rows * cols) fail("E_ARGS", `adapter: tensor ${name} missing or not [${rows}, ${cols}]`);
        tensors.push({ name, type: GGML.F32, dims: [cols, rows], data: bytesOf(v) });
      }
    }
  }
  return writeGGUF({ metadata: meta, tensors });
}

/** Reads an adapter GGUF (E_MODEL on anything that does not follow spec/adapter.md). */
export function decodeAdapter(bytes: Uint8Array, name = "adapter"): AdapterData {
  const src = bytesSource(name, bytes);
  const f = readGGUF(src);
  if (metaString(f, "general.architecture", "") !== ADAPTER_ARCH) fail("E_MODEL", `${name}: not a SPACE adapter (general.architecture must be "${ADAPTER_ARCH}")`);
  const version = metaNumber(f, KEY + "version");
  if (version !== ADAPTER_VERSION) fail("E_MODEL", `${name}: adapter version ${version}, this build reads ${ADAPTER_VERSION}`);
  const mode = metaString(f, KEY + "mode");
  if (mode !== ADAPTER_MODE) fail("E_MODEL", `${name}: adapter mode "${mode}", this build reads "${ADAPTER_MODE}"`);
  const meta: AdapterMeta = {
    baseSha256: metaString(f, KEY + "base.sha256"),
    baseName: metaString(f, KEY + "base.name", ""),
    k: metaNumber(f, KEY + "k"),
    rank: metaNumber(f, KEY + "lora.rank"),
    targets: metaStringArray(f, KEY + "lora.targets") as LoraTarget[],
    maskToken: metaNumber(f, KEY + "mask_token_id"),
    maskEmbeddings: metaNumber(f, KEY + "mask_embeddings"),
    nLayers: metaNumber(f, KEY + "base.block_count"),
    dModel: metaNumber(f, KEY + "base.embedding_length"),
  };
  checkMeta(meta, name);
  const read = (tname: string, rows: number, cols: number): Float32Array => {
    const t = f.tensorByName.get(tname);
    if (!t) fail("E_MODEL", `${name}: tensor ${tname} is missing`);
    if (t.type !== GGML.F32 || t.dims[0] !== cols || (t.dims[1] ?? 1) !== rows || t.dims.length > 2) {
      fail("E_MODEL", `${name}: tensor ${tname} must be F32 with dims [${cols}, ${rows}], got ${t.typeName} [${t.dims.join(", ")}]`);
    }
    return new Float32Array(src.read(t.offset, t.byteLength).slice().buffer);
  };
  const maskEmbd = read(maskEmbdName, meta.maskEmbeddings, meta.dModel);
  const lora = new Map<string, Float32Array>();
  for (const t of f.tensors) {
    const m = /^blk\.(\d+)\.([a-z_]+)\.lora_([ab])$/.exec(t.name);
    if (t.name === maskEmbdName) continue;
    if (!m || Number(m[1]) >= meta.nLayers || !meta.targets.includes(m[2] as LoraTarget)) fail("E_MODEL", `${name}: unexpected tensor ${t.name}`);
    if (t.type !== GGML.F32 || t.dims.length !== 2) fail("E_MODEL", `${name}: tensor ${t.name} must be a 2-D F32 tensor`);
    lora.set(t.name, new Float32Array(src.read(t.offset, t.byteLength).slice().buffer));
  }
  for (let l = 0; l < meta.nLayers; l++) {
    for (const t of meta.targets) for (const w of ["a", "b"] as const) if (!lora.has(loraName(l, t, w))) fail("E_MODEL", `${name}: tensor ${loraName(l, t, w)} is missing`);
  }
  return { meta, maskEmbd, lora };
}

/**
 * Refuses an adapter made for another base (E_MODEL): the SHA-256 of the base file's bytes must match,
 * and the shapes must fit the loaded model.
 */
export function checkAdapterBase(a: AdapterData, cfg: ModelConfig, baseSha256: string, baseName = "the model"): void {
  const m = a.meta;
  if (m.baseSha256 !== baseSha256.toLowerCase()) {
    fail("E_MODEL", `the adapter was trained for base ${m.baseName || "?"} (sha256 ${m.baseSha256.slice(0, 16)}...), but ${baseName} has sha256 ${baseSha256.slice(0, 16)}...: wrong base model`);
  }
  if (m.nLayers !== cfg.nLayers || m.dModel !== cfg.dModel) fail("E_MODEL", `the adapter is for ${m.nLayers} layers of width ${m.dModel}, the model has ${cfg.nLayers} of ${cfg.dModel}`);
  if (m.maskToken >= cfg.vocabSize) fail("E_MODEL", `the adapter's mask token ${m.maskToken} is outside the vocabulary [0, ${cfg.vocabSize})`);
  for (const t of m.targets) {
    const { K, N } = targetShape(cfg, t);
    for (let l = 0; l < m.nLayers; l++) {
      if (a.lora.get(loraName(l, t, "a"))!.length !== m.rank * K || a.lora.get(loraName(l, t, "b"))!.length !== N * m.rank) {
        fail("E_MODEL", `the adapter's ${t} LoRA of layer ${l} does not fit the model's [${N}, ${K}] projection`);
      }
    }
  }
}

/** The mask embedding vectors of an adapter (SpaceMask.embeddings). */
export function maskVectors(a: AdapterData): Float32Array[] {
  const D = a.meta.dModel;
  return Array.from({ length: a.meta.maskEmbeddings }, (_, i) => a.maskEmbd.slice(i * D, (i + 1) * D));
}

/**
 * One LoRA in WebAssembly memory: A [r, K] at `a` and B [N, r] at `b`, f32 rows (what training reads and
 * updates; `layout` absent or "rows"); or, for decoding (see loraPanelsFor), A packed in 4-row panels
 * ("f32-panels": the same bits as the rows, spec/kernels.md; or "bf16-panels") and B stored TRANSPOSED at
 * `b`, Bt [r, N] row-major in the panels' element type, which is what the loraAdd kernel reads.
 */
export interface LoraMatrix {
  readonly a: number;
  readonly b: number;
  readonly K: number;
  readonly N: number;
  readonly layout?: MatrixLayout;
}

/** LoRA matrices of every layer (a layer without a target has none). */
export interface LoraWeights {
  readonly rank: number;
  readonly layers: readonly Partial<Record<LoraTarget, LoraMatrix>>[];
}

/** How decoding keeps the LoRA: f32 panels (the adapter's own values) or bf16 panels (half the bytes). */
export interface LoraPacking {
  readonly core: WasmCore;
  readonly layout: "f32-panels" | "bf16-panels";
}

/**
 * The LoRA's panels beside a base storage: f32 beside the exact storages (native, f32, f32-rows: the
 * adapter's own values, the same bits as the row-major LoRA that training runs), bf16 beside the others
 * (bf16, q8, q4: storages that round the base weights anyway, each its own configuration). Every block
 * with mask rows streams every layer's LoRA once (4.4M values for SmolLM2's rank-16 adapter on seven
 * projections: 17.8 MB as f32), so bf16 saves a third of a millisecond or more per SPACE step.
 */
export function loraPanelsFor(storage: WeightStorage): LoraPacking["layout"] {
  return storage === "native" || storage === "f32" || storage === "f32-rows" ? "f32-panels" : "bf16-panels";
}

/**
 * Copies an adapter's LoRA matrices into WebAssembly memory: row-major (what training reads), or packed
 * into panels for decoding (`pack`).
 */
export function loadLora(arena: Arena, cfg: ModelConfig, a: AdapterData, pack?: LoraPacking): LoraWeights {
  const r = a.meta.rank;
  // W f32 [rows, cols]: copied as it is, or packed (from a row-major scratch copy, released after).
  const put = (v: Float32Array, rows: number, cols: number, pack: LoraPacking | undefined) => {
    const panel = pack ? PANEL_OF[pack.layout] : 0;
    const p = arena.alloc(panel ? packedBytes(panel, cols, rows) : v.length * 4, 64);
    if (!pack || !panel) {
      arena.f32(p, v.length).set(v);
      return p;
    }
    const mark = arena.mark();
    const src = arena.alloc(v.length * 4, 64), tmp = arena.alloc(4 * cols * 4, 64);
    arena.f32(src, v.length).set(v);
    pack.core.exports.packRows(panel, GGML.F32, src, cols, rows, p, tmp);
    arena.reset(mark);
    return p;
  };
  // Bt [r, N] from B [N, r]: f32, or bf16 rounded to nearest even as packRows rounds.
  const putTransposed = (v: Float32Array, N: number, bf16: boolean) => {
    const p = arena.alloc(r * N * (bf16 ? 2 : 4), 64);
    const out = bf16 ? new Uint16Array(arena.memory.buffer, p, r * N) : arena.f32(p, r * N);
    for (let n = 0; n < N; n++) for (let j = 0; j < r; j++) out[j * N + n] = bf16 ? f32ToBF16(v[n * r + j]) : v[n * r + j];
    return p;
  };
  const layers = Array.from({ length: cfg.nLayers }, (_, l) => {
    const out: Partial<Record<LoraTarget, LoraMatrix>> = {};
    for (const t of a.meta.targets) {
      const { K, N } = targetShape(cfg, t);
      // Panels hold groups of 4 k and loraAdd takes 4 outputs at a time: other shapes keep their rows.
      const p = pack && r % 4 === 0 && K % 4 === 0 && N % 4 === 0 ? pack : undefined;
      const A = put(a.lora.get(loraName(l, t, "a"))!, r, K, p);
      const B = p ? putTransposed(a.lora.get(loraName(l, t, "b"))!, N, p.layout === "bf16-panels") : put(a.lora.get(loraName(l, t, "b"))!, N, r, undefined);
      out[t] = { a: A, b: B, K, N, ...(p ? { layout: p.layout } : {}) };
    }
    return out;
  });
  return { rank: r, layers };
}

/**
 * Applies LoRA to selected rows of a block: y[row] += B (A x[row]) for each row in `rows`, everything else
 * untouched. Rows are gathered unless they are consecutive, the two F32 matmuls run over them (the
 * forward's kernels, row-independent), and the result is added with the forward's `add` (row by row, or
 * in one call over consecutive rows: the same additions).
 */
export class LoraRows {
  private readonly gx: number; // f32 [maxRows, maxWidth]
  private readonly u: number; // f32 [maxRows, rank]
  private readonly d: number; // f32 [maxRows, maxWidth]

  constructor(
    private readonly core: WasmCore,
    arena: Arena,
    readonly weights: LoraWeights,
    readonly maxRows: number,
    cfg: ModelConfig,
  ) {
    const W = Math.max(cfg.dModel, cfg.dFF, cfg.nKvHeads * cfg.headDim);
    this.gx = arena.alloc(maxRows * W * 4, 64);
    this.u = arena.alloc(maxRows * Math.max(1, weights.rank) * 4, 64);
    this.d = arena.alloc(maxRows * W * 4, 64);
  }

  /** y [T, N] (row stride N) += LoRA(x [T, K]) on `rows` only; nothing when the layer has no such LoRA. */
  apply(layer: number, target: LoraTarget, x: number, y: number, rows: Int32Array): void {
    const m = this.weights.layers[layer]?.[target];
    const R = rows.length;
    if (!m || R === 0) return;
    if (R > this.maxRows) fail("E_CONTEXT", `LoRA on ${R} rows exceeds the ${this.maxRows} allocated`);
    const k = this.core.exports, r = this.weights.rank;
    // Consecutive rows (every mask group; the whole adapter part of a tail-layout block) are read and
    // updated where they are; others are gathered first. Rows are independent in both kernels, so the
    // results are the same bits either way.
    const run = consecutive(rows);
    // A view of the core's memory only where rows are copied (210 calls a pass: no allocation otherwise).
    const mem = run ? null : new Uint8Array(this.core.memory.buffer);
    let input = x + rows[0] * m.K * 4;
    if (mem) {
      input = this.gx;
      copyRows(mem, rows, m.K, x, this.gx, "gather");
    }
    if (m.layout) {
      // Decoding: one loraAdd over the rows where they are (gathered rows: on copies of their y rows).
      const panel = PANEL_OF[m.layout];
      if (!mem) k.loraAdd(panel, input, m.a, m.b, y + rows[0] * m.N * 4, this.u, R, m.K, m.N, r);
      else {
        copyRows(mem, rows, m.N, y, this.d, "gather");
        k.loraAdd(panel, input, m.a, m.b, this.d, this.u, R, m.K, m.N, r);
        copyRows(mem, rows, m.N, y, this.d, "scatter");
      }
      return;
    }
    // Rows (training's layout): u = A x, d = B u with the forward's kernels, then y += d.
    const A = { name: target, type: GGML.F32, ptr: m.a, K: m.K, N: r };
    const B = { name: target, type: GGML.F32, ptr: m.b, K: r, N: m.N };
    matmulRange(k, A, input, this.u, R, 0, r);
    matmulRange(k, B, this.u, this.d, R, 0, m.N);
    if (run) k.add(y + rows[0] * m.N * 4, this.d, R * m.N);
    else for (let i = 0; i < R; i++) k.add(y + rows[i] * m.N * 4, this.d + i * m.N * 4, m.N);
  }
}

/**
 * f32 rows of width W: "gather" copies rows[i] of `wide` (a block, row stride W) to row i of `packed`;
 * "scatter" copies them back.
 */
function copyRows(mem: Uint8Array, rows: Int32Array, W: number, wide: number, packed: number, dir: "gather" | "scatter"): void {
  const bytes = W * 4;
  for (let i = 0; i < rows.length; i++) {
    const w = wide + rows[i] * bytes, p = packed + i * bytes;
    if (dir === "gather") mem.copyWithin(p, w, w + bytes);
    else mem.copyWithin(w, p, p + bytes);
  }
}

/** Whether rows are r0, r0 + 1, ..., r0 + R - 1. */
function consecutive(rows: Int32Array): boolean {
  for (let i = 1; i < rows.length; i++) if (rows[i] !== rows[0] + i) return false;
  return true;
}

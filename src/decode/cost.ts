/**
 * The verification-width curve cost(T): wall time of ONE forward pass over a block of T new tokens after
 * a committed prefix, with logits for all T rows (what a SPACE step asks for: every candidate and mask
 * row is verified or drafted from). cost(T)/cost(1) is what decides SPACE's layout on a CPU: a step that
 * emits tau tokens in a block of T rows beats AR only if tau > cost(T)/cost(1).
 *
 * The block is a causal chain (chainBlock) after the prefix; it is never committed, so every pass sees the
 * same prefix. Block sizes are interleaved round by round (rotated order), so drift hits every T alike.
 */
import type { Engine } from "../engine.js";
import { chainBlock, range } from "./block.js";
import { PREFILL_CHUNK, type Block } from "../model/forward.js";
import type { LoraRows } from "../model/adapter.js";
import { median, rotate } from "../util/stats.js";
import { PANEL_OF, type Matrix } from "../wasm/matrix.js";
import { packedBytes, rowBytes, typeName } from "../wasm/kernels.js";
import { matmulInput, matmulRange } from "../threads/executor.js";

export const COST_WIDTHS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

export interface CostPoint {
  readonly T: number;
  readonly median_ms: number;
  /** cost(T) / cost(1). */
  readonly ratio: number;
  /** Timed passes (warm-up rounds excluded), in ms. */
  readonly runs_ms: number[];
}

export interface CostOptions {
  readonly prefix: number; // committed tokens before the block
  readonly widths?: readonly number[];
  readonly warmup: number; // rounds over every width, not timed
  readonly repeats: number; // timed rounds
  readonly onPass?: (T: number) => void; // progress
  /**
   * An adapter's LoRA (a SPACE decoder's mask source): rows 1..T-1 of every block are adapter rows, as
   * in the blocks SPACE runs (every block wider than AR's one row holds a mask group), so cost(T) includes
   * the adapter's own weights, streamed once per pass that has mask rows.
   */
  readonly lora?: LoraRows;
}

/** `tokens`: at least prefix + max(widths) ids (values do not matter for the cost). */
export function costCurve(engine: Engine, tokens: readonly number[], opts: CostOptions): CostPoint[] {
  const widths = opts.widths ?? COST_WIDTHS;
  const maxT = Math.max(...widths);
  if (tokens.length < opts.prefix + maxT) throw new Error(`cost curve: need ${opts.prefix + maxT} tokens, got ${tokens.length}`);
  const ctx = engine.newContext(opts.prefix + maxT, maxT);
  try {
    const { forward, cache, ws } = ctx;
    for (let at = 0; at < opts.prefix; at += PREFILL_CHUNK) {
      const chunk = tokens.slice(at, Math.min(opts.prefix, at + PREFILL_CHUNK));
      forward.run(cache, ws, chainBlock(cache.length, chunk, []));
      cache.commit(range(0, chunk.length));
    }
    const C = cache.length;
    const blockOf = (T: number): Block => {
      const b = chainBlock(C, tokens.slice(C, C + T), range(0, T));
      return opts.lora && T > 1 ? { ...b, adapter: { rows: range(1, T), lora: opts.lora } } : b;
    };
    const blocks = new Map(widths.map((T) => [T, blockOf(T)] as const));
    const runs = new Map<number, number[]>(widths.map((T) => [T, []]));
    for (let round = 0; round < opts.warmup + opts.repeats; round++) {
      for (const T of rotate(widths, round)) {
        const block = blocks.get(T)!;
        const t0 = performance.now();
        forward.run(cache, ws, block); // writes rows C..C+T-1, never committed
        const ms = performance.now() - t0;
        if (round >= opts.warmup) runs.get(T)!.push(ms);
        opts.onPass?.(T);
      }
    }
    const base = runs.has(1) ? median(runs.get(1)!) : NaN;
    return widths.map((T) => {
      const m = median(runs.get(T)!);
      return { T, median_ms: m, ratio: m / base, runs_ms: runs.get(T)! };
    });
  } finally {
    ctx.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------
// The roofline: what a forward pass of T rows must at least cost on this machine, with this storage
// and thread count: max(bytes it streams / bandwidth, T x its operations / the kernels' peak).

/** What `space cost` measures of the machine beside the curve. */
export interface Machine {
  /** Streaming read of a buffer far larger than the caches, every thread its own slice, GB/s. */
  readonly bandwidthGBs: number;
  /**
   * Per matrix layout the engine uses ("rows:Q4_1", "q4-panels", ...): that kernel's own instruction mix
   * on in-cache weights, all threads, G ops/s (2 per multiply-add).
   */
  readonly peakGops: Readonly<Record<string, number>>;
  readonly threads: number;
}

export interface RooflinePoint extends CostPoint {
  /** max(bytes / bandwidth, sum over matrices of T x ops / that kernel's peak), ms. */
  readonly bound_ms: number;
  /** Which term binds: "memory" or "compute". */
  readonly bound_by: "memory" | "compute";
  /** median_ms / bound_ms. */
  readonly vs_bound: number;
  /**
   * memory + compute, ms: the bound of a core that does not overlap its memory waits with its arithmetic.
   * The 2-core Xeon VMs behave so: a matmul on cold weights costs its in-cache time plus bytes /
   * bandwidth, and loads issued ahead do not change that (spec/kernels.md). Where a pass's ms / serial is
   * near 1 while ms / bound is not, the kernels are not what keeps rows from being free; the machine is.
   */
  readonly serial_ms: number;
  /** median_ms / serial_ms. */
  readonly vs_serial: number;
}

/** Bytes the matmul kernels stream for matrix m: its panels or its rows. */
function matrixBytes(m: Matrix): number {
  const panel = PANEL_OF[m.layout ?? "rows"];
  return panel ? packedBytes(panel, m.K, m.N) : rowBytes(m.type, m.K) * m.N;
}

/** Which kernel multiplies by m: its panel layout, or the row-major kernel of its GGML type. */
function kernelOf(m: Matrix): string {
  const layout = m.layout ?? "rows";
  return layout === "rows" ? `rows:${typeName(m.type)}` : layout;
}

/** Every matrix a full forward pass multiplies by (each layer's seven, then the output head). */
function passMatrices(engine: Engine): Matrix[] {
  const w = engine.weights;
  return [...w.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown]), w.output];
}

/**
 * Bytes one pass of T rows after `prefix` committed rows must read: every weight matrix once, plus the
 * KV cache's keys and values of every layer (f32).
 */
export function passBytes(engine: Engine, T: number, prefix: number): number {
  const cfg = engine.config;
  const kv = cfg.nLayers * 2 * (prefix + T) * cfg.nKvHeads * cfg.headDim * 4;
  return passMatrices(engine).reduce((s, m) => s + matrixBytes(m), 0) + kv;
}

/** Bytes the bandwidth probe streams: several times any last-level cache of the machines we run on. */
const PROBE_BYTES = 256 << 20;
/** In-cache weights for the peak probe: a slice of output rows this large stays in L2. */
const PEAK_SLICE_BYTES = 64 << 10;
/** Token rows of the peak probe's blocks (full register tiles of every kernel). */
const PEAK_ROWS = [4, 8];

/**
 * Measures the machine for `engine` (its storage, its executor's threads): streaming bandwidth with every
 * thread, and for each kernel the engine runs, its in-cache peak (its largest matrix, a slice of output
 * rows that fits in L2, blocks of full tiles) on one thread, times the threads. Each is the best of its
 * timed windows, not their median: a shared VM's speed swings by up to 2x from one second to the next
 * (measured on the 2-core Xeon VMs), interference only ever slows a window, and a bound must be what the
 * machine can do. Scratch memory comes from the engine's arena and is given back.
 */
export function measureMachine(engine: Engine, repeats = 5): Machine {
  const { arena, executor } = engine;
  const mark = arena.mark();
  try {
    const buf = arena.alloc(PROBE_BYTES, 64);
    arena.u8(buf, PROBE_BYTES).fill(1);
    const reads: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      executor.probeRead(buf, PROBE_BYTES);
      if (i > 0) reads.push(performance.now() - t0); // the first pass pages the buffer in
    }
    const bandwidthGBs = PROBE_BYTES / 1e6 / Math.min(...reads); // the best pass: interference only slows
    arena.reset(mark);
    const largest = new Map<string, Matrix>();
    for (const m of passMatrices(engine)) {
      const seen = largest.get(kernelOf(m));
      if (!seen || m.K * m.N > seen.K * seen.N) largest.set(kernelOf(m), m);
    }
    const peakGops: Record<string, number> = {};
    for (const [kernel, m] of largest) peakGops[kernel] = kernelPeak(engine, m, repeats) * executor.threads;
    return { bandwidthGBs, peakGops, threads: executor.threads };
  } finally {
    arena.reset(mark);
  }
}

/** One thread's in-cache G ops/s of m's kernel: a slice of m's output rows, blocks of PEAK_ROWS rows. */
function kernelPeak(engine: Engine, m: Matrix, repeats: number): number {
  const { arena } = engine;
  const k = engine.core.exports;
  const rowBytesOf = matrixBytes(m) / m.N;
  const rows = Math.max(4, Math.min(m.N - (m.N % 4), 4 * Math.floor(PEAK_SLICE_BYTES / (4 * rowBytesOf))));
  let best = 0;
  for (const T of PEAK_ROWS) {
    const mark = arena.mark();
    const x = arena.alloc(T * m.K * 4, 64);
    arena.f32(x, T * m.K).fill(0.5);
    const y = arena.alloc(T * m.N * 4, 64);
    const input = matmulInput(k, m, x, T);
    const calls = Math.max(1, Math.round(2e7 / (T * m.K * rows)));
    const times: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) matmulRange(k, m, input, y, T, 0, rows);
      if (r > 0) times.push(performance.now() - t0);
    }
    best = Math.max(best, (2 * T * m.K * rows * calls) / 1e6 / Math.min(...times)); // a peak: the best window
    arena.reset(mark);
  }
  return best;
}

/**
 * The roofline bound of a pass of T rows after `prefix` rows, in ms, and which term binds: memory =
 * passBytes / bandwidth; compute = the sum over the pass's matrices of 2 T K N / that kernel's peak
 * (attention and the element-wise kernels are left out: a few percent of the operations at these sizes).
 */
export function rooflineBound(engine: Engine, machine: Machine, T: number, prefix: number): { ms: number; by: "memory" | "compute"; memory: number; compute: number } {
  const memory = passBytes(engine, T, prefix) / 1e6 / machine.bandwidthGBs;
  const compute = passMatrices(engine).reduce((s, m) => s + (2 * T * m.K * m.N) / 1e6 / machine.peakGops[kernelOf(m)], 0);
  return { ms: Math.max(memory, compute), by: memory >= compute ? "memory" : "compute", memory, compute };
}

/** The curve beside its roofline: every point with its bound. */
export function withRoofline(engine: Engine, machine: Machine, points: readonly CostPoint[], prefix: number): RooflinePoint[] {
  return points.map((p) => {
    const b = rooflineBound(engine, machine, p.T, prefix);
    const serial = b.memory + b.compute;
    return { ...p, bound_ms: b.ms, bound_by: b.by, vs_bound: p.median_ms / b.ms, serial_ms: serial, vs_serial: p.median_ms / serial };
  });
}

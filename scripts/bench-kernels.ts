/**
 * `npm run bench:kernels`: the matmul kernels against this machine's roofline (not a test).
 *
 *   npx tsx scripts/bench-kernels.ts [--simd plain|relaxed|both] [--formats f32,bf16,q8,q4_1,f32-rows]
 *                                    [--shapes 576x576,...] [--T 1,2,4,8,16] [--samples 9]
 *                                    [--sections kernels,threads] [--out FILE.json]
 *
 * It measures the machine: streaming-read bandwidth (a 128 MiB buffer, in 4 MiB pieces) and the in-cache SIMD
 * peak of a 2 x 4 register tile (f32 multiply-adds; int8 dot products), and for each matmul shape of
 * SmolLM2-135M (K x N) and T token rows it times y = x . W^T with W cold (rotating over copies that
 * together exceed the last-level cache, as in a forward pass, where every matrix comes from DRAM). It
 * prints the achieved time beside the roofline bound max(bytes / bandwidth, flops / peak). On a shared
 * machine other processes take time slices: the probes run again in every round, every timed sample is
 * short (about 300 us: several calls, or a part of one call's output rows), and every figure is a
 * median. The int8 format's time includes quantising the activations, as in the model.
 *
 * Formats: f32 / bf16 / q8 are the packed layouts (PANEL.*: what the "f32", "bf16" and "q8" storages
 * run); q4_1 and f32-rows are the row-major kernel on GGUF Q4_1 and on f32 rows (what the "native" and
 * "f32-rows" storages run), for comparison.
 * Timings are medians of interleaved samples (every format and T in turn), so drift hits all alike; the
 * load average is printed so a busy machine shows.
 *
 * The threads section states what bounds decode on 2 threads when the weights are read from DRAM: (a) the
 * worker pool's round trip (one empty job: post, every worker answers, join; src/threads/pool.ts) with the
 * workers hot (jobs back to back, as inside a forward pass) and asleep (after an idle longer than their
 * spin, as at the first job of a step that followed other work); (b) streaming-read bandwidth of 1 thread,
 * and of 2 threads that start together, each reading its own cold region of the same shared memory (a
 * worker instantiates the same module over it). A 2-thread matmul on DRAM-bound weights can at best gain
 * the ratio of (b), less a round trip per job.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { Worker } from "node:worker_threads";
import { loadCoreNode } from "../src/node/wasm.js";
import { nodeExecutor } from "../src/node/threads.js";
import { SPIN, type PoolExecutor } from "../src/threads/pool.js";
import { Arena } from "../src/wasm/arena.js";
import type { WasmCore } from "../src/wasm/core.js";
import { GGML, PANEL, packedBytes, q8RowBytes, rowBytes } from "../src/wasm/kernels.js";

const SHAPES: readonly [number, number][] = [[576, 576], [576, 192], [576, 1536], [1536, 576], [576, 49152]];
const WIDTHS = [1, 2, 4, 8, 16];
const FORMATS = ["f32", "bf16", "q8", "q4_1", "f32-rows"] as const;
type Format = (typeof FORMATS)[number];
const COLD_BYTES = 128 << 20; // weight copies per shape: 4x a 32 MiB last-level cache
const PROBE_BYTES = 128 << 20; // streamed once per bandwidth probe (4x the last-level cache: always cold)
const PROBE_PIECE = 4 << 20;
const SAMPLE_US = 300; // one timed sample: this long (several calls on cold copies, or a part of the output rows of one)
const PROBE = { F32: 0, I16: 1, I8: 2 } as const;

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Deterministic pseudo-random numbers in [-1, 1) (weights must be normal floats: subnormals are slow). */
function filler(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  };
}

interface Machine {
  bandwidthGBs: number;
  peakF32: number; // GFLOP/s
  peakInt8: number; // G int ops/s (2 per multiply-add)
}

/** The machine probes, run once per round so that each round's ratios use that round's machine. */
class Probes {
  private readonly big: number;
  private readonly l1: number;
  constructor(private readonly core: WasmCore, arena: Arena) {
    this.big = arena.alloc(PROBE_BYTES, 64);
    arena.u8(this.big, PROBE_BYTES).fill(1);
    this.l1 = arena.alloc(1024, 64);
    const r = filler(7);
    const f = arena.f32(this.l1, 256);
    for (let i = 0; i < 256; i++) f[i] = 1 + r() * 1e-3;
    this.measure(); // warm up (tier-up to optimised code)
  }

  measure(): Machine {
    const k = this.core.exports;
    // The buffer is read in pieces of PROBE_PIECE bytes, each timed (median): short samples, so that a
    // time slice lost to another process spoils a few pieces rather than the whole probe.
    const gbs: number[] = [];
    for (let off = 0; off < PROBE_BYTES; off += PROBE_PIECE) {
      const t0 = performance.now();
      k.probeRead(this.big + off, PROBE_PIECE);
      gbs.push(PROBE_PIECE / ((performance.now() - t0) / 1000) / 1e9);
    }
    const bandwidthGBs = median(gbs);
    const peak = (kind: number, opsPerStep: number): number => {
      const n = 100_000;
      const g: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        k.probePeak(kind, this.l1, n);
        g.push((n * opsPerStep) / ((performance.now() - t0) / 1000) / 1e9);
      }
      return median(g);
    };
    const peakF32 = peak(PROBE.F32, 64);
    const peakInt8 = this.core.build === "relaxed" ? peak(PROBE.I8, 256) : peak(PROBE.I16, 128);
    return { bandwidthGBs, peakF32, peakInt8 };
  }
}

interface Case {
  format: Format;
  K: number;
  N: number;
  weightBytes: number; // one copy
  copies: number[]; // pointers
  /** Output rows [n0, n1) of one call (q8: quantising the activations when n0 == 0). */
  run: (w: number, T: number, n0: number, n1: number) => void;
}

function prepare(core: WasmCore, arena: Arena, format: Format, K: number, N: number, x: number, xq: number, y: number): Case {
  const k = core.exports;
  const srcType = format === "q4_1" ? GGML.Q4_1 : GGML.F32;
  const srcBytes = rowBytes(srcType, K) * N;
  const layout = format === "f32" ? PANEL.F32 : format === "bf16" ? PANEL.BF16 : format === "q8" ? PANEL.Q8 : 0;
  const weightBytes = layout ? packedBytes(layout, K, N) : srcBytes;
  const copies: number[] = [];
  for (let c = Math.max(2, Math.ceil(COLD_BYTES / weightBytes)); c > 0; c--) copies.push(arena.alloc(weightBytes, 64));
  // One row-major source matrix (above the copies, released after packing it into every copy).
  const mark = arena.mark();
  const tmp = arena.alloc(4 * K * 4, 64);
  const src = arena.alloc(srcBytes, 64);
  const r = filler(K * 31 + N);
  if (srcType === GGML.F32) {
    const f = arena.f32(src, K * N);
    for (let i = 0; i < f.length; i++) f[i] = r() * 0.05;
  } else {
    const u8 = arena.u8(src, srcBytes);
    for (let b = 0; b < srcBytes; b += 20) {
      u8.set([0x00, 0x20, 0x00, 0xa4], b); // d = 2^-7, m = -2^-6 (f16, little endian)
      for (let j = 4; j < 20; j++) u8[b + j] = Math.floor((r() + 1) * 128) & 255;
    }
  }
  for (const c of copies) {
    if (layout) k.packRows(layout, srcType, src, K, N, c, tmp);
    else arena.u8(c, srcBytes).set(arena.u8(src, srcBytes));
  }
  arena.reset(mark);
  let run: (w: number, T: number, n0: number, n1: number) => void;
  if (layout === PANEL.Q8) {
    run = (w, T, n0, n1) => {
      if (n0 === 0) k.quantizeRows(x, xq, T, K);
      k.matmulPacked(PANEL.Q8, xq, w, y, T, K, N, n0, n1);
    };
  } else if (layout) run = (w, T, n0, n1) => k.matmulPacked(layout, x, w, y, T, K, N, n0, n1);
  else run = (w, T, n0, n1) => k.matmul(srcType, x, w, y, T, K, N, n0, n1);
  return { format, K, N, weightBytes, copies, run };
}

interface Row {
  simd: string;
  format: Format;
  K: number;
  N: number;
  T: number;
  us: number;
  bound_us: number;
  ratio: number;
  limit: "memory" | "compute";
  GBs: number;
  GFLOPs: number;
}

interface BuildResult {
  machine: Machine; // medians over rounds
  rows: Row[];
}

async function benchBuild(build: "plain" | "relaxed", formats: Format[], shapes: [number, number][], widths: number[], samples: number): Promise<BuildResult> {
  const core = await loadCoreNode(build);
  const arena = new Arena(core);
  const probes = new Probes(core, arena);
  const rows: Row[] = [];
  const machines: Machine[] = [];
  const maxT = Math.max(...widths);
  const maxK = Math.max(...shapes.map(([K]) => K));
  const maxN = Math.max(...shapes.map(([, N]) => N));
  const x = arena.alloc(maxT * maxK * 4, 64);
  const xf = arena.f32(x, maxT * maxK);
  const r = filler(1);
  for (let i = 0; i < xf.length; i++) xf[i] = r();
  const xq = arena.alloc(maxT * q8RowBytes(maxK), 64);
  const y = arena.alloc(maxT * maxN * 4, 64);
  for (const [K, N] of shapes) {
    const mark = arena.mark();
    const cases = formats.map((f) => prepare(core, arena, f, K, N, x, xq, y));
    // Per case and T: short calls are repeated over consecutive cold copies for one sample; long calls
    // are cut into parts of about SAMPLE_US by output rows, each part timed on its own (a call's time
    // is then the sum of its parts' medians): no sample is much longer than a scheduler time slice.
    const plans = new Map<string, { calls: number; parts: [number, number][] }>();
    const samplesOf = new Map<string, number[][]>(); // per part, its times (us)
    let next = 0;
    for (let round = -1; round < samples; round++) {
      machines.push(probes.measure());
      for (const c of cases) {
        for (const T of widths) {
          const key = `${c.format}:${T}`;
          if (round < 0) {
            // Plan from the fastest of a few calls (the first ones include compiling and page faults).
            let t = Infinity;
            for (let i = 0; i < 4; i++) {
              const t0 = performance.now();
              c.run(c.copies[next++ % c.copies.length], T, 0, N);
              t = Math.min(t, (performance.now() - t0) * 1000);
            }
            const nParts = Math.min(Math.ceil(N / 4), Math.max(1, Math.round(t / SAMPLE_US)));
            const parts: [number, number][] = [];
            for (let i = 0; i < nParts; i++) parts.push([4 * Math.floor((Math.ceil(N / 4) * i) / nParts), Math.min(N, 4 * Math.floor((Math.ceil(N / 4) * (i + 1)) / nParts))]);
            plans.set(key, { calls: Math.max(1, Math.min(c.copies.length, Math.ceil(SAMPLE_US / Math.max(t, 0.1)))), parts });
            samplesOf.set(key, parts.map(() => []));
            continue;
          }
          const plan = plans.get(key)!;
          const w = c.copies[next++ % c.copies.length];
          plan.parts.forEach(([n0, n1], i) => {
            const t0 = performance.now();
            if (plan.parts.length > 1) c.run(w, T, n0, n1);
            else for (let j = 0; j < plan.calls; j++) c.run(c.copies[(next + j) % c.copies.length], T, 0, N);
            samplesOf.get(key)![i].push(((performance.now() - t0) * 1000) / (plan.parts.length > 1 ? 1 : plan.calls));
          });
          if (plan.parts.length === 1) next += plan.calls;
        }
      }
    }
    const machine = medianMachine(machines.slice(-samples - 1));
    for (const c of cases) {
      for (const T of widths) {
        const t = samplesOf.get(`${c.format}:${T}`)!.reduce((sum, part) => sum + median(part), 0);
        const b = bound(c, T, machine);
        rows.push({
          simd: build, format: c.format, K, N, T, us: t, bound_us: b.us, ratio: t / b.us,
          limit: b.limit, GBs: c.weightBytes / t / 1e3, GFLOPs: (2 * T * K * N) / t / 1e3,
        });
      }
    }
    process.stderr.write(`  ${build} ${K}x${N} done\n`);
    arena.reset(mark);
  }
  return { machine: medianMachine(machines), rows };
}

/** Roofline bound of one call: bytes = weights + x + y; flops = 2 T K N (int8: integer operations). */
function bound(c: Case, T: number, m: Machine): { us: number; limit: "memory" | "compute" } {
  const bytes = c.weightBytes + T * c.K * 4 + T * c.N * 4;
  const peak = c.format === "q8" ? m.peakInt8 : m.peakF32;
  const memUs = (bytes / (m.bandwidthGBs * 1e9)) * 1e6;
  const cmpUs = ((2 * T * c.K * c.N) / (peak * 1e9)) * 1e6;
  return { us: Math.max(memUs, cmpUs), limit: memUs >= cmpUs ? "memory" : "compute" };
}

function medianMachine(ms: Machine[]): Machine {
  return {
    bandwidthGBs: median(ms.map((m) => m.bandwidthGBs)),
    peakF32: median(ms.map((m) => m.peakF32)),
    peakInt8: median(ms.map((m) => m.peakInt8)),
  };
}

function table(rows: Row[], widths: number[]): string {
  const out: string[] = [];
  out.push(`| simd | format | K x N | ${widths.map((T) => `T=${T}: us (x bound)`).join(" | ")} |`);
  out.push(`|---|---|---|${widths.map(() => "---:").join("|")}|`);
  const keys = [...new Set(rows.map((r) => `${r.simd}|${r.format}|${r.K}x${r.N}`))];
  for (const key of keys) {
    const [simd, format, shape] = key.split("|");
    const cells = widths.map((T) => {
      const r = rows.find((q) => `${q.simd}|${q.format}|${q.K}x${q.N}` === key && q.T === T)!;
      const mark = r.ratio <= 1.25 ? "" : " !";
      return `${r.us.toFixed(1)} (${r.ratio.toFixed(2)}${r.limit === "memory" ? "m" : "c"}${mark})`;
    });
    out.push(`| ${simd} | ${format} | ${shape} | ${cells.join(" | ")} |`);
  }
  return out.join("\n");
}

// ---- threads: the pool's round trip and 2-thread streaming-read bandwidth ------------------------------

const THREADS = 2; // the pool's threads and the concurrent readers (this machine has 2 cores)
const HOT_JOBS = 100; // back-to-back empty jobs per hot sample (their mean is one sample), in chunks of HOT_CHUNK
const HOT_CHUNK = 10;
/** A hot sample stops early after this long: where the scheduler makes a job cost milliseconds, a sample stays short. */
const HOT_SAMPLE_MS = 2;
const ROUND_TRIP_SAMPLES = 31;
/** Idle before each "asleep" job: several times the workers' longest spin (SPIN.MAX checks, ~5 ms), so they sleep in Atomics.wait. */
const IDLE_MS = 20;
const READ_ROUNDS = 9;

interface ThreadsResult {
  threads: number;
  round_trip: {
    hot_us: number; // median over samples of the mean of up to HOT_JOBS back-to-back jobs
    asleep_us: number; // median over samples of one job after IDLE_MS of idle
    hot_min_us: number; // the best samples: each thread had a core of its own
    asleep_min_us: number;
    idle_ms: number;
    spin_checks: { MIN: number; MAX: number };
    hot_samples_us: number[];
    asleep_samples_us: number[];
  };
  read: {
    region_bytes: number; // each reader's region (cold: PROBE_BYTES, 4x the last-level cache)
    one_GBs: number; // 1 thread: its region's bytes / its time, median over rounds
    two_GBs: number; // 2 threads: both regions' bytes / the time until both finished, median over rounds
    per_thread_GBs: number[]; // 2 threads: each thread's median 4 MiB piece rate, medians over rounds
    /**
     * two_GBs / the sum of per_thread_GBs: 1 when both threads read at their own running rate at the same
     * time, 0.5 when they took turns on one core (another process holding the other).
     */
    overlap: number;
    rounds: { one_GBs: number; two_GBs: number; per_thread_GBs: number[] }[];
  };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); // a blocked thread, no CPU
}

/** The pool's round trip, hot and after its workers fell asleep, in microseconds. */
function roundTrips(core: WasmCore): ThreadsResult["round_trip"] {
  const pool = nodeExecutor(core, THREADS) as PoolExecutor;
  /** Mean of up to HOT_JOBS back-to-back jobs, in chunks, stopping after HOT_SAMPLE_MS. */
  const hotSample = (): number => {
    let jobs = 0, us = 0;
    for (const t0 = performance.now(); jobs < HOT_JOBS && performance.now() - t0 < HOT_SAMPLE_MS; jobs += HOT_CHUNK) us += pool.roundTripMicros(HOT_CHUNK) * HOT_CHUNK;
    return us / jobs;
  };
  try {
    hotSample(); // warm-up: compiled code, workers running
    const hot: number[] = [];
    const asleep: number[] = [];
    for (let i = 0; i < ROUND_TRIP_SAMPLES; i++) {
      hot.push(hotSample());
      sleepMs(IDLE_MS);
      asleep.push(pool.roundTripMicros(1));
    }
    return {
      hot_us: median(hot), asleep_us: median(asleep), hot_min_us: Math.min(...hot), asleep_min_us: Math.min(...asleep),
      idle_ms: IDLE_MS, spin_checks: SPIN, hot_samples_us: hot, asleep_samples_us: asleep,
    };
  } finally {
    pool.close();
  }
}

/** What the reader worker gets: the core's module and memory, its control words and its piece times. */
interface ReaderData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer; // Int32 [GEN, ARRIVED, GO, DONE, PTR, BYTES]
  times: SharedArrayBuffer; // Float64 [total ms, ms of piece 0, piece 1, ...]
  piece: number;
}
const R = { GEN: 0, ARRIVED: 1, GO: 2, DONE: 3, PTR: 4, BYTES: 5 } as const;

/**
 * The reader worker's body (serialised with toString, as the pool's workers are: no imports, no
 * closures). Per job: say it arrived, spin until the main thread says go (so both start together), read
 * [PTR, PTR + BYTES) in pieces, timing each, then answer. BYTES = 0 ends it.
 */
function readerMain(d: ReaderData): void {
  const GEN = 0, ARRIVED = 1, GO = 2, DONE = 3, PTR = 4, BYTES = 5;
  const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports as unknown as { probeRead(p: number, n: number): number };
  const c = new Int32Array(d.ctrl);
  const t = new Float64Array(d.times);
  let seen = 0;
  for (;;) {
    Atomics.wait(c, GEN, seen);
    seen = Atomics.load(c, GEN);
    const p = c[PTR], bytes = c[BYTES];
    if (bytes === 0) return;
    Atomics.store(c, ARRIVED, seen);
    Atomics.notify(c, ARRIVED);
    while (Atomics.load(c, GO) !== seen); // only as long as the main thread takes to see ARRIVED
    const t0 = performance.now();
    for (let off = 0, i = 1; off < bytes; off += d.piece, i++) {
      const s = performance.now();
      k.probeRead(p + off, d.piece);
      t[i] = performance.now() - s;
    }
    t[0] = performance.now() - t0;
    Atomics.store(c, DONE, seen);
    Atomics.notify(c, DONE);
  }
}

/** Reads `bytes` at p in PROBE_PIECE pieces on this thread: total ms and each piece's ms. */
function readHere(core: WasmCore, p: number, bytes: number): { ms: number; pieces: number[] } {
  const pieces: number[] = [];
  const t0 = performance.now();
  for (let off = 0; off < bytes; off += PROBE_PIECE) {
    const s = performance.now();
    core.exports.probeRead(p + off, PROBE_PIECE);
    pieces.push(performance.now() - s);
  }
  return { ms: performance.now() - t0, pieces };
}

/** Streaming-read bandwidth of 1 thread and of 2 threads together, each on its own cold region. */
async function readBandwidth(core: WasmCore, arena: Arena): Promise<ThreadsResult["read"]> {
  const bytes = PROBE_BYTES;
  const regions = [arena.alloc(bytes, 64), arena.alloc(bytes, 64)];
  for (const r of regions) arena.u8(r, bytes).fill(1); // touched: untouched pages would all read the one zero page
  const ctrl = new SharedArrayBuffer(8 * 4);
  const times = new SharedArrayBuffer(8 * (1 + bytes / PROBE_PIECE));
  const c = new Int32Array(ctrl);
  const t = new Float64Array(times);
  const data: ReaderData = { module: core.module, memory: core.memory, ctrl, times, piece: PROBE_PIECE };
  const worker = new Worker(`"use strict";\nvar __name = (f) => f;\n(${readerMain.toString()})(require("node:worker_threads").workerData);`, { eval: true, workerData: data });
  const failed = new Promise<never>((_, reject) => worker.on("error", reject));
  const gbs = (b: number, ms: number) => b / (ms / 1000) / 1e9;
  /** Blocks until c[i] == gen (the worker's answer); a worker that died never answers: give up after 30 s. */
  const waitFor = (i: number, gen: number, what: string): void => {
    const deadline = performance.now() + 30_000;
    for (let v; (v = Atomics.load(c, i)) !== gen; ) {
      if (performance.now() > deadline) throw new Error(`the reader worker did not ${what} within 30 s`);
      Atomics.wait(c, i, v, 100);
    }
  };
  /** One job on both threads: the worker reads region 1 while this thread reads region 0. */
  const together = (): { wallMs: number; mine: number[]; theirs: number[] } => {
    const gen = c[R.GEN] + 1;
    c[R.PTR] = regions[1];
    c[R.BYTES] = bytes;
    Atomics.store(c, R.GEN, gen);
    Atomics.notify(c, R.GEN);
    waitFor(R.ARRIVED, gen, "start");
    Atomics.store(c, R.GO, gen);
    const t0 = performance.now();
    const mine = readHere(core, regions[0], bytes);
    waitFor(R.DONE, gen, "finish");
    const wallMs = performance.now() - t0;
    return { wallMs, mine: mine.pieces, theirs: Array.from(t.subarray(1, 1 + bytes / PROBE_PIECE)) };
  };
  try {
    await Promise.race([new Promise((ok) => worker.once("online", ok)), failed]);
    readHere(core, regions[0], bytes); // warm-up of both paths (the worker compiles its instance here)
    together();
    const rounds: ThreadsResult["read"]["rounds"] = [];
    for (let i = 0; i < READ_ROUNDS; i++) {
      const one = readHere(core, regions[0], bytes);
      const two = together();
      rounds.push({
        one_GBs: gbs(bytes, one.ms),
        two_GBs: gbs(2 * bytes, two.wallMs),
        per_thread_GBs: [two.mine, two.theirs].map((ps) => gbs(PROBE_PIECE, median(ps))),
      });
    }
    const two = median(rounds.map((r) => r.two_GBs));
    const perThread = [0, 1].map((i) => median(rounds.map((r) => r.per_thread_GBs[i])));
    return {
      region_bytes: bytes,
      one_GBs: median(rounds.map((r) => r.one_GBs)),
      two_GBs: two,
      per_thread_GBs: perThread,
      overlap: two / (perThread[0] + perThread[1]),
      rounds,
    };
  } finally {
    c[R.BYTES] = 0;
    Atomics.add(c, R.GEN, 1);
    Atomics.notify(c, R.GEN);
    await worker.terminate();
  }
}

async function benchThreads(build: "plain" | "relaxed"): Promise<ThreadsResult> {
  const core = await loadCoreNode(build);
  const arena = new Arena(core);
  const round_trip = roundTrips(core);
  process.stderr.write(`  threads: round trips done\n`);
  const read = await readBandwidth(core, arena);
  process.stderr.write(`  threads: read bandwidth done\n`);
  return { threads: THREADS, round_trip, read };
}

function threadsText(r: ThreadsResult, build: string): string[] {
  const rt = r.round_trip;
  const rd = r.read;
  return [
    `## threads (${r.threads}, ${build} build)`,
    "",
    `Pool round trip (one empty job: post, ${r.threads - 1} worker(s) answer, join), medians (best): hot ${rt.hot_us.toFixed(2)} us (${rt.hot_min_us.toFixed(2)}), ` +
      `${rt.hot_samples_us.length} samples of up to ${HOT_JOBS} back-to-back jobs; asleep ${rt.asleep_us.toFixed(1)} us (${rt.asleep_min_us.toFixed(1)}), ` +
      `${rt.asleep_samples_us.length} jobs, each after ${rt.idle_ms} ms idle (longer than the workers' longest spin of ${rt.spin_checks.MAX} checks).`,
    `Streaming read, each thread its own cold ${(rd.region_bytes / 2 ** 20).toFixed(0)} MiB region, medians over ${rd.rounds.length} rounds: ` +
      `1 thread ${rd.one_GBs.toFixed(1)} GB/s; 2 threads started together ${rd.two_GBs.toFixed(1)} GB/s ` +
      `(both regions / time until both finished: ${(rd.two_GBs / rd.one_GBs).toFixed(2)}x one thread). ` +
      `Per thread, median of its 4 MiB pieces (its rate while it runs): ${rd.per_thread_GBs.map((g) => g.toFixed(1)).join(" + ")} GB/s; ` +
      `overlap ${rd.overlap.toFixed(2)} (2-thread rate / their sum: 1 = both read at once, 0.5 = they took turns on one core).`,
  ];
}

async function main(): Promise<void> {
  // Optimised code from the first call (no baseline tier), so that warm-up need not wait for tier-up.
  setFlagsFromString("--no-liftoff");
  const { values } = parseArgs({
    options: {
      simd: { type: "string" }, formats: { type: "string" }, shapes: { type: "string" }, T: { type: "string" },
      samples: { type: "string" }, sections: { type: "string" }, out: { type: "string" },
    },
  });
  const sections = (values.sections ?? "kernels,threads").split(",");
  for (const x of sections) if (x !== "kernels" && x !== "threads") throw new Error(`unknown section ${x} (kernels, threads)`);
  const simd = values.simd ?? "both";
  const builds = (simd === "both" ? ["plain", "relaxed"] : [simd]) as ("plain" | "relaxed")[];
  const formats = (values.formats ?? FORMATS.join(",")).split(",") as Format[];
  for (const f of formats) if (!(FORMATS as readonly string[]).includes(f)) throw new Error(`unknown format ${f}`);
  const shapes = values.shapes ? values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]) : [...SHAPES];
  const widths = values.T ? values.T.split(",").map(Number) : WIDTHS;
  const samples = Number(values.samples ?? 9);
  const load0 = loadavg();
  const results = [];
  if (sections.includes("kernels")) for (const b of builds) results.push({ build: b, ...(await benchBuild(b, formats, shapes, widths, samples)) });
  const threads = sections.includes("threads") ? await benchThreads(builds[0]) : undefined;
  const load1 = loadavg();
  const lines: string[] = [];
  lines.push(`# ${sections.join(" and ")} (${cpus()[0]?.model ?? "?"}, ${cpus().length} cpus, Node ${process.version})`);
  lines.push("");
  lines.push(`Load average ${load0.map((l) => l.toFixed(2)).join(" ")} at start, ${load1.map((l) => l.toFixed(2)).join(" ")} at end.`);
  if (results.length > 0) {
    lines.push("", "## matmul kernels vs the roofline (one thread)", "");
    for (const r of results) {
      lines.push(`${r.build} (medians over rounds): streaming read ${r.machine.bandwidthGBs.toFixed(1)} GB/s; in-cache peak ${r.machine.peakF32.toFixed(1)} GFLOP/s f32, ` +
        `${r.machine.peakInt8.toFixed(1)} Gop/s int8 (${r.build === "relaxed" ? "relaxed int8 dot" : "i16 dot"}).`);
    }
    lines.push("");
    lines.push("Cells: microseconds per call (weights cold; medians), then achieved / bound, where bound = max(bytes / " +
      "bandwidth, flops / peak) from the probes' medians, and m / c says which term binds; ! marks a ratio above 1.25. " +
      "q8 includes quantizing the activations; q4_1 and f32-rows are the row-major kernel (storages native and f32).");
    lines.push("");
    lines.push(table(results.flatMap((r) => r.rows), widths));
  }
  if (threads) lines.push("", ...threadsText(threads, builds[0]));
  process.stdout.write(lines.join("\n") + "\n");
  if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), loadavg: [load0, load1], results, ...(threads ? { threads } : {}) }, null, 2) + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:kernels: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

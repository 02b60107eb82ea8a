/**
 * `npm run bench:kernels`: the matmul kernels against this machine's roofline (not a test).
 *
 *   npx tsx scripts/bench-kernels.ts [--simd plain|relaxed|both] [--formats f32,bf16,q8,q4_1,f32-rows]
 *                                    [--shapes 576x576,...] [--T 1,2,4,8,16] [--samples 9] [--out FILE.json]
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
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { loadCoreNode } from "../src/node/wasm.js";
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

async function main(): Promise<void> {
  // Optimised code from the first call (no baseline tier), so that warm-up need not wait for tier-up.
  setFlagsFromString("--no-liftoff");
  const { values } = parseArgs({
    options: {
      simd: { type: "string" }, formats: { type: "string" }, shapes: { type: "string" }, T: { type: "string" },
      samples: { type: "string" }, out: { type: "string" },
    },
  });
  const simd = values.simd ?? "both";
  const builds = (simd === "both" ? ["plain", "relaxed"] : [simd]) as ("plain" | "relaxed")[];
  const formats = (values.formats ?? FORMATS.join(",")).split(",") as Format[];
  for (const f of formats) if (!(FORMATS as readonly string[]).includes(f)) throw new Error(`unknown format ${f}`);
  const shapes = values.shapes ? values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]) : [...SHAPES];
  const widths = values.T ? values.T.split(",").map(Number) : WIDTHS;
  const samples = Number(values.samples ?? 9);
  const load0 = loadavg();
  const results = [];
  for (const b of builds) results.push({ build: b, ...(await benchBuild(b, formats, shapes, widths, samples)) });
  const load1 = loadavg();
  const lines: string[] = [];
  lines.push(`# matmul kernels vs the roofline (${cpus()[0]?.model ?? "?"}, ${cpus().length} cpus, Node ${process.version}, one thread)`);
  lines.push("");
  lines.push(`Load average ${load0.map((l) => l.toFixed(2)).join(" ")} at start, ${load1.map((l) => l.toFixed(2)).join(" ")} at end.`);
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
  process.stdout.write(lines.join("\n") + "\n");
  if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), loadavg: [load0, load1], results }, null, 2) + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:kernels: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

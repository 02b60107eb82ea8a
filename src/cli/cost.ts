/**
 * `space cost`: this machine's verification-width curve cost(T) beside its roofline, for one model,
 * weight storage and thread count. It times real forward passes of T rows after a prefix (the same
 * costCurve the cost model and the bench use) and probes the machine in the same run: streaming
 * bandwidth with every thread, and the matmul kernel's in-cache peak (decode/cost.ts).
 */
import { cpus } from "node:os";
import { fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec } from "../util/args.js";
import { loadEngine, type SimdChoice } from "../node/engine.js";
import { embeddedModelPath } from "../node/embedded.js";
import { WEIGHT_STORAGES, describeStorage, type WeightStorage } from "../model/weights.js";
import { costCurve, measureMachine, withRoofline, type RooflinePoint } from "../decode/cost.js";

export const COST_OPTIONS: Record<string, OptionSpec> = {
  model: { kind: "string", help: "GGUF model file (default: the embedded models/space-tiny.gguf)" },
  simd: { kind: "string", choices: ["auto", "plain", "relaxed"], help: "WebAssembly build (default auto: relaxed when available)" },
  weights: { kind: "string", choices: [...WEIGHT_STORAGES], help: "weights in memory (default native)" },
  threads: { kind: "int", min: 1, max: 64, help: "threads (default 1)" },
  T: { kind: "string", help: "block widths, comma-separated (default 1,2,4,8,16,36)" },
  prefix: { kind: "int", min: 1, max: 1 << 16, help: "committed tokens before the block (default 128)" },
  repeats: { kind: "int", min: 1, max: 1000, help: "timed rounds over every width (default 15)" },
  json: { kind: "flag", help: "print one JSON object: {machine, points: [{T, ms, ratio, bound_ms, ...}]}" },
};

export const COST_USAGE = `space cost [--model M] [--weights W] [--threads N] [--T 1,2,4,8,16,36] [--json]    cost(T) of a forward pass of T rows beside the roofline\n${usage(COST_OPTIONS)}`;

const DEFAULT_WIDTHS = [1, 2, 4, 8, 16, 36];
const MAX_WIDTH = 512;

function parseWidths(text: string | undefined): number[] {
  if (text === undefined) return DEFAULT_WIDTHS;
  const ws = text.split(",").map((s) => Number(s.trim()));
  if (ws.length === 0 || !ws.every((w) => Number.isInteger(w) && w >= 1 && w <= MAX_WIDTH)) {
    fail("E_ARGS", `--T: comma-separated integers in [1, ${MAX_WIDTH}], got "${text}"`);
  }
  return [...new Set([1, ...ws])].sort((a, b) => a - b); // ratios need T = 1
}

export async function runCost(argv: readonly string[], write: (s: string) => void): Promise<number> {
  const { options: o, positional } = parseArgs(argv, COST_OPTIONS);
  if (positional.length > 0) fail("E_ARGS", `space cost takes no positional arguments (got "${positional[0]}")`);
  const widths = parseWidths(o.T as string | undefined);
  const prefix = (o.prefix as number | undefined) ?? 128;
  const repeats = (o.repeats as number | undefined) ?? 15;
  const storage = (o.weights as WeightStorage | undefined) ?? "native";
  const engine = await loadEngine((o.model as string | undefined) ?? embeddedModelPath(), {
    simd: (o.simd as SimdChoice | undefined) ?? "auto",
    threads: (o.threads as number | undefined) ?? 1,
    weights: storage,
  });
  try {
    const maxT = widths[widths.length - 1];
    if (prefix + maxT > engine.config.contextLength) fail("E_CONTEXT", `prefix ${prefix} + T ${maxT} exceed the model's context of ${engine.config.contextLength}`);
    const tokens = Array.from({ length: prefix + maxT }, (_, i) => (i * 7919 + 13) % engine.config.vocabSize);
    const machine = measureMachine(engine);
    const points = withRoofline(engine, machine, costCurve(engine, tokens, { prefix, widths, warmup: 2, repeats }), prefix);
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    const setup = { model: engine.file.name, weights: storage, build: engine.core.build, threads: engine.executor.threads, cpu, cores: cpus().length, prefix };
    if (o.json) {
      const out = points.map((p) => ({ T: p.T, ms: p.median_ms, ratio: p.ratio, bound_ms: p.bound_ms, bound_by: p.bound_by, vs_bound: p.vs_bound, serial_ms: p.serial_ms, vs_serial: p.vs_serial }));
      write(JSON.stringify({ ...setup, machine, points: out }) + "\n");
    } else {
      write(costTable(setup, machine, points, describeStorage(storage, engine.core.build)));
    }
    return 0;
  } finally {
    engine.close();
  }
}

function costTable(
  s: { model: string; weights: string; build: string; threads: number; cpu: string; cores: number; prefix: number },
  m: { bandwidthGBs: number; peakGops: Readonly<Record<string, number>> },
  points: readonly RooflinePoint[],
  storageText: string,
): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const lines = [
    `# cost(T): ${s.model}, weights ${s.weights} (${storageText}), ${s.build} build, ${s.threads} thread(s), prefix ${s.prefix}`,
    `machine: ${s.cpu} (${s.cores} cores); streaming read ${f(m.bandwidthGBs, 1)} GB/s; in-cache kernel peaks (${s.threads} thread(s)): ${Object.entries(m.peakGops).map(([k, g]) => `${k} ${f(g, 1)} Gop/s`).join(", ")}`,
    "",
    "| T | ms (median) | cost(T)/cost(1) | bound ms | bound by | ms / bound | serial ms | ms / serial |",
    "|---:|---:|---:|---:|---|---:|---:|---:|",
    ...points.map((p) => `| ${p.T} | ${f(p.median_ms, 3)} | ${f(p.ratio)} | ${f(p.bound_ms, 3)} | ${p.bound_by} | ${f(p.vs_bound)} | ${f(p.serial_ms, 3)} | ${f(p.vs_serial)} |`),
    "",
    "bound = max(bytes / bandwidth, T x ops / peak): a core that overlaps its memory waits with arithmetic;",
    "serial = their sum: one that does not (the 2-core Xeon VMs measure so; spec/kernels.md).",
  ];
  return lines.join("\n") + "\n";
}

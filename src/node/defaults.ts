/**
 * The default configuration of a model on this machine, the documented rule (README, `space info`):
 *  - weights: "f32" panels (exact: the same logits as the file's own format, and the fastest exact
 *    storage) when the dequantised matrices fit in a quarter of the machine's memory and in 2 GiB of
 *    WebAssembly memory, and every matrix row packs into panels; otherwise "native" (as stored);
 *  - threads: every available core when the weights take at least MIN_THREADED_BYTES, less the cores
 *    other work already keeps busy (the 1-minute load average, rounded; at least 1): threads that wait
 *    for a core make every step wait for them (on a 2-core machine at load 7, 2 threads ran SmolLM2 5x
 *    slower than 1); a smaller model runs on one thread, as its kernels are too short to split.
 * Lossy storages (q8, q4) are never a default: they are faster and give their own outputs.
 */
import { availableParallelism, loadavg, totalmem } from "node:os";
import type { GGUFFile } from "../gguf/reader.js";
import type { WeightStorage } from "../model/weights.js";
import { PANEL, packableK } from "../wasm/kernels.js";

export const MAX_F32_BYTES = 2 ** 31;
export const MIN_THREADED_BYTES = 16 * 2 ** 20;

export interface DefaultConfiguration {
  readonly weights: WeightStorage;
  readonly threads: number;
  /** One line: what was chosen and why. */
  readonly why: string;
}

export interface Machine {
  readonly memory: number; // bytes
  readonly cores: number;
  readonly load: number; // 1-minute load average (0 where the platform has none)
}

export function thisMachine(): Machine {
  return { memory: totalmem(), cores: availableParallelism(), load: loadavg()[0] };
}

export function defaultConfiguration(file: GGUFFile, machine: Machine = thisMachine()): DefaultConfiguration {
  let f32Bytes = 0, fileBytes = 0, packable = true;
  for (const t of file.tensors) {
    fileBytes += t.byteLength;
    f32Bytes += t.nElements * 4;
    if (t.dims.length >= 2 && t.dims[1] > 1 && !packableK(PANEL.F32, t.dims[0])) packable = false;
  }
  const limit = Math.min(machine.memory / 4, MAX_F32_BYTES);
  const f32 = packable && f32Bytes <= limit;
  const weights: WeightStorage = f32 ? "f32" : "native";
  const threaded = (f32 ? f32Bytes : fileBytes) >= MIN_THREADED_BYTES;
  const busy = Math.min(machine.cores, Math.round(machine.load));
  const threads = threaded ? Math.max(1, Math.min(64, machine.cores - busy)) : 1;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const why =
    (f32
      ? `weights f32 (exact; ${mib(f32Bytes)} fits in a quarter of memory)`
      : `weights native (exact; ${packable ? `f32 would take ${mib(f32Bytes)}, over ${mib(limit)}` : "a matrix's rows do not pack into panels"})`) +
    (threaded
      ? `, threads ${threads} (${machine.cores} cores${busy > 0 ? `, ${busy} busy: load ${machine.load.toFixed(1)}` : ", none busy"})`
      : `, threads 1 (weights under ${mib(MIN_THREADED_BYTES)}: too small to split)`);
  return { weights, threads, why };
}

/** Node edge: worker threads for the PoolExecutor. */
import { Worker } from "node:worker_threads";
import { PoolExecutor, workerSource, type WorkerData } from "../threads/pool.js";
import { LocalExecutor, type Executor } from "../threads/executor.js";
import type { WasmCore } from "../wasm/core.js";

export function nodeExecutor(core: WasmCore, threads: number): Executor {
  if (threads <= 1) return new LocalExecutor(core.exports);
  return new PoolExecutor(core.exports, core.module, core.memory, threads, (data: WorkerData) => {
    const worker = new Worker(workerSource(`require("node:worker_threads").workerData`), { eval: true, workerData: data });
    worker.unref(); // an idle pool must not keep the process alive
    // A failure also sets ctrl[FAILED], which the pool turns into an E_WASM error on the calling thread.
    worker.on("error", (e) => process.stderr.write(`space: worker thread failed: ${e.message}\n`));
    return { terminate: () => void worker.terminate() };
  });
}

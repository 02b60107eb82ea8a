/**
 * Worker threads in a browser. The pool (src/threads/pool.ts) shares the core's WebAssembly.Memory with
 * its workers and synchronises through Atomics.wait, so:
 *  - the page must be cross-origin isolated (COOP + COEP headers): only then may a shared memory be
 *    posted to a worker;
 *  - the pool must live off the page's main thread (which may not block): the step-through page runs
 *    its engine in a dedicated worker (page/worker.ts);
 *  - workers must be running before the pool waits for them: a browser starts a worker only while the
 *    thread that created it returns to its event loop, which a thread blocked in Atomics.wait never
 *    does. So each worker is started here and awaited (asynchronously), and only then given the pool's
 *    data, which a running worker receives without the creator's help.
 * Anything else gets one thread, which works on any page, and a clear message when more were asked for.
 */
import { SpaceError, fail } from "../errors.js";
import { LocalExecutor, type Executor } from "../threads/executor.js";
import { PoolExecutor, workerSource, type WorkerData } from "../threads/pool.js";
import type { WasmCore } from "../wasm/core.js";

/** How long a worker may take to start (fetching nothing: its source is a Blob). */
const START_MS = 20_000;

/** Why this context cannot run worker threads, or null when it can. */
export function threadsUnavailable(scope: typeof globalThis = globalThis): string | null {
  const g = scope as unknown as { crossOriginIsolated?: boolean; Worker?: unknown; document?: unknown };
  if (typeof g.Worker !== "function") return "this context cannot start workers";
  if (g.crossOriginIsolated !== true) {
    return "the page is not cross-origin isolated: serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (`space web` does)";
  }
  if (g.document !== undefined) return "the engine runs on the page's main thread, which may not block in Atomics.wait: run it in a dedicated worker";
  return null;
}

/** The executor for `threads` threads: inline for 1, else a pool whose workers started asynchronously. */
export async function browserExecutor(core: WasmCore, threads: number): Promise<Executor> {
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) fail("E_ARGS", `threads must be an integer in [1, 64], got ${threads}`);
  if (threads === 1) return new LocalExecutor(core.exports);
  const why = threadsUnavailable();
  if (why !== null) fail("E_ARGS", `${threads} threads: ${why}; one thread works anywhere`);
  const source = `self.onmessage = function (ev) { self.onmessage = null; ${workerSource("ev.data")} };\nself.postMessage("started");`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const workers: Worker[] = [];
  try {
    for (let i = 1; i < threads; i++) workers.push(new Worker(url));
    await Promise.all(workers.map(started));
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    URL.revokeObjectURL(url);
  }
  let next = 0;
  return new PoolExecutor(core.exports, core.module, core.memory, threads, (data: WorkerData) => {
    const w = workers[next++];
    w.postMessage(data);
    return { terminate: () => w.terminate() };
  });
}

function started(w: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SpaceError("E_WASM", `a worker thread did not start within ${START_MS / 1000} s`)), START_MS);
    w.onmessage = () => {
      clearTimeout(timer);
      w.onmessage = null;
      resolve();
    };
    w.onerror = (e) => {
      clearTimeout(timer);
      reject(new SpaceError("E_WASM", `a worker thread failed to start: ${e.message}`));
    };
  });
}

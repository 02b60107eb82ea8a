/**
 * Worker threads in a browser. The pool (src/threads/pool.ts) shares the core's WebAssembly.Memory with
 * its workers and synchronises through Atomics.wait, so:
 *  - the page must be cross-origin isolated (COOP + COEP headers): only then may a shared memory be
 *    posted to a worker;
 *  - the pool must live off the page's main thread (which may not block): the step-through page runs
 *    its engine in a dedicated worker (page/worker.ts);
 *  - the pool's workers must have their data and be running before the pool waits for them: a
 *    browser delivers a worker's messages only after the sending thread returns to its event loop,
 *    which a thread blocked in Atomics.wait never does. So the workers are started here, given the
 *    pool's control buffer, and awaited asynchronously; the pool then finds them ready.
 * Anything else gets one thread, which works on any page, and a clear message when more were asked for.
 */
import { SpaceError, fail } from "../errors.js";
import { LocalExecutor, type Executor } from "../threads/executor.js";
import { CTRL, PoolExecutor, SPIN, ctrlBuffer, workerSource, type WorkerData } from "../threads/pool.js";
import type { WasmCore } from "../wasm/core.js";

/** How long the workers may take to start (they fetch nothing: their source is a Blob). */
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

/** The executor for `threads` threads once it is running: inline for 1, else a started pool. */
export async function browserExecutor(core: WasmCore, threads: number): Promise<Executor> {
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) fail("E_ARGS", `threads must be an integer in [1, 64], got ${threads}`);
  if (threads === 1) return new LocalExecutor(core.exports);
  const d = deferredExecutor(core, threads);
  try {
    await d.ready;
  } catch (e) {
    d.close();
    throw e;
  }
  return d;
}

export interface DeferredExecutor extends Executor {
  /** Resolves when the pool runs the kernels; rejects (E_WASM, E_ARGS) when it cannot start. */
  readonly ready: Promise<void>;
}

/**
 * An executor for `threads` threads that can be handed over at once (the library builds its executor
 * synchronously, inside loadModel) while its workers start: until `ready`, kernels run on the calling
 * thread, which gives the same bits (spec/kernels.md: one order of operations for any split); then on
 * the pool. `threads` is the final count from the start, so workspaces are sized for the pool.
 */
export function deferredExecutor(core: WasmCore, threads: number): DeferredExecutor {
  const local = new LocalExecutor(core.exports);
  let pool: Executor | null = null;
  let closed = false;
  const ready = (async () => {
    const why = threadsUnavailable();
    if (why !== null) fail("E_ARGS", `${threads} threads: ${why}; one thread works anywhere`);
    const started = await startPool(core, threads);
    if (closed) started.close();
    else pool = started;
  })();
  ready.catch(() => {}); // the owner awaits it; an unawaited failure must not be reported as unhandled
  const own = {
    threads,
    ready,
    close: () => {
      closed = true;
      pool?.close();
      pool = null;
    },
  };
  // Every other member of Executor (kernels, counters, whatever it gains) goes to the running executor.
  return new Proxy(own, {
    get(target, prop, receiver) {
      if (prop in target) return Reflect.get(target, prop, receiver);
      const ex = (pool ?? local) as unknown as Record<PropertyKey, unknown>;
      const value = ex[prop];
      return typeof value === "function" ? value.bind(ex) : value;
    },
  }) as unknown as DeferredExecutor;
}

async function startPool(core: WasmCore, threads: number): Promise<Executor> {
  const source = `self.onmessage = function (ev) { self.onmessage = null; ${workerSource("ev.data")} };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const ctrl = ctrlBuffer();
  const workers: Worker[] = [];
  try {
    for (let i = 1; i < threads; i++) {
      const w = new Worker(url);
      const data: WorkerData = { module: core.module, memory: core.memory, ctrl, index: i, spin: { ...SPIN } };
      w.postMessage(data);
      workers.push(w);
    }
    await started(workers, new Int32Array(ctrl));
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    URL.revokeObjectURL(url);
  }
  return new PoolExecutor(core.exports, core.module, core.memory, threads, (data: WorkerData) => {
    const w = workers[data.index - 1];
    return { terminate: () => w.terminate() };
  }, ctrl);
}

/** Resolves once every worker counted itself in ctrl[READY]; polls, so this thread keeps its event loop. */
function started(workers: readonly Worker[], c: Int32Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + START_MS;
    let error: string | null = null;
    for (const w of workers) w.onerror = (e) => void (error = e.message || "an error");
    const poll = () => {
      if (error !== null || Atomics.load(c, CTRL.FAILED) !== 0) reject(new SpaceError("E_WASM", `a worker thread failed to start: ${error ?? "see the console"}`));
      else if (Atomics.load(c, CTRL.READY) >= workers.length) resolve();
      else if (Date.now() > deadline) reject(new SpaceError("E_WASM", `only ${Atomics.load(c, CTRL.READY)} of ${workers.length} worker threads started within ${START_MS / 1000} s`));
      else setTimeout(poll, 2);
    };
    poll();
  });
}

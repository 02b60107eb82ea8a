/**
 * A pool of worker threads that run allocation-free kernels on the one shared WebAssembly memory.
 *
 * Work is split by output rows (matmul) or by heads (attention): each element is still computed by one
 * thread with the fixed order of operations of spec/kernels.md, so every thread count gives
 * bit-identical results. The calling thread takes part 0 itself.
 *
 * Protocol over a small shared Int32Array `ctrl` (not the WebAssembly memory):
 *   ctrl[GEN]   job counter; workers wait for it to change
 *   ctrl[DONE]  workers that finished the current job
 *   ctrl[OP..]  the job: op code and arguments
 *   ctrl[READY] workers that have started; ctrl[FAILED] set by a worker that threw (the calling thread
 *               blocks in Atomics.wait and could never hear of it through an event)
 *   ctrl[PARTS + 2i], ctrl[PARTS + 2i + 1]  thread i's [from, to)
 * Waiting spins for a bounded number of checks, then sleeps in Atomics.wait: never an unbounded spin
 * (on 2 vCPUs a spinning thread can starve the one it waits for).
 */
import type { KernelExports } from "../wasm/kernels.js";
import type { Matrix } from "../model/weights.js";
import { matmulInput, matmulPieces, matmulRange, type AttentionArgs, type Executor } from "./executor.js";
import { PANEL_OF } from "../model/weights.js";
import { fail } from "../errors.js";

export const CTRL = { GEN: 0, DONE: 1, OP: 2, FAILED: 3, READY: 4, SCALE: 5, ARGS: 8, PARTS: 24 } as const;
export const OP = { EXIT: 0, MATMUL: 1, ATTENTION: 2, MATMUL_PACKED: 3 } as const;
export const SPIN_CHECKS = 20000;
const MAX_THREADS = 64;
/** Below this many multiply-adds a matmul is not worth a round trip to the workers. */
const MIN_PARALLEL_WORK = 1 << 16;
/** How long the pool waits for its workers to start. */
const START_TIMEOUT_MS = 30_000;

/** What a worker needs; structured-cloneable (a WebAssembly.Module and shared buffers). */
export interface WorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  index: number; // 1..threads-1
  spinChecks: number;
}

export interface SpawnedWorker {
  terminate(): void;
}

export function ctrlBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((CTRL.PARTS + 2 * MAX_THREADS) * 4);
}

export class PoolExecutor implements Executor {
  readonly counters = { matmulRows: 0, multiRowCalls: 0, parallelCalls: 0 };
  private readonly c: Int32Array;
  private readonly f: Float32Array;
  private readonly workers: SpawnedWorker[] = [];

  constructor(
    private readonly kernels: KernelExports,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    readonly threads: number,
    spawn: (data: WorkerData) => SpawnedWorker,
  ) {
    if (threads < 2 || threads > MAX_THREADS) throw new RangeError(`threads must be in [2, ${MAX_THREADS}]`);
    const ctrl = ctrlBuffer();
    this.c = new Int32Array(ctrl);
    this.f = new Float32Array(ctrl);
    for (let i = 1; i < threads; i++) this.workers.push(spawn({ module, memory, ctrl, index: i, spinChecks: SPIN_CHECKS }));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (let ready = 0; (ready = Atomics.load(this.c, CTRL.READY)) < threads - 1; ) {
      this.checkFailed();
      if (Date.now() > deadline) {
        this.close();
        fail("E_WASM", `only ${ready} of ${threads - 1} worker threads started within ${START_TIMEOUT_MS / 1000} s`);
      }
      Atomics.wait(this.c, CTRL.READY, ready, 50);
    }
  }

  private checkFailed(): void {
    if (Atomics.load(this.c, CTRL.FAILED) !== 0) {
      this.close();
      fail("E_WASM", "a worker thread failed (see its error above)");
    }
  }

  matmul(m: Matrix, x: number, y: number, T: number): void {
    this.counters.matmulRows += T;
    if (T > 1) this.counters.multiRowCalls++;
    const panel = PANEL_OF[m.layout ?? "rows"];
    for (const p of matmulPieces(m, x, y, T)) {
      // q8 panels: the calling thread quantises the rows once, every thread reads them.
      const input = matmulInput(this.kernels, m, p.x, p.T);
      if (p.T * m.K * m.N < MIN_PARALLEL_WORK || m.N < 4 * this.threads) {
        matmulRange(this.kernels, m, input, p.y, p.T, 0, m.N);
        continue;
      }
      // Parts are multiples of 4 output rows: whole tiles of the row-major kernel, whole panels.
      this.split(m.N, 4);
      if (panel) this.post(OP.MATMUL_PACKED, [panel, input, m.ptr, p.y, p.T, m.K, m.N]);
      else this.post(OP.MATMUL, [m.type, input, m.ptr, p.y, p.T, m.K, m.N]);
      const [n0, n1] = this.part(0);
      matmulRange(this.kernels, m, input, p.y, p.T, n0, n1);
      this.join();
    }
  }

  attention(a: AttentionArgs): void {
    this.split(a.nHeads, 1);
    this.f[CTRL.SCALE] = a.scale;
    this.post(OP.ATTENTION, [a.q, a.k, a.v, a.mask, a.out, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, a.scoresStride]);
    const [h0, h1] = this.part(0);
    this.kernels.attention(a.q, a.k, a.v, a.mask, a.out, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, h0, h1, a.scale);
    this.join();
  }

  close(): void {
    if (this.workers.length === 0) return;
    this.c[CTRL.OP] = OP.EXIT;
    Atomics.add(this.c, CTRL.GEN, 1);
    Atomics.notify(this.c, CTRL.GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }

  /** Thread i gets [from, to): contiguous, in units of `unit`, as even as possible. */
  private split(n: number, unit: number): void {
    const units = Math.ceil(n / unit);
    for (let i = 0; i < this.threads; i++) {
      this.c[CTRL.PARTS + 2 * i] = Math.min(n, Math.floor((units * i) / this.threads) * unit);
      this.c[CTRL.PARTS + 2 * i + 1] = Math.min(n, Math.floor((units * (i + 1)) / this.threads) * unit);
    }
  }

  private part(i: number): [number, number] {
    return [this.c[CTRL.PARTS + 2 * i], this.c[CTRL.PARTS + 2 * i + 1]];
  }

  private post(op: number, args: number[]): void {
    this.counters.parallelCalls++;
    this.c[CTRL.OP] = op;
    for (let i = 0; i < args.length; i++) this.c[CTRL.ARGS + i] = args[i];
    Atomics.store(this.c, CTRL.DONE, 0);
    Atomics.add(this.c, CTRL.GEN, 1); // publishes the job (Atomics order the plain writes above)
    Atomics.notify(this.c, CTRL.GEN);
  }

  private join(): void {
    const want = this.threads - 1;
    for (let spins = 0; Atomics.load(this.c, CTRL.DONE) < want; spins++) {
      if (spins >= SPIN_CHECKS) {
        this.checkFailed();
        const done = Atomics.load(this.c, CTRL.DONE);
        if (done < want) Atomics.wait(this.c, CTRL.DONE, done, 1000);
      }
    }
  }
}

/**
 * The body of every worker. Self-contained (no imports, no closures): the host serialises it with
 * Function.prototype.toString, so the same source runs from TypeScript under a test runner and from
 * compiled JavaScript.
 */
export function workerMain(data: WorkerData): void {
  const GEN = 0, DONE = 1, OP_ = 2, READY = 4, SCALE = 5, ARGS = 8, PARTS = 24;
  const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
  const k = instance.exports as unknown as KernelExports;
  const c = new Int32Array(data.ctrl);
  const f = new Float32Array(data.ctrl);
  const me = data.index;
  let seen = Atomics.load(c, GEN);
  Atomics.add(c, READY, 1);
  Atomics.notify(c, READY);
  for (;;) {
    for (let spins = 0; Atomics.load(c, GEN) === seen; spins++) {
      if (spins >= data.spinChecks) Atomics.wait(c, GEN, seen);
    }
    seen = Atomics.load(c, GEN);
    const op = c[OP_];
    if (op === 0) return;
    const from = c[PARTS + 2 * me];
    const to = c[PARTS + 2 * me + 1];
    const A = ARGS;
    if (from < to) {
      if (op === 1) k.matmul(c[A], c[A + 1], c[A + 2], c[A + 3], c[A + 4], c[A + 5], c[A + 6], from, to);
      else if (op === 3) k.matmulPacked(c[A], c[A + 1], c[A + 2], c[A + 3], c[A + 4], c[A + 5], c[A + 6], from, to);
      else if (op === 2) {
        const scores = c[A + 5] + me * c[A + 11] * 4; // this thread's slice of the scratch
        k.attention(c[A], c[A + 1], c[A + 2], c[A + 3], c[A + 4], scores, c[A + 6], c[A + 7], c[A + 8], c[A + 9], c[A + 10], from, to, f[SCALE]);
      }
    }
    Atomics.add(c, DONE, 1);
    Atomics.notify(c, DONE);
  }
}

/**
 * The JavaScript a worker evaluates: workerMain's source, guarded so that a failure is reported through
 * ctrl[FAILED] (the calling thread may be blocked in Atomics.wait and cannot receive events).
 * `dataExpression` is how the host hands over WorkerData (Node: the worker_threads workerData).
 */
export function workerSource(dataExpression: string): string {
  // __name: some TypeScript transpilers wrap inner functions in it when keeping names.
  return `"use strict";
var __name = (f) => f;
var data = ${dataExpression};
try { (${workerMain.toString()})(data); }
catch (e) {
  var c = new Int32Array(data.ctrl);
  Atomics.store(c, ${CTRL.FAILED}, 1); Atomics.notify(c, ${CTRL.DONE}); Atomics.notify(c, ${CTRL.READY});
  throw e;
}`;
}

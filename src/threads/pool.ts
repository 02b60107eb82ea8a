/**
 * A pool of worker threads that run allocation-free kernels on the one shared WebAssembly memory
 * (spec/threads.md: the protocol, the split, the jobs per layer and the spin policy, with measurements).
 *
 * Work is split by output rows (matmul) or by heads (attention): each element is still computed by one
 * thread with the fixed order of operations of spec/kernels.md, so every thread count gives
 * bit-identical results. The calling thread takes part 0 itself.
 *
 * Protocol over a small shared Int32Array `ctrl` (not the WebAssembly memory):
 *   ctrl[GEN]   job counter; workers wait for it to change
 *   ctrl[DONE]  workers that finished the current job
 *   ctrl[OP..]  the job: op code and arguments (MATMULS: a group of up to MAX_GROUP matrices that read the
 *               same input, so q/k/v or gate/up cost ONE synchronisation: a forward pass synchronises
 *               five times per layer: q/k/v, attention, output projection, gate/up, down)
 *   ctrl[READY] workers that have started; ctrl[FAILED] set by a worker that threw (the calling thread
 *               blocks in Atomics.wait and could never hear of it through an event)
 *   ctrl[PARTS + 2(j * MAX_THREADS + i)], ... + 1  thread i's [from, to) of the job's matrix j (or heads)
 * Waiting spins for a bounded number of checks, then sleeps in Atomics.wait: never an unbounded spin
 * (on 2 vCPUs a spinning thread can starve the one it waits for).
 */
import type { KernelExports } from "../wasm/kernels.js";
import type { Matrix } from "../wasm/matrix.js";
import {
  attentionBackHeads, attentionUnits, backXRange, checkGroup, matmulInput, matmulRange, type AttentionArgs, type AttentionBackArgs, type Executor,
} from "./executor.js";
import { PANEL_OF } from "../wasm/matrix.js";
import { fail } from "../errors.js";

export const CTRL = { GEN: 0, DONE: 1, OP: 2, FAILED: 3, READY: 4, SCALE: 5, ARGS: 8, PARTS: 32 } as const;
export const OP = { EXIT: 0, MATMULS: 1, ATTENTION: 2, PING: 3, PROBE_READ: 4, BACK_X: 5, ATTENTION_BACK: 6 } as const;
/**
 * How long a waiting side spins before it sleeps in Atomics.wait, in checks (~4.6 ns each here): an
 * adaptive budget per side, doubled after a wait the spin covered, halved after one it did not, between
 * MIN and MAX (~1 us and ~5 ms).
 *  - Idle machine: the budget climbs to MAX, which outlasts the other side's wake-up from Atomics.wait
 *    (a futex: 25-200 us on these VMs), so neither side sleeps while jobs keep coming: a round trip is
 *    ~0.2 us. A fixed ~90 us spin measured 200 us a round trip instead: once one side slept, the other's
 *    spin ran out before the answer came, and both slept on every job from then on.
 *  - Threads sharing a core (another process busy on the other one): the side that spins holds the core
 *    the other needs, so every spin runs out; the budget falls to MIN and the sides hand the core over
 *    through Atomics.wait. A fixed 5 ms spin measured ~8 ms a round trip there.
 * Bounded either way: an idle pool sleeps and takes no CPU.
 */
export const SPIN = { MIN: 1 << 8, MAX: 1 << 20 } as const;

/** The next spin budget: doubled when the wait ended within the budget, halved when it ran out. */
export function nextSpin(budget: number, spins: number): number {
  return spins < budget ? Math.min(SPIN.MAX, budget * 2) : Math.max(SPIN.MIN, budget >> 1);
}
const MAX_THREADS = 64;
/** Matrices in one MATMULS job (q, k, v is the largest group the model posts). */
export const MAX_GROUP = 4;
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
  spin: { MIN: number; MAX: number }; // SPIN
}

export interface SpawnedWorker {
  terminate(): void;
}

export function ctrlBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer((CTRL.PARTS + 2 * MAX_THREADS * MAX_GROUP) * 4);
}

export class PoolExecutor implements Executor {
  readonly counters = { matmulRows: 0, multiRowCalls: 0, parallelCalls: 0 };
  private readonly c: Int32Array;
  private readonly f: Float32Array;
  private readonly workers: SpawnedWorker[] = [];
  /** The calling thread's spin budget in join (SPIN). */
  private spin: number = SPIN.MAX;

  constructor(
    private readonly kernels: KernelExports,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    readonly threads: number,
    spawn: (data: WorkerData) => SpawnedWorker,
    // A browser delivers a message only after its sender returns to the event loop, which this
    // constructor's wait never does: there, workers get `ctrl` (and start) beforehand (src/web/threads.ts).
    ctrl: SharedArrayBuffer = ctrlBuffer(),
  ) {
    if (threads < 2 || threads > MAX_THREADS) throw new RangeError(`threads must be in [2, ${MAX_THREADS}]`);
    this.c = new Int32Array(ctrl);
    this.f = new Float32Array(ctrl);
    for (let i = 1; i < threads; i++) this.workers.push(spawn({ module, memory, ctrl, index: i, spin: { ...SPIN } }));
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
    this.matmuls([m], x, [y], T);
  }

  matmuls(ms: readonly Matrix[], x: number, ys: readonly number[], T: number): void {
    checkGroup(ms, ys);
    if (ms.length > MAX_GROUP) throw new RangeError(`matmuls: at most ${MAX_GROUP} matrices per group`);
    this.counters.matmulRows += T * ms.length;
    if (T > 1) this.counters.multiRowCalls += ms.length;
    // q8 panels quantise at most act.rows rows at a time: longer blocks go in pieces (invisible in the
    // results: batch invariance). The calling thread quantises each piece once; every thread reads it.
    const K = ms[0].K;
    const rows = ms[0].act?.rows ?? T;
    for (let t = 0; t < T; t += rows) {
      const n = Math.min(rows, T - t);
      const input = matmulInput(this.kernels, ms[0], x + t * K * 4, n);
      this.group(ms, input, ys.map((y, i) => y + t * ms[i].N * 4), n);
    }
  }

  /** One MATMULS job: every matrix split by output rows, in multiples of 4 (whole tiles, whole panels). */
  private group(ms: readonly Matrix[], input: number, ys: readonly number[], T: number): void {
    let work = 0;
    for (const m of ms) work += T * m.K * m.N;
    if (work < MIN_PARALLEL_WORK) {
      for (let i = 0; i < ms.length; i++) matmulRange(this.kernels, ms[i], input, ys[i], T, 0, ms[i].N);
      return;
    }
    const args = [T, ms[0].K, input, ms.length];
    for (let j = 0; j < ms.length; j++) {
      const m = ms[j];
      const panel = PANEL_OF[m.layout ?? "rows"];
      args.push(panel ? -panel : m.type, m.ptr, ys[j], m.N); // code < 0: a packed layout
      this.split(j, m.N, 4);
    }
    this.post(OP.MATMULS, args);
    for (let j = 0; j < ms.length; j++) {
      const [n0, n1] = this.part(j, 0);
      if (n0 < n1) matmulRange(this.kernels, ms[j], input, ys[j], T, n0, n1);
    }
    this.join();
  }

  /**
   * Mean time of `n` empty jobs (post, every worker answers, join), in microseconds: the price of one
   * synchronisation, what fusing work saves per avoided job.
   */
  roundTripMicros(n: number): number {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      this.post(OP.PING, []);
      this.join();
    }
    return ((performance.now() - t0) * 1000) / n;
  }

  /**
   * Split by head x row (units t * nHeads + h), so a block of T rows keeps every thread busy even when
   * the model has fewer heads than threads; one row's heads stay together where the split allows.
   */
  attention(a: AttentionArgs): void {
    this.split(0, a.nHeads * a.T, 1);
    this.f[CTRL.SCALE] = a.scale;
    this.post(OP.ATTENTION, [a.q, a.k, a.v, a.mask, a.out, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, a.scoresStride]);
    const [u0, u1] = this.part(0, 0);
    attentionUnits(this.kernels, a, a.scores, u0, u1);
    this.join();
  }

  /** Split by kv heads (each thread its own slice of the scratch); fewer kv heads than threads leave some idle. */
  attentionBack(a: AttentionBackArgs): void {
    this.split(0, a.nKvHeads, 1);
    this.f[CTRL.SCALE] = a.scale;
    this.post(OP.ATTENTION_BACK, [a.q, a.k, a.v, a.mask, a.dout, a.dq, a.dk, a.dv, a.scores, a.T, a.nKeys, a.nHeads, a.nKvHeads, a.headDim, a.scoresStride, a.kvFrom ?? 0]);
    const [g0, g1] = this.part(0, 0);
    attentionBackHeads(this.kernels, a, a.scores, g0, g1);
    this.join();
  }

  probeRead(ptr: number, bytes: number): void {
    this.split(0, bytes / 64, 1);
    this.post(OP.PROBE_READ, [ptr]);
    const [b0, b1] = this.part(0, 0);
    if (b0 < b1) this.kernels.probeRead(ptr + 64 * b0, 64 * (b1 - b0));
    this.join();
  }

  /** Split by strips of 16 columns of dx (the kernel's tile width; whole blocks for quantised W). */
  matmulBackX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void {
    if (T * m.K * m.N < MIN_PARALLEL_WORK) return backXRange(this.kernels, m, dy, dx, T, 0, m.K, accumulate);
    this.split(0, m.K, 16);
    this.post(OP.BACK_X, [m.type, dy, m.ptr, dx, T, m.K, m.N, accumulate ? 1 : 0]);
    const [k0, k1] = this.part(0, 0);
    if (k0 < k1) backXRange(this.kernels, m, dy, dx, T, k0, k1, accumulate);
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

  /** Thread i gets [from, to) of the job's item j: contiguous, in units of `unit`, as even as possible. */
  private split(j: number, n: number, unit: number): void {
    const units = Math.ceil(n / unit);
    const base = CTRL.PARTS + 2 * j * MAX_THREADS;
    for (let i = 0; i < this.threads; i++) {
      this.c[base + 2 * i] = Math.min(n, Math.floor((units * i) / this.threads) * unit);
      this.c[base + 2 * i + 1] = Math.min(n, Math.floor((units * (i + 1)) / this.threads) * unit);
    }
  }

  private part(j: number, i: number): [number, number] {
    const base = CTRL.PARTS + 2 * (j * MAX_THREADS + i);
    return [this.c[base], this.c[base + 1]];
  }

  private post(op: number, args: number[]): void {
    // After close() no worker would ever answer: fail instead of waiting forever (callers that reach the
    // executor directly, like the trainer, are not behind the engine's guard).
    if (this.workers.length === 0) fail("E_STATE", "the worker pool is closed (engine.close() was called)");
    this.counters.parallelCalls++;
    this.c[CTRL.OP] = op;
    for (let i = 0; i < args.length; i++) this.c[CTRL.ARGS + i] = args[i];
    Atomics.store(this.c, CTRL.DONE, 0);
    Atomics.add(this.c, CTRL.GEN, 1); // publishes the job (Atomics order the plain writes above)
    Atomics.notify(this.c, CTRL.GEN);
  }

  private join(): void {
    const want = this.threads - 1;
    let spins = 0;
    while (Atomics.load(this.c, CTRL.DONE) < want) {
      if (spins < this.spin) {
        spins++;
        continue;
      }
      this.checkFailed();
      const done = Atomics.load(this.c, CTRL.DONE);
      if (done < want) Atomics.wait(this.c, CTRL.DONE, done, 1000);
    }
    this.spin = nextSpin(this.spin, spins);
  }
}

/**
 * The body of every worker. Self-contained (no imports, no closures): the host serialises it with
 * Function.prototype.toString, so the same source runs from TypeScript under a test runner and from
 * compiled JavaScript.
 */
export function workerMain(data: WorkerData): void {
  const GEN = 0, DONE = 1, OP_ = 2, READY = 4, SCALE = 5, ARGS = 8, PARTS = 32, MAX_THREADS = 64;
  const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
  const k = instance.exports as unknown as KernelExports;
  const c = new Int32Array(data.ctrl);
  const f = new Float32Array(data.ctrl);
  const me = data.index;
  let seen = Atomics.load(c, GEN);
  Atomics.add(c, READY, 1);
  Atomics.notify(c, READY);
  let budget = data.spin.MAX; // adaptive, as the calling thread's (SPIN, nextSpin)
  for (;;) {
    let spins = 0;
    while (Atomics.load(c, GEN) === seen) {
      if (spins < budget) spins++;
      else Atomics.wait(c, GEN, seen);
    }
    budget = spins < budget ? Math.min(data.spin.MAX, budget * 2) : Math.max(data.spin.MIN, budget >> 1);
    seen = Atomics.load(c, GEN);
    const op = c[OP_];
    if (op === 0) return;
    const A = ARGS;
    if (op === 1) {
      // MATMULS: [T, K, input, n, (code, w, y, N) x n]; code < 0 is a packed layout, else a GGML type.
      const T = c[A], K = c[A + 1], input = c[A + 2], n = c[A + 3];
      for (let j = 0; j < n; j++) {
        const code = c[A + 4 + 4 * j], w = c[A + 5 + 4 * j], y = c[A + 6 + 4 * j], N = c[A + 7 + 4 * j];
        const from = c[PARTS + 2 * (j * MAX_THREADS + me)], to = c[PARTS + 2 * (j * MAX_THREADS + me) + 1];
        if (from >= to) continue;
        if (code < 0) k.matmulPacked(-code, input, w, y, T, K, N, from, to);
        else k.matmul(code, input, w, y, T, K, N, from, to);
      }
    } else if (op === 2) {
      // ATTENTION over units u = t * H + h in [from, to): attentionUnits, restated (workers import nothing).
      const from = c[PARTS + 2 * me], to = c[PARTS + 2 * me + 1];
      const scores = c[A + 5] + me * c[A + 11] * 4; // this thread's slice of the scratch
      const H = c[A + 8], D = H * c[A + 10], nKeys = c[A + 7];
      const call = (t0: number, rows: number, h0: number, h1: number) =>
        k.attention(c[A] + t0 * D * 4, c[A + 1], c[A + 2], c[A + 3] + t0 * nKeys, c[A + 4] + t0 * D * 4, scores, rows, nKeys, H, c[A + 9], c[A + 10], h0, h1, f[SCALE]);
      let u = from;
      if (u < to && u % H !== 0) {
        const t = Math.floor(u / H), h1 = Math.min(H, to - t * H);
        call(t, 1, u % H, h1);
        u = t * H + h1;
      }
      const whole = Math.floor((to - u) / H);
      if (whole > 0) {
        call(u / H, whole, 0, H);
        u += whole * H;
      }
      if (u < to) call(u / H, 1, 0, to - u);
    } else if (op === 4) {
      // PROBE_READ: this thread's slice of 64-byte lines from c[A].
      const from = c[PARTS + 2 * me], to = c[PARTS + 2 * me + 1];
      if (from < to) k.probeRead(c[A] + 64 * from, 64 * (to - from));
    } else if (op === 5) {
      // BACK_X: [type, dy, w, dx, T, K, N, accumulate], this thread's columns [from, to) of dx.
      const from = c[PARTS + 2 * me], to = c[PARTS + 2 * me + 1];
      if (from < to) k.matmulBackX(c[A], c[A + 1], c[A + 2], c[A + 3], c[A + 4], c[A + 5], c[A + 6], from, to, c[A + 7]);
    } else if (op === 6) {
      // ATTENTION_BACK: [q, k, v, mask, dout, dq, dk, dv, scratch, T, nKeys, nHeads, nKvHeads, headDim,
      // scratch stride, kv0], this thread's kv heads [from, to) and its slice of the scratch.
      const from = c[PARTS + 2 * me], to = c[PARTS + 2 * me + 1];
      if (from < to) {
        k.attentionBack(c[A], c[A + 1], c[A + 2], c[A + 3], c[A + 4], c[A + 5], c[A + 6], c[A + 7], c[A + 8] + me * c[A + 14] * 4,
          c[A + 9], c[A + 10], c[A + 11], c[A + 12], c[A + 13], from, to, c[A + 15], f[SCALE]);
      }
    } // op 3 (PING): no work, only the answer
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

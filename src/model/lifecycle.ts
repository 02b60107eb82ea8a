/**
 * Misuse of an engine and its decoding contexts fails with a clear E_STATE error instead of corrupting
 * memory or hanging:
 *  - a closed engine: its worker threads are gone, so a forward pass would wait for them forever. Every
 *    context's kernels go through `GuardedExecutor`, which refuses work once the engine is closed.
 *  - one generation at a time per context: two would interleave their blocks in one KV cache.
 *  - a disposed context: its memory may already belong to another context. Disposing a context while a
 *    generation runs on it stops that generation at its next step and frees the memory only then.
 */
import { fail } from "../errors.js";
import type { AttentionArgs, AttentionBackArgs, Executor } from "../threads/executor.js";
import type { Matrix } from "./weights.js";

/** What the guards read: set once by Engine.close(). */
export interface EngineState {
  readonly closed: boolean;
}

export function checkOpen(engine: EngineState): void {
  if (engine.closed) fail("E_STATE", "the engine is closed (engine.close() was called): load the model again to keep decoding");
}

/** The engine's executor, refusing work once the engine is closed (one boolean test per kernel call). */
export class GuardedExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly engine: EngineState,
  ) {}

  get threads(): number {
    return this.inner.threads;
  }

  get counters(): Executor["counters"] {
    return this.inner.counters;
  }

  matmul(m: Matrix, x: number, y: number, T: number): void {
    checkOpen(this.engine);
    this.inner.matmul(m, x, y, T);
  }

  matmuls(ms: readonly Matrix[], x: number, ys: readonly number[], T: number): void {
    checkOpen(this.engine);
    this.inner.matmuls(ms, x, ys, T);
  }

  attention(a: AttentionArgs): void {
    checkOpen(this.engine);
    this.inner.attention(a);
  }

  attentionBack(a: AttentionBackArgs): void {
    checkOpen(this.engine);
    this.inner.attentionBack(a);
  }

  probeRead(ptr: number, bytes: number): void {
    checkOpen(this.engine);
    this.inner.probeRead(ptr, bytes);
  }

  matmulBackX(m: Matrix, dy: number, dx: number, T: number, accumulate: boolean): void {
    checkOpen(this.engine);
    this.inner.matmulBackX(m, dy, dx, T, accumulate);
  }

  /** The engine closes the executor it owns; a context cannot. */
  close(): void {}
}

/** The state of one decoding context: in use by a generation, disposed. */
export class ContextGuard {
  private busy = false;
  private disposed = false;

  constructor(
    private readonly engine: EngineState,
    private readonly release: () => void,
  ) {}

  /** Starts a generation on this context (E_STATE when disposed, busy, or the engine is closed). */
  claim(): void {
    this.check();
    if (this.busy) {
      fail("E_STATE", "a generation is already running on this context: one at a time per context (create one context per concurrent generation)");
    }
    this.busy = true;
  }

  /** Between steps: fails when the context was disposed or the engine closed meanwhile. */
  check(): void {
    if (this.disposed) fail("E_STATE", "this decoding context was disposed");
    checkOpen(this.engine);
  }

  /** Ends the generation; frees the memory if the context was disposed meanwhile. */
  finish(): void {
    this.busy = false;
    if (this.disposed) this.release();
  }

  get inUse(): boolean {
    return this.busy;
  }

  /** Idempotent. While a generation runs, the memory is freed when it ends (at its next step). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.busy) this.release();
  }
}

/**
 * What generate() does around its steps so that a host stays in control of a long generation:
 *  - it yields to the event loop (a macrotask) every few milliseconds, between steps and between
 *    prefill chunks, so that an AbortSignal fired by a timer, an engine.close() or a dispose() lands
 *    within one step or one prefill chunk, without the caller passing `yieldEvery`;
 *  - one generation at a time per context, each starting from an empty KV cache (model/lifecycle.ts).
 *
 * Cost (scripts/pacer-overhead.ts, CPU time on the 2-core VMs): a pause with no yield due is ~14 ns (a
 * counter, a clock read every ~0.5 ms, no await); a yield is one macrotask round trip, ~17-20 us, taken
 * at most once per YIELD_EVERY_MS = 4 ms: at most ~0.5% of a generation, whatever the step length.
 */
import type { ContextGuard } from "../model/lifecycle.js";

/** How long a generation may hold the event loop before it yields. */
export const YIELD_EVERY_MS = 4;

export class Pacer {
  /** When the last yield ended. */
  private last: number;
  /** When the clock was last read, and how many pause() calls go between reads (see pause). */
  private lastRead: number;
  private stride = 1;
  private calls = 0;
  private timed = false;
  /** Yields taken (tests read it). */
  yields = 0;

  constructor(
    private readonly guard: ContextGuard | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly everyMs = YIELD_EVERY_MS,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.last = this.lastRead = clock();
  }

  /** Whether the signal has aborted (checked by the caller between steps and chunks). */
  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }

  /**
   * Between steps or prefill chunks: null when no yield is due (the common case: no await, no tick),
   * else a promise of one macrotask. Throws E_STATE when the context was disposed or its engine closed.
   *
   * Reading the clock costs ~0.45 us on these VMs, so it is read every `stride` calls, the stride chosen
   * so that reads come about every READ_EVERY_MS (at most MAX_STRIDE calls apart): steps longer than
   * that read it every time, so a yield (and an abort) lands after the step it was due in.
   */
  pause(): Promise<void> | null {
    this.guard?.check();
    if (++this.calls < this.stride) return null;
    const t = this.clock();
    // The interval since the previous read covers `calls` steps, except at the first call, where it only
    // covers the set-up: the stride stays 1 until a real step has been timed.
    if (this.timed) {
      const perCall = (t - this.lastRead) / this.calls;
      this.stride = perCall > 0 ? Math.max(1, Math.min(MAX_STRIDE, Math.floor(READ_EVERY_MS / perCall))) : MAX_STRIDE;
    }
    this.timed = true;
    this.calls = 0;
    this.lastRead = t;
    if (t - this.last < this.everyMs) return null;
    return macrotask().then(() => {
      this.yields++;
      this.last = this.lastRead = this.clock();
      this.guard?.check();
    });
  }
}

/** The clock is read about this often (ms), and at least every MAX_STRIDE pauses. */
const READ_EVERY_MS = 0.5;
const MAX_STRIDE = 16;

/**
 * Starts a generation on ctx: claims the context (E_STATE when misused) and keeps only the first `keep`
 * rows of its KV cache (0 unless the caller reuses a prefix): nothing is silently continued from an
 * earlier generation.
 */
export function beginGeneration(
  ctx: { readonly guard?: ContextGuard; readonly cache: { readonly length: number; truncate(n: number): void } },
  signal: AbortSignal | undefined,
  keep: number,
): { pacer: Pacer; end: () => void } {
  ctx.guard?.claim();
  if (Number.isInteger(keep) && keep >= 0 && ctx.cache.length > keep) ctx.cache.truncate(keep);
  return { pacer: new Pacer(ctx.guard, signal), end: () => ctx.guard?.finish() };
}

/**
 * A macrotask, not a microtask: timers (AbortSignal.timeout, setTimeout) run only when the event loop
 * gets a turn. setImmediate where the host has it (Node, Bun), twice; else a MessageChannel message
 * (browsers, where setTimeout(0) is clamped to 4 ms once nested); else setTimeout(0).
 */
function macrotask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };
  return new Promise<void>((resolve) => {
    // Two immediates: one queued from the check phase runs in the NEXT loop iteration, after its timers
    // phase, so a timer that is due (an AbortSignal's) always runs before the generation resumes.
    if (g.setImmediate) g.setImmediate(() => g.setImmediate!(resolve));
    else if (g.MessageChannel) {
      const channel = new g.MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    } else setTimeout(resolve, 0);
  });
}

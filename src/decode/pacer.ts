/**
 * What generate() does around its steps so that a host stays in control of a long generation:
 *  - it yields to the event loop (a macrotask) every few milliseconds, between steps and between
 *    prefill chunks, so that an AbortSignal fired by a timer, an engine.close() or a dispose() lands
 *    within one step or one prefill chunk, without the caller passing `yieldEvery`;
 *  - one generation at a time per context, each starting from an empty KV cache (model/lifecycle.ts).
 *
 * Cost: a yield is one macrotask round trip (setImmediate in Node: 4.3 us measured here), taken at most
 * once per YIELD_EVERY_MS = 4 ms, so at most ~0.1% of a generation's time.
 */
import type { ContextGuard } from "../model/lifecycle.js";

/** How long a generation may hold the event loop before it yields. */
export const YIELD_EVERY_MS = 4;

export class Pacer {
  private last: number;
  /** Yields taken (tests read it). */
  yields = 0;

  constructor(
    private readonly guard: ContextGuard | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly everyMs = YIELD_EVERY_MS,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.last = clock();
  }

  /**
   * Between steps or prefill chunks. Resolves true when the signal has aborted; throws E_STATE when the
   * context was disposed or its engine closed meanwhile.
   */
  async pause(): Promise<boolean> {
    if (this.clock() - this.last >= this.everyMs) {
      await macrotask();
      this.yields++;
      this.last = this.clock();
    }
    this.guard?.check();
    return this.signal?.aborted ?? false;
  }
}

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
 * gets a turn. setImmediate where the host has it (Node, Bun: ~4 us); else a MessageChannel message
 * (browsers, where setTimeout(0) is clamped to 4 ms once nested); else setTimeout(0).
 */
function macrotask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown; MessageChannel?: typeof MessageChannel };
  return new Promise<void>((resolve) => {
    if (g.setImmediate) g.setImmediate(resolve);
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

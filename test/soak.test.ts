/**
 * Soak: a thousand generations with random options in one process (every decoder, greedy and sampled,
 * stop strings, long prompts prefilled in chunks, aborts, contexts reused or fresh and disposed in
 * random order, deliberate misuse). No exception but the expected SpaceErrors, and after the first
 * hundred no growth of the WebAssembly memory, the arena's high-water mark, or the JS heap after a GC.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Engine } from "../src/engine.js";
import { SpaceError } from "../src/errors.js";
import { generate, type GenerateOptions } from "../src/decode/generate.js";
import { buildDecoder, type DecoderSpec } from "../src/decode/decoders.js";
import { FULL_LAYOUT, LEAN_LAYOUT, maxExtraRows } from "../src/decode/space.js";
import { Rng } from "../src/util/rng.js";
import { tinyEngine } from "./helpers/engine.js";

const RUNS = 1000;
const WARM = 100;
const MASK = 150;
const BANNED = new Set([MASK]);
const MAX_PROMPT = 90; // > PREFILL_CHUNK (64): some prompts prefill in two chunks
const MAX_NEW = 24;
const CONTEXT = MAX_PROMPT + MAX_NEW;
const K_MAX = 4;
const EXTRA = maxExtraRows(K_MAX, FULL_LAYOUT); // the largest block any decoder here asks for

/** A full GC (V8's gc(), exposed at run time rather than with a flag on the test runner). */
function gcNow(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 41 });
});
afterAll(() => engine.close());

describe("soak", () => {
  it(`${RUNS} random generations: no unexpected exception, no growth after the first ${WARM}`, async () => {
    const rng = new Rng(2026);
    const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
    const before = engine.arena.used;
    const shared = engine.newContext(CONTEXT, EXTRA); // reused by some runs: each starts afresh
    let warm: { memory: number; peak: number; heap: number } | null = null;
    const seen = { runs: 0, aborts: 0, stops: 0, expectedErrors: 0, reused: 0 };

    for (let i = 0; i < RUNS; i++) {
      // The first run is the largest configuration (a spec draft context beside a full-size context), so
      // the high-water mark is reached before the warm-up ends.
      const kind = i === 0 ? "spec" : pick(["ar", "space", "lookup", "spec"] as const);
      const k = i === 0 ? K_MAX : int(1, K_MAX);
      const spec: DecoderSpec = {
        kind,
        k,
        ...(kind === "space" ? { mask: { token: MASK }, layout: pick([FULL_LAYOUT, LEAN_LAYOUT]) } : {}),
        ...(kind === "spec" ? { draftLayers: 1 } : {}),
      };
      const prompt = Array.from({ length: i === 0 ? MAX_PROMPT : int(1, MAX_PROMPT) }, () => int(3, 250));
      const maxTokens = int(0, MAX_NEW);
      const controller = new AbortController();
      const abortAt = rng.next() < 0.1 ? int(0, 5) : -1;
      if (abortAt === 0) controller.abort();
      let steps = 0;
      const opts: GenerateOptions = {
        maxTokens,
        sampling: rng.next() < 0.5 ? { temperature: 0, topK: 0, topP: 1 } : { temperature: 0.3 + 2 * rng.next(), topK: int(0, 20), topP: 0.5 + 0.5 * rng.next() },
        seed: int(0, 1e6),
        stop: rng.next() < 0.2 ? [String.fromCharCode(int(97, 122))] : [],
        banned: BANNED,
        signal: controller.signal,
        onStep: () => {
          if (++steps === abortAt) controller.abort();
        },
      };
      const decoder = buildDecoder(engine, spec, CONTEXT);
      const reuse = rng.next() < 0.3;
      const ctx = reuse ? shared : engine.newContext(CONTEXT, EXTRA);
      try {
        // Deliberate misuse now and then: a second generation on the busy context is an E_STATE error.
        const running = generate(ctx, prompt, decoder.proposer, opts);
        if (rng.next() < 0.05) {
          await expect(generate(ctx, prompt, decoder.proposer, opts)).rejects.toMatchObject({ code: "E_STATE" });
          seen.expectedErrors++;
        }
        const r = await running;
        expect(r.tokens.length).toBeLessThanOrEqual(maxTokens);
        expect(r.tokens).not.toContain(MASK);
        if (r.stopReason === "abort") seen.aborts++;
        if (r.stopReason === "stop") seen.stops++;
        seen.runs++;
        if (reuse) seen.reused++;
      } catch (e) {
        if (!(e instanceof SpaceError)) throw e;
        throw new Error(`run ${i} (${JSON.stringify({ kind, k, maxTokens, prompt: prompt.length })}): unexpected ${e.code}: ${e.message}`);
      } finally {
        // Disposal in either order (a spec decoder's draft context was created before ctx).
        if (rng.next() < 0.5) {
          if (!reuse) ctx.dispose();
          decoder.dispose();
        } else {
          decoder.dispose();
          if (!reuse) ctx.dispose();
        }
      }
      if (i + 1 === WARM) {
        gcNow();
        warm = { memory: engine.core.memory.buffer.byteLength, peak: engine.arena.peak, heap: process.memoryUsage().heapUsed };
      }
    }
    shared.dispose();
    gcNow();
    const end = { memory: engine.core.memory.buffer.byteLength, peak: engine.arena.peak, used: engine.arena.used, heap: process.memoryUsage().heapUsed };
    expect(seen.runs).toBe(RUNS);
    expect(seen.aborts).toBeGreaterThan(10);
    expect(seen.stops).toBeGreaterThan(5);
    expect(end.memory).toBe(warm!.memory);
    expect(end.peak).toBe(warm!.peak);
    expect(end.used).toBe(before); // every context's memory came back
    expect(end.heap - warm!.heap, `heap after GC grew from ${warm!.heap} to ${end.heap}`).toBeLessThan(4 * 2 ** 20);
  }, 300_000);
});

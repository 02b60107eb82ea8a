/**
 * The bench's contract: a BenchDecoder turns a prompt (token ids) into exactly `n` generated tokens and
 * reports wall-clock prefill and decode times, measured the same way for every engine:
 *   prefill = prompt in -> first generated token out (inclusive);  prefill tok/s = prompt tokens / prefill s
 *   decode  = the other n - 1 tokens;                              decode tok/s  = (n - 1) / decode s
 *   tau     = decode tokens per decode step (forward pass of the target): (n - 1) / decode steps
 * Generation never stops early (end-of-generation tokens are banned, or generated through), so every
 * engine does the same amount of work at the same context lengths.
 *
 * Every decoder runs in a process of its own (child.ts), so that its peak RSS is its own.
 */
import type { Engine } from "../engine.js";
import { buildDecoder, type BuiltDecoder, type DecoderSpec } from "../decode/decoders.js";
import { generate } from "../decode/generate.js";

export interface RunTiming {
  readonly prompt_tokens: number;
  readonly generated: number;
  readonly prefill_ms: number;
  readonly decode_ms: number;
  readonly prefill_tok_s: number;
  readonly decode_tok_s: number;
  /** Forward passes of the target after the first (NaN where the engine does not say). */
  readonly decode_steps: number;
  /** (generated - 1) / decode_steps. */
  readonly tau: number;
  /** Block rows T of each decode step, as {T: steps} (ours only): what cost(T) the bound needs. */
  readonly step_rows?: Record<string, number>;
  /** The generated ids (compared with our AR's; kept out of the JSON's run records). */
  readonly tokens: readonly number[];
}

export interface BenchDecoder {
  run(prompt: readonly number[], n: number): Promise<RunTiming>;
  /** Frees what the decoder allocated (not the engine it was given). */
  dispose(): void;
}

export function timing(
  promptTokens: number,
  tokens: readonly number[],
  prefillMs: number,
  decodeMs: number,
  decodeSteps: number,
  stepRows?: Record<string, number>,
): RunTiming {
  const decoded = tokens.length - 1;
  return {
    prompt_tokens: promptTokens,
    generated: tokens.length,
    prefill_ms: prefillMs,
    decode_ms: decodeMs,
    prefill_tok_s: (promptTokens * 1000) / prefillMs,
    decode_tok_s: (decoded * 1000) / decodeMs,
    decode_steps: decodeSteps,
    tau: decodeSteps > 0 ? decoded / decodeSteps : NaN,
    ...(stepRows ? { step_rows: stepRows } : {}),
    tokens,
  };
}

/**
 * One of our decoders (greedy, through the one generate loop) on a context sized for the longest prompt
 * + n. `banned` (end-of-generation ids and the mask token) are never emitted, so every run emits n tokens.
 */
export function ourDecoder(engine: Engine, spec: DecoderSpec, banned: ReadonlySet<number>, contextTokens: number): BenchDecoder {
  return benchDecoder(engine, buildDecoder(engine, spec, contextTokens), banned, contextTokens);
}

/** A decoder already built on `engine` (wireDecoder or buildDecoder) under the bench's contract; dispose() frees it too. */
export function benchDecoder(engine: Engine, built: BuiltDecoder, banned: ReadonlySet<number>, contextTokens: number): BenchDecoder {
  const ctx = engine.newContext(contextTokens, built.proposer.maxExtraRows);
  return {
    async run(prompt, n) {
      ctx.cache.truncate(0); // a fresh sequence every run
      const rows: Record<string, number> = {};
      let step = 0;
      const r = await generate(ctx, prompt, built.proposer, {
        maxTokens: n,
        banned,
        onStep: (s) => {
          if (++step > 1) rows[s.tokens.length] = (rows[s.tokens.length] ?? 0) + 1; // decode steps only
        },
      });
      if (r.tokens.length !== n) throw new Error(`${built.proposer.name}: generated ${r.tokens.length} tokens, expected ${n} (${r.stopReason})`);
      return timing(prompt.length, r.tokens, r.stats.prefill_ms, r.stats.decode_ms, r.stats.forward_passes - 1, rows);
    },
    dispose() {
      ctx.dispose();
      built.dispose();
    },
  };
}

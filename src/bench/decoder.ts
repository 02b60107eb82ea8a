/**
 * The bench's contract: a BenchDecoder turns a prompt (token ids) into exactly `n` generated tokens and
 * reports wall-clock prefill and decode times, measured the same way for every engine:
 *   prefill = prompt in -> first generated token out (inclusive);  prefill tok/s = prompt tokens / prefill s
 *   decode  = the other n - 1 tokens;                              decode tok/s  = (n - 1) / decode s
 * Generation never stops early (end-of-generation tokens are banned, or generated through), so every
 * engine does the same amount of work at the same context lengths.
 *
 * Issue 2 has two kinds: our AR decoding (one per weight storage) and the llama.cpp peer. Later decoders
 * (SPACE, draft-model speculation, prompt lookup) are more BenchDecoders over the same generate loop.
 */
import type { Engine } from "../engine.js";
import type { DecodingContext } from "../decode/generate.js";
import { generate } from "../decode/generate.js";
import { ArProposer } from "../decode/proposer.js";

export interface RunTiming {
  readonly prompt_tokens: number;
  readonly generated: number;
  readonly prefill_ms: number;
  readonly decode_ms: number;
  readonly prefill_tok_s: number;
  readonly decode_tok_s: number;
  /** The generated ids (kept out of the JSON; used to compare engines' greedy output). */
  readonly tokens: readonly number[];
}

export interface BenchDecoder {
  /** Stable key in the JSON, e.g. "ours-native". */
  readonly id: string;
  /** Human label for the table, e.g. "ours AR (native Q4_1 weights)". */
  readonly label: string;
  /** True for the engine every ratio is taken against. */
  readonly baseline: boolean;
  run(prompt: readonly number[], n: number): Promise<RunTiming>;
  /** Frees what the decoder allocated (not the engine it was given). */
  dispose(): void;
}

export function timing(promptTokens: number, tokens: readonly number[], prefillMs: number, decodeMs: number): RunTiming {
  return {
    prompt_tokens: promptTokens,
    generated: tokens.length,
    prefill_ms: prefillMs,
    decode_ms: decodeMs,
    prefill_tok_s: (promptTokens * 1000) / prefillMs,
    decode_tok_s: ((tokens.length - 1) * 1000) / decodeMs,
    tokens,
  };
}

/**
 * Our greedy AR decoding through the one generate loop (ArProposer), on a context sized for the longest
 * prompt + n. End-of-generation ids are banned so that every run emits exactly n tokens.
 */
export function ourArDecoder(engine: Engine, id: string, label: string, contextTokens: number): BenchDecoder {
  const ctx: DecodingContext & { dispose(): void } = engine.newContext(contextTokens, 0);
  const banned = engine.tokenizer.eogTokens;
  return {
    id,
    label,
    baseline: false,
    async run(prompt, n) {
      ctx.cache.truncate(0); // a fresh sequence every run
      const r = await generate(ctx, prompt, new ArProposer(), { maxTokens: n, banned });
      if (r.tokens.length !== n) throw new Error(`${id}: generated ${r.tokens.length} tokens, expected ${n} (${r.stopReason})`);
      return timing(prompt.length, r.tokens, r.stats.prefill_ms, r.stats.decode_ms);
    },
    dispose: () => ctx.dispose(),
  };
}

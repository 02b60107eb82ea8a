/**
 * A decoding context: the forward pass, a KV cache and the scratch buffers one generation runs on.
 * Engine.newContext makes them; the decoders (src/decode/) use them. Defined here, beside the model,
 * so the engine needs nothing from the decoders.
 */
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import type { Forward, Workspace } from "./forward.js";
import type { KVCache } from "./kvcache.js";
import type { ContextGuard } from "./lifecycle.js";

export interface DecodingContext {
  readonly forward: Forward;
  readonly cache: KVCache;
  readonly ws: Workspace;
  readonly tokenizer: Tokenizer;
  /** Prompt + generated tokens this context can hold. */
  readonly contextTokens: number;
  /** Engine.newContext's contexts: refuses concurrent, post-dispose and post-close use (E_STATE). */
  readonly guard?: ContextGuard;
}

/**
 * The server's one coupling to the model: loading, tokenizing and chat templates go through the public
 * API (src/api/), like `space generate`, so a greedy request gives the CLI's output. Generation reaches
 * one layer under it, for what the API does not offer: one decoding context that lives as long as the
 * server, so that the KV rows of a conversation's shared prefix are reused, and the decoder wired once
 * (decode/decoders.ts wireDecoder, the API's own builder).
 *
 * KV reuse: the cache keeps the rows of the previous request's tokens (prompt + output). A new request
 * that shares a prefix with them (the next turn of a conversation, the same system prompt) truncates the
 * cache to the longest common prefix and runs only the rest (generate's cachedPrefix). Batch invariance
 * makes the output identical to a run from an empty cache.
 */
import { fail } from "../errors.js";
import type { ChatMessage, DecoderKind, LayoutChoice, Model } from "../api/index.js";
import { generate, type DecodingContext, type GenerateResult } from "../decode/generate.js";
import { wireDecoder, type AttachedAdapter, type WiredDecoder } from "../decode/decoders.js";
import type { SamplingParams } from "../decode/sampling.js";
import type { NgramStore } from "../decode/ngramstore.js";

/** The decoder every request runs with, as `space generate` names its parts. */
export interface RunnerDecoder {
  readonly decoder?: DecoderKind; // default ar
  readonly k?: number;
  readonly maskToken?: number;
  readonly layout?: LayoutChoice;
  readonly draftLayers?: number;
  /** spec: a draft model with the same tokenizer (the caller owns it). */
  readonly draftModel?: Model;
  /** space: an adapter attached to the model's engine (src/node/adapter.ts). */
  readonly adapter?: AttachedAdapter;
  /** space, layouts that copy candidates: drafts of this n-gram store where the text has no match. */
  readonly store?: NgramStore;
}

export interface RunRequest {
  readonly prompt: readonly number[];
  readonly maxTokens: number;
  readonly sampling: SamplingParams;
  readonly seed: number;
  readonly stop: readonly string[];
  readonly signal: AbortSignal;
  readonly onText?: (text: string) => void;
}

export interface RunResult extends GenerateResult {
  /** Prompt tokens whose KV rows came from the previous request. */
  readonly cachedTokens: number;
  /** Steps that ran after the signal fired: 0 when an abort lands between steps. */
  readonly stepsAfterAbort: number;
  /** Milliseconds from the signal to the end of the run (null when not aborted). */
  readonly abortMs: number | null;
}

export class Runner {
  private readonly decoder: WiredDecoder;
  private readonly ctx: DecodingContext & { dispose(): void };
  /** The tokens whose KV rows are the cache's committed rows, in order. */
  private inCache: number[] = [];
  private busy = false;
  private disposed = false;

  constructor(
    private readonly model: Model,
    choice: RunnerDecoder,
    /** Prompt + generated tokens one request may use (sizes the one KV cache). */
    readonly contextTokens: number,
    /** false: every request runs its whole prompt (to compare against reuse). */
    private readonly reusePrefix = true,
  ) {
    const engine = model.engine;
    const kind = choice.decoder ?? "ar";
    this.decoder = wireDecoder(
      engine,
      {
        kind,
        k: choice.k,
        maskToken: choice.maskToken,
        layout: choice.layout,
        adapter: choice.adapter,
        store: choice.store,
        draftLayers: choice.draftLayers,
        draftEngine: choice.draftModel?.engine,
      },
      contextTokens,
    );
    try {
      this.ctx = engine.newContext(contextTokens, this.decoder.proposer.maxExtraRows);
    } catch (e) {
      this.decoder.dispose();
      throw e;
    }
  }

  get decoderName(): string {
    return this.decoder.proposer.name;
  }

  /** A completion prompt, as `space generate --prompt` encodes it. */
  encodeText(text: string): number[] {
    return this.model.tokenize(text);
  }

  /** Chat messages through the model's chat template, as `space generate --chat [--system]` encodes them. */
  encodeMessages(messages: readonly ChatMessage[]): number[] {
    return this.model.applyChatTemplate(messages);
  }

  /** Runs one request; one at a time (the queue in front guarantees it). */
  async run(req: RunRequest): Promise<RunResult> {
    if (this.disposed) fail("E_STATE", "the server's model is closed");
    if (this.busy) fail("E_STATE", "the runner is busy: requests must be queued");
    this.busy = true;
    const { cache } = this.ctx;
    let stepsAtAbort = -1;
    let abortedAt = 0;
    let steps = 0;
    const onAbort = () => {
      stepsAtAbort = steps;
      abortedAt = performance.now();
    };
    req.signal.addEventListener("abort", onAbort, { once: true });
    try {
      // At least one prompt token must run: its logits choose the first output token.
      const reuse = this.reusePrefix ? Math.min(commonPrefix(this.inCache, req.prompt), req.prompt.length - 1, cache.length) : 0;
      cache.truncate(reuse);
      this.inCache = this.inCache.slice(0, reuse);
      const result = await generate(this.ctx, req.prompt, this.decoder.proposer, {
        maxTokens: req.maxTokens,
        sampling: req.sampling,
        seed: req.seed,
        stop: req.stop,
        banned: this.decoder.banned,
        signal: req.signal,
        cachedPrefix: reuse,
        onText: req.onText,
        onStep: () => void steps++,
        yieldEvery: () => new Promise<void>((r) => setImmediate(r)),
      });
      // Committed rows hold prompt + output in order; a step that emitted past a stop string may have
      // committed rows of tokens the result does not list, so only the listed ones are known.
      const known = Math.min(cache.length, req.prompt.length + result.tokens.length);
      cache.truncate(known);
      this.inCache = [...req.prompt, ...result.tokens].slice(0, known);
      const aborted = stepsAtAbort >= 0;
      return { ...result, cachedTokens: reuse, stepsAfterAbort: aborted ? steps - stepsAtAbort : 0, abortMs: aborted ? performance.now() - abortedAt : null };
    } catch (e) {
      cache.truncate(0); // a failed run leaves rows we cannot vouch for
      this.inCache = [];
      throw e;
    } finally {
      req.signal.removeEventListener("abort", onAbort);
      this.busy = false;
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.dispose();
    this.decoder.dispose();
  }
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The public API of space-decoding, browser-safe: no Node-only import here or below (src/api/node.ts
 * adds files, the embedded model and worker threads for Node).
 *
 *   const model = await loadModel(ggufBytes, { wasm: { plain, relaxed } });
 *   const r = await model.generate("interface Foo {", { decoder: "space", maxTokens: 64, onText: write });
 *   r.text; r.ids; r.stopReason; r.stats.tau;
 *   model.dispose();
 *
 * A Model owns the WebAssembly memory its weights live in; one generation runs at a time on it
 * (another one started meanwhile is refused with E_STATE, never interleaved), and after dispose() every
 * call is refused with E_STATE. Errors are SpaceError with a stable `code` (src/errors.ts).
 */
import { SpaceError, fail } from "../errors.js";
import { Engine } from "../engine.js";
import { bytesSource, type ByteSource } from "../gguf/source.js";
import { metaGetter } from "../gguf/meta.js";
import { decodeAdapter } from "../model/adapter.js";
import type { ModelConfig } from "../model/config.js";
import type { WeightStorage } from "../model/weights.js";
import { instantiateCore, type CoreBytes, type CoreChoice } from "../wasm/core.js";
import type { Executor } from "../threads/executor.js";
import type { WasmCore } from "../wasm/core.js";
import { generate as runGenerate, type StopReason } from "../decode/generate.js";
import { attachAdapter, spaceMetadata, wireDecoder, type AttachedAdapter, type DecoderKind, type LayoutChoice } from "../decode/decoders.js";
import { checkSampling } from "../decode/sampling.js";
import { SpecProposer } from "../decode/spec.js";
import type { TraceStep } from "../decode/trace.js";
import { NgramStore } from "../decode/ngramstore.js";
import { chatTemplateInfo, encodeChat, type ChatMessage } from "../tokenizer/chat.js";

export { SpaceError, type ErrorCode } from "../errors.js";
export type { ByteSource } from "../gguf/source.js";
export type { ChatMessage, ChatRole } from "../tokenizer/chat.js";
export type { StopReason } from "../decode/generate.js";
export type { DecoderKind, LayoutChoice } from "../decode/decoders.js";
export { COPYING_LAYOUTS } from "../decode/decoders.js";
export type { TraceStep } from "../decode/trace.js";
export { NgramStore, type NgramStoreOptions, type StoreDraft } from "../decode/ngramstore.js";
export { distilledStore, parseDistilled, type DistilledExample } from "../decode/distilled.js";
export type { WeightStorage } from "../model/weights.js";
export type { ModelConfig } from "../model/config.js";

export type SimdChoice = CoreChoice;

/** The core's two builds as bytes (any typed array or buffer holding the .wasm file). */
export interface WasmBytes {
  readonly plain: ArrayBuffer | ArrayBufferView;
  readonly relaxed?: ArrayBuffer | ArrayBufferView;
}

export interface LoadOptions {
  /** The WebAssembly core's bytes: build/space-plain.wasm and, optionally, build/space-relaxed.wasm. */
  readonly wasm: WasmBytes;
  /** Which core: "auto" (relaxed SIMD where the runtime has it, the default), "plain" or "relaxed". */
  readonly simd?: SimdChoice;
  /** Weights in memory: "native" (as stored, the default), "f32" (panels: exact, faster), "f32-rows", "bf16", or "q8" / "q4" (lossy). */
  readonly weights?: WeightStorage;
  /** A base-preserving SPACE adapter GGUF (spec/adapter.md) for this model: enables decoder "space". */
  readonly adapter?: Uint8Array | ByteSource;
  /**
   * The model file's SHA-256 (lowercase hex), checked against the adapter's base. Default: hashed here
   * from the model's bytes (Web Crypto), which reads the whole model once more.
   */
  readonly modelSha256?: string;
  /** Builds the executor that runs the kernels (e.g. a worker pool); default: the calling thread. */
  readonly executor?: (core: WasmCore) => Executor;
}

/** Loads a GGUF model (bytes or a random-access ByteSource) and, optionally, its SPACE adapter. */
export async function loadModel(model: Uint8Array | ByteSource, opts: LoadOptions): Promise<Model> {
  if (opts === undefined || opts.wasm === undefined) fail("E_ARGS", "loadModel needs options.wasm: the WebAssembly core's bytes ({ plain, relaxed? })");
  const source = asSource(model, "model");
  const { plain, relaxed } = opts.wasm;
  const isBytes = (b: unknown) => b instanceof ArrayBuffer || ArrayBuffer.isView(b);
  if (!isBytes(plain) || (relaxed !== undefined && !isBytes(relaxed))) fail("E_ARGS", "options.wasm.plain (and .relaxed) must be the .wasm files' bytes (an ArrayBuffer or a typed array)");
  const core = await instantiateCore({ plain, relaxed } as CoreBytes, opts.simd ?? "auto");
  const engine = Engine.load(core, source, { weights: opts.weights, executor: opts.executor });
  try {
    let adapter: AttachedAdapter | undefined;
    if (opts.adapter !== undefined) {
      const a = asSource(opts.adapter, "adapter");
      const data = decodeAdapter(a.read(0, a.byteLength), a.name);
      adapter = attachAdapter(engine, data, opts.modelSha256 ?? (await sha256Hex(source)), source.name);
    }
    return new Model(engine, adapter);
  } catch (e) {
    engine.close();
    throw e;
  }
}

function asSource(x: Uint8Array | ByteSource, label: string): ByteSource {
  if (x instanceof Uint8Array) return bytesSource(label, x);
  if (x === null || typeof x !== "object" || typeof x.read !== "function" || !Number.isSafeInteger(x.byteLength)) {
    fail("E_ARGS", `the ${label} must be a Uint8Array or a ByteSource ({ name, byteLength, read(offset, length) })`);
  }
  return x;
}

async function sha256Hex(source: ByteSource): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) fail("E_ARGS", "Web Crypto is unavailable here: pass options.modelSha256 to check the adapter's base");
  const bytes = source.read(0, source.byteLength);
  const digest = new Uint8Array(await subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A prompt: text (tokenized as is), chat messages (rendered by the model's chat template), or token ids. */
export type Prompt = string | readonly ChatMessage[] | readonly number[];

export interface GenerateOptions {
  /** Tokens to generate at most (default 128). */
  readonly maxTokens?: number;
  /** "ar" (default), "space" (SPACE), "lookup" (prompt lookup) or "spec" (draft-model speculation). */
  readonly decoder?: DecoderKind;
  /** Candidates per step (space, spec, lookup). Default: the adapter's or the model's k, else 5. */
  readonly k?: number;
  /** space: the mask token id (default: the model's space.mask_token_id). Never emitted, by any decoder. */
  readonly maskToken?: number;
  /** space: "full" (the paper's layout, default), "lean", "tail", "hybrid", or "auto" (a cost model picks k and layout per step, prompt-lookup candidates at a match, or a plain AR step); spec/space.md. */
  readonly layout?: LayoutChoice;
  /**
   * space, layout "auto" or "hybrid": an n-gram store (NgramStore.build over token sequences the model
   * wrote on other prompts) that drafts candidates where the text has no 3-token match to copy.
   */
  readonly store?: NgramStore;
  /** spec: the draft is the model's first N layers plus its output head. */
  readonly draftLayers?: number;
  /** spec: a draft model with the same tokenizer (loaded by the caller, who disposes it). */
  readonly draftModel?: Model;
  /** 0 = greedy (default). Every decoder's output has exactly AR's distribution. */
  readonly temperature?: number;
  readonly topK?: number; // 0 = off (default)
  readonly topP?: number; // 1 = off (default)
  readonly seed?: number; // default 0
  /** Output ends before the first occurrence of any of these. */
  readonly stop?: readonly string[];
  /** Prompt + generated tokens the context holds (default: prompt + maxTokens, at most the model's). */
  readonly contextSize?: number;
  /** Treat special-token text (e.g. `<|im_start|>`) in a text prompt or message contents as special tokens (default false). */
  readonly parseSpecial?: boolean;
  /** Ends the generation within one step; the result's stopReason is then "abort". */
  readonly signal?: AbortSignal;
  /** Streaming: text as soon as it is complete UTF-8 and cannot be part of a stop string. */
  readonly onText?: (text: string) => void;
  /** One record per step (spec/trace.md): block, candidates, accepted, emitted. */
  readonly onStep?: (step: TraceStep) => void;
}

export interface GenerationStats {
  /** Tokens per forward pass of the model (tau; 1 for ar). */
  readonly tau: number;
  /** Steps: forward passes that each verified candidates and emitted 1..k+1 tokens. */
  readonly forwardPasses: number;
  /** Extra passes that ran a long prompt's leading chunks. */
  readonly prefillPasses: number;
  /** spec only: the draft model's forward passes. */
  readonly draftPasses?: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** Tokens emitted after the first step per decode second. */
  readonly tokensPerSecond: number;
  /** [n] = steps that accepted n candidates. */
  readonly acceptHistogram: readonly number[];
  /** Per candidate source ("masks", "lookup", ...): alpha_j = P(c_j accepted | c_1..c_{j-1} accepted), j = 1.. */
  readonly alpha: Readonly<Record<string, readonly number[]>>;
}

export interface GenerationResult {
  readonly text: string;
  /** Generated token ids (an end-of-generation token included when it ended the output). */
  readonly ids: number[];
  /** The prompt's token ids as the model saw them. */
  readonly promptIds: number[];
  readonly stopReason: StopReason;
  readonly decoder: DecoderKind;
  readonly stats: GenerationStats;
}

/** What the model file says about itself. */
export interface ModelInfo {
  readonly name: string;
  readonly config: ModelConfig;
  readonly vocabSize: number;
  readonly weights: WeightStorage;
  readonly weightBytes: number;
  readonly simd: "plain" | "relaxed";
  readonly threads: number;
  /** The model's SPACE mask token and k (space.* metadata, or the adapter's), if any. */
  readonly space: { readonly maskToken?: number; readonly k?: number; readonly adapter: boolean };
  /** Whether chat messages can be rendered (a ChatML tokenizer.chat_template). */
  readonly chat: boolean;
}

export class Model {
  private disposed = false;
  private running: AbortController | null = null;

  /** @internal Use loadModel (or loadModelFile from the Node entry). */
  constructor(
    /** The engine underneath (advanced: contexts, forward passes). Owned by this Model. */
    readonly engine: Engine,
    private readonly adapter: AttachedAdapter | undefined,
  ) {}

  get info(): ModelInfo {
    this.alive("info");
    const e = this.engine;
    const meta = spaceMetadata(e);
    return {
      name: e.file.name,
      config: e.config,
      vocabSize: e.tokenizer.vocabSize,
      weights: e.storage,
      weightBytes: e.weights.bytes,
      simd: e.core.build,
      threads: e.executor.threads,
      space: {
        maskToken: this.adapter?.maskToken ?? meta.maskToken,
        k: this.adapter?.k ?? meta.k,
        adapter: this.adapter !== undefined,
      },
      chat: this.chatTemplate() !== null,
    };
  }

  /** Text to token ids (BOS as the model's metadata says). */
  tokenize(text: string, opts: { parseSpecial?: boolean } = {}): number[] {
    this.alive("tokenize");
    const tok = this.engine.tokenizer;
    return tok.encode(text, { parseSpecial: opts.parseSpecial ?? false, addBos: tok.addBos });
  }

  /** Token ids to text. */
  detokenize(ids: readonly number[]): string {
    this.alive("detokenize");
    const V = this.engine.tokenizer.vocabSize;
    for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) fail("E_ARGS", `token id ${id} is outside the vocabulary [0, ${V})`);
    return this.engine.tokenizer.decode(ids);
  }

  /** Chat messages as the model's chat template renders them, generation prompt included, as token ids. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: { parseSpecial?: boolean } = {}): number[] {
    this.alive("applyChatTemplate");
    const template = this.chatTemplate();
    if (template === null) fail("E_UNSUPPORTED", `${this.engine.file.name} has no ChatML chat template (tokenizer.chat_template): give a text prompt`);
    if (!Array.isArray(messages) || messages.length === 0) fail("E_ARGS", "chat messages must be a non-empty array of { role, content }");
    return encodeChat(this.engine.tokenizer, messages, { addGenerationPrompt: true, defaultSystem: template.defaultSystem, parseSpecial: opts.parseSpecial ?? false });
  }

  /** Generates from a prompt; resolves when the output ends (see GenerationResult.stopReason). */
  async generate(prompt: Prompt, opts: GenerateOptions = {}): Promise<GenerationResult> {
    this.alive("generate");
    if (this.running) fail("E_STATE", "a generation is already running on this model: await it (or abort it) first, or load another Model");
    const promptIds = this.promptIds(prompt, opts);
    const sampling = { temperature: opts.temperature ?? 0, topK: opts.topK ?? 0, topP: opts.topP ?? 1 };
    checkSampling(sampling);
    const maxTokens = opts.maxTokens ?? 128;
    if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) fail("E_ARGS", `maxTokens must be a non-negative integer, got ${maxTokens}`);
    if (opts.stop !== undefined && !(Array.isArray(opts.stop) && opts.stop.every((s) => typeof s === "string" && s.length > 0))) {
      fail("E_ARGS", "stop must be an array of non-empty strings");
    }
    if (opts.draftModel !== undefined) {
      if (!(opts.draftModel instanceof Model)) fail("E_ARGS", "draftModel must be a Model (loadModel)");
      opts.draftModel.alive("generate (as the draft model)");
      if (opts.draftModel === this) fail("E_ARGS", "the draft model must be another Model than the target (or use draftLayers)");
    }
    const engine = this.engine;
    const contextTokens = opts.contextSize ?? Math.min(engine.config.contextLength, promptIds.length + maxTokens);
    const kind = opts.decoder ?? "ar";
    const decoder = wireDecoder(
      engine,
      {
        kind,
        k: opts.k,
        maskToken: opts.maskToken,
        layout: opts.layout,
        adapter: kind === "space" && opts.maskToken === undefined ? this.adapter : undefined,
        draftLayers: opts.draftLayers,
        draftEngine: opts.draftModel?.engine,
        store: opts.store,
      },
      contextTokens,
    );
    // One controller per generation: the caller's signal and dispose() both end it.
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts.signal?.addEventListener("abort", onAbort);
    if (opts.signal?.aborted) controller.abort();
    this.running = controller;
    try {
      const ctx = engine.newContext(contextTokens, decoder.proposer.maxExtraRows);
      try {
        const r = await runGenerate(ctx, promptIds, decoder.proposer, {
          maxTokens,
          sampling,
          seed: opts.seed ?? 0,
          stop: opts.stop ?? [],
          banned: decoder.banned,
          signal: controller.signal,
          onText: opts.onText,
          onStep: opts.onStep,
          yieldEvery: yieldToHost,
        });
        const s = r.stats;
        const proposer = decoder.proposer;
        return {
          text: r.text,
          ids: r.tokens,
          promptIds,
          stopReason: r.stopReason,
          decoder: kind,
          stats: {
            tau: s.tokens_per_forward,
            forwardPasses: s.forward_passes,
            prefillPasses: s.prefill_passes,
            ...(proposer instanceof SpecProposer ? { draftPasses: proposer.draftPasses } : {}),
            prefillMs: s.prefill_ms,
            decodeMs: s.decode_ms,
            tokensPerSecond: s.tokens_per_second,
            acceptHistogram: s.accept_histogram,
            alpha: s.alpha,
          },
        };
      } finally {
        ctx.dispose();
      }
    } finally {
      decoder.dispose();
      opts.signal?.removeEventListener("abort", onAbort);
      this.running = null;
      if (this.disposed) this.engine.close();
    }
  }

  /** Whether dispose() was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Frees the model (worker threads, its WebAssembly memory once unreferenced). A generation in flight
   * ends with stopReason "abort" and the model closes after it. Calling dispose() again does nothing.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.running) this.running.abort();
    else this.engine.close();
  }

  private alive(what: string): void {
    if (this.disposed) fail("E_STATE", `${what}: this model was disposed; load it again`);
  }

  private chatTemplate(): { defaultSystem: string | null } | null {
    const t = metaGetter(this.engine.file)("tokenizer.chat_template");
    return chatTemplateInfo(typeof t === "string" ? t : undefined);
  }

  private promptIds(prompt: Prompt, opts: GenerateOptions): number[] {
    if (typeof prompt === "string") {
      if (prompt.length === 0) fail("E_ARGS", "the prompt is empty");
      return this.tokenize(prompt, { parseSpecial: opts.parseSpecial });
    }
    if (!Array.isArray(prompt)) fail("E_ARGS", "the prompt must be a string, an array of chat messages or an array of token ids");
    if (prompt.length === 0) fail("E_ARGS", "the prompt is empty");
    if (prompt.every((x) => typeof x === "number")) {
      if (opts.parseSpecial !== undefined) fail("E_ARGS", "parseSpecial applies to text and chat prompts, not token ids");
      const ids = prompt as readonly number[];
      const V = this.engine.tokenizer.vocabSize;
      for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) fail("E_ARGS", `prompt token id ${id} is outside the vocabulary [0, ${V})`);
      return [...ids];
    }
    return this.applyChatTemplate(prompt as readonly ChatMessage[], { parseSpecial: opts.parseSpecial });
  }
}

/** Lets the host's event loop run between steps (abort signals, I/O, rendering) without a timer's delay. */
function yieldToHost(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  if (immediate) return new Promise<void>((resolve) => void immediate(resolve));
  return new Promise<void>((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

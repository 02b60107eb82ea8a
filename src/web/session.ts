/**
 * The browser build's one coupling to the library: a model loaded through the public API (src/api/) from
 * bytes the page fetched or the user chose, with worker threads when the page allows them, and greedy
 * AR or SPACE runs with a per-step callback. Everything else in src/web/ goes through this module.
 */
import { fail } from "../errors.js";
import { COPYING_LAYOUTS, distilledStore, type GenerationResult, type LayoutChoice, type Model, type NgramStore, type SimdChoice, type TraceStep, type WasmBytes } from "../api/index.js";
import type { ByteSource } from "../gguf/source.js";
import { loadBrowserModel } from "./index.js";

export type WebDecoder = "ar" | "space";
/** The layouts the page offers: every one the library has (their steps are drawable: test/web.steps.test.ts). */
export const LAYOUT_CHOICES: readonly LayoutChoice[] = ["full", "lean", "tail", "hybrid", "auto"];

export interface RunOptions {
  readonly decoder: WebDecoder;
  readonly maxTokens: number;
  /** space: "full" (the paper's, the default), "lean", "tail", "hybrid" or "auto" (the cost model's choice per step). */
  readonly layout?: LayoutChoice;
  readonly onStep?: (step: TraceStep) => void;
}

export interface ModelInfo {
  readonly name: string;
  readonly layers: number;
  readonly dModel: number;
  readonly vocab: number;
  readonly k: number | null; // SPACE candidates per step (metadata or adapter); null: no SPACE mask
  readonly maskToken: number | null;
  readonly adapter: boolean;
  readonly chat: boolean; // the model has a chat template
  readonly build: string; // "plain" | "relaxed"
  readonly threads: number;
  readonly store: string | null; // the n-gram store's file and size, e.g. "F.jsonl.gz (250k positions)"; null: none
  readonly copyingLayouts: readonly LayoutChoice[]; // the layouts the store drafts for
}

export interface SessionOptions {
  readonly wasm: WasmBytes;
  readonly simd?: SimdChoice;
  /** More than one needs a cross-origin isolated page and a worker (src/web/threads.ts). */
  readonly threads?: number;
  /** A base-preserving SPACE adapter for this model (its base's SHA-256 is checked). */
  readonly adapter?: ByteSource;
  /**
   * A distilled JSONL file's text (decode/distilled.ts) and its name: an n-gram store of text this model
   * wrote on other prompts, whose drafts the layouts that copy candidates (auto, hybrid) verify.
   */
  readonly store?: { readonly text: string; readonly name: string };
}

export class WebSession {
  private constructor(
    private readonly model: Model,
    readonly info: ModelInfo,
    private readonly store: NgramStore | undefined,
  ) {}

  static async load(source: ByteSource, opts: SessionOptions): Promise<WebSession> {
    const model = await loadBrowserModel(source, {
      wasm: opts.wasm,
      simd: opts.simd ?? "auto",
      threads: opts.threads ?? 1,
      ...(opts.adapter ? { adapter: opts.adapter } : {}),
    });
    try {
      const i = model.info;
      const store = opts.store ? { ngrams: distilledStore(opts.store.text, opts.store.name, i.vocabSize), name: opts.store.name } : undefined;
      const info: ModelInfo = {
        name: i.name,
        layers: i.config.nLayers,
        dModel: i.config.dModel,
        vocab: i.vocabSize,
        k: i.space.maskToken === undefined ? null : (i.space.k ?? null),
        maskToken: i.space.maskToken ?? null,
        adapter: i.space.adapter,
        chat: i.chat,
        build: i.simd,
        threads: i.threads,
        store: store ? `${store.name} (${Math.round(store.ngrams.positions / 1000)}k positions)` : null,
        copyingLayouts: COPYING_LAYOUTS,
      };
      return new WebSession(model, info, store?.ngrams);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** The prompt's token ids (chat: the model's chat template, the assistant turn opened). */
  encode(text: string, chat = false): number[] {
    if (text === "") fail("E_ARGS", "the prompt is empty");
    return chat ? this.model.applyChatTemplate([{ role: "user", content: text }]) : this.model.tokenize(text);
  }

  /** Every token's text, by id (special tokens as their text): what the page labels blocks with. */
  tokenTexts(): string[] {
    return Array.from({ length: this.info.vocab }, (_, id) => this.model.detokenize([id]));
  }

  /**
   * One greedy run. AR and SPACE ban the same mask token, so their outputs compare token for token. The
   * n-gram store, if any, drafts for the layouts that copy candidates (COPYING_LAYOUTS) and sits out the others.
   */
  async run(prompt: readonly number[], opts: RunOptions): Promise<GenerationResult> {
    if (opts.decoder === "space" && this.info.maskToken === null) {
      fail("E_ARGS", `${this.info.name} has no SPACE mask (no space.mask_token_id and no adapter): only AR can run`);
    }
    const layout = opts.layout ?? "full";
    if (!LAYOUT_CHOICES.includes(layout)) fail("E_ARGS", `unknown layout "${String(layout)}" (${LAYOUT_CHOICES.join(", ")})`);
    return this.model.generate(prompt, {
      decoder: opts.decoder,
      maxTokens: opts.maxTokens,
      ...(opts.decoder === "space" ? { layout } : {}),
      ...(opts.decoder === "space" && this.store && COPYING_LAYOUTS.includes(layout) ? { store: this.store } : {}),
      onStep: opts.onStep,
    });
  }

  /** Kernel calls split across worker threads so far (0 on one thread): shows that the pool really runs. */
  parallelCalls(): number {
    return this.model.engine.executor.counters.parallelCalls;
  }

  close(): void {
    this.model.dispose();
  }
}

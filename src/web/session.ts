/**
 * The browser build's one coupling to the engine and the decoders: load a model (and optionally a
 * base-preserving SPACE adapter) from bytes, then run AR or SPACE on a prompt with a per-step callback.
 * Everything else in src/web/ goes through this module, so that moving onto the public API (src/api/)
 * changes this file only.
 */
import { fail } from "../errors.js";
import { Engine } from "../engine.js";
import type { ByteSource } from "../gguf/source.js";
import { metaGetter } from "../gguf/meta.js";
import { checkAdapterBase, decodeAdapter, loadLora, LoraRows, maskVectors } from "../model/adapter.js";
import { bannedIds, buildDecoder, type DecoderSpec } from "../decode/decoders.js";
import { generate, type GenerateResult } from "../decode/generate.js";
import { FULL_LAYOUT, LAYOUTS, MAX_K, maxExtraRows, type SpaceMask } from "../decode/space.js";
import type { TraceStep } from "../decode/trace.js";
import { encodeChat } from "../tokenizer/chat.js";
import type { WasmCore } from "../wasm/core.js";
import { browserExecutor } from "./threads.js";
import { sha256Hex } from "./sources.js";

export type WebDecoder = "ar" | "space";

export interface RunOptions {
  readonly decoder: WebDecoder;
  readonly maxTokens: number;
  /** Wrap the prompt in the model's chat template (SmolLM2-Instruct). */
  readonly chat?: boolean;
  /** space: "full" (the paper's) or "lean". */
  readonly layout?: string;
  readonly onStep?: (step: TraceStep) => void;
  /** Called between steps: return a promise to let the host's event loop run (messages, painting). */
  readonly yieldEvery?: () => Promise<void> | void;
}

export interface ModelInfo {
  readonly name: string;
  readonly layers: number;
  readonly dModel: number;
  readonly vocab: number;
  readonly k: number | null; // SPACE candidates per step (metadata or adapter); null: no SPACE mask
  readonly maskToken: number | null;
  readonly adapter: boolean;
  readonly build: string; // "plain" | "relaxed"
  readonly threads: number;
}

export class WebSession {
  private constructor(
    readonly engine: Engine,
    private readonly mask: SpaceMask | null,
    private readonly k: number | null,
    readonly info: ModelInfo,
  ) {}

  /**
   * Loads `model` onto `core` with `threads` threads (more than one needs a cross-origin isolated page
   * and a worker: src/web/threads.ts). With `adapter`, SPACE uses its mask vectors and LoRA; it must
   * name this base model's SHA-256.
   */
  static async load(core: WasmCore, model: ByteSource & { bytes: Uint8Array }, opts: { threads?: number; adapter?: ByteSource & { bytes: Uint8Array } } = {}): Promise<WebSession> {
    const threads = opts.threads ?? 1;
    const baseSha = opts.adapter ? await sha256Hex(model.bytes) : "";
    const executor = await browserExecutor(core, threads);
    let engine: Engine;
    try {
      engine = Engine.load(core, model, { executor: () => executor });
    } catch (e) {
      executor.close();
      throw e;
    }
    try {
      let mask: SpaceMask | null = null;
      let k: number | null = null;
      if (opts.adapter) {
        const data = decodeAdapter(opts.adapter.bytes, opts.adapter.name);
        checkAdapterBase(data, engine.config, baseSha, model.name);
        k = data.meta.k;
        const lora = new LoraRows(engine.core, engine.arena, loadLora(engine.arena, engine.config, data), maxExtraRows(k, FULL_LAYOUT), engine.config);
        mask = { token: data.meta.maskToken, embeddings: maskVectors(data), lora };
      } else {
        const meta = spaceMetadata(engine);
        if (meta.maskToken !== undefined) {
          mask = { token: meta.maskToken };
          k = meta.k ?? 4;
        }
      }
      if (k !== null && k > MAX_K) fail("E_MODEL", `${model.name}: SPACE k ${k} exceeds ${MAX_K}`);
      const info: ModelInfo = {
        name: model.name,
        layers: engine.config.nLayers,
        dModel: engine.config.dModel,
        vocab: engine.config.vocabSize,
        k,
        maskToken: mask?.token ?? null,
        adapter: opts.adapter !== undefined,
        build: core.build,
        threads: engine.executor.threads,
      };
      return new WebSession(engine, mask, k, info);
    } catch (e) {
      engine.close();
      throw e;
    }
  }

  /** The prompt's token ids (chat: in the model's chat template, with the assistant turn opened). */
  encode(text: string, chat = false): number[] {
    const tok = this.engine.tokenizer;
    if (text === "") fail("E_ARGS", "the prompt is empty");
    return chat ? encodeChat(tok, [{ role: "user", content: text }], { addGenerationPrompt: true }) : tok.encode(text, { addBos: tok.addBos });
  }

  /** Every token's text, by id (special tokens as their text): what the page labels blocks with. */
  tokenTexts(): string[] {
    const tok = this.engine.tokenizer;
    return Array.from({ length: tok.vocabSize }, (_, id) => tok.decode([id]));
  }

  /** One greedy run. AR and SPACE ban the same mask token, so their outputs are comparable token for token. */
  async run(prompt: readonly number[], opts: RunOptions): Promise<GenerateResult> {
    const { engine } = this;
    if (opts.decoder === "space" && (this.mask === null || this.k === null)) {
      fail("E_ARGS", `${this.info.name} has no SPACE mask (no space.mask_token_id and no adapter): only AR can run`);
    }
    const layoutName = opts.layout ?? "full";
    const layout = LAYOUTS[layoutName];
    if (!layout) fail("E_ARGS", `unknown layout "${layoutName}" (${Object.keys(LAYOUTS).join(", ")})`);
    const spec: DecoderSpec = opts.decoder === "space" ? { kind: "space", k: this.k!, mask: this.mask!, layout } : { kind: "ar", k: 1 };
    const contextTokens = Math.min(engine.config.contextLength, prompt.length + opts.maxTokens);
    const built = buildDecoder(engine, spec, contextTokens);
    const ctx = engine.newContext(contextTokens, built.proposer.maxExtraRows);
    try {
      return await generate(ctx, prompt, built.proposer, {
        maxTokens: opts.maxTokens,
        banned: bannedIds(engine, this.mask?.token),
        onStep: opts.onStep,
        yieldEvery: opts.yieldEvery,
      });
    } finally {
      ctx.dispose();
      built.dispose();
    }
  }

  close(): void {
    this.engine.close();
  }
}

/** space.mask_token_id and space.k of a SAR-SFT model (the embedded one has them); undefined where absent. */
function spaceMetadata(engine: Engine): { maskToken?: number; k?: number } {
  const get = metaGetter(engine.file);
  const int = (key: string, max: number): number | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= max) fail("E_MODEL", `${engine.file.name}: metadata ${key} must be an integer in [0, ${max}), got ${String(v)}`);
    return n;
  };
  return { maskToken: int("space.mask_token_id", engine.config.vocabSize), k: int("space.k", 1 << 16) };
}

/**
 * The engine: a loaded model (config, weights in WebAssembly memory, tokenizer) plus the executor that
 * runs its kernels. No Node-only APIs here: the caller supplies the WebAssembly core, the model bytes
 * (a ByteSource) and, for threads, an executor factory (src/node/ has the Node edges).
 */
import { fail } from "./errors.js";
import { readGGUF, metaGetter, type GGUFFile } from "./gguf/reader.js";
import type { ByteSource } from "./gguf/source.js";
import { tokenizerFromMetadata, type Tokenizer } from "./tokenizer/tokenizer.js";
import { Arena } from "./wasm/arena.js";
import type { WasmCore } from "./wasm/core.js";
import { configFromMetadata, type ModelConfig } from "./model/config.js";
import { loadWeights, type ModelWeights, type WeightStorage } from "./model/weights.js";
import { Forward, Workspace, PREFILL_CHUNK } from "./model/forward.js";
import { KVCache } from "./model/kvcache.js";
import { LocalExecutor, type Executor } from "./threads/executor.js";
import type { DecodingContext } from "./model/context.js";
import { ArenaRegions } from "./wasm/regions.js";
import { ContextGuard, GuardedExecutor, checkOpen } from "./model/lifecycle.js";

export interface EngineOptions {
  readonly weights?: WeightStorage; // default "native"
  /** The same weights in more storages, loaded beside them (Engine.weightsIn); default none. */
  readonly alsoWeights?: readonly WeightStorage[];
  /** Builds the executor (e.g. a worker pool); default: everything on the calling thread. */
  readonly executor?: (core: WasmCore) => Executor;
}

export class Engine {
  /** Read by every context's guards: a closed engine refuses work (E_STATE) instead of hanging. */
  private readonly state = { closed: false };
  /** Contexts' memory, given back in any order. */
  private readonly regions: ArenaRegions;
  /** What contexts run their kernels on: the executor, refusing work once the engine is closed. */
  private readonly guarded: GuardedExecutor;

  private constructor(
    readonly file: GGUFFile,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly core: WasmCore,
    readonly arena: Arena,
    readonly weights: ModelWeights,
    readonly executor: Executor,
    readonly storage: WeightStorage,
    private readonly also: ReadonlyMap<WeightStorage, ModelWeights>,
  ) {
    this.regions = new ArenaRegions(arena);
    this.guarded = new GuardedExecutor(executor, this.state);
  }

  static load(core: WasmCore, source: ByteSource, opts: EngineOptions = {}): Engine {
    const file = readGGUF(source);
    const get = metaGetter(file);
    const config = configFromMetadata(get, file.name);
    const tokenizer = tokenizerFromMetadata(get);
    if (tokenizer.vocabSize !== config.vocabSize) {
      fail("E_MODEL", `${file.name}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${config.vocabSize}`);
    }
    const arena = new Arena(core);
    const storage = opts.weights ?? "native";
    const weights = loadWeights(file, source, core, arena, config, storage);
    const also = new Map<WeightStorage, ModelWeights>();
    for (const s of opts.alsoWeights ?? []) if (s !== storage && !also.has(s)) also.set(s, loadWeights(file, source, core, arena, config, s));
    const executor = opts.executor ? opts.executor(core) : new LocalExecutor(core.exports);
    return new Engine(file, config, tokenizer, core, arena, weights, executor, storage, also);
  }

  /**
   * Allocates a KV cache of `contextTokens` committed rows plus room for one block, and the scratch
   * buffers a block needs: blocks hold up to PREFILL_CHUNK pending tokens plus `extraRows` proposer rows
   * (candidates, mask groups), and need logits for at most extraRows + 1 rows. Call `dispose()` on the
   * result to give the memory back (in any order: see ArenaRegions). One generation at a time runs on a
   * context, and each starts from an empty KV cache; a disposed context or a closed engine is an E_STATE
   * error (model/lifecycle.ts).
   *
   * `layers` (default: all) runs only the first `layers` transformer layers, then the output norm and
   * head: the layer-skipping self-draft of speculative decoding. Its KV cache holds just those layers.
   */
  newContext(contextTokens: number, extraRows: number, opts: { layers?: number } = {}): DecodingContext & { dispose(): void } {
    const layers = opts.layers ?? this.config.nLayers;
    if (!(Number.isInteger(layers) && layers >= 1 && layers <= this.config.nLayers)) {
      fail("E_ARGS", `draft layers must be an integer in [1, ${this.config.nLayers}] (the model's layers), got ${layers}`);
    }
    const cfg: ModelConfig = layers === this.config.nLayers ? this.config : { ...this.config, nLayers: layers };
    const weights: ModelWeights = layers === this.config.nLayers ? this.weights : { ...this.weights, layers: this.weights.layers.slice(0, layers) };
    if (!(Number.isInteger(contextTokens) && contextTokens > 0)) fail("E_ARGS", `context size must be a positive integer, got ${contextTokens}`);
    if (contextTokens > cfg.contextLength) {
      fail("E_CONTEXT", `${contextTokens} tokens exceed the model's context of ${cfg.contextLength}`);
    }
    checkOpen(this.state);
    const capacity = contextTokens + extraRows + 1;
    const maxT = PREFILL_CHUNK + extraRows;
    const { value, region } = this.regions.carve(() => {
      const cache = new KVCache(this.arena, this.core.memory, cfg.nLayers, cfg.nKvHeads * cfg.headDim, capacity);
      const ws = new Workspace(this.arena, cfg, { maxT, maxKeys: capacity, maxLogitRows: extraRows + 1, threads: this.executor.threads });
      const forward = new Forward(this.core, this.arena, cfg, weights, this.guarded);
      return { cache, ws, forward };
    });
    const guard = new ContextGuard(this.state, () => this.regions.release(region));
    return { ...value, tokenizer: this.tokenizer, contextTokens, guard, dispose: () => guard.dispose() };
  }

  /**
   * The weights in `storage`: the engine's own, or a copy loaded beside them (EngineOptions.alsoWeights).
   * The adapter trainer runs the frozen prefix on "q4" panels (the decoder's storage, several times
   * faster) while its backward reads the engine's f32 rows.
   */
  weightsIn(storage: WeightStorage): ModelWeights {
    checkOpen(this.state);
    if (storage === this.storage) return this.weights;
    const w = this.also.get(storage);
    if (!w) fail("E_ARGS", `the engine holds no ${storage} weights (load it with alsoWeights: ["${storage}"])`);
    return w;
  }

  get closed(): boolean {
    return this.state.closed;
  }

  /** Stops the worker threads. Idempotent; afterwards every context's next step is an E_STATE error. */
  close(): void {
    if (this.state.closed) return;
    this.state.closed = true;
    this.executor.close();
  }
}

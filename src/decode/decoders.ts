/**
 * Builds a decoder (a Proposer for the one generate loop): the one wiring that the public API
 * (src/api/), `space generate --decoder` and `space bench` share. Two levels:
 *  - wireDecoder(engine, choice): from what a user says (decoder kind, optional k, mask token, layout
 *    name, adapter, draft) with the model's own SPACE metadata as defaults; gives the proposer, the ids
 *    no decoder may emit, and what to free;
 *  - buildDecoder(engine, spec): from fully resolved settings.
 * Callers read files first (an adapter's bytes, a draft model's engine); this module only wires them,
 * so it has no Node-only imports.
 *
 *   ar      ArProposer
 *   lookup  LookupProposer({ k })
 *   space   SpaceProposer({ k, mask, layout })
 *   spec    SpecProposer over the target's first `draftLayers` layers, or over `draft` (another engine)
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import { metaGetter } from "../gguf/meta.js";
import { LoraRows, checkAdapterBase, loadLora, loraPanelsFor, maskVectors, type AdapterData } from "../model/adapter.js";
import { autoSpace } from "./costmodel.js";
import type { DecodingContext } from "./generate.js";
import { LookupProposer } from "./lookup.js";
import type { NgramStore } from "./ngramstore.js";
import { ArProposer, type Proposer } from "./proposer.js";
import { FULL_LAYOUT, LAYOUTS, MAX_K, SpaceProposer, maxExtraRows, type SpaceAuto, type SpaceLayout, type SpaceMask } from "./space.js";
import { SpecProposer } from "./spec.js";

export type DecoderKind = "ar" | "space" | "spec" | "lookup";
export const DECODER_KINDS: readonly DecoderKind[] = ["ar", "space", "spec", "lookup"];

export interface DecoderSpec {
  readonly kind: DecoderKind;
  /** Candidates per step (space, spec, lookup; ignored by ar). */
  readonly k: number;
  /** space: the mask (a token id, optionally an adapter's vectors and LoRA). */
  readonly mask?: SpaceMask;
  /** space: which candidates get a mask group (default: the paper's full layout). */
  readonly layout?: SpaceLayout;
  /** space: let a cost model choose k (up to `k`) and the layout every step (costmodel.ts). */
  readonly auto?: SpaceAuto;
  /** space, layouts that copy candidates: drafts of this n-gram store where the text has no match. */
  readonly store?: NgramStore;
  /** spec: draft = the target's first N layers + its output head. */
  readonly draftLayers?: number;
  /** spec: a draft context on another engine with the same tokenizer (the caller owns and frees it). */
  readonly draft?: DecodingContext;
}

export interface BuiltDecoder {
  readonly proposer: Proposer;
  /** Frees what was allocated here (a truncated draft's context), never the engine. */
  dispose(): void;
}

/**
 * The ids no decoder may emit: the mask token, if any. Banning it for every decoder (AR included) keeps
 * all of them comparable token for token. Refuses a mask outside the vocabulary or one that ends
 * generation.
 */
export function bannedIds(engine: Engine, maskToken: number | undefined, label = "mask token"): Set<number> {
  const banned = new Set<number>();
  if (maskToken === undefined) return banned;
  const V = engine.config.vocabSize;
  if (!(Number.isInteger(maskToken) && maskToken >= 0 && maskToken < V)) fail("E_ARGS", `${label} ${maskToken} is outside the vocabulary [0, ${V})`);
  if (engine.tokenizer.eogTokens.has(maskToken)) fail("E_ARGS", `${label} ${maskToken} is an end-of-generation token; choose an id the model never needs to emit`);
  banned.add(maskToken);
  return banned;
}

/** `contextTokens`: prompt + generated tokens the run needs (sizes a truncated draft's KV cache). */
export function buildDecoder(engine: Engine, spec: DecoderSpec, contextTokens: number): BuiltDecoder {
  const V = engine.config.vocabSize;
  switch (spec.kind) {
    case "ar":
      return { proposer: new ArProposer(), dispose() {} };
    case "lookup":
      return { proposer: new LookupProposer({ k: spec.k }), dispose() {} };
    case "space": {
      if (!spec.mask) fail("E_ARGS", "the space decoder needs a mask (a mask token id or an adapter)");
      if (spec.k > MAX_K) fail("E_ARGS", `k must be at most ${MAX_K} for the space decoder, got ${spec.k}`);
      const layout = spec.layout ?? FULL_LAYOUT;
      const extra = { ...(spec.auto ? { auto: spec.auto } : {}), ...(spec.store ? { store: spec.store } : {}) };
      return { proposer: new SpaceProposer({ k: spec.k, mask: spec.mask, layout, vocabSize: V, ...extra }), dispose() {} };
    }
    case "spec": {
      if ((spec.draftLayers === undefined) === (spec.draft === undefined)) fail("E_ARGS", "the spec decoder needs exactly one draft: draft layers or a draft context");
      if (spec.draftLayers !== undefined && spec.draftLayers > engine.config.nLayers) {
        fail("E_ARGS", `draft layers ${spec.draftLayers} exceed the model's ${engine.config.nLayers} layers`);
      }
      const own = spec.draftLayers !== undefined ? engine.newContext(contextTokens, spec.k, { layers: spec.draftLayers }) : null;
      const proposer = new SpecProposer({ k: spec.k, draft: own ?? spec.draft!, vocabSize: V, stopAt: engine.tokenizer.eogTokens });
      return { proposer, dispose: () => own?.dispose() };
    }
  }
}

/** Candidates per step when neither the caller nor the model says (the paper's k for SPACE). */
export const DEFAULT_K = 5;

export type LayoutChoice = "full" | "lean" | "tail" | "hybrid" | "auto";
export const LAYOUT_CHOICES: readonly LayoutChoice[] = ["full", "lean", "tail", "hybrid", "auto"];

/** The layouts that copy candidates (a `lookup` layout, or auto's lookup steps): what an n-gram store drafts for. */
export const COPYING_LAYOUTS: readonly LayoutChoice[] = LAYOUT_CHOICES.filter((l) => l === "auto" || LAYOUTS[l]?.lookup === true);

export interface SpaceMeta {
  readonly maskToken?: number;
  readonly k?: number;
}

/**
 * The SPACE settings a model file carries: a model trained with SAR-SFT in full mode (e.g. the embedded
 * models/space-tiny.gguf) stores `space.mask_token_id` (the vocabulary id of [M], never emitted) and
 * `space.k` (the k it was trained with), both UINT32; undefined where absent.
 */
export function spaceMetadata(engine: Engine): SpaceMeta {
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

/** A base-preserving adapter (spec/adapter.md) attached to an engine: what the SPACE proposer needs. */
export interface AttachedAdapter {
  readonly k: number;
  readonly maskToken: number;
  readonly embeddings: Float32Array[];
  readonly lora: LoraRows;
  readonly data: AdapterData;
}

/**
 * Checks an adapter against the engine's model (`baseSha256`: the base GGUF file's SHA-256; E_MODEL for
 * another base) and copies its LoRA into the engine's memory, sized for the largest block its k can run
 * (the full layout), so one attachment serves every layout and every generation. Allocates from the
 * engine's arena: attach before creating decoding contexts.
 */
export function attachAdapter(engine: Engine, data: AdapterData, baseSha256: string, baseName = engine.file.name): AttachedAdapter {
  checkAdapterBase(data, engine.config, baseSha256, baseName);
  const k = data.meta.k;
  if (k > MAX_K) fail("E_MODEL", `the adapter's k = ${k} exceeds the space decoder's maximum ${MAX_K}`);
  const lora = new LoraRows(engine.core, engine.arena, loadLora(engine.arena, engine.config, data, { core: engine.core, layout: loraPanelsFor(engine.storage) }), maxExtraRows(k, FULL_LAYOUT), engine.config);
  return { k, maskToken: data.meta.maskToken, embeddings: maskVectors(data), lora, data };
}

/** What a user chooses; everything left out comes from the model (space.* metadata) or the defaults. */
export interface DecoderChoice {
  readonly kind: DecoderKind;
  /** Candidates per step (space: at most MAX_K; default: the adapter's, else the model's space.k, else DEFAULT_K). */
  readonly k?: number;
  /** space: the mask token (default: the model's space.mask_token_id); never emitted, by any decoder. */
  readonly maskToken?: number;
  /** space: "full" (the paper's, default), "lean", "tail", "hybrid", or "auto" (the cost model picks k and layout per step, lookup candidates at a match, or a plain AR step). */
  readonly layout?: LayoutChoice;
  /** space: an adapter attached to this engine (attachAdapter); gives k and the mask. */
  readonly adapter?: AttachedAdapter;
  /** spec: draft = the model's first N layers + its output head. */
  readonly draftLayers?: number;
  /** spec: a draft model with the same tokenizer (the caller owns it). */
  readonly draftEngine?: Engine;
  /**
   * space, layout "auto" or "hybrid": an n-gram store (ngramstore.ts) of text the model wrote on other
   * prompts, which drafts candidates where the text has no 3-token match to copy.
   */
  readonly store?: NgramStore;
}

export interface WiredDecoder extends BuiltDecoder {
  /** Ids no decoder may emit (the mask token, if any): pass as GenerateOptions.banned. */
  readonly banned: Set<number>;
  readonly k: number;
}

/**
 * The decoder a user chose, on `engine`, for runs of up to `contextTokens` tokens. Refuses settings that
 * do not apply to the chosen kind (E_ARGS), so nothing is silently ignored.
 */
export function wireDecoder(engine: Engine, choice: DecoderChoice, contextTokens: number): WiredDecoder {
  const kind = choice.kind;
  if (!DECODER_KINDS.includes(kind)) fail("E_ARGS", `unknown decoder ${JSON.stringify(kind)} (decoders: ${DECODER_KINDS.join(", ")})`);
  const only = (name: string, given: boolean, allowed: readonly DecoderKind[]) => {
    if (given && !allowed.includes(kind)) fail("E_ARGS", `${name} applies to decoder ${allowed.join("|")}, not ${kind}`);
  };
  only("k", choice.k !== undefined, ["space", "spec", "lookup"]);
  only("layout", choice.layout !== undefined, ["space"]);
  only("adapter", choice.adapter !== undefined, ["space"]);
  only("draft layers", choice.draftLayers !== undefined, ["spec"]);
  only("draft model", choice.draftEngine !== undefined, ["spec"]);
  only("store", choice.store !== undefined, ["space"]);
  if (choice.store !== undefined && !COPYING_LAYOUTS.includes(choice.layout ?? "full")) {
    fail("E_ARGS", `an n-gram store drafts for the layouts that copy candidates (${[...COPYING_LAYOUTS].sort().join(", ")}), not ${choice.layout ?? "full"}`);
  }
  if (choice.k !== undefined && !(Number.isInteger(choice.k) && choice.k >= 1)) fail("E_ARGS", `k must be a positive integer, got ${choice.k}`);
  if (choice.adapter && choice.maskToken !== undefined) fail("E_ARGS", "the adapter supplies the mask: drop the mask token");
  if (choice.layout !== undefined && !LAYOUT_CHOICES.includes(choice.layout)) fail("E_ARGS", `layout must be one of ${LAYOUT_CHOICES.join(", ")}, got ${JSON.stringify(choice.layout)}`);
  const meta = spaceMetadata(engine);
  const maskToken = choice.adapter?.maskToken ?? choice.maskToken ?? meta.maskToken;
  if (kind === "space" && maskToken === undefined) {
    fail("E_ARGS", `the space decoder needs a mask token (the token id of the mask [M]) or an adapter: ${engine.file.name} has no space.mask_token_id`);
  }
  // A mask token is banned for every decoder, so all of them stay comparable token for token. An adapter's
  // mask id only labels its rows (its vectors replace the embedding), so it is not banned: it may be any id.
  const banned = bannedIds(engine, choice.adapter ? meta.maskToken : maskToken, "mask token");
  let k = choice.k ?? (kind === "space" ? (choice.adapter?.k ?? meta.k) : undefined) ?? DEFAULT_K;
  // Fewer masks than the adapter's k: mask j of a group sees only the prefix and masks 1..j-1 of its group,
  // so the first k masks of a group compute exactly what they compute in a group of the adapter's k.
  if (choice.adapter && kind === "space" && k > choice.adapter.k) fail("E_ARGS", `k ${k}: the adapter was trained with k = ${choice.adapter.k} masks (use at most that many)`);
  if (kind === "space" && k > MAX_K) fail("E_ARGS", `k must be at most ${MAX_K} for the space decoder (a block of 1 + k(k+2) rows), got ${k}`);
  const auto = choice.layout === "auto";
  const layout = auto ? FULL_LAYOUT : LAYOUTS[choice.layout ?? "full"];
  let spec: DecoderSpec = { kind, k, layout };
  if (kind === "space") {
    const a = choice.adapter;
    spec = { ...spec, mask: a ? { token: a.maskToken, embeddings: a.embeddings, lora: a.lora } : { token: maskToken! } };
    // auto: the cost model measures this engine's cost(T) once (cached per engine), then picks per step.
    if (auto) spec = { ...spec, auto: autoSpace(engine, k, a ? { lora: a.lora } : {}) };
    if (choice.store) spec = { ...spec, store: choice.store };
  }
  let draftCtx: (DecodingContext & { dispose(): void }) | undefined;
  if (kind === "spec") {
    if ((choice.draftLayers === undefined) === (choice.draftEngine === undefined)) fail("E_ARGS", "the spec decoder needs exactly one draft: draft layers or a draft model");
    if (choice.draftEngine) {
      if (choice.draftEngine.tokenizer.vocabSize !== engine.tokenizer.vocabSize) {
        fail("E_ARGS", `the draft model's vocabulary (${choice.draftEngine.tokenizer.vocabSize}) is not the model's (${engine.tokenizer.vocabSize})`);
      }
      draftCtx = choice.draftEngine.newContext(contextTokens, k);
      spec = { ...spec, draft: draftCtx };
    } else spec = { ...spec, draftLayers: choice.draftLayers };
  }
  let built: BuiltDecoder;
  try {
    built = buildDecoder(engine, spec, contextTokens);
  } catch (e) {
    draftCtx?.dispose();
    throw e;
  }
  return {
    proposer: built.proposer,
    banned,
    k,
    dispose() {
      built.dispose();
      draftCtx?.dispose();
    },
  };
}

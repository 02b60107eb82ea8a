/**
 * Builds a decoder (a Proposer for the one generate loop) from resolved options: what `space generate
 * --decoder` and `space bench` both need. Callers resolve files first (an adapter's mask vectors and
 * LoRA, a draft model's engine); this module only wires them, so it has no Node-only imports.
 *
 *   ar      ArProposer
 *   lookup  LookupProposer({ k })
 *   space   SpaceProposer({ k, mask, layout })
 *   spec    SpecProposer over the target's first `draftLayers` layers, or over `draft` (another engine)
 */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import type { DecodingContext } from "./generate.js";
import { LookupProposer } from "./lookup.js";
import { ArProposer, type Proposer } from "./proposer.js";
import { FULL_LAYOUT, MAX_K, SpaceProposer, type SpaceAuto, type SpaceLayout, type SpaceMask } from "./space.js";
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
      return { proposer: new SpaceProposer({ k: spec.k, mask: spec.mask, layout, vocabSize: V, ...(spec.auto ? { auto: spec.auto } : {}) }), dispose() {} };
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

/**
 * SPACE auto-correct decoding (Yi et al., arXiv 2402.11809); the specification, in the paper's
 * notation and with a worked example, is spec/space.md. One step, after the verified prefix whose last
 * token (the previous step's bonus token; the prompt at the first step) is still pending:
 *
 *     [bonus]  [M]*k  c_1 [M]*k  c_2 [M]*k  ...  c_k [M]*k          (1 + k(k+2) rows)
 *
 *  - Attention: causal, then every mask group is hidden from every later row. So c_i sees exactly the
 *    prefix + c_1..c_{i-1} (its logits are the AR logits), and the mask group after c_j sees the prefix +
 *    c_1..c_j + its own earlier masks, exactly as in SAR-SFT training.
 *  - Positions: position of a row = (number of keys it sees) - 1.
 *  - Verify: the shared verifier (verify.ts) accepts c_1..c_n and emits the corrected/bonus token g_n.
 *  - Next candidates: the mask group after the last accepted token (after the bonus if n = 0). Mask j of
 *    that group was trained to predict the token j + 1 places on, i.e. j places after the new bonus
 *    token, so the group's argmax (or samples, drawn from q) continue right after it.
 *  - KV cache: keep the pending rows and c_1..c_n only; mask rows and rejected candidates are dropped
 *    (no kept row ever saw them, so the kept KV is exactly AR's).
 *  - First step: no candidates yet (the paper's k initial masks are always rejected, so this is the
 *    same step without them): [prompt] [M]*k, which prefills and yields the first candidates.
 *
 * The layout (which candidates get a mask group) is a parameter: the paper's full layout, or leaner
 * ones for a CPU, where every row costs; or k and the layout are chosen per step by the cost model
 * (`auto`, costmodel.ts), which may also run a plain AR step (AR_CONFIG: k = 0, no candidates, no mask
 * group) when no block pays for its rows. Any layout is lossless: only the candidates change.
 */
import { fail } from "../errors.js";
import type { Block } from "../model/forward.js";
import type { LoraRows } from "../model/adapter.js";
import { range } from "./block.js";
import type { MoreLogits, Proposer, StepContext, StepPlan } from "./proposer.js";
import { argmax, distribution, sample, type Distribution } from "./sampling.js";
import { lookupMatch } from "./lookup.js";
import type { NgramStore } from "./ngramstore.js";
import type { Verdict } from "./verify.js";

/** The mask [M]: a vocabulary token, or (issue "SAR-SFT") vectors an adapter supplies. */
export interface SpaceMask {
  /**
   * Token id of every mask row; the caller bans it from the output (GenerateOptions.banned). With
   * `embeddings` the id only labels the rows (traces).
   */
  readonly token: number;
  /**
   * Input vectors replacing the token's embedding row, each f32 [D]: one for every mask, or k (mask j of
   * every group uses vector j).
   */
  readonly embeddings?: readonly Float32Array[];
  /** A base-preserving adapter's LoRA (spec/adapter.md), applied to the mask rows only. */
  readonly lora?: LoraRows;
}

/** Which candidates a mask group follows. j = 0 is the pending bonus token; m = candidates in the block. */
export interface SpaceLayout {
  readonly name: string;
  groupAfter(j: number, m: number): boolean;
  /**
   * Hybrid: fill the candidate slots from prompt lookup (lookup.ts) when the text so far has a match,
   * from the mask group otherwise. Every candidate is verified the same way, so the output is AR's.
   */
  readonly lookup?: boolean;
}

/** The paper's layout: a mask group after the bonus token and after every candidate. */
export const FULL_LAYOUT: SpaceLayout = { name: "full", groupAfter: () => true };

/**
 * Groups only after the bonus token and after the last candidate: 1 + 3k rows instead of 1 + k(k+2).
 * The next step has candidates only when none or all of this step's were accepted.
 */
export const LEAN_LAYOUT: SpaceLayout = { name: "lean", groupAfter: (j, m) => j === 0 || j === m };

/**
 * One group only, after the last candidate (after the bonus token when there is none): 1 + 2k rows with
 * candidates, 1 + k without. The next step has candidates only when all of this step's were accepted;
 * otherwise it is [bonus] [M]*k, which proposes again. The smallest blocks that keep proposing.
 */
export const TAIL_LAYOUT: SpaceLayout = { name: "tail", groupAfter: (j, m) => j === m };

/**
 * The tail layout with candidates from prompt lookup whenever the text so far has a matching n-gram
 * (n = 3 down to 2), and from the mask group otherwise; the masks after the last candidate propose
 * what follows either kind.
 */
export const HYBRID_LAYOUT: SpaceLayout = { name: "hybrid", groupAfter: TAIL_LAYOUT.groupAfter, lookup: true };

/**
 * Candidates from prompt lookup and no mask group at all: a block of [pending] c_1..c_m, m <= k, which
 * costs neither mask rows nor the adapter. Only the cost model picks it (`auto`), and only at a step
 * whose text has a match: on a CPU, where every row costs, a copy of the text is the draft that most
 * often pays for its rows (spec/space.md, "Lookup steps"). Not a `--layout` choice: alone it is
 * `--decoder lookup`.
 */
export const LOOKUP_LAYOUT: SpaceLayout = { name: "lookup", groupAfter: () => false, lookup: true };

export const LAYOUTS: Readonly<Record<string, SpaceLayout>> = { full: FULL_LAYOUT, lean: LEAN_LAYOUT, tail: TAIL_LAYOUT, hybrid: HYBRID_LAYOUT };

/**
 * Hybrid and lookup layouts: the longest and shortest tail n-gram matched (a single token matches too
 * often), and the match below which the n-gram store drafts instead. The search takes the longest match,
 * which need not be the most recent 3-gram's: over SmolLM2's greedy outputs on training problems
 * 100-119 (six languages; the store built from 0-99), copies after the longest match of up to 6 tokens
 * predicted better (the best fixed policy per class: 1.138x -> 1.156x AR at cost(T) 1, 1.42, 1.95, 2.45;
 * `scripts/copy-classes.ts --max-ngram 3` against the default).
 */
const HYBRID_NGRAM = { max: 6, min: 2, store: 3 } as const;

/**
 * The match class of a copy from the text itself: its tail n-gram's length n, with 4-5 as one class and
 * 6 (and longer) as another. Longer matches are copied right more often (first token right 0.48 of the
 * time after 2 tokens, 0.64 after 3, 0.69 after 4-5, 0.90 after 6 or more, same replay), so each
 * class learns its own acceptance and the cost model copies more rows after a long match. Few classes:
 * each has to be tried before its acceptance is known.
 */
export function lookupMatchClass(n: number): number {
  return n >= 6 ? 6 : n >= 4 ? 4 : n;
}

/**
 * The match class of copied candidates, which the cost model keeps acceptance for (SpaceAuto.choose's
 * `lookup`): for a tail n-gram matched in the text itself lookupMatchClass(n) (2, 3, 4 or 6), or for a draft of the
 * n-gram store STORE_CLASS + 1 when it is strong (a stored n-gram of 4 or more tokens whose continuation
 * had at least half of its occurrences), STORE_CLASS otherwise. Two classes, not one per (n, share):
 * every class has to be tried before its acceptance is known, and on a text the store does not fit
 * (chat) each try is a lost row. Replayed over AR's outputs on 18 held-out code prompts (with a share of
 * 0.6 as the line), the first token of drafts from 4- and 5-grams with a one-sided continuation was right
 * 0.59-0.71 of the time, the others' 0.30-0.55.
 */
export const STORE_CLASS = 100;
export function storeMatchClass(n: number, share: number): number {
  return STORE_CLASS + (n >= 4 && share >= 0.5 ? 1 : 0);
}

/**
 * The copied draft of the copying layouts: up to k tokens after the longest tail match of `maxNgram` down
 * to 2 tokens in `history`, or, where that match is shorter than 3 tokens, the n-gram store's draft when
 * it has one; with the draft's match class (lookupMatchClass or storeMatchClass; 0 and no tokens: none).
 * SpaceProposer's lookup steps, and the scripts that replay them (scripts/copy-classes.ts).
 */
export function copyDraft(history: readonly number[], k: number, store?: NgramStore, maxNgram: number = HYBRID_NGRAM.max): { tokens: number[]; n: number } {
  const match = lookupMatch(history, k, maxNgram, HYBRID_NGRAM.min);
  if (match.n < HYBRID_NGRAM.store && store) {
    const d = store.draft(history, k);
    if (d.tokens.length > 0) return { tokens: d.tokens, n: storeMatchClass(d.n, d.share) };
  }
  return { tokens: match.tokens, n: lookupMatchClass(match.n) };
}

/** No mask group anywhere: the layout of AR_CONFIG (not a `--layout` choice: that is `--decoder ar`). */
export const AR_LAYOUT: SpaceLayout = { name: "ar", groupAfter: () => false };

/** One step's shape: k masks per group (= candidates it proposes) and the layout. */
export interface SpaceConfig {
  readonly k: number;
  readonly layout: SpaceLayout;
}

/**
 * A plain AR step inside SPACE: k = 0, so candidates proposed by an earlier step are dropped and none
 * are proposed (block = the pending tokens only, as ArProposer's). Only the cost model picks it (auto):
 * it is what runs when no SPACE block is expected to pay for its rows.
 */
export const AR_CONFIG: SpaceConfig = { k: 0, layout: AR_LAYOUT };

/**
 * Chooses each step's configuration (the cost model, costmodel.ts). Only the candidates and the block's
 * mask rows change with it, never the verification, so any choice is lossless.
 */
export interface SpaceAuto {
  /**
   * Every configuration choose() may return: sizes the workspace; each k in [1, the proposer's k], or
   * AR_CONFIG (k = 0).
   */
  readonly configs: readonly SpaceConfig[];
  /**
   * The configuration of the next step. `lookup`: the match class of the candidates that lookup copied
   * for this step (0 = none; lookupMatchClass of the tail n-gram's length, or a store draft's class: storeMatchClass), passed
   * when a configuration has a lookup layout, so that one is only chosen where it has candidates.
   */
  choose(hint?: { readonly lookup: number }): SpaceConfig;
  /** The verdict on a step that verified m candidates, from `source` ("masks", "lookup", "injected"). */
  observe(m: number, verdict: Verdict, source?: string): void;
  /**
   * The step just chosen has a block of `rows` rows, `lookup` when its candidates were copied by
   * lookup (no mask rows; what a model of step costs can time).
   */
  planned?(rows: number, lookup?: boolean): void;
  /** A new sequence begins (the proposer's reset): what was learnt about the last text may change. */
  reset?(): void;
}

/** A SPACE step's plan: the StepPlan plus where each mask group is. */
export interface SpacePlan extends StepPlan {
  /**
   * groups[j]: the block rows of the k masks after c_j (j = 0..m), or null if none there. Their logits
   * are computed only for the group the verdict selects (Proposer.observe's `more`).
   */
  readonly groups: readonly (Int32Array | null)[];
  /**
   * The group whose logits the pass itself computes (after the verify rows in block.logitRows), or -1:
   * SpaceProposer.plan does so when the block has only one group, so that reading it costs no second
   * pass over the output head (a 49k x 576 matrix, a fifth of SmolLM2's weights) after the verdict.
   */
  readonly eagerGroup?: number;
}

/**
 * Builds one SPACE block: `pending` tokens (after `C` committed rows), then the layout's candidates and
 * mask groups. Pure; spec/space.md's worked example is its test.
 *
 * Shapes: T = pending.length + m + k * (number of groups); mask [T, C + T]; logitRows = the verify rows
 * only (the last pending row and every candidate row); a mask group's logits come on demand.
 */
export function spaceBlock(
  C: number,
  pending: ArrayLike<number>,
  candidates: ArrayLike<number>,
  k: number,
  mask: SpaceMask,
  layout: SpaceLayout = FULL_LAYOUT,
): Omit<SpacePlan, "candidates"> {
  const P = pending.length;
  const m = candidates.length;
  // Rows in order; group[t] = index of the mask group row t belongs to, -1 for token rows.
  const tokens: number[] = Array.from(pending);
  const group: number[] = tokens.map(() => -1);
  const candidateRows: number[] = [];
  const groupRows: (number[] | null)[] = [];
  for (let j = 0; j <= m; j++) {
    if (j > 0) {
      candidateRows.push(tokens.length);
      tokens.push(candidates[j - 1]);
      group.push(-1);
    }
    if (!layout.groupAfter(j, m)) {
      groupRows.push(null);
      continue;
    }
    const rows: number[] = [];
    for (let i = 0; i < k; i++) {
      rows.push(tokens.length);
      tokens.push(mask.token);
      group.push(j);
    }
    groupRows.push(rows);
  }
  const T = tokens.length;
  const nKeys = C + T;

  // Attention: causal, then hide every mask group from every later row (rows of the same group still
  // see their earlier masks). Positions: visible keys - 1.
  const attend = new Uint8Array(T * nKeys);
  const positions = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    attend.fill(1, t * nKeys, t * nKeys + C);
    let seen = C;
    for (let s = 0; s <= t; s++) {
      if (group[s] >= 0 && group[s] !== group[t]) continue;
      attend[t * nKeys + C + s] = 1;
      seen++;
    }
    positions[t] = seen - 1;
  }

  // Logits: row P-1 gives g_0, candidate row i gives g_i (the verify rows, computed with the pass); mask
  // rows give the next candidates (computed after the verdict, for the selected group only).
  const logitRows = Int32Array.from([P - 1, ...candidateRows]);
  const maskRows = Int32Array.from(groupRows.flatMap((rows) => rows ?? []));
  // Mask vectors and LoRA apply to mask rows only; a block without any (an AR step) is the base model's.
  const masked = maskRows.length > 0;
  const block: Block = {
    tokens: Int32Array.from(tokens),
    positions,
    mask: attend,
    logitRows,
    ...(masked && mask.embeddings ? { embeddings: maskEmbeddings(mask.embeddings, maskRows, k) } : {}),
    ...(masked && mask.lora ? { adapter: { rows: maskRows, lora: mask.lora } } : {}),
  };
  return {
    block,
    verifyRows: range(0, m + 1),
    maskRows,
    groups: groupRows.map((rows) => (rows ? Int32Array.from(rows) : null)),
    keepRows: (n: number) => Int32Array.from([...range(0, P), ...candidateRows.slice(0, n)]),
  };
}

/**
 * A block with a single mask group (the tail layout, or no candidates) also asks the pass for that
 * group's logits, after the verify rows: the group's rows follow every verify row, so logitRows stays
 * increasing. The logits are the same bits either way (a row's logits do not depend on which other rows
 * are computed with it); only the time differs.
 */
function withEagerGroup(step: Omit<SpacePlan, "candidates">): Omit<SpacePlan, "candidates"> {
  const present = step.groups.flatMap((g, j) => (g ? [j] : [])); // indices of the groups the block has
  if (present.length !== 1) return { ...step, eagerGroup: -1 };
  const eagerGroup = present[0];
  const logitRows = Int32Array.from([...step.block.logitRows, ...step.groups[eagerGroup]!]);
  return { ...step, block: { ...step.block, logitRows }, eagerGroup };
}

/** Input vector of each mask row: mask j of every group (groups are k consecutive rows) uses vector j. */
function maskEmbeddings(embeddings: readonly Float32Array[], maskRows: Int32Array, k: number): { rows: Int32Array; vectors: Float32Array } {
  if (embeddings.length !== 1 && embeddings.length !== k) fail("E_ARGS", `a mask needs 1 or k = ${k} embedding vectors, got ${embeddings.length}`);
  const D = embeddings[0].length;
  const vectors = new Float32Array(maskRows.length * D);
  for (let r = 0; r < maskRows.length; r++) vectors.set(embeddings[embeddings.length === 1 ? 0 : r % k], r * D);
  return { rows: maskRows, vectors };
}

export interface SpaceOptions {
  readonly k: number; // masks per group = candidates per step
  readonly mask: SpaceMask;
  readonly layout?: SpaceLayout; // default FULL_LAYOUT
  readonly vocabSize: number;
  /**
   * Test seam: replaces the candidates the mask group proposed (c, from the previous step) just before
   * a step, so tests can drive every acceptance length through the real block. Injected candidates are
   * verified as a deterministic draft (point masses).
   */
  readonly inject?: (ctx: StepContext, proposed: Int32Array) => ArrayLike<number>;
  /**
   * Re-chooses k (at most `k`, the mask source's) and the layout every step; `layout` is then unused.
   * Candidates proposed by a larger group than the next step's k are cut to that k.
   */
  readonly auto?: SpaceAuto;
  /**
   * Layouts that copy candidates (hybrid, and auto's lookup steps): where the text has no 3-token match,
   * candidates drafted by this n-gram store (ngramstore.ts) instead.
   */
  readonly store?: NgramStore;
}

export class SpaceProposer implements Proposer<SpacePlan> {
  readonly name = "space";
  readonly maxExtraRows: number;
  readonly k: number;
  readonly mask: SpaceMask;
  readonly layout: SpaceLayout;
  private readonly looksUp: boolean; // some configuration copies candidates by prompt lookup
  private candidates = new Int32Array(0); // c for the next step; none before the first step
  private q: Distribution[] | undefined; // the distributions c was sampled from (sampling only)

  constructor(private readonly opts: SpaceOptions) {
    const { k, mask, vocabSize } = opts;
    if (!(Number.isInteger(k) && k >= 1 && k <= MAX_K)) fail("E_ARGS", `SPACE k must be an integer in [1, ${MAX_K}], got ${k}`);
    if (!(Number.isInteger(mask.token) && mask.token >= 0 && mask.token < vocabSize)) {
      fail("E_ARGS", `mask token ${mask.token} is outside the vocabulary [0, ${vocabSize})`);
    }
    this.k = k;
    this.mask = mask;
    this.layout = opts.layout ?? FULL_LAYOUT;
    if (opts.auto) {
      if (opts.auto.configs.length === 0) fail("E_ARGS", "SPACE auto: no configurations to choose from");
      for (const c of opts.auto.configs) {
        if (c.k === 0 && c.layout !== AR_LAYOUT) fail("E_ARGS", `SPACE auto: k = 0 (a plain AR step) needs the "ar" layout, got ${c.layout.name}`);
        if (!(Number.isInteger(c.k) && c.k >= 0 && c.k <= k)) fail("E_ARGS", `SPACE auto: configuration k = ${c.k} is outside [0, ${k}]`);
      }
    }
    const configs = opts.auto?.configs ?? [{ k, layout: this.layout }];
    this.maxExtraRows = Math.max(...configs.map((c) => maxExtraRows(c.k, c.layout)));
    this.looksUp = configs.some((c) => c.layout.lookup);
  }

  reset(): void {
    this.candidates = new Int32Array(0);
    this.q = undefined;
    this.opts.auto?.reset?.();
  }

  plan(ctx: StepContext): SpacePlan {
    const auto = this.opts.auto;
    // The lookup match is found before the choice, which depends on it.
    const match = this.looksUp ? this.lookUp(ctx) : null;
    const { k, layout } = auto?.choose(match ? { lookup: match.n } : undefined) ?? this;
    if (this.candidates.length > k) {
      // A smaller k than the group that proposed them: the first k are the same proposals (k = 0, an
      // AR step: none; the verifier then draws from p_0 alone, exactly AR).
      this.candidates = this.candidates.slice(0, k);
      this.q = k > 0 ? this.q?.slice(0, k) : undefined;
    }
    const injected = this.opts.inject ? Int32Array.from(this.opts.inject(ctx, this.candidates)) : null;
    // A lookup layout copies from the match; the lookup-only one has no mask group, so without a match
    // it verifies nothing (the masks' candidates, if any, are dropped: an AR step).
    const looked = injected === null && layout.lookup && k > 0 && match && match.n > 0 ? Int32Array.from(match.tokens.slice(0, k)) : null;
    const c = injected ?? looked ?? (layout === LOOKUP_LAYOUT ? new Int32Array(0) : this.candidates);
    if (c.length > k) fail("E_ARGS", `${c.length} candidates exceed k = ${k}`);
    const step = withEagerGroup(spaceBlock(ctx.cached, ctx.pending, c, k, this.maskFor(k), layout));
    const source = injected ? "injected" : looked ? "lookup" : "masks";
    auto?.planned?.(step.block.tokens.length, source === "lookup");
    // Injected and looked-up candidates are deterministic drafts (q = point mass): no `draft`.
    return { ...step, candidates: c, source, ...(injected === null && looked === null && this.q ? { draft: this.q } : {}) };
  }

  /**
   * Up to k candidates copied from the text so far, or drafted by the n-gram store where the text has no
   * match of HYBRID_NGRAM.store tokens (a banned token ends them), and the match class (lookupMatchClass
   * or storeMatchClass).
   */
  private lookUp(ctx: StepContext): { tokens: number[]; n: number } {
    const found = copyDraft(ctx.history, this.k, this.opts.store);
    const cut = found.tokens.findIndex((id) => ctx.banned?.has(id) ?? false); // a banned token is never accepted
    const tokens = cut < 0 ? found.tokens : found.tokens.slice(0, cut);
    return tokens.length > 0 ? { tokens, n: found.n } : { tokens, n: 0 };
  }

  /** Mask j of a group uses vector j, whatever k: a smaller k uses the first k vectors. */
  private maskFor(k: number): SpaceMask {
    const e = this.mask.embeddings;
    return e && e.length > 1 && e.length !== k ? { ...this.mask, embeddings: e.slice(0, k) } : this.mask;
  }

  /** Next candidates: from the mask group that follows the last accepted token. */
  observe(plan: SpacePlan, stepLogits: Float32Array, verdict: Verdict, ctx: StepContext, more: MoreLogits): Int32Array {
    this.opts.auto?.observe(plan.candidates.length, verdict, plan.source);
    const group = verdict.ended ? null : plan.groups[verdict.accepted];
    // f32 [k, V]: the selected group only, from the pass when it computed them (eagerGroup).
    const V = this.opts.vocabSize;
    const from = plan.verifyRows.length; // the eager group's first row in block.logitRows
    const logits = !group ? new Float32Array(0) : verdict.accepted === plan.eagerGroup ? stepLogits.subarray(from * V, (from + group.length) * V) : more(group);
    const row = (i: number) => logits.subarray(i * V, (i + 1) * V);
    if (!group) {
      // Lean layouts have no group here (or generation ended): the next step proposes nothing.
      this.candidates = new Int32Array(0);
      this.q = undefined;
    } else if (ctx.sampling.temperature === 0) {
      const pick = ctx.kernels?.argmax ?? argmax;
      this.candidates = Int32Array.from(group, (_, i) => pick(row(i), ctx.banned));
      this.q = undefined;
    } else {
      // Sampled candidates: c_j ~ q_j, with the same temperature/top-k/top-p as the target's p.
      this.q = Array.from(group, (_, i) => distribution(row(i), ctx.sampling, ctx.banned, ctx.kernels));
      this.candidates = Int32Array.from(this.q, (q) => sample(q, ctx.rng));
    }
    return this.candidates;
  }
}

/** The largest k the CLI accepts: a full-layout block of 1 + k(k+2) = 289 rows. */
export const MAX_K = 16;

/** Most rows a step adds after the pending tokens, over every candidate count m = 0..k. */
export function maxExtraRows(k: number, layout: SpaceLayout): number {
  let most = 0;
  for (let m = 0; m <= k; m++) {
    let groups = 0;
    for (let j = 0; j <= m; j++) if (layout.groupAfter(j, m)) groups++;
    most = Math.max(most, m + k * groups);
  }
  return most;
}

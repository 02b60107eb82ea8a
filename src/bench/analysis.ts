/**
 * Pure arithmetic of `space bench`: from the timed runs to per-prompt and per-decoder figures.
 *
 *   baseline       our FASTEST AR configuration: the `ar` contender (weights x threads) with the highest
 *                  geometric mean over prompts of decode tok/s. A user would pick it, so every speedup is
 *                  taken against it, not against an f32 or single-thread AR.
 *   speedup        per prompt: median over rounds of (this decode tok/s / the baseline's in the same
 *                  round, seconds apart); per decoder: geometric mean over prompts.
 *   vs llama.cpp   the same, against llama.cpp's plain AR.
 *   tau            decode tokens per decode step: (n - 1) / forward passes after the first.
 *   bound          what SPACE could reach with no overhead besides its forward passes:
 *                  tokens x cost(1) / sum over steps of cost(T_step) = tau x cost(1) / cost(T) when every
 *                  step has T rows (the full layout's 1 + k(k+2)).
 *   greedy check   against OUR AR IN THE SAME CONFIGURATION (weights, threads): a lossless decoder must give
 *                  every one of its n tokens (end-of-generation banned alike); a difference is a bug.
 *                  Our AR in another weight format is compared with the exact reference, our AR on
 *                  "native" weights: a format that quantizes activations (q8) is its own configuration,
 *                  exact within itself, and may differ there (reported, labelled lossy, not a bug).
 *                  llama.cpp is compared with the exact reference too, up to the first id it emits that
 *                  ours may not (end-of-generation); it computes differently (reported, not a bug).
 *   family         what "fastest configuration" ranks within: the decoder, and for SPACE its layout too
 *                  (the paper's fixed layout and the cost model's choice are separate contenders).
 *   group          prompts by language (python, cpp, java, js, go, rust) or chat, and "all": per group the
 *                  same figures as per decoder, over the group's prompts only (so "all" is the headline row).
 */
import type { CostPoint } from "../decode/cost.js";
import type { RunTiming } from "./decoder.js";
import { geomean, median } from "../util/stats.js";

export type Engine = "ours" | "llama";

export interface Contender {
  readonly id: string; // e.g. "space/native/t1", "llama-ar/t1"
  readonly decoder: string; // ar | space | spec | lookup | llama-ar | llama-lookup
  readonly engine: Engine;
  readonly weights?: string;
  readonly threads: number;
  /** space: its layout (full, lean, or auto: the cost model); absent for the other decoders. */
  readonly layout?: string;
  readonly label: string;
}

/** What the fastest configuration is chosen within: "space full" and "space auto" are separate contenders. */
export function family(c: Pick<Contender, "decoder" | "layout">): string {
  return c.layout !== undefined ? `${c.decoder} ${c.layout}` : c.decoder;
}

export type RunRecord = Omit<RunTiming, "tokens">;

export interface Agreement {
  /** The contender compared with (see "greedy check" above). */
  readonly reference: string;
  /** "bug": must be equal (our decoder vs our AR, same configuration); "lossy" / "peer": reported only. */
  readonly kind: "bug" | "lossy" | "peer";
  readonly same: number; // leading tokens equal to the reference's
  readonly of: number; // tokens compared
  readonly ok: boolean;
}

export interface ContenderOnPrompt {
  readonly id: string;
  readonly decode_tok_s: number; // median over rounds
  readonly prefill_tok_s: number;
  readonly tau: number;
  readonly speedup: number; // vs our fastest AR, median over rounds of same-round ratios
  readonly vs_llama: number; // vs llama.cpp AR
  readonly bound?: number; // SPACE only, where cost(T) was measured
  readonly agree: Agreement;
  readonly runs: RunRecord[];
}

export interface PromptResult {
  readonly id: string;
  readonly decoders: ContenderOnPrompt[];
}

export interface ContenderSummary {
  readonly id: string;
  readonly decoder: string;
  readonly label: string;
  readonly decode_tok_s: number; // median over prompts
  readonly prefill_tok_s: number;
  readonly tau: number; // all decode tokens / all decode steps
  readonly speedup: number; // geometric mean over prompts
  readonly vs_llama: number;
  readonly bound?: number;
  readonly reference: string; // the contender its output is compared with
  readonly mismatch_kind: Agreement["kind"];
  readonly greedy_ok: boolean;
  readonly mismatches: string[]; // prompt ids where the output differs from the reference's
  /** True for the fastest configuration of its decoder (the row the headline table shows). */
  readonly best: boolean;
}

/** One contender's figures over a set of prompts (the headline's definitions, restricted to those prompts). */
export interface Figures {
  readonly tau: number; // decode tokens / decode steps over the prompts' timed runs: tokens per forward pass
  readonly decode_tok_s: number; // median over the prompts
  readonly speedup: number; // geometric mean over the prompts of the same-round ratios to our fastest AR
  readonly vs_llama: number; // the same against llama.cpp AR (NaN where it did not run)
}

export interface GroupResult {
  readonly group: string; // "python", "cpp", "java", "js", "go", "rust", "chat", ... or "all"
  readonly prompts: string[]; // its prompt ids
  readonly decoders: (Figures & { readonly id: string })[]; // every contender, in contender order
}

export interface Analysis {
  readonly baseline: string; // id of our fastest AR contender
  readonly llama?: string; // id of llama.cpp AR
  readonly prompts: PromptResult[];
  readonly summary: ContenderSummary[];
  /** Per prompt group, in the order the groups' first prompts come, then "all". */
  readonly groups: GroupResult[];
}

/** The contender id with the highest geometric mean of `rate` among those `eligible`; ties keep the first. */
export function fastest(contenders: readonly Contender[], rate: (c: Contender) => number[], eligible: (c: Contender) => boolean): string | undefined {
  let best: string | undefined;
  let bestRate = -Infinity;
  for (const c of contenders) {
    if (!eligible(c)) continue;
    const r = geomean(rate(c));
    if (Number.isFinite(r) && r > bestRate) {
      bestRate = r;
      best = c.id;
    }
  }
  return best;
}

/**
 * Our fastest AR configuration: per prompt the median decode tok/s over rounds, then the geometric mean
 * over prompts. `decodeTokS[c.id][p]` = median decode tok/s of contender c on prompt p.
 */
export function fastestAr(contenders: readonly Contender[], decodeTokS: Readonly<Record<string, readonly number[]>>): string {
  const id = fastest(contenders, (c) => [...(decodeTokS[c.id] ?? [])], (c) => c.engine === "ours" && c.decoder === "ar");
  if (id === undefined) throw new Error("the bench needs at least one of our AR configurations (the baseline)");
  return id;
}

/** Block widths T -> median ms, from a cost curve. */
export function costTable(points: readonly CostPoint[]): Map<number, number> {
  return new Map(points.map((p) => [p.T, p.median_ms]));
}

/**
 * tokens x cost(1) / sum_T steps(T) x cost(T): the speedup over AR that a decoder emitting `decoded`
 * tokens in the given steps would reach if a step cost nothing but its forward pass. NaN when a width
 * was not measured or there were no steps.
 */
export function spaceBound(stepRows: Readonly<Record<string, number>>, decoded: number, cost: ReadonlyMap<number, number>): number {
  const c1 = cost.get(1);
  if (c1 === undefined) return NaN;
  let total = 0;
  let steps = 0;
  for (const [T, count] of Object.entries(stepRows)) {
    const c = cost.get(Number(T));
    if (c === undefined) return NaN;
    total += count * c;
    steps += count;
  }
  return steps > 0 && total > 0 ? (decoded * c1) / total : NaN;
}

/** Sums step-row histograms. */
export function mergeRows(rows: readonly (Readonly<Record<string, number>> | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) for (const [T, n] of Object.entries(r ?? {})) out[T] = (out[T] ?? 0) + n;
  return out;
}

/**
 * Whom each contender's output is compared with: our AR in the same configuration for our other decoders,
 * the exact reference (our AR on native weights, same threads, else the baseline) for our AR and llama.cpp.
 */
export function referenceOf(c: Contender, contenders: readonly Contender[], baseline: string): { id: string; kind: Agreement["kind"] } {
  const ar = contenders.filter((x) => x.engine === "ours" && x.decoder === "ar");
  const exact = ar.find((x) => x.weights === "native" && x.threads === c.threads) ?? ar.find((x) => x.weights === "native") ?? ar.find((x) => x.id === baseline)!;
  if (c.engine === "llama") return { id: exact.id, kind: "peer" };
  if (c.decoder === "ar") return { id: exact.id, kind: "lossy" };
  const same = ar.find((x) => x.weights === c.weights && x.threads === c.threads) ?? ar.find((x) => x.weights === c.weights) ?? exact;
  return { id: same.id, kind: "bug" };
}

function agreement(mine: readonly number[], ref: readonly number[], engine: Engine, notOurs: ReadonlySet<number>, reference: { id: string; kind: Agreement["kind"] }): Agreement {
  // llama.cpp generates through end-of-generation (ours bans it): compare up to the first such id.
  let of = ref.length;
  if (engine === "llama") {
    const cut = mine.findIndex((t) => notOurs.has(t));
    if (cut >= 0) of = Math.min(of, cut);
  }
  let same = 0;
  while (same < of && mine[same] === ref[same]) same++;
  return { reference: reference.id, kind: reference.kind, same, of, ok: same === of && (engine === "llama" || mine.length === ref.length) };
}

export interface AnalysisInput {
  readonly contenders: readonly Contender[];
  readonly promptIds: readonly string[];
  /** runs[p][c][round], contenders in `contenders` order; every contender ran every prompt every round. */
  readonly runs: readonly (readonly (readonly RunTiming[])[])[];
  /** Ids our decoders never emit (end-of-generation, the mask). */
  readonly banned: ReadonlySet<number>;
  /** cost(T) per contender id (SPACE contenders), for the bound. */
  readonly cost: Readonly<Record<string, readonly CostPoint[]>>;
  /** The group of each prompt, in promptIds order (default: none, only "all"). */
  readonly promptGroups?: readonly string[];
}

/**
 * A contender's figures over some of its per-prompt results. tau pools tokens and steps (every prompt
 * runs n tokens, so it is the harmonic mean of the prompts' tau); it is NaN where an engine does not
 * report its steps.
 */
export function figures(per: readonly ContenderOnPrompt[]): Figures {
  // Every timed run, not only the last: a cost model that learns from one text to the next decodes each
  // round differently (the last round alone once showed tau 1.03 where the rounds had 2.3, 1.7 and 1.0).
  const runs = per.flatMap((x) => x.runs);
  const decoded = runs.reduce((a, r) => a + r.generated - 1, 0);
  const steps = runs.reduce((a, r) => a + r.decode_steps, 0);
  return {
    tau: steps > 0 ? decoded / steps : NaN,
    decode_tok_s: median(per.map((x) => x.decode_tok_s)),
    speedup: geomean(per.map((x) => x.speedup)),
    vs_llama: geomean(per.map((x) => x.vs_llama)),
  };
}

/** Prompts grouped (groups in order of first appearance, then "all"), with every contender's figures per group. */
export function groupResults(prompts: readonly PromptResult[], groupOf: readonly string[], contenders: readonly Pick<Contender, "id">[]): GroupResult[] {
  if (groupOf.length !== prompts.length) throw new Error(`prompt groups: ${groupOf.length} groups for ${prompts.length} prompts`);
  const names = [...new Set(groupOf)].filter((g) => g !== "all");
  const members = [...names.map((g) => ({ group: g, ps: prompts.filter((_, p) => groupOf[p] === g) })), { group: "all", ps: [...prompts] }];
  return members.map(({ group, ps }) => ({
    group,
    prompts: ps.map((p) => p.id),
    decoders: contenders.map((c, i) => ({ id: c.id, ...figures(ps.map((p) => p.decoders[i])) })),
  }));
}

export function analyze(inp: AnalysisInput): Analysis {
  const { contenders, runs } = inp;
  const P = inp.promptIds.length;
  const byId = new Map(contenders.map((c, i) => [c.id, i]));
  const medianOf = (c: number, f: (r: RunTiming) => number) => Array.from({ length: P }, (_, p) => median(runs[p][c].map(f)));
  const decodeTokS: Record<string, number[]> = Object.fromEntries(contenders.map((c, i) => [c.id, medianOf(i, (r) => r.decode_tok_s)]));
  const baseline = fastestAr(contenders, decodeTokS);
  const llama = contenders.find((c) => c.engine === "llama" && c.decoder === "llama-ar")?.id;
  const b = byId.get(baseline)!;
  const l = llama === undefined ? -1 : byId.get(llama)!;
  const ratio = (mine: readonly RunTiming[], base: readonly RunTiming[]) => median(mine.map((r, k) => r.decode_tok_s / (base[k]?.decode_tok_s ?? NaN)));
  const last = <T>(xs: readonly T[]) => xs[xs.length - 1];

  const prompts: PromptResult[] = inp.promptIds.map((id, p) => ({
    id,
    decoders: contenders.map((c, i) => {
      const mine = runs[p][i];
      const cost = inp.cost[c.id];
      const r = last(mine);
      const bound = cost && r.step_rows ? spaceBound(r.step_rows, r.generated - 1, costTable(cost)) : undefined;
      // Every run of a contender must agree with its reference's last run (our decoders are deterministic).
      const reference = referenceOf(c, contenders, baseline);
      const ref = last(runs[p][byId.get(reference.id)!]).tokens;
      const agrees = mine.map((x) => agreement(x.tokens, ref, c.engine, inp.banned, reference));
      const agree = agrees.find((a) => !a.ok) ?? agrees[agrees.length - 1];
      return {
        id: c.id,
        decode_tok_s: decodeTokS[c.id][p],
        prefill_tok_s: median(mine.map((x) => x.prefill_tok_s)),
        tau: median(mine.map((x) => x.tau)),
        speedup: ratio(mine, runs[p][b]),
        vs_llama: l < 0 ? NaN : ratio(mine, runs[p][l]),
        ...(bound !== undefined ? { bound } : {}),
        agree,
        runs: mine.map(({ tokens: _, ...rest }) => rest),
      };
    }),
  }));

  const summary = contenders.map((c, i): ContenderSummary => {
    const per = prompts.map((p) => p.decoders[i]);
    const timed = Array.from({ length: P }, (_, p) => runs[p][i]).flat(); // every timed run, as figures()
    const decoded = timed.reduce((a, r) => a + r.generated - 1, 0);
    const cost = inp.cost[c.id];
    const rows = mergeRows(timed.map((r) => r.step_rows));
    return {
      id: c.id,
      decoder: c.decoder,
      label: c.label,
      ...figures(per),
      prefill_tok_s: median(per.map((x) => x.prefill_tok_s)),
      ...(cost ? { bound: spaceBound(rows, decoded, costTable(cost)) } : {}),
      reference: referenceOf(c, contenders, baseline).id,
      mismatch_kind: referenceOf(c, contenders, baseline).kind,
      greedy_ok: per.every((x) => x.agree.ok),
      mismatches: prompts.filter((_, p) => !per[p].agree.ok).map((p) => p.id),
      best: false,
    };
  });
  // The fastest configuration of each decoder family (by geometric mean of the same-round speedups).
  for (const fam of new Set(contenders.map(family))) {
    const mine = summary.filter((_, i) => family(contenders[i]) === fam);
    const top = fam === "ar" ? mine.find((s) => s.id === baseline)! : mine.reduce((a, s) => (s.speedup > a.speedup || !Number.isFinite(a.speedup) ? s : a));
    (top as { best: boolean }).best = true;
  }
  const groups = groupResults(prompts, inp.promptGroups ?? prompts.map(() => "all"), contenders);
  return { baseline, ...(llama !== undefined ? { llama } : {}), prompts, summary, groups };
}

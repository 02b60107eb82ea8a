/**
 * A cost model for SPACE on a CPU: choose k and the layout of each step to maximise expected tokens per
 * second, E[tokens per step] / cost(T), where T is the block's rows. On a CPU every row costs (a step of
 * the paper's full layout, 1 + k(k+2) rows, can cost ~15x AR's one row on a small model), so the best
 * configuration depends on this machine's cost(T) curve and on how often candidates are accepted.
 *
 *  - cost(T): measured once per engine (the engine fixes model, weight format and thread count) and
 *    adapter by real forward passes on a scratch context (measureCost, cached in memory), or given as a
 *    table.
 *  - acceptance: alpha_j = P(candidate j accepted | candidates 1..j-1 accepted), from exponentially
 *    weighted counts of the verdicts, starting from a prior (AcceptanceTracker).
 *  - the choice: among a FINITE set of configurations (spaceConfigs: plain AR, then k = 1..K x
 *    AUTO_LAYOUTS); the exactness property tests iterate over the same set, so the model only ever picks
 *    a tested configuration. Plain AR (AR_CONFIG, rate 1 / cost(1)) is in the set, so the model never
 *    picks a block it expects to be slower than AR.
 *  - exploration: while it runs AR steps no candidate is verified, so nothing would ever update the
 *    acceptance estimate; it probes now and then (SpaceCostModel.choose), within a budget.
 *  - calibration: cost(T) times the forward pass alone; a real step also verifies, reads the selected
 *    mask group's logits and proposes. The wall time from one step's plan to the next corrects cost(T)
 *    per width (SpaceCostModel.planned), so a configuration whose steps cost more than their forward
 *    pass loses to AR instead of running slower than it.
 *
 * Lossless whatever it picks: a configuration changes only the candidates and the mask rows, never the
 * verification. No Node APIs here.
 */
import type { Engine } from "../engine.js";
import { costCurve } from "./cost.js";
import { AR_CONFIG, FULL_LAYOUT, LEAN_LAYOUT, LOOKUP_LAYOUT, STORE_CLASS, TAIL_LAYOUT, type SpaceAuto, type SpaceConfig, type SpaceLayout } from "./space.js";
import type { Verdict } from "./verify.js";
import type { LoraRows } from "../model/adapter.js";

/**
 * The layouts the cost model chooses among when it speculates (test/decode.space.test.ts checks
 * exactness for each). The hybrid layout is not among them: its candidates come from two sources with
 * different acceptance, which one estimate of alpha cannot describe.
 */
export const AUTO_LAYOUTS: readonly SpaceLayout[] = [FULL_LAYOUT, LEAN_LAYOUT, TAIL_LAYOUT];

/**
 * Every configuration the cost model may pick for a mask source of kMax masks: AR_CONFIG (a plain AR
 * step), then k = 1..kMax x AUTO_LAYOUTS, then lookup steps of up to d = 1..kMax copied candidates
 * (LOOKUP_LAYOUT; chosen only at steps whose text has a match). AR comes first, so it wins ties.
 */
export function spaceConfigs(kMax: number): SpaceConfig[] {
  const out: SpaceConfig[] = [AR_CONFIG];
  for (let k = 1; k <= kMax; k++) for (const layout of AUTO_LAYOUTS) out.push({ k, layout });
  for (let d = 1; d <= kMax; d++) out.push({ k: d, layout: LOOKUP_LAYOUT });
  return out;
}

/** Whether c is a plain AR step (no candidates, no mask group). */
export function isAr(c: SpaceConfig): boolean {
  return c.k === 0;
}

/** Whether c is a lookup step (copied candidates, no mask group). */
export function isLookup(c: SpaceConfig): boolean {
  return c.layout === LOOKUP_LAYOUT;
}

/** Rows of a step's block: one pending (bonus) token, m candidates, k masks per mask group. */
export function blockRows(c: SpaceConfig, m: number): number {
  let groups = 0;
  for (let j = 0; j <= m; j++) if (c.layout.groupAfter(j, m)) groups++;
  return 1 + m + c.k * groups;
}

/** Block widths a set of configurations can run (what measureCost times). */
export function configWidths(configs: readonly SpaceConfig[]): number[] {
  const ws = new Set<number>([1]);
  for (const c of configs) for (const m of [0, c.k]) ws.add(blockRows(c, m));
  return [...ws].sort((a, b) => a - b);
}

/** cost(T): wall time of one step over a block of T rows (any unit: only ratios matter). */
export type CostFn = (T: number) => number;

/** Piecewise-linear cost through measured points, extended linearly past the last two (at least the last). */
export function costFromTable(points: readonly { readonly T: number; readonly ms: number }[]): CostFn {
  const p = [...points].filter((x) => Number.isFinite(x.ms) && x.ms > 0).sort((a, b) => a.T - b.T);
  if (p.length === 0) throw new Error("cost table: no finite positive points");
  return (T) => {
    if (p.length === 1) return p[0].ms * Math.max(1, T / p[0].T);
    let i = p.findIndex((x) => x.T >= T);
    if (i < 0) i = p.length - 1;
    if (i === 0) i = 1;
    const a = p[i - 1], b = p[i];
    const y = a.ms + ((b.ms - a.ms) * (T - a.T)) / (b.T - a.T);
    return Math.max(y, T >= p[p.length - 1].T ? p[p.length - 1].ms : p[0].ms * 1e-3);
  };
}

/**
 * Expected tokens per step, rows-weighted cost per step and their ratio for one configuration, given
 * alpha(j) (j = 1..k). A step with m candidates accepts n of them with P(n) = a_1..a_n (1 - a_{n+1})
 * (n < m) or a_1..a_m (n = m) and emits n + 1 tokens. The layout decides the next step's candidates:
 * k if there is a mask group after c_n, else none (the lean layout when 0 < n < k). So the candidate
 * count is a two-state Markov chain {0, k}; by renewal-reward, tokens per unit time = (sum over states
 * of pi * tokens) / (sum of pi * cost). It starts with no candidates (the first step). AR_CONFIG (k = 0,
 * no group) stays in state 0: one token per cost(1).
 */
export function expectedRate(c: SpaceConfig, alpha: (j: number) => number, cost: CostFn): { tokensPerStep: number; costPerStep: number; rate: number } {
  const { k, layout } = c;
  const pn = acceptedDistribution(k, alpha);
  const tokensK = pn.reduce((s, p, n) => s + p * (n + 1), 0);
  const toK0 = layout.groupAfter(0, 0) ? 1 : 0; // no candidates -> candidates
  const stayK = pn.reduce((s, p, n) => s + (layout.groupAfter(n, k) ? p : 0), 0); // candidates -> candidates
  const piK = toK0 === 0 ? 0 : toK0 / (toK0 + (1 - stayK));
  const pi0 = 1 - piK;
  const tokensPerStep = pi0 * 1 + piK * tokensK;
  const costPerStep = pi0 * cost(blockRows(c, 0)) + piK * cost(blockRows(c, k));
  return { tokensPerStep, costPerStep, rate: tokensPerStep / costPerStep };
}

/** P(n accepted), n = 0..k, for a step with k candidates: a_1..a_n (1 - a_{n+1}), the last a_1..a_k. */
function acceptedDistribution(k: number, alpha: (j: number) => number): number[] {
  const pn: number[] = [];
  let reach = 1;
  for (let n = 0; n <= k; n++) {
    const a = n < k ? clamp01(alpha(n + 1)) : 0;
    pn.push(reach * (1 - a));
    reach *= a;
  }
  return pn;
}

/**
 * A probe of a speculating configuration c from no candidates: two steps, the first ([pending] [M]*k)
 * proposes k candidates, the second verifies them (the verdict that updates alpha). `extra` is what the
 * probe costs beyond the AR steps that would emit its expected tokens: cost of the two blocks minus
 * cost(1) x expected tokens (negative when the probe is cheaper than AR for the same tokens).
 */
export function probeCost(c: SpaceConfig, alpha: (j: number) => number, cost: CostFn): { tokens: number; cost: number; extra: number } {
  const tokens = 1 + acceptedDistribution(c.k, alpha).reduce((s, p, n) => s + p * (n + 1), 0);
  const total = cost(blockRows(c, 0)) + cost(blockRows(c, c.k));
  return { tokens, cost: total, extra: total - tokens * cost(1) };
}

/** The configuration with the highest expected rate (ties: the earlier one, i.e. the smaller block). */
export function chooseConfig(configs: readonly SpaceConfig[], alpha: (j: number) => number, cost: CostFn): SpaceConfig {
  let best = configs[0];
  let bestRate = -Infinity;
  for (const c of configs) {
    const r = expectedRate(c, alpha, cost).rate;
    if (r > bestRate * (1 + 1e-9)) {
      best = c;
      bestRate = r;
    }
  }
  return best;
}

export interface AcceptanceOptions {
  /** Prior alpha_j (every j), worth `priorWeight` verdicts. Default 0.5, weight 2. */
  readonly prior?: number;
  readonly priorWeight?: number;
  /** Each verdict on position j multiplies its earlier counts by this (forgetting). Default 0.95. */
  readonly decay?: number;
}

/**
 * Running alpha_j = P(candidate j accepted | candidates 1..j-1 accepted): exponentially weighted counts
 * of tries and acceptances per position, plus the prior. A verdict accepting n of m candidates tried
 * positions 1..min(n+1, m) and accepted 1..n. Positions never tried (beyond the k in use) keep the prior.
 */
export class AcceptanceTracker {
  private readonly tries: Float64Array;
  private readonly accepts: Float64Array;
  readonly prior: number;
  readonly priorWeight: number;
  readonly decay: number;

  constructor(readonly kMax: number, o: AcceptanceOptions = {}) {
    this.tries = new Float64Array(kMax + 1);
    this.accepts = new Float64Array(kMax + 1);
    this.prior = o.prior ?? 0.5;
    this.priorWeight = o.priorWeight ?? 2;
    this.decay = o.decay ?? 0.95;
  }

  /** alpha_j with the prior `prior` (default this.prior) in place of the tracker's own. */
  alpha(j: number, prior = this.prior): number {
    if (j < 1 || j > this.kMax) return prior;
    return (this.accepts[j] + prior * this.priorWeight) / (this.tries[j] + this.priorWeight);
  }

  /**
   * A new sequence begins: what the earlier ones said stays the estimate, but counts for at most
   * `weight` verdicts per position, so the new text's own first verdicts move it (acceptance depends on
   * the text: code prompts accept far more than chat).
   */
  carryOver(weight: number): void {
    for (let j = 1; j <= this.kMax; j++) {
      if (!(this.tries[j] > weight)) continue;
      const f = weight / this.tries[j];
      this.tries[j] *= f;
      this.accepts[j] *= f;
    }
  }

  /** `ended`: generation stopped inside the step (an accepted end-of-generation token): not a verdict on later positions. */
  observe(m: number, accepted: number, ended = false): void {
    const tried = ended ? accepted : Math.min(accepted + 1, m);
    for (let j = 1; j <= Math.min(tried, this.kMax); j++) {
      this.tries[j] = this.tries[j] * this.decay + 1;
      this.accepts[j] = this.accepts[j] * this.decay + (j <= accepted ? 1 : 0);
    }
  }
}

export interface CostModelOptions extends AcceptanceOptions {
  /** Re-choose every this many steps (default 1: every step). */
  readonly every?: number;
  /**
   * While the model runs plain AR steps, probes may cost at most this fraction of the AR time, by the
   * model's own estimate (default 0.03: 3%). 0: never probe once a verdict has been seen.
   */
  readonly probeBudget?: number;
  /**
   * Correct cost(T) by the wall time of the steps themselves (default true; SpaceCostModel.planned).
   * false: the measured cost(T) alone, so the choices depend only on the verdicts.
   */
  readonly calibrate?: boolean;
  /** The calibration's clock in ms (default performance.now). */
  readonly clock?: () => number;
  /**
   * At a new sequence (reset), the acceptance counts keep the weight of at most this many verdicts per
   * position (default 4; AcceptanceTracker.carryOver). Infinity: one running estimate across sequences.
   */
  readonly carry?: number;
  /**
   * cost(T) of a block without mask rows (a lookup step: [pending] and T - 1 copied candidates, no
   * adapter). Default `cost`.
   */
  readonly lookupCost?: CostFn;
}

/**
 * The prior acceptance of an n-gram store's drafts (see lookupAcceptance): one try at most before the
 * first verdict, where a cost(2) / cost(1) of 1.2 makes 1 + 0.3 tokens barely pay.
 */
const STORE_PRIOR = 0.3;

/** The share of the probe budget that retries lookup classes whose estimate fell below AR (pick). */
const LOOKUP_RETRY_SHARE = 1 / 3;

/**
 * Exploration's ceiling: a speculating configuration is worth a probe only if it would beat AR were this
 * share of its candidates accepted at every position. On a machine where rows cost much (a small model
 * whose weights sit in a large cache: each extra row ~0.4 of a one-row pass), no mask configuration pays
 * even then, and every probe is a lost step: 3% of the time on texts the masks cannot predict (chat).
 */
const ALPHA_CEILING = 0.9;

/**
 * Every correction is relative to the measured curve, whose level can be off by 1.5x (a start-up
 * measurement in a slow phase of this VM). A text that speculates from its first step would never time
 * an AR step, so AR's price would stay the measured one: too dear, and nothing would ever show it (in one
 * bench run the masks ran every step of both chat prompts, tau 1.2, at 0.7-0.9x AR). So until AR_SAMPLES
 * AR steps are timed in a text, every AR_SAMPLE_EVERY-th step is one (at worst a step's expected gain
 * lost, three times a text).
 */
const AR_SAMPLES = 3;
const AR_SAMPLE_EVERY = 4;

/** The factors foldShape puts on the measured cost(T) stay within these (a measured curve is not that wrong). */
const SHAPE_BOUNDS = { min: 0.5, max: 2 } as const;

/** A step's wall time over its cost(T) counts within these bounds (a stall, a GC pause: not the width's price). */
const CALIBRATION_CLIP = { min: 0.25, max: 4 } as const;
/** The correction averages up to this many steps per width, then forgets older ones (a running mean). */
const CALIBRATION_WINDOW = 16;

/**
 * The SpaceProposer's `auto`: picks the best configuration from cost(T) and the running acceptance, plain
 * AR included.
 *
 * Exploration. AR steps verify no candidate, so if AR were simply picked, alpha would freeze at the
 * value that made AR win, and a text where the masks start predicting well would never be noticed. So
 * while AR is the choice, the model probes: it runs the best *speculating* configuration (the one that
 * would replace AR if alpha were higher, so the evidence is about the decision at stake) for the two
 * steps that give one verdict. Probes are paid from a budget rather than run every N steps, so that
 * their cost is bounded whatever cost(T) is: each AR step earns `probeBudget` x cost(1) of credit, and a
 * probe starts when the credit covers its expected extra cost over AR (probeCost); any verdict resets
 * the credit. The exploration overhead is thus at most probeBudget of the AR time (by the model's
 * estimate): cheap probes (a flat cost(T), a large memory-bound model) come every few steps, costly ones
 * (a small compute-bound model) every few dozen. Before the first verdict the credit is unlimited: the
 * prior is no evidence, so the first AR choice probes at once (at the first step that is the prompt's
 * prefill plus k mask rows, which costs little more than the prefill). There is no probe at all while no
 * speculating configuration would beat AR even at ALPHA_CEILING: there a probe can only confirm AR.
 *
 * Lookup steps. At a step whose text has a lookup match of a tail n-gram (choose's hint), a lookup
 * configuration [pending] c_1..c_d with the copied candidates runs instead when its expected rate,
 * (1 + a_1 + a_1 a_2 + ... + a_1..a_d) / cost(1 + d) with the lookup acceptance for that n, beats the
 * rate of the configuration the model runs otherwise. Lookup acceptance is kept per match class (the
 * n-gram length, or, for drafts of an n-gram store where the text has no 3-token match, strong or weak:
 * space.ts storeMatchClass), apart from the masks' (a copied run and a mask group are different
 * predictors). Every match is a chance to verify, and the prior makes the first one try d = 1; a class
 * that fell below AR is retried with d = 1 from a credit of its own (lookupRetryExtra), so that one early
 * miss does not end it for the text.
 */
export class SpaceCostModel implements SpaceAuto {
  readonly tracker: AcceptanceTracker;
  /** Steps by kind, and probes started (what exploration cost; for tests and the demo). */
  readonly counts = { ar: 0, speculating: 0, lookup: 0, probes: 0 };
  private current: SpaceConfig;
  private steps = 0;
  private readonly every: number;
  private readonly probeBudget: number;
  private readonly chains: readonly SpaceConfig[]; // AR and the mask configurations (what best() picks from)
  private readonly speculating: readonly SpaceConfig[];
  private readonly lookups: readonly SpaceConfig[]; // by d, ascending
  private readonly lookupAlpha = new Map<number, AcceptanceTracker>(); // per match class (space.ts storeMatchClass)
  private lookupN = 0; // the match class of the lookup step in progress (until its verdict)
  private readonly acceptance: AcceptanceOptions;
  private credit = Infinity; // in cost units; see the class comment
  private lookupCredit = 0; // the same for retrying a lookup class that fell below AR (lookupRetryExtra)
  private probe: SpaceConfig | null = null; // the probe in progress (until its verdict)
  private probeSteps = 0;
  // The decision depends only on alpha, which changes only at verdicts (observe(), not the tracker's
  // own observe): between them (every AR step) it is reused, so an AR step costs no rate evaluations
  // (on the embedded model a whole step takes ~0.1 ms).
  private decision: { best: SpaceConfig; bestRate: number; probe: SpaceConfig | null; probeExtra: number } | null = null;
  // Calibration: per block width, the running mean of (step wall time / cost(T)) and its sample count.
  private readonly calibrating: boolean;
  private readonly clock: () => number;
  private readonly widths: ReadonlySet<number>;
  private readonly ratio = new Map<number, { mean: number; n: number }>();
  private readonly lookupRatio = new Map<number, { mean: number; n: number }>(); // lookup blocks' own
  private readonly lookupCost: CostFn;
  private lastLookup = false;
  private lastRows = 0;
  private lastStart = 0;
  private readonly arConfig: SpaceConfig | undefined;
  private readonly carry: number;

  /**
   * The measured curves reshaped by the earlier texts' steps (foldShape, at reset): per width, a factor on
   * the measured cost(T). The level is each text's own; the shape is the machine's. The evidence for the
   * next fold: per width, the sum of log(r / width 1's correction at that moment) and the count of steps.
   */
  private readonly shape = new Map<number, number>();
  private readonly lookupShape = new Map<number, number>();
  private readonly shapeEvidence = new Map<number, { logSum: number; n: number }>();
  private readonly lookupShapeEvidence = new Map<number, { logSum: number; n: number }>();

  constructor(readonly configs: readonly SpaceConfig[], readonly cost: CostFn, o: CostModelOptions = {}) {
    if (configs.length === 0) throw new Error("SPACE cost model: no configurations");
    this.chains = configs.filter((c) => !isLookup(c));
    if (this.chains.length === 0) throw new Error("SPACE cost model: lookup configurations need AR or a mask configuration beside them");
    this.tracker = new AcceptanceTracker(Math.max(1, ...configs.map((c) => c.k)), o);
    this.acceptance = o;
    this.every = Math.max(1, Math.floor(o.every ?? 1));
    this.probeBudget = Math.max(0, o.probeBudget ?? 0.03);
    this.speculating = this.chains.filter((c) => !isAr(c));
    this.arConfig = this.chains.find(isAr);
    this.lookups = configs.filter(isLookup).sort((a, b) => a.k - b.k);
    this.lookupCost = o.lookupCost ?? cost;
    this.calibrating = o.calibrate ?? true;
    this.clock = o.clock ?? (() => performance.now());
    this.widths = new Set(configWidths(configs));
    this.carry = Math.max(0, o.carry ?? 4);
    this.current = this.best();
  }

  /**
   * A new sequence (SpaceProposer.reset, before generate's first step). Acceptance carries over with a
   * small weight (carry), so a chat prompt after code prompts is not decoded for dozens of steps on
   * code's acceptance; exploration restarts (the first AR choice probes at once); and the time until the
   * sequence's first plan (tokenising, the caller's own work) is no step's cost, so calibration skips it.
   * The calibration's level starts again from the measured costs (its shape is kept: foldShape): a step's
   * price is partly the text's, since every row attends to every cached key. Carried from long code
   * prompts (~350 keys) to a short chat one, AR's correction made AR look dearer than it was, the model
   * speculated, and chat ran at 0.6-0.86x AR (paired in one process, 2-core Xeon; 1.0x with this reset);
   * while it speculates, no AR step would correct it (now the text's first steps time AR: AR_SAMPLES).
   */
  reset(): void {
    this.foldShape();
    this.ratio.clear();
    this.lookupRatio.clear();
    this.tracker.carryOver(this.carry);
    // A store's drafts carry over the weight of one verdict only: whether the store fits is the text's
    // question (code written like the store's, or chat it knows nothing of). With the usual weight, code's
    // estimate makes a chat text pay for several misses per class before it falls; from the prior alone,
    // every code text pays for learning again what the last one knew (paired, 2-core Xeon: code 1.07x AR
    // instead of 1.19x).
    for (const [n, t] of this.lookupAlpha) t.carryOver(n >= STORE_CLASS ? Math.min(1, this.carry) : this.carry);
    this.decision = null;
    this.credit = Infinity;
    this.lookupCredit = 0;
    this.probe = null;
    this.probeSteps = 0;
    this.steps = 0;
    this.lastRows = 0;
    this.lookupN = 0;
    this.current = this.best();
  }

  private readonly alpha = (j: number): number => this.tracker.alpha(j);

  /**
   * Keeps what the last text's steps said about the curve's shape. A curve measured once at start-up can
   * be wrong in its shape (on the Xeon VMs a fresh process's first passes run at up to twice the steady
   * time, most likely while the weights settle into the L3, and a one-row pass most): one measured
   * cost(2) < cost(1) made every text's first copied candidates look free.
   *
   * The evidence is relative and local: each step of width T > 1 compares its correction with width 1's
   * at that moment (the running mean of the last AR steps), so this VM's speed phases, which move both,
   * cancel (two running means of different ages did not: a phase change between them read as a shape and
   * grew, text after text, until the copies no longer ran). A width with two steps or more in the text
   * takes their geometric mean as its factor's correction. A width that did not run relaxes half way (in
   * log) back to the measured curve: a shape that made a width look too dear would otherwise stop it
   * from running, and so from being measured again. Factors stay within SHAPE_BOUNDS.
   */
  private foldShape(): void {
    const fold = (evidence: Map<number, { logSum: number; n: number }>, shape: Map<number, number>) => {
      for (const [T, f] of shape) if ((evidence.get(T)?.n ?? 0) < 2) shape.set(T, Math.sqrt(f));
      for (const [T, e] of evidence) {
        if (e.n < 2) continue;
        const f = (shape.get(T) ?? 1) * Math.exp(e.logSum / e.n);
        shape.set(T, Math.min(SHAPE_BOUNDS.max, Math.max(SHAPE_BOUNDS.min, f)));
      }
      evidence.clear();
    };
    fold(this.shapeEvidence, this.shape);
    fold(this.lookupShapeEvidence, this.lookupShape);
  }

  /** The measured cost(T) in the shape the earlier texts' steps gave it (foldShape): what calibration corrects. */
  private base(T: number, lookup = false): number {
    return lookup ? this.lookupCost(T) * (this.lookupShape.get(T) ?? 1) : this.cost(T) * (this.shape.get(T) ?? 1);
  }

  /**
   * cost(T) as the steps have shown it: base(T) times the running mean of wall time / base(T) of this
   * text's steps of width T. A width not run yet takes the text's level (width 1's correction: AR steps
   * run most often): the same relative overhead, until its own steps say otherwise.
   */
  readonly stepCost: CostFn = (T) => this.base(T) * (this.ratio.get(T)?.mean ?? this.level());

  /** cost(T) of a lookup block as its steps have shown it (a width not run yet: the text's level). */
  readonly lookupStepCost: CostFn = (T) => this.base(T, true) * (this.lookupRatio.get(T)?.mean ?? this.level());

  /**
   * This text's level: width 1's correction, or before any AR step the mean correction of the widths
   * that ran (each step weighted alike), or 1 (the measured curve) before any step.
   */
  private level(): number {
    const ar = this.ratio.get(1);
    if (ar) return ar.mean;
    let sum = 0, n = 0;
    for (const ratios of [this.ratio, this.lookupRatio]) for (const r of ratios.values()) (sum += r.mean * (r.n - 1)), (n += r.n - 1);
    return n > 0 ? sum / n : 1;
  }

  /** The correction of width T so far (1 = the measured cost(T)); `lookup`: of lookup blocks. For tests. */
  correction(T: number, lookup = false): number {
    return (lookup ? this.lookupRatio : this.ratio).get(T)?.mean ?? 1;
  }

  /** The configuration with the highest expected rate now, lookup steps aside (AR_CONFIG when nothing beats AR). */
  best(): SpaceConfig {
    return chooseConfig(this.chains, this.alpha, this.stepCost);
  }

  /**
   * Running acceptance of lookup candidates of match class n (a tail n-gram's length, or a store draft's
   * class, which starts from the lower prior STORE_PRIOR: such a draft is a guess from other texts, and
   * where the store does not fit the text, every try before the estimate falls is a lost row).
   */
  lookupAcceptance(n: number): AcceptanceTracker {
    let t = this.lookupAlpha.get(n);
    if (!t) {
      const o = n >= STORE_CLASS ? { ...this.acceptance, prior: STORE_PRIOR } : this.acceptance;
      this.lookupAlpha.set(n, (t = new AcceptanceTracker(this.lookups.at(-1)?.k ?? 1, o))); // lookups: by d, ascending
    }
    return t;
  }

  /**
   * The lookup configuration with the highest expected rate for a match of length n, and that rate:
   * (1 + sum over j <= d of a_1..a_j) / cost(1 + d). The prior of position j > 1 is the estimate of
   * position j - 1, not a constant (a copied run that holds tends to go on holding): so d grows one
   * step at a time while the copies are accepted, instead of stopping where a constant prior does not
   * pay for one more row. Null without lookup configurations.
   */
  bestLookup(n: number): { config: SpaceConfig; rate: number } | null {
    const t = this.lookupAcceptance(n);
    let best: SpaceConfig | null = null, bestRate = -Infinity;
    // The lookups are in increasing d: one pass accumulates tokens(d) = 1 + a_1 + a_1 a_2 + ...
    let a = 0, reach = 1, tokens = 1, j = 0;
    for (const c of this.lookups) {
      for (; j < c.k; j++) {
        a = clamp01(j === 0 ? t.alpha(1) : t.alpha(j + 1, a));
        tokens += reach *= a;
      }
      const rate = tokens / this.lookupStepCost(1 + c.k);
      if (rate > bestRate * (1 + 1e-9)) {
        best = c;
        bestRate = rate;
      }
    }
    return best ? { config: best, rate: bestRate } : null;
  }

  /** Whether some speculating configuration would beat AR at ALPHA_CEILING (else probes are lost steps). */
  private worthProbing(): boolean {
    if (this.speculating.length === 0) return false;
    const ceiling = () => ALPHA_CEILING;
    const c = chooseConfig(this.speculating, ceiling, this.stepCost);
    return expectedRate(c, ceiling, this.stepCost).rate > (1 / this.stepCost(1)) * (1 + 1e-9);
  }

  /** The best configuration that proposes candidates (what a probe runs); null if there is none. */
  bestSpeculating(): SpaceConfig | null {
    return this.speculating.length ? chooseConfig(this.speculating, this.alpha, this.stepCost) : null;
  }

  /**
   * The proposer planned a block of `rows` rows: the time since the previous plan is the previous step's
   * whole price (forward pass, verification, mask-group logits, proposing, and whatever the caller did
   * with the tokens), which corrects cost(T) for the previous step's width. Widths no configuration
   * runs (the prompt's first block) are not counted.
   */
  planned(rows: number, lookup = false): void {
    if (!this.calibrating) return;
    const now = this.clock();
    const T = this.lastRows;
    if (T > 0 && this.widths.has(T)) {
      // A lookup block (no mask rows) has its own cost curve, so its own correction; width 1 is AR's.
      const byLookup = this.lastLookup && T > 1;
      const ratios = byLookup ? this.lookupRatio : this.ratio;
      const r = Math.min(CALIBRATION_CLIP.max, Math.max(CALIBRATION_CLIP.min, (now - this.lastStart) / this.base(T, byLookup)));
      // A prior of one step at the text's level so far, so the first step moves the estimate only half way.
      const old = ratios.get(T) ?? { mean: this.level(), n: 1 };
      const n = Math.min(CALIBRATION_WINDOW, old.n + 1);
      const mean = old.mean + (r - old.mean) / n;
      ratios.set(T, { mean, n });
      if (Math.abs(mean / old.mean - 1) > 0.02) this.decision = null; // re-choose only on a real change
      const ar = this.ratio.get(1);
      if (T > 1 && ar && this.arSteps() >= AR_SAMPLES) {
        // The shape's evidence: this step against the AR steps just before it (foldShape).
        const evidence = byLookup ? this.lookupShapeEvidence : this.shapeEvidence;
        const e = evidence.get(T) ?? { logSum: 0, n: 0 };
        evidence.set(T, { logSum: e.logSum + Math.log(r / ar.mean), n: e.n + 1 });
      }
    }
    this.lastRows = rows;
    this.lastLookup = lookup;
    this.lastStart = now;
  }

  /** AR steps timed in this text (up to the running mean's window): width 1's samples, less its prior. */
  private arSteps(): number {
    return (this.ratio.get(1)?.n ?? 1) - 1;
  }

  choose(hint?: { readonly lookup: number }): SpaceConfig {
    const c = this.pick(hint?.lookup ?? 0);
    this.counts[isAr(c) ? "ar" : isLookup(c) ? "lookup" : "speculating"]++;
    return c;
  }

  private decide(): { best: SpaceConfig; bestRate: number; probe: SpaceConfig | null; probeExtra: number } {
    if (!this.decision) {
      const probe = this.worthProbing() ? this.bestSpeculating() : null;
      const best = this.best();
      const bestRate = expectedRate(best, this.alpha, this.stepCost).rate;
      this.decision = { best, bestRate, probe, probeExtra: probe ? probeCost(probe, this.alpha, this.stepCost).extra : Infinity };
    }
    return this.decision;
  }

  private pick(match: number): SpaceConfig {
    const d = this.decide();
    if (this.steps++ % this.every === 0) this.current = d.best;
    // A probe lasts until its verdict: two steps from no candidates, one if candidates were left over.
    if (this.probe && this.probeSteps < 2) {
      this.probeSteps++;
      return this.probe;
    }
    this.probe = null;
    // Measuring the level: see AR_SAMPLES.
    // (lastRows > 0: the proposer reports its blocks, so steps are being timed.)
    if (this.lastRows > 0 && this.arSteps() < AR_SAMPLES && this.steps % AR_SAMPLE_EVERY === 0 && this.arConfig) return this.arConfig;
    // A match: copied candidates instead, when they are expected to pay more than the usual choice.
    const lookup = match > 0 ? this.bestLookup(match) : null;
    if (lookup && lookup.rate > d.bestRate * (1 + 1e-9)) {
      this.lookupN = match;
      return lookup.config;
    }
    if (!isAr(this.current)) return this.current;
    if (d.probe && this.credit >= d.probeExtra) {
      this.probe = d.probe;
      this.probeSteps = 1;
      this.counts.probes++;
      return d.probe;
    }
    if (lookup && this.lookupCredit > 0 && this.lookupCredit >= this.lookupRetryExtra(match)) {
      this.lookupCredit = 0;
      this.lookupN = match;
      return this.lookups[0];
    }
    this.credit += this.probeBudget * this.stepCost(1);
    this.lookupCredit += LOOKUP_RETRY_SHARE * this.probeBudget * this.stepCost(1);
    return this.current;
  }

  /**
   * What one copied candidate (d = 1) of match class n is expected to cost beyond the AR steps that
   * would emit its tokens: cost(2) - (1 + a_1) cost(1). A class whose estimate fell below AR's rate is
   * still retried when the lookup credit covers this (pick): one early miss (a prior worth two verdicts
   * makes it 0.33) would otherwise end a class for the whole text, and on code the copies of 3-grams
   * are accepted 0.7 of the time.
   */
  private lookupRetryExtra(n: number): number {
    const a1 = clamp01(this.lookupAcceptance(n).alpha(1));
    return this.lookupStepCost(1 + this.lookups[0].k) - (1 + a1) * this.stepCost(1);
  }

  observe(m: number, verdict: Verdict, source?: string): void {
    if (m === 0) return; // no candidate verified: no evidence
    if (source === "lookup") {
      // Evidence on copied candidates only: the masks' estimate, decision and exploration stand.
      if (this.lookupN > 0) this.lookupAcceptance(this.lookupN).observe(m, verdict.accepted, verdict.ended);
      this.lookupN = 0;
      return;
    }
    this.tracker.observe(m, verdict.accepted, verdict.ended);
    this.decision = null;
    this.credit = 0;
    this.probe = null;
  }
}

// Medians per engine, per adapter (null: none), per width.
const measured = new WeakMap<Engine, Map<LoraRows | null, Map<number, number>>>();

export interface MeasureOptions {
  readonly prefix?: number; // committed tokens before the block (default 32)
  readonly warmup?: number; // untimed rounds (default 2)
  readonly repeats?: number; // timed rounds; the median counts (default 5)
  /** The mask source's adapter: its LoRA rows are part of every block wider than one row (costCurve). */
  readonly lora?: LoraRows;
}

/**
 * cost(T) of this engine for the widths `configs` can run, by real forward passes on a scratch context
 * (decode/cost.ts). Measured once per engine, adapter and width: the engine fixes the model, weight format
 * and thread count, the adapter (o.lora) what a block's mask rows add; later calls reuse the cached medians.
 */
export function measureCost(engine: Engine, configs: readonly SpaceConfig[], o: MeasureOptions = {}): CostFn {
  let byAdapter = measured.get(engine);
  if (!byAdapter) measured.set(engine, (byAdapter = new Map()));
  let cache = byAdapter.get(o.lora ?? null);
  if (!cache) byAdapter.set(o.lora ?? null, (cache = new Map()));
  const missing = configWidths(configs).filter((T) => !cache!.has(T));
  if (missing.length) {
    const prefix = Math.min(o.prefix ?? 32, Math.max(0, engine.config.contextLength - Math.max(...missing)));
    const V = engine.config.vocabSize;
    const tokens = Array.from({ length: prefix + Math.max(...missing) }, (_, i) => (i * 7919 + 3) % V);
    const widths = cache.has(1) ? missing : [...new Set([1, ...missing])];
    for (const p of costCurve(engine, tokens, { prefix, widths, warmup: o.warmup ?? 2, repeats: o.repeats ?? 5, ...(o.lora ? { lora: o.lora } : {}) })) cache.set(p.T, p.median_ms);
  }
  return costFromTable([...cache].map(([T, ms]) => ({ T, ms })));
}

/**
 * The cost model for an engine and a mask source of kMax masks: measured cost(T), every configuration.
 * With an adapter, lookup blocks (no mask rows, so no LoRA rows) get their own curve, measured without it.
 */
export function autoSpace(engine: Engine, kMax: number, o: CostModelOptions & MeasureOptions = {}): SpaceCostModel {
  const configs = spaceConfigs(kMax);
  const cost = measureCost(engine, configs, o);
  const { lora: _lora, ...plain } = o;
  const lookupCost = o.lora ? measureCost(engine, configs.filter((c) => isAr(c) || isLookup(c)), plain) : cost;
  return new SpaceCostModel(configs, cost, { lookupCost, ...o });
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

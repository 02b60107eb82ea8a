/**
 * A cost model for SPACE on a CPU: choose k and the layout of each step to maximise expected tokens per
 * second, E[tokens per step] / cost(T), where T is the block's rows. On a CPU every row costs (a step of
 * the paper's full layout, 1 + k(k+2) rows, can cost ~15x AR's one row on a small model), so the best
 * configuration depends on this machine's cost(T) curve and on how often candidates are accepted.
 *
 *  - cost(T): measured once per engine (the engine fixes model, weight format and thread count) by real
 *    forward passes on a scratch context (measureCost, cached in memory per engine), or given as a table.
 *  - acceptance: alpha_j = P(candidate j accepted | candidates 1..j-1 accepted), from exponentially
 *    weighted counts of the verdicts, starting from a prior (AcceptanceTracker).
 *  - the choice: among a FINITE set of configurations (spaceConfigs: k = 1..K x AUTO_LAYOUTS); the
 *    exactness property tests iterate over the same set, so the model only ever picks a tested layout.
 *
 * Lossless whatever it picks: a configuration changes only the candidates and the mask rows, never the
 * verification. No Node APIs here.
 */
import type { Engine } from "../engine.js";
import { costCurve } from "../bench/cost.js";
import { FULL_LAYOUT, LEAN_LAYOUT, type SpaceAuto, type SpaceConfig, type SpaceLayout } from "./space.js";
import type { Verdict } from "./verify.js";

/** The layouts the cost model chooses among (test/decode.space.test.ts checks exactness for each). */
export const AUTO_LAYOUTS: readonly SpaceLayout[] = [FULL_LAYOUT, LEAN_LAYOUT];

/** Every configuration the cost model may pick for a mask source of kMax masks: k = 1..kMax x AUTO_LAYOUTS. */
export function spaceConfigs(kMax: number): SpaceConfig[] {
  const out: SpaceConfig[] = [];
  for (let k = 1; k <= kMax; k++) for (const layout of AUTO_LAYOUTS) out.push({ k, layout });
  return out;
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
 * of pi * tokens) / (sum of pi * cost). It starts with no candidates (the first step).
 */
export function expectedRate(c: SpaceConfig, alpha: (j: number) => number, cost: CostFn): { tokensPerStep: number; costPerStep: number; rate: number } {
  const { k, layout } = c;
  // P(n accepted) with k candidates.
  const pn: number[] = [];
  let reach = 1;
  for (let n = 0; n <= k; n++) {
    const a = n < k ? clamp01(alpha(n + 1)) : 0;
    pn.push(reach * (1 - a));
    reach *= a;
  }
  const tokensK = pn.reduce((s, p, n) => s + p * (n + 1), 0);
  const toK0 = layout.groupAfter(0, 0) ? 1 : 0; // no candidates -> candidates
  const stayK = pn.reduce((s, p, n) => s + (layout.groupAfter(n, k) ? p : 0), 0); // candidates -> candidates
  const piK = toK0 === 0 ? 0 : toK0 / (toK0 + (1 - stayK));
  const pi0 = 1 - piK;
  const tokensPerStep = pi0 * 1 + piK * tokensK;
  const costPerStep = pi0 * cost(blockRows(c, 0)) + piK * cost(blockRows(c, k));
  return { tokensPerStep, costPerStep, rate: tokensPerStep / costPerStep };
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

  alpha(j: number): number {
    if (j < 1 || j > this.kMax) return this.prior;
    return (this.accepts[j] + this.prior * this.priorWeight) / (this.tries[j] + this.priorWeight);
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
}

/** The SpaceProposer's `auto`: picks the best configuration from cost(T) and the running acceptance. */
export class SpaceCostModel implements SpaceAuto {
  readonly tracker: AcceptanceTracker;
  private current: SpaceConfig;
  private steps = 0;
  private readonly every: number;

  constructor(readonly configs: readonly SpaceConfig[], readonly cost: CostFn, o: CostModelOptions = {}) {
    if (configs.length === 0) throw new Error("SPACE cost model: no configurations");
    this.tracker = new AcceptanceTracker(Math.max(...configs.map((c) => c.k)), o);
    this.every = Math.max(1, Math.floor(o.every ?? 1));
    this.current = this.best();
  }

  best(): SpaceConfig {
    return chooseConfig(this.configs, (j) => this.tracker.alpha(j), this.cost);
  }

  choose(): SpaceConfig {
    if (this.steps++ % this.every === 0) this.current = this.best();
    return this.current;
  }

  observe(m: number, verdict: Verdict): void {
    if (m > 0) this.tracker.observe(m, verdict.accepted, verdict.ended);
  }
}

const measured = new WeakMap<Engine, Map<number, number>>();

export interface MeasureOptions {
  readonly prefix?: number; // committed tokens before the block (default 32)
  readonly warmup?: number; // untimed rounds (default 2)
  readonly repeats?: number; // timed rounds; the median counts (default 5)
}

/**
 * cost(T) of this engine for the widths `configs` can run, by real forward passes on a scratch context
 * (bench/cost.ts). Measured once per engine and width: the engine fixes the model, weight format and
 * thread count; later calls reuse the cached medians.
 */
export function measureCost(engine: Engine, configs: readonly SpaceConfig[], o: MeasureOptions = {}): CostFn {
  let cache = measured.get(engine);
  if (!cache) measured.set(engine, (cache = new Map()));
  const missing = configWidths(configs).filter((T) => !cache!.has(T));
  if (missing.length) {
    const prefix = Math.min(o.prefix ?? 32, Math.max(0, engine.config.contextLength - Math.max(...missing)));
    const V = engine.config.vocabSize;
    const tokens = Array.from({ length: prefix + Math.max(...missing) }, (_, i) => (i * 7919 + 3) % V);
    const widths = cache.has(1) ? missing : [...new Set([1, ...missing])];
    for (const p of costCurve(engine, tokens, { prefix, widths, warmup: o.warmup ?? 2, repeats: o.repeats ?? 5 })) cache.set(p.T, p.median_ms);
  }
  return costFromTable([...cache].map(([T, ms]) => ({ T, ms })));
}

/** The cost model for an engine and a mask source of kMax masks: measured cost(T), every configuration. */
export function autoSpace(engine: Engine, kMax: number, o: CostModelOptions & MeasureOptions = {}): SpaceCostModel {
  const configs = spaceConfigs(kMax);
  return new SpaceCostModel(configs, measureCost(engine, configs, o), o);
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

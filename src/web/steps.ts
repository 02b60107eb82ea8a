/**
 * One decoding step as a picture: what the step-through page draws, computed from a trace line
 * (spec/trace.md) alone, so that a step generated in the page and a step replayed from a `--trace` file
 * are drawn by the same code. Pure functions; no DOM.
 *
 * The trace holds no attention mask, but the layouts it describes determine it (src/decode/space.ts):
 * causal over the block, then every mask group hidden from every later row. So a non-mask row (pending
 * token or candidate) sees every earlier non-mask row, and a mask row sees the non-mask rows before its
 * group plus its group's earlier masks. Positions are then (keys seen) - 1, which the trace also records:
 * `picture` checks that they agree, so a trace of another layout is refused rather than drawn wrongly.
 */
import { fail } from "../errors.js";

/** A trace line (src/decode/trace.ts's TraceStep; `ms` is informative only). */
export interface StepRecord {
  readonly decoder: string;
  readonly step: number;
  readonly cached: number;
  readonly tokens: readonly number[];
  readonly positions: readonly number[];
  readonly mask_rows: readonly number[];
  readonly candidates: readonly number[];
  readonly accepted: number;
  readonly emitted: readonly number[];
  readonly bonus: number | null;
  readonly new_candidates: readonly number[] | null;
  readonly ms: number;
}

export type RowKind = "pending" | "candidate" | "mask";
/** A candidate's verdict; pending rows are always kept, mask rows never. */
export type RowFate = "kept" | "accepted" | "rejected" | "unverified" | "dropped";

export interface BlockRow {
  readonly row: number;
  readonly token: number;
  readonly position: number;
  readonly kind: RowKind;
  /** candidate: i for c_i (1-based); mask: the mask group's index (0 = after the pending tokens). */
  readonly index: number;
  readonly fate: RowFate;
}

export interface StepPicture {
  readonly step: StepRecord;
  readonly rows: readonly BlockRow[];
  /** visible[r][c]: block row r sees block row c (every row also sees all `cached` committed rows). */
  readonly visible: readonly (readonly boolean[])[];
  /** Block rows whose keys stay in the KV cache: pending + c_1..c_n. */
  readonly keptRows: readonly number[];
  /** The corrected token (the first candidate was rejected), the bonus (all accepted), or null (EOS). */
  readonly corrected: { readonly token: number; readonly kind: "corrected" | "bonus" } | null;
}

/** Draws one trace line. Throws E_ARGS when the line is inconsistent (counts, positions, emitted). */
export function picture(s: StepRecord): StepPicture {
  const T = s.tokens.length;
  const where = `trace step ${s.step}`;
  if (s.positions.length !== T) fail("E_ARGS", `${where}: ${s.positions.length} positions for ${T} tokens`);
  const isMask = new Array<boolean>(T).fill(false);
  for (const r of s.mask_rows) {
    if (!(Number.isInteger(r) && r >= 0 && r < T)) fail("E_ARGS", `${where}: mask row ${r} is outside the block of ${T} rows`);
    isMask[r] = true;
  }
  const nonMask = T - s.mask_rows.length;
  const pendingRows = nonMask - s.candidates.length;
  if (pendingRows < 1) fail("E_ARGS", `${where}: ${s.candidates.length} candidates leave no pending token in a block of ${T} rows`);
  if (!(Number.isInteger(s.accepted) && s.accepted >= 0 && s.accepted <= s.candidates.length)) {
    fail("E_ARGS", `${where}: accepted ${s.accepted} of ${s.candidates.length} candidates`);
  }
  const rows: BlockRow[] = [];
  const visible: boolean[][] = [];
  let seenNonMask = 0;
  let group = -1;
  for (let r = 0; r < T; r++) {
    const row = new Array<boolean>(T).fill(false);
    if (isMask[r]) {
      if (r === 0 || !isMask[r - 1]) group++;
      for (let c = 0; c <= r; c++) row[c] = !isMask[c] || c >= groupStart(isMask, r);
      rows.push({ row: r, token: s.tokens[r], position: s.positions[r], kind: "mask", index: group, fate: "dropped" });
    } else {
      for (let c = 0; c <= r; c++) row[c] = !isMask[c];
      const i = seenNonMask - pendingRows + 1; // 1-based candidate index, <= 0 for pending rows
      seenNonMask++;
      if (i <= 0) rows.push({ row: r, token: s.tokens[r], position: s.positions[r], kind: "pending", index: 0, fate: "kept" });
      else {
        if (s.tokens[r] !== s.candidates[i - 1]) fail("E_ARGS", `${where}: row ${r} holds ${s.tokens[r]}, but candidate c_${i} is ${s.candidates[i - 1]}`);
        const fate: RowFate = i <= s.accepted ? "accepted" : i === s.accepted + 1 ? "rejected" : "unverified";
        rows.push({ row: r, token: s.tokens[r], position: s.positions[r], kind: "candidate", index: i, fate });
      }
    }
    const seen = row.filter(Boolean).length;
    if (s.positions[r] !== s.cached + seen - 1) {
      fail("E_ARGS", `${where}: row ${r} is at position ${s.positions[r]}, but it sees ${s.cached} cached + ${seen} block rows (a layout this page cannot draw)`);
    }
    visible.push(row);
  }
  const keptRows = rows.filter((r) => r.fate === "kept" || r.fate === "accepted").map((r) => r.row);
  const expected = [...s.candidates.slice(0, s.accepted), ...(s.bonus === null ? [] : [s.bonus])];
  if (expected.length !== s.emitted.length || expected.some((t, i) => t !== s.emitted[i])) {
    fail("E_ARGS", `${where}: emitted [${s.emitted.join(", ")}] is not c_1..c_${s.accepted} then the bonus`);
  }
  const corrected = s.bonus === null ? null : { token: s.bonus, kind: s.accepted === s.candidates.length ? ("bonus" as const) : ("corrected" as const) };
  return { step: s, rows, visible, keptRows, corrected };
}

function groupStart(isMask: readonly boolean[], r: number): number {
  let start = r;
  while (start > 0 && isMask[start - 1]) start--;
  return start;
}

/**
 * Parses a `--trace` file (JSON Lines). Lines that are not steps (a header line some writers add, blank
 * lines) are returned apart; a malformed step line is an E_ARGS error naming its line.
 */
export function parseTrace(text: string, name = "trace"): { steps: StepRecord[]; headers: unknown[] } {
  const steps: StepRecord[] = [];
  const headers: unknown[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      fail("E_ARGS", `${name}:${i + 1}: not JSON`);
    }
    if (typeof value !== "object" || value === null || !("step" in value)) {
      headers.push(value);
      continue;
    }
    steps.push(checkStep(value as Record<string, unknown>, `${name}:${i + 1}`));
  }
  if (steps.length === 0) fail("E_ARGS", `${name}: no step lines (spec/trace.md)`);
  steps.forEach((s, i) => {
    if (s.step !== i + 1) fail("E_ARGS", `${name}: step ${s.step} where step ${i + 1} was expected`);
  });
  return { steps, headers };
}

function checkStep(v: Record<string, unknown>, where: string): StepRecord {
  const int = (key: string) => {
    const x = v[key];
    if (!Number.isInteger(x) || (x as number) < 0) fail("E_ARGS", `${where}: ${key} must be a non-negative integer`);
    return x as number;
  };
  const ints = (key: string) => {
    const x = v[key];
    if (!Array.isArray(x) || !x.every((t) => Number.isInteger(t) && t >= 0)) fail("E_ARGS", `${where}: ${key} must be an array of non-negative integers`);
    return x as number[];
  };
  if (typeof v.decoder !== "string") fail("E_ARGS", `${where}: decoder must be a string`);
  const bonus = v.bonus === null ? null : int("bonus");
  const next = v.new_candidates === null || v.new_candidates === undefined ? null : ints("new_candidates");
  const ms = typeof v.ms === "number" ? v.ms : 0;
  return {
    decoder: v.decoder,
    step: int("step"),
    cached: int("cached"),
    tokens: ints("tokens"),
    positions: ints("positions"),
    mask_rows: ints("mask_rows"),
    candidates: ints("candidates"),
    accepted: int("accepted"),
    emitted: ints("emitted"),
    bonus,
    new_candidates: next,
    ms,
  };
}

/** Running figures up to and including step `upTo` (0-based index): tau and decode tokens per second. */
export function runningStats(steps: readonly StepRecord[], upTo: number): { tokens: number; steps: number; tau: number; tokensPerSecond: number } {
  let tokens = 0;
  let decodeTokens = 0;
  let decodeMs = 0;
  const n = Math.min(upTo + 1, steps.length);
  for (let i = 0; i < n; i++) {
    tokens += steps[i].emitted.length;
    if (i > 0) {
      decodeTokens += steps[i].emitted.length;
      decodeMs += steps[i].ms;
    }
  }
  return { tokens, steps: n, tau: n ? tokens / n : 0, tokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0 };
}

/**
 * Which output tokens came from accepted candidates: for each step, its first `accepted` emitted tokens.
 * Cut to `outputLength` (a run may stop inside a step). (src/cli/show-steps.ts has the same rule.)
 */
export function acceptedFlags(steps: readonly Pick<StepRecord, "accepted" | "emitted">[], outputLength: number): boolean[] {
  const flags: boolean[] = [];
  for (const s of steps) for (let i = 0; i < s.emitted.length; i++) flags.push(i < s.accepted);
  return flags.slice(0, outputLength);
}

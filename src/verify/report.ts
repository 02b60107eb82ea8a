/** `space verify`'s output (spec/verify.md): a table for people, or one JSON object per record. */
import type { Divergence, RecordReport, VerdictName } from "./check.js";

export function reportJson(r: RecordReport): string {
  return JSON.stringify(r);
}

const fixed = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

function divergenceText(d: Divergence | null): string {
  return d ? `step ${d.step}: theirs ${d.theirs}, ours ${d.ours}` : "-";
}

/** One row per record, then a line per further divergence, then the totals. */
export function reportTable(reports: readonly RecordReport[], tie: number): string {
  const header = ["id", "engine", "checked", "verdict", "first divergence", "margin", "gap", "max |dlogit|"];
  const rows = reports.map((r) => [
    String(r.id),
    r.engine ?? "-",
    String(r.checked),
    r.verdict,
    divergenceText(r.first_divergence),
    r.first_divergence ? fixed(r.first_divergence.margin) : "-",
    r.first_divergence ? fixed(r.first_divergence.gap) : "-",
    r.max_logit_diff === null ? "-" : `${r.max_logit_diff.toExponential(3)} (step ${r.max_logit_diff_step})`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c])).join("  ").trimEnd();
  const out = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  for (const r of reports) {
    for (const d of r.divergences.slice(1)) out.push(`  ${r.id}: ${divergenceText(d)}, margin ${fixed(d.margin)}, gap ${fixed(d.gap)}`);
  }
  const count = (v: VerdictName) => reports.filter((r) => r.verdict === v).length;
  out.push(`${reports.length} records: ${count("identical")} identical, ${count("near-tie")} near-tie (every gap < ${tie}), ${count("divergent")} divergent`);
  return out.join("\n") + "\n";
}

/**
 * The bench's plot: speedup over our fastest AR (y) against tau (x), one point per prompt and decoder,
 * hand-written SVG (no dependency). A dashed line marks speedup 1 (the baseline); hovering a point shows
 * its prompt (an SVG <title>).
 */

export interface PlotPoint {
  readonly series: string; // legend entry, e.g. "space (native, 1 thread)"
  readonly prompt: string;
  readonly tau: number;
  readonly speedup: number;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) out.push(Number(t.toFixed(10)));
  return out;
}

const fmt = (x: number) => (Math.abs(x - Math.round(x)) < 1e-9 ? String(Math.round(x)) : String(Number(x.toFixed(2))));

export function speedupTauSvg(points: readonly PlotPoint[], title = "speedup over our fastest AR vs tau (one point per prompt)"): string {
  const W = 720, H = 440;
  const m = { left: 60, right: 220, top: 40, bottom: 50 };
  const pw = W - m.left - m.right, ph = H - m.top - m.bottom;
  const ok = points.filter((p) => Number.isFinite(p.tau) && Number.isFinite(p.speedup));
  const xMax = Math.max(2, ...ok.map((p) => p.tau)) * 1.05;
  const xMin = Math.min(1, ...ok.map((p) => p.tau));
  const yMax = Math.max(1.2, ...ok.map((p) => p.speedup)) * 1.1;
  const x = (v: number) => m.left + ((v - xMin) / (xMax - xMin)) * pw;
  const y = (v: number) => m.top + ph - (v / yMax) * ph;
  const series = [...new Set(points.map((p) => p.series))];
  const color = (s: string) => COLORS[series.indexOf(s) % COLORS.length];
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left}" y="22" font-size="14">${escapeXml(title)}</text>`);
  // Axes, grid and ticks.
  out.push(`<g stroke="#ccc" stroke-width="1">`);
  for (const t of ticks(xMin, xMax)) out.push(`<line x1="${x(t).toFixed(1)}" y1="${m.top}" x2="${x(t).toFixed(1)}" y2="${m.top + ph}"/>`);
  for (const t of ticks(0, yMax)) out.push(`<line x1="${m.left}" y1="${y(t).toFixed(1)}" x2="${m.left + pw}" y2="${y(t).toFixed(1)}"/>`);
  out.push(`</g>`);
  out.push(`<g fill="#333">`);
  for (const t of ticks(xMin, xMax)) out.push(`<text x="${x(t).toFixed(1)}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  for (const t of ticks(0, yMax)) out.push(`<text x="${m.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}×</text>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">tau (decode tokens per forward pass)</text>`);
  out.push(`<text x="16" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">speedup over our fastest AR</text>`);
  out.push(`</g>`);
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${y(1).toFixed(1)}" x2="${m.left + pw}" y2="${y(1).toFixed(1)}" stroke="#555" stroke-dasharray="6 4"/>`);
  // Points: one <circle> per (decoder, prompt).
  for (const s of series) {
    out.push(`<g class="series" data-series="${escapeXml(s)}" fill="${color(s)}" fill-opacity="0.8">`);
    for (const p of ok.filter((q) => q.series === s)) {
      out.push(
        `<circle cx="${x(p.tau).toFixed(1)}" cy="${y(p.speedup).toFixed(1)}" r="4"><title>${escapeXml(`${p.prompt}: tau ${p.tau.toFixed(2)}, ${p.speedup.toFixed(2)}×`)}</title></circle>`,
      );
    }
    out.push(`</g>`);
  }
  // Legend.
  series.forEach((s, i) => {
    const ly = m.top + 10 + i * 20;
    out.push(`<circle cx="${m.left + pw + 20}" cy="${ly}" r="5" fill="${color(s)}"/>`);
    out.push(`<text x="${m.left + pw + 32}" y="${ly + 4}">${escapeXml(s)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** The bench's hand-written SVG plot: well-formed XML, one point per prompt and decoder, escaped text. */
import { describe, expect, it } from "vitest";
import { escapeXml, speedupTauSvg, ticks, type PlotPoint } from "../src/bench/svg.js";

/** A small well-formedness check: one root, every tag closed in order, attributes quoted, no bare & or <. */
export function checkWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const text = body.slice(i, lt < 0 ? body.length : lt);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`bare & in text ${JSON.stringify(text)}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) throw new Error(`malformed tag at ${lt}: ${JSON.stringify(body.slice(lt, lt + 40))}`);
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClose) stack.push(name);
    }
    i = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

const prompts = ["humaneval-x/python/142", "humaneval-x/rust/142", "chat/a&b <quoted>"];
const points: PlotPoint[] = [
  ...prompts.map((prompt, i) => ({ series: "ours SPACE (native, 1 thread)", prompt, tau: 1.5 + i, speedup: 0.8 + i / 2 })),
  ...prompts.map((prompt, i) => ({ series: "ours lookup (f32, 1 thread)", prompt, tau: 1.2 + i / 3, speedup: 1.1 })),
];

describe("speedupTauSvg", () => {
  const svg = speedupTauSvg(points);

  it("is well-formed XML with an svg root", () => {
    expect(() => checkWellFormedXml(svg)).not.toThrow();
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(() => checkWellFormedXml("<svg><g></svg>")).toThrow(); // the checker itself rejects bad XML
  });

  it("draws one point per prompt for every decoder, titled with its prompt", () => {
    const groups = [...svg.matchAll(/<g class="series" data-series="([^"]*)"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(groups.map((g) => g[1])).toEqual(["ours SPACE (native, 1 thread)", "ours lookup (f32, 1 thread)"]);
    for (const g of groups) {
      const titles = [...g[2].matchAll(/<circle [^>]*><title>([^<]*)<\/title><\/circle>/g)].map((t) => t[1].replace(/:.*$/, ""));
      expect(titles).toEqual(prompts.map(escapeXml));
    }
  });

  it("skips points without a finite tau or speedup, and still renders with none", () => {
    const svg2 = speedupTauSvg([{ series: "s", prompt: "p", tau: NaN, speedup: 1 }]);
    expect(() => checkWellFormedXml(svg2)).not.toThrow();
    expect(svg2).not.toMatch(/<circle [^>]*><title>/);
    expect(() => checkWellFormedXml(speedupTauSvg([]))).not.toThrow();
  });

  it("puts a higher speedup higher on the page (smaller y)", () => {
    const cy = [...svg.matchAll(/<circle cx="[^"]*" cy="([^"]*)" r="4">/g)].map((m) => Number(m[1]));
    expect(cy[0]).toBeGreaterThan(cy[2]); // SPACE points: speedup 0.8 then 1.8
  });
});

describe("ticks", () => {
  it("gives round values covering the range", () => {
    expect(ticks(0, 2)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(ticks(1, 5.2)).toEqual([1, 2, 3, 4, 5]);
  });
});

/**
 * Traces (spec/trace.md): every decoder's lines validate against spec/trace.schema.json and satisfy the
 * documented invariants; runs are reproducible except for `ms`; and spec/trace.md's worked example is
 * what the tiny model really produces.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "../src/engine.js";
import { generate, type GenerateOptions } from "../src/decode/generate.js";
import { ArProposer, type Proposer } from "../src/decode/proposer.js";
import { SpaceProposer, LEAN_LAYOUT } from "../src/decode/space.js";
import { SpecProposer } from "../src/decode/spec.js";
import { LookupProposer } from "../src/decode/lookup.js";
import { withoutTimings, type TraceStep } from "../src/decode/trace.js";
import { tinyEngine } from "./helpers/engine.js";

const SPEC_DIR = join(__dirname, "..", "spec");
const SCHEMA = JSON.parse(readFileSync(join(SPEC_DIR, "trace.schema.json"), "utf8"));

let engine: Engine;
beforeAll(async () => {
  engine = await tinyEngine({ seed: 9 });
});
afterAll(() => engine.close());

async function trace(make: () => { proposer: Proposer; dispose?: () => void }, prompt: number[], opts: Omit<GenerateOptions, "onStep">) {
  const { proposer, dispose } = make();
  const ctx = engine.newContext(prompt.length + opts.maxTokens, proposer.maxExtraRows);
  const steps: TraceStep[] = [];
  const r = await generate(ctx, prompt, proposer, { ...opts, onStep: (s) => steps.push(JSON.parse(JSON.stringify(s))) });
  ctx.dispose();
  dispose?.();
  return { r, steps };
}

const V = () => engine.config.vocabSize;
const decoders: Record<string, () => { proposer: Proposer; dispose?: () => void }> = {
  ar: () => ({ proposer: new ArProposer() }),
  space: () => ({ proposer: new SpaceProposer({ k: 3, mask: { token: 141 }, vocabSize: V() }) }),
  "space lean": () => ({ proposer: new SpaceProposer({ k: 3, mask: { token: 141 }, layout: LEAN_LAYOUT, vocabSize: V() }) }),
  spec: () => {
    const draft = engine.newContext(64, 3, { layers: 1 });
    return { proposer: new SpecProposer({ k: 3, draft, vocabSize: V() }), dispose: () => draft.dispose() };
  },
  lookup: () => ({ proposer: new LookupProposer({ k: 3 }) }),
};

describe("traces", () => {
  const PROMPT = [119, 261, 35, 102, 268, 119, 261];
  for (const [name, make] of Object.entries(decoders)) {
    for (const sampling of [undefined, { temperature: 2, topK: 8, topP: 1 }]) {
      it(`${name}${sampling ? ", sampled" : ""}: lines follow the schema and the invariants; only ms varies between runs`, async () => {
        const opts = { maxTokens: 24, banned: new Set([141]), sampling, seed: 3 };
        const a = await trace(make, PROMPT, opts);
        const b = await trace(make, PROMPT, opts);
        expect(withoutTimings(a.steps)).toEqual(withoutTimings(b.steps));
        expect(a.steps).toHaveLength(a.r.stats.forward_passes);
        for (const s of a.steps) expect(validate(SCHEMA, s), JSON.stringify(s)).toEqual([]);
        checkInvariants(a.steps, a.r.tokens);
      });
    }
  }

  it("the schema check rejects a malformed line (missing, extra and mistyped fields)", async () => {
    const { steps } = await trace(decoders.space, PROMPT, { maxTokens: 4 });
    const { bonus: _b, ...missing } = steps[0];
    expect(validate(SCHEMA, missing)).toEqual(["$.bonus: missing"]);
    expect(validate(SCHEMA, { ...steps[0], extra: 1 })).toEqual(["$.extra: not in the schema"]);
    expect(validate(SCHEMA, { ...steps[0], step: 0, tokens: [1.5] })).toHaveLength(2);
  });

  it("spec/trace.md's worked example is what the tiny model produces", async () => {
    const doc = readFileSync(join(SPEC_DIR, "trace.md"), "utf8");
    const at = doc.indexOf("<!-- example: trace -->");
    const block = doc.slice(doc.indexOf("```jsonl", at) + 8, doc.indexOf("```", doc.indexOf("```jsonl", at) + 8));
    const want = block.trim().split("\n").map((l) => JSON.parse(l) as TraceStep);
    const prompt = engine.tokenizer.encode("the cat");
    expect(prompt).toEqual([119, 261, 35, 102, 268]);
    const got = await trace(() => ({ proposer: new SpaceProposer({ k: 2, mask: { token: 141 }, vocabSize: V() }) }), prompt, { maxTokens: 8, banned: new Set([141]) });
    expect(withoutTimings(got.steps)).toEqual(withoutTimings(want));
    expect(got.r.stats.accept_histogram).toEqual([5, 0, 1]);
  });
});

function checkInvariants(steps: TraceStep[], output: number[]) {
  const all: number[] = [];
  steps.forEach((s, i) => {
    expect(s.step).toBe(i + 1);
    expect(s.positions).toHaveLength(s.tokens.length);
    expect(s.emitted.slice(0, s.accepted)).toEqual(s.candidates.slice(0, s.accepted));
    if (s.bonus !== null) expect(s.emitted).toEqual([...s.candidates.slice(0, s.accepted), s.bonus]);
    const pending = Math.min(s.mask_rows[0] ?? s.tokens.length, s.candidates.length ? firstCandidateRow(s) : s.tokens.length);
    expect(s.positions.slice(0, pending)).toEqual(Array.from({ length: pending }, (_, t) => s.cached + t));
    for (const r of s.mask_rows) expect(s.tokens[r]).toBe(141);
    const next = steps[i + 1];
    if (next) {
      expect(next.cached).toBe(s.cached + pending + s.accepted);
      expect(next.tokens[0]).toBe(s.emitted[s.emitted.length - 1]);
      if (s.decoder === "space") expect(next.candidates).toEqual(s.new_candidates);
    }
    all.push(...s.emitted);
  });
  expect(all.slice(0, output.length)).toEqual(output);
}

/** Row of c_1: candidates are the last m rows that are not mask rows (the pending rows come first). */
function firstCandidateRow(s: TraceStep): number {
  const nonMask = [...s.tokens.keys()].filter((t) => !s.mask_rows.includes(t));
  return nonMask[nonMask.length - s.candidates.length];
}

/** The subset of JSON Schema that trace.schema.json uses: type (incl. unions), enum, minimum, required, items, additionalProperties. */
function validate(schema: Record<string, any>, value: unknown, path = "$"): string[] {
  const errors: string[] = [];
  const types: string[] = schema.type === undefined ? [] : [].concat(schema.type);
  const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);
  const t = typeOf(value);
  if (types.length && !types.some((x) => x === t || (x === "number" && t === "integer"))) return [`${path}: ${t}, not ${types.join("|")}`];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${path}: ${String(value)} not in ${schema.enum}`);
  if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: ${value} < ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => errors.push(...validate(schema.items, v, `${path}[${i}]`)));
  }
  if (t === "object") {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) errors.push(`${path}.${key}: missing`);
    for (const [key, v] of Object.entries(obj)) {
      if (schema.properties?.[key]) errors.push(...validate(schema.properties[key], v, `${path}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${path}.${key}: not in the schema`);
    }
  }
  return errors;
}

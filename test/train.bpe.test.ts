/**
 * The BPE trainer (src/train/bpe-train.ts): worked examples of the merge order, the vocabulary layout,
 * determinism, and that our tokenizer loads the result from GGUF metadata and round-trips text. Also
 * the GGUF export (src/train/export.ts): a model written by llamaGGUF loads back with exactly the
 * tensors it was given (attn_q / attn_k re-permuted on export, un-permuted by the loader).
 */
import { describe, expect, it } from "vitest";
import { trainBpe } from "../src/train/bpe-train.js";
import { initLlamaTensors, llamaGGUF } from "../src/train/export.js";
import { Gpt2Tokenizer } from "../src/tokenizer/gpt2.js";
import { BYTE_TO_CHAR } from "../src/tokenizer/bytelevel.js";
import { TokenType } from "../src/tokenizer/vocab.js";
import { Engine } from "../src/engine.js";
import { bytesSource } from "../src/gguf/source.js";
import { loadCoreNode } from "../src/node/wasm.js";
import { Trainer } from "../src/train/trainer.js";
import type { ModelConfig } from "../src/model/config.js";

const SPECIALS = ["<|endoftext|>", "[MASK]"];

function tokenizerOf(v: ReturnType<typeof trainBpe>, eos = 0): Gpt2Tokenizer {
  const meta: Record<string, unknown> = {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": v.pre,
    "tokenizer.ggml.tokens": v.tokens,
    "tokenizer.ggml.token_type": v.types,
    "tokenizer.ggml.merges": v.merges,
    "tokenizer.ggml.eos_token_id": eos,
  };
  return Gpt2Tokenizer.fromMetadata((k) => meta[k]);
}

const TEXT = [
  "interface Promise<T> {\n    then(onfulfilled?: (value: T) => void): Promise<T>;\n}\n",
  "interface Array<T> {\n    readonly length: number;\n    at(index: number): T | undefined;\n}\n",
  "héllo wörld — ünïcödé 🙂 and the the the then there",
];

describe("trainBpe", () => {
  it("merges the most frequent pair, ties broken by the smaller pair string", () => {
    // "aaab": pairs "a a" 2, "a b" 1 -> "a a"; then [aa a b]: "aa a" 1, "a b" 1, tie -> "a b" (" " < "a");
    // then [aa ab] -> "aa ab"; then one symbol is left: training stops below vocabSize.
    const v = trainBpe(["aaab"], { vocabSize: 2 + 256 + 10, specials: SPECIALS, minCount: 1 });
    expect(v.merges).toEqual(["a a", "a b", "aa ab"]);
    expect(v.tokens.slice(258)).toEqual(["aa", "ab", "aaab"]);
    // With the default minCount of 2 only the pair seen twice is merged.
    expect(trainBpe(["aaab"], { vocabSize: 300, specials: SPECIALS }).merges).toEqual(["a a"]);
  });

  it("counts words over the GPT-2 pre-tokenizer, in byte-level form (a space is Ġ)", () => {
    const v = trainBpe(["the the the the"], { vocabSize: 2 + 256 + 3, specials: SPECIALS });
    // Words: "the" x1, "Ġthe" x3: "t h" 4, "h e" 4, "Ġ t" 3 -> "h e" (tie with "t h", smaller), then "t he".
    expect(v.merges).toEqual(["h e", "t he", "Ġ the"]);
    expect(v.tokens).toContain("Ġthe");
  });

  it("lays out specials (control), then the 256 bytes, then merges; stops at vocabSize", () => {
    const v = trainBpe(TEXT, { vocabSize: 280, specials: SPECIALS });
    expect(v.tokens.length).toBe(280);
    expect(v.tokens.slice(0, 2)).toEqual(SPECIALS);
    expect(v.tokens.slice(2, 258)).toEqual(BYTE_TO_CHAR);
    expect(v.types.slice(0, 2)).toEqual([TokenType.CONTROL, TokenType.CONTROL]);
    expect(v.types.slice(2).every((t) => t === TokenType.NORMAL)).toBe(true);
    expect(v.merges.length).toBe(280 - 258);
    for (const m of v.merges) expect(v.tokens).toContain(m.replace(" ", ""));
    expect(trainBpe(TEXT, { vocabSize: 280, specials: SPECIALS })).toEqual(v); // deterministic
  });

  it("our tokenizer loads the vocabulary, compresses the training text and round-trips any text", () => {
    const v = trainBpe(TEXT, { vocabSize: 290, specials: SPECIALS });
    const tok = tokenizerOf(v);
    for (const t of [...TEXT, "unseen text: Ω≈ç√∫ 12345 \t\n\r  x", "[MASK] <|endoftext|>"]) expect(tok.decode(tok.encode(t))).toBe(t);
    const bytes = TEXT.reduce((n, t) => n + new TextEncoder().encode(t).length, 0);
    expect(TEXT.reduce((n, t) => n + tok.encode(t).length, 0)).toBeLessThan(bytes * 0.7);
    // The mask's text is ordinary text unless special parsing is asked for: user input cannot forge [M].
    expect(tok.encode("[MASK]")).not.toContain(1);
    expect(tok.encode("[MASK]", { parseSpecial: true })).toEqual([1]);
    expect(tok.eogTokens.has(0)).toBe(true);
    expect(tok.eogTokens.has(1)).toBe(false);
    expect(() => trainBpe(TEXT, { vocabSize: 100, specials: SPECIALS })).toThrow(/vocabSize must be an integer >= 258/);
  });
});

describe("llamaGGUF", () => {
  it("a model written from f32 tensors loads back with exactly those tensors (q/k permutation round trip)", async () => {
    const vocab = trainBpe(TEXT, { vocabSize: 272, specials: SPECIALS });
    const cfg: ModelConfig = {
      arch: "llama", nLayers: 2, dModel: 32, dFF: 48, nHeads: 4, nKvHeads: 2, headDim: 8, vocabSize: 272,
      contextLength: 64, ropeBase: 10000, rmsEps: Math.fround(1e-5), // stored as FLOAT32
    };
    const tensors = initLlamaTensors(cfg, 7);
    const bytes = llamaGGUF({ cfg, vocab, eos: 0, name: "t", tensors });
    const engine = Engine.load(await loadCoreNode("plain"), bytesSource("t.gguf", bytes));
    expect(engine.config).toEqual(cfg);
    const back = Trainer.fromEngine(engine, { maxT: 8, lr: 1e-3, totalSteps: 1 }).state().tensors;
    expect(back.map((t) => t.name)).toEqual(tensors.map((t) => t.name));
    back.forEach((t, i) => expect(t.data, t.name).toEqual(tensors[i].data));
    expect(initLlamaTensors(cfg, 7)).toEqual(tensors); // deterministic in the seed
    engine.close();
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpaceError } from "../src/errors.js";
import { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from "../src/tokenizer/bytelevel.js";
import { preTokenizerFor } from "../src/tokenizer/pretokenize.js";
import { SpecialSplitter } from "../src/tokenizer/special.js";
import { TokenType } from "../src/tokenizer/vocab.js";
import { SYNTH_MERGES, naiveBpe, syntheticTokenizer } from "./helpers/synthetic-tokenizer.js";

const tok = syntheticTokenizer();
const ids = (strs: string[]): number[] =>
  strs.map((s) => {
    const id = tok.tokenToId(s);
    if (id === undefined) throw new Error(`no token ${s}`);
    return id;
  });

describe("byte-level alphabet", () => {
  it("maps 256 bytes to 256 distinct printable characters, GPT-2's layout", () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[0x20]).toBe("Ġ");
    expect(BYTE_TO_CHAR[0x0a]).toBe("Ċ");
    expect(BYTE_TO_CHAR[0x41]).toBe("A");
    expect(BYTE_TO_CHAR[0xad]).toBe("Ń");
    expect(BYTE_TO_CHAR[0xff]).toBe("ÿ");
  });
  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(byteLevelToBytes(bytesToByteLevel(b))).toEqual(b);
      }),
    );
  });
});

describe("BPE on a synthetic vocabulary", () => {
  it("applies merges by rank", () => {
    expect(tok.encode("hello world")).toEqual(ids(["hello", "Ġworld"]));
    expect(tok.encode("aaaaaaa")).toEqual(ids(["aaaa", "aaa"]));
    expect(tok.encode("ä😀")).toEqual(ids(["Ã¤", "ðŁĺĢ"]));
    expect(tok.encode("x")).toEqual(ids(["x"]));
    expect(tok.encode("")).toEqual([]);
  });

  it("isolates digits before the GPT-2 regex (pre = smollm)", () => {
    // "12" is a merge, but smollm splits every digit first, so it never applies.
    expect(tok.encode("12")).toEqual(ids(["1", "2"]));
    expect(syntheticTokenizer({ "tokenizer.ggml.pre": "gpt2" }).encode("12")).toEqual(ids(["12"]));
  });

  it("equals a naive BPE on random text (pre-tokenized the same way)", () => {
    const pre = preTokenizerFor("smollm");
    const piece = fc.constantFrom("a", "aa", "h", "e", "l", "o", " ", "  ", "w", "r", "d", "ä", "😀", "\n", "i", "n", "g", "'s", "1", "x", "\t");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }).map((p) => p.join("")), (text) => {
        const want = pre(text).flatMap((w) => ids(naiveBpe(w, SYNTH_MERGES)));
        expect(tok.encode(text)).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });

  it("handles a long word without spaces quickly", () => {
    const word = "hello".repeat(20_000); // 100 KB, one pre-token
    const t0 = performance.now();
    const out = tok.encode(word);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(out.length).toBe(20_000);
    expect(tok.decode(out)).toBe(word);
  });

  it("decode(encode(s)) === s for any well-formed string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
        expect(tok.decode(tok.encode(s, { parseSpecial: true }))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it("adds BOS on request and by the model's default", () => {
    expect(tok.addBos).toBe(false);
    expect(tok.encode("x", { addBos: true })).toEqual([1, ...ids(["x"])]);
    const withBos = syntheticTokenizer({ "tokenizer.ggml.add_bos_token": true });
    expect(withBos.encode("x")).toEqual([1, ...ids(["x"])]);
    expect(withBos.encode("x", { addBos: false })).toEqual(ids(["x"]));
  });

  it("exposes token tables", () => {
    expect(tok.vocabSize).toBe(4 + 256 + new Set(SYNTH_MERGES.map((m) => m.replace(" ", ""))).size);
    expect(tok.bos).toBe(1);
    expect(tok.eos).toBe(2);
    expect([...tok.eogTokens].sort()).toEqual([0, 2]); // eos + <|endoftext|>
    expect(tok.tokenText(ids(["Ġworld"])[0]!)).toBe("Ġworld");
    expect(new TextDecoder().decode(tok.tokenBytes(ids(["Ġworld"])[0]!))).toBe(" world");
    expect(new TextDecoder().decode(tok.tokenBytes(1))).toBe("<|im_start|>");
    expect(tok.tokenType(1)).toBe(TokenType.CONTROL);
    expect(tok.tokenType(3)).toBe(TokenType.USER_DEFINED);
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(3)).toBe(false);
    expect(tok.isSpecial(ids(["a"])[0]!)).toBe(false);
    // tokenBytes is a copy: scribbling on it does not change later decodes
    tok.tokenBytes(ids(["hello"])[0]!).fill(0);
    expect(tok.decode(ids(["hello"]))).toBe("hello");
  });

  it("rejects out-of-range ids in decode and lookups", () => {
    for (const bad of [-1, tok.vocabSize, 1.5, NaN]) {
      expect(() => tok.decode([bad])).toThrow(SpaceError);
      expect(() => tok.tokenText(bad)).toThrow(/out of range/);
    }
  });
});

describe("special tokens", () => {
  const imStart = ids(["<|im_start|>"])[0]!;
  it("are ordinary text unless parseSpecial", () => {
    const plain = tok.encode("<|im_start|>hello");
    expect(plain).not.toContain(imStart);
    expect(tok.decode(plain)).toBe("<|im_start|>hello");
    expect(tok.encode("<|im_start|>hello", { parseSpecial: true })).toEqual([imStart, ...ids(["hello"])]);
  });
  it("split text so that BPE never crosses them", () => {
    expect(tok.encode("hel<|im_end|>lo", { parseSpecial: true })).toEqual([...ids(["he", "l"]), 2, ...ids(["l", "o"])]);
    expect(tok.encode("<|im_start|><|im_end|><|endoftext|>", { parseSpecial: true })).toEqual([1, 2, 0]);
    expect(tok.encode("<|im_start", { parseSpecial: true })).not.toContain(imStart);
  });
  it("user-defined tokens are matched whole with or without parseSpecial (as llama.cpp and HF do)", () => {
    expect(tok.encode("a<tool>a")).toEqual([...ids(["a"]), 3, ...ids(["a"])]);
    expect(tok.encode("a<tool>a", { parseSpecial: true })).toEqual([...ids(["a"]), 3, ...ids(["a"])]);
  });
  it("decode renders control tokens as their text, or skips them", () => {
    const t = tok.encode("<|im_start|>hello<|im_end|>", { parseSpecial: true });
    expect(tok.decode(t)).toBe("<|im_start|>hello<|im_end|>");
    expect(tok.decode(t, { skipSpecial: true })).toBe("hello");
  });
  it("match leftmost-longest", () => {
    const s = new SpecialSplitter([
      { id: 1, text: "ab", always: false },
      { id: 2, text: "abc", always: false },
      { id: 3, text: "bcd", always: false },
      { id: 4, text: "x", always: true },
    ]);
    expect(s.split("zabcdx", true)).toEqual(["z", 2, "d", 4]);
    expect(s.split("zabcdx", false)).toEqual(["zabcd", 4]);
    expect(s.split("", true)).toEqual([]);
  });
});

describe("input validation", () => {
  it("rejects lone surrogates with E_UTF8 instead of encoding U+FFFD", () => {
    for (const s of ["\ud800", "a\udc00b", "😀\ud83d", "\ude00😀"]) {
      let err: unknown;
      try {
        tok.encode(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SpaceError);
      expect((err as SpaceError).code).toBe("E_UTF8");
      expect((err as SpaceError).message).toMatch(/lone surrogate U\+D[89A-F][0-9A-F]{2} at UTF-16 index \d+/);
    }
  });
  it("property: any string with a lone surrogate is rejected", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 20 }),
        fc.integer({ min: 0xd800, max: 0xdfff }),
        fc.string({ unit: "binary", maxLength: 20 }),
        (a, unit, b) => {
          // keep the surrogate lone: no high surrogate right before a low one, and vice versa
          const s = a + String.fromCharCode(unit) + (unit < 0xdc00 ? "x" : "") + b;
          const prev = a.charCodeAt(a.length - 1);
          fc.pre(!(unit >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff));
          expect(() => tok.encode(s)).toThrow(expect.objectContaining({ code: "E_UTF8" }));
        },
      ),
    );
  });
});

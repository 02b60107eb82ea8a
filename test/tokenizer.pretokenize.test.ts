import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SUPPORTED_PRE_TYPES, preTokenizerFor } from "../src/tokenizer/pretokenize.js";

const gpt2 = preTokenizerFor("gpt2");
const smollm = preTokenizerFor("smollm");

describe("pre-tokenizers", () => {
  it("gpt2: words with their leading space, contractions, punctuation runs, whitespace runs", () => {
    expect(gpt2("Hello world!")).toEqual(["Hello", " world", "!"]);
    expect(gpt2("I'm they're DON'T")).toEqual(["I", "'m", " they", "'re", " DON", "'", "T"]);
    expect(gpt2("a   b")).toEqual(["a", "  ", " b"]); // the last space goes with the word
    expect(gpt2("a\tb")).toEqual(["a", "\t", "b"]); // \s+(?!\S) fails here; the final \s+ takes the tab
    expect(gpt2("end  ")).toEqual(["end", "  "]);
    expect(gpt2("x  1")).toEqual(["x", " ", " 1"]);
    expect(gpt2(" 12345abc")).toEqual([" 12345", "abc"]);
    expect(gpt2("a->b")).toEqual(["a", "->", "b"]);
    expect(gpt2("")).toEqual([]);
  });

  it("smollm: every digit alone, and the GPT-2 regex does not look across a digit", () => {
    expect(smollm(" 12345abc")).toEqual([" ", "1", "2", "3", "4", "5", "abc"]);
    expect(smollm("x  1")).toEqual(["x", "  ", "1"]); // "  " ends its piece, so \s+(?!\S) takes both spaces
    expect(smollm("v2.10")).toEqual(["v", "2", ".", "1", "0"]);
    expect(smollm("x² ٣ Ⅻ")).toEqual(["x", "²", " ", "٣", " ", "Ⅻ"]); // \p{N}: Nd, Nl and No
  });

  it("use Unicode White_Space, not JS \\s (U+0085 is space, U+FEFF is not)", () => {
    expect(gpt2("a\u0085\u0085b")).toEqual(["a", "\u0085", "\u0085", "b"]);
    expect(gpt2("a \ufeffb")).toEqual(["a", " \ufeff", "b"]);
    expect(gpt2("a\u3000\u00a0b")).toEqual(["a", "\u3000", "\u00a0", "b"]);
  });

  it("lose nothing: the pieces concatenate to the input", () => {
    for (const name of SUPPORTED_PRE_TYPES) {
      const pre = preTokenizerFor(name);
      fc.assert(
        fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
          const pieces = pre(s);
          expect(pieces.join("")).toBe(s);
          expect(pieces.every((p) => p.length > 0)).toBe(true);
        }),
        { numRuns: 100 },
      );
    }
  });

  it("absent pre means the GPT-2 regex", () => {
    expect(preTokenizerFor(undefined)("x 12")).toEqual(gpt2("x 12"));
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StreamDecoder } from "../src/tokenizer/stream.js";
import { syntheticTokenizer } from "./helpers/synthetic-tokenizer.js";

const tok = syntheticTokenizer();
const id = (s: string) => tok.tokenToId(s)!;

function streamed(ids: readonly number[], skipSpecial = false): { pieces: string[]; text: string } {
  const d = new StreamDecoder(tok, { skipSpecial });
  const pieces = ids.map((i) => d.push(i));
  pieces.push(d.flush());
  return { pieces, text: pieces.join("") };
}

describe("StreamDecoder", () => {
  it("holds a character split across tokens until it is complete", () => {
    // 😀 = F0 9F 98 80, one byte token each
    const { pieces } = streamed([id("a"), id("ð"), id("Ł"), id("ĺ"), id("Ģ"), id("b")]);
    expect(pieces).toEqual(["a", "", "", "", "😀", "b", ""]);
  });

  it("emits U+FFFD for an unfinished character at flush, and can be reused", () => {
    const d = new StreamDecoder(tok);
    expect(d.push(id("h"))).toBe("h");
    expect(d.push(id("ð"))).toBe("");
    expect(d.push(id("Ł"))).toBe("");
    expect(d.flush()).toBe("\ufffd");
    expect(d.push(id("Ã"))).toBe("");
    expect(d.push(id("¤"))).toBe("ä");
    expect(d.flush()).toBe("");
  });

  it("replaces a sequence as soon as it cannot complete", () => {
    const d = new StreamDecoder(tok);
    expect(d.push(id("ð"))).toBe("");
    expect(d.push(id("a"))).toBe("\ufffda");
  });

  it("any token sequence streams to exactly decode(all)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 30 }), fc.boolean(), (ids, skip) => {
        expect(streamed(ids, skip).text).toBe(tok.decode(ids, { skipSpecial: skip }));
      }),
      { numRuns: 1000 },
    );
  });

  it("streams encoded text back exactly, whatever the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        expect(streamed(tok.encode(s)).text).toBe(s);
      }),
    );
  });

  it("skips control tokens when asked", () => {
    const ids = tok.encode("hello<|im_end|>", { parseSpecial: true });
    expect(streamed(ids).text).toBe("hello<|im_end|>");
    expect(streamed(ids, true).text).toBe("hello");
  });
});

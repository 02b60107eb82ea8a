import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpaceError } from "../src/errors.js";
import { assertWellFormed, decodeUtf8Strict, findInvalidUtf8 } from "../src/tokenizer/utf8.js";

const enc = (s: string) => new TextEncoder().encode(s);

function strictError(bytes: number[]): SpaceError {
  try {
    decodeUtf8Strict(Uint8Array.from(bytes), "prompt.txt");
  } catch (e) {
    if (e instanceof SpaceError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("decodeUtf8Strict", () => {
  it("decodes valid UTF-8 and keeps a BOM", () => {
    const s = "\ufeffhé 你好 😀 \u0000 end";
    expect(decodeUtf8Strict(enc(s), "x")).toBe(s);
    expect(decodeUtf8Strict(new Uint8Array(0), "x")).toBe("");
  });

  it("names the first bad byte", () => {
    const cases: [number[], number, RegExp][] = [
      [[0x61, 0x80], 1, /unexpected continuation byte 0x80/],
      [[0x61, 0x62, 0xc3], 2, /truncated 2-byte sequence/],
      [[0xe2, 0x82], 0, /truncated 3-byte/],
      [[0xc0, 0xaf], 0, /0xc0 never appears/],
      [[0xe0, 0x80, 0xaf], 0, /overlong/],
      [[0xed, 0xa0, 0x80], 0, /surrogate/],
      [[0xf4, 0x90, 0x80, 0x80], 0, /out-of-range/],
      [[0x41, 0xff], 1, /0xff never appears/],
      [[0xc3, 0x41], 0, /incomplete sequence \(byte 0x41 at 1\)/],
      [[0x68, 0x69, 0xf0, 0x9f, 0x98, 0x41], 2, /incomplete/],
    ];
    for (const [bytes, offset, reason] of cases) {
      const e = strictError(bytes);
      expect(e.code).toBe("E_UTF8");
      expect(e.message).toContain(`prompt.txt: invalid UTF-8 at byte ${offset} (`);
      expect(e.message).toMatch(reason);
    }
  });

  it("accepts exactly what a fatal WHATWG decoder accepts", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const byteish = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x80, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0x9f));
    fc.assert(
      fc.property(fc.array(byteish, { maxLength: 12 }), (arr) => {
        const b = Uint8Array.from(arr);
        let want: string | null;
        try {
          want = fatal.decode(b);
        } catch {
          want = null;
        }
        expect(findInvalidUtf8(b) === null).toBe(want !== null);
        if (want !== null) expect(decodeUtf8Strict(b, "x")).toBe(want);
        else expect(() => decodeUtf8Strict(b, "x")).toThrow(SpaceError);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips any well-formed string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        expect(decodeUtf8Strict(enc(s), "x")).toBe(s);
      }),
    );
  });
});

describe("assertWellFormed", () => {
  it("passes surrogate pairs and rejects lone halves", () => {
    expect(() => assertWellFormed("😀 ok", "t")).not.toThrow();
    expect(() => assertWellFormed("ab\udc00", "my text")).toThrow(/^my text: lone surrogate U\+DC00 at UTF-16 index 2/);
    expect(() => assertWellFormed("\ud83d", "t")).toThrow(expect.objectContaining({ code: "E_UTF8" }));
  });
});

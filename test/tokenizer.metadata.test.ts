import { describe, expect, it } from "vitest";
import { SpaceError, type ErrorCode } from "../src/errors.js";
import { tokenizerFromMetadata } from "../src/tokenizer/tokenizer.js";
import { type Meta, getter, syntheticMeta } from "./helpers/synthetic-tokenizer.js";

function load(change: (m: Meta) => void) {
  const m = syntheticMeta();
  change(m);
  return tokenizerFromMetadata(getter(m));
}

function expectError(change: (m: Meta) => void, code: ErrorCode, message: RegExp): void {
  let err: unknown;
  try {
    load(change);
  } catch (e) {
    err = e;
  }
  expect(err, "expected a SpaceError").toBeInstanceOf(SpaceError);
  expect((err as SpaceError).code).toBe(code);
  expect((err as SpaceError).message).toMatch(message);
}

describe("tokenizerFromMetadata", () => {
  it("dispatches on tokenizer.ggml.model", () => {
    expectError((m) => delete m["tokenizer.ggml.model"], "E_TOKENIZER", /^tokenizer\.ggml\.model: missing/);
    expectError((m) => (m["tokenizer.ggml.model"] = 7), "E_TOKENIZER", /tokenizer\.ggml\.model: expected a string/);
    expectError((m) => (m["tokenizer.ggml.model"] = "llama"), "E_UNSUPPORTED", /"llama" \(SentencePiece\) is not supported yet/);
    expectError((m) => (m["tokenizer.ggml.model"] = "bert"), "E_UNSUPPORTED", /"bert" is not supported/);
    expect(load(() => {}).model).toBe("gpt2");
  });

  it("requires a token list", () => {
    expectError((m) => delete m["tokenizer.ggml.tokens"], "E_TOKENIZER", /tokenizer\.ggml\.tokens: missing/);
    expectError((m) => (m["tokenizer.ggml.tokens"] = []), "E_TOKENIZER", /tokenizer\.ggml\.tokens: empty/);
    expectError((m) => (m["tokenizer.ggml.tokens"] = "abc"), "E_TOKENIZER", /tokenizer\.ggml\.tokens: expected an array of strings/);
    expectError((m) => ((m["tokenizer.ggml.tokens"] as unknown[])[5] = 5), "E_TOKENIZER", /tokenizer\.ggml\.tokens: element 5/);
  });

  it("checks token types", () => {
    expectError((m) => (m["tokenizer.ggml.token_type"] as number[]).pop(), "E_TOKENIZER", /tokenizer\.ggml\.token_type: has \d+ entries for \d+ tokens/);
    expectError((m) => ((m["tokenizer.ggml.token_type"] as number[])[9] = 42), "E_TOKENIZER", /tokenizer\.ggml\.token_type: element 9 is 42/);
    // absent: all normal; typed arrays and bigints are accepted
    expect(load((m) => delete m["tokenizer.ggml.token_type"]).isSpecial(1)).toBe(false);
    const typed = load((m) => (m["tokenizer.ggml.token_type"] = Int32Array.from(m["tokenizer.ggml.token_type"] as number[])));
    expect(typed.isSpecial(1)).toBe(true);
    expect(load((m) => (m["tokenizer.ggml.eos_token_id"] = 0n)).eos).toBe(0);
  });

  it("checks merges against the vocabulary", () => {
    expectError((m) => delete m["tokenizer.ggml.merges"], "E_TOKENIZER", /tokenizer\.ggml\.merges: missing/);
    expectError((m) => (m["tokenizer.ggml.merges"] as string[]).splice(3, 0, "h zz"), "E_TOKENIZER",
      /tokenizer\.ggml\.merges\[3\] = "h zz" references "zz", which is not in tokenizer\.ggml\.tokens/);
    expectError((m) => (m["tokenizer.ggml.merges"] as string[]).push("x y"), "E_TOKENIZER", /merges\[\d+\] = "x y" references "xy"/);
    expectError((m) => (m["tokenizer.ggml.merges"] as string[]).push("xy"), "E_TOKENIZER", /merges\[\d+\] = "xy" has no space separator/);
  });

  it("checks special token ids", () => {
    for (const key of ["bos", "eos", "unknown", "padding", "eot"]) {
      const k = `tokenizer.ggml.${key}_token_id`;
      expectError((m) => (m[k] = 100000), "E_TOKENIZER", new RegExp(`^${k.replace(/\./g, "\\.")}: token id 100000 is out of range`));
      expectError((m) => (m[k] = -1), "E_TOKENIZER", /out of range/);
      expectError((m) => (m[k] = 1.5), "E_TOKENIZER", /expected a token id/);
      expectError((m) => (m[k] = "1"), "E_TOKENIZER", /expected a token id/);
    }
    expectError((m) => {
      delete m["tokenizer.ggml.bos_token_id"];
      m["tokenizer.ggml.add_bos_token"] = true;
    }, "E_TOKENIZER", /add_bos_token is true but tokenizer\.ggml\.bos_token_id is missing/);
    expectError((m) => (m["tokenizer.ggml.add_bos_token"] = "yes"), "E_TOKENIZER", /add_bos_token: expected a boolean/);
  });

  it("falls back to <|endoftext|> for a missing eos, and has no bos when none is given", () => {
    const t = load((m) => {
      delete m["tokenizer.ggml.eos_token_id"];
      delete m["tokenizer.ggml.bos_token_id"];
    });
    expect(t.eos).toBe(0);
    expect(t.bos).toBeNull();
    expect(() => t.encode("x", { addBos: true })).toThrow(/bos_token_id is missing/);
    expectError((m) => {
      delete m["tokenizer.ggml.eos_token_id"];
      (m["tokenizer.ggml.tokens"] as string[])[0] = "<|nothing|>";
    }, "E_TOKENIZER", /eos_token_id: missing/);
  });

  it("adds eot/eom ids and known turn-end tokens to eogTokens", () => {
    const t = load((m) => (m["tokenizer.ggml.eot_token_id"] = 1));
    expect([...t.eogTokens].sort()).toEqual([0, 1, 2]);
  });

  it("chooses the pre-tokenizer from tokenizer.ggml.pre", () => {
    expectError((m) => (m["tokenizer.ggml.pre"] = "llama-bpe"), "E_UNSUPPORTED", /tokenizer\.ggml\.pre = "llama-bpe" is not supported \(supported: .*smollm/);
    expectError((m) => (m["tokenizer.ggml.pre"] = "toString"), "E_UNSUPPORTED", /"toString" is not supported/);
    // absent: llama.cpp's "default", the plain GPT-2 regex (digits stay together, so merge "1 2" applies)
    const t = load((m) => delete m["tokenizer.ggml.pre"]);
    expect(t.encode("12")).toEqual([t.tokenToId("12")]);
  });

  it("drops a byte the vocabulary has no token for, before merging (as HF tokenizers and llama.cpp do)", () => {
    const dropX = (m: Meta) => ((m["tokenizer.ggml.tokens"] as string[])[4 + 0x78] = "<no-x>");
    const t = load((m) => {
      dropX(m);
      m["tokenizer.ggml.unknown_token_id"] = 0; // not used by byte-level BPE, as in the references
    });
    expect(t.encode("axa")).toEqual([t.tokenToId("aa")]);
    expect(t.encode("x")).toEqual([]);
  });
});

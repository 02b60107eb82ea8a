/**
 * The real SmolLM2 vocabulary (49152 tokens, 48900 merges) against reference ids from HF `tokenizers`
 * (tools/tokenizer_fixtures.py; the same ids llama.cpp gives). Needs the GGUF (`npm run fetch-models`); without it
 * these tests are skipped (under CI=true they fail: test/helpers/required.ts) and the synthetic-vocabulary
 * tests still cover the code.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { skipWithout } from "./helpers/required.js";
import { metaGetter, readGGUF } from "../src/gguf/reader.js";
import { fileSource } from "../src/node/files.js";
import { BYTE_TO_CHAR } from "../src/tokenizer/bytelevel.js";
import { type ChatMessage, SMOLLM2_DEFAULT_SYSTEM, chatTemplateInfo, encodeChat, formatChat } from "../src/tokenizer/chat.js";
import { StreamDecoder } from "../src/tokenizer/stream.js";
import { type Tokenizer, tokenizerFromMetadata } from "../src/tokenizer/tokenizer.js";

const MODEL = process.env.SPACE_SMOLLM2_GGUF ?? join(homedir(), ".cache", "space", "models", "SmolLM2-135M-Instruct.Q4_1.gguf");
const HAVE_MODEL = existsSync(MODEL);

interface Fixtures {
  vocab_size: number;
  n_merges: number;
  bos: number;
  eos: number;
  chat_template: string;
  plain: { text: string; ids: number[] }[];
  special: { text: string; ids: number[] }[];
  chats: { messages: ChatMessage[]; add_generation_prompt: boolean; text: string; ids: number[]; ids_plain_content: number[] }[];
}
const fx = JSON.parse(readFileSync(new URL("./fixtures/tokenizer_smollm2.json", import.meta.url), "utf8")) as Fixtures;
const corpus = JSON.parse(readFileSync(new URL("./fixtures/tokenizer_corpus.json", import.meta.url), "utf8")) as {
  plain: string[];
  special: string[];
};

describe("SmolLM2 fixtures", () => {
  it("are up to date with the corpus (else rerun tools/tokenizer_fixtures.py)", () => {
    expect(fx.plain.map((e) => e.text)).toEqual(corpus.plain);
    expect(fx.special.map((e) => e.text)).toEqual(corpus.special);
  });
});

const title = HAVE_MODEL
  ? "SmolLM2 tokenizer (real vocabulary)"
  : `SmolLM2 tokenizer (real vocabulary) — SKIPPED: ${MODEL} not found; run \`npm run fetch-models\``;

if (!HAVE_MODEL) console.warn(`[tokenizer.smollm2] ${MODEL} not found: real-vocabulary tests skipped (npm run fetch-models)`);

describe.skipIf(skipWithout(HAVE_MODEL))(title, () => {
  let tok: Tokenizer;
  let template: string | undefined;
  beforeAll(() => {
    const src = fileSource(MODEL);
    try {
      const get = metaGetter(readGGUF(src));
      tok = tokenizerFromMetadata(get);
      template = get("tokenizer.chat_template") as string | undefined;
    } finally {
      src.close();
    }
  });

  it("reads the vocabulary metadata", () => {
    expect(tok.model).toBe("gpt2");
    expect(tok.vocabSize).toBe(fx.vocab_size);
    expect(tok.bos).toBe(fx.bos);
    expect(tok.eos).toBe(fx.eos);
    expect(tok.addBos).toBe(false);
    expect([...tok.eogTokens].sort((a, b) => a - b)).toEqual([0, 2]); // <|endoftext|>, <|im_end|>
    expect(tok.tokenText(1)).toBe("<|im_start|>");
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(100)).toBe(false);
    expect(template).toBe(fx.chat_template);
    expect(chatTemplateInfo(template)?.defaultSystem).toBe(SMOLLM2_DEFAULT_SYSTEM);
  });

  it("encodes every plain corpus entry to the reference ids", () => {
    for (const e of fx.plain) expect(tok.encode(e.text), JSON.stringify(e.text)).toEqual(e.ids);
  });

  it("encodes with special parsing to the reference ids", () => {
    for (const e of fx.special) expect(tok.encode(e.text, { parseSpecial: true }), JSON.stringify(e.text)).toEqual(e.ids);
  });

  it("decodes every corpus entry back to its text (less the bytes the vocabulary lacks)", () => {
    for (const e of [...fx.plain, ...fx.special]) expect(tok.decode(e.ids)).toBe(withoutMissingBytes(tok, e.text));
    expect(fx.plain.filter((e) => representable(tok, e.text) !== e.text).length).toBe(2); // the two lossy entries
  });

  it("renders and encodes chats like apply_chat_template", () => {
    for (const c of fx.chats) {
      const opts = { addGenerationPrompt: c.add_generation_prompt };
      expect(formatChat(c.messages, opts)).toBe(c.text);
      expect(tok.encode(c.text, { parseSpecial: true })).toEqual(c.ids);
      expect(encodeChat(tok, c.messages, { ...opts, parseSpecial: true })).toEqual(c.ids);
      expect(encodeChat(tok, c.messages, opts)).toEqual(c.ids_plain_content);
    }
  });

  it("decode(encode(s)) === s for random Unicode (characters whose bytes all have tokens)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), fc.string({ unit: "grapheme", maxLength: 30 }), (a, b) => {
        const s = representable(tok, a + b);
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
    // and the others vanish, as in the reference: U+0004 and plane-4 characters (lead byte 0xF1) have no byte token
    expect(tok.encode("a\u0004\u0004")).toEqual(tok.encode("a"));
    expect(tok.decode(tok.encode("a\u{40000}"))).toBe("a\ufffd\ufffd\ufffd"); // F1 dropped, 80 80 80 left
  });

  it("streams any split of a text's tokens to the whole decode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
        const ids = tok.encode(s);
        const d = new StreamDecoder(tok);
        expect(ids.map((i) => d.push(i)).join("") + d.flush()).toBe(s);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 20 }), (ids) => {
        const d = new StreamDecoder(tok);
        expect(ids.map((i) => d.push(i)).join("") + d.flush()).toBe(tok.decode(ids));
      }),
      { numRuns: 300 },
    );
  });

  it("encodes a few KB of text in milliseconds", () => {
    const text = fx.plain.map((e) => e.text).join("\n").slice(0, 8000);
    const fresh = tokenizerFromMetadata(metaGetterFor(MODEL)); // cold word cache
    const t0 = performance.now();
    fresh.encode(text);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(250); // typically ~5 ms; generous for slow CI machines
  });
});

/** `text` without the characters SmolLM2 cannot encode (a UTF-8 byte with no byte-level token). */
function representable(tok: Tokenizer, text: string): string {
  let out = "";
  for (const ch of text) {
    if (Array.from(new TextEncoder().encode(ch)).every((b) => tok.tokenToId(BYTE_TO_CHAR[b]!) !== undefined)) out += ch;
  }
  return out;
}

/** What decode(encode(text)) gives: the UTF-8 of `text` less the bytes without a token, decoded leniently. */
function withoutMissingBytes(tok: Tokenizer, text: string): string {
  const kept = Array.from(new TextEncoder().encode(text)).filter((b) => tok.tokenToId(BYTE_TO_CHAR[b]!) !== undefined);
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(kept));
}

function metaGetterFor(path: string): (key: string) => unknown {
  const src = fileSource(path);
  try {
    return metaGetter(readGGUF(src));
  } finally {
    src.close();
  }
}

/**
 * A tiny GPT-2-style byte-level BPE vocabulary built in memory, so the default test tier covers BPE, special
 * splitting, streaming and errors without the real model: 3 control tokens, 1 user-defined token, the 256
 * byte tokens, and a handful of merges (ASCII words, space and newline runs, a 2-byte letter, a 4-byte emoji).
 */
import { BYTE_TO_CHAR } from "../../src/tokenizer/bytelevel.js";
import { tokenizerFromMetadata, type Tokenizer } from "../../src/tokenizer/tokenizer.js";

export const SYNTH_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;
export const SYNTH_USER_DEFINED = "<tool>";

/** Merges in rank order, in byte-level spelling (Ġ = space, Ċ = newline, "Ã ¤" = ä, "ð Ł ĺ Ģ" = 😀). */
export const SYNTH_MERGES = [
  "h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d",
  "a a", "aa aa", "aa a", "Ġ Ġ", "ĠĠ ĠĠ", "Ċ Ċ", "i n", "in g", "Ġ a", "Ġa a",
  "Ã ¤", "ð Ł", "ðŁ ĺ", "ðŁĺ Ģ", "' s", "Ġ h", "Ġh e", "Ġhe ll", "Ġhell o", "1 2",
];

export type Meta = Record<string, unknown>;

/** The metadata of the synthetic vocabulary (a fresh object each call, to be altered by tests). */
export function syntheticMeta(): Meta {
  const tokens: string[] = [...SYNTH_SPECIALS, SYNTH_USER_DEFINED, ...BYTE_TO_CHAR];
  const types: number[] = [3, 3, 3, 4, ...BYTE_TO_CHAR.map(() => 1)];
  for (const m of SYNTH_MERGES) {
    const t = m.replace(" ", "");
    if (!tokens.includes(t)) {
      tokens.push(t);
      types.push(1);
    }
  }
  return {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": "smollm",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.token_type": types,
    "tokenizer.ggml.merges": [...SYNTH_MERGES],
    "tokenizer.ggml.bos_token_id": 1,
    "tokenizer.ggml.eos_token_id": 2,
    "tokenizer.ggml.add_bos_token": false,
  };
}

export function getter(meta: Meta): (key: string) => unknown {
  return (key) => meta[key];
}

export function syntheticTokenizer(overrides: Meta = {}): Tokenizer {
  return tokenizerFromMetadata(getter({ ...syntheticMeta(), ...overrides }));
}

/**
 * Reference BPE, deliberately naive: repeatedly merge the lowest-rank adjacent pair (leftmost on ties) of
 * byte-level strings. O(n^2) per word.
 */
export function naiveBpe(word: string, merges: readonly string[]): string[] {
  const rank = new Map(merges.map((m, i) => [m, i] as const));
  const bytes = new TextEncoder().encode(word);
  const syms = Array.from(bytes, (b) => BYTE_TO_CHAR[b]!);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(syms[i] + " " + syms[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return syms;
    syms.splice(best, 2, syms[best]! + syms[best + 1]!);
  }
}

/**
 * A small byte-level BPE trainer (GPT-2 style), for vocabularies our tokenizer loads from GGUF metadata
 * (`tokenizer.ggml.model = "gpt2"`): the embedded default model's vocabulary is trained with it.
 *
 * Vocabulary layout: the special tokens first (control tokens, ids 0..S-1, in the order given), then the
 * 256 byte-level characters (in BYTE_TO_CHAR order), then one token per merge, in merge order. Merges
 * are learned greedily: text -> pre-tokenizer words (`tokenizer.ggml.pre`, default "gpt2") -> byte-level
 * characters; repeatedly merge the most frequent adjacent pair (counted over word occurrences), ties
 * broken by the smaller pair string (`"a b"`, JS code-unit order), so the result is deterministic.
 * Training stops at `vocabSize` tokens or when no pair occurs `minCount` times.
 *
 * Example: words "aaab" x1: pairs "a a" 2, "a b" 1 -> merge "a a"; word = [aa, a, b]; next "a b"...
 * (test/train.bpe.test.ts has worked examples).
 */
import { fail } from "../errors.js";
import { BYTE_TO_CHAR, bytesToByteLevel } from "../tokenizer/bytelevel.js";
import { preTokenizerFor } from "../tokenizer/pretokenize.js";
import { TokenType } from "../tokenizer/vocab.js";

export interface BpeVocab {
  readonly tokens: string[]; // tokenizer.ggml.tokens
  readonly types: number[]; // tokenizer.ggml.token_type
  readonly merges: string[]; // tokenizer.ggml.merges, "left right" in byte-level form
  readonly pre: string; // tokenizer.ggml.pre
}

export interface BpeTrainOptions {
  /** Total tokens: specials + 256 bytes + merges (at most). */
  readonly vocabSize: number;
  /** Control tokens (ids 0..), e.g. ["<|endoftext|>", "[MASK]"]. */
  readonly specials: readonly string[];
  /** Pre-tokenizer name (tokenizer.ggml.pre); default "gpt2". */
  readonly pre?: string;
  /** A pair must occur at least this often to be merged; default 2. */
  readonly minCount?: number;
}

const utf8 = new TextEncoder();

export function trainBpe(texts: readonly string[], opts: BpeTrainOptions): BpeVocab {
  const pre = opts.pre ?? "gpt2";
  const minCount = opts.minCount ?? 2;
  const base = opts.specials.length + BYTE_TO_CHAR.length;
  if (!(Number.isInteger(opts.vocabSize) && opts.vocabSize >= base)) {
    fail("E_ARGS", `BPE: vocabSize must be an integer >= ${base} (specials + 256 bytes), got ${opts.vocabSize}`);
  }
  if (new Set(opts.specials).size !== opts.specials.length) fail("E_ARGS", "BPE: duplicate special tokens");
  const split = preTokenizerFor(pre);

  // Unique words (as symbol lists) with their counts; sorted so that nothing depends on Map order.
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const w of split(text)) {
      const bl = bytesToByteLevel(utf8.encode(w));
      counts.set(bl, (counts.get(bl) ?? 0) + 1);
    }
  }
  const keys = [...counts.keys()].sort();
  const words: string[][] = keys.map((k) => Array.from(k));
  const freq: number[] = keys.map((k) => counts.get(k)!);

  const tokens = [...opts.specials, ...BYTE_TO_CHAR];
  const types = tokens.map((_, i) => (i < opts.specials.length ? TokenType.CONTROL : TokenType.NORMAL));
  const known = new Set(tokens);
  const merges: string[] = [];
  while (tokens.length < opts.vocabSize) {
    const pairs = new Map<string, number>();
    for (let w = 0; w < words.length; w++) {
      const s = words[w];
      for (let i = 0; i + 1 < s.length; i++) {
        const key = s[i] + " " + s[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + freq[w]);
      }
    }
    let best = "", bestCount = 0;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (bestCount < minCount) break;
    const [a, b] = best.split(" ");
    const merged = a + b;
    merges.push(best);
    if (!known.has(merged)) {
      known.add(merged);
      tokens.push(merged);
      types.push(TokenType.NORMAL);
    }
    for (const s of words) {
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, merged);
      }
    }
  }
  return { tokens, types, merges, pre };
}

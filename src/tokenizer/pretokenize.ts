/**
 * Pre-tokenization: cutting text into the words BPE runs on, chosen by the GGUF key `tokenizer.ggml.pre`
 * (llama.cpp's names). Each pre-tokenizer is a list of regexes applied in turn, as llama.cpp and HF
 * `tokenizers` do: every regex cuts each piece left by the previous one into its matches and the gaps
 * between them ("isolated" splitting), so a later regex never sees across an earlier cut, and lookaheads
 * such as `\s+(?!\S)` stop at a cut.
 *
 * JS notes: all regexes use the `u` flag; `\s` is spelled `\p{White_Space}` because JS's `\s` adds U+FEFF and
 * lacks U+0085, while Oniguruma (HF) and llama.cpp use Unicode White_Space.
 */
import { SpaceError } from "../errors.js";

const WS = "\\p{White_Space}";
const NOT_WS = "\\P{White_Space}";

/**
 * The GPT-2 pattern, HF ByteLevel's form: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
 * The last alternative catches a whitespace run that the one before it cannot take (e.g. a tab before a letter);
 * llama.cpp's hand-written GPT-2 splitter does the same.
 */
const GPT2_PATTERN =
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+(?!${NOT_WS})|${WS}+`;

/** Each number character on its own (HF `Digits(individual_digits=true)`, llama.cpp's `\p{N}` first pass). */
const DIGIT_PATTERN = "\\p{N}";

export type PreTokenizer = (text: string) => string[];

/** Pre-tokenizer regex lists by `tokenizer.ggml.pre`; only those checked against a reference tokenizer. */
const PRE_TYPES: Record<string, readonly string[]> = {
  // GPT-2 regex only. llama.cpp uses it when the key is absent ("default") and for "gpt2".
  default: [GPT2_PATTERN],
  gpt2: [GPT2_PATTERN],
  // Digits one by one, then GPT-2 (SmolLM/SmolLM2: HF Sequence[Digits(individual), ByteLevel]). llama.cpp gives
  // "starcoder", "refact", "command-r", "codeshell", "exaone" and "minerva" the very same two expressions.
  smollm: [DIGIT_PATTERN, GPT2_PATTERN],
  starcoder: [DIGIT_PATTERN, GPT2_PATTERN],
  refact: [DIGIT_PATTERN, GPT2_PATTERN],
  "command-r": [DIGIT_PATTERN, GPT2_PATTERN],
  codeshell: [DIGIT_PATTERN, GPT2_PATTERN],
  exaone: [DIGIT_PATTERN, GPT2_PATTERN],
  minerva: [DIGIT_PATTERN, GPT2_PATTERN],
};

/** The `tokenizer.ggml.pre` values this engine can pre-tokenize. */
export const SUPPORTED_PRE_TYPES: readonly string[] = Object.keys(PRE_TYPES);

/** Cuts `pieces` further with one regex (matches and the gaps between them all kept, in order). */
function splitIsolated(pieces: string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const piece of pieces) {
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        re.lastIndex++; // never happens with these patterns (no empty matches), kept for safety
        continue;
      }
      if (start > last) out.push(piece.slice(last, start));
      out.push(m[0]);
      last = end;
    }
    if (last < piece.length) out.push(piece.slice(last));
  }
  return out;
}

/**
 * The pre-tokenizer for a `tokenizer.ggml.pre` value. Absent means "default" (the GPT-2 regex, as in llama.cpp).
 * An unknown name is an error rather than a silent GPT-2 fallback: a wrong split gives wrong token ids with no
 * visible failure, and llama.cpp refuses such files too.
 */
export function preTokenizerFor(pre: string | undefined): PreTokenizer {
  const name = pre ?? "default";
  const patterns = Object.prototype.hasOwnProperty.call(PRE_TYPES, name) ? PRE_TYPES[name] : undefined;
  if (!patterns) {
    throw new SpaceError(
      "E_UNSUPPORTED",
      `tokenizer.ggml.pre = ${JSON.stringify(name)} is not supported (supported: ${SUPPORTED_PRE_TYPES.join(", ")})`,
    );
  }
  const regexes = patterns.map((p) => new RegExp(p, "gu"));
  return (text: string): string[] => {
    if (text.length === 0) return [];
    let pieces = [text];
    for (const re of regexes) pieces = splitIsolated(pieces, re);
    return pieces;
  };
}

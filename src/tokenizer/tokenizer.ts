/**
 * The tokenizer contract every family implements, and the factory that builds one from GGUF metadata.
 *
 * Families: "gpt2" (byte-level BPE: GPT-2, SmolLM2, Llama 3, Qwen...) is implemented; "llama" (SentencePiece)
 * is not yet, and fits the same interface: its byte-fallback tokens give tokenBytes, its `▁` spaces are undone in
 * tokenBytes, and addBos is typically true.
 */
import { SpaceError } from "../errors.js";
import { Gpt2Tokenizer } from "./gpt2.js";
import { type MetadataGetter, readString } from "./metadata.js";
import type { TokenType } from "./vocab.js";

export interface EncodeOptions {
  /**
   * Match control tokens (e.g. `<|im_start|>`) written in the text as single special tokens. Default false:
   * their text is encoded as ordinary text, so user input cannot forge chat markup. User-defined tokens are
   * matched whole either way (as llama.cpp and HF do).
   */
  parseSpecial?: boolean;
  /** Prepend BOS. Default: the model's `tokenizer.ggml.add_bos_token`. */
  addBos?: boolean;
}

export interface DecodeOptions {
  /** Leave out control/unknown tokens (isSpecial). Default false: they are rendered as their text. */
  skipSpecial?: boolean;
}

export interface Tokenizer {
  /** The GGUF `tokenizer.ggml.model` this implements. */
  readonly model: string;
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number;
  readonly unknown: number | null;
  /** End of generation: eos, plus eot/eom ids and turn-ending tokens such as `<|im_end|>` and `<|endoftext|>`. */
  readonly eogTokens: ReadonlySet<number>;
  /** Whether encode() prepends BOS by default. */
  readonly addBos: boolean;
  /** Text -> ids. Throws SpaceError E_UTF8 for a string with a lone surrogate. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** The raw bytes a token stands for (a copy); for a control token, the UTF-8 of its text. */
  tokenBytes(id: number): Uint8Array;
  /** Ids -> text; bytes that are not valid UTF-8 (a character cut at the end) become U+FFFD. */
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The token's string as stored in the vocabulary (byte-level form for BPE, e.g. "Ġthe"). */
  tokenText(id: number): string;
  tokenType(id: number): TokenType;
  /** The id of the token whose vocabulary string is exactly `text`. */
  tokenToId(text: string): number | undefined;
  /** Control and unknown tokens: markup, not text; only matched in input with parseSpecial. */
  isSpecial(id: number): boolean;
}

/**
 * Builds the tokenizer a GGUF describes. `get(key)` returns the metadata value (undefined when missing).
 * Throws SpaceError E_TOKENIZER for missing or inconsistent metadata (naming the key), E_UNSUPPORTED for a
 * tokenizer family or pre-tokenizer this engine does not implement.
 */
export function tokenizerFromMetadata(get: MetadataGetter): Tokenizer {
  const model = readString(get, "tokenizer.ggml.model");
  if (model === undefined) throw new SpaceError("E_TOKENIZER", "tokenizer.ggml.model: missing");
  switch (model) {
    case "gpt2":
      return Gpt2Tokenizer.fromMetadata(get);
    case "llama":
      throw new SpaceError(
        "E_UNSUPPORTED",
        'tokenizer.ggml.model = "llama" (SentencePiece) is not supported yet; only "gpt2" (byte-level BPE) is',
      );
    default:
      throw new SpaceError(
        "E_UNSUPPORTED",
        `tokenizer.ggml.model = ${JSON.stringify(model)} is not supported; only "gpt2" (byte-level BPE) is`,
      );
  }
}

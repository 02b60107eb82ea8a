/**
 * The token table shared by every tokenizer family: token strings as stored in the GGUF, their types, and the
 * special ids (BOS, EOS, end-of-generation set). Family-specific parts (merges, scores) live elsewhere.
 */
import { SpaceError } from "../errors.js";
import { type MetadataGetter, readBool, readIntArray, readStringArray, readTokenId } from "./metadata.js";

/** GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/**
 * Texts that end a turn whatever the GGUF's eos says (llama.cpp keeps the same list), e.g. ChatML's `<|im_end|>`
 * and GPT-style `<|endoftext|>`.
 */
const EOG_TEXTS: ReadonlySet<string> = new Set([
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "<|eom_id|>",
  "<EOT>",
  "_<EOT>",
  "<｜end▁of▁sentence｜>",
  "<end_of_utterance>",
]);

export class Vocab {
  readonly size: number;
  readonly idOf: ReadonlyMap<string, number>;
  readonly bos: number | null;
  readonly eos: number;
  readonly unknown: number | null;
  readonly eog: ReadonlySet<number>;
  readonly addBos: boolean;

  private constructor(
    readonly tokens: readonly string[],
    readonly types: Uint8Array,
    get: MetadataGetter,
    addBosDefault: boolean,
  ) {
    this.size = tokens.length;
    const idOf = new Map<string, number>();
    tokens.forEach((t, i) => {
      if (!idOf.has(t)) idOf.set(t, i);
    });
    this.idOf = idOf;
    const n = this.size;
    this.bos = readTokenId(get, "tokenizer.ggml.bos_token_id", n) ?? null;
    this.unknown = readTokenId(get, "tokenizer.ggml.unknown_token_id", n) ?? null;
    readTokenId(get, "tokenizer.ggml.padding_token_id", n); // validated only
    const eos = readTokenId(get, "tokenizer.ggml.eos_token_id", n) ?? idOf.get("<|endoftext|>");
    if (eos === undefined) {
      throw new SpaceError("E_TOKENIZER", "tokenizer.ggml.eos_token_id: missing, and the vocabulary has no <|endoftext|>");
    }
    this.eos = eos;
    const eog = new Set<number>([eos]);
    for (const key of ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
      const id = readTokenId(get, key, n);
      if (id !== undefined) eog.add(id);
    }
    for (const text of EOG_TEXTS) {
      const id = idOf.get(text);
      if (id !== undefined) eog.add(id);
    }
    this.eog = eog;
    this.addBos = readBool(get, "tokenizer.ggml.add_bos_token") ?? addBosDefault;
    if (this.addBos && this.bos === null) {
      throw new SpaceError("E_TOKENIZER", "tokenizer.ggml.add_bos_token is true but tokenizer.ggml.bos_token_id is missing");
    }
  }

  /** Reads tokens, token types and special ids; `addBosDefault` applies when add_bos_token is absent. */
  static fromMetadata(get: MetadataGetter, addBosDefault: boolean): Vocab {
    const tokens = readStringArray(get, "tokenizer.ggml.tokens");
    if (tokens === undefined) throw new SpaceError("E_TOKENIZER", "tokenizer.ggml.tokens: missing");
    if (tokens.length === 0) throw new SpaceError("E_TOKENIZER", "tokenizer.ggml.tokens: empty");
    const rawTypes = readIntArray(get, "tokenizer.ggml.token_type");
    const types = new Uint8Array(tokens.length).fill(TokenType.NORMAL);
    if (rawTypes !== undefined) {
      if (rawTypes.length !== tokens.length) {
        throw new SpaceError(
          "E_TOKENIZER",
          `tokenizer.ggml.token_type: has ${rawTypes.length} entries for ${tokens.length} tokens`,
        );
      }
      rawTypes.forEach((t, i) => {
        if (t < TokenType.UNDEFINED || t > TokenType.BYTE) {
          throw new SpaceError("E_TOKENIZER", `tokenizer.ggml.token_type: element ${i} is ${t}, not a token type (0..6)`);
        }
        types[i] = t;
      });
    }
    return new Vocab(tokens, types, get, addBosDefault);
  }

  checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) {
      throw new SpaceError("E_TOKENIZER", `token id ${id} is out of range (the vocabulary has ${this.size} tokens)`);
    }
  }
}

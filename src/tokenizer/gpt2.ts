/**
 * The "gpt2" tokenizer family: byte-level BPE (GPT-2, SmolLM2, StarCoder, Llama 3, Qwen...).
 * encode = lone-surrogate check -> whole-token split (special.ts) -> pre-tokenizer regexes (pretokenize.ts)
 * -> byte-level BPE per word (bpe.ts).
 */
import { SpaceError } from "../errors.js";
import { BytePairEncoder, type Merge } from "./bpe.js";
import { BYTE_TO_CHAR, byteLevelToBytes } from "./bytelevel.js";
import { type MetadataGetter, readString, readStringArray } from "./metadata.js";
import { type PreTokenizer, preTokenizerFor } from "./pretokenize.js";
import { SpecialSplitter, type WholeToken } from "./special.js";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer.js";
import { assertWellFormed, decodeUtf8Lossy, encodeUtf8 } from "./utf8.js";
import { TokenType, Vocab } from "./vocab.js";

const MERGES_KEY = "tokenizer.ggml.merges";

/** Parses `tokenizer.ggml.merges` ("left right" strings, in rank order) against the vocabulary. */
function resolveMerges(lines: readonly string[], vocab: Vocab): Merge[] {
  const merges: Merge[] = new Array<Merge>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const cut = line.indexOf(" ", 1); // from 1: a first part may itself be a single space in odd vocabularies
    if (cut < 0) throw new SpaceError("E_TOKENIZER", `${MERGES_KEY}[${i}] = ${JSON.stringify(line)} has no space separator`);
    const a = line.slice(0, cut);
    const b = line.slice(cut + 1);
    const left = vocab.idOf.get(a);
    const right = vocab.idOf.get(b);
    const merged = vocab.idOf.get(a + b);
    for (const [part, id] of [[a, left], [b, right], [a + b, merged]] as const) {
      if (id === undefined) {
        throw new SpaceError(
          "E_TOKENIZER",
          `${MERGES_KEY}[${i}] = ${JSON.stringify(line)} references ${JSON.stringify(part)}, which is not in tokenizer.ggml.tokens`,
        );
      }
    }
    merges[i] = { left: left!, right: right!, merged: merged! };
  }
  return merges;
}

export class Gpt2Tokenizer implements Tokenizer {
  readonly model = "gpt2";
  readonly vocabSize: number;
  readonly bos: number | null;
  readonly eos: number;
  readonly unknown: number | null;
  readonly eogTokens: ReadonlySet<number>;
  readonly addBos: boolean;
  private readonly bytes: (Uint8Array | undefined)[];
  private readonly bpe: BytePairEncoder;
  private readonly splitter: SpecialSplitter;

  constructor(
    private readonly vocab: Vocab,
    merges: readonly Merge[],
    private readonly preTokenize: PreTokenizer,
  ) {
    this.vocabSize = vocab.size;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.unknown = vocab.unknown;
    this.eogTokens = vocab.eog;
    this.addBos = vocab.addBos;
    this.bytes = new Array<Uint8Array | undefined>(vocab.size);
    const byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) byteToId[b] = vocab.idOf.get(BYTE_TO_CHAR[b]!) ?? -1;
    this.bpe = new BytePairEncoder(byteToId, merges);
    const whole: WholeToken[] = [];
    vocab.types.forEach((t, id) => {
      if (t === TokenType.CONTROL || t === TokenType.UNKNOWN) whole.push({ id, text: vocab.tokens[id]!, always: false });
      else if (t === TokenType.USER_DEFINED) whole.push({ id, text: vocab.tokens[id]!, always: true });
    });
    this.splitter = new SpecialSplitter(whole);
  }

  static fromMetadata(get: MetadataGetter): Gpt2Tokenizer {
    const vocab = Vocab.fromMetadata(get, false);
    const lines = readStringArray(get, MERGES_KEY);
    if (lines === undefined) throw new SpaceError("E_TOKENIZER", `${MERGES_KEY}: missing (a "gpt2" tokenizer needs its BPE merges)`);
    const merges = resolveMerges(lines, vocab);
    const pre = preTokenizerFor(readString(get, "tokenizer.ggml.pre"));
    return new Gpt2Tokenizer(vocab, merges, pre);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    assertWellFormed(text, "text to encode");
    const out: number[] = [];
    if (opts.addBos ?? this.addBos) {
      if (this.bos === null) throw new SpaceError("E_TOKENIZER", "addBos requested but tokenizer.ggml.bos_token_id is missing");
      out.push(this.bos);
    }
    for (const seg of this.splitter.split(text, opts.parseSpecial ?? false)) {
      if (typeof seg === "number") out.push(seg);
      else for (const word of this.preTokenize(seg)) this.bpe.encodeWord(word, out);
    }
    return out;
  }

  private rawBytes(id: number): Uint8Array {
    let b = this.bytes[id];
    if (b === undefined) {
      this.vocab.checkId(id);
      const text = this.vocab.tokens[id]!;
      const t = this.vocab.types[id]!;
      // Whole-matched tokens are stored as plain text, the rest in byte-level form.
      const plain = t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN;
      b = plain ? encodeUtf8(text) : byteLevelToBytes(text);
      this.bytes[id] = b;
    }
    return b;
  }

  tokenBytes(id: number): Uint8Array {
    return this.rawBytes(id).slice();
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      if (opts.skipSpecial && this.isSpecial(id)) continue;
      const b = this.rawBytes(id);
      parts.push(b);
      total += b.length;
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return decodeUtf8Lossy(all);
  }

  tokenText(id: number): string {
    this.vocab.checkId(id);
    return this.vocab.tokens[id]!;
  }

  tokenType(id: number): TokenType {
    this.vocab.checkId(id);
    return this.vocab.types[id]! as TokenType;
  }

  tokenToId(text: string): number | undefined {
    return this.vocab.idOf.get(text);
  }

  isSpecial(id: number): boolean {
    const t = this.tokenType(id);
    return t === TokenType.CONTROL || t === TokenType.UNKNOWN;
  }
}

/**
 * Incremental detokenization for generation. Token boundaries need not be character boundaries (an emoji is often
 * 2-4 byte tokens), so bytes of an unfinished UTF-8 sequence are held back until the sequence completes; a
 * sequence that can no longer complete is emitted as U+FFFD at once, and whatever is still held at flush() too.
 * The concatenated output always equals tokenizer.decode(allIds) (WHATWG streaming-decoder guarantee).
 */
import type { Tokenizer } from "./tokenizer.js";

export interface StreamDecoderOptions {
  /** Emit nothing for control/unknown tokens (e.g. a trailing `<|im_end|>`). Default false. */
  skipSpecial?: boolean;
}

export class StreamDecoder {
  private decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  constructor(
    private readonly tokenizer: Pick<Tokenizer, "tokenBytes" | "isSpecial">,
    private readonly opts: StreamDecoderOptions = {},
  ) {}

  /** Adds one token; returns the text that became complete (possibly ""). */
  push(id: number): string {
    if (this.opts.skipSpecial && this.tokenizer.isSpecial(id)) return "";
    return this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
  }

  /** Ends the stream: held bytes of an incomplete character come out as U+FFFD. The decoder can then be reused. */
  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    return rest;
  }
}

/**
 * An n-gram store: a draft source for the steps whose own text has no match to copy from. It keeps, for
 * every n-gram (n = nMin..nMax) of a corpus of token sequences, the token that most often followed it,
 * and drafts greedily: the next token is the one stored for the longest n-gram that ends the text (plus
 * what it has drafted so far). The corpus is text the model itself wrote on other prompts, such as the
 * adapter's training split (data/distilled/): a model repeats its own idioms across problems (the
 * retrieval drafts of REST, He et al. 2023, from a table instead of a suffix array). Deterministic, and
 * its candidates are verified like any others (a point-mass draft), so the output stays AR's whatever
 * the store holds: a store built for another tokenizer only drafts badly.
 *
 * Example: corpus [[5, 6, 7, 8]], nMin = nMax = 2: after [.., 5, 6] the store drafts 7, then (the text
 * now ends in 6, 7) 8, then stops (nothing follows 7, 8).
 *
 * No Node APIs here: the caller reads the corpus.
 */
import { fail } from "../errors.js";

export interface NgramStoreOptions {
  readonly nMin?: number; // default 3
  readonly nMax?: number; // default 5
}

/** A draft from the store: the tokens, and for the first one the matched n and the share of its n-gram's continuations it had. */
export interface StoreDraft {
  readonly tokens: number[];
  readonly n: number; // 0 when the store knows no n-gram ending the text
  readonly share: number; // in (0, 1]; 0 when n = 0
}

/** Packed per n-gram: token + 2^21 x (top count, at most 1023) + 2^31 x (total, at most 1023). */
const TOKEN_BITS = 2 ** 21;
const COUNT_CAP = 1023;

export class NgramStore {
  /** Per n - nMin: n-gram hash -> packed best continuation. */
  private readonly best: Map<number, number>[];
  readonly nMin: number;
  readonly nMax: number;
  /** Positions the store was built from (for descriptions). */
  readonly positions: number;

  private constructor(nMin: number, nMax: number, best: Map<number, number>[], positions: number) {
    this.nMin = nMin;
    this.nMax = nMax;
    this.best = best;
    this.positions = positions;
  }

  /** The store of `sequences` (token ids, each below 2^21). One pass; the pair counts are dropped after. */
  static build(sequences: Iterable<ArrayLike<number>>, o: NgramStoreOptions = {}): NgramStore {
    const nMin = o.nMin ?? 3, nMax = o.nMax ?? 5;
    if (!(Number.isInteger(nMin) && Number.isInteger(nMax) && nMin >= 1 && nMax >= nMin && nMax <= 16)) {
      fail("E_ARGS", `n-gram store: need integers 1 <= nMin <= nMax <= 16, got ${nMin}, ${nMax}`);
    }
    const best = Array.from({ length: nMax - nMin + 1 }, () => new Map<number, number>());
    const pairs = new Map<number, number>(); // hash of (n-gram, next token) -> count
    let positions = 0;
    for (const seq of sequences) {
      for (let i = 0; i < seq.length; i++) {
        const t = seq[i];
        if (!(Number.isInteger(t) && t >= 0 && t < TOKEN_BITS)) fail("E_ARGS", `n-gram store: token ${t} is not an id in [0, 2^21)`);
      }
      for (let end = nMin; end < seq.length; end++) {
        positions++;
        const next = seq[end];
        for (let n = nMin; n <= Math.min(nMax, end); n++) {
          const key = hashTokens(seq, end - n, end);
          const pair = hashTokens(seq, end - n, end + 1); // the n-gram and its next token
          const c = (pairs.get(pair) ?? 0) + 1;
          pairs.set(pair, c);
          const m = best[n - nMin];
          const old = m.get(key);
          const total = Math.min(COUNT_CAP, (old === undefined ? 0 : unpackTotal(old)) + 1);
          // The first token to reach the highest count keeps it (deterministic in corpus order).
          const keep = old !== undefined && unpackCount(old) >= c;
          m.set(key, pack(keep ? unpackToken(old) : next, keep ? unpackCount(old) : Math.min(COUNT_CAP, c), total));
        }
      }
    }
    return new NgramStore(nMin, nMax, best, positions);
  }

  /** Up to k tokens drafted after `history`, each from the longest stored n-gram ending the text so far. */
  draft(history: readonly number[], k: number): StoreDraft {
    const text = history.slice(Math.max(0, history.length - this.nMax));
    const tokens: number[] = [];
    let first = { n: 0, share: 0 };
    for (let i = 0; i < k; i++) {
      const found = this.next(text);
      if (!found) break;
      if (i === 0) first = { n: found.n, share: found.share };
      tokens.push(found.token);
      text.push(found.token);
      if (text.length > this.nMax) text.shift();
    }
    return { tokens, ...first };
  }

  /** The stored continuation of the longest n-gram ending `text`, or null. */
  private next(text: readonly number[]): { token: number; n: number; share: number } | null {
    for (let n = Math.min(this.nMax, text.length); n >= this.nMin; n--) {
      const v = this.best[n - this.nMin].get(hashTokens(text, text.length - n, text.length));
      if (v !== undefined) return { token: unpackToken(v), n, share: unpackCount(v) / unpackTotal(v) };
    }
    return null;
  }
}

function pack(token: number, count: number, total: number): number {
  return token + TOKEN_BITS * (count + 1024 * total);
}
const unpackToken = (v: number) => v % TOKEN_BITS;
const unpackCount = (v: number) => Math.floor(v / TOKEN_BITS) % 1024;
const unpackTotal = (v: number) => Math.floor(v / TOKEN_BITS / 1024);

/**
 * A 53-bit hash of tokens [from, to) and their count: two 32-bit multiplicative hashes side by side. A
 * collision (odds about 1e-5 over a million n-grams) only makes a wrong draft, which verification rejects.
 */
function hashTokens(s: ArrayLike<number>, from: number, to: number): number {
  const n = to - from;
  let a = 0x811c9dc5 ^ n, b = 0x9747b28c ^ Math.imul(n, 0x27d4eb2f);
  for (let i = from; i < to; i++) {
    a = Math.imul(a ^ s[i], 0x01000193);
    b = Math.imul(b ^ (s[i] + 0x9e3779b9), 0x85ebca6b);
    b ^= b >>> 13;
  }
  return (a >>> 0) * 2 ** 21 + (b >>> 11);
}

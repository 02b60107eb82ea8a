/**
 * Rank-based byte-level BPE on token ids. A word (one pre-token) starts as one symbol per UTF-8 byte; then,
 * repeatedly, the adjacent pair with the lowest merge rank (leftmost on ties) is replaced by its merged token,
 * until no adjacent pair has a merge. This is the order HF `tokenizers` and llama.cpp use. Symbols live in a
 * linked list over arrays and candidate pairs in a binary min-heap keyed by (rank, position), so a word of
 * n bytes costs O(n log n); stale heap entries are recognised on pop by re-checking the pair's rank (a rank
 * names exactly one pair). Results are cached per word.
 */
const UTF8 = new TextEncoder();

/** Open-addressing hash map from a pair of token ids to a merge rank. */
export class PairRanks {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly mask: number;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Adds the pair unless present (the first rank given for a pair wins, as in llama.cpp). Returns whether added. */
  add(a: number, b: number, rank: number): boolean {
    let i = this.slot(a, b);
    for (;;) {
      const l = this.left[i]!;
      if (l === -1) {
        this.left[i] = a;
        this.right[i] = b;
        this.rank[i] = rank;
        return true;
      }
      if (l === a && this.right[i] === b) return false;
      i = (i + 1) & this.mask;
    }
  }

  /** The rank of the pair (a, b), or -1. */
  get(a: number, b: number): number {
    if (a < 0 || b < 0) return -1;
    let i = this.slot(a, b);
    for (;;) {
      const l = this.left[i]!;
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return this.rank[i]!;
      i = (i + 1) & this.mask;
    }
  }
}

/** A merge, already resolved to token ids: `left` + `right` -> `merged`, its rank being its index. */
export interface Merge {
  left: number;
  right: number;
  merged: number;
}

const CACHE_LIMIT = 1 << 16;

export class BytePairEncoder {
  private readonly ranks: PairRanks;
  /** Merged token id by rank (-1 for a duplicate merge line, which never wins). */
  private readonly mergedByRank: Int32Array;
  private readonly cache = new Map<string, number[]>();
  private buf = new Int32Array(64);
  private bytes = new Uint8Array(64);

  /**
   * @param byteToId token id of each byte's one-character byte-level token, or -1 when the vocabulary lacks it
   * @param merges in rank order
   */
  constructor(
    private readonly byteToId: Int32Array,
    merges: readonly Merge[],
  ) {
    this.ranks = new PairRanks(merges.length);
    this.mergedByRank = new Int32Array(merges.length);
    merges.forEach((m, rank) => {
      this.mergedByRank[rank] = this.ranks.add(m.left, m.right, rank) ? m.merged : -1;
    });
  }

  /** Appends the token ids of one pre-token (a well-formed string) to `out`. */
  encodeWord(word: string, out: number[]): void {
    const cached = this.cache.get(word);
    if (cached) {
      for (const id of cached) out.push(id);
      return;
    }
    const n = this.loadBytes(word);
    const ids = this.merge(n);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    for (const id of ids) out.push(id);
  }

  /**
   * Writes the byte token ids of `word`'s UTF-8 into this.buf; returns how many. A byte without a token is left
   * out before merging, as HF `tokenizers` does (its BPE skips characters missing from the vocabulary when it
   * has no unk token; llama.cpp drops them too). SmolLM2, for one, has no token for bytes 0x04, 0x06, 0x13,
   * 0x14, 0x16, 0x1D, 0xF1 and 0xF2 (and the never-valid 0xC0, 0xC1, 0xF5..0xFF).
   */
  private loadBytes(word: string): number {
    if (this.buf.length < word.length * 3) this.buf = new Int32Array(word.length * 3 + 16);
    if (this.bytes.length < word.length * 3) this.bytes = new Uint8Array(word.length * 3 + 16);
    const { written } = UTF8.encodeInto(word, this.bytes);
    const buf = this.buf;
    const b2i = this.byteToId;
    let n = 0;
    for (let i = 0; i < written!; i++) {
      const id = b2i[this.bytes[i]!]!;
      if (id >= 0) buf[n++] = id;
    }
    return n;
  }

  /** Runs the merges over this.buf[0..n) and returns the final symbols. */
  private merge(n: number): number[] {
    const ids = this.buf.slice(0, n);
    const ranks = this.ranks;
    if (n > 1) {
      const next = new Int32Array(n);
      const prev = new Int32Array(n);
      const dead = new Uint8Array(n);
      const heap: number[] = [];
      for (let i = 0; i < n; i++) {
        next[i] = i + 1 < n ? i + 1 : -1;
        prev[i] = i - 1;
      }
      // key = rank * n + position: lowest rank first, then leftmost.
      for (let i = 0; i + 1 < n; i++) {
        const r = ranks.get(ids[i]!, ids[i + 1]!);
        if (r >= 0) heapPush(heap, r * n + i);
      }
      while (heap.length > 0) {
        const key = heapPop(heap);
        const pos = key % n;
        const rank = (key - pos) / n;
        if (dead[pos]) continue;
        const right = next[pos]!;
        if (right < 0 || ranks.get(ids[pos]!, ids[right]!) !== rank) continue; // stale
        ids[pos] = this.mergedByRank[rank]!;
        dead[right] = 1;
        const after = next[right]!;
        next[pos] = after;
        if (after >= 0) prev[after] = pos;
        const before = prev[pos]!;
        if (before >= 0) {
          const r = ranks.get(ids[before]!, ids[pos]!);
          if (r >= 0) heapPush(heap, r * n + before);
        }
        if (after >= 0) {
          const r = ranks.get(ids[pos]!, ids[after]!);
          if (r >= 0) heapPush(heap, r * n + pos);
        }
      }
      const out: number[] = [];
      for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
      return out;
    }
    return n === 1 ? [ids[0]!] : [];
  }
}

function heapPush(h: number[], key: number): void {
  let i = h.length;
  h.push(key);
  while (i > 0) {
    const p = (i - 1) >> 1;
    const pk = h[p]!;
    if (pk <= key) break;
    h[i] = pk;
    i = p;
  }
  h[i] = key;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

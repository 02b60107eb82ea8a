/**
 * Splitting text on tokens that are matched whole, before pre-tokenization:
 *  - control (and unknown) tokens such as `<|im_start|>` only when the caller asks for special parsing,
 *    otherwise their text is ordinary text and goes through BPE like anything else;
 *  - user-defined tokens always, as llama.cpp and HF `tokenizers` do (they are added vocabulary, not markup).
 * Matching is leftmost-longest (HF's added-vocabulary rule): at each position the longest eligible token
 * starting there wins.
 */

export interface WholeToken {
  id: number;
  text: string;
  /** true: matched even without special parsing (user-defined tokens). */
  always: boolean;
}

/** A piece of split text: a string still to be pre-tokenized, or a token id already decided. */
export type Segment = string | number;

export class SpecialSplitter {
  /** Candidates by first UTF-16 unit, longest first. */
  private readonly byFirst = new Map<number, WholeToken[]>();
  private readonly anyAlways: boolean;
  private readonly any: boolean;

  constructor(tokens: readonly WholeToken[]) {
    const seen = new Set<string>();
    for (const t of tokens) {
      if (t.text.length === 0 || seen.has(t.text)) continue; // first id for a text wins
      seen.add(t.text);
      const k = t.text.charCodeAt(0);
      let list = this.byFirst.get(k);
      if (!list) this.byFirst.set(k, (list = []));
      list.push(t);
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.text.length - a.text.length);
    this.any = seen.size > 0;
    this.anyAlways = tokens.some((t) => t.always && t.text.length > 0);
  }

  split(text: string, parseSpecial: boolean): Segment[] {
    if (!(parseSpecial ? this.any : this.anyAlways)) return text.length > 0 ? [text] : [];
    const out: Segment[] = [];
    let last = 0;
    let i = 0;
    while (i < text.length) {
      const list = this.byFirst.get(text.charCodeAt(i));
      let hit: WholeToken | undefined;
      if (list) {
        for (const t of list) {
          if ((parseSpecial || t.always) && text.startsWith(t.text, i)) {
            hit = t;
            break;
          }
        }
      }
      if (hit) {
        if (i > last) out.push(text.slice(last, i));
        out.push(hit.id);
        i += hit.text.length;
        last = i;
      } else {
        i++;
      }
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}

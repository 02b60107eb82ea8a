/**
 * Stop strings over streamed text. Text is released only when it can no longer be the start of a stop
 * string, so a consumer never sees text that is later cut off.
 */
import { fail } from "../errors.js";

export class StopMatcher {
  private held = "";

  constructor(private readonly stops: readonly string[]) {
    // An empty stop string occurs everywhere: it would end every generation after one token.
    if (stops.some((s) => s.length === 0)) fail("E_ARGS", "a stop string must not be empty");
  }

  /** Adds text; returns what can be released, and whether a stop string was completed. */
  push(text: string): { text: string; stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    this.held += text;
    const cut = this.firstStop(this.held);
    if (cut >= 0) {
      const out = this.held.slice(0, cut);
      this.held = "";
      return { text: out, stopped: true };
    }
    const keep = this.longestStopPrefixSuffix();
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text: out, stopped: false };
  }

  /** End of output: whatever was held back is ordinary text after all, unless `text` completes a stop. */
  flush(text: string): { text: string; stopped: boolean } {
    const all = this.held + text;
    this.held = "";
    const cut = this.firstStop(all);
    return cut >= 0 ? { text: all.slice(0, cut), stopped: true } : { text: all, stopped: false };
  }

  private firstStop(text: string): number {
    let cut = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    return cut;
  }

  private longestStopPrefixSuffix(): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.held.length); n > best; n--) {
        if (this.held.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}

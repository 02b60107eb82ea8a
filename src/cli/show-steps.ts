/**
 * `space generate --show-steps`: the output with the tokens that came from accepted candidates marked
 * (green on a terminal, ⟦ ⟧ otherwise), then one line per run on stderr: steps, tau and each step's
 * accepted count. Printed after the run, not streamed: a step may verify tokens past the output's end
 * (max tokens, a stop string), and only the finished result says where the output ends.
 */
import type { TraceStep } from "../decode/trace.js";

export interface Marks {
  readonly open: string;
  readonly close: string;
}
export const TERMINAL_MARKS: Marks = { open: "\x1b[1;32m", close: "\x1b[0m" };
export const PLAIN_MARKS: Marks = { open: "\u27e6", close: "\u27e7" };

/**
 * The output text with marks around each run of tokens from accepted candidates. `ids` are the
 * output's tokens (an end-of-generation token last, if it ended the output: it has no text); `text` the
 * output as generate returned it, which the marked text (without its marks) always equals.
 */
export function markedText(ids: readonly number[], steps: readonly Pick<TraceStep, "accepted" | "emitted">[], text: string, detokenize: (ids: readonly number[]) => string, marks: Marks): string {
  const flags = acceptedFlags(steps, ids.length);
  let out = "";
  let shown = 0; // characters of `text` already written
  let open = false;
  for (let i = 0; i < ids.length && shown < text.length; i++) {
    // The text of tokens 0..i, less a trailing incomplete UTF-8 sequence (U+FFFD) that a later token completes.
    const upTo = Math.min(text.length, detokenize(ids.slice(0, i + 1)).replace(/\ufffd+$/, "").length);
    if (upTo <= shown) continue;
    if (flags[i] !== open) {
      out += flags[i] ? marks.open : marks.close;
      open = flags[i];
    }
    out += text.slice(shown, upTo);
    shown = upTo;
  }
  if (open) out += marks.close;
  return out + text.slice(shown);
}

/** One summary line: steps, tokens, tau, and the accepted count of every step. */
export function stepsSummary(decoder: string, steps: readonly Pick<TraceStep, "accepted" | "emitted">[], tokens: number): string {
  const fromCandidates = acceptedFlags(steps, tokens).filter(Boolean).length;
  const tau = steps.length ? tokens / steps.length : 0;
  return `${decoder}: ${steps.length} steps, ${tokens} tokens (${fromCandidates} from accepted candidates), tau ${tau.toFixed(2)}; accepted per step: ${steps.map((s) => s.accepted).join(" ")}`;
}

/** Per output token: whether it came from an accepted candidate (each step's first `accepted` tokens). */
export function acceptedFlags(steps: readonly Pick<TraceStep, "accepted" | "emitted">[], outputLength: number): boolean[] {
  return steps.flatMap((s) => s.emitted.map((_, i) => i < s.accepted)).slice(0, outputLength);
}

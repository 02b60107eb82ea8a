/**
 * Verification, in the paper's notation: a pure function of the candidates and the target's logits.
 *
 * Greedy: g_i = argmax p(. | prefix, c_1..c_i) for i = 0..k. Accept c_i while c_i == g_{i-1}
 * (i = 1..k); stop at the first mismatch. n = number accepted; the corrected/bonus token is g_n. An
 * accepted end-of-generation token ends the output: nothing follows it, not even a bonus token.
 *
 * Example: c = [5, 7, 9], g = [5, 7, 4, 8] -> n = 2 (5 and 7 accepted, 9 != g_2 = 4), bonus g_2 = 4;
 * the step emits [5, 7, 4].
 */
export interface Verdict {
  readonly accepted: number; // n
  /** Emitted tokens: c_1..c_n, then the bonus g_n unless an accepted token ended generation. */
  readonly emitted: readonly number[];
  readonly ended: boolean; // an emitted token is end-of-generation
}

/** `g(i)` returns g_i; it is called only for the i the rule needs (argmax over V costs). */
export function verifyGreedy(c: ArrayLike<number>, g: (i: number) => number, isEog: (id: number) => boolean): Verdict {
  const emitted: number[] = [];
  let n = 0;
  let gn = g(0);
  while (n < c.length && c[n] === gn) {
    emitted.push(c[n]);
    n++;
    if (isEog(c[n - 1])) return { accepted: n, emitted, ended: true };
    gn = g(n);
  }
  emitted.push(gn); // the corrected/bonus token g_n
  return { accepted: n, emitted, ended: isEog(gn) };
}

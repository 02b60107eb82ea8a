/**
 * The pacer's schedule on a fake clock: a yield is due once YIELD_EVERY_MS have passed, and it is taken
 * at the first pause after that, whatever the step length (slow steps: at the very next pause; fast
 * steps: within READ_EVERY_MS of steps); it checks the context's guard at every pause.
 */
import { describe, expect, it } from "vitest";
import { Pacer, YIELD_EVERY_MS } from "../src/decode/pacer.js";
import { ContextGuard } from "../src/model/lifecycle.js";

/** Pauses after steps of `stepMs` on a fake clock; returns the indices of the pauses that yielded. */
async function schedule(stepMs: number, pauses: number, setupMs = 0): Promise<number[]> {
  let now = 0;
  const pacer = new Pacer(undefined, undefined, YIELD_EVERY_MS, () => now);
  now += setupMs;
  const yielded: number[] = [];
  for (let i = 0; i < pauses; i++) {
    const turn = pacer.pause();
    if (turn) {
      yielded.push(i);
      await turn;
    }
    now += stepMs; // the step (or prefill chunk) after the pause
  }
  return yielded;
}

describe("Pacer", () => {
  it("slow steps (prefill chunks): yields at the first pause after the first step, then after every step", async () => {
    expect(await schedule(50, 5)).toEqual([1, 2, 3, 4]); // the first pause comes before any work
  });

  it("the first interval (set-up, no step yet) does not stretch the stride", async () => {
    expect(await schedule(50, 4, 0.001)).toEqual([1, 2, 3]);
    expect(await schedule(50, 4, 0)).toEqual([1, 2, 3]);
  });

  it("fast steps: a yield every YIELD_EVERY_MS, each within 0.5 ms of steps of being due", async () => {
    const stepMs = 0.01;
    const yielded = await schedule(stepMs, 5000);
    expect(yielded.length).toBeGreaterThan(5000 * stepMs / YIELD_EVERY_MS - 2);
    let last = 0;
    for (const i of yielded) {
      const late = i * stepMs - (last + YIELD_EVERY_MS);
      expect(late).toBeGreaterThanOrEqual(-1e-9);
      expect(late).toBeLessThanOrEqual(0.5 + stepMs);
      last = i * stepMs;
    }
  });

  it("checks the guard at every pause: a disposed context is an E_STATE error", () => {
    const guard = new ContextGuard({ closed: false }, () => {});
    const pacer = new Pacer(guard, undefined, YIELD_EVERY_MS, () => 0);
    guard.claim();
    expect(pacer.pause()).toBeNull();
    guard.dispose();
    expect(() => pacer.pause()).toThrow(expect.objectContaining({ code: "E_STATE" }));
  });
});

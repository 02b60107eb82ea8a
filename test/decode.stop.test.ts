import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StopMatcher } from "../src/decode/stop.js";

function run(pieces: string[], stops: string[]): { text: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let text = "";
  for (const p of pieces) {
    const r = m.push(p);
    text += r.text;
    if (r.stopped) return { text, stopped: true };
  }
  const r = m.flush("");
  return { text: text + r.text, stopped: r.stopped };
}

describe("StopMatcher", () => {
  it("cuts before a stop string split across pieces", () => {
    expect(run(["Hello ", "wor", "ld! more"], ["world"])).toEqual({ text: "Hello ", stopped: true });
  });
  it("releases held text at the end when no stop string completes", () => {
    expect(run(["ab", "wor"], ["world"])).toEqual({ text: "abwor", stopped: false });
  });
  it("never releases text that is later cut (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 12 }), fc.array(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 3 }), (pieces, stops) => {
        const whole = pieces.join("");
        const cuts = stops.map((s) => whole.indexOf(s)).filter((i) => i >= 0);
        const expected = cuts.length ? whole.slice(0, Math.min(...cuts)) : whole;
        const m = new StopMatcher(stops);
        let released = "";
        let stopped = false;
        for (const p of pieces) {
          const r = m.push(p);
          released += r.text;
          expect(expected.startsWith(released)).toBe(true);
          if (r.stopped) {
            stopped = true;
            break;
          }
        }
        if (!stopped) released += m.flush("").text;
        expect(released).toBe(expected);
      }),
    );
  });
});

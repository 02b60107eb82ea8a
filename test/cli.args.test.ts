import { describe, expect, it } from "vitest";
import { parseArgs, type OptionSpec } from "../src/util/args.js";

const specs: Record<string, OptionSpec> = {
  n: { kind: "int", min: 0, max: 10, help: "" },
  t: { kind: "number", min: 0, help: "" },
  s: { kind: "string", choices: ["a", "b"], help: "" },
  f: { kind: "flag", help: "" },
  l: { kind: "list", help: "" },
};

describe("parseArgs", () => {
  it("parses every kind", () => {
    const { options, positional } = parseArgs(["x", "--n", "3", "--t=0.5", "--s", "b", "--f", "--l", "u", "--l", "v"], specs);
    expect(options).toEqual({ n: 3, t: 0.5, s: "b", f: true, l: ["u", "v"] });
    expect(positional).toEqual(["x"]);
  });
  const bad: [string[], RegExp][] = [
    [["--nope"], /unknown option --nope/],
    [["--n"], /--n needs a value/],
    [["--n", "1.5"], /--n must be an integer/],
    [["--n", "11"], /--n must be at most 10/],
    [["--n", "-1"], /--n must be at least 0/],
    [["--t", "abc"], /--t must be a number/],
    [["--t", ""], /--t must be a number/],
    [["--s", "c"], /--s must be one of a, b/],
    [["--f=1"], /--f takes no value/],
  ];
  for (const [argv, message] of bad) {
    it(`rejects ${argv.join(" ")}`, () => {
      expect(() => parseArgs(argv, specs)).toThrow(message);
    });
  }
});

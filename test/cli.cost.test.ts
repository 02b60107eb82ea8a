/**
 * `space cost` through the real binary: one entry per requested width (T = 1 always measured, since
 * ratios are to it), each with the measured ms, the ratio to T = 1 and a positive roofline bound; the
 * machine probes are reported; bad widths are refused with a clear error. Speed itself is never asserted.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GGML } from "../src/gguf/types.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let model = "";

function space(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { timeout: 120_000, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  model = join(mkdtempSync(join(tmpdir(), "space-cost-")), "m.gguf");
  writeFileSync(model, tinyModelBytes({ seed: 3, matrixType: GGML.Q4_1, embedType: GGML.Q8_0 }));
});

describe("space cost", () => {
  it("reports cost(T), its ratio to T = 1 and the roofline bound for every width (--json)", () => {
    const r = space(["cost", "--model", model, "--weights", "q4", "--T", "4,2", "--prefix", "8", "--repeats", "2", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.points.map((p: { T: number }) => p.T)).toEqual([1, 2, 4]);
    for (const p of out.points) {
      expect(p.ms).toBeGreaterThan(0);
      expect(p.bound_ms).toBeGreaterThan(0);
      expect(["memory", "compute"]).toContain(p.bound_by);
      expect(p.ratio).toBeCloseTo(p.ms / out.points[0].ms, 6);
      // serial = memory + compute: at least the larger term (the bound), at most twice it; the one that
      // does not bind is positive, so it is strictly above the bound.
      expect(p.serial_ms).toBeGreaterThan(p.bound_ms);
      expect(p.serial_ms).toBeLessThanOrEqual(2 * p.bound_ms * (1 + 1e-12));
      expect(p.vs_serial).toBeCloseTo(p.ms / p.serial_ms, 9);
    }
    expect(out.points[0].ratio).toBe(1);
    // The bound grows with T (more rows: more operations, more KV), whatever binds.
    expect(out.points[2].bound_ms).toBeGreaterThanOrEqual(out.points[0].bound_ms);
    expect(out.machine.bandwidthGBs).toBeGreaterThan(0);
    expect(Object.keys(out.machine.peakGops)).toEqual(expect.arrayContaining(["q4-panels", "q8-panels"]));
    expect(out.weights).toBe("q4");
  });

  it("prints a table without --json", () => {
    const r = space(["cost", "--model", model, "--T", "2", "--prefix", "4", "--repeats", "1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| T \| ms \(median\) \| cost\(T\)\/cost\(1\) \| bound ms \| bound by \| ms \/ bound \| serial ms \| ms \/ serial \|/);
    expect(r.stdout.match(/^\| [12] \|/gm)?.length).toBe(2);
  });

  it.each(["--T 0", "--T a,b", "--T 100000", "stray"])("refuses `%s` with one clear line", (args) => {
    const r = space(["cost", "--model", model, ...args.split(" ")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^space: E_ARGS: /);
  });
});

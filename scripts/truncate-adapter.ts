/**
 * `npx tsx scripts/truncate-adapter.ts --adapter IN.gguf --rank 4 --out OUT.gguf [--model BASE.gguf]`: the
 * adapter with every LoRA term B A replaced by its best rank-r approximation (src/train/lowrank.ts; the
 * mask embeddings, k and targets kept). The last step of scripts/smollm2-space.sh: the committed SmolLM2
 * adapter is its rank-16 training result truncated to rank 4, which keeps 97% of the terms' energy and
 * the held-out acceptance (spec/adapter.md, "Rank"). A rank above the adapter's widens it instead
 * (src/train/lowrank.ts widenRank: the same products B A, new directions to train), so a run at a higher
 * rank can start from it with `space train --init`. The output is written whole to a temporary file and
 * renamed, and may not be an input.
 */
import { parseArgs } from "node:util";
import { SMOLLM2_PATH } from "../src/node/engine.js";
import { readAdapterData } from "../src/node/adapter.js";
import { fileSource } from "../src/node/files.js";
import { metaGetter, readGGUF } from "../src/gguf/reader.js";
import { configFromMetadata } from "../src/model/config.js";
import { checkAdapterBase, encodeAdapter } from "../src/model/adapter.js";
import { truncateRank, widenRank } from "../src/train/lowrank.js";
import { refuseInputAsOutput, requireRegularFile, writeWhole } from "../src/node/outputs.js";
import { sha256File } from "../src/node/prompts.js";

const { values: o } = parseArgs({ options: {
  adapter: { type: "string" }, rank: { type: "string" }, out: { type: "string" }, model: { type: "string", default: SMOLLM2_PATH },
} });

async function main(): Promise<void> {
  if (!o.adapter || !o.rank || !o.out) throw new Error("usage: truncate-adapter.ts --adapter IN.gguf --rank R --out OUT.gguf [--model BASE.gguf]");
  requireRegularFile(o.adapter, "--adapter");
  requireRegularFile(o.model!, "--model");
  refuseInputAsOutput("--out", o.out, [["--adapter", o.adapter], ["--model", o.model]]);
  // The base's config (the factors' shapes), from its metadata: no weights loaded.
  const source = fileSource(o.model!);
  let file;
  try {
    file = readGGUF(source);
  } finally {
    source.close();
  }
  const cfg = configFromMetadata(metaGetter(file), file.name);
  const a = readAdapterData(o.adapter);
  checkAdapterBase(a, cfg, sha256File(o.model!), o.model);
  if (Number(o.rank) > a.meta.rank) {
    writeWhole(o.out, encodeAdapter(widenRank(a, Number(o.rank)), cfg));
    console.log(`${o.out}: rank ${a.meta.rank} -> ${o.rank} (widened: the same products, new directions to train)`);
    return;
  }
  const { adapter, report } = truncateRank(a, Number(o.rank));
  writeWhole(o.out, encodeAdapter(adapter, cfg));
  console.log(`${o.out}: rank ${a.meta.rank} -> ${adapter.meta.rank}, energy kept ${(100 * report.energyKept).toFixed(1)}%, largest dropped singular value ${(100 * report.worstDropped).toFixed(1)}% of its term's largest`);
}

try {
  await main();
} catch (e) {
  process.stderr.write(`truncate-adapter: ${(e as { code?: string }).code ?? "E_ARGS"}: ${(e as Error).message}\n`);
  process.exitCode = 1;
}

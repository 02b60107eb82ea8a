/**
 * Reproduces the embedded default model (models/space-tiny.gguf) end to end, deterministically:
 *
 *   1. vocab     byte-level BPE (src/train/bpe-train.ts) on the training split of the corpus
 *                (src/node/embedded.ts: TypeScript's lib.es*.d.ts, every 8th file held out)
 *   2. pretrain  a Llama model from scratch (GPT-2 init, seed RECIPE.seed) on random windows of the
 *                training split (next-token prediction)
 *   3. distill   greedy continuations by the pretrained model itself of random 32-token windows of
 *                the training split (window starts from an Rng seeded with RECIPE.seed + 1)
 *   4. sar       SAR-SFT, full mode, the appended-groups variant (spec/sar.md): the mask [MASK] is a
 *                vocabulary row from the start (id 1), never emitted
 *   5. export    GGUF (space.mask_token_id, space.k in metadata) to models/space-tiny.gguf, then tau
 *                and speedup against AR on held-out prompts
 *
 * Every stage writes its result to the run directory (default ~/.cache/space/runs/embedded) and is
 * skipped when that result exists; the two training stages checkpoint every CKPT_EVERY updates and
 * resume bit-identically (their data is drawn from the trainer's RNG, which the checkpoint holds).
 * Everything runs on the plain SIMD build, one thread, so the run is the same on every machine.
 *
 * Usage: npm run train:embedded [-- --dir DIR --out PATH]   (~15 min on one core; spec/embedded.md)
 * In the background: nohup npm run train:embedded > ~/.cache/space/runs/embedded.log 2>&1 &
 * Killed or cut off, the same command continues where it stopped. Stop it by killing its node process
 * (the child of tsx), not only the npm wrapper.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Engine } from "../src/engine.js";
import type { WeightStorage } from "../src/model/weights.js";
import { bytesSource } from "../src/gguf/source.js";
import { MetaType } from "../src/gguf/types.js";
import { loadCoreNode } from "../src/node/wasm.js";
import { embeddedCorpus, embeddedModelPath, snippets } from "../src/node/embedded.js";
import { resumeCheckpoint, saveCheckpoint, writeFileAtomic } from "../src/node/checkpoint.js";
import { trainBpe, type BpeVocab } from "../src/train/bpe-train.js";
import { initLlamaTensors, llamaGGUF } from "../src/train/export.js";
import { Trainer } from "../src/train/trainer.js";
import { causalSample } from "../src/train/sample.js";
import { drawAppended, type SftExample } from "../src/train/sar.js";
import { generate } from "../src/decode/generate.js";
import { ArProposer } from "../src/decode/proposer.js";
import { Rng } from "../src/util/rng.js";
import { compareArSpace } from "../src/decode/compare.js";
import type { ModelConfig } from "../src/model/config.js";

export const RECIPE = {
  seed: 1234,
  vocabSize: 384,
  specials: ["<|endoftext|>", "[MASK]"], // eos = 0, mask = 1
  model: { nLayers: 4, dModel: 128, dFF: 384, nHeads: 4, nKvHeads: 4, contextLength: 256 },
  pretrain: { seqLen: 128, batch: 8, steps: 1500, lr: 3e-3, minLr: 3e-4, warmup: 50, weightDecay: 0.01 },
  distill: { prompts: 4000, promptTokens: 32, maxTokens: 64 },
  sar: { k: 4, groups: 16, batch: 8, steps: 1000, lr: 3e-3, minLr: 1e-4, warmup: 30 },
  eval: { prompts: 12, promptChars: 120, maxTokens: 64 },
} as const;
const CKPT_EVERY = 50;
const EOS = 0, MASK = 1;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const dir = arg("dir") ?? join(homedir(), ".cache", "space", "runs", "embedded");
const outPath = arg("out") ?? embeddedModelPath();
mkdirSync(dir, { recursive: true });
const file = (n: string) => join(dir, n);
const log = (s: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const wallStart = performance.now();

// The recipe a run directory was started with must be this one (else its stages would mix).
const recipeJson = JSON.stringify(RECIPE, null, 1);
if (existsSync(file("recipe.json")) && readFileSync(file("recipe.json"), "utf8") !== recipeJson) {
  throw new Error(`${dir} holds a run of another recipe; remove it or pass --dir`);
}
writeFileSync(file("recipe.json"), recipeJson);

const corpus = embeddedCorpus();
log(`corpus: typescript ${corpus.typescriptVersion}, ${corpus.train.length} training files, ${corpus.heldOut.length} held out (${corpus.heldOut.map((f) => f.name).join(", ")})`);

// 1. vocab
let vocab: BpeVocab;
if (existsSync(file("vocab.json"))) vocab = JSON.parse(readFileSync(file("vocab.json"), "utf8")) as BpeVocab;
else {
  const t0 = performance.now();
  vocab = trainBpe(corpus.train.map((f) => f.text), { vocabSize: RECIPE.vocabSize, specials: RECIPE.specials });
  writeFileSync(file("vocab.json"), JSON.stringify(vocab));
  log(`vocab: ${vocab.tokens.length} tokens (${vocab.merges.length} merges) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const cfg: ModelConfig = {
  arch: "llama", ...RECIPE.model, headDim: RECIPE.model.dModel / RECIPE.model.nHeads, vocabSize: vocab.tokens.length,
  ropeBase: 10000, rmsEps: 1e-5,
};
const modelFile = (name: string, tensors: Parameters<typeof llamaGGUF>[0]["tensors"], extra = new Map()) =>
  llamaGGUF({ cfg, vocab, eos: EOS, name, tensors, extra });
const core = () => loadCoreNode("plain");
// Trainers read row-major weights (the backward kernels read rows): "f32-rows" says so explicitly (the
// tensors here are F32, so it is the same memory as "native"); decoding takes the default storage.
const load = async (name: string, bytes: Uint8Array, weights: WeightStorage = "native") => Engine.load(await core(), bytesSource(name, bytes), { weights });

// Token stream of the training split: files joined by <|endoftext|>.
async function tokenizer() {
  return (await load("init", modelFile("init", initLlamaTensors(cfg, RECIPE.seed)))).tokenizer;
}
const tok = await tokenizer();
const stream: number[] = [];
for (const f of corpus.train) stream.push(...tok.encode(f.text), EOS);
log(`training split: ${stream.length} tokens (${(corpus.train.reduce((n, f) => n + f.text.length, 0) / stream.length).toFixed(2)} chars/token)`);

/** Runs `steps` updates of `batchAt` with checkpoints; returns the trainer (its weights are the result). */
async function trainStage(
  stage: string,
  base: Uint8Array,
  h: { steps: number; lr: number; minLr: number; warmup: number; weightDecay?: number },
  maxT: number,
  batchAt: (t: Trainer) => ReturnType<typeof causalSample>[],
): Promise<Trainer> {
  const engine = await load(stage, base, "f32-rows");
  const trainer = Trainer.fromEngine(engine, {
    maxT, lr: h.lr, minLr: h.minLr, warmupSteps: h.warmup, totalSteps: h.steps, weightDecay: h.weightDecay ?? 0, seed: RECIPE.seed,
  });
  const ckpt = file(`${stage}.ckpt.gguf`);
  if (resumeCheckpoint(ckpt, trainer)) log(`${stage}: resumed at update ${trainer.steps}/${h.steps}`);
  const t0 = performance.now(), s0 = trainer.steps;
  let tokens = 0, lossSum = 0, lossN = 0;
  while (trainer.steps < h.steps) {
    const batch = batchAt(trainer);
    const st = trainer.step(batch);
    tokens += batch.reduce((n, s) => n + s.tokens.length, 0);
    lossSum += st.loss;
    lossN++;
    if (trainer.steps % CKPT_EVERY === 0 || trainer.steps === h.steps) {
      saveCheckpoint(ckpt, trainer);
      const sec = (performance.now() - t0) / 1000;
      const eta = ((h.steps - trainer.steps) * sec) / (trainer.steps - s0);
      log(`${stage} ${trainer.steps}/${h.steps}  loss ${(lossSum / lossN).toFixed(3)}  lr ${st.lr.toExponential(2)}  ${Math.round(tokens / sec)} tok/s  ETA ${Math.floor(eta / 60)}m${String(Math.round(eta % 60)).padStart(2, "0")}s`);
      lossSum = lossN = 0;
    }
  }
  const sec = (performance.now() - t0) / 1000;
  if (trainer.steps > s0) log(`${stage}: ${trainer.steps - s0} updates, ${tokens} tokens in ${sec.toFixed(0)} s (${Math.round(tokens / sec)} tok/s)`);
  return trainer;
}

// 2. pretrain
let pretrained: Uint8Array;
if (existsSync(file("pretrained.gguf"))) pretrained = new Uint8Array(readFileSync(file("pretrained.gguf")));
else {
  const P = RECIPE.pretrain;
  const trainer = await trainStage("pretrain", modelFile("init", initLlamaTensors(cfg, RECIPE.seed)), P, P.seqLen, (t) =>
    Array.from({ length: P.batch }, () => {
      const at = Math.floor(t.rng.next() * (stream.length - P.seqLen));
      return causalSample(stream.slice(at, at + P.seqLen));
    }),
  );
  pretrained = modelFile("space-tiny-pretrained", trainer.state().tensors);
  writeFileAtomic(file("pretrained.gguf"), pretrained);
}

// 3. distill: greedy continuations of training-split snippets by the pretrained model
let examples: SftExample[];
if (existsSync(file("distill.json"))) examples = JSON.parse(readFileSync(file("distill.json"), "utf8")) as SftExample[];
else {
  const D = RECIPE.distill;
  const engine = await load("pretrained", pretrained);
  const t0 = performance.now();
  examples = [];
  const rng = new Rng(RECIPE.seed + 1);
  for (let i = 0; i < D.prompts; i++) {
    const at = Math.floor(rng.next() * (stream.length - D.promptTokens));
    const prompt = stream.slice(at, at + D.promptTokens);
    const ctx = engine.newContext(prompt.length + D.maxTokens, 0);
    const r = await generate(ctx, prompt, new ArProposer(), { maxTokens: D.maxTokens, banned: new Set([MASK]) });
    ctx.dispose();
    examples.push({ prompt, response: r.tokens });
    if (examples.length % 500 === 0) log(`distill ${examples.length}/${D.prompts}`);
  }
  writeFileSync(file("distill.json"), JSON.stringify(examples.map((e) => ({ prompt: Array.from(e.prompt), response: Array.from(e.response) }))));
  log(`distill: ${examples.length} examples in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

// 4. SAR-SFT (appended groups)
const S = RECIPE.sar;
if (!existsSync(file("space-tiny.gguf"))) {
  const maxT = Math.max(...examples.map((e) => e.prompt.length + e.response.length)) + S.k * S.groups;
  const trainer = await trainStage("sar", pretrained, S, maxT, (t) =>
    Array.from({ length: S.batch }, () => {
      const ex = examples[Math.floor(t.rng.next() * examples.length)];
      return drawAppended(ex, { k: S.k, maskId: MASK, groups: S.groups }, t.rng);
    }),
  );
  const extra = new Map([
    ["space.mask_token_id", { type: MetaType.UINT32, value: MASK }],
    ["space.k", { type: MetaType.UINT32, value: S.k }],
    ["space.mode", { type: MetaType.STRING, value: "full" }],
    ["space.recipe", { type: MetaType.STRING, value: JSON.stringify(RECIPE) }],
  ]);
  writeFileAtomic(file("space-tiny.gguf"), modelFile("space-tiny", trainer.state().tensors, extra));
}
mkdirSync(join(outPath, ".."), { recursive: true });
copyFileSync(file("space-tiny.gguf"), outPath);
log(`wrote ${outPath}; total wall time this run ${((performance.now() - wallStart) / 1000).toFixed(0)} s`);

// 5. tau and speedup on held-out prompts
const engine = await load("space-tiny", new Uint8Array(readFileSync(outPath)));
let emitted = 0, steps = 0, arMs = 0, spMs = 0, same = 0;
const E = RECIPE.eval;
const prompts = snippets(corpus.heldOut, E.prompts, E.promptChars);
for (const text of prompts) {
  const c = await compareArSpace(engine, engine.tokenizer.encode(text), { k: S.k, maskToken: MASK, maxTokens: E.maxTokens });
  emitted += c.space.tokens.length;
  steps += c.space.stats.forward_passes;
  arMs += c.arMs;
  spMs += c.spaceMs;
  if (c.identical) same++;
}
log(`held-out: ${prompts.length} prompts, SPACE output identical to AR on ${same}; tau ${(emitted / steps).toFixed(3)}; wall AR ${arMs.toFixed(0)} ms, SPACE ${spMs.toFixed(0)} ms, speedup ${(arMs / spMs).toFixed(2)}x`);

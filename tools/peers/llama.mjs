#!/usr/bin/env node
// Development tooling only: llama.cpp (via node-llama-cpp, CPU backend) as the peer engine for
// cross-checks and benchmarks. Never imported by product code.
//
// Prompts are given AS TOKEN IDS (our engine tokenizes): llama.cpp evaluates exactly those ids, with no
// BOS added and no re-tokenization, through the low-level LlamaContextSequence.evaluate API with
// temperature 0 and no other sampler (node-llama-cpp then builds a chain of just llama.cpp's greedy
// sampler: no repetition penalty, no top-k/top-p, no token bias, no grammar).
//
// CLI (JSON on stdout, logs on stderr; see tools/README.md):
//   node tools/peers/llama.mjs greedy   [--input FILE|-] [--ids '[...]'] [--n 64] [--threads 1] ...
//   node tools/peers/llama.mjs tokenize [--input FILE|-] [--text STR] [--special both|on|off]
//   node tools/peers/llama.mjs detokenize --ids '[...]'
//   node tools/peers/llama.mjs bench    (--ids '[...]' | --input FILE | --text STR) [--n 64] [--threads 1,2]
//                                       [--repeats 3] [--warmup 1] [--predictor] [--stop-at-eos]
//   node tools/peers/llama.mjs info
// Module:
//   import { openLlama } from "./tools/peers/llama.mjs";
//   const l = await openLlama({ threads: 1 }); await l.greedy([1, 2, 3], 64); await l.close();
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ensurePeers } from "./ensure.mjs";

export const DEFAULT_MODEL =
  process.env.SPACE_MODEL ?? join(homedir(), ".cache", "space", "models", "SmolLM2-135M-Instruct.Q4_1.gguf");

let nlcPromise;
/** Imports node-llama-cpp from tools/peers/node_modules, installing it first when missing. */
export async function loadNodeLlamaCpp() {
  nlcPromise ??= ensurePeers().then(() => import("node-llama-cpp"));
  return nlcPromise;
}

const round = (x, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Parses llama.cpp's llama_perf_context_print lines (printed by LlamaContext.printTimings). */
function parsePerf(text) {
  const out = {};
  const pe = /prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/.exec(text);
  const ev = /\beval time =\s*([\d.]+) ms \/\s*(\d+) runs/.exec(text.replace(/prompt eval time[^\n]*?tokens/, ""));
  if (pe) Object.assign(out, { prompt_eval_ms: +pe[1], prompt_eval_tokens: +pe[2], prefill_tok_s: round((+pe[2] * 1000) / +pe[1]) });
  if (ev) Object.assign(out, { eval_ms: +ev[1], eval_runs: +ev[2], decode_tok_s: round((+ev[2] * 1000) / +ev[1]) });
  return out;
}

/**
 * Loads the model on llama.cpp's CPU backend (gpu: false).
 * @param {object} o
 * @param {string} [o.model] GGUF path (default: $SPACE_MODEL or ~/.cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf)
 * @param {number} [o.threads=1] llama.cpp threads for evaluation (exact: getLlama maxThreads is 0)
 * @param {number} [o.contextSize=2048] KV-cache size in tokens (prompt + generated must fit; no context shift happens)
 * @param {number} [o.batchSize=512] llama.cpp batch size (prefill chunk)
 * @param {boolean|"auto"} [o.flashAttention=false] llama.cpp flash attention (false: the plain attention path)
 */
export async function openLlama({ model = DEFAULT_MODEL, threads = 1, contextSize = 2048, batchSize = 512, flashAttention = false } = {}) {
  const nlc = await loadNodeLlamaCpp();
  const { getLlama, LlamaLogLevel, InputLookupTokenPredictor } = nlc;
  let capture = null; // when an array, info-level llama.cpp lines are collected into it
  const t0 = performance.now();
  const llama = await getLlama({
    gpu: false,
    build: "never", // only the prebuilt binaries shipped in the npm packages; never compile or download
    maxThreads: 0, // so that the context's `threads` is exactly the number used
    logLevel: LlamaLogLevel.info,
    logger: (level, message) => {
      if (capture && level === LlamaLogLevel.info) capture.push(message);
      else if (level === LlamaLogLevel.warn || level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
        process.stderr.write(`[llama.cpp ${level}] ${message}${message.endsWith("\n") ? "" : "\n"}`);
    },
  });
  const llamaModel = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
  const loadMs = performance.now() - t0;
  const vocabSize = [...llamaModel.iterateAllTokens()].length;
  const contexts = new Map(); // threads -> context

  async function getContext(th = threads) {
    if (!contexts.has(th)) {
      contexts.set(th, await llamaModel.createContext({
        contextSize, batchSize, threads: th, flashAttention, sequences: 1, performanceTracking: true,
      }));
    }
    return contexts.get(th);
  }

  async function takePerf(ctx) {
    capture = [];
    await ctx.printTimings(); // prints and resets llama.cpp's per-context perf counters
    const text = capture.join("");
    capture = null;
    return parsePerf(text);
  }

  function checkIds(ids, extra) {
    if (!Array.isArray(ids) || ids.length === 0) throw new Error("prompt must be a non-empty array of token ids");
    for (const t of ids) if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new Error(`token id out of range [0, ${vocabSize}): ${t}`);
    if (ids.length + extra > contextSize)
      throw new Error(`prompt (${ids.length}) + new tokens (${extra}) exceed contextSize ${contextSize}; pass a larger --ctx`);
  }

  /**
   * Runs one greedy generation in a fresh sequence (optionally with a token predictor).
   * Returns tokens and wall-clock timings: prefillMs = prompt evaluation up to the first generated
   * token (inclusive); decodeMs = the rest.
   */
  async function run(ids, n, { th = threads, stopAtEos = true, predictor = null } = {}) {
    checkIds(ids, n + (predictor ? 8 : 0));
    const ctx = await getContext(th);
    const seq = ctx.getSequence(predictor ? { tokenPredictor: predictor } : undefined);
    try {
      if (predictor) predictor.updateInputTokens(ids);
      const tokens = [];
      let eosAt = -1;
      const t0 = performance.now();
      let t1 = t0;
      for await (const tok of seq.evaluate(ids, { temperature: 0, yieldEogToken: true })) {
        if (tokens.length === 0) t1 = performance.now();
        tokens.push(tok);
        if (eosAt < 0 && llamaModel.isEogToken(tok)) {
          eosAt = tokens.length - 1;
          if (stopAtEos) break;
        }
        if (tokens.length >= n) break;
      }
      const t2 = performance.now();
      return { tokens, eosAt, prefillMs: t1 - t0, decodeMs: t2 - t1, predictions: predictor ? { ...seq.tokenPredictions } : undefined };
    } finally {
      await seq.dispose(); // frees the sequence's KV cells: the next call starts from an empty state
    }
  }

  return {
    nlc,
    llama,
    model: llamaModel,
    modelPath: model,
    loadMs,
    vocabSize,
    info() {
      const t = llamaModel.tokens;
      const eog = [];
      for (const tok of [t.bos, t.eos, t.eot, 0, 1, 2]) if (tok != null && llamaModel.isEogToken(tok) && !eog.includes(tok)) eog.push(tok);
      return {
        engine: "llama.cpp (node-llama-cpp, CPU)",
        node_llama_cpp: nlc.version ?? readPkgVersion(),
        llama_cpp_tag: readLlamaCppTag(),
        model: model,
        architecture: llamaModel.architecture,
        vocab_size: vocabSize,
        train_context_size: llamaModel.trainContextSize,
        bos: t.bos, eos: t.eos, eot: t.eot,
        eog_tokens_among_specials: eog,
        flash_attention: flashAttention,
        load_ms: round(loadMs, 1),
      };
    },
    /** text -> ids; specialTokens=true parses "<|im_start|>" etc. as special tokens. Never adds BOS. */
    tokenize(text, specialTokens = false) {
      return llamaModel.tokenize(text, specialTokens);
    },
    detokenize(ids, specialTokens = true) {
      return llamaModel.detokenize(ids, specialTokens);
    },
    /**
     * Greedy generation of up to n tokens from exactly `ids`. Stops at the first EOG token, which is
     * included in `tokens` (`stop: "eos"`, `eos_index`); otherwise `stop: "length"`.
     */
    async greedy(ids, n = 64, { threads: th = threads } = {}) {
      const r = await run(ids, n, { th, stopAtEos: true });
      await takePerf(await getContext(th)); // reset counters
      return { prompt_len: ids.length, tokens: r.tokens, stop: r.eosAt >= 0 ? "eos" : "length", eos_index: r.eosAt >= 0 ? r.eosAt : null };
    },
    /**
     * Prefill and decode throughput for one prompt: plain autoregressive greedy, and (predictor: true)
     * with node-llama-cpp's InputLookupTokenPredictor (prompt-lookup drafting, verified by the target).
     */
    async bench(ids, { n = 64, threads: thList = [threads], repeats = 3, warmup = 1, predictor = false, predictorOptions = {}, stopAtEos = false, modes: only = null } = {}) {
      const results = [];
      for (const th of thList) {
        const ctx = await getContext(th);
        // `modes` (e.g. ["input_lookup"]) runs just those; a harness that interleaves engines asks for one at a time.
        const modes = only ?? (predictor ? ["plain", "input_lookup"] : ["plain"]);
        const entry = { threads: th };
        let plainTokens = null;
        for (const mode of modes) {
          const runs = [];
          for (let i = 0; i < warmup + repeats; i++) {
            const pred = mode === "plain" ? null : new InputLookupTokenPredictor(predictorOptions);
            await takePerf(ctx); // reset llama.cpp counters
            const r = await run(ids, n, { th, stopAtEos, predictor: pred });
            const perf = await takePerf(ctx);
            if (i < warmup) continue;
            const decoded = r.tokens.length - 1; // the first token comes out of the prefill
            runs.push({
              prefill_ms: round(r.prefillMs), decode_ms: round(r.decodeMs), generated: r.tokens.length,
              prefill_tok_s: round((ids.length * 1000) / r.prefillMs), decode_tok_s: round((decoded * 1000) / r.decodeMs),
              eos_index: r.eosAt >= 0 ? r.eosAt : null,
              llama_perf: perf, predictions: r.predictions, tokens: r.tokens,
            });
          }
          const last = runs[runs.length - 1];
          const summary = {
            prefill_tok_s: round(median(runs.map((x) => x.prefill_tok_s))),
            decode_tok_s: round(median(runs.map((x) => x.decode_tok_s))),
            llama_perf_prefill_tok_s: round(median(runs.map((x) => x.llama_perf.prefill_tok_s))),
            llama_perf_decode_tok_s: round(median(runs.map((x) => x.llama_perf.decode_tok_s))),
            generated: last.generated,
            eos_index: last.eos_index,
            runs: runs.map(({ tokens, ...rest }) => rest),
          };
          if (mode === "plain") plainTokens = last.tokens;
          else if (plainTokens !== null) {
            let d = 0;
            while (d < last.tokens.length && d < plainTokens.length && last.tokens[d] === plainTokens[d]) d++;
            summary.identical_to_plain = d === last.tokens.length && d === plainTokens.length;
            summary.first_divergence = summary.identical_to_plain ? null : d;
            summary.predictions = last.predictions;
            summary.tokens = last.tokens;
          }
          if (mode === "plain" || plainTokens === null) summary.tokens = last.tokens;
          if (mode !== "plain") summary.predictions ??= last.predictions;
          entry[mode] = summary;
        }
        results.push(entry);
      }
      return { prompt_len: ids.length, n, stop_at_eos: stopAtEos, repeats, warmup, results };
    },
    async close() {
      for (const c of contexts.values()) await c.dispose();
      await llamaModel.dispose();
      await llama.dispose();
    },
  };
}

function readPkgVersion() {
  try {
    return JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/package.json", import.meta.url), "utf8")).version;
  } catch {
    return null;
  }
}
function readLlamaCppTag() {
  try {
    return JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/llama/llama.cpp.info.json", import.meta.url), "utf8")).tag;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- CLI

/** Reads JSON (one array/value) or JSON lines from a file or "-" (stdin). */
export function readJsonInput(path) {
  const text = readFileSync(path === "-" ? 0 : path, "utf8").trim();
  if (text === "") return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [v];
  } catch {
    return text.split(/\r?\n/).filter((l) => l.trim() !== "").map((l, i) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`${path}: line ${i + 1} is not JSON: ${e.message}`);
      }
    });
  }
}

/** Accepts [ids...] or {id?, ids|tokens|prompt: [ids...]}; a bare top-level array of numbers is one prompt. */
function normalizePrompts(items) {
  if (items.length > 0 && items.every((x) => typeof x === "number")) items = [items];
  return items.map((x, i) => {
    if (Array.isArray(x)) return { index: i, ids: x };
    if (x && typeof x === "object") {
      const ids = x.ids ?? x.tokens ?? x.prompt;
      if (!Array.isArray(ids)) throw new Error(`prompt ${i}: expected an "ids" array`);
      return { index: i, ...(x.id !== undefined ? { id: x.id } : {}), ids };
    }
    throw new Error(`prompt ${i}: expected an array of token ids or an object with "ids"`);
  });
}

const USAGE = `usage: node tools/peers/llama.mjs <command> [options]
commands:
  greedy      greedy-generate from prompts given as token ids
                --input FILE|-   JSON array of prompts, or JSON lines; a prompt is [ids...] or {"id":..,"ids":[...]}
                --ids JSON       a single prompt inline, e.g. --ids '[1,9690,198]'
                --n N            tokens to generate per prompt (default 64; stops early at EOS, which is reported)
  tokenize    text -> ids with llama.cpp's tokenizer (never adds BOS)
                --text STR | --input FILE|-  (JSON array / JSON lines of strings or {"id":..,"text":..})
                --special both|on|off        parse special tokens like <|im_start|> (default both)
  detokenize  --ids JSON  ids -> text (special tokens rendered)
  bench       prefill and decode tok/s for one prompt
                --ids JSON | --input FILE (first prompt) | --text STR (tokenized with special tokens)
                --n N (default 64) --threads 1,2 (list) --repeats R (default 3) --warmup W (default 1)
                --predictor   also run with InputLookupTokenPredictor (prompt lookup)
                --stop-at-eos stop at EOS (default: keep generating to N tokens for steady timing)
  info        model and engine facts
common options:
  --model PATH      GGUF (default $SPACE_MODEL or ~/.cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf)
  --threads N       llama.cpp threads (default 1)
  --ctx N           context size (default 2048)   --batch N  batch size (default 512)
  --flash-attn on|off|auto  (default off)
  --pretty          indent the JSON output`;

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      input: { type: "string" }, ids: { type: "string" }, text: { type: "string" }, n: { type: "string" },
      threads: { type: "string" }, model: { type: "string" }, ctx: { type: "string" }, batch: { type: "string" },
      "flash-attn": { type: "string" }, special: { type: "string" }, repeats: { type: "string" },
      warmup: { type: "string" }, predictor: { type: "boolean" }, "stop-at-eos": { type: "boolean" },
      pretty: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    console.log(USAGE);
    return;
  }
  const int = (s, d) => (s === undefined ? d : Number.parseInt(s, 10));
  const threadList = (values.threads ?? "1").split(",").map((s) => Number.parseInt(s, 10));
  if (threadList.some((t) => !(t >= 1))) throw new Error(`bad --threads ${values.threads}`);
  const fa = values["flash-attn"] ?? "off";
  const flashAttention = fa === "on" ? true : fa === "auto" ? "auto" : false;
  const n = int(values.n, 64);
  const print = (obj) => process.stdout.write(`${JSON.stringify(obj, null, values.pretty ? 2 : 0)}\n`);

  const l = await openLlama({
    model: values.model ?? DEFAULT_MODEL, threads: threadList[0], contextSize: int(values.ctx, 2048),
    batchSize: int(values.batch, 512), flashAttention,
  });
  try {
    const info = l.info();
    if (cmd === "info") {
      print(info);
    } else if (cmd === "greedy") {
      let prompts;
      if (values.ids) prompts = normalizePrompts([JSON.parse(values.ids)]);
      else if (values.input === undefined && process.stdin.isTTY) throw new Error("greedy needs --ids, --input FILE or JSON on stdin");
      else prompts = normalizePrompts(readJsonInput(values.input ?? "-"));
      const results = [];
      for (const p of prompts) {
        const r = await l.greedy(p.ids, n);
        results.push({ index: p.index, ...(p.id !== undefined ? { id: p.id } : {}), ...r });
      }
      print({ ...info, threads: threadList[0], n, results });
    } else if (cmd === "tokenize") {
      const mode = values.special ?? "both";
      let items;
      if (values.text !== undefined) items = [values.text];
      else if (values.input === undefined && process.stdin.isTTY) throw new Error("tokenize needs --text, --input FILE or JSON on stdin");
      else items = readJsonInput(values.input ?? "-");
      const results = items.map((x, i) => {
        const text = typeof x === "string" ? x : x?.text;
        if (typeof text !== "string") throw new Error(`item ${i}: expected a string or {"text": ...}`);
        const r = { index: i, ...(x?.id !== undefined ? { id: x.id } : {}), text };
        if (mode === "both" || mode === "on") r.ids_special = l.tokenize(text, true);
        if (mode === "both" || mode === "off") r.ids_plain = l.tokenize(text, false);
        return r;
      });
      print({ engine: info.engine, node_llama_cpp: info.node_llama_cpp, model: info.model, results });
    } else if (cmd === "detokenize") {
      const ids = JSON.parse(values.ids ?? "[]");
      print({ ids, text: l.detokenize(ids, true) });
    } else if (cmd === "bench") {
      let ids;
      if (values.ids) ids = JSON.parse(values.ids);
      else if (values.text !== undefined) ids = l.tokenize(values.text, true);
      else if (values.input) ids = normalizePrompts(readJsonInput(values.input))[0].ids;
      else throw new Error("bench needs --ids, --text or --input");
      const r = await l.bench(ids, {
        n, threads: threadList, repeats: int(values.repeats, 3), warmup: int(values.warmup, 1),
        predictor: !!values.predictor, stopAtEos: !!values["stop-at-eos"],
      });
      print({ ...info, cpu_cores: (await import("node:os")).cpus().length, ...r });
    } else {
      throw new Error(`unknown command ${cmd}\n${USAGE}`);
    }
  } finally {
    await l.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`llama.mjs: ${e.message}`);
    process.exit(1);
  });
}

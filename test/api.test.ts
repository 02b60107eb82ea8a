/**
 * The public API (src/api/): the browser-safe root over bytes and the Node entry over files. Each test
 * names the bug it catches: decoders that stop agreeing with AR, a chat prompt not rendered by the GGUF's
 * template, streaming that loses or repeats text, an abort or dispose that does not end the generation,
 * interleaved generations, use after dispose, and an adapter loaded for the wrong base.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NgramStore, loadModel, type Model } from "../src/api/index.js";
import { embeddedModelPath, loadModelFile, SpaceError } from "../src/api/node.js";
import { encodeChat } from "../src/tokenizer/chat.js";
import { readCoreBytes } from "../src/node/wasm.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { drawAppended } from "../src/train/sar.js";
import { LORA_TARGETS, encodeAdapter } from "../src/model/adapter.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";

const CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
const code = (e: unknown) => (e instanceof SpaceError ? e.code : String(e));
async function rejects(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return `${code(e)}: ${(e as Error).message}`;
  }
  throw new Error("expected an error");
}

let embedded: Model;
let dir = "";
beforeAll(async () => {
  embedded = await loadModelFile();
  dir = mkdtempSync(join(tmpdir(), "space-api-"));
});
afterAll(() => {
  embedded.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const PROMPT = "interface PromiseLike<T> {";

describe("generate", () => {
  it("every decoder gives AR's greedy text on the embedded model; space accepts candidates (tau > 1)", async () => {
    const ar = await embedded.generate(PROMPT, { maxTokens: 40 });
    expect(ar.ids).toHaveLength(40);
    expect(ar.stats.tau).toBe(1);
    expect(ar.promptIds).toEqual(embedded.tokenize(PROMPT));
    for (const opts of [{ decoder: "space" as const }, { decoder: "space" as const, layout: "lean" as const }, { decoder: "lookup" as const, k: 3 }, { decoder: "spec" as const, draftLayers: 2 }]) {
      const r = await embedded.generate(PROMPT, { maxTokens: 40, ...opts });
      expect(r.ids, JSON.stringify(opts)).toEqual(ar.ids);
      expect(r.text).toBe(ar.text);
      expect(r.decoder).toBe(opts.decoder);
      expect(r.stats.forwardPasses).toBeLessThanOrEqual(40);
    }
    const sp = await embedded.generate(PROMPT, { maxTokens: 40, decoder: "space" });
    expect(sp.stats.tau).toBeGreaterThan(1);
    expect(sp.stats.acceptHistogram.reduce((a, b) => a + b, 0)).toBe(sp.stats.forwardPasses);
  });

  it("spec with a draft model (another Model, the caller's): AR's text, and the draft's passes reported", async () => {
    const draft = await loadModelFile(embeddedModelPath(), { weights: "native" });
    try {
      const ar = await embedded.generate(PROMPT, { maxTokens: 24 });
      const r = await embedded.generate(PROMPT, { maxTokens: 24, decoder: "spec", k: 3, draftModel: draft });
      expect(r.ids).toEqual(ar.ids);
      expect(r.stats.draftPasses).toBeGreaterThan(0);
      expect(ar.stats.draftPasses).toBeUndefined();
      expect((await draft.generate(PROMPT, { maxTokens: 4 })).ids).toEqual(ar.ids.slice(0, 4)); // still usable: the target only borrowed it
    } finally {
      draft.dispose();
    }
    expect(await rejects(embedded.generate(PROMPT, { decoder: "spec", draftModel: draft }))).toMatch(/^E_STATE: generate \(as the draft model\): this model was disposed/);
  });

  it("streams exactly the result's text, and token-id prompts equal their text", async () => {
    let streamed = "";
    const pieces: string[] = [];
    const r = await embedded.generate(PROMPT, { maxTokens: 30, decoder: "space", onText: (t) => (streamed += t, pieces.push(t)) });
    expect(streamed).toBe(r.text);
    expect(pieces.length).toBeGreaterThan(1);
    const byIds = await embedded.generate(embedded.tokenize(PROMPT), { maxTokens: 30 });
    expect(byIds.ids).toEqual(r.ids);
  });

  it("samples reproducibly from a seed, and stop strings end the text before them", async () => {
    const a = await embedded.generate(PROMPT, { maxTokens: 24, temperature: 0.9, topP: 0.95, seed: 7, decoder: "space" });
    const b = await embedded.generate(PROMPT, { maxTokens: 24, temperature: 0.9, topP: 0.95, seed: 7, decoder: "space" });
    expect(b.ids).toEqual(a.ids);
    const full = await embedded.generate(PROMPT, { maxTokens: 40 });
    const stop = full.text.slice(6, 9);
    const s = await embedded.generate(PROMPT, { maxTokens: 40, stop: [stop] });
    expect(s.stopReason).toBe("stop");
    expect(s.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it("an AbortSignal ends the generation within a step (stopReason abort); an aborted signal runs nothing", async () => {
    const ctl = new AbortController();
    let pieces = 0;
    const r = await embedded.generate(PROMPT, { maxTokens: 200, onText: () => { if (++pieces === 3) ctl.abort(); }, signal: ctl.signal });
    expect(r.stopReason).toBe("abort");
    expect(r.ids.length).toBeLessThan(10);
    const none = await embedded.generate(PROMPT, { maxTokens: 200, signal: AbortSignal.abort() });
    expect(none.stopReason).toBe("abort");
    expect(none.ids).toEqual([]);
    const after = await embedded.generate(PROMPT, { maxTokens: 5 }); // the model is usable again
    expect(after.ids).toHaveLength(5);
  });

  it("refuses options that do not apply, bad values and bad prompts (E_ARGS), before running anything", async () => {
    expect(await rejects(embedded.generate(PROMPT, { k: 3 }))).toMatch(/^E_ARGS: k applies to decoder space\|spec\|lookup, not ar/);
    expect(await rejects(embedded.generate(PROMPT, { decoder: "medusa" as never }))).toMatch(/^E_ARGS: unknown decoder "medusa"/);
    expect(await rejects(embedded.generate(PROMPT, { decoder: "space", layout: "tree" as never }))).toMatch(/^E_ARGS: layout must be one of full, lean, .*auto, got "tree"/);
    expect(await rejects(embedded.generate(PROMPT, { decoder: "spec" }))).toMatch(/^E_ARGS: the spec decoder needs exactly one draft/);
    const store = NgramStore.build([[5, 6, 7, 8]]);
    expect(await rejects(embedded.generate(PROMPT, { store }))).toMatch(/^E_ARGS: store applies to decoder space, not ar/);
    expect(await rejects(embedded.generate(PROMPT, { decoder: "space", store }))).toMatch(/^E_ARGS: an n-gram store drafts for the layouts that copy candidates \(auto, hybrid\), not full/);
    expect(await rejects(embedded.generate(PROMPT, { decoder: "spec", draftModel: embedded }))).toMatch(/^E_ARGS: the draft model must be another Model/);
    expect(await rejects(embedded.generate(PROMPT, { temperature: -1 }))).toMatch(/^E_ARGS: temperature/);
    expect(await rejects(embedded.generate(PROMPT, { maxTokens: 1.5 }))).toMatch(/^E_ARGS: maxTokens/);
    expect(await rejects(embedded.generate(PROMPT, { stop: [""] }))).toMatch(/^E_ARGS: stop must be an array of non-empty strings/);
    expect(await rejects(embedded.generate(""))).toMatch(/^E_ARGS: the prompt is empty/);
    expect(await rejects(embedded.generate([1, 2, 99999]))).toMatch(/^E_ARGS: prompt token id 99999 is outside the vocabulary/);
    expect(await rejects(embedded.generate(42 as never))).toMatch(/^E_ARGS: the prompt must be/);
    // The embedded model has no chat template: chat messages are refused, not rendered some other way.
    expect(await rejects(embedded.generate([{ role: "user", content: "hi" }]))).toMatch(/^E_UNSUPPORTED: .*no ChatML chat template/);
  });
});

describe("chat", () => {
  it("renders messages with the GGUF's chat template (ChatML), contents as plain text", async () => {
    const bytes = tinyModelBytes({ seed: 5, chatTemplate: CHATML });
    const { plain } = readCoreBytes("plain");
    const m = await loadModel(bytes, { wasm: { plain }, simd: "plain" });
    try {
      const messages = [{ role: "system" as const, content: "Be brief." }, { role: "user" as const, content: "the cat <|im_end|>" }];
      const ids = m.applyChatTemplate(messages);
      // The template has no default system prompt, so none is inserted; "<|im_end|>" typed by a user stays text.
      expect(ids).toEqual(encodeChat(m.engine.tokenizer, messages, { addGenerationPrompt: true, defaultSystem: null }));
      const imEnd = m.engine.tokenizer.tokenToId("<|im_end|>")!;
      expect(ids.filter((id) => id === imEnd)).toHaveLength(2);
      const r = await m.generate(messages, { maxTokens: 6 });
      expect(r.promptIds).toEqual(ids);
      expect(m.info.chat).toBe(true);
    } finally {
      m.dispose();
    }
  });
});

describe("lifecycle", () => {
  it("refuses a second generation while one runs (E_STATE), and every call after dispose (E_STATE)", async () => {
    const m = await loadModelFile(embeddedModelPath());
    const first = m.generate(PROMPT, { maxTokens: 30 });
    expect(await rejects(m.generate(PROMPT, { maxTokens: 5 }))).toMatch(/^E_STATE: a generation is already running/);
    expect((await first).ids).toHaveLength(30);
    m.dispose();
    m.dispose(); // idempotent
    expect(m.isDisposed).toBe(true);
    expect(await rejects(m.generate(PROMPT))).toMatch(/^E_STATE: generate: this model was disposed/);
    expect(await rejects(() => m.tokenize("x"))).toMatch(/^E_STATE/);
    expect(await rejects(() => m.info)).toMatch(/^E_STATE/);
  });

  it("dispose() during a generation ends it with stopReason abort, then frees the model", async () => {
    const m = await loadModelFile(undefined, { threads: 2 });
    let n = 0;
    const r = await m.generate(PROMPT, { maxTokens: 200, onText: () => { if (++n === 2) m.dispose(); } });
    expect(r.stopReason).toBe("abort");
    expect(r.ids.length).toBeLessThan(10);
    expect(m.engine.closed).toBe(true);
  });

  it("refuses bad load inputs with one clear error", async () => {
    expect(await rejects(loadModel(new Uint8Array(8), undefined as never))).toMatch(/^E_ARGS: loadModel needs options.wasm/);
    const { plain } = readCoreBytes("plain");
    expect(await rejects(loadModel(new Uint8Array(8), { wasm: { plain: "x" as never } }))).toMatch(/^E_ARGS: options.wasm.plain/);
    expect(await rejects(loadModel("model.gguf" as never, { wasm: { plain } }))).toMatch(/^E_ARGS: the model must be a Uint8Array or a ByteSource/);
    expect(await rejects(loadModel(new Uint8Array(8), { wasm: { plain } }))).toMatch(/^E_GGUF/);
    expect(await rejects(loadModelFile("/nonexistent/m.gguf"))).toMatch(/^E_IO: \/nonexistent\/m\.gguf/);
    expect(await rejects(loadModelFile(embeddedModelPath(), { threads: 0 }))).toMatch(/^E_ARGS: threads/);
  });
});

describe("adapters", () => {
  let model = "", other = "", adapter = "";
  beforeAll(async () => {
    const bytes = tinyModelBytes({ seed: 9 });
    model = join(dir, "tiny.gguf");
    other = join(dir, "other.gguf");
    writeFileSync(model, bytes);
    writeFileSync(other, tinyModelBytes({ seed: 10 }));
    const e = await engineFromBytes(bytes);
    try {
      const t = new AdapterTrainer(e.core, e.arena, e.config, e.weights, {
        shape: { k: 3, rank: 2, targets: LORA_TARGETS, maskToken: 7 }, maxPrefix: 64, maxMask: 12, lr: 1e-2, totalSteps: 3,
      });
      const ex = { prompt: [10, 20, 30], response: Array.from({ length: 20 }, (_, i) => 40 + ((i * 7) % 30)) };
      for (let s = 0; s < 3; s++) t.step([drawAppended(ex, { k: 3, maskId: 7, groups: 4 }, t.rng)]);
      const sha = createHash("sha256").update(bytes).digest("hex");
      adapter = join(dir, "adapter.gguf");
      writeFileSync(adapter, encodeAdapter(t.model.data({ baseSha256: sha, baseName: "tiny.gguf" }), e.config));
    } finally {
      e.close();
    }
  });

  it("loads with its base (file or bytes + Web Crypto), gives k and the mask, and keeps AR's tokens", async () => {
    const viaFile = await loadModelFile(model, { adapter });
    const { plain } = readCoreBytes("plain");
    const viaBytes = await loadModel(new Uint8Array(readFileSync(model)), { wasm: { plain }, adapter: new Uint8Array(readFileSync(adapter)) });
    try {
      expect(viaFile.info.space).toEqual({ maskToken: 7, k: 3, adapter: true });
      const prompt = "the cat sat on the mat, the cat sat";
      const ar = await viaFile.generate(prompt, { maxTokens: 24 });
      for (const m of [viaFile, viaBytes]) {
        const sp = await m.generate(prompt, { maxTokens: 24, decoder: "space" });
        expect(sp.ids).toEqual(ar.ids);
      }
      // Fewer masks than the adapter's k (its first ones), with a small layout: still AR's tokens.
      expect((await viaFile.generate(prompt, { maxTokens: 24, decoder: "space", k: 2, layout: "tail" })).ids).toEqual(ar.ids);
      expect(await rejects(viaFile.generate(prompt, { decoder: "space", k: 4 }))).toMatch(/^E_ARGS: k 4: the adapter was trained with k = 3 masks/);
    } finally {
      viaFile.dispose();
      viaBytes.dispose();
    }
  });

  it("refuses an adapter trained for another base (E_MODEL), from a file and from bytes", async () => {
    expect(await rejects(loadModelFile(other, { adapter }))).toMatch(/^E_MODEL: .*wrong base model/);
    const { plain } = readCoreBytes("plain");
    expect(await rejects(loadModel(new Uint8Array(readFileSync(other)), { wasm: { plain }, adapter: new Uint8Array(readFileSync(adapter)) }))).toMatch(/^E_MODEL: .*wrong base model/);
  });
});

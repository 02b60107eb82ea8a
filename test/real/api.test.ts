/**
 * Real-model tier for the public API, the way the README tells package users to run SmolLM2 with its
 * shipped SPACE adapter: loadModelFile(base, { adapter }) with the default configuration, chat messages
 * rendered by the GGUF's own chat template, decoder "space". SPACE must give the base model's greedy AR
 * text exactly, accept candidates (tau above 1.3 on a code prompt; the real tier's adapter test measures
 * ~1.8), and stream exactly the text it returns. Fails (does not skip) when the base model is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelFile, type Model } from "../../src/api/node.js";
import { userPromptIds } from "../../src/tokenizer/chat.js";
import { requireRealModel } from "./peers.js";
const SMOLLM2_ADAPTER = "models/smollm2-135m-instruct-space-k5.gguf";

let model: Model;
beforeAll(async () => {
  model = await loadModelFile(requireRealModel(), { adapter: SMOLLM2_ADAPTER });
}, 300_000);
afterAll(() => model?.dispose());

describe("SmolLM2 + adapter through the public API", () => {
  it("chat messages, decoder space: AR's text, tau > 1.3, streamed whole", async () => {
    const messages = [{ role: "user" as const, content: "Write a Python function that returns the n-th Fibonacci number." }];
    // The GGUF's template inserts SmolLM2's default system prompt, as `space distill` trained on.
    expect(model.applyChatTemplate(messages)).toEqual(userPromptIds(model.engine.tokenizer, messages[0].content));
    const ar = await model.generate(messages, { maxTokens: 48 });
    let streamed = "";
    const sp = await model.generate(messages, { maxTokens: 48, decoder: "space", onText: (t) => (streamed += t) });
    expect(sp.ids).toEqual(ar.ids);
    expect(streamed).toBe(sp.text);
    expect(sp.stats.tau).toBeGreaterThan(1.3);
    expect(model.info.space).toEqual({ maskToken: 0, k: 5, adapter: true });
    process.stdout.write(`api smollm2 space: tau ${sp.stats.tau.toFixed(2)}, ${sp.stats.tokensPerSecond.toFixed(0)} tok/s (AR ${ar.stats.tokensPerSecond.toFixed(0)}), ${model.info.weights}, ${model.info.threads} thread(s)\n`);
  }, 300_000);
});

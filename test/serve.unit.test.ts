/**
 * The server's parts without HTTP: OpenAI request checking (defaults, refusals), the fair queue, and KV
 * prefix reuse in the runner (same output as a run from an empty cache, with fewer prefill passes).
 */
import { describe, expect, it } from "vitest";
import { ApiError, parseRequest, finishReason } from "../src/serve/openai.js";
import { FairQueue } from "../src/serve/queue.js";
import { Runner, commonPrefix } from "../src/serve/runner.js";
import { loadModelFile } from "../src/api/node.js";

const M = "space-tiny";

function refusal(kind: "completion" | "chat", body: unknown): ApiError {
  try {
    parseRequest(kind, body, M);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("accepted: " + JSON.stringify(body));
}

describe("OpenAI request parsing", () => {
  it("applies OpenAI's defaults: temperature 1, top_p 1, no seed, 16 tokens for completions, as many as fit for chat", () => {
    const c = parseRequest("completion", { model: M, prompt: "x" }, M);
    expect(c).toMatchObject({ kind: "completion", prompt: "x", maxTokens: 16, seed: null, stream: false, stop: [], sampling: { temperature: 1, topP: 1, topK: 0 } });
    const chat = parseRequest("chat", { model: M, messages: [{ role: "developer", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }] }, M);
    expect(chat).toMatchObject({ kind: "chat", maxTokens: null, messages: [{ role: "system", content: "ab" }] });
    expect(parseRequest("chat", { model: M, messages: [{ role: "user", content: "q" }], max_completion_tokens: 7, stop: "\n" }, M)).toMatchObject({ maxTokens: 7, stop: ["\n"] });
  });

  it("refuses what it cannot honour, naming the parameter, in OpenAI's error shape", () => {
    expect(refusal("completion", { model: M, prompt: "x", foo: 1 })).toMatchObject({ status: 400, param: "foo", message: "Unrecognized request argument supplied: foo" });
    expect(refusal("completion", { model: "gpt-4", prompt: "x" })).toMatchObject({ status: 404, code: "model_not_found" });
    expect(refusal("completion", { prompt: "x" })).toMatchObject({ status: 400, param: "model" });
    expect(refusal("completion", { model: M, prompt: "x", n: 2 }).param).toBe("n");
    expect(refusal("completion", { model: M, prompt: "x", temperature: 2.5 }).param).toBe("temperature");
    expect(refusal("completion", { model: M, prompt: "x", top_p: 0 }).param).toBe("top_p");
    expect(refusal("completion", { model: M, prompt: "x", seed: 1.5 }).param).toBe("seed");
    expect(refusal("completion", { model: M, prompt: "x", max_tokens: -1 }).param).toBe("max_tokens");
    expect(refusal("completion", { model: M, prompt: "x", stop: ["a", "b", "c", "d", "e"] }).param).toBe("stop");
    expect(refusal("completion", { model: M, prompt: "x", stop: "" }).param).toBe("stop");
    expect(refusal("completion", { model: M, prompt: ["a", "b"] }).param).toBe("prompt");
    expect(refusal("completion", { model: M, prompt: "x", stream_options: { include_usage: true } }).param).toBe("stream_options");
    expect(refusal("chat", { model: M, messages: [] }).param).toBe("messages");
    expect(refusal("chat", { model: M, messages: [{ role: "tool", content: "x" }] }).param).toBe("messages[0].role");
    expect(refusal("chat", { model: M, messages: [{ role: "user", content: "x" }], tools: [{ type: "function" }] }).param).toBe("tools");
    expect(refusal("chat", { model: M, messages: [{ role: "user", content: "x" }], max_tokens: 1, max_completion_tokens: 1 }).status).toBe(400);
    expect(refusal("chat", [1, 2]).status).toBe(400);
    // Defaults are accepted where OpenAI clients send them explicitly.
    expect(() => parseRequest("completion", { model: M, prompt: "x", n: 1, echo: false, logprobs: null, presence_penalty: 0, logit_bias: {} }, M)).not.toThrow();
  });

  it("maps stop reasons to OpenAI finish reasons", () => {
    expect(["eos", "stop", "max_tokens", "context"].map((r) => finishReason(r as never))).toEqual(["stop", "stop", "length", "length"]);
  });
});

describe("FairQueue", () => {
  it("serves clients in turn, FIFO within a client, and refuses past its capacity", () => {
    const q = new FairQueue<string>(5);
    for (const j of ["a1", "a2", "a3"]) expect(q.push("a", j)).toBe(true);
    expect(q.push("b", "b1")).toBe(true);
    expect(q.push("c", "c1")).toBe(true);
    expect(q.push("b", "b2")).toBe(false); // full
    expect(q.length).toBe(5);
    const order: string[] = [];
    for (let j = q.shift(); j !== undefined; j = q.shift()) order.push(j);
    expect(order).toEqual(["a1", "b1", "c1", "a2", "a3"]);
    expect(q.length).toBe(0);
  });

  it("removes a job whose client left, and drains on shutdown", () => {
    const q = new FairQueue<string>(4);
    q.push("a", "a1");
    q.push("a", "a2");
    q.push("b", "b1");
    expect(q.remove("a", "a1")).toBe(true);
    expect(q.remove("a", "a1")).toBe(false);
    expect(q.length).toBe(2);
    expect(q.drain().sort()).toEqual(["a2", "b1"]);
    expect(q.shift()).toBeUndefined();
  });
});

describe("KV prefix reuse", () => {
  it("commonPrefix", () => {
    expect(commonPrefix([1, 2, 3], [1, 2, 4, 5])).toBe(2);
    expect(commonPrefix([], [1])).toBe(0);
    expect(commonPrefix([1, 2], [1, 2])).toBe(2);
  });

  it("a conversation's next turn reuses the previous request's rows: identical output, fewer prefill passes", async () => {
    const model = await loadModelFile(undefined, { simd: "plain" });
    try {
      const turn1 =
        "interface ArrayConstructor {\n    new(arrayLength?: number): any[];\n    new <T>(arrayLength: number): T[];\n    new <T>(...items: T[]): T[];\n    (arrayLength?: number): any[];\n    <T>(arrayLength: number): T[];\n";
      const run = async (runner: Runner, text: string, seed = 0, temperature = 0) =>
        runner.run({ prompt: runner.encodeText(text), maxTokens: 24, sampling: { temperature, topK: 0, topP: 1 }, seed, stop: [], signal: new AbortController().signal });
      const outputs: Record<string, { text: string[]; cached: number[]; prefill: number[] }> = {};
      for (const reuse of [true, false]) {
        const runner = new Runner(model, { decoder: "space" }, 256, reuse);
        try {
          const r1 = await run(runner, turn1);
          const turn2 = turn1 + r1.text + "\n}\ninterface Array<T> {\n";
          const r2 = await run(runner, turn2);
          const r3 = await run(runner, turn2, 7, 0.8); // the same prompt again, sampled
          outputs[String(reuse)] = { text: [r1.text, r2.text, r3.text], cached: [r1.cachedTokens, r2.cachedTokens, r3.cachedTokens], prefill: [r1.stats.prefill_passes, r2.stats.prefill_passes, r3.stats.prefill_passes] };
          expect(runner.encodeText(turn2).length).toBeGreaterThan(2 * 64); // two prefill chunks without reuse
        } finally {
          runner.dispose();
        }
      }
      const withReuse = outputs["true"], without = outputs["false"];
      expect(withReuse.text).toEqual(without.text);
      expect(without.cached).toEqual([0, 0, 0]);
      expect(withReuse.cached[0]).toBe(0);
      expect(withReuse.cached[1]).toBeGreaterThan(64);
      expect(withReuse.cached[2]).toBeGreaterThan(withReuse.cached[1]); // all but the prompt's last token
      // The reused rows were not run again: fewer prefill chunks.
      expect(withReuse.prefill[1]).toBeLessThan(without.prefill[1]);
      expect(withReuse.prefill[2]).toBe(0);
    } finally {
      model.dispose();
    }
  });
});

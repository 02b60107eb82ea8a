/**
 * `space serve` through the official `openai` npm client on 127.0.0.1: completions and chat (plain and
 * streamed) give exactly the CLI's output for the same request, usage carries our stats, an aborted
 * stream stops the engine, and every rejection comes in OpenAI's error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import OpenAI from "openai";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { cliGenerate, startTestServer, type TestServer } from "./helpers/serve.js";

const CHATML = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const PROMPT = "interface ArrayConstructor {\n";

let tiny: TestServer; // the embedded model, decoder space (mask and k from its metadata)
let chat: TestServer; // a tiny random model with a ChatML template
let dir: string;
let chatModel: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "space-serve-"));
  chatModel = join(dir, "chat.gguf");
  writeFileSync(chatModel, tinyModelBytes({ seed: 11, chatTemplate: CHATML }));
  tiny = await startTestServer({ modelId: "space-tiny", decoder: { decoder: "space" } });
  chat = await startTestServer({ modelPath: chatModel, modelId: "chat", contextTokens: 256 });
});

afterAll(async () => {
  await tiny?.close();
  await chat?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("completions", () => {
  it("greedy: the CLI's text and tokens, with usage and our stats", async () => {
    const [r, cli] = await Promise.all([
      tiny.client.completions.create({ model: "space-tiny", prompt: PROMPT, max_tokens: 32, temperature: 0 }),
      cliGenerate(["--decoder", "space", "--prompt", PROMPT, "--max-tokens", "32"]),
    ]);
    expect(r.object).toBe("text_completion");
    expect(r.choices[0].text).toBe(cli.text);
    expect(r.choices[0].finish_reason).toBe("length");
    expect(r.usage?.completion_tokens).toBe(cli.tokens.length);
    const space = (r.usage as unknown as { space: { decoder: string; tokens_per_forward: number; forward_passes: number } }).space;
    expect(space.decoder).toBe("space");
    expect(space.tokens_per_forward).toBeGreaterThan(1); // SPACE accepted candidates on the SAR-SFT'd model
    expect(space.forward_passes).toBeLessThan(32);
  });

  it("sampled with a seed, streamed: the CLI's text; usage in the last chunk", async () => {
    const [stream, cli] = await Promise.all([
      tiny.client.completions.create({ model: "space-tiny", prompt: PROMPT, max_tokens: 24, temperature: 0.8, top_p: 0.9, seed: 5, stream: true, stream_options: { include_usage: true } }),
      cliGenerate(["--decoder", "space", "--prompt", PROMPT, "--max-tokens", "24", "--temperature", "0.8", "--top-p", "0.9", "--seed", "5"]),
    ]);
    let text = "";
    let pieces = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        text += c.text;
        if (c.text) pieces++;
        finish = c.finish_reason ?? finish;
      }
    }
    expect(text).toBe(cli.text);
    expect(pieces).toBeGreaterThan(1); // streamed as produced, not in one piece
    expect(finish).toBe("length");
    expect(usage?.completion_tokens).toBe(cli.tokens.length);
  });

  it("stop strings end the text before them, as in the CLI", async () => {
    const [r, cli] = await Promise.all([
      tiny.client.completions.create({ model: "space-tiny", prompt: PROMPT, max_tokens: 48, temperature: 0, stop: [";"] }),
      cliGenerate(["--decoder", "space", "--prompt", PROMPT, "--max-tokens", "48", "--stop", ";"]),
    ]);
    expect(cli.stop_reason).toBe("stop");
    expect(r.choices[0].text).toBe(cli.text);
    expect(r.choices[0].finish_reason).toBe("stop");
  });
});

describe("chat completions", () => {
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "the answer" },
  ];

  it("the chat template's prompt: the CLI's --chat output, plain and streamed", async () => {
    const [r, cli] = await Promise.all([
      chat.client.chat.completions.create({ model: "chat", messages, max_tokens: 12, temperature: 0 }),
      cliGenerate(["--model", chatModel, "--chat", "--system", "Be brief.", "--prompt", "the answer", "--max-tokens", "12"]),
    ]);
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0].message.role).toBe("assistant");
    expect(r.choices[0].message.content).toBe(cli.text);
    expect(r.usage?.completion_tokens).toBe(cli.tokens.length);
    const stream = await chat.client.chat.completions.create({ model: "chat", messages, max_tokens: 12, temperature: 0, stream: true });
    let text = "";
    let role: string | undefined;
    for await (const chunk of stream) {
      role ??= chunk.choices[0]?.delta.role;
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(role).toBe("assistant");
    expect(text).toBe(cli.text);
  });

  it("a model without a chat template refuses chat with a 400, not a crash", async () => {
    const err = await tiny.client.chat.completions.create({ model: "space-tiny", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toMatch(/chat template/);
  });
});

describe("abort and errors", () => {
  it("a client that aborts its stream stops the engine at the next step; the next request is served", async () => {
    const controller = new AbortController();
    const stream = await tiny.client.completions.create({ model: "space-tiny", prompt: PROMPT, max_tokens: 200, temperature: 0, stream: true }, { signal: controller.signal });
    let received = 0;
    // The client's stream ends quietly when its signal aborts (it closes the connection).
    for await (const chunk of stream) {
      received += chunk.choices[0]?.text.length ?? 0;
      if (received > 0) controller.abort();
    }
    expect(received).toBeGreaterThan(0);
    const rec = await tiny.waitRecord((r) => r.stop_reason === "disconnected");
    expect(rec.steps_after_abort).toBeLessThanOrEqual(1);
    expect(rec.completion_tokens).toBeLessThan(200);
    const next = await tiny.client.completions.create({ model: "space-tiny", prompt: PROMPT, max_tokens: 4, temperature: 0 });
    expect(next.usage?.completion_tokens).toBe(4);
  });

  it("rejections use OpenAI's error shape and status", async () => {
    const nf = await tiny.client.completions.create({ model: "gpt-4o", prompt: "x" }).catch((e) => e);
    expect(nf).toBeInstanceOf(OpenAI.NotFoundError);
    expect(nf.code).toBe("model_not_found");
    const bad = await tiny.client.completions.create({ model: "space-tiny", prompt: "x", temperature: 3 }).catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe("temperature");
    const long = await tiny.client.completions.create({ model: "space-tiny", prompt: "x", max_tokens: 300 }).catch((e) => e);
    expect(long.code).toBe("context_length_exceeded");
    expect((await tiny.client.models.list()).data.map((m) => m.id)).toEqual(["space-tiny"]);

    const url = tiny.handle.url;
    const post = (path: string, body: string) => fetch(url + path, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const cases: [Promise<Response>, number][] = [
      [fetch(url + "/v1/nothing"), 404],
      [fetch(url + "/v1/completions"), 405],
      [post("/v1/completions", "{not json"), 400],
      [post("/v1/completions", ""), 400],
      [post("/v1/completions", JSON.stringify({ model: "space-tiny", prompt: "x".repeat(2 << 20) })), 413],
    ];
    // Malformed HTTP never reaches a handler; Node's parser refusal still comes in OpenAI's shape.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(url).port), "127.0.0.1", () => socket.end("NONSENSE\r\n\r\n"));
      let data = "";
      socket.on("data", (d) => (data += d)).on("end", () => resolve(data)).on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)).error.type).toBe("invalid_request_error");
    for (const [res, status] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      const body = (await r.json()) as { error: { message: string; type: string } };
      expect(typeof body.error.message).toBe("string");
      expect(typeof body.error.type).toBe("string");
    }
  });
});

/**
 * A bounded load test of `space serve` on loopback (the embedded model, decoder space): 8 concurrent
 * streaming clients send 64 requests in all; every response is complete and identical to the CLI's
 * output for the same request. Then, with a queue of one: a full queue answers 429 with Retry-After, and
 * a client that disconnects frees the engine at once for the request waiting behind it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { cliGenerate, startTestServer, type CliResult, type TestServer } from "./helpers/serve.js";

const CLIENTS = 8;
const PER_CLIENT = 8; // 64 requests

/** Eight requests, greedy and sampled, as both the API and the CLI name them. */
const REQUESTS = [
  { prompt: "interface ArrayConstructor {\n", max_tokens: 32, temperature: 0 },
  { prompt: "interface PromiseLike<T> {\n", max_tokens: 24, temperature: 0 },
  { prompt: "declare var Math: Math;\n", max_tokens: 28, temperature: 0 },
  { prompt: "interface Map<K, V> {\n    ", max_tokens: 20, temperature: 0, stop: [";"] },
  { prompt: "interface ArrayConstructor {\n", max_tokens: 32, temperature: 0.8, top_p: 0.9, seed: 1 },
  { prompt: "type Partial<T> = {\n", max_tokens: 24, temperature: 1, seed: 2 },
  { prompt: "interface String {\n", max_tokens: 16, temperature: 0.7, seed: 3 },
  { prompt: "interface Date {\n    toString(): string;\n", max_tokens: 30, temperature: 0 },
] as const;

function cliArgs(r: (typeof REQUESTS)[number]): string[] {
  const args = ["--decoder", "space", "--prompt", r.prompt, "--max-tokens", String(r.max_tokens), "--temperature", String(r.temperature)];
  if ("top_p" in r) args.push("--top-p", String(r.top_p));
  if ("seed" in r) args.push("--seed", String(r.seed));
  if ("stop" in r) for (const s of r.stop) args.push("--stop", s);
  return args;
}

interface Outcome {
  text: string;
  completionTokens: number;
  finish: string | null;
}

async function streamOne(client: OpenAI, r: (typeof REQUESTS)[number]): Promise<Outcome> {
  const stream = await client.completions.create({ model: "space-tiny", ...r, stop: "stop" in r ? [...r.stop] : undefined, stream: true, stream_options: { include_usage: true } });
  const out: Outcome = { text: "", completionTokens: -1, finish: null };
  for await (const chunk of stream) {
    if (chunk.usage) out.completionTokens = chunk.usage.completion_tokens;
    for (const c of chunk.choices) {
      out.text += c.text;
      out.finish = c.finish_reason ?? out.finish;
    }
  }
  return out;
}

let refs: CliResult[];

beforeAll(async () => {
  refs = await Promise.all(REQUESTS.map((r) => cliGenerate(cliArgs(r))));
});

describe("load", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelId: "space-tiny", decoder: { decoder: "space" }, limits: { queue: 16 } });
  });
  afterAll(async () => server?.close());

  it("8 concurrent streaming clients, 64 requests: all complete, each identical to the CLI's output", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const results: { req: number; out: Outcome }[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let j = 0; j < PER_CLIENT; j++) {
          const req = (c + j) % REQUESTS.length;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          results.push({ req, out: await streamOne(server.client, REQUESTS[req]) });
          inFlight--;
        }
      }),
    );
    expect(results.length).toBe(CLIENTS * PER_CLIENT);
    expect(maxInFlight).toBe(CLIENTS);
    for (const { req, out } of results) {
      const ref = refs[req];
      expect(out.text, `request ${req}`).toBe(ref.text);
      expect(out.completionTokens, `request ${req}`).toBe(ref.tokens.length);
      expect(out.finish).toBe(ref.stop_reason === "max_tokens" ? "length" : "stop");
    }
    const served = server.records.filter((r) => r.path === "/v1/completions");
    expect(served.length).toBe(CLIENTS * PER_CLIENT);
    expect(served.every((r) => r.status === 200)).toBe(true);
    expect(Math.max(...served.map((r) => r.wait_ms ?? 0))).toBeGreaterThan(0); // requests did queue
  });
});

describe("a full queue and a disconnect", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelId: "space-tiny", decoder: { decoder: "space" }, limits: { queue: 1 } });
  });
  afterAll(async () => server?.close());

  it("answers 429 with Retry-After when full; a disconnect frees the engine for the waiting request", async () => {
    const long = new AbortController();
    const stream = await server.client.completions.create(
      { model: "space-tiny", prompt: "interface ArrayConstructor {\n", max_tokens: 230, temperature: 0, stream: true },
      { signal: long.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the long request is running

    const waiting = streamOne(server.client, REQUESTS[0]);
    for (let i = 0; i < 200 && server.handle.queued < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.handle.queued).toBe(1);

    const full = await server.client.completions.create({ model: "space-tiny", prompt: "x", max_tokens: 1 }).catch((e) => e);
    expect(full).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    long.abort(); // the client hangs up mid-stream
    const gone = await server.waitRecord((r) => r.stop_reason === "disconnected");
    expect(gone.steps_after_abort).toBeLessThanOrEqual(1);
    expect(gone.completion_tokens).toBeLessThan(230);
    const next = await waiting;
    expect(next.text).toBe(refs[0].text);
    const served = await server.waitRecord((r) => r.status === 200);
    expect(served.wait_ms).toBeGreaterThan(0);
  });
});

describe("fairness", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ modelId: "space-tiny", limits: { queue: 8 } });
  });
  afterAll(async () => server?.close());

  it("serves users in turn: one user's burst does not delay another's request behind all of it", async () => {
    const long = new AbortController();
    const stream = await server.client.completions.create(
      { model: "space-tiny", prompt: "interface ArrayConstructor {\n", max_tokens: 230, temperature: 0, stream: true, user: "first" },
      { signal: long.signal },
    );
    await stream[Symbol.asyncIterator]().next(); // running: everything below waits behind it
    const send = (user: string, n: number) => server.client.completions.create({ model: "space-tiny", prompt: `interface I${n} {`, max_tokens: 2, temperature: 0, user }).then(() => `${user}${n}`);
    const done: string[] = [];
    const all = [send("a", 1), send("a", 2), send("a", 3)].map((p) => p.then((id) => done.push(id)));
    for (let i = 0; i < 200 && server.handle.queued < 3; i++) await new Promise((r) => setTimeout(r, 5));
    all.push(send("b", 1).then((id) => done.push(id)));
    for (let i = 0; i < 200 && server.handle.queued < 4; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.handle.queued).toBe(4);
    long.abort();
    await Promise.all(all);
    expect(done).toEqual(["a1", "b1", "a2", "a3"]);
  });
});

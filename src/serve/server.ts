/**
 * `space serve`: an OpenAI-compatible HTTP server (node:http only) in front of one model.
 *
 *   GET  /v1/models                 the one model
 *   POST /v1/completions            prompt -> text
 *   POST /v1/chat/completions       messages -> the chat template -> text
 *   "stream": true                  server-sent events, one chunk per piece of text, then [DONE]
 *
 * One request runs at a time; the others wait in a bounded fair queue (429 with Retry-After when it is
 * full). A client that disconnects, or a request past its timeout, aborts its generation: the engine
 * stops before its next step. Every rejection uses OpenAI's error shape.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, randomInt } from "node:crypto";
import { SpaceError } from "../errors.js";
import type { StopReason } from "../decode/generate.js";
import { ApiError, completionResponse, errorBody, finishReason, parseRequest, streamChunk, usage, type ParsedRequest, type ResponseHead } from "./openai.js";
import { FairQueue } from "./queue.js";
import type { Runner } from "./runner.js";

export interface ServeLimits {
  /** Requests waiting beyond the one running; more get 429. */
  readonly queue: number;
  /** Largest request body in bytes (413 past it). */
  readonly maxBodyBytes: number;
  /** Largest max_tokens a request may ask for (and chat's default when it fits). */
  readonly maxTokens: number;
  /** From arrival to the last byte, queueing included; then the generation is aborted. */
  readonly timeoutMs: number;
}

export const DEFAULT_LIMITS: ServeLimits = { queue: 16, maxBodyBytes: 1 << 20, maxTokens: 4096, timeoutMs: 300_000 };

/** One line per finished request (the CLI prints these to stderr as JSON). */
export interface RequestRecord {
  readonly id: string;
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly stop_reason?: StopReason | "timeout" | "disconnected" | "shutdown";
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly cached_tokens?: number;
  /** Milliseconds the request waited in the queue. */
  readonly wait_ms?: number;
  /** Steps the engine ran after the request was aborted (disconnect, timeout): at most 1. */
  readonly steps_after_abort?: number;
  /** Milliseconds from the abort to the engine's stop. */
  readonly abort_ms?: number;
  readonly error?: string;
}

export interface ServeOptions {
  readonly runner: Runner;
  /** The id /v1/models lists and requests must name. */
  readonly modelId: string;
  readonly host?: string; // default 127.0.0.1 (loopback)
  readonly port?: number; // default 8080; 0 = any free port
  readonly limits?: Partial<ServeLimits>;
  readonly onRecord?: (r: RequestRecord) => void;
}

export interface ServeHandle {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Requests waiting in the queue now (not counting the running one). */
  readonly queued: number;
  /** Whether a request is being generated now. */
  readonly busy: boolean;
  /**
   * Graceful shutdown: stop accepting, answer waiting requests 503, let the running one finish for up
   * to `graceMs` and then abort it; resolves when nothing runs. The caller then closes the engine.
   */
  close(graceMs?: number): Promise<void>;
}

/** Why a request's generation was aborted. */
type AbortWhy = "disconnected" | "timeout" | "shutdown";

interface Job {
  readonly key: string;
  start(): Promise<void>;
  abort(why: AbortWhy): void;
  /** Answers a job that never started (shutdown, timeout while waiting). */
  refuse(e: ApiError): void;
}

export async function startServer(opts: ServeOptions): Promise<ServeHandle> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { runner, modelId } = opts;
  const created = Math.floor(Date.now() / 1000);
  const queue = new FairQueue<Job>(limits.queue);
  let running: Job | null = null;
  let idle: Promise<void> = Promise.resolve();
  let closing = false;
  let serviceMs = 1000; // a running average of request service time, for Retry-After

  const server: Server = createServer((req, res) => void handle(req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000; // receiving the request (slow senders), not answering it: limits.timeoutMs does that
  // Malformed HTTP, oversized headers, a request too slow to arrive: Node's parser refuses them before
  // any handler runs; answer those in OpenAI's error shape too.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return void socket.destroy();
    const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify(errorBody(new ApiError(status, `malformed or incomplete HTTP request (${err.code ?? err.message})`)));
    socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  /** Serves waiting jobs one at a time until the queue is empty. */
  function pump(): void {
    if (running || closing) return;
    const job = queue.shift();
    if (!job) return;
    running = job;
    idle = (async () => {
      const t0 = Date.now();
      try {
        await job.start();
      } catch (e) {
        job.refuse(toApiError(e)); // start answers its own errors; this is the last resort
      } finally {
        serviceMs = 0.8 * serviceMs + 0.2 * (Date.now() - t0);
        running = null;
      }
      pump();
    })();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = Date.now();
    const id = randomBytes(12).toString("hex");
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const record = (r: Omit<RequestRecord, "id" | "path" | "ms">) => opts.onRecord?.({ id, path, ms: Date.now() - t0, ...r });
    const reject = (e: ApiError) => {
      if (!res.headersSent) {
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (e.status === 429) headers["Retry-After"] = String(Math.max(1, Math.ceil((serviceMs * (queue.length + 1)) / 1000)));
        res.writeHead(e.status, headers).end(JSON.stringify(errorBody(e)));
      } else res.end();
      record({ status: e.status, error: e.message });
    };
    try {
      if (path === "/v1/models" || path === `/v1/models/${modelId}`) {
        if (req.method !== "GET") throw new ApiError(405, `${req.method} is not allowed on ${path}: use GET`);
        const model = { id: modelId, object: "model", created, owned_by: "space" };
        res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(path === "/v1/models" ? { object: "list", data: [model] } : model));
        record({ status: 200 });
        return;
      }
      const kind = path === "/v1/completions" ? "completion" : path === "/v1/chat/completions" ? "chat" : null;
      if (kind === null) throw new ApiError(404, `no route ${req.method} ${path} (routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions)`, "invalid_request_error", "unknown_url");
      if (req.method !== "POST") throw new ApiError(405, `${req.method} is not allowed on ${path}: use POST`);
      if (closing) throw new ApiError(503, "the server is shutting down", "server_error", "shutting_down");
      const body = await readJson(req, limits.maxBodyBytes);
      const parsed = parseRequest(kind, body, modelId);
      const prompt = encode(parsed);
      const maxTokens = resolveMaxTokens(parsed, prompt.length);
      enqueue(req, res, parsed, prompt, maxTokens, id, record, reject);
    } catch (e) {
      reject(toApiError(e));
    }
  }

  function encode(p: ParsedRequest): number[] {
    const prompt = p.kind === "completion" ? runner.encodeText(p.prompt) : runner.encodeMessages(p.messages);
    if (prompt.length === 0) throw new ApiError(400, "the prompt is empty", "invalid_request_error", null, "prompt");
    return prompt;
  }

  /** OpenAI's rule: prompt + max_tokens must fit the context; without max_tokens chat takes what fits. */
  function resolveMaxTokens(p: ParsedRequest, promptTokens: number): number {
    const room = runner.contextTokens - promptTokens;
    if (p.maxTokens !== null && p.maxTokens > limits.maxTokens) {
      throw new ApiError(400, `max_tokens is ${p.maxTokens}; this server allows at most ${limits.maxTokens}`, "invalid_request_error", null, "max_tokens");
    }
    if (room < 1 || (p.maxTokens !== null && p.maxTokens > room)) {
      throw new ApiError(
        400,
        `This model's context is ${runner.contextTokens} tokens; the request has ${promptTokens} prompt tokens` +
          (p.maxTokens !== null ? ` and asks for ${p.maxTokens} more` : ", leaving no room for output"),
        "invalid_request_error",
        "context_length_exceeded",
        p.kind === "completion" ? "prompt" : "messages",
      );
    }
    return p.maxTokens ?? Math.min(room, limits.maxTokens);
  }

  function enqueue(
    req: IncomingMessage,
    res: ServerResponse,
    p: ParsedRequest,
    prompt: number[],
    maxTokens: number,
    id: string,
    record: (r: Omit<RequestRecord, "id" | "path" | "ms">) => void,
    reject: (e: ApiError) => void,
  ): void {
    const controller = new AbortController();
    let why: AbortWhy | null = null;
    const abort = (w: AbortWhy) => {
      if (why !== null) return;
      why = w;
      controller.abort(w);
    };
    const timer = setTimeout(() => abort("timeout"), limits.timeoutMs);
    const key = p.user ?? req.socket.remoteAddress ?? "";
    const head: ResponseHead = { id: (p.kind === "chat" ? "chatcmpl-" : "cmpl-") + id, created: Math.floor(Date.now() / 1000), model: modelId };
    const job: Job = {
      key,
      abort,
      refuse: (e) => {
        clearTimeout(timer);
        reject(e);
      },
      start: async () => {
        const waitMs = Date.now() - enqueuedAt;
        if (controller.signal.aborted) return; // left while it waited (already answered)
        const seed = p.seed ?? randomInt(0, 2 ** 32);
        const sse = (o: unknown) => void (res.writableEnded || res.destroyed || res.write(`data: ${JSON.stringify(o)}\n\n`));
        if (p.stream) {
          res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
          if (p.kind === "chat") sse(streamChunk(head, p.kind, { role: true }));
        }
        try {
          const r = await runner.run({
            prompt,
            maxTokens,
            sampling: p.sampling,
            seed,
            stop: p.stop,
            signal: controller.signal,
            onText: p.stream ? (text) => void sse(streamChunk(head, p.kind, { text })) : undefined,
          });
          const aborted = why;
          const fields = {
            prompt_tokens: prompt.length,
            completion_tokens: r.tokens.length,
            cached_tokens: r.cachedTokens,
            wait_ms: waitMs,
            ...(r.abortMs !== null ? { steps_after_abort: r.stepsAfterAbort, abort_ms: r.abortMs } : {}),
          };
          if (aborted !== null) {
            answerAborted(aborted);
            record({ status: aborted === "disconnected" ? 499 : aborted === "timeout" ? 504 : 503, stop_reason: aborted, ...fields });
            return;
          }
          const u = usage({ promptTokens: prompt.length, completionTokens: r.tokens.length, cachedTokens: r.cachedTokens, decoder: runner.decoderName, seed, stopReason: r.stopReason, stats: r.stats });
          const finish = finishReason(r.stopReason);
          if (p.stream) {
            sse(streamChunk(head, p.kind, { finish }));
            if (p.includeUsage) sse(streamChunk(head, p.kind, { usage: u }));
            res.end("data: [DONE]\n\n");
          } else {
            res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(completionResponse(head, p.kind, r.text, finish, u)));
          }
          record({ status: 200, stop_reason: r.stopReason, ...fields });
        } catch (e) {
          if (why !== null) {
            answerAborted(why);
            record({ status: 499, stop_reason: why });
          } else {
            const err = toApiError(e);
            if (p.stream && res.headersSent) res.end(`data: ${JSON.stringify(errorBody(err))}\n\n`);
            else reject(err);
            record({ status: err.status, error: err.message });
          }
        } finally {
          clearTimeout(timer);
        }
      },
    };

    /** Answers a request whose generation was cut short (nothing to answer when the client left). */
    function answerAborted(w: AbortWhy): void {
      if (w === "disconnected") return void res.destroy();
      const err = w === "timeout" ? new ApiError(504, `the request took longer than the server's ${limits.timeoutMs} ms timeout`, "timeout_error", "timeout") : new ApiError(503, "the server shut down before the request finished", "server_error", "shutting_down");
      if (res.headersSent) res.end(`data: ${JSON.stringify(errorBody(err))}\n\n`);
      else res.writeHead(err.status, { "Content-Type": "application/json" }).end(JSON.stringify(errorBody(err)));
    }

    // A client that hangs up before its answer is complete aborts its generation, or leaves the queue.
    res.on("close", () => {
      if (res.writableFinished) return;
      abort("disconnected");
      if (queue.remove(key, job)) {
        clearTimeout(timer);
        record({ status: 499, stop_reason: "disconnected" });
      }
    });
    controller.signal.addEventListener("abort", () => {
      if (why === "timeout" && queue.remove(key, job)) job.refuse(new ApiError(504, `the request waited longer than the server's ${limits.timeoutMs} ms timeout`, "timeout_error", "timeout"));
    });

    const enqueuedAt = Date.now();
    if (!queue.push(key, job)) {
      clearTimeout(timer);
      reject(new ApiError(429, `the server is busy: ${queue.length} requests are waiting (the queue holds ${limits.queue}); retry later`, "rate_limit_error", "rate_limit_exceeded"));
      return;
    }
    pump();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8080, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    get queued() {
      return queue.length;
    },
    get busy() {
      return running !== null;
    },
    async close(graceMs = 10_000) {
      if (closing) return idle;
      closing = true;
      server.close();
      for (const job of queue.drain()) job.refuse(new ApiError(503, "the server is shutting down", "server_error", "shutting_down"));
      const current = running as Job | null;
      if (current) {
        const timer = setTimeout(() => current.abort("shutdown"), graceMs);
        await idle;
        clearTimeout(timer);
      }
      await idle;
      server.closeAllConnections();
    },
  };
}

/** Reads a JSON body of at most `limit` bytes. */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new ApiError(413, `the request body is ${declared} bytes; the limit is ${limit}`, "invalid_request_error", "request_too_large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `the request body exceeds the limit of ${limit} bytes`, "invalid_request_error", "request_too_large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new ApiError(400, "the request body is empty: send a JSON object");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof SpaceError) {
    const status = e.code === "E_STATE" || e.code === "E_WASM" || e.code === "E_IO" ? 500 : 400;
    return new ApiError(status, `${e.code}: ${e.message}`, status === 500 ? "server_error" : "invalid_request_error", e.code === "E_CONTEXT" ? "context_length_exceeded" : null);
  }
  return new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, "server_error");
}

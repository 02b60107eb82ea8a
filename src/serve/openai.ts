/**
 * The OpenAI wire format, as pure functions: request bodies of /v1/completions and /v1/chat/completions
 * checked and turned into a generation request, and the response, stream-chunk and error objects.
 *
 * Parameters take OpenAI's names and defaults: temperature 1, top_p 1, no seed (a random one, reported
 * back in usage.space.seed), max_tokens 16 for completions and "as many as fit" for chat, up to 4 stop
 * strings. Parameters we know but cannot honour (n > 1, logprobs, penalties, tools, ...) are refused with
 * their name unless they carry OpenAI's default; an unknown parameter is refused as OpenAI does
 * ("Unrecognized request argument supplied: x"). `top_k` is our one extension (0 = off, as --top-k).
 */
import type { ChatMessage } from "../tokenizer/chat.js";
import type { GenerateStats, StopReason } from "../decode/generate.js";
import type { SamplingParams } from "../decode/sampling.js";

/** A rejection in OpenAI's error shape: {"error": {"message", "type", "param", "code"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function errorBody(e: ApiError): { error: { message: string; type: string; param: string | null; code: string | null } } {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

export interface GenerationParams {
  readonly stream: boolean;
  /** stream_options.include_usage: a last chunk with `usage` and no choices. */
  readonly includeUsage: boolean;
  /** null: as many as fit the context (chat's default). */
  readonly maxTokens: number | null;
  readonly sampling: SamplingParams;
  /** null: draw one (OpenAI's runs without a seed are not reproducible either). */
  readonly seed: number | null;
  readonly stop: readonly string[];
  /** Who the request is for: the fair queue serves each user in turn. */
  readonly user: string | null;
}

export type ParsedRequest =
  | (GenerationParams & { readonly kind: "completion"; readonly prompt: string })
  | (GenerationParams & { readonly kind: "chat"; readonly messages: readonly ChatMessage[] });

/** OpenAI's max_tokens default for /v1/completions. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;
const MAX_STOPS = 4;

type Body = Record<string, unknown>;

const bad = (message: string, param: string | null = null) => new ApiError(400, message, "invalid_request_error", null, param);

/** Fields that may appear only with these default values. */
const DEFAULT_ONLY: Record<string, readonly unknown[]> = {
  n: [1],
  best_of: [1],
  echo: [false],
  logprobs: [null, false],
  top_logprobs: [null, 0],
  presence_penalty: [0],
  frequency_penalty: [0],
  suffix: [null, ""],
  parallel_tool_calls: [true, false],
  tool_choice: ["none"],
};

const COMMON_FIELDS = ["model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options", "user"];
const COMPLETION_FIELDS = new Set([...COMMON_FIELDS, "prompt", "n", "best_of", "echo", "logprobs", "presence_penalty", "frequency_penalty", "suffix", "logit_bias"]);
const CHAT_FIELDS = new Set([
  ...COMMON_FIELDS,
  "messages",
  "max_completion_tokens",
  "n",
  "logprobs",
  "top_logprobs",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "response_format",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
]);

export function parseRequest(kind: "completion" | "chat", body: unknown, modelId: string): ParsedRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("the request body must be a JSON object");
  const b = body as Body;
  const allowed = kind === "completion" ? COMPLETION_FIELDS : CHAT_FIELDS;
  for (const key of Object.keys(b)) {
    if (!allowed.has(key)) throw bad(`Unrecognized request argument supplied: ${key}`, key);
    const defaults = DEFAULT_ONLY[key];
    if (defaults && b[key] !== undefined && !defaults.includes(b[key])) throw bad(`${key} = ${JSON.stringify(b[key])} is not supported by this server (only ${defaults.map((d) => JSON.stringify(d)).join(" or ")})`, key);
  }
  checkEmpty(b, "logit_bias", (v) => typeof v === "object" && Object.keys(v as object).length === 0);
  checkEmpty(b, "tools", (v) => Array.isArray(v) && v.length === 0);
  checkEmpty(b, "response_format", (v) => typeof v === "object" && (v as Body).type === "text");

  if (b.model === undefined) throw bad("you must provide a model parameter", "model");
  if (b.model !== modelId) throw new ApiError(404, `The model ${JSON.stringify(b.model)} does not exist: this server serves ${JSON.stringify(modelId)}`, "invalid_request_error", "model_not_found", "model");

  const stream = optional(b, "stream", "boolean") ?? false;
  const streamOptions = b.stream_options;
  let includeUsage = false;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!stream) throw bad("stream_options is only allowed when stream is true", "stream_options");
    if (typeof streamOptions !== "object" || Array.isArray(streamOptions)) throw bad("stream_options must be an object", "stream_options");
    for (const key of Object.keys(streamOptions)) if (key !== "include_usage") throw bad(`Unrecognized stream_options field: ${key}`, "stream_options");
    includeUsage = optional(streamOptions as Body, "include_usage", "boolean", "stream_options.include_usage") ?? false;
  }

  if (kind === "chat" && b.max_tokens !== undefined && b.max_tokens !== null && b.max_completion_tokens !== undefined && b.max_completion_tokens !== null) {
    throw bad("give max_tokens or max_completion_tokens, not both", "max_completion_tokens");
  }
  const maxName = kind === "chat" && b.max_completion_tokens !== undefined && b.max_completion_tokens !== null ? "max_completion_tokens" : "max_tokens";
  const maxTokens = integer(b, maxName, 0, 2 ** 31 - 1) ?? (kind === "completion" ? COMPLETION_DEFAULT_MAX_TOKENS : null);
  const temperature = number(b, "temperature", 0, 2) ?? 1;
  const topP = number(b, "top_p", 0, 1) ?? 1;
  if (topP === 0) throw bad("top_p must be greater than 0", "top_p");
  const topK = integer(b, "top_k", 0, 2 ** 31 - 1) ?? 0;
  const seed = integer(b, "seed", 0, 0xffffffff);
  const params: GenerationParams = {
    stream,
    includeUsage,
    maxTokens,
    sampling: { temperature, topP, topK },
    seed,
    stop: stops(b.stop),
    user: optional(b, "user", "string") ?? null,
  };
  if (kind === "completion") return { ...params, kind, prompt: prompt(b.prompt) };
  return { ...params, kind, messages: messages(b.messages) };
}

function checkEmpty(b: Body, key: string, isDefault: (v: unknown) => boolean): void {
  const v = b[key];
  if (v !== undefined && v !== null && !isDefault(v)) throw bad(`${key} is not supported by this server`, key);
}

function optional<T extends "boolean" | "string">(b: Body, key: string, type: T, name = key): (T extends "boolean" ? boolean : string) | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type) throw bad(`${name} must be a ${type}, got ${JSON.stringify(v)}`, name);
  return v as T extends "boolean" ? boolean : string;
}

function number(b: Body, key: string, min: number, max: number): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw bad(`${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`, key);
  return v;
}

function integer(b: Body, key: string, min: number, max: number): number | null {
  const v = number(b, key, min, max);
  if (v === undefined) return null;
  if (!Number.isInteger(v)) throw bad(`${key} must be an integer, got ${v}`, key);
  return v;
}

function stops(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) throw bad("stop must be a string or an array of strings", "stop");
  if (list.length > MAX_STOPS) throw bad(`stop takes at most ${MAX_STOPS} strings, got ${list.length}`, "stop");
  if (list.some((s) => s === "")) throw bad("stop strings must not be empty", "stop");
  return list;
}

function prompt(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === "string") return v[0];
  if (v === undefined) throw bad("you must provide a prompt", "prompt");
  throw bad("prompt must be one string (batches and token arrays are not supported)", "prompt");
}

/** OpenAI's roles mapped onto the chat template's; "developer" is the newer name of "system". */
const ROLE: Record<string, ChatMessage["role"]> = { system: "system", developer: "system", user: "user", assistant: "assistant" };

function messages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad("messages must be a non-empty array", "messages");
  return v.map((m, i) => {
    const where = `messages[${i}]`;
    if (typeof m !== "object" || m === null) throw bad(`${where} must be an object`, where);
    const { role, content } = m as Body;
    if (typeof role !== "string" || !(role in ROLE)) throw bad(`${where}.role must be one of ${Object.keys(ROLE).join(", ")}, got ${JSON.stringify(role)}`, `${where}.role`);
    return { role: ROLE[role], content: contentText(content, where) };
  });
}

/** A message's content: a string, or an array of text parts (joined as they come). */
function contentText(v: unknown, where: string): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v
      .map((p, j) => {
        if (typeof p === "object" && p !== null && (p as Body).type === "text" && typeof (p as Body).text === "string") return (p as Body).text as string;
        throw bad(`${where}.content[${j}] must be a text part ({"type": "text", "text": ...}); other parts are not supported`, `${where}.content`);
      })
      .join("");
  }
  throw bad(`${where}.content must be a string or an array of text parts`, `${where}.content`);
}

// ---- responses ----

export type FinishReason = "stop" | "length";

/** eos and stop strings end a completion as OpenAI's "stop"; running out of tokens or context as "length". */
export function finishReason(r: StopReason): FinishReason {
  return r === "max_tokens" || r === "context" ? "length" : "stop";
}

export interface UsageInput {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly decoder: string;
  readonly seed: number;
  readonly stopReason: StopReason;
  readonly stats: GenerateStats;
}

/** OpenAI's usage, plus our figures under `space` (tau = tokens_per_forward). */
export function usage(u: UsageInput) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    space: {
      decoder: u.decoder,
      tokens_per_forward: u.stats.tokens_per_forward,
      forward_passes: u.stats.forward_passes,
      prefill_passes: u.stats.prefill_passes,
      prefill_ms: u.stats.prefill_ms,
      decode_ms: u.stats.decode_ms,
      tokens_per_second: u.stats.tokens_per_second,
      seed: u.seed,
      stop_reason: u.stopReason,
    },
  };
}

export interface ResponseHead {
  readonly id: string;
  readonly created: number; // seconds since the epoch
  readonly model: string;
}

export function completionResponse(h: ResponseHead, kind: "completion" | "chat", text: string, finish: FinishReason, u: ReturnType<typeof usage>) {
  if (kind === "completion") {
    return { id: h.id, object: "text_completion", created: h.created, model: h.model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], usage: u };
  }
  return {
    id: h.id,
    object: "chat.completion",
    created: h.created,
    model: h.model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: finish }],
    usage: u,
  };
}

/** One streamed chunk: a piece of text (or, for chat, the opening role), the finish reason, or usage alone. */
export function streamChunk(
  h: ResponseHead,
  kind: "completion" | "chat",
  piece: { text?: string; role?: boolean; finish?: FinishReason; usage?: ReturnType<typeof usage> },
) {
  const finish = piece.finish ?? null;
  const choices =
    piece.usage !== undefined
      ? []
      : kind === "completion"
        ? [{ index: 0, text: piece.text ?? "", logprobs: null, finish_reason: finish }]
        : [{ index: 0, delta: piece.role ? { role: "assistant", content: "" } : piece.text !== undefined ? { content: piece.text } : {}, logprobs: null, finish_reason: finish }];
  return {
    id: h.id,
    object: kind === "completion" ? "text_completion" : "chat.completion.chunk",
    created: h.created,
    model: h.model,
    choices,
    ...(piece.usage !== undefined ? { usage: piece.usage } : {}),
  };
}

/**
 * `space serve`: loads the model through the public API as `space generate` does (the same option
 * names and checks, so a greedy request gives the CLI's output), then serves it over HTTP (src/serve/) until
 * SIGTERM or SIGINT: then it stops accepting, lets the running request finish (up to --grace seconds),
 * closes the engine and exits 0. One JSON line per request goes to stderr.
 */
import { basename } from "node:path";
import { fail } from "../errors.js";
import { embeddedModelPath, loadModelFile, type DecoderKind, type LayoutChoice, type Model, type SimdChoice, type WeightStorage } from "../api/node.js";
import { readAdapterFile } from "../node/adapter.js";
import { readNgramStore } from "../node/distilled.js";
import { usage, type OptionSpec, type Parsed } from "../util/args.js";
import { Runner } from "../serve/runner.js";
import { DEFAULT_LIMITS, startServer } from "../serve/server.js";
import { untilSignal } from "./stdio.js";

/** The server's context when --ctx is not given: the model's, up to this (the KV cache is allocated whole). */
const DEFAULT_SERVE_CTX = 4096;

/** `load` and `decoding`: generate's loading and decoder options (--json aside), so both read alike. */
export function serveOptions(load: Record<string, OptionSpec>, decoding: Record<string, OptionSpec>): Record<string, OptionSpec> {
  const { json: _json, ...loadOnly } = load;
  return {
    ...loadOnly,
    ...decoding,
    host: { kind: "string", help: "address to listen on (default 127.0.0.1: loopback only)" },
    port: { kind: "int", min: 0, max: 65535, help: "port (default 8080; 0 = any free port, printed at start)" },
    ctx: { kind: "int", min: 1, max: 1 << 20, help: `context per request: prompt + max_tokens (default: the model's, at most ${DEFAULT_SERVE_CTX})` },
    queue: { kind: "int", min: 0, max: 1 << 16, help: `requests that may wait behind the running one; more get 429 (default ${DEFAULT_LIMITS.queue})` },
    "max-body": { kind: "int", min: 1, max: 1 << 30, help: `largest request body in bytes (default ${DEFAULT_LIMITS.maxBodyBytes})` },
    "max-tokens": { kind: "int", min: 1, max: 1 << 20, help: "largest max_tokens a request may ask for (default: the context)" },
    timeout: { kind: "number", min: 0.001, max: 86_400, help: `seconds from a request's arrival to its last byte, queueing included (default ${DEFAULT_LIMITS.timeoutMs / 1000})` },
    grace: { kind: "number", min: 0, max: 3600, help: "on SIGTERM, seconds the running request may take to finish before it is aborted (default 10)" },
    "no-prefix-cache": { kind: "flag", help: "run every prompt whole (default: reuse the KV rows of the previous request's shared prefix)" },
    help: { kind: "flag", help: "print this help" },
  };
}

export const SERVE_SUMMARY =
  "space serve [options]    an OpenAI-compatible server: GET /v1/models, POST /v1/completions, POST /v1/chat/completions (stream: server-sent events)";

export async function runServe(o: Parsed, specs: Record<string, OptionSpec>): Promise<number> {
  if (o.help) {
    process.stdout.write(`${SERVE_SUMMARY}\n${usage(specs)}\n`);
    return 0;
  }
  const decoder = (o.decoder as DecoderKind | undefined) ?? "ar";
  if (o.adapter !== undefined && decoder !== "space") fail("E_ARGS", `--adapter applies to --decoder space, not ${decoder}`);
  if (o.store !== undefined && decoder !== "space") fail("E_ARGS", `--store applies to --decoder space, not ${decoder}`);
  const modelPath = (o.model as string | undefined) ?? embeddedModelPath();
  const load = (path: string) =>
    loadModelFile(path, {
      simd: (o.simd as SimdChoice | undefined) ?? "auto",
      threads: (o.threads as number | undefined) ?? 1,
      weights: (o.weights as WeightStorage | undefined) ?? "native",
    });
  const model = await load(modelPath);
  let draft: Model | undefined;
  try {
    if (o["draft-model"] !== undefined) draft = await load(o["draft-model"] as string);
    const modelCtx = model.info.config.contextLength;
    const ctx = (o.ctx as number | undefined) ?? Math.min(modelCtx, DEFAULT_SERVE_CTX);
    if (ctx > modelCtx) fail("E_ARGS", `--ctx ${ctx} exceeds the model's context of ${modelCtx}`);
    const maxTokens = (o["max-tokens"] as number | undefined) ?? ctx;
    const adapter = o.adapter !== undefined ? readAdapterFile(model.engine, modelPath, o.adapter as string) : undefined;
    const store = o.store !== undefined ? readNgramStore(o.store as string, model.info.config.vocabSize) : undefined;
    const runner = new Runner(
      model,
      {
        decoder,
        k: o.k as number | undefined,
        maskToken: o["mask-token"] as number | undefined,
        layout: o.layout as LayoutChoice | undefined,
        draftLayers: o["draft-layers"] as number | undefined,
        draftModel: draft,
        adapter,
        store,
      },
      ctx,
      !o["no-prefix-cache"],
    );
    try {
      const modelId = basename(modelPath).replace(/\.gguf$/i, "");
      const host = (o.host as string | undefined) ?? "127.0.0.1";
      const port = (o.port as number | undefined) ?? 8080;
      let handle;
      try {
        handle = await startServer({
          runner,
          modelId,
          host,
          port,
          limits: {
            maxTokens,
            ...(o.queue !== undefined ? { queue: o.queue as number } : {}),
            ...(o["max-body"] !== undefined ? { maxBodyBytes: o["max-body"] as number } : {}),
            ...(o.timeout !== undefined ? { timeoutMs: Math.round((o.timeout as number) * 1000) } : {}),
          },
          onRecord: (r) => process.stderr.write(JSON.stringify(r) + "\n"),
        });
      } catch (e) {
        fail("E_IO", `cannot listen on ${host}:${port}: ${(e as Error).message}`);
      }
      process.stdout.write(`space serve: ${modelId} (decoder ${runner.decoderName}, context ${ctx}) on ${handle.url}/v1\n`);
      if (!isLoopback(host)) process.stdout.write(`space serve: warning: ${host} is not a loopback address; there is no authentication: anyone who can reach it can use the model\n`);
      await untilSignal();
      process.stdout.write(`space serve: shutting down (${handle.busy ? 1 : 0} running, ${handle.queued} waiting)\n`);
      await handle.close(((o.grace as number | undefined) ?? 10) * 1000);
      return 0;
    } finally {
      runner.dispose();
    }
  } finally {
    draft?.dispose();
    model.dispose();
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
}


/** Test helpers for the server: one in-process server on 127.0.0.1 (ephemeral port), and the CLI's output for a request. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import OpenAI from "openai";
import { loadModelFile, type Model } from "../../src/api/node.js";
import { Runner, type RunnerDecoder } from "../../src/serve/runner.js";
import { startServer, type RequestRecord, type ServeHandle, type ServeLimits } from "../../src/serve/server.js";

export const BIN = join(__dirname, "..", "..", "bin", "space.mjs");

export interface TestServer {
  readonly handle: ServeHandle;
  readonly client: OpenAI;
  readonly records: RequestRecord[];
  readonly modelId: string;
  /** Resolves with the record of the next request that ends with `pred` true. */
  waitRecord(pred: (r: RequestRecord) => boolean, timeoutMs?: number): Promise<RequestRecord>;
  close(): Promise<void>;
}

export async function startTestServer(opts: {
  modelPath?: string;
  modelId?: string;
  decoder?: RunnerDecoder;
  contextTokens?: number;
  limits?: Partial<ServeLimits>;
  reusePrefix?: boolean;
}): Promise<TestServer> {
  const model: Model = await loadModelFile(opts.modelPath, { simd: "auto" });
  const runner = new Runner(model, opts.decoder ?? {}, opts.contextTokens ?? model.info.config.contextLength, opts.reusePrefix ?? true);
  const records: RequestRecord[] = [];
  const waiters: { pred: (r: RequestRecord) => boolean; resolve: (r: RequestRecord) => void }[] = [];
  const modelId = opts.modelId ?? "test-model";
  const handle = await startServer({
    runner,
    modelId,
    host: "127.0.0.1",
    port: 0,
    limits: opts.limits,
    onRecord: (r) => {
      records.push(r);
      for (const w of [...waiters]) if (w.pred(r)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(r));
    },
  });
  const client = new OpenAI({ baseURL: `${handle.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 30_000 });
  return {
    handle,
    client,
    records,
    modelId,
    waitRecord(pred, timeoutMs = 10_000) {
      const done = records.find(pred);
      if (done) return Promise.resolve(done);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no such request record within " + timeoutMs + " ms")), timeoutMs);
        waiters.push({ pred, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    async close() {
      await handle.close(1000);
      runner.dispose();
      model.dispose();
    },
  };
}

export interface CliResult {
  text: string;
  tokens: number[];
  stop_reason: string;
}

/** `space generate ... --json`, as a user would run it. */
export function cliGenerate(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, "generate", ...args, "--json"], { timeout: 60_000, encoding: "utf8" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`space generate ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as CliResult);
    });
  });
}

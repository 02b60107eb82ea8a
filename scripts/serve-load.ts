/**
 * `npm run bench:serve`: a load run against `space serve` on loopback (not a test; speed is never
 * asserted). It starts the server as its own process (so clients and engine do not share an event
 * loop), sends --requests streaming requests from --concurrency clients, and prints requests,
 * concurrency, errors, time to first token and total latency (p50/p95/p99, ms) and tokens/s.
 *
 *   npx tsx scripts/serve-load.ts [--requests 64] [--concurrency 8] [--max-tokens 48] [--chat]
 *                                 [--json FILE] [-- SERVER OPTIONS...]
 *   npm run bench:serve -- --requests 64 --concurrency 8 -- --decoder space
 *   npm run bench:serve -- --chat -- --model ~/.cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf --threads 2
 *
 * Greedy requests, prompts in turn from a fixed list (TypeScript declarations for the embedded model;
 * short questions with --chat). TTFT: from sending the request to the first text chunk, queueing
 * included. Tokens/s: completion tokens of all requests / wall time of the run.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";

const PROMPTS = [
  "interface ArrayConstructor {\n",
  "interface PromiseLike<T> {\n",
  "declare var Math: Math;\n",
  "interface Map<K, V> {\n    ",
  "type Partial<T> = {\n",
  "interface String {\n",
  "interface Date {\n    toString(): string;\n",
  "interface RegExp {\n",
];
const QUESTIONS = [
  "What is the capital of France?",
  "Write a haiku about the sea.",
  "Explain recursion in one sentence.",
  "Name three primary colours.",
  "What does HTTP stand for?",
  "Give me a synonym for happy.",
  "How many legs does a spider have?",
  "What is 12 times 12?",
];

interface Args {
  requests: number;
  concurrency: number;
  maxTokens: number;
  chat: boolean;
  json?: string;
  server: string[];
}

function parse(argv: string[]): Args {
  const a: Args = { requests: 64, concurrency: 8, maxTokens: 48, chat: false, server: [] };
  const sep = argv.indexOf("--");
  if (sep >= 0) a.server = argv.slice(sep + 1);
  const own = sep >= 0 ? argv.slice(0, sep) : argv;
  for (let i = 0; i < own.length; i++) {
    const int = (name: string) => {
      const v = Number(own[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${own[i]}`);
      return v;
    };
    switch (own[i]) {
      case "--requests": a.requests = int("--requests"); break;
      case "--concurrency": a.concurrency = int("--concurrency"); break;
      case "--max-tokens": a.maxTokens = int("--max-tokens"); break;
      case "--chat": a.chat = true; break;
      case "--json": a.json = own[++i]; break;
      default: throw new Error(`unknown option ${own[i]} (server options go after --)`);
    }
  }
  return a;
}

interface Sample {
  ok: boolean;
  ttftMs: number;
  totalMs: number;
  tokens: number;
  tau: number;
  error?: string;
}

/** One streaming request; parses the server-sent events as they arrive. */
async function one(base: string, model: string, a: Args, i: number): Promise<Sample> {
  const t0 = performance.now();
  const body = a.chat
    ? { model, messages: [{ role: "user", content: QUESTIONS[i % QUESTIONS.length] }], max_tokens: a.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }
    : { model, prompt: PROMPTS[i % PROMPTS.length], max_tokens: a.maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } };
  try {
    const res = await fetch(`${base}/${a.chat ? "chat/completions" : "completions"}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 200) return { ok: false, ttftMs: NaN, totalMs: performance.now() - t0, tokens: 0, tau: 0, error: `${res.status} ${await res.text()}` };
    let ttft = NaN;
    let tokens = 0;
    let tau = 0;
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(bytes, { stream: true });
      let cut: number;
      while ((cut = buffered.indexOf("\n\n")) >= 0) {
        const event = buffered.slice(0, cut);
        buffered = buffered.slice(cut + 2);
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const text = chunk.choices?.[0]?.text ?? chunk.choices?.[0]?.delta?.content;
        if (text && Number.isNaN(ttft)) ttft = performance.now() - t0;
        if (chunk.usage) {
          tokens = chunk.usage.completion_tokens;
          tau = chunk.usage.space.tokens_per_forward;
        }
      }
    }
    return { ok: true, ttftMs: ttft, totalMs: performance.now() - t0, tokens, tau };
  } catch (e) {
    return { ok: false, ttftMs: NaN, totalMs: performance.now() - t0, tokens: 0, tau: 0, error: (e as Error).message };
  }
}

/** Nearest-rank percentile of the finite values. */
function pct(values: number[], p: number): number {
  const v = values.filter(Number.isFinite).sort((x, y) => x - y);
  return v.length ? v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] : NaN;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const bin = join(import.meta.dirname, "..", "bin", "space.mjs");
  const server = spawn(process.execPath, [bin, "serve", "--port", "0", "--queue", String(Math.max(16, a.concurrency)), ...a.server], { stdio: ["ignore", "pipe", "ignore"] });
  try {
    const { base, model } = await new Promise<{ base: string; model: string }>((resolve, reject) => {
      server.on("exit", (code) => reject(new Error(`space serve exited with ${code} (run it alone to see why)`)));
      createInterface({ input: server.stdout! }).on("line", (line) => {
        process.stdout.write(line + "\n");
        const m = /^space serve: (\S+) .* on (http:\/\/\S+\/v1)$/.exec(line);
        if (m) resolve({ model: m[1], base: m[2] });
      });
    });
    await one(base, model, a, 0); // warm-up, not counted
    const samples: Sample[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: a.concurrency }, async () => {
        while (next < a.requests) samples.push(await one(base, model, a, next++));
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const ok = samples.filter((s) => s.ok);
    const tokens = ok.reduce((n, s) => n + s.tokens, 0);
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
    const report = {
      requests: samples.length,
      concurrency: a.concurrency,
      errors: samples.length - ok.length,
      max_tokens: a.maxTokens,
      endpoint: a.chat ? "chat/completions" : "completions",
      server_args: a.server,
      ttft_ms: { p50: pct(ok.map((s) => s.ttftMs), 50), p95: pct(ok.map((s) => s.ttftMs), 95), p99: pct(ok.map((s) => s.ttftMs), 99) },
      latency_ms: { p50: pct(ok.map((s) => s.totalMs), 50), p95: pct(ok.map((s) => s.totalMs), 95), p99: pct(ok.map((s) => s.totalMs), 99) },
      completion_tokens: tokens,
      wall_s: wallS,
      tokens_per_second: tokens / wallS,
      mean_tau: ok.length ? ok.reduce((n, s) => n + s.tau, 0) / ok.length : 0,
    };
    process.stdout.write(
      `requests ${report.requests}  concurrency ${report.concurrency}  errors ${report.errors}  (${report.endpoint}, max_tokens ${a.maxTokens}, greedy, streamed)\n` +
        `TTFT ms     p50 ${f(report.ttft_ms.p50)}  p95 ${f(report.ttft_ms.p95)}  p99 ${f(report.ttft_ms.p99)}\n` +
        `latency ms  p50 ${f(report.latency_ms.p50)}  p95 ${f(report.latency_ms.p95)}  p99 ${f(report.latency_ms.p99)}\n` +
        `tokens/s    ${report.tokens_per_second.toFixed(1)}  (${tokens} completion tokens in ${wallS.toFixed(2)} s; mean tau ${report.mean_tau.toFixed(2)})\n`,
    );
    for (const s of samples.filter((x) => !x.ok).slice(0, 3)) process.stdout.write(`error: ${s.error}\n`);
    if (a.json) writeFileSync(a.json, JSON.stringify(report, null, 2) + "\n");
  } finally {
    server.kill("SIGTERM");
  }
}

main().catch((e) => {
  process.stderr.write(`serve-load: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

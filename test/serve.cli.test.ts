/**
 * `space serve` as a user runs it: --help, bad options, the listening line, a request answered as
 * `space generate` answers it, a request past its timeout (504), and SIGTERM: the running request still
 * completes, the process exits 0.
 */
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { BIN, cliGenerate, startTestServer } from "./helpers/serve.js";
import OpenAI from "openai";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { tinyModelBytes } from "./helpers/tiny-model.js";
import { engineFromBytes } from "./helpers/engine.js";
import { AdapterTrainer } from "../src/train/adapter.js";
import { drawAppended } from "../src/train/sar.js";
import { LORA_TARGETS, encodeAdapter } from "../src/model/adapter.js";

function serve(args: string[]) {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no listening line within 20 s: " + stderr)), 20_000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(line);
      if (m) (clearTimeout(timer), resolve(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stdout = "";
  child.stdout.on("data", (d) => (stdout += d));
  return { child, url, exit, stderr: () => stderr, stdout: () => stdout };
}

describe("space serve (the command)", () => {
  it("--help lists its options; a bad option is one line and exit 2", () => {
    const help = spawnSync(process.execPath, [BIN, "serve", "--help"], { encoding: "utf8", timeout: 20_000 });
    expect(help.status).toBe(0);
    for (const opt of ["--port", "--host", "--queue", "--max-body", "--max-tokens", "--timeout", "--decoder", "--adapter", "--store"]) expect(help.stdout).toContain(opt);
    const bad = spawnSync(process.execPath, [BIN, "serve", "--port", "70000"], { encoding: "utf8", timeout: 20_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/^space: E_ARGS: --port must be at most 65535/);
  });

  it("serves on loopback as space generate answers; SIGTERM lets the running request finish and exits 0", async () => {
    const s = serve(["--decoder", "space"]);
    try {
      const client = new OpenAI({ baseURL: await s.url, apiKey: "unused", maxRetries: 0 });
      const prompt = "interface ArrayConstructor {\n";
      const [r, cli] = await Promise.all([
        client.completions.create({ model: "space-tiny", prompt, max_tokens: 24, temperature: 0 }),
        cliGenerate(["--decoder", "space", "--prompt", prompt, "--max-tokens", "24"]),
      ]);
      expect(r.choices[0].text).toBe(cli.text);

      const stream = await client.completions.create({ model: "space-tiny", prompt, max_tokens: 200, temperature: 0, stream: true });
      const it = stream[Symbol.asyncIterator]();
      let text = ((await it.next()).value as OpenAI.Completion).choices[0].text;
      s.child.kill("SIGTERM"); // while the request runs
      for (let c = await it.next(); !c.done; c = await it.next()) text += c.value.choices[0]?.text ?? "";
      const full = await cliGenerate(["--decoder", "space", "--prompt", prompt, "--max-tokens", "200"]);
      expect(text).toBe(full.text);
      expect(await s.exit).toBe(0);
      expect(s.stdout()).toMatch(/shutting down \(1 running, 0 waiting\)/); // the signal came mid-request
      // One JSON record per request on stderr.
      const records = s.stderr().trim().split("\n").map((l) => JSON.parse(l));
      expect(records.map((x) => x.status)).toEqual([200, 200]);
    } finally {
      s.child.kill("SIGKILL");
    }
  });

  it("shutdown: waiting requests get 503; the running one is aborted after the grace period", async () => {
    const server = await startTestServer({ modelId: "space-tiny", limits: { queue: 4 } });
    const prompt = "interface ArrayConstructor {\n";
    const running = await server.client.completions.create({ model: "space-tiny", prompt, max_tokens: 230, temperature: 0, stream: true });
    const it = running[Symbol.asyncIterator]();
    await it.next();
    const waiting = server.client.completions.create({ model: "space-tiny", prompt, max_tokens: 4, temperature: 0 }).catch((e) => e);
    for (let i = 0; i < 200 && server.handle.queued < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.handle.queued).toBe(1);
    const closed = server.handle.close(0);
    const refused = await waiting;
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused.status).toBe(503);
    const rest = (async () => {
      for (let c = await it.next(); !c.done; c = await it.next());
    })().catch((e) => e);
    expect(await rest).toBeInstanceOf(OpenAI.APIError); // the stream ends with an error event, not [DONE]
    await closed;
    expect(server.handle.busy).toBe(false);
    const rec = await server.waitRecord((r) => r.stop_reason === "shutdown");
    expect(rec.completion_tokens).toBeLessThan(230);
    await server.close();
  });

  it("--adapter: SPACE with a base-preserving adapter gives AR's output; an adapter for another base is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-serve-adapter-"));
    try {
      const model = join(dir, "tiny.gguf");
      const bytes = tinyModelBytes({ seed: 9 });
      writeFileSync(model, bytes);
      writeFileSync(join(dir, "other.gguf"), tinyModelBytes({ seed: 10 }));
      const adapter = join(dir, "tiny-space.gguf");
      const e = await engineFromBytes(bytes);
      try {
        const t = new AdapterTrainer(e.core, e.arena, e.config, e.weights, { shape: { k: 3, rank: 2, targets: LORA_TARGETS, maskToken: 7 }, maxPrefix: 64, maxMask: 12, lr: 1e-2, totalSteps: 2 });
        const ex = { prompt: [10, 20, 30], response: Array.from({ length: 20 }, (_, i) => 40 + ((i * 7) % 30)) };
        for (let step = 0; step < 2; step++) t.step([drawAppended(ex, { k: 3, maskId: 7, groups: 4 }, t.rng)]);
        writeFileSync(adapter, encodeAdapter(t.model.data({ baseSha256: createHash("sha256").update(bytes).digest("hex"), baseName: "tiny.gguf" }), e.config));
      } finally {
        e.close();
      }
      const s = serve(["--model", model, "--adapter", adapter, "--decoder", "space"]);
      try {
        const client = new OpenAI({ baseURL: await s.url, apiKey: "unused", maxRetries: 0 });
        const prompt = "the cat sat on the mat, the cat sat";
        const [r, ar] = await Promise.all([
          client.completions.create({ model: "tiny", prompt, max_tokens: 24, temperature: 0 }),
          cliGenerate(["--model", model, "--prompt", prompt, "--max-tokens", "24"]),
        ]);
        expect(r.choices[0].text).toBe(ar.text);
        expect((r.usage as unknown as { space: { decoder: string } }).space.decoder).toBe("space");
      } finally {
        s.child.kill("SIGTERM");
        expect(await s.exit).toBe(0);
      }
      const wrong = spawnSync(process.execPath, [BIN, "serve", "--port", "0", "--model", join(dir, "other.gguf"), "--adapter", adapter, "--decoder", "space"], { encoding: "utf8", timeout: 20_000 });
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toMatch(/^space: E_MODEL: /);
      expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--store: SPACE's copying layouts draft from an n-gram store as space generate does; with AR it is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-serve-store-"));
    try {
      const prompt = "interface ArrayConstructor {\n";
      const ar = await cliGenerate(["--prompt", prompt, "--max-tokens", "40"]);
      // A distilled file whose response is AR's own output, so the store's drafts are accepted.
      const file = join(dir, "store.jsonl.gz");
      writeFileSync(file, gzipSync(JSON.stringify({ id: "x", split: "train", prompt: ar.tokens.slice(0, 3), response: ar.tokens }) + "\n"));
      const s = serve(["--decoder", "space", "--k", "3", "--layout", "hybrid", "--store", file]);
      try {
        const client = new OpenAI({ baseURL: await s.url, apiKey: "unused", maxRetries: 0 });
        const r = await client.completions.create({ model: "space-tiny", prompt, max_tokens: 40, temperature: 0 });
        expect(r.choices[0].text).toBe(ar.text);
        const usage = (r.usage as unknown as { space: { decoder: string; tokens_per_forward: number } }).space;
        expect(usage.decoder).toBe("space");
        expect(usage.tokens_per_forward, "drafts accepted").toBeGreaterThan(1.5);
      } finally {
        s.child.kill("SIGTERM");
        expect(await s.exit).toBe(0);
      }
      const refused = spawnSync(process.execPath, [BIN, "serve", "--port", "0", "--store", file], { encoding: "utf8", timeout: 20_000 });
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/^space: E_ARGS: --store applies to --decoder space, not ar/);
      expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a request past its timeout is aborted and answered 504", async () => {
    const server = await startTestServer({ modelId: "space-tiny", limits: { timeoutMs: 1 } });
    try {
      const err = await server.client.completions.create({ model: "space-tiny", prompt: "interface Foo {", max_tokens: 200, temperature: 0 }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(504);
      const rec = await server.waitRecord((r) => r.stop_reason === "timeout");
      expect(rec.status).toBe(504);
    } finally {
      await server.close();
    }
  });
});

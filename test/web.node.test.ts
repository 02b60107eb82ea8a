/**
 * The browser build's pieces that run in Node too: the page's files (the module closure has only
 * relative imports, nothing Node-only), the static server's headers and refusals, `--out`'s folder,
 * byte sources over fetch/Blob/File, the threads check, and WebSession fetching the core and the
 * embedded model over HTTP exactly as the page does, with the Node API's output for the same prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildWebFolder, relativeImports, serveWeb, webFiles, type WebServer } from "../src/node/web.js";
import { blobSource, blobText, urlSource } from "../src/web/sources.js";
import { fetchCoreBytes } from "../src/web/core.js";
import { loadCoreNode } from "../src/node/wasm.js";
import { browserExecutor, deferredExecutor, threadsUnavailable } from "../src/web/threads.js";
import { WebSession } from "../src/web/session.js";
import { loadModelFile } from "../src/api/node.js";
import { embeddedModelPath } from "../src/node/embedded.js";
import { SpaceError } from "../src/errors.js";

let server: WebServer;
let bare: WebServer;
beforeAll(async () => {
  server = await serveWeb({ isolation: true });
  bare = await serveWeb({ isolation: false });
});
afterAll(async () => {
  await server.close();
  await bare.close();
});

describe("the page's files", () => {
  it("hold both entry modules and every module they import, and only browser-safe ones", () => {
    const files = webFiles();
    for (const url of ["index.html", "style.css", "build/space-plain.wasm", "models/space-tiny.gguf", "js/src/web/page/app.js", "js/src/web/page/worker.js", "js/src/engine.js"]) {
      expect(files.has(url), url).toBe(true);
    }
    for (const [url, path] of files) {
      if (!url.endsWith(".js")) continue;
      expect(url.startsWith("js/src/node/") || url.startsWith("js/src/cli/"), url).toBe(false);
      for (const spec of relativeImports(readFileSync(path, "utf8"))) {
        expect(files.has(join(url, "..", spec).split("\\").join("/")), `${url} imports ${spec}`).toBe(true);
      }
    }
  });
  it("relativeImports reads import/export-from lines and refuses a bare import", () => {
    expect(relativeImports(`import { a } from "./a.js";\nexport { b } from "../b.js";\nimport "./c.js";\nimport type_x from './d.js';\nconst s = "import x from './no.js'";`)).toEqual(["./a.js", "../b.js", "./c.js", "./d.js"]);
    expect(() => relativeImports(`import { readFileSync } from "node:fs";`)).toThrow(/node:fs/);
  });
});

describe("space web's server", () => {
  it("sends COOP/COEP (and the right types) when isolated, none without", async () => {
    const a = await fetch(server.url);
    expect(a.status).toBe(200);
    expect(a.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(a.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect(await a.text()).toContain("SPACE, step by step");
    const w = await fetch(new URL("build/space-plain.wasm", server.url));
    expect(w.headers.get("content-type")).toBe("application/wasm");
    expect(new Uint8Array(await w.arrayBuffer())).toEqual(new Uint8Array(readFileSync(webFiles().get("build/space-plain.wasm")!)));
    const b = await fetch(bare.url);
    expect(b.headers.get("cross-origin-opener-policy")).toBeNull();
    expect(b.headers.get("cross-origin-embedder-policy")).toBeNull();
  });
  it("404 for anything not in the page (no path escapes), 405 for other methods, 400 for a bad escape", async () => {
    for (const path of ["package.json", "..%2Fpackage.json", "js/src/node/web.js", "%2E%2E/%2E%2E/etc/passwd"]) {
      expect((await fetch(server.url + path)).status, path).toBe(404);
    }
    expect((await fetch(server.url, { method: "POST", body: "x" })).status).toBe(405);
    expect((await fetch(server.url + "%E0%A4%A")).status).toBe(400);
  });
  it("refuses a port in use with a clear message", async () => {
    const port = Number(new URL(server.url).port);
    await expect(serveWeb({ port })).rejects.toThrow(/port is in use/);
  });
});

describe("space web --out", () => {
  it("writes every file of the page into a new folder, byte for byte, and a folder server serves it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "space-web-"));
    try {
      const out = join(dir, "site");
      const { files } = buildWebFolder(out);
      const want = webFiles();
      expect(files).toBe(want.size);
      for (const [url, path] of want) expect(readFileSync(join(out, url)).equals(readFileSync(path)), url).toBe(true);
      const s = await serveWeb({ dir: out });
      try {
        expect((await fetch(new URL("js/src/web/steps.js", s.url))).status).toBe(200);
      } finally {
        await s.close();
      }
      expect(existsSync(`${out}.tmp-${process.pid}`)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("never writes into an existing folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "space-web-"));
    try {
      mkdirSync(join(dir, "taken"));
      expect(() => buildWebFolder(join(dir, "taken"))).toThrow(/already exists/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("byte sources", () => {
  it("urlSource reads a whole response; a 404 is E_IO naming the URL and status", async () => {
    const src = await urlSource(new URL("models/space-tiny.gguf", server.url));
    expect(src.byteLength).toBe(readFileSync(embeddedModelPath()).length);
    expect(src.read(0, 4)).toEqual(new TextEncoder().encode("GGUF"));
    const missing = new URL("nope.gguf", server.url).href;
    await expect(urlSource(missing)).rejects.toThrow(`${missing}: HTTP 404`);
    await expect(urlSource("http://127.0.0.1:1/x.gguf")).rejects.toThrow(/cannot fetch/);
  });
  it("blobSource reads a File or a Blob; reads out of range are E_IO", async () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    const f = await blobSource(new File([bytes], "m.gguf"));
    expect(f.name).toBe("m.gguf");
    expect(Array.from(f.read(1, 3))).toEqual([2, 3, 4]);
    const b = await blobSource(new Blob([bytes]));
    expect(b.name).toBe("blob");
    expect(() => b.read(3, 3)).toThrow(SpaceError);
  });
  it("blobText reads UTF-8 text, inflating a .gz name; bad gzip or bad UTF-8 is E_IO naming the file", async () => {
    const text = '{"id":"x"}\n';
    expect(await blobText(new File([text], "d.jsonl"))).toBe(text);
    expect(await blobText(new Blob([gzipSync(text)]), "d.jsonl.gz")).toBe(text);
    await expect(blobText(new Blob([text]), "d.jsonl.gz")).rejects.toThrow(/d\.jsonl\.gz: cannot read as gzip-compressed UTF-8 text/);
    await expect(blobText(new Blob([new Uint8Array([0x7b, 0xff, 0x7d])]), "bad.jsonl")).rejects.toThrow(/bad\.jsonl: cannot read as UTF-8 text/);
  });
});

describe("threads in the browser build", () => {
  it("one thread needs nothing; more are refused outside a cross-origin isolated worker, naming why", async () => {
    const core = await loadCoreNode("plain");
    expect((await browserExecutor(core, 1)).threads).toBe(1);
    await expect(browserExecutor(core, 2)).rejects.toThrow(/2 threads: this context cannot start workers; one thread works anywhere/);
    await expect(browserExecutor(core, 0)).rejects.toThrow(/threads must be an integer/);
    const d = deferredExecutor(core, 2); // runs on this thread until its pool starts, which here it cannot
    await expect(d.ready).rejects.toThrow(/this context cannot start workers/);
    expect(d.threads).toBe(2);
    expect(typeof d.matmul).toBe("function");
    d.close();
    await expect(WebSession.load(await urlSource(new URL("models/space-tiny.gguf", server.url)), { wasm: { plain: readFileSync(webFiles().get("build/space-plain.wasm")!) }, threads: 2 })).rejects.toThrow(
      /2 threads: this context cannot start workers/,
    );
    const page = { Worker: function () {}, crossOriginIsolated: false, document: {} } as unknown as typeof globalThis;
    expect(threadsUnavailable(page)).toMatch(/Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
    expect(threadsUnavailable({ ...page, crossOriginIsolated: true } as unknown as typeof globalThis)).toMatch(/main thread/);
    expect(threadsUnavailable({ ...page, crossOriginIsolated: true, document: undefined } as unknown as typeof globalThis)).toBeNull();
  });
});

describe("WebSession over HTTP, as the page loads it", () => {
  it("SPACE and AR on the embedded model: the Node API's tokens and steps", async () => {
    const wasm = await fetchCoreBytes({ plain: new URL("build/space-plain.wasm", server.url), relaxed: new URL("build/space-relaxed.wasm", server.url) }, "plain");
    expect(wasm.relaxed).toBeUndefined(); // "plain" fetches one build
    const session = await WebSession.load(await urlSource(new URL("models/space-tiny.gguf", server.url)), { wasm, simd: "plain" });
    const api = await loadModelFile(undefined, { simd: "plain" });
    try {
      expect(session.info.k).toBe(api.info.space.k);
      expect(session.info.maskToken).toBe(api.info.space.maskToken);
      const prompt = session.encode("interface Foo {");
      const steps: unknown[] = [];
      const space = await session.run(prompt, { decoder: "space", maxTokens: 24, onStep: (s) => steps.push({ ...s, ms: 0 }) });
      const apiSteps: unknown[] = [];
      const ref = await api.generate("interface Foo {", { decoder: "space", layout: "full", maxTokens: 24, onStep: (s) => apiSteps.push({ ...s, ms: 0 }) });
      expect(space.ids).toEqual(ref.ids);
      expect(steps).toEqual(apiSteps);
      const ar = await session.run(prompt, { decoder: "ar", maxTokens: 24 });
      expect(ar.ids).toEqual(space.ids);
      expect(session.tokenTexts()[space.ids[0]]).toBe(api.detokenize([space.ids[0]]));
      await expect(session.run(prompt, { decoder: "space", maxTokens: 4, layout: "diagonal" as "full" })).rejects.toThrow(/unknown layout "diagonal"/);
      expect(() => session.encode("")).toThrow(/empty/);
    } finally {
      session.close();
      api.dispose();
    }
  });
});

describe("WebSession with an n-gram store, as the page's store file gives it", () => {
  it("auto and hybrid draft from it and still emit AR's tokens; other layouts leave it out; a bad file is E_ARGS at load", async () => {
    const wasm = { plain: readFileSync(webFiles().get("build/space-plain.wasm")!) };
    const model = () => urlSource(new URL("models/space-tiny.gguf", server.url));
    const plain = await WebSession.load(await model(), { wasm, simd: "plain" });
    const prompt = plain.encode("interface Foo {");
    const ar = await plain.run(prompt, { decoder: "ar", maxTokens: 32 });
    const full = await plain.run(prompt, { decoder: "space", layout: "full", maxTokens: 32 });
    const without = (await plain.run(prompt, { decoder: "space", layout: "hybrid", maxTokens: 32 })).stats.tau;
    plain.close();
    // A distilled file whose response is AR's own output on another prompt: the store's drafts are right.
    const text = JSON.stringify({ id: "x", split: "train", prompt: [ar.ids[0]], response: ar.ids }) + "\n";
    const session = await WebSession.load(await model(), { wasm, simd: "plain", store: { text, name: "s.jsonl" } });
    try {
      expect(session.info.store).toMatch(/^s\.jsonl \(0k positions\)$/);
      expect(session.info.copyingLayouts).toEqual(["hybrid", "auto"]);
      for (const layout of ["hybrid", "auto"] as const) {
        const r = await session.run(prompt, { decoder: "space", layout, maxTokens: 32 });
        expect(r.ids, layout).toEqual(ar.ids);
        // hybrid copies at every match (auto's choices follow the clock: its tau is no test's to fix).
        if (layout === "hybrid") expect(r.stats.tau).toBeGreaterThan(without + 1); // the drafts were the store's
      }
      // full copies nothing: the store sits out, and the run is the plain session's.
      expect((await session.run(prompt, { decoder: "space", layout: "full", maxTokens: 32 })).ids).toEqual(full.ids);
    } finally {
      session.close();
    }
    await expect(WebSession.load(await model(), { wasm, simd: "plain", store: { text: '{"id": 1}\n', name: "bad.jsonl" } })).rejects.toThrow(/bad\.jsonl:1: "id" must be a string/);
  });
});

describe("space web (the command)", () => {
  const BIN = join(__dirname, "..", "bin", "space.mjs");
  it("serves until SIGTERM, then exits 0", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [BIN, "web", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
        if (m) resolve(m[0]);
      });
      child.on("exit", () => reject(new Error(`exited early: ${out}`)));
    });
    const r = await fetch(url);
    expect(r.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    const code = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await code).toBe(0);
  });
  it("--out with serving options, and a stray argument, are E_ARGS", async () => {
    const { spawnSync } = await import("node:child_process");
    const a = spawnSync(process.execPath, [BIN, "web", "--out", join(tmpdir(), "never-written"), "--port", "9"], { encoding: "utf8" });
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/^space: E_ARGS: --out writes files and serves nothing: drop --port/);
    const b = spawnSync(process.execPath, [BIN, "web", "now"], { encoding: "utf8" });
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/unexpected argument "now"/);
  });
});

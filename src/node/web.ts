/**
 * Node edge of the browser build: the step-through page's files, served over HTTP or written to a folder.
 *
 * No bundler: the compiled modules (dist/src/**.js, ES modules with relative ".js" imports) run in a
 * browser as they are, so the page is its static files, the closure of modules its two entry points
 * import (found by reading their import statements), the WebAssembly core and the embedded model. The
 * module tree keeps dist/'s layout under js/ so that every relative import still resolves.
 */
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join, resolve, sep } from "node:path";
import { SpaceError, fail } from "../errors.js";
import { packageRoot } from "./wasm.js";

/** The page's entry modules, relative to dist/. */
const ENTRIES = ["src/web/page/app.js", "src/web/page/worker.js"];
/** Static files: URL path -> path relative to the package root. */
const STATIC: Record<string, string> = {
  "index.html": "src/web/page/index.html",
  "style.css": "src/web/page/style.css",
  "build/space-plain.wasm": "build/space-plain.wasm",
  "build/space-relaxed.wasm": "build/space-relaxed.wasm",
  "models/space-tiny.gguf": "models/space-tiny.gguf",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".gguf": "application/octet-stream",
};

/** Every file of the page: URL path (no leading slash) -> absolute file path. */
export function webFiles(root = packageRoot()): Map<string, string> {
  const files = new Map<string, string>();
  for (const [url, rel] of Object.entries(STATIC)) {
    const path = join(root, rel);
    if (!existsSync(path)) fail("E_IO", `${path}: missing (run \`npm run build\`)`);
    files.set(url, path);
  }
  const dist = join(root, "dist");
  const todo = [...ENTRIES];
  while (todo.length > 0) {
    const rel = todo.pop()!;
    if (files.has(`js/${rel}`)) continue;
    const path = join(dist, rel);
    if (!existsSync(path)) fail("E_IO", `${path}: missing (run \`npm run build\`)`);
    files.set(`js/${rel}`, path);
    for (const spec of relativeImports(readFileSync(path, "utf8"))) {
      const target = join(dirname(rel), spec).split(sep).join("/");
      if (target.startsWith("..")) fail("E_IO", `${path} imports ${spec}, outside dist/`);
      todo.push(target);
    }
  }
  return files;
}

/** The relative module specifiers of a compiled ES module (static imports and re-exports). */
export function relativeImports(js: string): string[] {
  const out: string[] = [];
  const re = /^\s*(?:import|export)\b[^"';]*?(?:from\s*)?["'](\.{1,2}\/[^"']+)["']/gm;
  for (let m; (m = re.exec(js)) !== null; ) out.push(m[1]);
  const bare = /^\s*import\s*(?:[^"';]*?from\s*)?["']([^./][^"']*)["']/gm;
  for (let m; (m = bare.exec(js)) !== null; ) fail("E_IO", `a page module imports "${m[1]}", which a browser cannot load (only relative imports)`);
  return out;
}

/**
 * Writes the page to `out`, a folder that must not exist yet (never overwrites anything): into a
 * temporary sibling first, renamed into place at the end.
 */
export function buildWebFolder(out: string, root = packageRoot()): { files: number; bytes: number } {
  const target = resolve(out);
  if (existsSync(target)) fail("E_IO", `${target}: already exists (choose a new folder; nothing is overwritten)`);
  const files = webFiles(root);
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  let bytes = 0;
  try {
    for (const [url, path] of files) {
      const dest = join(tmp, ...url.split("/"));
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(path, dest);
      bytes += statSync(path).size;
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    fail("E_IO", `${target}: ${(e as Error).message}`);
  }
  return { files: files.size, bytes };
}

export interface WebServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the page (GET and HEAD only). `isolation` (default true) adds the headers that make the page
 * cross-origin isolated, which worker threads need; without them the page runs on one thread.
 * `dir` serves a folder written by buildWebFolder instead of the package's files.
 */
export async function serveWeb(opts: { host?: string; port?: number; isolation?: boolean; dir?: string } = {}): Promise<WebServer> {
  const files = opts.dir !== undefined ? folderFiles(opts.dir) : webFiles();
  const isolation = opts.isolation ?? true;
  const server: Server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? "/").split("?")[0]).replace(/^\/+/, "") || "index.html";
    } catch {
      res.writeHead(400, { "Content-Type": "text/plain" }).end("bad URL encoding\n");
      return;
    }
    const file = files.get(path);
    const headers: Record<string, string> = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
    if (isolation) {
      headers["Cross-Origin-Opener-Policy"] = "same-origin";
      headers["Cross-Origin-Embedder-Policy"] = "require-corp";
      headers["Cross-Origin-Resource-Policy"] = "same-origin";
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...headers, Allow: "GET, HEAD" }).end();
      return;
    }
    if (file === undefined) {
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end(`not found: /${path}\n`);
      return;
    }
    const ext = path.slice(path.lastIndexOf("."));
    res.writeHead(200, { ...headers, "Content-Type": TYPES[ext] ?? "application/octet-stream", "Content-Length": String(statSync(file).size) });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new SpaceError("E_IO", e.code === "EADDRINUSE" ? `${host}:${opts.port}: the port is in use (choose another with --port)` : `cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`)),
    );
    server.listen(opts.port ?? 0, host, () => resolveListen());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : opts.port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The files of a folder written by buildWebFolder, by URL path. */
function folderFiles(dir: string): Map<string, string> {
  const root = resolve(dir);
  if (!existsSync(join(root, "index.html"))) fail("E_IO", `${root}: no index.html (write the page with \`space web --out DIR\`)`);
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.set(r, join(root, r));
    }
  };
  walk("");
  return files;
}

/**
 * `space pull URL | hf:OWNER/REPO/PATH.gguf`: downloads a model into the model cache (~/.cache/space/models),
 * resuming a partial download, checking the SHA-256 when one is known (given, or in KNOWN_SHA256), and
 * checking that the result is a GGUF file. The download goes to FILE.part and is renamed into place only
 * when whole and checked, so the cache never holds a torn or wrong model under its real name.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { createHash, type Hash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { fail } from "../errors.js";

/** Where pulled models go (scripts/fetch-models.mjs uses the same folder). */
export function modelCacheDir(): string {
  return join(homedir(), ".cache", "space", "models");
}

/** SHA-256 of files this project knows by name: a pull of one of them is always checked. */
export const KNOWN_SHA256: Readonly<Record<string, string>> = {
  "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

export interface PullSource {
  readonly url: string;
  /** The file name in the cache. */
  readonly file: string;
}

/**
 * `hf:OWNER/REPO/PATH` is Hugging Face's `https://huggingface.co/OWNER/REPO/resolve/main/PATH`; http(s) URLs
 * are taken as they are. The cache file is the URL's last path segment, which must be a plain file name.
 */
export function resolveSource(ref: string): PullSource {
  let url: URL;
  if (ref.startsWith("hf:")) {
    const parts = ref.slice(3).split("/");
    if (parts.length < 3 || parts.some((p) => p === "" || p === "." || p === "..")) {
      fail("E_ARGS", `${ref}: expected hf:OWNER/REPO/PATH/TO/FILE.gguf`);
    }
    url = new URL(`https://huggingface.co/${parts.slice(0, 2).map(encodeURIComponent).join("/")}/resolve/main/${parts.slice(2).map(encodeURIComponent).join("/")}`);
  } else {
    try {
      url = new URL(ref);
    } catch {
      fail("E_ARGS", `${ref}: not a URL (give http(s)://... or hf:OWNER/REPO/FILE.gguf)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") fail("E_ARGS", `${ref}: only http and https URLs (or hf:OWNER/REPO/FILE.gguf) can be pulled`);
  }
  let file: string;
  try {
    file = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf("/") + 1));
  } catch {
    fail("E_ARGS", `${ref}: the file name in the URL is not valid percent-encoding`);
  }
  if (file === "" || file === "." || file === ".." || /[/\\\0]/.test(file)) fail("E_ARGS", `${ref}: the URL does not end in a file name`);
  return { url: url.href, file };
}

export interface PullOptions {
  /** Folder to download into (default modelCacheDir()). */
  readonly dir?: string;
  /** Expected SHA-256 (hex); default: KNOWN_SHA256 by file name, else unchecked. */
  readonly sha256?: string;
  /** Progress: bytes on disk so far and the total when the server says it. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
  /** Where a resumed download starts (bytes already on disk), called once before the transfer. */
  readonly onResume?: (from: number) => void;
}

export interface PullResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Whether the checksum was checked against a known one. */
  readonly checked: boolean;
  /** "present": already in the cache (and checked when a checksum is known); "downloaded"; "resumed". */
  readonly how: "present" | "downloaded" | "resumed";
}

function hashFile(path: string, hash: Hash = createHash("sha256")): Hash {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(1 << 22);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash;
}

export async function pull(ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const { url, file } = resolveSource(ref);
  const want = (opts.sha256 ?? KNOWN_SHA256[file])?.toLowerCase();
  if (want !== undefined && !/^[0-9a-f]{64}$/.test(want)) fail("E_ARGS", `--sha256 must be 64 hex digits, got "${opts.sha256}"`);
  const dir = opts.dir ?? modelCacheDir();
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail("E_IO", `${dir}: cannot create the folder (${(e as Error).message})`);
  }
  const target = join(dir, file);
  const part = `${target}.part`;
  if (existsSync(target)) {
    if (!statSync(target).isFile()) fail("E_IO", `${target}: exists and is not a regular file`);
    const sha = hashFile(target).digest("hex");
    if (want !== undefined && sha !== want) fail("E_IO", `${target}: already there with sha256 ${sha.slice(0, 16)}..., expected ${want.slice(0, 16)}...: remove it to pull again`);
    return { path: target, bytes: statSync(target).size, sha256: sha, checked: want !== undefined, how: "present" };
  }

  // Resume: ask for the bytes after what FILE.part holds; the hash runs over the part first.
  const have = existsSync(part) ? statSync(part).size : 0;
  let response: Response;
  try {
    response = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, redirect: "follow" });
  } catch (e) {
    fail("E_IO", `${url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  let from = 0;
  let total: number | undefined;
  if (response.status === 206 && have > 0) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    if (!m || Number(m[1]) !== have) fail("E_IO", `${url}: the server answered the resume with the wrong range (${response.headers.get("content-range")})`);
    from = have;
    total = m[2] === "*" ? undefined : Number(m[2]);
  } else if (response.status === 416 && have > 0) {
    from = have; // the part already holds the whole file: check it below
    total = have;
    await response.body?.cancel();
  } else if (response.ok) {
    const length = response.headers.get("content-length");
    total = length !== null ? Number(length) : undefined; // 200: the whole file (a server that ignores Range restarts it)
  } else {
    await response.body?.cancel();
    fail("E_IO", `${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  if (from > 0) opts.onResume?.(from);
  const hash = from > 0 ? hashFile(part) : createHash("sha256");
  const fd = openSync(part, from > 0 ? "a" : "w");
  let done = from;
  try {
    if (response.status !== 416 && response.body) {
      const reader = response.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          fail("E_IO", `${url}: the download broke off after ${done} bytes (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}); run the same pull again to resume`);
        }
        if (chunk.done) break;
        writeSync(fd, chunk.value);
        hash.update(chunk.value);
        done += chunk.value.length;
        opts.onProgress?.(done, total);
      }
    }
    if (total !== undefined && fstatSync(fd).size !== total) {
      fail("E_IO", `${url}: got ${fstatSync(fd).size} of ${total} bytes; run the same pull again to resume`);
    }
  } finally {
    closeSync(fd);
  }
  const sha = hash.digest("hex");
  if (want !== undefined && sha !== want) {
    rmSync(part, { force: true }); // a wrong file is not worth resuming
    fail("E_IO", `${url}: sha256 ${sha.slice(0, 16)}... is not the expected ${want.slice(0, 16)}...: nothing was kept`);
  }
  const magic = Buffer.alloc(4);
  const check = openSync(part, "r");
  try {
    readSync(check, magic, 0, 4, 0);
  } finally {
    closeSync(check);
  }
  if (magic.toString("latin1") !== "GGUF") {
    rmSync(part, { force: true });
    fail("E_GGUF", `${url}: not a GGUF file (it does not start with "GGUF"): nothing was kept`);
  }
  renameSync(part, target);
  return { path: target, bytes: done, sha256: sha, checked: want !== undefined, how: from > 0 ? "resumed" : "downloaded" };
}

/** A progress bar for a terminal (redrawn in place), or a line per tenth for a log. */
export function progressPrinter(write: (s: string) => void, tty: boolean): { progress: (done: number, total: number | undefined) => void; end: () => void } {
  const t0 = performance.now();
  let lastTenth = -1, lastDraw = 0;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const line = (done: number, total: number | undefined) => {
    const rate = done / 2 ** 20 / Math.max(1e-3, (performance.now() - t0) / 1000);
    if (total === undefined || total === 0) return `${mib(done)} MiB, ${rate.toFixed(1)} MiB/s`;
    const f = Math.min(1, done / total), n = Math.round(f * 24);
    return `[${"#".repeat(n)}${".".repeat(24 - n)}] ${(f * 100).toFixed(0).padStart(3)}% ${mib(done)}/${mib(total)} MiB, ${rate.toFixed(1)} MiB/s`;
  };
  let drawn = false;
  return {
    progress(done, total) {
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 100 && done !== total) return;
        lastDraw = now;
        write(`\r${line(done, total)}`);
        drawn = true;
      } else if (total !== undefined && total > 0) {
        const tenth = Math.floor((done / total) * 10);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          write(`pull: ${line(done, total)}\n`);
        }
      }
    },
    end() {
      if (drawn) write("\n");
    },
  };
}

/**
 * `space pull` against a local HTTP server on loopback (no network): a download cut off half way resumes
 * with a Range request and ends whole and checked; a wrong checksum, a 404, a file that is not GGUF and
 * bad references each end in one clear error with nothing torn left under the model's name; hf: names
 * resolve to Hugging Face's resolve URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pull, resolveSource } from "../src/node/pull.js";
import { SpaceError } from "../src/errors.js";

const BIN = join(__dirname, "..", "bin", "space.mjs");
// A GGUF-looking file: the magic, then 3 MiB of varied bytes (several stream chunks).
const FILE = new Uint8Array(3 << 20);
FILE.set([0x47, 0x47, 0x55, 0x46]);
for (let i = 4; i < FILE.length; i++) FILE[i] = (i * 2654435761) >>> 24;
const SHA = createHash("sha256").update(FILE).digest("hex");

let server: Server, base = "", dir = "";
const ranges: (string | undefined)[] = [];
let cutNext = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "space-pull-"));
  server = createServer((req, res) => {
    const path = req.url ?? "";
    if (path.startsWith("/missing")) return void res.writeHead(404).end("no");
    const body = path.startsWith("/text") ? new TextEncoder().encode("not a model at all, just text".repeat(100)) : FILE;
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const from = m ? Number(m[1]) : 0;
    if (from >= body.length) return void res.writeHead(416, { "Content-Range": `bytes */${body.length}` }).end();
    res.writeHead(m ? 206 : 200, { "Content-Length": String(body.length - from), ...(m ? { "Content-Range": `bytes ${from}-${body.length - 1}/${body.length}` } : {}) });
    if (cutNext) {
      cutNext = false; // send a bit over a third, then drop the connection
      res.write(body.subarray(from, from + (body.length >> 1) - 12345), () => res.destroy());
      return;
    }
    res.end(body.subarray(from));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${e instanceof SpaceError ? e.code : "?"}: ${(e as Error).message}`;
  }
  throw new Error("expected a failure");
}

describe("space pull", () => {
  it("resumes a download cut off half way (Range), and the file ends whole, checked and renamed into place", async () => {
    const d = join(dir, "resume");
    cutNext = true;
    expect(await failure(pull(`${base}/m/model.gguf`, { dir: d, sha256: SHA }))).toMatch(/^E_IO: .*(broke off|got \d+ of)/);
    const partial = statSync(join(d, "model.gguf.part")).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(FILE.length);
    expect(existsSync(join(d, "model.gguf"))).toBe(false); // nothing torn under the real name
    ranges.length = 0;
    let resumedFrom = -1;
    const r = await pull(`${base}/m/model.gguf`, { dir: d, sha256: SHA, onResume: (f) => (resumedFrom = f) });
    expect(ranges).toEqual([`bytes=${partial}-`]);
    expect(resumedFrom).toBe(partial);
    expect(r).toMatchObject({ how: "resumed", bytes: FILE.length, sha256: SHA, checked: true, path: join(d, "model.gguf") });
    expect(createHash("sha256").update(readFileSync(r.path)).digest("hex")).toBe(SHA);
    expect(readdirSync(d)).toEqual(["model.gguf"]);
    const again = await pull(`${base}/m/model.gguf`, { dir: d, sha256: SHA }); // already there: checked, not fetched
    expect(again.how).toBe("present");
  });

  it("refuses a wrong checksum, a 404 and a file that is not GGUF, keeping nothing", async () => {
    const d = join(dir, "bad");
    expect(await failure(pull(`${base}/m/model.gguf`, { dir: d, sha256: "0".repeat(64) }))).toMatch(/^E_IO: .*sha256 .* is not the expected 0000000000000000\.\.\.: nothing was kept/);
    expect(await failure(pull(`${base}/missing/x.gguf`, { dir: d }))).toMatch(/^E_IO: .*HTTP 404/);
    expect(await failure(pull(`${base}/text/notes.gguf`, { dir: d }))).toMatch(/^E_GGUF: .*not a GGUF file/);
    expect(readdirSync(d)).toEqual([]);
    expect(await failure(pull(`${base}/m/model.gguf`, { dir: d, sha256: "xyz" }))).toMatch(/^E_ARGS: --sha256 must be 64 hex digits/);
  });

  it("resolves hf: names and refuses what cannot be pulled", async () => {
    expect(resolveSource("hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2.gguf")).toEqual({
      url: "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/smollm2.gguf", file: "smollm2.gguf",
    });
    expect(resolveSource("hf:a/b/sub/dir/m.gguf").url).toBe("https://huggingface.co/a/b/resolve/main/sub/dir/m.gguf");
    for (const [ref, re] of [["hf:owner/repo", /expected hf:OWNER\/REPO/], ["ftp://x/m.gguf", /only http and https/], ["not a url", /not a URL/], ["http://x/dir/", /does not end in a file name/], ["hf:a/b/../m.gguf", /expected hf:/]] as const) {
      expect(await failure(pull(ref, { dir }))).toMatch(new RegExp(`^E_ARGS: .*${re.source}`));
    }
  });

  it("through the command: progress on stderr, the path on stdout; a stray second argument is refused", async () => {
    const d = join(dir, "cli");
    const run = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, "pull", ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "", stderr = "";
      p.stdout.on("data", (c) => (stdout += c));
      p.stderr.on("data", (c) => (stderr += c));
      p.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    const r = await run([`${base}/m/model.gguf`, "--dir", d, "--sha256", SHA]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(join(d, "model.gguf") + "\n");
    expect(r.stderr).toMatch(/pull: \[#+\] 100% 3\.0\/3\.0 MiB/);
    expect(r.stderr).toMatch(/pull: downloaded, 3145728 bytes, sha256 [0-9a-f]{64} \(checked\)/);
    const two = await run([`${base}/m/model.gguf`, "extra"]);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/^space: E_ARGS: one model at a time/);
  });
});

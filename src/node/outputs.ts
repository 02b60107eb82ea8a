/**
 * Node edge of everything the CLI writes and the files it must only read:
 *  - an output is never one of the inputs (same device and inode: `--trace MODEL.gguf` or
 *    `train --out BASE.gguf` would destroy the input), checked before anything is written;
 *  - whole-file outputs go to a temporary file beside the target and are renamed over it when complete,
 *    so a run that fails or is killed leaves the previous file (or none), never half of one; special
 *    files (`/dev/stdout`, a FIFO) are written in place;
 *  - appended outputs (JSONL data, logs) first drop a torn last line left by a killed run;
 *  - inputs that must be read whole (models, adapters) must be regular files: a FIFO would block and
 *    /dev/zero never ends; a prompt may come from a pipe or `-`, up to PROMPT_LIMIT bytes;
 *  - write errors (ENOSPC, EIO) become one E_IO line naming the file.
 */
import {
  closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync, type Stats,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { SpaceError, fail } from "../errors.js";

/** The largest prompt read from a file or a pipe (a prompt is at most ~1M tokens of a few bytes). */
export const PROMPT_LIMIT = 16 * 2 ** 20;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Why a write failed, in words (ENOSPC: "no space left on device"). */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text: Record<string, string> = { ENOSPC: "no space left on device", EDQUOT: "disk quota exceeded", EACCES: "permission denied", EROFS: "read-only file system", EISDIR: "is a directory", ENOENT: "no such file or directory", EPIPE: "broken pipe" };
  return err.code && text[err.code] ? `${text[err.code]} (${err.code})` : (err.message ?? String(e));
}

/**
 * Refuses an output that is one of the inputs. `inputs` are [label, path] pairs (undefined paths are
 * skipped); `label` names the option in the error.
 */
export function refuseInputAsOutput(outLabel: string, out: string, inputs: readonly (readonly [string, string | undefined])[]): void {
  const o = statOrNull(out);
  if (!o) return; // a new file cannot be an input
  for (const [label, path] of inputs) {
    if (path === undefined || path === "-") continue;
    const i = statOrNull(path);
    if (i && i.dev === o.dev && i.ino === o.ino) {
      fail("E_ARGS", `${outLabel} ${out} is the same file as ${label} ${path}: refusing to overwrite an input`);
    }
  }
}

/** Whether `path` exists and is a regular file (not a device, FIFO or directory). */
export function isRegularFile(path: string): boolean {
  return statOrNull(path)?.isFile() ?? false;
}

/** E_IO unless `path` is a regular file (checked without opening it: opening a FIFO blocks). */
export function requireRegularFile(path: string, what: string): void {
  const st = statOrNull(path);
  if (!st) fail("E_IO", `${path}: no such file (${what})`);
  if (!st.isFile()) fail("E_IO", `${path}: not a regular file (${what}): pipes and devices cannot be read as a ${what}`);
}

/** A file written in pieces and published whole (rename) by `commit()`. */
export interface OutputFile {
  write(text: string | Uint8Array): void;
  /** Publishes the file (rename over the target). */
  commit(): void;
  /** Discards what was written (the target keeps its previous contents). Safe after commit. */
  abort(): void;
}

/** Opens a whole-file output: `path` itself for special files, else a temporary file beside it. */
export function openOutput(path: string): OutputFile {
  const st = statOrNull(path);
  const inPlace = st !== null && !st.isFile() && !st.isDirectory(); // /dev/stdout, /dev/null, a FIFO
  if (st?.isDirectory()) fail("E_IO", `${path}: is a directory`);
  const target = inPlace ? path : join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number | null;
  try {
    fd = openSync(target, "w");
  } catch (e) {
    fail("E_IO", `${path}: cannot write (${reason(e)})`);
  }
  const close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  return {
    write(data) {
      if (fd === null) fail("E_IO", `${path}: write after close`);
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      try {
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
      } catch (e) {
        this.abort();
        fail("E_IO", `${path}: cannot write (${reason(e)})`);
      }
    },
    commit() {
      if (fd === null) return;
      try {
        if (!inPlace) fsyncSync(fd);
        close();
        if (!inPlace) renameSync(target, path);
      } catch (e) {
        this.abort();
        fail("E_IO", `${path}: cannot write (${reason(e)})`);
      }
    },
    abort() {
      const open = fd !== null;
      close();
      if (open && !inPlace) {
        try {
          unlinkSync(target);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Writes `data` to `path` whole: a temporary file, fsync, rename. */
export function writeWhole(path: string, data: string | Uint8Array): void {
  const out = openOutput(path);
  out.write(data);
  out.commit();
}

/**
 * Before appending to a line-oriented file: drops a torn last line (a run killed mid-write), so that the
 * next line does not glue onto it. Returns the bytes dropped (0 when the file ends with a newline, is
 * empty or does not exist).
 */
export function dropTornLine(path: string): number {
  const st = statOrNull(path);
  if (!st || !st.isFile() || st.size === 0) return 0;
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(64 * 1024);
    // Scan backwards for the last newline.
    for (let end = size; end > 0; ) {
      const start = Math.max(0, end - buf.length);
      const n = readSync(fd, buf, 0, end - start, start);
      const i = buf.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) {
        const keep = start + i + 1;
        if (keep < size) ftruncateSync(fd, keep);
        return size - keep;
      }
      end = start;
    }
    ftruncateSync(fd, 0); // no newline at all: the only line is torn
    return size;
  } finally {
    closeSync(fd);
  }
}

/** Appends one line to `path`, naming the file on a write error. */
export function appendLine(path: string, line: string): void {
  let fd: number;
  try {
    fd = openSync(path, "a");
  } catch (e) {
    fail("E_IO", `${path}: cannot write (${reason(e)})`);
  }
  try {
    const bytes = Buffer.from(line + "\n", "utf8");
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (e) {
    fail("E_IO", `${path}: cannot write (${reason(e)})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a prompt: a regular file (size checked first), a pipe, or `-` (standard input), up to `limit`
 * bytes; past it, an E_ARGS error.
 */
export function readPromptBytes(path: string, limit = PROMPT_LIMIT): Uint8Array {
  const label = path === "-" ? "standard input" : path;
  let fd: number;
  try {
    fd = path === "-" ? 0 : openSync(path, "r");
  } catch (e) {
    fail("E_IO", `${path}: cannot read (${reason(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) fail("E_IO", `${label}: is a directory`);
    if (st.isFile() && st.size > limit) fail("E_ARGS", `${label}: the prompt is ${st.size} bytes, more than the ${limit} allowed`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(1 << 16);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // non-blocking stdin: wait for data
          continue;
        }
        if ((e as NodeJS.ErrnoException).code === "EOF") break;
        throw e;
      }
      if (n === 0) break;
      total += n;
      if (total > limit) fail("E_ARGS", `${label}: the prompt is more than the ${limit} bytes allowed`);
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } catch (e) {
    throw e instanceof SpaceError ? e : new SpaceError("E_IO", `${label}: cannot read (${reason(e)})`);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

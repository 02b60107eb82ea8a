/**
 * One trainer per run folder: DIR/lock holds the owner's pid, created exclusively (O_EXCL). A second
 * trainer on the same folder fails at once (E_STATE) instead of racing the first one's checkpoints; a
 * lock left by a process that no longer exists (killed) is taken over.
 */
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/** Takes DIR's lock; returns the function that releases it. */
export function lockRunDir(dir: string): () => void {
  const path = join(dir, "lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") fail("E_IO", `${path}: cannot create the run's lock (${(e as Error).message})`);
      const owner = Number(readFileSafe(path).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        fail("E_STATE", `${dir} is in use by another trainer (pid ${owner}); wait for it to finish or use another --run-dir (if no trainer runs, remove ${path})`);
      }
      try {
        unlinkSync(path); // stale: its owner is gone
      } catch {
        // someone else removed it first: retry
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    };
  }
  fail("E_STATE", `${dir}: could not take the run's lock (${path}); another trainer may be starting`);
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Node edge of training checkpoints (src/train/checkpoint.ts has the format): atomic writes, so a run
 * killed while saving keeps its previous checkpoint, and resuming a trainer from a file when one exists.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { fail } from "../errors.js";
import { decodeCheckpoint, encodeCheckpoint } from "../train/checkpoint.js";
import type { Trainer } from "../train/trainer.js";

/** Writes bytes to `path` via `path.tmp` + fsync + rename: the file is always a whole checkpoint. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, "w");
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    fail("E_IO", `${path}: cannot write the checkpoint (${(e as Error).message})`);
  }
}

/** Saves the trainer's state to `path`. */
export function saveCheckpoint(path: string, trainer: Trainer): void {
  writeFileAtomic(path, encodeCheckpoint(trainer.state()));
}

/** Restores the trainer from `path` if it exists; returns whether it did. */
export function resumeCheckpoint(path: string, trainer: Trainer): boolean {
  if (!existsSync(path)) return false;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    fail("E_IO", `${path}: cannot read the checkpoint (${(e as Error).message})`);
  }
  trainer.restore(decodeCheckpoint(bytes, path));
  return true;
}

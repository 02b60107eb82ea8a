/**
 * A training run folder's config.json: the settings a resumed run must share with the run that started
 * the folder, including the SHA-256 of its --data (changing the data on resume is refused, not silently
 * accepted). Written whole (temporary file + rename) and only once the run is known to start.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../errors.js";
import { writeWhole } from "./outputs.js";

type RunConfig = Record<string, unknown> & { readonly dataSha256: string };

function readOld(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  fail("E_STATE", `${path}: not a run config (corrupt?); use another --run-dir or remove the folder`);
}

/** Fails unless DIR is new or holds a run with the same settings and data. */
export function checkRunConfig(dir: string, cfg: RunConfig): void {
  const old = readOld(join(dir, "config.json"));
  if (!old) return;
  // Folders from before the data was recorded have no dataSha256: their data cannot be checked.
  if (old.dataSha256 !== undefined && old.dataSha256 !== cfg.dataSha256) {
    fail("E_ARGS", `${dir} holds a run trained on other data (sha256 ${String(old.dataSha256).slice(0, 12)}..., this --data: ${cfg.dataSha256.slice(0, 12)}...): resume with the same --data, or use another --run-dir`);
  }
  const { dataSha256: _a, ...oldRest } = old;
  const { dataSha256: _b, ...rest } = cfg;
  if (JSON.stringify(oldRest) !== JSON.stringify(rest)) {
    fail("E_ARGS", `${dir} holds a run with other settings: ${JSON.stringify(oldRest)} (this one: ${JSON.stringify(rest)})`);
  }
}

/** Records the run's settings (once; a folder from before dataSha256 gets it added). */
export function writeRunConfig(dir: string, cfg: RunConfig): void {
  const path = join(dir, "config.json");
  const old = readOld(path);
  if (old && old.dataSha256 !== undefined) return;
  writeWhole(path, JSON.stringify(cfg, null, 1) + "\n");
}

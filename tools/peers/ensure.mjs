#!/usr/bin/env node
// Development tooling only. Installs the peer engines (node-llama-cpp, ~680 MB with its prebuilt
// binaries) into tools/peers/node_modules on demand, from tools/peers/package-lock.json. They are kept
// out of the root install on purpose: the product never depends on them; only cross-check and
// benchmark scripts do.
//
//   import { ensurePeers } from "./tools/peers/ensure.mjs";  await ensurePeers();
//   node tools/peers/ensure.mjs            # same, from the shell
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const PEERS_DIR = dirname(fileURLToPath(import.meta.url));

/** True when node-llama-cpp is installed in tools/peers/node_modules. */
export function peersInstalled() {
  return existsSync(join(PEERS_DIR, "node_modules", "node-llama-cpp", "package.json"));
}

/**
 * Runs `npm ci --no-audit --no-fund` in tools/peers when its node_modules is missing (or lacks
 * node-llama-cpp). Progress goes to stderr so that tools printing JSON on stdout stay parseable.
 * Resolves to the peers directory; throws if the install fails.
 */
export async function ensurePeers({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (peersInstalled()) return PEERS_DIR;
  log(`[peers] node-llama-cpp not installed; running: npm ci --no-audit --no-fund (in ${PEERS_DIR}, ~680 MB)`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const t0 = Date.now();
  // stdout of npm goes to our stderr: callers' stdout is reserved for JSON results.
  const r = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], {
    cwd: PEERS_DIR,
    stdio: ["ignore", process.stderr, process.stderr],
    env: process.env,
  });
  if (r.error) throw new Error(`[peers] could not run npm: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`[peers] npm ci failed in ${PEERS_DIR} (exit ${r.status})`);
  if (!peersInstalled()) throw new Error(`[peers] npm ci finished but node-llama-cpp is still missing in ${PEERS_DIR}`);
  log(`[peers] installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return PEERS_DIR;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensurePeers()
    .then((dir) => console.log(`[peers] ready: ${dir}`))
    .catch((e) => {
      console.error(e.message);
      process.exit(1);
    });
}

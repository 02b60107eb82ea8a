/**
 * Node edge of the WebAssembly core: reads build/space-{plain,relaxed}.wasm from the package root and
 * instantiates them (src/wasm/core.ts). The package root is found by walking up from this file to the
 * nearest package.json, so this works from src/ (vitest, tsx) and from dist/src/ (compiled).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { SpaceError } from "../errors.js";
import { instantiateCore, type CoreBytes, type CoreChoice, type WasmCore } from "../wasm/core.js";

let root: string | undefined;

/** The directory holding the package's package.json (and build/). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new SpaceError("E_WASM", `cannot find the package root (package.json) above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function readBuild(name: "plain" | "relaxed"): Uint8Array<ArrayBuffer> {
  const path = join(packageRoot(), "build", `space-${name}.wasm`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new SpaceError("E_WASM", `cannot read ${path} (run \`npm run build:wasm\`): ${(e as Error).message}`);
  }
}

let flagTried = false;

/**
 * Whether relaxed SIMD is usable here. Node 20's V8 has it behind --experimental-wasm-relaxed-simd: if
 * the relaxed build does not validate, the flag is turned on (it must be before the module is compiled)
 * and the build validated again.
 */
export function relaxedSimdAvailable(bytes: Uint8Array<ArrayBuffer> = readBuild("relaxed")): boolean {
  if (WebAssembly.validate(bytes)) return true;
  if (!flagTried) {
    flagTried = true;
    try {
      setFlagsFromString("--experimental-wasm-relaxed-simd");
    } catch {
      return false;
    }
  }
  return WebAssembly.validate(bytes);
}

/** The core's bytes for `choice` (the relaxed build too unless "plain"; its V8 flag set where needed). */
export function readCoreBytes(choice: CoreChoice = "auto"): CoreBytes {
  const plain = readBuild("plain");
  if (choice === "plain") return { plain };
  const relaxed = readBuild("relaxed");
  relaxedSimdAvailable(relaxed);
  return { plain, relaxed };
}

/** Loads the core: "plain", "relaxed" (E_WASM where unsupported) or "auto" (relaxed where supported). */
export async function loadCoreNode(choice: CoreChoice = "auto", opts: { memory?: WebAssembly.Memory } = {}): Promise<WasmCore> {
  return instantiateCore(readCoreBytes(choice), choice, opts);
}

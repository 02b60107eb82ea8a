/**
 * What a user gets from npm: the packed tarball, installed into an empty folder in the system's temp
 * directory (no ../shared, no checkout, no devDependencies anywhere near it), runs the README's library
 * program as written, `npx space demo` and the other commands on the files it ships (HumanEval-X for
 * distill, the SmolLM2 adapter for info), and its types check under TypeScript's NodeNext resolution.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, checkProgramOutput, readmeLibraryProgram } from "../helpers/readme.js";
import { tinyModelBytes } from "../helpers/tiny-model.js";

const NAME = "space-decoding";
let work = "", app = "", tarball = "";
let packed: { path: string }[] = [];

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  // npm_config_* of the outer `npm run` would leak into the inner npm; a user's shell has none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
  return spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: 240_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  for (const f of ["dist/src/api/index.js", "dist/src/api/index.d.ts", "dist/src/api/node.d.ts", "build/space-plain.wasm", "build/space-relaxed.wasm"]) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` before the package tier`);
  }
  work = mkdtempSync(join(tmpdir(), "space-package-"));
  // --ignore-scripts: pack what `npm run build` built (prepare would rebuild it all).
  const out = ok(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], ROOT), "npm pack");
  const info = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0].filename);
  packed = info[0].files;
  app = join(work, "app");
  ok(run("mkdir", ["-p", app], work), "mkdir");
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }) + "\n");
  ok(run("npm", ["install", "--no-audit", "--no-fund", "--offline", tarball], app), "npm install of the tarball");
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("ships the built JS with types, both WebAssembly builds, the models and the data; no sources or tests", () => {
    const paths = new Set(packed.map((f) => f.path));
    for (const f of [
      "package.json", "README.md", "LICENSE", "bin/space.mjs", "dist/src/api/index.js", "dist/src/api/index.d.ts", "dist/src/api/node.js",
      "dist/src/api/node.d.ts", "dist/src/web/index.d.ts", "dist/src/cli/main.js", "build/space-plain.wasm", "build/space-relaxed.wasm", "models/space-tiny.gguf",
      "models/smollm2-135m-instruct-space-k5.gguf", "data/humaneval-x/humaneval_python.jsonl.gz", "data/humaneval-x/LICENSE",
      "data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz",
    ]) expect(paths.has(f), f).toBe(true);
    const stray = [...paths].filter((p) => /^(test|assembly|tools|spec)\//.test(p) || (p.startsWith("src/") && p.endsWith(".ts")) || p.endsWith(".map"));
    expect(stray).toEqual([]);
  });

  it("installs alone: no dependencies, nothing built, no ../shared beside it", () => {
    expect(readdirSync(join(app, "node_modules")).filter((n) => !n.startsWith("."))).toEqual([NAME]);
    const pkg = join(app, "node_modules", NAME);
    expect(existsSync(join(pkg, "node_modules"))).toBe(false);
    expect(existsSync(join(app, "..", "shared"))).toBe(false);
    expect(existsSync(join(pkg, "..", "..", "..", "shared"))).toBe(false);
    expect(JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).dependencies).toBeUndefined();
  });

  it("runs the README's library program as written", () => {
    writeFileSync(join(app, "program.mjs"), readmeLibraryProgram());
    const r = run(process.execPath, ["program.mjs"], app);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const { tau, tokens } = checkProgramOutput(r.stdout);
    expect(tokens).toBe(48);
    expect(tau).toBeGreaterThan(1);
  });

  it("answers `npx space --version` and `npx space generate --help`", () => {
    const v = run("npx", ["--offline", "space", "--version"], app);
    expect(v.stdout).toBe(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version + "\n");
    const h = run("npx", ["--offline", "space", "generate", "--help"], app);
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/^space generate /);
  });

  it("runs `npx space demo` (AR and SPACE on the embedded model: the same output)", () => {
    const r = run("npx", ["--offline", "space", "demo"], app);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/space-tiny\.gguf/);
    expect(r.stdout).toMatch(/output identical to AR's/);
    expect(r.stdout).not.toMatch(/differs|DIFFERS/);
  });

  it("runs the other commands on what it ships: generate, and distill on the shipped HumanEval-X", () => {
    const g = run("npx", ["--offline", "space", "generate", "--decoder", "space", "--prompt", "interface Foo {", "--max-tokens", "8", "--json"], app);
    expect(g.status, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).tokens).toHaveLength(8);
    // A tiny random model with ChatML tokens (distill wraps each problem in the chat template).
    const model = join(app, "tiny-chatml.gguf");
    writeFileSync(model, tinyModelBytes({ seed: 3 }));
    const d = run("npx", ["--offline", "space", "distill", "--model", model, "--out", "d.jsonl", "--prompts", "humaneval", "--limit", "1", "--max-tokens", "4"], app);
    expect(d.status, d.stderr).toBe(0);
    const line = JSON.parse(readFileSync(join(app, "d.jsonl"), "utf8").trim());
    expect(line.id).toBe("humaneval-x/python/0");
  });

  it("gives TypeScript the types of every entry point (root, node, web)", () => {
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], types: [], strict: true, noEmit: true, skipLibCheck: true },
      files: ["program.ts", "typed.ts"],
    }));
    writeFileSync(join(app, "program.ts"), readmeLibraryProgram());
    writeFileSync(join(app, "typed.ts"), [
      `import { loadModel, SpaceError, type GenerateOptions, type GenerationResult } from "${NAME}";`,
      `import { loadModelFile, type Model } from "${NAME}/node";`,
      `import { fetchCoreBytes, loadBrowserModel, urlSource } from "${NAME}/web";`,
      `export const inBrowser = async () => loadBrowserModel(await urlSource("m.gguf"), { wasm: await fetchCoreBytes({ plain: "space-plain.wasm" }) });`,
      `export const opts: GenerateOptions = { decoder: "space", layout: "auto", maxTokens: 4 };`,
      `// @ts-expect-error: "medusa" is not a decoder, so the types are real (not any)`,
      `export const bad: GenerateOptions = { decoder: "medusa" };`,
      `export const tau = (r: GenerationResult): number => r.stats.tau;`,
      `export const load: (p: string) => Promise<Model> = (p) => loadModelFile(p, { threads: "auto" });`,
      `export const fromBytes = (b: Uint8Array, plain: Uint8Array) => loadModel(b, { wasm: { plain } });`,
      `export const isMisuse = (e: unknown) => e instanceof SpaceError && e.code === "E_STATE";`,
    ].join("\n") + "\n");
    const r = run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], app);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

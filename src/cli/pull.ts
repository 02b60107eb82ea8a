/** `space pull URL | hf:OWNER/REPO/FILE.gguf`: a model into the cache (src/node/pull.ts does the work). */
import { fail } from "../errors.js";
import { parseArgs, usage, type OptionSpec } from "../util/args.js";
import { modelCacheDir, progressPrinter, pull } from "../node/pull.js";

export const PULL_OPTIONS: Record<string, OptionSpec> = {
  sha256: { kind: "string", help: "expected SHA-256 of the file (default: known for the project's models, else unchecked)" },
  dir: { kind: "string", help: `folder to download into (default ${modelCacheDir()})` },
  json: { kind: "flag", help: "print one JSON object: path, bytes, sha256, checked, how" },
};

export const PULL_USAGE =
  `space pull URL | hf:OWNER/REPO/FILE.gguf [options]    download a GGUF into the model cache: progress, resume, sha256\n${usage(PULL_OPTIONS)}`;

export async function runPull(argv: readonly string[]): Promise<number> {
  const { options: o, positional } = parseArgs(argv, PULL_OPTIONS);
  if (positional.length === 0) fail("E_ARGS", "missing what to pull: a URL or hf:OWNER/REPO/FILE.gguf");
  if (positional.length > 1) fail("E_ARGS", `one model at a time (got "${positional[1]}" too)`);
  const bar = progressPrinter((s) => process.stderr.write(s), process.stderr.isTTY === true);
  let result;
  try {
    result = await pull(positional[0], {
      dir: o.dir as string | undefined,
      sha256: o.sha256 as string | undefined,
      onProgress: bar.progress,
      onResume: (from) => process.stderr.write(`pull: resuming after ${from} bytes\n`),
    });
  } finally {
    bar.end();
  }
  if (o.json) process.stdout.write(JSON.stringify(result) + "\n");
  else {
    process.stderr.write(`pull: ${result.how}, ${result.bytes} bytes, sha256 ${result.sha256}${result.checked ? " (checked)" : " (no known checksum: give --sha256 to check)"}\n`);
    process.stdout.write(result.path + "\n");
  }
  return 0;
}

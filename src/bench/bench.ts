/**
 * `npm run bench`: the same harness as `space bench` (run.ts), as a script. Markdown on stdout, files
 * in --out, progress on stderr.
 */
import { runBench } from "./run.js";

runBench(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);

/** The README's library program: the js block after the `<!-- library-program` marker, exactly as written. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(__dirname, "..", "..");

export function readmeLibraryProgram(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf("<!-- library-program");
  if (at < 0) throw new Error("README.md has no <!-- library-program --> marker");
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error("no ```js block after the library-program marker in README.md");
  return m[1];
}

/** What the program prints, checked line by line: the text, then "identical to AR: true", then tau. */
export function checkProgramOutput(stdout: string): { tau: number; tokens: number; passes: number } {
  const lines = stdout.trimEnd().split("\n");
  const tail = lines.slice(-2);
  if (tail[0] !== "identical to AR: true") throw new Error(`expected "identical to AR: true", got: ${stdout}`);
  const m = /^tau (\d+\.\d\d): (\d+) tokens in (\d+) forward passes, stop: max_tokens$/.exec(tail[1]);
  if (!m) throw new Error(`unexpected last line: ${tail[1]}`);
  return { tau: Number(m[1]), tokens: Number(m[2]), passes: Number(m[3]) };
}

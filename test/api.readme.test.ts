/**
 * The README's library program, exactly as written, run by Node from inside the package (the import of
 * "space-decoding/node" resolves through package.json's "exports", as it does for an installed
 * package): it must print SPACE's text, say it is identical to AR's and streamed whole, and give a tau
 * above 1 on the embedded model. The package tier (test/package/) runs it again from an installed tarball.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, checkProgramOutput, readmeLibraryProgram } from "./helpers/readme.js";

describe("README library program", () => {
  it("runs as written against the built package and reports SPACE = AR with tau > 1", () => {
    // Inside the package root (dist/ is build output), so the package's own name resolves to itself.
    const dir = mkdtempSync(join(ROOT, "dist", "readme-"));
    try {
      const file = join(dir, "program.mjs");
      writeFileSync(file, readmeLibraryProgram());
      const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: "utf8", timeout: 120_000 });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const { tau, tokens, passes } = checkProgramOutput(r.stdout);
      expect(tokens).toBe(48);
      expect(tau).toBeGreaterThan(1); // the embedded model accepts candidates: fewer passes than tokens
      expect(passes).toBeLessThan(tokens);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { defineConfig } from "vitest/config";

// The package tier: `npm pack`, install the tarball into an empty folder outside the repository, and run
// the README's library program, the `space` command and a type check from there (test/package/). Needs
// `npm run build` first (the tarball ships the built files; nothing is built at install).
export default defineConfig({
  test: {
    include: ["test/package/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});

import { defineConfig } from "vitest/config";

// The browser tier: the step-through page in headless Chromium (test/browser/). Needs `npm run build`
// (the page serves the compiled modules) and Debian's chromium.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});

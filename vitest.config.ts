import { defineConfig } from "vitest/config";

// The default tier: fast (minutes), no downloaded model needed.
export default defineConfig({
  test: {
    setupFiles: ["test/setup.ts"],
    include: ["test/**/*.test.ts"],
    exclude: ["test/real/**", "test/browser/**", "test/package/**", "node_modules/**"], // browser: npm run test:browser; package: npm run test:package
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

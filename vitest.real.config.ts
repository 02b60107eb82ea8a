import { defineConfig } from "vitest/config";

// The real-model tier: SmolLM2-135M-Instruct (after `npm run fetch-models`), llama.cpp and transformers.
export default defineConfig({
  test: {
    setupFiles: ["test/setup.ts"],
    include: ["test/real/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The protocol fuzz suite (test/fuzz) runs only with WARREN_FUZZ=1 (`npm run fuzz`) until its
    // oracle and findings have been reviewed on a quiet machine: see the last closing note.
    exclude: process.env.WARREN_FUZZ ? ["**/node_modules/**"] : ["**/node_modules/**", "test/fuzz/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});

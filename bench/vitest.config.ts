import { defineConfig } from "vitest/config";

// In-process micro-benchmarks (bench/*.bench.ts): run by bench/run.mjs, never by `npm test`.
export default defineConfig({
  test: {
    include: ["bench/**/*.bench.ts"],
  },
});

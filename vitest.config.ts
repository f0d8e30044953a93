import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Every test file talks to real Redis, SQLite and child processes: forks keep native
    // handles (better-sqlite3) isolated per file.
    pool: "forks",
    // Finds (or starts) the Redis every test shares, once per run; see the file for the rules.
    globalSetup: ["./tests/support/global-redis.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ["default", "./tests/support/summary-reporter.ts"],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'domain/**/*.test.ts', 'store/**/*.test.ts'],
    // Temporal workers use native threads (Rust core): forks isolate them.
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    // One JSON line per request would bury the test output; LOG_LEVEL=info npx vitest ... shows them.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Crash-safety and browser tests spawn processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    setupFiles: ['test/helpers/setup.ts'],
  },
});

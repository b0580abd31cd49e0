import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: crash, hostile-input, webhook-storm, fault and secret checks that
 * measure rather than assert by example. Files end in `.reliability.ts` so the default suite
 * (`test/**\/*.test.ts`) does not run them twice; the global setup prints the figures table.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    include: ['test/reliability/**/*.reliability.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Two cores: the crash trials spawn servers, so at most two files run at once.
    maxWorkers: 2,
    setupFiles: ['test/helpers/setup.ts'],
    globalSetup: ['test/reliability/helpers/figures-report.ts'],
  },
});

import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/helpers/summary-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites start real redis-server / nginx / haproxy processes; give them room, and never retry
    // a failure into a pass.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    retry: 0,
    reporters: ['default', new SummaryReporter()],
    pool: 'forks',
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
  },
});

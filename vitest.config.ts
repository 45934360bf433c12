import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Slow tests (fault injection, long cadences) are tagged in their name
    // with [slow]; `npm run test:fast` leaves them out.
    reporters: ['default'],
  },
});

import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'pack-check',
    pool: 'forks',
    setupFiles: ['./test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // registry.test.ts runs its installs two at a time (network-bound).
    maxConcurrency: 2,
  },
});
